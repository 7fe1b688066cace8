//! Whether the programs a command runs exist on this machine.
//!
//! Small models reach for tools that are often missing (`tree`, `rename`,
//! `pstree` on minimal systems). A command naming a program that is
//! neither a shell builtin nor on `PATH` would only print "command not
//! found", so the model's next idea is tried first (see `cmd::suggest`).

use std::path::Path;

/// Builtins and keywords of bash, zsh, fish and POSIX sh: they run without
/// a file on `PATH`.
const BUILTINS: &[&str] = &[
    ".",
    ":",
    "[",
    "[[",
    "{",
    "}",
    "!",
    "alias",
    "and",
    "autoload",
    "begin",
    "bg",
    "bind",
    "break",
    "builtin",
    "caller",
    "case",
    "cd",
    "command",
    "compgen",
    "complete",
    "contains",
    "continue",
    "coproc",
    "count",
    "declare",
    "dirs",
    "disown",
    "do",
    "done",
    "echo",
    "elif",
    "else",
    "emulate",
    "enable",
    "end",
    "esac",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "fc",
    "fg",
    "fi",
    "for",
    "function",
    "functions",
    "getopts",
    "hash",
    "help",
    "history",
    "if",
    "in",
    "jobs",
    "kill",
    "let",
    "local",
    "logout",
    "mapfile",
    "math",
    "noglob",
    "not",
    "or",
    "popd",
    "print",
    "printf",
    "pushd",
    "pwd",
    "read",
    "readarray",
    "readonly",
    "rehash",
    "return",
    "select",
    "set",
    "set_color",
    "setopt",
    "shift",
    "shopt",
    "source",
    "status",
    "string",
    "suspend",
    "switch",
    "test",
    "then",
    "time",
    "times",
    "trap",
    "true",
    "type",
    "typeset",
    "ulimit",
    "umask",
    "unalias",
    "unset",
    "unsetopt",
    "until",
    "wait",
    "whence",
    "where",
    "which",
    "while",
    "zmodload",
];

/// The programs in `cmd` that this machine cannot run: not a builtin, not
/// a path that exists, not found on `PATH`.
pub fn missing(cmd: &str) -> Vec<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<_> = std::env::split_paths(&path).collect();
    let mut out: Vec<String> = crate::safety::programs(cmd)
        .into_iter()
        .filter(|p| !runnable(p, &dirs))
        .collect();
    out.dedup();
    out
}

fn runnable(program: &str, dirs: &[std::path::PathBuf]) -> bool {
    // Expansions and functions the shell knows better than we do.
    if BUILTINS.contains(&program) || program.is_empty() || program.contains(['$', '`', '(', '=']) {
        return true;
    }
    if program.contains('/') {
        return Path::new(program).exists();
    }
    dirs.iter().any(|d| d.join(program).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_are_named() {
        assert_eq!(
            missing("ls -l | surely-not-a-program-cmdai --x && cd /tmp"),
            ["surely-not-a-program-cmdai"]
        );
        assert_eq!(
            missing("sudo -u bob nope-cmdai-1 x; echo $(nope-cmdai-2)"),
            ["nope-cmdai-1", "nope-cmdai-2"]
        );
        for cmd in [
            "ls -la",
            "for f in *.txt; do echo \"$f\"; done",
            "LANG=C sort f | uniq -c",
            "ulimit -n",
            "$EDITOR notes.txt",
            "/bin/sh -c true",
        ] {
            assert!(missing(cmd).is_empty(), "{cmd}: {:?}", missing(cmd));
        }
        assert_eq!(
            missing("./no-such-script-cmdai.sh"),
            ["./no-such-script-cmdai.sh"]
        );
    }
}
