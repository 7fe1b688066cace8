//! The model store: the cache directory, what is installed, verification.

use crate::error::{Context, Error, Kind, Result};
use crate::models::catalog::ModelSpec;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `$CMDAI_CACHE_DIR`, else `$XDG_CACHE_HOME/cmdai`, else `~/.cache/cmdai`.
pub fn cache_dir() -> Result<PathBuf> {
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = non_empty("CMDAI_CACHE_DIR") {
        return Ok(d);
    }
    if let Some(d) = non_empty("XDG_CACHE_HOME") {
        return Ok(d.join("cmdai"));
    }
    non_empty("HOME")
        .map(|h| h.join(".cache").join("cmdai"))
        .ok_or_else(|| Error::usage("cannot find a cache directory: set CMDAI_CACHE_DIR or HOME"))
}

pub fn models_dir() -> Result<PathBuf> {
    Ok(cache_dir()?.join("models"))
}

/// Where the prefix KV caches live.
pub fn kv_dir() -> Result<PathBuf> {
    Ok(cache_dir()?.join("kv"))
}

pub fn model_path(spec: &ModelSpec) -> Result<PathBuf> {
    Ok(models_dir()?.join(spec.file_name))
}

/// Installed means present with the catalog size; the full checksum is
/// checked at download and by `cmdai model verify` (hashing a gigabyte on
/// every keypress would cost seconds).
pub fn is_installed(spec: &ModelSpec) -> Result<bool> {
    Ok(std::fs::metadata(model_path(spec)?)
        .map(|m| m.is_file() && m.len() == spec.size)
        .unwrap_or(false))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path)
        .context(Kind::Model, || format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .context(Kind::Model, || format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks size and sha256 of an installed model.
pub fn verify(spec: &ModelSpec) -> Result<()> {
    let path = model_path(spec)?;
    let meta = std::fs::metadata(&path).map_err(|_| not_installed(spec))?;
    if meta.len() != spec.size {
        return Err(Error::model(format!(
            "{} has {} bytes, expected {}: run `cmdai model fetch {}` again",
            path.display(),
            meta.len(),
            spec.size,
            spec.name
        )));
    }
    let sum = sha256_file(&path)?;
    if sum != spec.sha256 {
        return Err(Error::model(format!(
            "{} is corrupt (sha256 {sum}): run `cmdai model rm {}` and fetch it again",
            path.display(),
            spec.name
        )));
    }
    Ok(())
}

pub fn not_installed(spec: &ModelSpec) -> Error {
    let fetch = if spec.name == crate::models::catalog::DEFAULT_MODEL {
        "cmdai model fetch".to_string()
    } else {
        format!("cmdai model fetch {}", spec.name)
    };
    Error::model(format!("model not installed: run `{fetch}`"))
}

pub fn remove(spec: &ModelSpec) -> Result<bool> {
    let path = model_path(spec)?;
    remove_tiles(&path);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::other(format!(
            "cannot remove {}: {e}",
            path.display()
        ))),
    }
}

/// Removes the model's pre-laid-out weights (`<file>.<id>.tiles` beside
/// it), which are as big as the model and useless without it.
fn remove_tiles(model: &std::path::Path) {
    let (Some(dir), Some(name)) = (model.parent(), model.file_name().and_then(|n| n.to_str()))
    else {
        return;
    };
    let Ok(list) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in list.flatten() {
        let file = entry.file_name();
        let f = file.to_string_lossy();
        if f.starts_with(&format!("{name}.")) && f.ends_with(".tiles") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
