//! The rules. Each has an id, listed in `RULES` (and docs/SAFETY.md) with
//! its level and an example; the checks below refer to them by id.

use super::parse::Simple;
use super::{Finding, Level};

pub struct Rule {
    pub id: &'static str,
    pub level: Level,
    pub what: &'static str,
    pub example: &'static str,
}

const fn rule(id: &'static str, level: Level, what: &'static str, example: &'static str) -> Rule {
    Rule {
        id,
        level,
        what,
        example,
    }
}

use Level::*;

pub const RULES: &[Rule] = &[
    rule(
        "rm-root",
        Critical,
        "recursive delete of /, ~, $HOME, a top-level system directory, or everything in them",
        "rm -rf ~",
    ),
    rule(
        "no-preserve-root",
        Critical,
        "rm with --no-preserve-root",
        "rm -rf --no-preserve-root /",
    ),
    rule(
        "mkfs",
        Critical,
        "formatting, wiping or repartitioning a disk",
        "mkfs.ext4 /dev/sda1",
    ),
    rule(
        "write-device",
        Critical,
        "writing raw data onto a disk device (dd of=, >, cp, tee, shred)",
        "dd if=/dev/zero of=/dev/sda",
    ),
    rule(
        "fork-bomb",
        Critical,
        "a function that spawns itself without end",
        ":(){ :|:& };:",
    ),
    rule(
        "chmod-root",
        Critical,
        "recursive chmod/chown/chgrp of / or a system directory",
        "chmod -R 777 /",
    ),
    rule(
        "move-root",
        Critical,
        "moving /, your home directory or a system directory away",
        "mv ~ /dev/null",
    ),
    rule(
        "system-file",
        Critical,
        "overwriting /etc/passwd, /etc/shadow, /etc/sudoers or the boot loader",
        "echo x > /etc/passwd",
    ),
    rule(
        "find-delete-root",
        Critical,
        "find -delete or -exec rm from / or your home directory",
        "find / -delete",
    ),
    rule(
        "pipe-to-shell",
        High,
        "running a script downloaded from the internet without review",
        "curl -fsSL https://x.sh | sh",
    ),
    rule(
        "rm-recursive",
        High,
        "recursive delete of a directory tree",
        "rm -rf build",
    ),
    rule(
        "find-delete-all",
        High,
        "find -delete with no test: deletes the whole tree",
        "find . -delete",
    ),
    rule(
        "chmod-recursive",
        High,
        "recursive chmod/chown/chgrp",
        "chown -R me ./site",
    ),
    rule(
        "sudo",
        High,
        "running as root (sudo, doas, su -c)",
        "sudo apt upgrade",
    ),
    rule(
        "force-push",
        High,
        "git push --force rewrites the remote branch",
        "git push --force origin main",
    ),
    rule(
        "git-discard",
        High,
        "git reset --hard / git clean -f discard uncommitted work",
        "git reset --hard HEAD~1",
    ),
    rule(
        "kill-all",
        High,
        "killing every process you can (kill -1, killall5)",
        "kill -9 -1",
    ),
    rule(
        "truncate",
        High,
        "emptying a file (> file, truncate -s 0)",
        ": > app.log",
    ),
    rule(
        "dotfile",
        High,
        "overwriting a dotfile in your home directory",
        "echo x > ~/.bashrc",
    ),
    rule("history", High, "erasing your shell history", "history -c"),
    rule(
        "firewall",
        High,
        "turning off the firewall or security policy",
        "ufw disable",
    ),
    rule(
        "power",
        High,
        "shutting down or rebooting the machine",
        "shutdown -h now",
    ),
    rule(
        "crontab-remove",
        High,
        "deleting your crontab",
        "crontab -r",
    ),
    rule(
        "shred",
        High,
        "destroying file contents beyond recovery",
        "shred -u secrets.txt",
    ),
    rule(
        "xargs-rm",
        High,
        "recursive delete of whatever the input names",
        "xargs rm -rf",
    ),
    rule("rm", Moderate, "deleting files", "rm notes.txt"),
    rule(
        "find-delete",
        Moderate,
        "deleting the files find matches",
        "find . -name '*.tmp' -delete",
    ),
    rule(
        "chown",
        Moderate,
        "changing a file's owner",
        "chown me file",
    ),
    rule(
        "world-writable",
        Moderate,
        "making files writable by everyone",
        "chmod 777 file",
    ),
    rule(
        "move-to-null",
        Moderate,
        "moving files into /dev/null (they are gone)",
        "mv old.txt /dev/null",
    ),
    rule("kill", Moderate, "stopping processes", "pkill node"),
    rule(
        "overwrite-in-place",
        Moderate,
        "editing files in place",
        "sed -i 's/a/b/' f",
    ),
];

/// Top-level system directories: deleting or re-permissioning them
/// recursively breaks the machine.
const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/opt",
    "/proc",
    "/root",
    "/sbin",
    "/srv",
    "/sys",
    "/usr",
    "/var",
    "/System",
    "/Library",
    "/Applications",
    "/Users",
    "/private",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/var/lib",
];

/// Block devices by name prefix under /dev.
const DEVICE_PREFIXES: &[&str] = &[
    "/dev/sd",
    "/dev/hd",
    "/dev/vd",
    "/dev/xvd",
    "/dev/nvme",
    "/dev/mmcblk",
    "/dev/disk",
    "/dev/rdisk",
    "/dev/md",
    "/dev/dm-",
    "/dev/mapper/",
    "/dev/loop",
    "/dev/sr",
    "/dev/mem",
    "/dev/kmem",
    "/dev/port",
];

const SYSTEM_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/sudoers",
    "/etc/fstab",
];

const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "fish", "csh", "tcsh"];
const INTERPRETERS: &[&str] = &["python", "python3", "perl", "ruby", "node"];

/// Words that only wrap another command; the rest is assessed as that command.
const WRAPPERS: &[&str] = &[
    "nohup",
    "time",
    "command",
    "exec",
    "builtin",
    "stdbuf",
    "ionice",
    "chroot",
    "caffeinate",
];

fn find(out: &mut Vec<Finding>, id: &'static str, reason: impl Into<String>) {
    let level = RULES
        .iter()
        .find(|r| r.id == id)
        .map(|r| r.level)
        .unwrap_or(High);
    out.push(Finding {
        level,
        rule: id,
        reason: reason.into(),
    });
}

fn base(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// `~`, `~/`, `$HOME/*`, `"${HOME}"` → "your home directory"; `/`, `/*` → "/";
/// `/etc/` → "/etc". None for anything narrower.
fn precious(target: &str) -> Option<String> {
    let mut t = target.trim();
    for suffix in ["/*", "/.*", "/.", "/"] {
        while t.len() > 1 && t.ends_with(suffix) {
            t = &t[..t.len() - suffix.len()];
        }
    }
    if t.is_empty() || t == "/" || t == "/*" {
        return Some("/".into());
    }
    if matches!(t, "~" | "$HOME" | "${HOME}" | "~/*" | "~/.*") {
        return Some("your home directory".into());
    }
    if SYSTEM_DIRS.contains(&t) || t.starts_with("/home/") && t.matches('/').count() == 2 {
        return Some(t.to_string());
    }
    None
}

fn is_device(path: &str) -> bool {
    DEVICE_PREFIXES.iter().any(|p| path.starts_with(p))
}

fn is_dotfile(path: &str) -> bool {
    let rest = path
        .strip_prefix("~/")
        .or_else(|| path.strip_prefix("$HOME/"))
        .or_else(|| path.strip_prefix("${HOME}/"));
    rest.is_some_and(|r| r.starts_with('.') && !r.starts_with("./"))
}

fn is_system_file(path: &str) -> bool {
    SYSTEM_FILES.contains(&path) || path.starts_with("/boot/")
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

/// Checks that need the raw text: fork bombs are functions, and functions
/// are not simple commands.
pub fn whole_text(src: &str, out: &mut Vec<Finding>) {
    let compact: String = src.chars().filter(|c| !c.is_whitespace()).collect();
    // name(){ name|name& };name  — any name, `function` keyword or not.
    if let Some(def) = compact.find("(){") {
        let name = compact[..def]
            .rsplit([';', '&', '|', '\n'])
            .next()
            .unwrap_or("")
            .trim_start_matches("function");
        if !name.is_empty() {
            let body = &compact[def + 3..];
            if body.contains(&format!("{name}|{name}&")) || body.contains(&format!("{name}&{name}"))
            {
                find(
                    out,
                    "fork-bomb",
                    "is a fork bomb: it starts copies of itself until the machine freezes",
                );
            }
        }
    }
}

/// Checks one simple command. `downstream` holds the commands its output is
/// piped into; payloads such as `bash -c '…'` are pushed onto `nested`.
pub fn simple(
    cmd: &Simple,
    downstream: &[&Simple],
    nested: &mut Vec<String>,
    out: &mut Vec<Finding>,
) {
    redirects(cmd, out);
    let mut words: &[String] = &cmd.words;
    // Look through assignments and wrappers to the command that really runs.
    loop {
        let Some(first) = words.first() else { return };
        let name = base(first);
        if first.contains('=') && !first.starts_with('-') && !first.starts_with('=') {
            words = &words[1..];
        } else if matches!(name, "sudo" | "doas") {
            find(out, "sudo", "runs as root");
            words = &words[1..];
            // Skip sudo's own options (and the user of -u).
            while let Some(w) = words.first() {
                if w == "-u" || w == "-g" {
                    words = &words[words.len().min(2)..];
                } else if w.starts_with('-') {
                    words = &words[1..];
                } else {
                    break;
                }
            }
        } else if name == "env" || name == "nice" || name == "timeout" || WRAPPERS.contains(&name) {
            words = &words[1..];
            while let Some(w) = words.first() {
                let numeric = w.chars().next().is_some_and(|c| c.is_ascii_digit());
                if w.starts_with('-') || w.contains('=') || (numeric && name != "env") {
                    words = &words[1..];
                } else {
                    break;
                }
            }
        } else {
            break;
        }
    }
    let Some(first) = words.first() else { return };
    let name = base(first);
    let args = &words[1..];

    match name {
        "rm" | "rmdir" | "unlink" => rm(words, out),
        "find" => find_cmd(words, nested, out),
        "mkfs" | "mkswap" | "wipefs" | "blkdiscard" | "fdisk" | "sfdisk" | "gdisk" | "sgdisk"
        | "parted" => {
            let listing = args
                .iter()
                .any(|a| a == "-l" || a == "--list" || a == "print");
            if !listing {
                find(
                    out,
                    "mkfs",
                    format!("formats or repartitions a disk ({name})"),
                );
            }
        }
        n if n.starts_with("mkfs.") => find(out, "mkfs", format!("formats a disk ({n})")),
        "dd" => {
            for a in args {
                if let Some(of) = a.strip_prefix("of=") {
                    if is_device(of) {
                        find(out, "write-device", format!("overwrites the disk {of}"));
                    } else if is_system_file(of) {
                        find(out, "system-file", format!("overwrites {of}"));
                    }
                }
            }
        }
        "cp" | "tee" | "install" => {
            let append = name == "tee" && has_flag(words, 'a', "append");
            for t in operands(words) {
                if is_device(t) {
                    find(out, "write-device", format!("writes onto the disk {t}"));
                } else if is_system_file(t) && !append {
                    find(out, "system-file", format!("overwrites {t}"));
                } else if name == "tee" && is_dotfile(t) && !append {
                    find(out, "dotfile", format!("overwrites {t}"));
                }
            }
        }
        "shred" => {
            let ops = operands(words);
            if let Some(d) = ops.iter().find(|t| is_device(t)) {
                find(
                    out,
                    "write-device",
                    format!("destroys everything on the disk {d}"),
                );
            } else if !ops.is_empty() {
                find(
                    out,
                    "shred",
                    format!("destroys {} beyond recovery", ops.join(" ")),
                );
            }
        }
        "chmod" | "chown" | "chgrp" => chmod(name, words, out),
        "mv" => {
            let ops = operands(words);
            if let Some((dest, sources)) = ops.split_last() {
                for s in sources {
                    if let Some(what) = precious(s) {
                        find(out, "move-root", format!("moves {what} away"));
                    }
                }
                if *dest == "/dev/null" {
                    find(
                        out,
                        "move-to-null",
                        "moves files into /dev/null, destroying them",
                    );
                } else if is_system_file(dest) {
                    find(out, "system-file", format!("overwrites {dest}"));
                }
            }
        }
        "truncate" => {
            let zero = args.windows(2).any(|w| w[0] == "-s" && w[1] == "0")
                || args.iter().any(|a| a == "-s0" || a == "--size=0");
            if zero {
                find(out, "truncate", "empties files");
            }
        }
        "git" => git(args, out),
        "kill" => {
            if args.iter().any(|a| a == "-1") {
                find(out, "kill-all", "kills every process you own");
            } else {
                find(out, "kill", "stops processes");
            }
        }
        "killall5" => find(out, "kill-all", "kills every process"),
        "pkill" | "killall" => find(out, "kill", "stops processes by name"),
        "history" if args.iter().any(|a| a == "-c") => {
            find(out, "history", "erases your shell history")
        }
        "ufw" if args.first().is_some_and(|a| a == "disable") => {
            find(out, "firewall", "turns off the firewall")
        }
        "iptables" | "ip6tables" if args.iter().any(|a| a == "-F" || a == "--flush") => {
            find(out, "firewall", "removes all firewall rules")
        }
        "nft" if args.iter().any(|a| a == "flush") => {
            find(out, "firewall", "removes all firewall rules")
        }
        "setenforce" if args.first().is_some_and(|a| a == "0") => {
            find(out, "firewall", "turns off SELinux")
        }
        "systemctl" | "service" => {
            let stops = args
                .iter()
                .any(|a| a == "stop" || a == "disable" || a == "mask");
            let guard = args.iter().any(|a| {
                ["firewalld", "ufw", "nftables", "iptables", "apparmor"]
                    .iter()
                    .any(|g| a.starts_with(g))
            });
            if stops && guard {
                find(out, "firewall", "turns off the firewall");
            }
            if args
                .iter()
                .any(|a| a == "poweroff" || a == "reboot" || a == "halt")
            {
                find(out, "power", "shuts down or reboots the machine");
            }
        }
        "shutdown" | "reboot" | "halt" | "poweroff" => {
            find(out, "power", "shuts down or reboots the machine")
        }
        "init" | "telinit" if args.first().is_some_and(|a| a == "0" || a == "6") => {
            find(out, "power", "shuts down or reboots the machine")
        }
        "crontab" if args.iter().any(|a| a == "-r") => {
            find(out, "crontab-remove", "deletes your crontab")
        }
        "sed" | "perl"
            if args
                .iter()
                .any(|a| a.starts_with("-i") || a == "--in-place") =>
        {
            let targets = operands(words);
            if targets.iter().any(|t| is_system_file(t)) {
                find(out, "system-file", "edits a critical system file in place");
            } else {
                find(out, "overwrite-in-place", "edits files in place");
            }
        }
        "xargs" => {
            let inner: Vec<String> = args
                .iter()
                .skip_while(|a| a.starts_with('-'))
                .cloned()
                .collect();
            if inner.first().is_some_and(|w| base(w) == "rm") {
                if has_flag(&inner, 'r', "recursive") || has_flag(&inner, 'R', "recursive") {
                    find(
                        out,
                        "xargs-rm",
                        "recursively deletes whatever its input names",
                    );
                } else {
                    find(out, "rm", "deletes the files its input names");
                }
            } else if !inner.is_empty() {
                let sub = Simple {
                    words: inner,
                    ..Simple::default()
                };
                simple(&sub, &[], nested, out);
            }
        }
        "su" => {
            find(out, "sudo", "runs as root");
            if let Some(i) = args.iter().position(|a| a == "-c") {
                if let Some(p) = args.get(i + 1) {
                    nested.push(p.to_string());
                }
            }
        }
        "eval" => nested.push(args.join(" ")),
        n if SHELLS.contains(&n) => {
            if let Some(i) = args
                .iter()
                .position(|a| a == "-c" || a.starts_with('-') && a.ends_with('c') && a.len() <= 4)
            {
                if let Some(p) = args.get(i + 1) {
                    nested.push(p.to_string());
                }
            }
        }
        n if ["curl", "wget", "fetch"].contains(&n) => {
            let into_shell = downstream.iter().any(|d| {
                d.words
                    .iter()
                    .find(|w| !matches!(base(w), "sudo" | "doas" | "env") && !w.starts_with('-'))
                    .is_some_and(|w| SHELLS.contains(&base(w)) || INTERPRETERS.contains(&base(w)))
            });
            if into_shell {
                find(
                    out,
                    "pipe-to-shell",
                    "runs a script from the internet without showing it to you",
                );
            }
        }
        _ => {}
    }
    // `bash <(curl …)` and `sh -c "$(wget …)"`.
    if SHELLS.contains(&name) && cmd.words.iter().any(|w| w.contains("__SUBST__")) {
        // The substitution body was split out; the shell gets whatever it prints.
        find(
            out,
            "pipe-to-shell",
            "runs a script produced by another command without showing it",
        );
    }
}

fn redirects(cmd: &Simple, out: &mut Vec<Finding>) {
    for (op, target) in &cmd.redirects {
        if !op.starts_with('>') || target == "&" {
            continue;
        }
        let append = op.starts_with(">>");
        if is_device(target) {
            find(
                out,
                "write-device",
                format!("writes onto the disk {target}"),
            );
        } else if is_system_file(target) && !append {
            find(out, "system-file", format!("overwrites {target}"));
        } else if is_dotfile(target) && !append {
            find(out, "dotfile", format!("overwrites {target}"));
        } else if !append
            && target != "/dev/null"
            && target != "/dev/stderr"
            && target != "/dev/stdout"
        {
            // Only a redirection with nothing (or nothing real) written empties the file.
            let empty = match cmd.words.first().map(|w| base(w)) {
                None => true,
                Some(":") | Some("true") => true,
                Some("cat") | Some("cp") => cmd.words.get(1).is_some_and(|a| a == "/dev/null"),
                Some("echo") => {
                    cmd.words.len() == 1 || cmd.words.len() == 2 && cmd.words[1] == "-n"
                }
                _ => false,
            };
            if empty {
                find(out, "truncate", format!("empties {target}"));
            }
        }
    }
}

fn rm(words: &[String], out: &mut Vec<Finding>) {
    let recursive = has_flag(words, 'r', "recursive") || has_flag(words, 'R', "recursive");
    if words.iter().any(|w| w == "--no-preserve-root") {
        find(out, "no-preserve-root", "disables rm's protection of /");
    }
    let targets = operands(words);
    let mut flagged = false;
    for t in &targets {
        if let Some(what) = precious(t) {
            if recursive || t.ends_with('*') {
                let how = if recursive {
                    "recursively deletes"
                } else {
                    "deletes everything in"
                };
                find(out, "rm-root", format!("{how} {what}"));
                flagged = true;
            }
        } else if recursive {
            let what = match *t {
                "." | "./" | "*" | "./*" => "everything in the current directory".to_string(),
                ".." | "../" | "../*" => "the parent directory".to_string(),
                t if t.starts_with('$') => {
                    format!("whatever {t} expands to (all of / if it is empty)")
                }
                t => t.to_string(),
            };
            find(out, "rm-recursive", format!("recursively deletes {what}"));
            flagged = true;
        }
    }
    if !flagged && !targets.is_empty() {
        let what = if base(&words[0]) == "rmdir" {
            "removes directories"
        } else {
            "deletes files"
        };
        find(out, "rm", what);
    }
}

fn find_cmd(words: &[String], nested: &mut Vec<String>, out: &mut Vec<Finding>) {
    let deletes = words.iter().any(|w| w == "-delete");
    let exec_at = words
        .iter()
        .position(|w| w == "-exec" || w == "-execdir" || w == "-ok");
    let exec_rm = exec_at.is_some_and(|i| {
        words
            .get(i + 1)
            .is_some_and(|w| base(w) == "rm" || base(w) == "shred")
    });
    if let Some(i) = exec_at {
        // The -exec payload is a command of its own: `-exec chmod 777 {} +`.
        let payload: Vec<String> = words[i + 1..]
            .iter()
            .take_while(|w| *w != ";" && *w != "+" && *w != "\\;")
            .cloned()
            .collect();
        if !exec_rm && !payload.is_empty() {
            nested.push(shell_words::join(&payload));
        }
    }
    if !deletes && !exec_rm {
        return;
    }
    let roots: Vec<&str> = words[1..]
        .iter()
        .take_while(|w| !w.starts_with('-') && !w.starts_with('(') && *w != "!")
        .map(|w| w.as_str())
        .collect();
    if let Some(what) = roots.iter().find_map(|r| precious(r)) {
        find(
            out,
            "find-delete-root",
            format!("deletes files throughout {what}"),
        );
        return;
    }
    const TESTS: &[&str] = &[
        "-name",
        "-iname",
        "-path",
        "-ipath",
        "-regex",
        "-iregex",
        "-type",
        "-size",
        "-mtime",
        "-mmin",
        "-atime",
        "-amin",
        "-ctime",
        "-cmin",
        "-newer",
        "-empty",
        "-user",
        "-group",
        "-perm",
        "-links",
        "-wholename",
        "-lname",
        "-inum",
        "-samefile",
    ];
    if words.iter().any(|w| TESTS.contains(&w.as_str())) {
        find(out, "find-delete", "deletes the files find matches");
    } else {
        let place = roots.first().copied().unwrap_or(".");
        find(
            out,
            "find-delete-all",
            format!("deletes everything under {place}"),
        );
    }
}

fn chmod(name: &str, words: &[String], out: &mut Vec<Finding>) {
    let recursive = has_flag(words, 'R', "recursive");
    let ops = operands(words);
    let targets = if ops.len() > 1 { &ops[1..] } else { &ops[..] };
    for t in targets {
        if let Some(what) = precious(t) {
            if recursive {
                find(
                    out,
                    "chmod-root",
                    format!("changes permissions or owner of everything in {what} ({name} -R)"),
                );
                return;
            }
        }
    }
    if recursive {
        find(
            out,
            "chmod-recursive",
            format!("changes permissions or owner of whole trees ({name} -R)"),
        );
    } else if name != "chmod" {
        find(out, "chown", "changes file ownership");
    }
    let mode = ops.first().copied().unwrap_or("");
    if name == "chmod"
        && (mode.ends_with("777") || mode.ends_with("666") || mode.contains("o+w") || mode == "a+w")
    {
        find(out, "world-writable", "makes files writable by everyone");
    }
}

fn git(args: &[String], out: &mut Vec<Finding>) {
    let sub = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(|s| s.as_str());
    match sub {
        Some("push") => {
            let force = args.iter().any(|a| {
                a == "--force"
                    || a == "-f"
                    || a.starts_with("--force-with-lease")
                    || a == "--mirror"
                    || a == "--delete"
            }) || args.iter().any(|a| a.starts_with('+') && a.len() > 1);
            if force {
                find(out, "force-push", "overwrites the remote branch's history");
            }
        }
        Some("reset") if args.iter().any(|a| a == "--hard") => {
            find(out, "git-discard", "discards uncommitted changes")
        }
        Some("clean") if has_flag(args, 'f', "force") => {
            find(out, "git-discard", "deletes untracked files")
        }
        _ => {}
    }
}
