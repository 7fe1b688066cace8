//! `find` expressions that do not say what the request said.

use super::{program, rewrite_arg, simple_commands, splice, Request, Token};

/// `-perm -MODE` needs all the bits, `-perm /MODE` any of them; models pick
/// either. When the request says "all … bits" or "any … bits", the prefix
/// follows it.
pub(super) fn perm_all_or_any(cmd: &str, req: &Request) -> String {
    let bits = req.has_any_word(&["bit", "bits"]);
    let all = bits && req.has_word("all") && !req.has_word("any");
    let any = bits && req.has_word("any") && !req.has_word("all");
    if !all && !any {
        return cmd.to_string();
    }
    rewrite_arg(cmd, "-perm", |m| {
        let rest = m.strip_prefix(if all { '/' } else { '-' })?;
        Some(("-perm", format!("{}{rest}", if all { '-' } else { '/' })))
    })
}

/// How a `find` primary is used: what it is and how many words follow it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Primary {
    Test,
    Action,
    Or,
    Not,
    /// `-a`, `-and` and global options (`-maxdepth 1`): they bind to nothing.
    Other,
}

/// The kind and argument count of `word`, or `None` for a primary this table
/// does not know (the expression is then left alone).
fn primary(word: &str) -> Option<(Primary, usize)> {
    use Primary::*;
    Some(match word {
        "-o" | "-or" => (Or, 0),
        "!" | "\\!" | "-not" => (Not, 0),
        "-a" | "-and" => (Other, 0),
        "-name" | "-iname" | "-path" | "-ipath" | "-wholename" | "-iwholename" | "-regex"
        | "-iregex" | "-type" | "-xtype" | "-size" | "-mtime" | "-mmin" | "-atime" | "-amin"
        | "-ctime" | "-cmin" | "-newer" | "-perm" | "-user" | "-group" | "-uid" | "-gid"
        | "-links" | "-inum" | "-samefile" | "-lname" | "-ilname" | "-used" | "-fstype" => {
            (Test, 1)
        }
        "-empty" | "-executable" | "-readable" | "-writable" | "-nouser" | "-nogroup" | "-true"
        | "-false" => (Test, 0),
        "-maxdepth" | "-mindepth" | "-regextype" => (Other, 1),
        "-depth" | "-xdev" | "-mount" | "-follow" | "-noleaf" => (Other, 0),
        "-print" | "-print0" | "-delete" | "-ls" | "-prune" | "-quit" => (Action, 0),
        "-printf" | "-fprint" | "-fprint0" | "-fls" => (Action, 1),
        "-fprintf" => (Action, 2),
        // -exec and friends run to `;` or `+`: counted by the caller.
        "-exec" | "-execdir" | "-ok" | "-okdir" => (Action, usize::MAX),
        _ => return None,
    })
}

/// One primary of a parsed expression: its kind and token range.
struct Unit {
    kind: Primary,
    first: usize,
    last: usize,
}

/// The expression of the `find` in `toks` (which starts at `find`), or
/// `None` when it uses parentheses or something this parser does not know.
fn expression(cmd: &str, toks: &[Token]) -> Option<(usize, Vec<Unit>)> {
    let text = |i: usize| &cmd[toks[i].start..toks[i].end];
    let start = (1..toks.len())
        .find(|&i| text(i).starts_with('-') || matches!(text(i), "!" | "\\!"))
        .unwrap_or(toks.len());
    let mut units = Vec::new();
    let mut i = start;
    while i < toks.len() {
        let (kind, args) = primary(text(i))?;
        let last = if args == usize::MAX {
            (i + 1..toks.len()).find(|&j| matches!(text(j), "\\;" | "';'" | "\";\"" | "+"))?
        } else {
            i + args
        };
        if last >= toks.len() {
            return None;
        }
        units.push(Unit {
            kind,
            first: i,
            last,
        });
        i = last + 1;
    }
    Some((start, units))
}

/// In `find A -o B -exec …` the action binds to `B` alone, and an explicit
/// action turns off the implicit `-print` for `A`: whatever `A` matches is
/// silently ignored. Nobody writes that on purpose, so each chain of `-o`
/// alternatives is put in parentheses when an action follows it.
pub(super) fn group_alternatives(cmd: &str) -> String {
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((at, "find")) = program(cmd, &toks) else {
            continue;
        };
        let Some((_, units)) = expression(cmd, &toks[at..]) else {
            continue;
        };
        let kinds: Vec<Primary> = units.iter().map(|u| u.kind).collect();
        let Some(last_or) = kinds.iter().rposition(|k| *k == Primary::Or) else {
            continue;
        };
        let acts_after = kinds[last_or..].contains(&Primary::Action);
        let acts_before = kinds[..last_or].contains(&Primary::Action);
        // `-prune -o …` and `… -print -o … -print` already say what they mean.
        if !acts_after || acts_before {
            continue;
        }
        // Operand of an `-o`: the test next to it, with its `!` if negated.
        let operand = |j: usize, step: isize| -> Option<usize> {
            let k = j.checked_add_signed(step)?;
            match kinds.get(k)? {
                Primary::Test if step < 0 && k > 0 && kinds[k - 1] == Primary::Not => Some(k - 1),
                Primary::Test => Some(k),
                Primary::Not if step > 0 && kinds.get(k + 1) == Some(&Primary::Test) => Some(k + 1),
                _ => None,
            }
        };
        let mut chains: Vec<(usize, usize)> = Vec::new();
        let mut ok = true;
        for (j, k) in kinds.iter().enumerate() {
            if *k != Primary::Or {
                continue;
            }
            let (Some(l), Some(r)) = (operand(j, -1), operand(j, 1)) else {
                ok = false;
                break;
            };
            match chains.last_mut() {
                Some(c) if c.1 + 1 == j => c.1 = r,
                _ => chains.push((l, r)),
            }
        }
        if !ok {
            continue;
        }
        for (l, r) in chains {
            let (a, b) = (
                toks[at + units[l].first].start,
                toks[at + units[r].last].end,
            );
            edits.push((a, b, format!("\\( {} \\)", &cmd[a..b])));
        }
    }
    splice(cmd, edits)
}

/// Whether the request keeps the search out of subdirectories: "not in its
/// subdirectories", "directly in X", "non-recursively".
fn wants_top_level(req: &Request) -> bool {
    // All of them ("subdirectories"), not one by name ("except subdirectory tmp").
    let sub = |w: &str| {
        ["subdir", "sub-dir", "subfolder", "sub-folder"]
            .iter()
            .any(|p| w.starts_with(p))
            && w.ends_with('s')
    };
    let negation = [
        "not",
        "excluding",
        "exclude",
        "without",
        "no",
        "ignoring",
        "ignore",
        "except",
    ];
    req.near(&negation, 5, sub)
        || req.near(&["directly"], 1, |w| {
            matches!(w, "in" | "inside" | "under" | "within")
        })
        || req.has_any_word(&["non-recursive", "non-recursively", "nonrecursive"])
        || req.near(&["not", "without", "no"], 1, |w| w.starts_with("recurs"))
        || req.contains("in the current directory only")
        || only_in_a_directory(req)
}

/// "… only in the logs directory", "only in this folder".
fn only_in_a_directory(req: &Request) -> bool {
    let w = &req.words;
    (0..w.len().saturating_sub(2)).any(|i| {
        w[i] == "only"
            && w[i + 1] == "in"
            && w[i + 2..]
                .iter()
                .take(3)
                .any(|x| matches!(x.as_str(), "directory" | "folder" | "dir"))
    })
}

/// "… in X but not in its subdirectories" is `-maxdepth 1`, which models
/// often leave out or imitate with `-path` patterns that miss.
pub(super) fn top_level_only(cmd: &str, req: &Request) -> String {
    if !wants_top_level(req) {
        return cmd.to_string();
    }
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((at, "find")) = program(cmd, &toks) else {
            continue;
        };
        let toks = &toks[at..];
        if toks
            .iter()
            .any(|t| matches!(&cmd[t.start..t.end], "-maxdepth" | "-mindepth"))
        {
            continue;
        }
        let Some((start, _)) = expression(cmd, toks) else {
            continue;
        };
        // GNU find wants global options before tests: right after the paths.
        let at = toks[start - 1].end;
        edits.push((at, at, " -maxdepth 1".to_string()));
    }
    splice(cmd, edits)
}

#[cfg(test)]
mod tests {
    use super::super::gnu;

    #[test]
    fn all_or_any_bits_follow_the_request() {
        assert_eq!(
            gnu(
                "find p -type f -perm /a=x",
                "files with all executable bits set"
            ),
            "find p -type f -perm -a=x"
        );
        assert_eq!(
            gnu(
                "find p -perm -111",
                "files with any of the execute bits set"
            ),
            "find p -perm /111"
        );
        for (cmd, req) in [
            ("find p -perm /a=x", "executable files"),
            ("find p -perm -g=w", "group-writable files, all of them"),
            ("find p -perm 644", "all files with mode bits 644"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }

    #[test]
    fn alternatives_before_an_action_are_grouped() {
        assert_eq!(
            gnu(
                "find s -type f -name 'a.out' -o -name '*.o' -mtime -30 -exec rm {} \\;",
                "x"
            ),
            "find s -type f \\( -name 'a.out' -o -name '*.o' \\) -mtime -30 -exec rm {} \\;"
        );
        assert_eq!(
            gnu(
                "find t -name '.a' -o -name '._*' -or -iname x -exec rm -rf {} +",
                "x"
            ),
            "find t \\( -name '.a' -o -name '._*' -or -iname x \\) -exec rm -rf {} +"
        );
        assert_eq!(
            gnu("find . ! -name a -o -name b -delete | wc -l", "x"),
            "find . \\( ! -name a -o -name b \\) -delete | wc -l"
        );
        assert_eq!(
            gnu("find . -name a -o -name b -print0 | xargs -0 ls", "x"),
            "find . \\( -name a -o -name b \\) -print0 | xargs -0 ls"
        );
        for cmd in [
            // No action: the implicit -print covers every branch.
            "find . -name a -o -name b",
            // Already grouped, or a prune idiom, or a print in each branch.
            "find . \\( -name a -o -name b \\) -delete",
            "find . -path ./x -prune -o -name '*.c' -print",
            "find . -name a -print -o -name b -print",
            // Unknown primaries: left alone.
            "find . -name a -o -newermt 2024-01-01 -delete",
            "echo -name a -o -name b -delete",
        ] {
            assert_eq!(gnu(cmd, "x"), cmd);
        }
    }

    #[test]
    fn not_in_subdirectories_is_maxdepth_one() {
        for req in [
            "remove the .txt files in system but not in its subdirectories",
            "txt files directly in the workspace directory",
            "list the logs in /var/log non-recursively",
            "files in docs, excluding subfolders",
            "delete empty files only in the current directory",
            "the five largest files only in the data folder",
        ] {
            assert_eq!(
                gnu("find system -type f -name '*.txt' -delete", req),
                "find system -maxdepth 1 -type f -name '*.txt' -delete",
                "{req}"
            );
        }
        assert_eq!(
            gnu("find -name '*.log' | wc -l", "count logs, not recursively"),
            "find -maxdepth 1 -name '*.log' | wc -l"
        );
        for (cmd, req) in [
            ("find a -name x", "find x in a and its subdirectories"),
            ("find a -maxdepth 2 -name x", "x directly in a"),
            ("find a -mindepth 1 -name x", "x not in subdirectories"),
            ("ls a", "files directly in a"),
            ("find . -name '*.c'", "c files, except in subdirectory tmp"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }
}
