//! Running text you have not seen: a script downloaded from the internet, or
//! one decoded from base64 or escapes, handed to a shell or interpreter by a
//! pipe (`curl … | sh`), a substitution (`eval "$(curl …)"`, `bash -c "$(…)"`)
//! or a process substitution (`source <(wget -qO- …)`, `bash <(curl …)`).
//! A program that reads the download as data (`jq`, `grep`,
//! `python3 -m json.tool`, `python3 script.py`) runs nothing from it.

use super::super::parse::{self, Simple};
use super::super::Finding;
use super::table::{emit, RuleId};
use super::{base, unwrap, Ctx, MAX_BODY_DEPTH};

/// What a command prints, as far as running it as a script goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    Nothing,
    /// Text decoded from base64, hex or escapes: unreadable before it runs.
    Decoded,
    /// Text from the network.
    Download,
}

pub const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "fish", "csh", "tcsh",
];

const DOWNLOADERS: &[&str] = &[
    "curl",
    "wget",
    "wget2",
    "fetch",
    "http",
    "https",
    "xh",
    "lwp-request",
    "GET",
    "nc",
    "ncat",
    "netcat",
];

fn is_interpreter(name: &str) -> bool {
    let python = name
        .strip_prefix("python")
        .or_else(|| name.strip_prefix("pypy"))
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
    python
        || matches!(
            name,
            "perl"
                | "ruby"
                | "node"
                | "nodejs"
                | "php"
                | "lua"
                | "luajit"
                | "pwsh"
                | "powershell"
                | "osascript"
        )
}

fn is_decoder(name: &str, args: &[String]) -> bool {
    let has = |f: &str| args.iter().any(|a| a == f);
    let cluster = |c: char| {
        args.iter()
            .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains(c))
    };
    let escapes = |a: &String| {
        a.contains("\\x")
            || a.contains("\\u")
            || a.as_bytes()
                .windows(4)
                .any(|w| w[0] == b'\\' && w[1..].iter().all(u8::is_ascii_digit))
    };
    match name {
        "base64" | "base32" | "basenc" => has("--decode") || cluster('d') || has("-D"),
        "xxd" => cluster('r'),
        "openssl" => has("-d") || has("-base64") && has("-A"),
        "uudecode" | "rev" => true,
        "printf" => args.first().is_some_and(escapes),
        "echo" => has("-e") && args.iter().any(escapes),
        _ => false,
    }
}

/// The worst source among the substitutions a word contains.
fn word_source(word: &str, bodies: &[String], depth: usize) -> Source {
    parse::placeholders(word)
        .filter_map(|i| bodies.get(i))
        .map(|b| body_source(b, depth + 1))
        .max()
        .unwrap_or(Source::Nothing)
}

/// What a substitution body prints: a download if any command in it downloads.
fn body_source(body: &str, depth: usize) -> Source {
    if depth > MAX_BODY_DEPTH {
        return Source::Nothing;
    }
    let s = parse::split(body);
    s.commands
        .iter()
        .map(|c| emits(c, &s.nested, depth))
        .max()
        .unwrap_or(Source::Nothing)
}

/// What one command prints: `curl` a download, `base64 -d` decoded text,
/// `echo "$(curl …)"` whatever its substitution prints.
pub fn emits(cmd: &Simple, bodies: &[String], depth: usize) -> Source {
    let (words, _) = unwrap(&cmd.words);
    let Some(first) = words.first() else {
        return Source::Nothing;
    };
    let name = base(first);
    let own = if DOWNLOADERS.contains(&name) {
        Source::Download
    } else if is_decoder(name, &words[1..]) {
        Source::Decoded
    } else {
        Source::Nothing
    };
    let inputs = words
        .iter()
        .chain(cmd.redirects.iter().map(|(_, t)| t))
        .map(|w| word_source(w, bodies, depth))
        .max()
        .unwrap_or(Source::Nothing);
    own.max(inputs)
}

/// Where a shell or interpreter takes its script from.
enum ScriptFrom {
    /// Standard input: whatever is piped in.
    Stdin,
    /// A word: `-c CODE`, `-e CODE` or a script file (`<(…)` is a file).
    Word(usize),
    /// Stdin is data: `python3 -m json.tool`, or `-c` with no code.
    Data,
}

fn script_from(name: &str, args: &[String]) -> ScriptFrom {
    let shell = SHELLS.contains(&name);
    let python = name.starts_with("python") || name.starts_with("pypy");
    let mut code = false;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-" {
            return ScriptFrom::Stdin;
        }
        if a == "--" {
            i += 1;
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            match long {
                "eval" | "print" | "command" => code = true,
                "rcfile" | "init-file" | "require" => i += 1,
                _ => {}
            }
            i += 1;
            continue;
        }
        let option = a.len() > 1 && (a.starts_with('-') || shell && a.starts_with('+'));
        if !option {
            break;
        }
        let flags = &a[1..];
        if shell {
            if a.starts_with('-') && flags.contains('s') {
                return ScriptFrom::Stdin;
            }
            if flags.contains('c') {
                code = true;
            }
            if matches!(flags, "o" | "O") {
                i += 1;
            }
        } else if python {
            if flags.contains('m') {
                return ScriptFrom::Data;
            }
            if flags.contains('c') {
                code = true;
            } else if matches!(flags, "W" | "X") {
                i += 1;
            }
        } else {
            let lower = flags.to_ascii_lowercase();
            match name {
                "perl" | "ruby" | "lua" | "luajit" | "osascript" if flags.contains(['e', 'E']) => {
                    code = true
                }
                "node" | "nodejs" if matches!(flags, "e" | "p") => code = true,
                "node" | "nodejs" if flags == "r" => i += 1,
                "php" if flags == "r" => code = true,
                "pwsh" | "powershell" if matches!(lower.as_str(), "c" | "command") => code = true,
                _ => {}
            }
        }
        i += 1;
    }
    if i < args.len() {
        if matches!(
            args[i].as_str(),
            "/dev/stdin" | "/proc/self/fd/0" | "/dev/fd/0"
        ) {
            ScriptFrom::Stdin
        } else {
            ScriptFrom::Word(i)
        }
    } else if code {
        ScriptFrom::Data
    } else {
        ScriptFrom::Stdin
    }
}

/// What a command that reads its script from stdin gets: the pipe, or a
/// `< <(curl …)` or `<<< "$(curl …)"` redirection.
fn stdin_source(cmd: &Simple, ctx: &Ctx) -> Source {
    let redirected = cmd
        .redirects
        .iter()
        .filter(|(op, _)| op == "<" || op == "<<<")
        .map(|(_, t)| word_source(t, ctx.bodies, 0))
        .max()
        .unwrap_or(Source::Nothing);
    ctx.fed.max(redirected)
}

/// Checks whether `words` (the unwrapped command) runs unseen text.
pub fn check(words: &[String], cmd: &Simple, ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(first) = words.first() else { return };
    let name = base(first);
    let args = &words[1..];
    // `$(curl -s x)` as the command runs whatever it prints.
    let mut src = word_source(first, ctx.bodies, 0);
    if name == "eval" {
        for a in args {
            src = src.max(word_source(a, ctx.bodies, 0));
        }
    } else if name == "source" || name == "." {
        match args.iter().find(|a| !a.starts_with('-')) {
            Some(f) if matches!(f.as_str(), "/dev/stdin" | "/proc/self/fd/0" | "/dev/fd/0") => {
                src = src.max(stdin_source(cmd, ctx))
            }
            Some(f) => src = src.max(word_source(f, ctx.bodies, 0)),
            None => {}
        }
    } else if SHELLS.contains(&name) || is_interpreter(name) {
        src = src.max(match script_from(name, args) {
            ScriptFrom::Stdin => stdin_source(cmd, ctx),
            ScriptFrom::Word(i) => args
                .get(i)
                .map(|w| word_source(w, ctx.bodies, 0))
                .unwrap_or(Source::Nothing),
            ScriptFrom::Data => Source::Nothing,
        });
    }
    match src {
        Source::Download => emit(
            out,
            RuleId::PipeToShell,
            "runs a script from the internet without showing it to you",
        ),
        Source::Decoded => emit(
            out,
            RuleId::HiddenScript,
            "runs a script decoded from base64 or escapes, which you cannot read first",
        ),
        Source::Nothing => {}
    }
}
