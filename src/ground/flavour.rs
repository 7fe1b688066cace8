//! BSD, macOS and Perl spellings that GNU tools reject or misread.

use super::{program, rewrite_arg, short_flags, simple_commands, splice};

/// BSD `find -perm +MODE` (any of the bits) is GNU `-perm /MODE`; GNU find
/// rejects the `+` form.
pub(super) fn bsd_perm_to_gnu(cmd: &str) -> String {
    rewrite_arg(cmd, "-perm", |m| {
        m.strip_prefix('+').map(|rest| {
            // A bare symbolic mode (`+x`) means "for anyone".
            let who = if rest.starts_with(['r', 'w', 'x']) {
                "a="
            } else {
                ""
            };
            ("-perm", format!("/{who}{rest}"))
        })
    })
}

/// macOS `sed -i ''` (no backup suffix) is plain `sed -i` on GNU, where the
/// empty word would be read as the script.
pub(super) fn bsd_sed_inplace_to_gnu(cmd: &str) -> String {
    for form in ["sed -i '' ", "sed -i \"\" "] {
        if cmd.contains(form) {
            return cmd.replace(form, "sed -i ");
        }
    }
    cmd.to_string()
}

/// BSD `tail -r` (lines in reverse) is an invalid option to GNU tail; GNU
/// has `tac`.
pub(super) fn bsd_tail_reverse_to_tac(cmd: &str) -> String {
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((at, "tail")) = program(cmd, &toks) else {
            continue;
        };
        let args: Vec<&str> = toks[at + 1..]
            .iter()
            .map(|t| &cmd[t.start..t.end])
            .collect();
        if args.first() == Some(&"-r") && args[1..].iter().all(|a| !a.starts_with('-')) {
            edits.push((toks[at].start, toks[at + 1].end, "tac".to_string()));
        }
    }
    splice(cmd, edits)
}

/// `\d` is Perl's digit class: GNU `grep -E` reads it as a plain `d` (with a
/// warning), so `grep -oE '\d+'` finds letters. `[0-9]` means what was
/// meant in every regex dialect.
pub(super) fn ere_digit_classes(cmd: &str) -> String {
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((at, prog)) = program(cmd, &toks) else {
            continue;
        };
        let words: Vec<&str> = toks.iter().map(|t| &cmd[t.start..t.end]).collect();
        let flag = |c: char, long: &str| {
            words[at + 1..]
                .iter()
                .any(|w| short_flags(w).is_some_and(|f| f.contains(c)) || *w == long)
        };
        let extended = prog == "egrep" || (prog == "grep" && flag('E', "--extended-regexp"));
        if !extended || flag('P', "--perl-regexp") {
            continue;
        }
        // Only quoted words keep their backslashes through the shell.
        for t in toks.iter().skip(at + 1).filter(|t| t.quoted) {
            let word = &cmd[t.start..t.end];
            if word.contains("\\d") || word.contains("\\D") {
                edits.push((t.start, t.end, digit_classes(word)));
            }
        }
    }
    splice(cmd, edits)
}

/// `\d` → `[0-9]` and `\D` → `[^0-9]`, or `0-9` inside a bracket expression.
fn digit_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_bracket = false;
    let mut bracket_len = 0;
    while let Some(c) = chars.next() {
        if in_bracket {
            bracket_len += 1;
        }
        match c {
            '\\' => match chars.next() {
                Some('d') if in_bracket => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some('D') if !in_bracket => out.push_str("[^0-9]"),
                Some(n) => {
                    out.push(c);
                    out.push(n);
                }
                None => out.push(c),
            },
            '[' if !in_bracket => {
                in_bracket = true;
                bracket_len = 0;
                out.push(c);
            }
            // A `]` first in the bracket (or after `^`) is a member.
            ']' if in_bracket && bracket_len > 1 => {
                in_bracket = false;
                out.push(c);
            }
            '^' if in_bracket && bracket_len == 1 => {
                bracket_len = 0;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{adapt, gnu, Target};
    use crate::context::{Shell, Userland};
    use std::path::Path;

    fn bsd(cmd: &str) -> String {
        let t = Target {
            userland: Userland::Bsd,
            shell: Shell::Zsh,
            cwd: Path::new("."),
        };
        adapt(cmd, "x", t)
    }

    #[test]
    fn bsd_perm_becomes_gnu() {
        assert_eq!(
            gnu("find . -type f -perm +x", "executables"),
            "find . -type f -perm /a=x"
        );
        assert_eq!(gnu("find . -perm +111", "x"), "find . -perm /111");
        // GNU forms and quoted text stay as they are.
        assert_eq!(gnu("find . -perm -o=w", "x"), "find . -perm -o=w");
        assert_eq!(gnu("echo '-perm +x'", "x"), "echo '-perm +x'");
        assert_eq!(bsd("find . -perm +x"), "find . -perm +x");
    }

    #[test]
    fn bsd_tail_reverse_becomes_tac() {
        assert_eq!(gnu("tail -r nums.txt", "reverse the lines"), "tac nums.txt");
        assert_eq!(gnu("cat a | tail -r", "reverse"), "cat a | tac");
        for cmd in ["tail -n 5 a", "tail -r -n 5 a", "tac a"] {
            assert_eq!(gnu(cmd, "x"), cmd);
        }
    }

    #[test]
    fn bsd_sed_inplace_becomes_gnu() {
        assert_eq!(gnu("sed -i '' 's/a/b/' f", "x"), "sed -i 's/a/b/' f");
    }

    #[test]
    fn perl_digits_in_extended_grep_become_brackets() {
        assert_eq!(
            gnu(r"grep -oE '\d{1,3}(\.\d{1,3}){3}' log", "ips"),
            r"grep -oE '[0-9]{1,3}(\.[0-9]{1,3}){3}' log"
        );
        assert_eq!(
            gnu(r#"cat f | egrep "[\d.]+\D""#, "x"),
            r#"cat f | egrep "[0-9.]+[^0-9]""#
        );
        // An escaped backslash is a literal backslash then `d`.
        assert_eq!(gnu(r"grep -E 'a\\d'", "x"), r"grep -E 'a\\d'");
        // `[]\d]`: the first `]` is a member, the bracket goes on.
        assert_eq!(gnu(r"grep -E '[]\d]'", "x"), r"grep -E '[]0-9]'");
        // Perl regexes understand `\d`; basic grep and other tools are left alone.
        for cmd in [
            r"grep -P '\d+' f",
            r"grep -oP '\d+' f",
            r"grep '\d' f",
            r"sed -E 's/\d//' f",
        ] {
            assert_eq!(gnu(cmd, "x"), cmd);
        }
        assert_eq!(bsd(r"grep -E '\d' f"), r"grep -E '\d' f");
    }
}
