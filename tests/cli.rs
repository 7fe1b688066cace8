//! The command line: bad input, missing or broken model files, `check`,
//! `init`, `completions` without a model; `--next`, `fix` and `explain`
//! with the small model (they check the answer's shape, not its wording).
//! Each error is one line, no panic.

mod common;
use common::*;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

#[test]
fn empty_and_blank_requests_are_usage_errors() {
    let t = TempDir::new("empty");
    for req in ["", "   ", "\t\n"] {
        let o = cmdai(t.path()).arg("--").arg(req).output().unwrap();
        assert_one_line_error(&o, 2, "request is empty");
    }
    let o = cmdai(t.path()).output().unwrap();
    assert_one_line_error(&o, 2, "request is empty");
}

#[test]
fn a_megabyte_request_is_refused_clearly() {
    let t = TempDir::new("huge");
    // One argument is capped at 128 KiB by the kernel; a megabyte arrives as words.
    let word = "files ".repeat(17_000);
    let o = cmdai(t.path())
        .args(["--widget", "--"])
        .args(vec![word; 10])
        .output()
        .unwrap();
    assert_one_line_error(&o, 2, "too long");
}

#[test]
fn non_utf8_arguments_are_refused() {
    let t = TempDir::new("utf8");
    let bad = std::ffi::OsStr::from_bytes(b"list \xff\xfe files");
    let o = cmdai(t.path()).arg(bad).output().unwrap();
    assert_one_line_error(&o, 2, "not valid UTF-8");
    let o = cmdai(t.path()).arg("check").arg(bad).output().unwrap();
    assert_one_line_error(&o, 2, "not valid UTF-8");
}

#[test]
fn widget_mode_never_downloads_a_missing_model() {
    let t = TempDir::new("missing");
    let o = cmdai(t.path())
        .args(["--widget", "--shell", "zsh", "--", "list files"])
        .output()
        .unwrap();
    assert_one_line_error(&o, 3, "cmdai model fetch");
    assert!(
        !t.path().join("models").exists(),
        "widget mode must not start a download"
    );
    // Not a terminal either: no download, same message.
    let o = cmdai(t.path())
        .args(["-m", SMALL, "list files"])
        .output()
        .unwrap();
    assert_one_line_error(&o, 3, "cmdai model fetch qwen2.5-coder-0.5b");
}

fn model_file_test(bytes: &[u8], needle: &str) {
    let t = TempDir::new("badmodel");
    let path = t.path().join("broken.gguf");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    let o = cmdai(t.path())
        .args(["--model"])
        .arg(&path)
        .args(["--widget", "--", "list files"])
        .output()
        .unwrap();
    assert_one_line_error(&o, 3, needle);
}

#[test]
fn garbage_model_file() {
    model_file_test(b"this is not a model at all", "not a GGUF model file");
    model_file_test(b"", "not a GGUF model file");
}

#[test]
fn corrupt_gguf_header() {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend_from_slice(&3u32.to_le_bytes());
    bytes.extend_from_slice(&[0xff; 64]);
    model_file_test(&bytes, "corrupt");
}

#[test]
fn truncated_model_file() {
    // The real header of the installed model, cut short: parses, but the
    // tensors point past the end of the file.
    let src = model_file(SMALL);
    let mut head = vec![0u8; 8 << 20];
    let mut f = std::fs::File::open(src).unwrap();
    std::io::Read::read_exact(&mut f, &mut head).unwrap();
    model_file_test(&head, "truncated");
}

#[test]
fn missing_model_path() {
    let t = TempDir::new("nopath");
    let o = cmdai(t.path())
        .args(["-m", "/nonexistent/model.gguf", "list files"])
        .output()
        .unwrap();
    assert_one_line_error(&o, 3, "not found");
    let o = cmdai(t.path())
        .args(["-m", "gpt-17", "list files"])
        .output()
        .unwrap();
    assert_one_line_error(&o, 2, "unknown model");
}

#[test]
fn check_exit_codes_encode_the_level() {
    let t = TempDir::new("check");
    for (cmd, code) in [
        ("ls -la", 0),
        ("rm notes.txt", 10),
        ("rm -rf build", 10),
        ("rm -rf ~/Documents", 11),
        ("rm -rf /", 12),
    ] {
        let o = cmdai(t.path()).args(["check", cmd]).output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{cmd}: {}", stdout(&o));
    }
    let o = cmdai(t.path())
        .args(["check", "--json", "sudo rm -rf ~"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["cmd"], "sudo rm -rf ~");
    assert_eq!(v["risk"], "critical");
    assert_eq!(v["reasons"][0], "recursively deletes your home directory");
    assert_eq!(v["exit_code"], 12);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule"] == "sudo"));
    // Plain text when piped or NO_COLOR: no escape codes.
    let o = cmdai(t.path())
        .args(["check", "mkfs.ext4 /dev/sda1"])
        .output()
        .unwrap();
    assert!(!stdout(&o).contains('\u{1b}'));
    assert!(stdout(&o).starts_with("CRITICAL"));
}

#[test]
fn init_prints_each_script_with_options() {
    let t = TempDir::new("init");
    for (shell, needle) in [
        ("zsh", "zle -N _cmdai_widget"),
        ("bash", "bind -m"),
        ("fish", "function __cmdai_widget"),
    ] {
        let o = cmdai(t.path()).args(["init", shell]).output().unwrap();
        assert!(o.status.success());
        assert!(stdout(&o).contains(needle), "{shell}");
    }
    let o = cmdai(t.path())
        .args(["init", "zsh", "--key", "^X", "--no-bind"])
        .output()
        .unwrap();
    assert!(stdout(&o).starts_with("_cmdai_key='^X'\n_cmdai_bind=0\n"));
    let o = cmdai(t.path())
        .args(["init", "powershell"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn completions_in_the_repo_are_current() {
    let t = TempDir::new("compl");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    for (shell, file) in [
        ("bash", "cmdai.bash"),
        ("zsh", "_cmdai"),
        ("fish", "cmdai.fish"),
    ] {
        let o = cmdai(t.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert_eq!(
            stdout(&o),
            committed,
            "completions/{file} is stale: run `cargo run --release -- completions {shell} > completions/{file}`"
        );
    }
}

#[test]
fn model_commands() {
    let t = TempDir::new("modelcmd");
    let o = cmdai(t.path()).args(["model", "list"]).output().unwrap();
    assert!(stdout(&o).contains("qwen2.5-coder-1.5b") && stdout(&o).contains("(default)"));
    let o = cmdai(t.path()).args(["model", "path"]).output().unwrap();
    assert_eq!(
        stdout(&o).trim(),
        t.path()
            .join("models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
            .to_str()
            .unwrap()
    );
    let o = cmdai(t.path())
        .args(["model", "verify", SMALL])
        .output()
        .unwrap();
    assert_one_line_error(&o, 3, "not installed");
    let o = cmdai(t.path())
        .args(["model", "fetch", "nope"])
        .output()
        .unwrap();
    assert_one_line_error(&o, 2, "unknown model");
}

#[test]
fn unwritable_cache_dir_fails_a_fetch_clearly() {
    let t = TempDir::new("rofetch");
    // A file where the cache directory should be: no process, root or not,
    // can create directories under it.
    let file = t.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let o = cmdai(&file)
        .args(["model", "fetch", SMALL, "--source", "pip"])
        .output()
        .unwrap();
    assert_one_line_error(&o, 1, "cannot create the model directory");
}

#[test]
fn flags_beat_environment_beat_config_file() {
    let t = TempDir::new("precedence");
    let config = t.path().join("config");
    std::fs::write(&config, "model = file-model\n").unwrap();
    let run = |env: Option<&str>, flag: Option<&str>| {
        let mut c = cmdai(t.path());
        c.env("CMDAI_CONFIG", &config);
        if let Some(m) = env {
            c.env("CMDAI_MODEL", m);
        }
        if let Some(m) = flag {
            c.args(["--model", m]);
        }
        // An unknown model name is reported before anything is loaded.
        let o = c.args(["--", "list files"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        stderr(&o)
    };
    assert!(run(None, None).contains("`file-model`"));
    assert!(run(Some("env-model"), None).contains("`env-model`"));
    assert!(run(Some("env-model"), Some("flag-model")).contains("`flag-model`"));
}

const HIDDEN: &str = "list all files in the current directory including hidden ones";

/// The widget's answer to `args`; a subcommand (`fix`) comes first in them.
fn widget_answer(cache: &std::path::Path, args: &[&str]) -> String {
    let sub = args.iter().take_while(|a| **a == "fix");
    let o = cmdai(cache)
        .args(sub.clone())
        .args(["--model", SMALL, "--timeout", "600"])
        .args(&args[sub.count()..])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.is_empty() && !out.contains('\n'), "{args:?}: {out:?}");
    out
}

#[test]
fn next_gives_different_commands_then_the_first_again() {
    model_file(SMALL);
    let cache = prepared_cache("next");
    let first = widget_answer(cache.path(), &["--widget", "--", HIDDEN]);
    let mut seen = vec![first.clone()];
    let mut current = first.clone();
    // At most four distinct commands, then the first comes round again.
    for _ in 0..5 {
        let next = format!("--next={current}");
        current = widget_answer(cache.path(), &["--widget", &next, "--", HIDDEN]);
        if current == first {
            break;
        }
        assert!(
            !seen.contains(&current),
            "{current} again before the first: {seen:?}"
        );
        seen.push(current.clone());
    }
    assert!(seen.len() >= 2, "no other command: {seen:?}");
    assert_eq!(current, first, "no cycle back to the first: {seen:?}");
    assert!(seen.len() <= 4, "{seen:?}");
    // The state lives in the cache dir, not in $TMPDIR.
    let states = std::fs::read_dir(cache.path().join("alternatives")).unwrap();
    assert_eq!(states.count(), 1);
}

#[test]
fn fix_proposes_a_different_command() {
    model_file(SMALL);
    let cache = prepared_cache("fix");
    let failed = "grpe TODO notes.txt";
    let o = cmdai(cache.path())
        .args([
            "fix",
            "--model",
            SMALL,
            "--timeout",
            "600",
            "--status",
            "127",
        ])
        .args(["--json", "--", failed])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let fix = v["cmd"].as_str().unwrap();
    assert!(!fix.is_empty() && fix != failed, "{fix}");
    assert!(v["risk"].is_string() && v["timings_ms"]["total"].is_number());

    // The widget form, and another fix after that one.
    let first = widget_answer(
        cache.path(),
        &["fix", "--widget", "--status=127", "--", failed],
    );
    let next = format!("--next={first}");
    let second = widget_answer(
        cache.path(),
        &["fix", "--widget", "--status=127", &next, "--", failed],
    );
    assert!(second != first && second != failed, "{first} / {second}");

    let o = cmdai(cache.path())
        .args(["fix", "--", "  "])
        .output()
        .unwrap();
    assert_one_line_error(&o, 2, "the command to fix is empty");
}

#[test]
fn explain_gives_a_few_lines_and_the_risk_report() {
    model_file(SMALL);
    let cache = prepared_cache("explain");
    let o = cmdai(cache.path())
        .args([
            "explain",
            "--model",
            SMALL,
            "--timeout",
            "600",
            "--",
            "rm -rf ~",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let (explanation, report) = out.split_once("\n\n").unwrap_or_else(|| panic!("{out}"));
    let lines = explanation.lines().count();
    assert!((1..=6).contains(&lines), "{out}");
    assert!(!explanation.contains("```"), "{out}");
    assert!(report.starts_with("CRITICAL  rm -rf ~\n"), "{out}");
    assert!(
        report.contains("recursively deletes your home directory"),
        "{out}"
    );

    let o = cmdai(cache.path())
        .args(["explain", "--", ""])
        .output()
        .unwrap();
    assert_one_line_error(&o, 2, "the command to explain is empty");
}

/// A `PATH` with every program of this machine but `missing`.
fn path_without(missing: &str, under: &std::path::Path) -> std::path::PathBuf {
    let bin = under.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let link = bin.join(&name);
            if name != missing && !link.exists() {
                let _ = std::os::unix::fs::symlink(entry.path(), link);
            }
        }
    }
    bin
}

#[test]
fn a_program_that_is_not_installed_gives_way_to_one_that_is() {
    model_file(SMALL);
    let cache = prepared_cache("installed");
    let request = "show the first 5 lines of notes.txt";
    let greedy = widget_answer(cache.path(), &["--widget", "--", request]);
    assert!(greedy.starts_with("head "), "{greedy}");
    // Without `head` on this machine, the model's next idea that runs.
    let t = TempDir::new("installed-path");
    let bin = path_without("head", t.path());
    let o = cmdai(cache.path())
        .env("PATH", &bin)
        .args(["--model", SMALL, "--widget", "--", request])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let other = stdout(&o);
    assert!(
        !other.is_empty() && !other.split_whitespace().any(|w| w == "head"),
        "{other:?}"
    );
}
