//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SMALL: &str = "qwen2.5-coder-0.5b";
pub const DEFAULT: &str = "qwen2.5-coder-1.5b";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_cmdai")
}

/// A `cmdai` command with a clean environment: no user config, no colors.
pub fn cmdai(cache: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env("CMDAI_CACHE_DIR", cache)
        .env("CMDAI_CONFIG", "/nonexistent/cmdai-config")
        .env("NO_COLOR", "1")
        .env("SHELL", "/bin/bash")
        .env_remove("CMDAI_MODEL")
        .env_remove("CMDAI_DEVICE")
        .stdin(std::process::Stdio::null());
    c
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("cmdai-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where the installed models are: `$CMDAI_CACHE_DIR` or the default cache.
/// `.ci/run` fetches them with `cmdai model fetch` before the tests.
pub fn model_cache() -> PathBuf {
    if let Some(d) = std::env::var_os("CMDAI_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache"));
    home.join("cmdai")
}

/// The installed model file for a catalog name. A clone's first test run
/// fetches what is missing with cmdai's own fetch (its lock makes parallel
/// tests wait for one download); these tests run the real model, never a
/// stand-in.
pub fn model_file(name: &str) -> PathBuf {
    let path = |name: &str| {
        let out = cmdai(&model_cache())
            .args(["model", "path", name])
            .output()
            .unwrap();
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    };
    if !path(name).is_file() {
        let o = cmdai(&model_cache())
            .args(["model", "fetch", name])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "model {name} is not installed and could not be fetched ({}): run `cargo run --release -- model fetch {name}`",
            stderr(&o).trim()
        );
    }
    let p = path(name);
    assert!(p.is_file(), "model {name} is missing at {}", p.display());
    p
}

/// A fresh cache dir whose models/ links to the installed models, so a test
/// gets its own prefix cache without copying gigabytes.
pub fn cache_with_models(tag: &str) -> TempDir {
    let t = TempDir::new(tag);
    let models = t.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    for name in [SMALL, DEFAULT] {
        let out = cmdai(&model_cache())
            .args(["model", "path", name])
            .output()
            .unwrap();
        let src = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        if src.is_file() {
            std::os::unix::fs::symlink(&src, models.join(src.file_name().unwrap())).unwrap();
        }
    }
    t
}

/// Like `cache_with_models`, with the prompt caches already built (once, in
/// the shared model cache, as `cmdai model fetch` does): widget calls answer
/// at once instead of starting the first-use preparation.
pub fn prepared_cache(tag: &str) -> TempDir {
    let t = cache_with_models(tag);
    for name in [SMALL, DEFAULT] {
        if cmdai(&model_cache())
            .args(["model", "path", name])
            .output()
            .is_ok_and(|o| Path::new(stdout(&o).trim()).is_file())
        {
            let o = cmdai(&model_cache())
                .args(["model", "prepare", "--quiet", name])
                .output()
                .unwrap();
            assert!(o.status.success(), "model prepare {name}: {}", stderr(&o));
        }
    }
    std::os::unix::fs::symlink(model_cache().join("kv"), t.path().join("kv")).unwrap();
    t
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every user-facing error is one line starting with `cmdai:` — never a panic.
pub fn assert_one_line_error(o: &Output, code: i32, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit code; stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err:?}"
    );
    assert!(err.starts_with("cmdai: "), "{err:?}");
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}
