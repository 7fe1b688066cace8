//! The rules. `table` lists every rule with its level; the families below
//! check one simple command each and report findings by `RuleId`.
//!
//! - `delete`: rm, find -delete, xargs rm;
//! - `permissions`: chmod, chown, chgrp;
//! - `download`: scripts from the internet or decoded from base64, run unseen;
//! - `disk`: formatting, raw device writes, system files, shred;
//! - `files`: redirections, mv, truncate, in-place edits;
//! - `system`: root, processes, firewall, power, cron, history, git, fork bombs.

mod delete;
mod disk;
mod download;
mod files;
mod paths;
mod permissions;
mod system;
pub mod table;

use super::parse::{Script, Simple};
use super::Finding;
pub use download::Source;
use table::{emit, RuleId};

pub use system::whole_text;

/// What a rule sees besides the command itself.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// Bodies of the substitutions the command's placeholders name.
    pub bodies: &'a [String],
    /// The command whose output is piped into this one.
    pub upstream: Option<&'a Simple>,
    /// The worst thing the commands piped into this one produce.
    pub fed: Source,
}

/// How deep substitution bodies are opened to see what they print.
const MAX_BODY_DEPTH: usize = 4;

/// Checks every simple command of a split script. Payloads such as
/// `bash -c '…'` are pushed onto `nested` to be assessed on their own.
pub fn script(script: &Script, nested: &mut Vec<String>, out: &mut Vec<Finding>) {
    let mut pipeline: Vec<&Simple> = Vec::new();
    for cmd in &script.commands {
        if !cmd.piped && !pipeline.is_empty() {
            files::reads_what_it_truncates(&pipeline, out);
            pipeline.clear();
        }
        pipeline.push(cmd);
    }
    files::reads_what_it_truncates(&pipeline, out);
    let mut fed = Source::Nothing;
    for (i, cmd) in script.commands.iter().enumerate() {
        let upstream = if cmd.piped && i > 0 {
            script.commands.get(i - 1)
        } else {
            fed = Source::Nothing;
            None
        };
        let ctx = Ctx {
            bodies: &script.nested,
            upstream,
            fed,
        };
        simple(cmd, &ctx, nested, out);
        if script.commands.get(i + 1).is_some_and(|next| next.piped) {
            fed = fed.max(download::emits(cmd, &script.nested, 0));
        }
    }
}

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Short flags (`-rf` → r, f) and long flags of a word list.
fn has_flag(words: &[String], short: char, long: &str) -> bool {
    words.iter().any(|w| {
        if let Some(l) = w.strip_prefix("--") {
            l == long
        } else if let Some(s) = w.strip_prefix('-') {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()) && s.contains(short)
        } else {
            false
        }
    })
}

/// The words after the command name that are not options (all of them after `--`).
fn operands(words: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    let mut after_dashdash = false;
    for w in words.iter().skip(1) {
        if after_dashdash || !w.starts_with('-') || w == "-" {
            out.push(w.as_str());
        } else if w == "--" {
            after_dashdash = true;
        }
    }
    out
}

/// Words that only wrap another command; the rest is assessed as that command.
const WRAPPERS: &[&str] = &[
    "nohup",
    "time",
    "command",
    "exec",
    "builtin",
    "stdbuf",
    "ionice",
    "caffeinate",
    "busybox",
    "env",
    "nice",
    "timeout",
    "chroot",
];

/// Runs what follows as root.
const ROOT_WRAPPERS: &[&str] = &["sudo", "doas", "pkexec", "run0"];

/// The command that really runs, past assignments (`LANG=C`), wrappers
/// (`env`, `nice -n 5`, `timeout -s KILL 5`) and `sudo`'s options, and
/// whether it runs as root.
pub(super) fn unwrap(mut words: &[String]) -> (&[String], bool) {
    let mut root = false;
    while let Some(first) = words.first() {
        let name = base(first);
        if first.contains('=') && !first.starts_with('-') && !first.starts_with('=') {
            words = &words[1..];
        } else if ROOT_WRAPPERS.contains(&name) {
            root = true;
            words = &words[1..];
            // sudo's own options, and the argument of those that take one.
            while let Some(w) = words.first() {
                let takes_arg = matches!(
                    w.as_str(),
                    "-u" | "-g" | "-p" | "-C" | "-U" | "-r" | "-t" | "-D" | "-R" | "-T"
                );
                if takes_arg {
                    words = &words[words.len().min(2)..];
                } else if w.starts_with('-') {
                    words = &words[1..];
                    if w == "--" {
                        break;
                    }
                } else {
                    break;
                }
            }
        } else if WRAPPERS.contains(&name) {
            words = &words[1..];
            if name == "chroot" {
                // chroot [options] DIR command…
                while words.first().is_some_and(|w| w.starts_with('-')) {
                    words = &words[1..];
                }
                words = &words[words.len().min(1)..];
                continue;
            }
            while let Some(w) = words.first() {
                let numeric = w.chars().next().is_some_and(|c| c.is_ascii_digit());
                let takes_arg = match name {
                    "env" => matches!(w.as_str(), "-u" | "-C" | "-S" | "--unset" | "--chdir"),
                    "timeout" => matches!(w.as_str(), "-s" | "-k" | "--signal" | "--kill-after"),
                    "nice" => w == "-n",
                    "ionice" => matches!(w.as_str(), "-c" | "-n" | "-p" | "-t"),
                    "stdbuf" => matches!(w.as_str(), "-i" | "-o" | "-e"),
                    _ => false,
                };
                if takes_arg {
                    words = &words[words.len().min(2)..];
                } else if w.starts_with('-') || w.contains('=') || (numeric && name != "env") {
                    words = &words[1..];
                } else {
                    break;
                }
            }
        } else {
            break;
        }
    }
    (words, root)
}

/// Checks one simple command.
pub fn simple(cmd: &Simple, ctx: &Ctx, nested: &mut Vec<String>, out: &mut Vec<Finding>) {
    files::redirects(cmd, out);
    let (words, root) = unwrap(&cmd.words);
    if root {
        emit(out, RuleId::Sudo, "runs as root");
    }
    let Some(first) = words.first() else { return };
    let name = base(first);
    let args = &words[1..];
    download::check(words, cmd, ctx, out);
    match name {
        "rm" | "rmdir" | "unlink" => delete::rm(words, out),
        "find" => delete::find(words, nested, out),
        "xargs" => delete::xargs(args, ctx, nested, out),
        "chmod" | "chown" | "chgrp" => permissions::chmod(name, words, out),
        "mv" => files::mv(words, out),
        "truncate" => files::truncate(args, out),
        "sed" | "perl" => files::in_place(words, out),
        "dd" | "cp" | "tee" | "install" | "shred" => disk::writes(name, words, out),
        n if disk::is_format(n) => disk::format(n, args, out),
        "git" => system::git(args, out),
        "su" => {
            emit(out, RuleId::Sudo, "runs as root");
            if let Some(i) = args.iter().position(|a| a == "-c") {
                if let Some(p) = args.get(i + 1) {
                    nested.push(p.to_string());
                }
            }
        }
        "eval" => nested.push(args.join(" ")),
        n if download::SHELLS.contains(&n) => {
            if let Some(i) = args.iter().position(|a| {
                a == "-c"
                    || a.starts_with('-')
                        && !a.starts_with("--")
                        && a.ends_with('c')
                        && a.len() <= 4
            }) {
                if let Some(p) = args.get(i + 1) {
                    nested.push(p.to_string());
                }
            }
        }
        _ => system::other(name, args, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        shell_words::split(s).unwrap_or_default()
    }

    #[test]
    fn unwrap_finds_the_real_command() {
        for (cmd, real, root) in [
            ("sudo -u bob rm x", "rm", true),
            ("timeout -s KILL 5 rm x", "rm", false),
            ("env -u X rm x", "rm", false),
            ("env A=1 B=2 rm x", "rm", false),
            ("nice -n 10 ionice -c 3 rm x", "rm", false),
            ("LANG=C sudo -E rm x", "rm", true),
            ("chroot /mnt rm x", "rm", false),
            ("doas rm x", "rm", true),
            ("sudo", "", true),
        ] {
            let words = w(cmd);
            let (inner, r) = unwrap(&words);
            assert_eq!(
                inner.first().map(String::as_str).unwrap_or(""),
                real,
                "{cmd}"
            );
            assert_eq!(r, root, "{cmd}");
        }
    }
}
