//! The prompt prefix's KV cache, built ahead of the first request.
//!
//! Prefilling the fixed prompt takes tens of seconds on a laptop CPU. Done
//! silently inside the first Ctrl-G it looked like a hang, and on a slow or
//! busy machine it ran past the widget's timeout, so it was never saved and
//! every later call started over. So it is built by `cmdai model fetch`
//! (and `cmdai model prepare`) with a progress line, and a widget call that
//! finds it missing starts that build in the background and says so, rather
//! than blocking the shell.

use crate::context::os_flavour;
use crate::engine::{self, Engine, PrefixCache, TilesUsed};
use crate::error::{Context, Error, Kind, Result};
use crate::models::resolve::ResolvedModel;
use crate::models::store;
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Builds the tile file and the prompt cache for `model` if they are
/// missing, with progress on stderr unless `quiet`. Two at once (two shells'
/// first calls) take turns on a lock, and the second finds the first one's
/// files.
pub fn prepare(model: &ResolvedModel, name: &str, quiet: bool) -> Result<PrefixCache> {
    let device = engine::select_device("cpu")?;
    let dir = store::kv_dir()?;
    let lock = lock(&dir)?;
    // Its own line says when it is done: no notice of the tiles' build.
    let tiles = model.tiles(true).map(|t| engine::TilesAt {
        announce: false,
        ..t
    });
    // Read back from disk below, as 2 MiB pages where the kernel can: a
    // downloaded or just-built file is cached in small ones (see
    // `fsutil::prefer_huge_pages`).
    crate::fsutil::drop_cached_pages(&model.path);
    if let Some(at) = &tiles {
        crate::fsutil::drop_cached_pages(&at.path);
        // Checked in full here only: a damaged file (a bad disk, an edit) is
        // removed and built again. Requests check the header alone.
        let len = std::fs::metadata(&model.path).map(|m| m.len()).unwrap_or(0);
        if at.path.exists() && !engine::tiles::is_intact(&at.path, &model.id, len) {
            let _ = std::fs::remove_file(&at.path);
        }
    }
    let mut engine = Engine::load(&model.path, model.id.clone(), &device, tiles.as_ref())?;
    if engine.tiles == TilesUsed::Off && engine::tiles::supported() && !quiet {
        eprintln!(
            "cmdai: could not write the laid-out weights beside the model: prompts will be slower"
        );
    }
    build_locked(&mut engine, name, quiet, &dir, lock)
}

/// Whether a prepared cache could be saved at all (else there is no point
/// in preparing it ahead: each call builds what it needs).
pub fn can_save() -> bool {
    store::kv_dir().is_ok_and(|dir| lock_file(&dir).is_ok())
}

/// The lock that serialises preparations, in the cache dir itself: opening
/// it also proves the dir can be written.
fn lock_file(dir: &std::path::Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(dir)
        .context(Kind::Other, || format!("cannot create {}", dir.display()))?;
    let path = dir.join("prepare.lock");
    std::fs::File::create(&path)
        .context(Kind::Other, || format!("cannot create {}", path.display()))
}

/// `prepare` with an engine already loaded.
pub fn build(engine: &mut Engine, name: &str, quiet: bool) -> Result<PrefixCache> {
    let dir = store::kv_dir()?;
    let lock = lock(&dir)?;
    build_locked(engine, name, quiet, &dir, lock)
}

/// Takes the preparations' lock (held until the file is dropped).
fn lock(dir: &std::path::Path) -> Result<std::fs::File> {
    let lock = lock_file(dir)?;
    lock.lock().context(Kind::Other, || {
        format!("cannot lock {}", dir.join("prepare.lock").display())
    })?;
    Ok(lock)
}

fn build_locked(
    engine: &mut Engine,
    name: &str,
    quiet: bool,
    dir: &std::path::Path,
    _lock: std::fs::File,
) -> Result<PrefixCache> {
    let prefix = crate::prompt::prefix(os_flavour());
    let start = Instant::now();
    // A percentage redrawn in place on a terminal; in a log, just the result.
    let live = !quiet && std::io::stderr().is_terminal();
    let mut last = None;
    let state = engine.prepare(&prefix, dir, &mut |done, total| {
        let pct = done * 100 / total.max(1);
        if live && last != Some(pct) {
            last = Some(pct);
            eprint!("\rcmdai: preparing {name} for fast answers (once): {pct:>3}%");
            let _ = std::io::stderr().flush();
        }
    })?;
    // Already there (another shell's first call built it meanwhile): quiet.
    if state == PrefixCache::Hit {
        return Ok(state);
    }
    if !quiet {
        let done = format!(
            "cmdai: prepared {name} for fast answers in {:.0} s",
            start.elapsed().as_secs_f64()
        );
        // On a terminal, overwrite the percentage line (and its tail).
        if live {
            eprintln!("\r{done}\x1b[K");
        } else {
            eprintln!("{done}");
        }
    }
    if state == PrefixCache::Unsaved {
        return Err(Error::other(format!(
            "cannot write the prompt cache in {}: check that the cache dir is writable",
            dir.display()
        )));
    }
    Ok(state)
}

/// For a widget call that found no prefix cache: starts `cmdai model
/// prepare` detached from the shell and says so, instead of making the
/// user wait in silence.
pub fn start_in_background(model_arg: &str) -> Error {
    Error::model(if spawn(model_arg) {
        "first use: preparing the model in the background (about a minute); press Ctrl-G again then"
    } else {
        "first use: run `cmdai model prepare` once (about a minute), then press Ctrl-G again"
    })
}

/// Starts `cmdai model prepare --quiet` detached from the shell; whether it
/// started.
pub fn spawn(model_arg: &str) -> bool {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    std::env::current_exe().is_ok_and(|exe| {
        Command::new(exe)
            .args(["model", "prepare", "--quiet", "--", model_arg])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: Ctrl-C at the prompt must not stop it.
            .process_group(0)
            .spawn()
            .is_ok()
    })
}
