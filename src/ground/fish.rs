//! Bash habits in a fish command. The worked examples are bash, and the
//! model carries its syntax into fish answers, where it does not parse:
//! `for f in *.txt; do …; done`, `if …; then …; fi`, `echo $?`, `export
//! A=b`, `"${f%.txt}.md"`. Each has one fish spelling.

/// Where a byte of the command stands.
#[derive(Clone, Copy, PartialEq)]
enum Quote {
    None,
    Single,
    Double,
}

/// The quoting state before each byte of `cmd`.
fn quoting(cmd: &str) -> Vec<Quote> {
    let mut out = Vec::with_capacity(cmd.len());
    let mut q = Quote::None;
    let mut escaped = false;
    for c in cmd.bytes() {
        out.push(q);
        if escaped {
            escaped = false;
            continue;
        }
        q = match (q, c) {
            (Quote::Single, b'\'') | (Quote::Double, b'"') => Quote::None,
            (Quote::None, b'\'') => Quote::Single,
            (Quote::None, b'"') => Quote::Double,
            (Quote::None | Quote::Double, b'\\') => {
                escaped = true;
                q
            }
            _ => q,
        };
    }
    out
}

/// Rewrites the bash forms above; anything else stays as written.
pub(super) fn from_bash(cmd: &str) -> String {
    let cmd = keywords(cmd);
    let cmd = expansions(&cmd);
    exports(&cmd)
}

/// `set EDITOR vim` for "set the environment variable EDITOR": in fish a
/// plain `set` makes a shell variable that programs never see; `-gx` puts it
/// in the environment, as `export` does in bash.
pub(super) fn exported(cmd: &str, req: &super::Request) -> String {
    let asked = req.has_any_word(&["environment", "env", "export", "exported"]);
    match cmd.strip_prefix("set ") {
        Some(rest) if asked && !rest.starts_with('-') && !cmd.contains([';', '|', '&']) => {
            format!("set -gx {rest}")
        }
        _ => cmd.to_string(),
    }
}

/// `; do` → `;`, `; then` → `;`, `done` / `fi` → `end`, `elif` → `else if`,
/// `else cmd` → `else; cmd`, for keywords outside quotes, at the start of a
/// command.
fn keywords(cmd: &str) -> String {
    let q = quoting(cmd);
    let bytes = cmd.as_bytes();
    let mut out = String::with_capacity(cmd.len());
    let mut i = 0;
    // Whether the text so far ends a command (start, `;`, `&&`, `||`, `|`, newline).
    let at_command_start = |out: &str| {
        let t = out.trim_end();
        t.is_empty() || t.ends_with([';', '&', '|', '\n'])
    };
    while i < cmd.len() {
        let word_end = cmd[i..]
            .find(|c: char| c.is_whitespace() || c == ';')
            .map_or(cmd.len(), |n| i + n);
        let starts_word = i == 0 || bytes[i - 1].is_ascii_whitespace() || bytes[i - 1] == b';';
        if q[i] == Quote::None && starts_word && word_end > i && at_command_start(&out) {
            let next_word = cmd[word_end..].trim_start();
            let replacement = match &cmd[i..word_end] {
                "do" | "then" => Some(""),
                // fish ends `else` like a statement before its body.
                "else" if !next_word.starts_with("if ") && !next_word.starts_with(';') => {
                    Some("else;")
                }
                "done" | "fi" => Some("end"),
                "elif" => Some("else if"),
                _ => None,
            };
            if let Some(r) = replacement {
                if r.is_empty() {
                    // Drop the keyword and the space after it.
                    let next = cmd[word_end..]
                        .find(|c: char| !c.is_whitespace())
                        .map_or(cmd.len(), |n| word_end + n);
                    i = next;
                } else {
                    out.push_str(r);
                    i = word_end;
                }
                continue;
            }
        }
        let c = cmd[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `$?` → `$status`; `${v%.txt}` → `$(string replace -r -- '\.txt$' '' $v)`
/// (a literal suffix only), outside single quotes.
fn expansions(cmd: &str) -> String {
    let q = quoting(cmd);
    let mut out = String::with_capacity(cmd.len());
    let mut i = 0;
    while i < cmd.len() {
        let rest = &cmd[i..];
        if q[i] != Quote::Single {
            if rest.starts_with("$?") {
                out.push_str("$status");
                i += 2;
                continue;
            }
            if let Some((var, suffix, len)) = suffix_strip(rest) {
                let pattern: String = suffix
                    .chars()
                    .map(|c| {
                        if c == '.' {
                            "\\.".to_string()
                        } else {
                            c.to_string()
                        }
                    })
                    .collect();
                out.push_str(&format!("$(string replace -r -- '{pattern}$' '' ${var})"));
                i += len;
                continue;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// `${name%suffix}` at the start of `s`: (name, suffix, length).
fn suffix_strip(s: &str) -> Option<(&str, &str, usize)> {
    let body = s.strip_prefix("${")?;
    let close = body.find('}')?;
    let (var, suffix) = body[..close].split_once('%')?;
    let plain = |w: &str, extra: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
    };
    (plain(var, "_") && plain(suffix, "._-")).then_some((var, suffix, close + 3))
}

/// `export NAME=value` → `set -gx NAME value`, for a whole simple command.
fn exports(cmd: &str) -> String {
    let q = quoting(cmd);
    let mut out = String::with_capacity(cmd.len());
    let mut start = 0;
    // Split at unquoted `;`, `&&`, `||`, each part rewritten alone.
    let mut i = 0;
    while i <= cmd.len() {
        let sep = if i == cmd.len() {
            Some(0)
        } else if q[i] != Quote::None {
            None
        } else if cmd[i..].starts_with("&&") || cmd[i..].starts_with("||") {
            Some(2)
        } else if cmd[i..].starts_with(';') {
            Some(1)
        } else {
            None
        };
        match sep {
            Some(n) => {
                out.push_str(&export_one(&cmd[start..i]));
                out.push_str(&cmd[i..i + n]);
                i += n.max(1);
                start = i.min(cmd.len());
            }
            None => i += cmd[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    out
}

fn export_one(part: &str) -> String {
    let lead = &part[..part.len() - part.trim_start().len()];
    let trail = &part[part.trim_end().len()..];
    let Some(assignment) = part.trim().strip_prefix("export ") else {
        return part.to_string();
    };
    let Some((name, value)) = assignment.trim().split_once('=') else {
        return part.to_string();
    };
    let name_ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !name_ok || value.contains(char::is_whitespace) && !value.starts_with(['"', '\'']) {
        return part.to_string();
    }
    // PATH-like lists are one word per entry in fish.
    let value = if name.ends_with("PATH") && !value.starts_with(['"', '\'']) {
        value.replace(':', " ")
    } else {
        value.to_string()
    };
    format!("{lead}set -gx {name} {value}{trail}")
}

#[cfg(test)]
mod tests {
    use super::from_bash;

    /// Whether fish (if installed) parses `cmd`.
    fn fish_parses(cmd: &str) -> bool {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let Ok(mut child) = Command::new("fish")
            .args(["--no-config", "-n"])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        else {
            return true;
        };
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{cmd}");
        }
        child.wait().is_ok_and(|s| s.success())
    }

    #[test]
    fn an_environment_variable_is_exported() {
        use crate::context::Shell;
        use crate::ground::{adapt, Target};
        let at = |cmd: &str, req: &str| {
            adapt(
                cmd,
                req,
                Target::gnu(Shell::Fish, std::path::Path::new("/nonexistent-cmdai")),
            )
        };
        assert_eq!(
            at(
                "set EDITOR vim",
                "set the environment variable EDITOR to vim"
            ),
            "set -gx EDITOR vim"
        );
        for (cmd, req) in [
            ("set EDITOR vim", "set a variable EDITOR to vim"),
            ("set -x EDITOR vim", "export EDITOR=vim"),
            (
                "set -gx EDITOR vim",
                "set the environment variable EDITOR to vim",
            ),
        ] {
            assert_eq!(at(cmd, req), cmd, "{req}");
        }
    }

    #[test]
    fn bash_forms_become_fish() {
        for (bash, fish) in [
            (
                "for f in *.txt; do mv -- \"$f\" \"${f%.txt}.md\"; done",
                "for f in *.txt; mv -- \"$f\" \"$(string replace -r -- '\\.txt$' '' $f).md\"; end",
            ),
            (
                "for f in imgs/*.jpeg; do echo $f; done",
                "for f in imgs/*.jpeg; echo $f; end",
            ),
            ("echo $?", "echo $status"),
            (
                "if test -f a; then echo yes; elif test -f b; then echo b; else echo no; fi",
                "if test -f a; echo yes; else if test -f b; echo b; else; echo no; end",
            ),
            ("export EDITOR=vim", "set -gx EDITOR vim"),
            ("export PATH=~/bin:$PATH", "set -gx PATH ~/bin $PATH"),
            (
                "while read -r l; do echo \"$l\"; done < a.txt",
                "while read -r l; echo \"$l\"; end < a.txt",
            ),
        ] {
            assert_eq!(from_bash(bash), fish);
            assert!(fish_parses(fish), "fish rejects {fish}");
        }
        // Already fish, or the words inside quotes and arguments.
        for cmd in [
            "for f in *.txt; echo $f; end",
            "echo 'do this; then done'",
            "grep -w done notes.txt",
            "echo '$?'",
            "set -x EDITOR vim",
            "ls -la | head -n 3",
        ] {
            assert_eq!(from_bash(cmd), cmd);
        }
    }
}
