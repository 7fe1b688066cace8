//! The widgets in real interactive zsh, bash and fish sessions under tmux:
//! keys are typed with send-keys and the screen is read with capture-pane.
//!
//! Most scenarios run the real cmdai with the small model. Two need a helper
//! that behaves in a controlled way (records its argv, or takes long enough
//! to be interrupted); for those a fixture script stands in for cmdai on
//! PATH. It tests the widget's side of the protocol, not the model.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PROMPT: &str = "PROMPT> ";
const HIDDEN: &str = "list all files in the current directory including hidden ones";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Sh {
    Zsh,
    Bash,
    Fish,
}

impl Sh {
    fn name(self) -> &'static str {
        match self {
            Sh::Zsh => "zsh",
            Sh::Bash => "bash",
            Sh::Fish => "fish",
        }
    }
    fn argv(self) -> &'static str {
        match self {
            Sh::Zsh => "zsh -f -i",
            Sh::Bash => "bash --norc --noprofile -i",
            Sh::Fish => "fish --no-config -i",
        }
    }
    fn setup(self) -> Vec<String> {
        match self {
            Sh::Zsh => vec![
                format!("PROMPT='{PROMPT}'"),
                "eval \"$(cmdai init zsh)\"".into(),
            ],
            Sh::Bash => vec![
                format!("PS1='{PROMPT}'"),
                "eval \"$(cmdai init bash)\"".into(),
            ],
            Sh::Fish => vec![
                "set -g fish_greeting ''".into(),
                format!("function fish_prompt; echo -n '{PROMPT}'; end"),
                "cmdai init fish | source".into(),
            ],
        }
    }
}

struct Session {
    socket: String,
    dir: TempDir,
}

fn tmux(socket: &str) -> Command {
    let mut c = Command::new("tmux");
    c.args(["-L", socket, "-f", "/dev/null"]);
    c
}

impl Session {
    /// Starts `sh` in a 250-column tmux window, with `bin` first on PATH,
    /// a temp HOME and cwd, and the widget loaded.
    fn start(sh: Sh, bin: &Path, env: &[(&str, &str)]) -> Session {
        let dir = TempDir::new(&format!("sh-{}", sh.name()));
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".config")).unwrap();
        std::fs::write(home.join(".hidden-file"), "").unwrap();
        let socket = format!(
            "cmdai-test-{}",
            dir.path().file_name().unwrap().to_str().unwrap()
        );
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
        let mut envs = vec![
            ("HOME".to_string(), home.display().to_string()),
            ("PATH".into(), path),
            ("TERM".into(), "xterm-256color".into()),
            ("SHELL".into(), format!("/bin/{}", sh.name())),
            (
                "CMDAI_CACHE_DIR".into(),
                model_cache().display().to_string(),
            ),
            ("CMDAI_MODEL".into(), SMALL.into()),
            ("CMDAI_CONFIG".into(), "/nonexistent".into()),
            ("NO_COLOR".into(), "1".into()),
            ("LANG".into(), "C.UTF-8".into()),
        ];
        envs.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let env_args: Vec<String> = envs
            .iter()
            .map(|(k, v)| format!("{k}={}", shell_words::quote(v)))
            .collect();
        let cmd = format!(
            "cd {} && exec env -i {} {}",
            shell_words::quote(&home.display().to_string()),
            env_args.join(" "),
            sh.argv()
        );
        let ok = tmux(&socket)
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "250",
                "-y",
                "50",
                &cmd,
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux new-session failed");
        let s = Session { socket, dir };
        for line in sh.setup() {
            s.type_line(&line);
        }
        s.keys(&["C-l"]);
        s.wait_for("a clean prompt", |screen| screen.trim() == PROMPT.trim());
        s
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn keys(&self, keys: &[&str]) {
        let ok = tmux(&self.socket)
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Types text literally (no key-name interpretation).
    fn text(&self, text: &str) {
        let ok = tmux(&self.socket)
            .args(["send-keys", "-t", "t", "-l", "--", text])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    fn type_line(&self, line: &str) {
        self.text(line);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        let o = tmux(&self.socket)
            .args(["capture-pane", "-p", "-J", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim_end().to_string()
    }

    /// The text after the last prompt on screen: the line being edited
    /// (zsh shows widget messages below it, so only that line counts).
    fn buffer(&self) -> String {
        let screen = self.screen();
        let marker = PROMPT.trim_end();
        let line = screen
            .lines()
            .rev()
            .find(|l| l.contains(marker))
            .unwrap_or("");
        let at = line.rfind(marker).map(|i| i + marker.len()).unwrap_or(0);
        line[at..]
            .strip_prefix(' ')
            .unwrap_or(&line[at..])
            .trim_end()
            .to_string()
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_buffer(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_for(what, |_| ok(&self.buffer()));
        self.buffer()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&self.socket).arg("kill-server").status();
    }
}

fn real_bin() -> PathBuf {
    model_file(SMALL);
    Path::new(bin()).parent().unwrap().to_path_buf()
}

/// A stand-in helper for the byte-for-byte scenario: records its argv
/// (NUL-separated) to $FAKE_DIR/argv and prints a command.
fn fixture_bin(dir: &Path) -> PathBuf {
    let bin = dir.join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = r#"#!/bin/sh
if [ "$1" = init ]; then exec "$REAL_CMDAI" "$@"; fi
printf '%s\0' "$@" > "$FAKE_DIR/argv"
printf '%s' "echo from-helper"
"#;
    let path = bin.join("cmdai");
    std::fs::write(&path, script).unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&path).unwrap().permissions(),
        0o755,
    );
    Command::new("chmod")
        .arg("755")
        .arg(&path)
        .status()
        .unwrap();
    bin
}

fn is_ls_hidden(buf: &str) -> bool {
    buf.starts_with("ls")
        && buf
            .split_whitespace()
            .any(|w| w.starts_with('-') && (w.contains('a') || w.contains('A')))
}

fn replaces_the_buffer_and_runs_nothing_until_enter(sh: Sh) {
    let s = Session::start(sh, &real_bin(), &[]);
    s.text(HIDDEN);
    s.keys(&["C-g"]);
    let buf = s.wait_buffer("a command in the buffer", |b| b.starts_with("ls"));
    assert!(is_ls_hidden(&buf), "{sh:?}: {buf}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !s.screen().contains(".hidden-file"),
        "{sh:?}: ran before Enter"
    );
    // Enter runs what the user reviewed.
    s.keys(&["Enter"]);
    s.wait_for("ls output", |screen| screen.contains(".hidden-file"));
}

fn substitutions_in_the_request_are_not_evaluated(sh: Sh) {
    let s = Session::start(sh, &real_bin(), &[]);
    let marker = s.home().join("marker");
    s.text(&format!(
        "{HIDDEN} $(touch {m}) `touch {m}`",
        m = marker.display()
    ));
    s.keys(&["C-g"]);
    s.wait_buffer("the request replaced", |b| !b.contains("list all files"));
    assert!(!marker.exists(), "{sh:?}: the request was evaluated");
}

fn request_reaches_the_helper_byte_for_byte(sh: Sh) {
    let dir = TempDir::new("argv");
    let bin = fixture_bin(dir.path());
    let fake = dir.path().display().to_string();
    let s = Session::start(sh, &bin, &[("FAKE_DIR", &fake), ("REAL_CMDAI", bin_path())]);
    let request = r#"say "hi" 'there' $(touch m1) `touch m2`; a && b | c $HOME \n"#;
    s.text(request);
    s.keys(&["C-g"]);
    s.wait_buffer("the helper's answer", |b| b == "echo from-helper");
    let argv = std::fs::read(dir.path().join("argv")).unwrap();
    let args: Vec<&[u8]> = argv.split(|b| *b == 0).filter(|a| !a.is_empty()).collect();
    assert_eq!(
        args.last().copied(),
        Some(request.as_bytes()),
        "{sh:?}: {:?}",
        String::from_utf8_lossy(&argv)
    );
    assert!(args.contains(&b"--widget".as_slice()) && args.contains(&sh.name().as_bytes()));
    assert!(!s.home().join("m1").exists() && !s.home().join("m2").exists());
}

fn bin_path() -> &'static str {
    bin()
}

fn failure_keeps_the_text(sh: Sh) {
    let s = Session::start(
        sh,
        &real_bin(),
        &[("CMDAI_MODEL", "/nonexistent/model.gguf")],
    );
    s.text("show disk usage");
    s.keys(&["C-g"]);
    s.wait_for("the error message", |screen| screen.contains("not found"));
    std::thread::sleep(Duration::from_millis(300));
    s.wait_buffer("the original text", |b| b == "show disk usage");
}

fn empty_buffer_gives_a_hint(sh: Sh) {
    let s = Session::start(sh, &real_bin(), &[]);
    s.keys(&["C-g"]);
    s.wait_for("the hint", |screen| {
        screen.contains("type what you want first")
    });
}

fn ctrl_c_keeps_the_text_and_the_shell(sh: Sh) {
    // The real helper with a cold prefix cache and the default model takes
    // many seconds: long enough to interrupt.
    model_file(DEFAULT);
    let cache = cache_with_models("ctrlc");
    let cache_dir = cache.path().display().to_string();
    let env = [
        ("CMDAI_CACHE_DIR", cache_dir.as_str()),
        ("CMDAI_MODEL", DEFAULT),
    ];
    let s = Session::start(sh, &real_bin(), &env);
    s.text("compress the logs folder");
    s.keys(&["C-g"]);
    s.wait_for("the thinking hint", |screen| screen.contains("thinking"));
    std::thread::sleep(Duration::from_millis(1500));
    s.keys(&["C-c"]);
    s.wait_for("the interruption", |screen| screen.contains("interrupted"));
    s.wait_buffer("the original text", |b| b == "compress the logs folder");
    // Still usable: clear the line and run something.
    s.keys(&["C-u"]);
    s.wait_buffer("an empty line", |b| b.is_empty());
    s.type_line("printf '%s-%s\\n' alive 42");
    s.wait_for("the shell to run a command", |screen| {
        screen.contains("alive-42")
    });
}

fn typed_ahead_enter_does_not_run_the_suggestion(sh: Sh) {
    let s = Session::start(sh, &real_bin(), &[]);
    s.text(HIDDEN);
    // Enter arrives while the helper is still thinking.
    s.keys(&["C-g", "Enter"]);
    let buf = s.wait_buffer("the command in the buffer", |b| b.starts_with("ls"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !s.screen().contains(".hidden-file"),
        "{sh:?}: the suggestion ran unreviewed"
    );
    assert_eq!(s.buffer(), buf);
}

fn undo_restores_the_request(sh: Sh, undo: &str) {
    let s = Session::start(sh, &real_bin(), &[]);
    s.text(HIDDEN);
    s.keys(&["C-g"]);
    s.wait_buffer("a command", |b| b.starts_with("ls"));
    s.keys(&[undo]);
    s.wait_buffer("the request again", |b| b == HIDDEN);
}

macro_rules! per_shell {
    ($($name:ident => $body:expr;)*) => {
        mod zsh { use super::*; $( #[test] fn $name() { let sh = Sh::Zsh; $body(sh) } )* }
        mod bash { use super::*; $( #[test] fn $name() { let sh = Sh::Bash; $body(sh) } )* }
        mod fish { use super::*; $( #[test] fn $name() { let sh = Sh::Fish; $body(sh) } )* }
    };
}

per_shell! {
    replaces_buffer => replaces_the_buffer_and_runs_nothing_until_enter;
    not_evaluated => substitutions_in_the_request_are_not_evaluated;
    byte_for_byte => request_reaches_the_helper_byte_for_byte;
    failure => failure_keeps_the_text;
    empty => empty_buffer_gives_a_hint;
    ctrl_c => ctrl_c_keeps_the_text_and_the_shell;
    type_ahead => typed_ahead_enter_does_not_run_the_suggestion;
}

#[test]
fn zsh_undo() {
    undo_restores_the_request(Sh::Zsh, "C-_");
}

#[test]
fn fish_undo() {
    undo_restores_the_request(Sh::Fish, "C-z");
}

#[test]
fn custom_key_and_no_bind() {
    // zsh with --key: Ctrl-X works.
    let s = Session::start(Sh::Zsh, &real_bin(), &[]);
    s.type_line("eval \"$(cmdai init zsh --key '^X')\"");
    s.keys(&["C-l"]);
    s.text(HIDDEN);
    s.keys(&["C-x"]);
    s.wait_buffer("a command via Ctrl-X", |b| b.starts_with("ls"));
}
