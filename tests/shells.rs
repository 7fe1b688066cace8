//! The widgets in real interactive zsh, bash and fish sessions under tmux:
//! keys are typed with send-keys and the screen is read with capture-pane.
//!
//! Most scenarios run the real cmdai with the small model. Some need a
//! helper that behaves in a controlled way (records its argv, blocks a
//! command, answers nothing, counts); for those a fixture script stands in
//! for cmdai on PATH: it answers requests that start with `fake:` itself and
//! hands every other call to the real cmdai. It tests the widget's side of
//! the protocol, not the model.
//!
//! Every session has a $TMPDIR of its own, and when the session ends it must
//! hold nothing new: no widget leaves a file behind, whatever the outcome.

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
    /// The rc-file line that loads the widget, with `args` for `cmdai init`.
    fn init(self, args: &str) -> String {
        match self {
            Sh::Zsh | Sh::Bash => format!("eval \"$(cmdai init {} {args})\"", self.name()),
            Sh::Fish => format!("cmdai init fish {args} | source"),
        }
    }
    fn setup(self, init: &str) -> Vec<String> {
        let prompt = match self {
            Sh::Zsh => format!("PROMPT='{PROMPT}'"),
            Sh::Bash => format!("PS1='{PROMPT}'"),
            Sh::Fish => format!("function fish_prompt; echo -n '{PROMPT}'; end"),
        };
        let mut lines = vec![prompt, init.to_string()];
        if self == Sh::Fish {
            lines.insert(0, "set -g fish_greeting ''".into());
        }
        lines
    }
    /// The key for a custom binding (Ctrl-X), spelled as `--key` takes it.
    fn ctrl_x(self) -> &'static str {
        match self {
            Sh::Zsh => "^X",
            Sh::Bash => r"\C-x",
            Sh::Fish if fish_major() < 4 => r"\cx",
            Sh::Fish => "ctrl-x",
        }
    }
}

fn fish_major() -> u32 {
    let out = Command::new("fish").arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.rsplit(' ').next().unwrap_or("").trim();
    version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(3)
}

struct Session {
    socket: String,
    dir: TempDir,
    sh: Sh,
    /// What the shell itself put in $TMPDIR by the time its first prompt
    /// was ready (fish keeps a notifier pipe there).
    tmp_at_start: Vec<PathBuf>,
}

fn tmux(socket: &str) -> Command {
    let mut c = Command::new("tmux");
    c.args(["-L", socket, "-f", "/dev/null"]);
    c
}

/// Every path under `dir`, relative to it, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(root, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

impl Session {
    /// Starts `sh` with the widget loaded the usual way.
    fn start(sh: Sh, bin: &Path, env: &[(&str, &str)]) -> Session {
        Session::start_with(sh, bin, env, &[], &sh.init(""))
    }

    /// Starts `sh` in a 250-column tmux window, with `bin` first on PATH,
    /// a temp HOME, cwd and TMPDIR; types the `pre` lines (the user's own
    /// settings), then the prompt and `init`, and clears the screen.
    fn start_with(sh: Sh, bin: &Path, env: &[(&str, &str)], pre: &[String], init: &str) -> Session {
        let dir = TempDir::new(&format!("sh-{}", sh.name()));
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join(".config")).unwrap();
        std::fs::write(home.join(".hidden-file"), "").unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let socket = format!(
            "cmdai-test-{}",
            dir.path().file_name().unwrap().to_str().unwrap()
        );
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
        let mut envs = vec![
            ("HOME".to_string(), home.display().to_string()),
            ("PATH".into(), path),
            ("TMPDIR".into(), tmp.display().to_string()),
            ("TERM".into(), "xterm-256color".into()),
            // bash writes its history when tmux hangs up on it, which can be
            // after the temp HOME is removed: it would recreate the file.
            ("HISTFILE".into(), "/dev/null".into()),
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
        let mut s = Session {
            socket,
            dir,
            sh,
            tmp_at_start: Vec::new(),
        };
        for line in pre.iter().cloned().chain(sh.setup(init)) {
            s.type_line(&line);
        }
        s.keys(&["C-l"]);
        s.wait_for("a clean prompt", |screen| screen.trim() == PROMPT.trim());
        s.tmp_at_start = tree(&s.tmp());
        s
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn tmp(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// Nothing in $TMPDIR that was not there when the shell was ready.
    fn assert_no_new_files(&self) {
        let new: Vec<PathBuf> = tree(&self.tmp())
            .into_iter()
            .filter(|p| !self.tmp_at_start.contains(p))
            .collect();
        assert!(
            new.is_empty(),
            "{:?}: left behind in $TMPDIR: {new:?}",
            self.sh
        );
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
                "{:?}: timed out waiting for {what}; screen:\n{screen}",
                self.sh
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_buffer(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_for(what, |_| ok(&self.buffer()));
        self.buffer()
    }

    /// `msg` is on screen exactly once, as the widget's message: not also
    /// printed straight to the terminal by the helper, with a "no command"
    /// fallback beside it (a widget that lost the helper's stderr).
    fn assert_message_once(&self, msg: &str, status: i32) {
        let screen = self.screen();
        assert_eq!(
            screen.matches(msg).count(),
            1,
            "{:?}: {msg:?} should be shown once:\n{screen}",
            self.sh
        );
        let fallback = format!("no command (exit {status})");
        assert!(
            !screen.contains(&fallback),
            "{:?}: the helper's message was lost:\n{screen}",
            self.sh
        );
    }

    /// Empties the line (Ctrl-U kills back to its start in all three).
    fn clear_line(&self) {
        self.keys(&["C-u"]);
        self.wait_buffer("an empty line", |b| b.is_empty());
    }

    /// Types `line`, runs it, and waits for the output line that `echo
    /// DONE-<n>` prints after it: the shell has run it and is back at its
    /// prompt. The typed line shows `DONE-''n`, so only the output matches.
    fn run(&self, line: &str) {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.type_line(&format!("{line}; echo DONE-''{n}"));
        let done = format!("DONE-{n}");
        self.wait_for(&done, |screen| screen.lines().any(|l| l.trim() == done));
    }

    /// What `cmd` prints (stdout and stderr), as the shell runs it: written
    /// to a file in HOME and read back, so that no screen line is lost.
    fn output_of(&self, name: &str, cmd: &str) -> String {
        let file = self.home().join(format!("out-{name}"));
        let f = shell_words::quote(file.to_str().unwrap()).into_owned();
        self.run(&match self.sh {
            Sh::Zsh | Sh::Bash => format!("{{ {cmd}; }} >| {f} 2>&1"),
            Sh::Fish => format!("begin; {cmd}; end > {f} 2>&1"),
        });
        std::fs::read_to_string(&file).unwrap()
    }

    /// The user's options, traps, signal handlers, functions, aliases and
    /// key bindings as the shell lists them (the words are quoted where the
    /// hostile test has aliases or functions of that name).
    fn state(&self, name: &str) -> String {
        self.output_of(
            name,
            match self.sh {
                Sh::Zsh => {
                    "setopt; \\builtin trap; functions +; alias -L; bindkey -L; \
                     bindkey -M viins -L; bindkey -M vicmd -L"
                }
                Sh::Bash => {
                    "set -o; \\builtin shopt; \\builtin trap -p; alias; declare -F; \
                     bind -X; bind -m vi-insert -X; bind -m vi-command -X"
                }
                Sh::Fish => "functions --handlers; bind; bind -M insert; echo hostile: $__hostile",
            },
        )
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = tmux(&self.socket).arg("kill-server").status();
        if !std::thread::panicking() {
            self.assert_no_new_files();
        }
    }
}

fn real_bin() -> PathBuf {
    model_file(SMALL);
    Path::new(bin()).parent().unwrap().to_path_buf()
}

/// A cache dir under `dir` with the installed models but where no prompt
/// cache can be kept (`kv` is a file): every call builds the prompt's
/// prefix itself, many seconds, long enough to interrupt or time out.
fn slow_cache(dir: &Path) -> PathBuf {
    let cache = dir.join("slow-cache");
    let models = cache.join("models");
    std::fs::create_dir_all(&models).unwrap();
    for name in [SMALL, DEFAULT] {
        let src = model_file(name);
        let dst = models.join(src.file_name().unwrap());
        if !dst.exists() {
            std::os::unix::fs::symlink(&src, dst).unwrap();
        }
    }
    std::fs::write(cache.join("kv"), "").unwrap();
    cache
}

/// The stand-in helper: records its argv (NUL-separated) to `dir`/argv;
/// answers `fake: …` requests itself (`fake: slow` is the real cmdai with
/// the default model and a cache it cannot use: slow; `fake: again` and
/// `fake: count N` answer a `--next=` call from the text on the line; a fix
/// for `false` is `echo fixed`); hands everything else, `init` included,
/// to the real cmdai.
fn fixture_bin(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let fake_bin = dir.join("fake-bin");
    std::fs::create_dir_all(&fake_bin).unwrap();
    let q = |p: &Path| shell_words::quote(p.to_str().unwrap()).into_owned();
    let script = format!(
        r#"#!/bin/sh
printf '%s\0' "$@" > {argv}
for request; do :; done
case $request in
  'fake: blocked'*)
    echo 'cmdai: blocked: rm -rf ~ would delete your home directory' >&2
    exit 4 ;;
  'fake: empty'*) exit 0 ;;
  'fake: status '*) exit "${{request#fake: status }}" ;;
  'fake: warn'*)
    printf 'echo warned\n'
    echo 'cmdai: warning: high risk' >&2 ;;
  'fake: unicode'*) printf 'echo h\303\251llo w\303\266rld \342\234\223' ;;
  'fake: count '*)
    # Counts on from the line's text, also when pressed again on it.
    n=${{request#fake: count }}
    for a; do case $a in --next=*) n=${{a#--next=fake: count }} ;; esac; done
    printf 'fake: count %s' "$((n + 1))" ;;
  false) printf 'echo fixed' ;;
  'fake: again'*)
    next=
    for a; do case $a in --next=*) next=${{a#--next=}} ;; esac; done
    if [ -n "$next" ]; then printf '%s+' "$next"; else printf 'fake: again, first'; fi ;;
  'fake: slow'*)
    CMDAI_CACHE_DIR={slow} CMDAI_MODEL={model} exec {real} "$@" ;;
  'fake: '*) printf '%s' 'echo from-helper' ;;
  *) exec {real} "$@" ;;
esac
"#,
        argv = q(&dir.join("argv")),
        slow = q(&slow_cache(dir)),
        model = DEFAULT,
        real = q(Path::new(bin())),
    );
    let path = fake_bin.join("cmdai");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    fake_bin
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
    let s = Session::start(sh, &fixture_bin(dir.path()), &[]);
    let request = r#"fake: say "hi" 'there' $(touch m1) `touch m2`; a && b | c $HOME \n"#;
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
    s.assert_message_once("not found", 3);
}

fn empty_buffer_gives_a_hint(sh: Sh) {
    let s = Session::start(sh, &real_bin(), &[]);
    s.keys(&["C-g"]);
    s.wait_for("the hint", |screen| {
        screen.contains("type what you want first")
    });
    std::thread::sleep(Duration::from_millis(500));
    // One prompt: the hint takes the empty prompt line's place (bash,
    // fish) or goes below it (zsh); no empty prompt line is left above.
    let screen = s.screen();
    let prompts = screen
        .lines()
        .filter(|l| l.contains(PROMPT.trim_end()))
        .count();
    assert_eq!(prompts, 1, "{sh:?}: a duplicated prompt line:\n{screen}");
    assert_eq!(s.buffer(), "");
}

fn ctrl_c_keeps_the_text_and_the_shell(sh: Sh) {
    // The real helper with the default model and a prompt cache it cannot
    // use takes many seconds: long enough to interrupt.
    let dir = TempDir::new("ctrlc");
    let cache = slow_cache(dir.path()).display().to_string();
    let env = [
        ("CMDAI_CACHE_DIR", cache.as_str()),
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
    s.clear_line();
    s.type_line("printf '%s-%s\\n' alive 42");
    s.wait_for("the shell to run a command", |screen| {
        screen.contains("alive-42")
    });
}

fn timeout_keeps_the_text(sh: Sh) {
    let dir = TempDir::new("timeout");
    let cache = slow_cache(dir.path()).display().to_string();
    let env = [("CMDAI_CACHE_DIR", cache.as_str()), ("CMDAI_TIMEOUT", "1")];
    let s = Session::start(sh, &real_bin(), &env);
    s.text("show disk usage");
    s.keys(&["C-g"]);
    s.wait_for("the timeout message", |screen| {
        screen.contains("no answer within 1s")
    });
    s.wait_buffer("the original text", |b| b == "show disk usage");
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

/// The helper's other outcomes: blocked (exit 4), a warning with the
/// command, an empty answer, another failure status, and non-ASCII text (the
/// cursor goes to its end: bash counts it in bytes, fish in characters).
fn every_outcome_keeps_the_contract(sh: Sh) {
    let dir = TempDir::new("outcomes");
    let s = Session::start(sh, &fixture_bin(dir.path()), &[]);

    s.text("fake: blocked");
    s.keys(&["C-g"]);
    s.wait_for("the blocked message", |screen| {
        screen.contains("cmdai: blocked: rm -rf ~")
    });
    s.wait_buffer("the request kept", |b| b == "fake: blocked");
    s.assert_message_once("cmdai: blocked: rm -rf ~", 4);
    s.clear_line();

    s.text("fake: warn");
    s.keys(&["C-g"]);
    s.wait_buffer("the warned command", |b| b == "echo warned");
    s.wait_for("the warning", |screen| {
        screen.contains("cmdai: warning: high risk")
    });
    s.assert_message_once("cmdai: warning: high risk", 0);
    s.clear_line();

    s.text("fake: empty");
    s.keys(&["C-g"]);
    s.wait_for("the empty answer's message", |screen| {
        screen.contains("cmdai: no command (exit 0)")
    });
    s.wait_buffer("the request kept", |b| b == "fake: empty");
    s.clear_line();

    s.text("fake: status 7");
    s.keys(&["C-g"]);
    s.wait_for("the status message", |screen| {
        screen.contains("cmdai: no command (exit 7)")
    });
    s.wait_buffer("the request kept", |b| b == "fake: status 7");
    s.clear_line();

    s.text("fake: unicode");
    s.keys(&["C-g"]);
    s.wait_buffer("the command", |b| b == "echo héllo wörld ✓");
    s.text("!");
    s.wait_buffer("a key typed at its end", |b| b == "echo héllo wörld ✓!");
}

/// Hostile user settings: options, aliases and functions named like what
/// a widget might call, the user's own traps and signal handlers. The
/// widget works through success, block, hint and Ctrl-C, and leaves all of
/// them as they were.
fn hostile_settings_are_harmless(sh: Sh) {
    let dir = TempDir::new("hostile");
    let pre: Vec<String> = match sh {
        Sh::Zsh => vec![
            "trap ': user-int' INT; trap ': user-exit' EXIT; TRAPUSR1() { : user-usr1 }".into(),
            "TRAPZERR() { echo HOSTILE-ZERR }".into(),
            "setopt nounset ksh_arrays sh_word_split no_clobber err_return pipe_fail".into(),
            "function rm cat mktemp command print trap zle { echo HOSTILE-fn-$0 }".into(),
            "alias rm='echo HOSTILE-rm' cat='echo HOSTILE-cat' mktemp='echo HOSTILE-mktemp' \
             command='echo HOSTILE-command' print='echo HOSTILE-print' \
             builtin='echo HOSTILE-builtin' local='echo HOSTILE-local' zle='echo HOSTILE-zle'"
                .into(),
            "alias -g emacs=HOSTILE-global INT=HOSTILE-global".into(),
        ],
        Sh::Bash => vec![
            "trap ': user-int' INT; trap ': user-exit' EXIT; trap ': user-usr1' USR1".into(),
            "trap 'echo HOSTILE-ERR' ERR; set -eE".into(),
            "set -u -o pipefail -o noclobber; shopt -s failglob nullglob extglob".into(),
            "for f in rm cat mktemp command printf read trap; do \
             eval \"$f() { echo HOSTILE-fn-$f; }\"; done; unset f"
                .into(),
            "alias rm='echo HOSTILE-rm' cat='echo HOSTILE-cat' mktemp='echo HOSTILE-mktemp' \
             command='echo HOSTILE-command' printf='echo HOSTILE-printf' \
             builtin='echo HOSTILE-builtin' local='echo HOSTILE-local' \
             trap='echo HOSTILE-trap' read='echo HOSTILE-read' shopt='echo HOSTILE-shopt' \
             unset='echo HOSTILE-unset'"
                .into(),
        ],
        // fish refuses functions named after its reserved builtins (string,
        // test, command, read, set, …); these are the ones it allows.
        Sh::Fish => vec![
            "set -g __hostile".into(),
            "for f in cat rm mktemp; function $f --inherit-variable f; set -ga __hostile $f; end; end"
                .into(),
            "function commandline --wraps commandline; set -ga __hostile commandline; builtin commandline $argv; end"
                .into(),
            "function __user_on_int --on-signal SIGINT; end; function __user_on_usr1 --on-signal SIGUSR1; end"
                .into(),
        ],
    };
    let s = Session::start_with(sh, &fixture_bin(dir.path()), &[], &pre, &sh.init(""));
    // Nothing of theirs ran, and no error showed (zsh's messages last only
    // until the next key, so the screen is checked after every step).
    let clean = |step: &str| {
        let screen = s.screen();
        for bad in [
            "HOSTILE",
            "parameter not set",
            "unbound variable",
            "no match",
            "not found",
        ] {
            assert!(
                !screen.contains(bad),
                "{sh:?}, {step}: {bad:?} on screen:\n{screen}"
            );
        }
    };
    let before = s.state("before");
    assert!(
        before.contains("user-int") || before.contains("__user_on_int"),
        "{sh:?}: the user's trap is not listed:\n{before}"
    );

    s.keys(&["C-g"]);
    s.wait_for("the hint", |screen| {
        screen.contains("type what you want first")
    });
    clean("the hint");

    s.text("fake: blocked");
    s.keys(&["C-g"]);
    // The message itself: "blocked" alone is already on screen in the
    // request typed, before the widget has answered.
    s.wait_for("the blocked message", |screen| {
        screen.contains("cmdai: blocked: rm -rf ~")
    });
    s.wait_buffer("the request kept", |b| b == "fake: blocked");
    s.assert_message_once("cmdai: blocked: rm -rf ~", 4);
    clean("blocked");
    s.clear_line();

    s.text(HIDDEN);
    s.keys(&["C-g"]);
    let buf = s.wait_buffer("a command from the model", |b| b.starts_with("ls"));
    assert!(is_ls_hidden(&buf), "{sh:?}: {buf}");
    clean("a command");
    s.clear_line();

    // Ctrl-G again on the suggestion.
    s.text("fake: again");
    s.keys(&["C-g"]);
    s.wait_buffer("the first answer", |b| b == "fake: again, first");
    s.keys(&["C-g"]);
    s.wait_buffer("the next answer", |b| b == "fake: again, first+");
    clean("Ctrl-G again");
    s.clear_line();

    // A fix after a failure (not in bash: its user's `set -e` would end
    // the session at the first failed command).
    if sh != Sh::Bash {
        s.type_line("false");
        s.wait_for("a new prompt", |screen| {
            screen.contains("false") && screen.trim_end().ends_with(PROMPT.trim_end())
        });
        if sh == Sh::Zsh {
            // The user's own ZERR trap ran for their failed command: not ours.
            s.keys(&["C-l"]);
            s.wait_for("a clean prompt", |screen| screen.trim() == PROMPT.trim());
        }
        s.keys(&["C-g"]);
        s.wait_buffer("the fix", |b| b == "echo fixed");
        assert_eq!(recorded_argv(dir.path())[0], "fix");
        clean("a fix");
        s.clear_line();
    }

    s.text("fake: slow");
    s.keys(&["C-g"]);
    s.wait_for("the thinking hint", |screen| screen.contains("thinking"));
    std::thread::sleep(Duration::from_millis(1500));
    s.keys(&["C-c"]);
    s.wait_for("the interruption", |screen| screen.contains("interrupted"));
    s.wait_buffer("the request kept", |b| b == "fake: slow");
    clean("Ctrl-C");
    s.clear_line();

    let after = s.state("after");
    assert_eq!(before, after, "{sh:?}: the widget changed the user's state");
    clean("the end");
}

/// A prompt of two lines: messages stay on screen (fish redraws such a
/// prompt from a line further up) and the hint leaves no prompt twice.
fn two_line_prompt_keeps_messages(sh: Sh) {
    let dir = TempDir::new("prompt2");
    let s = Session::start(sh, &fixture_bin(dir.path()), &[]);
    s.run(match sh {
        Sh::Zsh => "PROMPT=$'FIRSTLINE\\nPROMPT> '",
        Sh::Bash => "PS1='FIRSTLINE\\nPROMPT> '",
        Sh::Fish => "function fish_prompt; echo FIRSTLINE; echo -n 'PROMPT> '; end",
    });
    s.keys(&["C-l"]);
    s.wait_for("the two-line prompt", |screen| {
        screen.trim() == "FIRSTLINE\nPROMPT>"
    });

    s.keys(&["C-g"]);
    s.wait_for("the hint", |screen| {
        screen.contains("type what you want first")
    });
    std::thread::sleep(Duration::from_millis(500));
    let screen = s.screen();
    assert!(
        screen.contains("type what you want first") && screen.matches("FIRSTLINE").count() == 1,
        "{sh:?}: {screen}"
    );

    s.text("fake: blocked");
    s.keys(&["C-g"]);
    s.wait_buffer("the request kept", |b| b == "fake: blocked");
    std::thread::sleep(Duration::from_millis(500));
    s.assert_message_once("cmdai: blocked: rm -rf ~", 4);
    s.clear_line();

    s.text("fake: echo");
    s.keys(&["C-g"]);
    s.wait_buffer("the answer", |b| b == "echo from-helper");
}

/// Ctrl-G in vi insert mode, then in vi command mode (there on the
/// suggestion itself: the next one).
fn vi_mode(sh: Sh) {
    let dir = TempDir::new("vi");
    let s = Session::start(sh, &fixture_bin(dir.path()), &[]);
    s.run(match sh {
        Sh::Zsh => "bindkey -v",
        Sh::Bash => "set -o vi",
        // Set the variable first: without a config, no handler of fish's
        // own sees it change and loads the vi bindings.
        Sh::Fish => "set -g fish_key_bindings fish_vi_key_bindings; fish_vi_key_bindings",
    });
    if sh == Sh::Fish {
        // fish shows the mode; it may start in command mode ([N]).
        let last = |screen: &str| screen.lines().last().unwrap_or("").to_string();
        let screen = s.wait_for("the mode", |sc| last(sc).contains("] "));
        if last(&screen).contains("[N]") {
            s.keys(&["i"]);
        }
        s.wait_for("insert mode", |sc| last(sc).contains("[I]"));
    }
    s.text("fake: count 1");
    s.keys(&["C-g"]);
    s.wait_buffer("an answer in insert mode", |b| b == "fake: count 2");
    s.keys(&["Escape"]);
    // Past the shells' wait for a key sequence that starts with Escape.
    std::thread::sleep(Duration::from_millis(800));
    s.keys(&["C-g"]);
    s.wait_buffer("an answer in command mode", |b| b == "fake: count 3");
    // Still in command mode: `x` deletes the character under the cursor.
    s.keys(&["0", "x"]);
    s.wait_buffer("a vi command", |b| b == "ake: count 3");
}

/// `--key` binds another key; `--no-bind` and CMDAI_NO_BIND=1 bind none,
/// and the user can bind the widget themselves.
fn custom_key_and_no_bind(sh: Sh) {
    let dir = TempDir::new("keys");
    let bin = fixture_bin(dir.path());
    let key = sh.ctrl_x();

    let widget = match sh {
        Sh::Zsh => "_cmdai_widget",
        Sh::Bash | Sh::Fish => "__cmdai_widget",
    };
    let list = match sh {
        Sh::Zsh => "bindkey -M emacs; bindkey -M viins; bindkey -M vicmd",
        Sh::Bash => "bind -X; bind -m vi-insert -X; bind -m vi-command -X",
        Sh::Fish => "bind; bind -M insert",
    };
    let bind = match sh {
        Sh::Zsh => format!("bindkey '{key}' {widget}"),
        Sh::Bash => format!("bind -x '\"{key}\": {widget}'"),
        Sh::Fish => format!("bind {key} {widget}"),
    };

    let s = Session::start_with(sh, &bin, &[], &[], &sh.init(&format!("--key '{key}'")));
    s.text("fake: via key");
    s.keys(&["C-x"]);
    s.wait_buffer("an answer via Ctrl-X", |b| b == "echo from-helper");
    s.clear_line();
    // The listing shows a bound widget (so its absence below means something).
    let bindings = s.output_of("bindings", list);
    assert!(bindings.contains(widget), "{sh:?}: {bindings}");
    drop(s);

    for (env, init) in [
        (vec![], sh.init("--no-bind")),
        (vec![("CMDAI_NO_BIND", "1")], sh.init("")),
    ] {
        let s = Session::start_with(sh, &bin, &env, &[], &init);
        let bindings = s.output_of("bindings", list);
        assert!(
            !bindings.contains(widget),
            "{sh:?} {init} {env:?}: a key is bound:\n{bindings}"
        );
        s.run(&bind);
        s.text("fake: bound by the user");
        s.keys(&["C-x"]);
        s.wait_buffer("an answer via the user's binding", |b| {
            b == "echo from-helper"
        });
    }
}

/// The helper's argv from the fixture's record.
fn recorded_argv(dir: &Path) -> Vec<String> {
    let argv = std::fs::read(dir.join("argv")).unwrap();
    argv.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Presses `undo` until the line holds `want`: one press per Ctrl-G at
/// most (zsh needs one; fish steps back through each suggestion).
fn undo_until(s: &Session, undo: &str, want: &str, presses: usize) {
    for _ in 0..presses {
        s.keys(&[undo]);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if s.buffer() == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert_eq!(s.buffer(), want, "{:?}: undo did not bring it back", s.sh);
}

/// Ctrl-G on its own suggestion gives a different command from the real
/// model; undo brings the request back (zsh, fish).
fn again_gives_another_command(sh: Sh) {
    let s = Session::start(sh, &real_bin(), &[]);
    s.text(HIDDEN);
    s.keys(&["C-g"]);
    let first = s.wait_buffer("a command", |b| b.starts_with("ls"));
    s.keys(&["C-g"]);
    // bash shows "thinking" on the line itself, and clears that line
    // before the answer: neither is an answer.
    let second = s.wait_buffer("another command", |b| {
        !b.is_empty() && b != first && b != HIDDEN && !b.contains("thinking")
    });
    assert!(!s.screen().contains("no command"), "{sh:?}: {}", s.screen());
    assert!(
        !s.screen().contains(".hidden-file"),
        "{sh:?}: {second} ran unreviewed"
    );
    match sh {
        Sh::Zsh => undo_until(&s, "C-_", HIDDEN, 1),
        Sh::Fish => undo_until(&s, "C-z", HIDDEN, 2),
        Sh::Bash => {}
    }
}

/// The protocol behind Ctrl-G again: the same request with `--next=` the
/// text on the line; typed text, or a command run meanwhile, makes the next
/// Ctrl-G a new request.
fn again_protocol_and_new_requests(sh: Sh) {
    let dir = TempDir::new("again");
    let s = Session::start(sh, &fixture_bin(dir.path()), &[]);
    s.text("fake: again");
    s.keys(&["C-g"]);
    s.wait_buffer("the first answer", |b| b == "fake: again, first");
    assert!(!recorded_argv(dir.path())
        .iter()
        .any(|a| a.starts_with("--next")));
    s.keys(&["C-g"]);
    s.wait_buffer("the second answer", |b| b == "fake: again, first+");
    let argv = recorded_argv(dir.path());
    assert!(
        argv.contains(&"--next=fake: again, first".to_string()),
        "{argv:?}"
    );
    assert_eq!(
        argv.last().map(String::as_str),
        Some("fake: again"),
        "{argv:?}"
    );
    s.keys(&["C-g"]);
    s.wait_buffer("the third answer", |b| b == "fake: again, first++");
    assert_eq!(
        recorded_argv(dir.path()).last().map(String::as_str),
        Some("fake: again")
    );

    // Typed text: a new request, as typed.
    s.text("!");
    s.wait_buffer("the typed key", |b| b == "fake: again, first++!");
    s.keys(&["C-g"]);
    s.wait_buffer("a new request's answer", |b| b == "fake: again, first");
    let argv = recorded_argv(dir.path());
    assert!(!argv.iter().any(|a| a.starts_with("--next")), "{argv:?}");
    assert_eq!(
        argv.last().map(String::as_str),
        Some("fake: again, first++!")
    );

    // A command run meanwhile: the same text is a new request too.
    s.clear_line();
    s.run("true");
    s.text("fake: again, first");
    s.keys(&["C-g"]);
    s.wait_buffer("a new request's answer", |b| b == "fake: again, first");
    let argv = recorded_argv(dir.path());
    assert!(!argv.iter().any(|a| a.starts_with("--next")), "{argv:?}");
}

/// Ctrl-G on an empty line right after a failed command proposes a
/// corrected one (the real model); after a success it gives the hint.
fn empty_line_after_a_failure_proposes_a_fix(sh: Sh) {
    let dir = TempDir::new("fix");
    let s = Session::start(sh, &fixture_bin(dir.path()), &[]);
    let failed = "ls /nonexistent-dir";
    s.type_line(failed);
    s.wait_for("the failure and a new prompt", |screen| {
        screen.contains("nonexistent-dir'") && screen.trim_end().ends_with(PROMPT.trim_end())
    });
    s.keys(&["C-g"]);
    // Not the line above (bash clears its prompt line before the answer).
    let fix = s.wait_buffer("a fix", |b| {
        !b.is_empty() && b != failed && !b.contains("thinking")
    });
    assert!(!fix.contains("nonexistent-dir'"), "{sh:?}: {fix}");
    let argv = recorded_argv(dir.path());
    assert_eq!(argv[0], "fix", "{argv:?}");
    assert!(argv.contains(&"--status=2".to_string()), "{argv:?}");
    assert_eq!(argv.last().map(String::as_str), Some(failed), "{argv:?}");

    // After a success, the hint as before.
    s.clear_line();
    s.run("true");
    s.keys(&["C-l"]);
    s.wait_for("a clean prompt", |screen| screen.trim() == PROMPT.trim());
    s.keys(&["C-g"]);
    s.wait_for("the hint", |screen| {
        screen.contains("type what you want first")
    });
    assert_eq!(s.buffer(), "");
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
    timeout => timeout_keeps_the_text;
    type_ahead => typed_ahead_enter_does_not_run_the_suggestion;
    outcomes => every_outcome_keeps_the_contract;
    hostile => hostile_settings_are_harmless;
    vi => vi_mode;
    two_line_prompt => two_line_prompt_keeps_messages;
    keys => custom_key_and_no_bind;
    again => again_gives_another_command;
    again_protocol => again_protocol_and_new_requests;
    fix => empty_line_after_a_failure_proposes_a_fix;
}

#[test]
fn zsh_undo() {
    undo_restores_the_request(Sh::Zsh, "C-_");
}

#[test]
fn fish_undo() {
    undo_restores_the_request(Sh::Fish, "C-z");
}
