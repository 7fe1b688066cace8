//! What a command reads: sorted input where a tool needs it, a string where
//! the request gave a string, the file the request meant by its name.

use super::{program, simple_commands, splice, Request, Token};
use crate::context::Shell;
use std::path::Path;

/// `comm` compares two *sorted* files line by line; on unsorted input it
/// warns and prints wrong columns. Sorting each side first is right
/// whether or not the files were sorted, in the shells that can pass a
/// command's output as a file.
pub(super) fn comm_sorted(cmd: &str, shell: Shell) -> String {
    let wrap = |file: &str| match shell {
        Shell::Bash | Shell::Zsh => Some(format!("<(sort {file})")),
        Shell::Fish => Some(format!("(sort {file} | psub)")),
        Shell::Sh => None,
    };
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((at, "comm")) = program(cmd, &toks) else {
            continue;
        };
        let files: Vec<&Token> = toks[at + 1..]
            .iter()
            .filter(|t| t.quoted || !cmd[t.start..t.end].starts_with('-'))
            .collect();
        let plain = |t: &&Token| {
            let w = &cmd[t.start..t.end];
            !w.starts_with(['<', '(', '$', '-']) && !w.contains(['|', '>'])
        };
        if files.len() != 2 || !files.iter().all(plain) {
            continue;
        }
        for t in files {
            match wrap(&cmd[t.start..t.end]) {
                Some(new) => edits.push((t.start, t.end, new)),
                None => return cmd.to_string(),
            }
        }
    }
    splice(cmd, edits)
}

/// The file names `comm` compares, in order, seen through `<(sort f)` and
/// `(sort f | psub)`.
fn comm_operands<'a>(cmd: &'a str, toks: &[Token]) -> Vec<&'a str> {
    toks.iter()
        .map(|t| {
            cmd[t.start..t.end]
                .trim_start_matches(['<', '('])
                .trim_end_matches(')')
        })
        .filter(|w| !w.is_empty() && !w.starts_with('-'))
        .filter(|w| !matches!(*w, "sort" | "psub" | "|"))
        .collect()
}

/// "Lines of A that are not in B" is `comm -23 A B` (or `-13 B A`); the
/// model often writes `-12`, the lines they share. Where the request puts
/// one of the two files right after "not in" (or "only in"), the columns
/// are chosen from the order of the files in the command.
pub(super) fn comm_direction(cmd: &str, req: &Request) -> String {
    let (at, excluded) = ["not in ", "not found in ", "missing from ", "absent from "]
        .iter()
        .find_map(|p| req.text.find(p).map(|i| (i + p.len(), true)))
        .or_else(|| {
            req.text
                .find("only in ")
                .map(|i| (i + "only in ".len(), false))
        })
        .unwrap_or((0, false));
    if at == 0 {
        return cmd.to_string();
    }
    let after = &req.text[at..];
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((p, "comm")) = program(cmd, &toks) else {
            continue;
        };
        let Some(flag) = toks[p + 1..]
            .iter()
            .find(|t| matches!(&cmd[t.start..t.end], "-12" | "-13" | "-23"))
        else {
            continue;
        };
        let files = comm_operands(cmd, &toks[p + 1..]);
        let [a, b] = files[..] else {
            continue;
        };
        let named = |f: &str| {
            let f = f.to_lowercase();
            let base = f.rsplit('/').next().unwrap_or(&f).to_string();
            after.find(&f).or_else(|| after.find(&base))
        };
        // The file the phrase is about: the one named first after it.
        let first_is_named = match (named(a), named(b)) {
            (Some(x), Some(y)) => x < y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => continue,
        };
        // Suppress the columns of the file to leave out: 1 for a, 2 for b.
        let want = match (first_is_named, excluded) {
            (true, true) | (false, false) => "-13",
            (false, true) | (true, false) => "-23",
        };
        if &cmd[flag.start..flag.end] != want {
            edits.push((flag.start, flag.end, want.to_string()));
        }
    }
    splice(cmd, edits)
}

pub(super) const HASHERS: [&str; 9] = [
    "md5sum",
    "sha1sum",
    "sha224sum",
    "sha256sum",
    "sha384sum",
    "sha512sum",
    "b2sum",
    "cksum",
    "base64",
];

/// "The md5 of the string X": `md5sum X` would read a file named X, and
/// `echo X | md5sum` hashes X plus a newline. Both become the hash of the
/// string itself. Only where the request speaks of a string (or quotes X)
/// and no file of that name exists.
pub(super) fn hash_of_a_string(cmd: &str, req: &Request, cwd: &Path) -> String {
    let says_string = req.has_any_word(&["string", "text", "word"]);
    let commands = simple_commands(cmd);
    let mut edits = Vec::new();
    for (i, toks) in commands.iter().enumerate() {
        let Some((at, prog)) = program(cmd, toks) else {
            continue;
        };
        if !HASHERS.contains(&prog) {
            continue;
        }
        let args = &toks[at + 1..];
        let piped_into = i > 0 && {
            let prev = &commands[i - 1];
            prev.last()
                .is_some_and(|p| cmd[p.end..toks[0].start].trim() == "|")
        };
        if let ([t], false) = (args, piped_into) {
            // `md5sum X`: X is the string when no such file exists.
            let word = &cmd[t.start..t.end];
            let text = word.trim_matches(['\'', '"']);
            let named = req.contains(&format!("\"{}\"", text.to_lowercase()))
                || req.contains(&format!("'{}'", text.to_lowercase()))
                || (says_string && req.contains(&text.to_lowercase()));
            if named && !word.starts_with('-') && !cwd.join(text).exists() && !text.contains('\'') {
                edits.push((
                    toks[0].start,
                    t.end,
                    format!(
                        "printf '%s' '{text}' | {}",
                        &cmd[toks[at].start..toks[at].end]
                    ),
                ));
            }
        } else if piped_into && says_string && args.is_empty() {
            // `echo X | md5sum`: the newline is not part of the string.
            let prev = &commands[i - 1];
            if let Some((e, "echo")) = program(cmd, prev) {
                let first = prev.get(e + 1).map(|t| &cmd[t.start..t.end]);
                if first.is_some_and(|w| !w.starts_with('-')) {
                    let at = prev[e].end;
                    edits.push((at, at, " -n".to_string()));
                }
            }
        }
    }
    splice(cmd, edits)
}

/// Programs whose operands are all existing files (for `cp`, `mv`: all but
/// the last; for `chmod`, `chown`: all but the first).
fn file_operands<'t>(prog: &str, ops: &'t [Token]) -> &'t [Token] {
    match prog {
        "rm" | "cat" | "head" | "tail" | "wc" | "stat" | "du" | "file" | "md5sum" | "sha1sum"
        | "sha256sum" | "sha512sum" | "sort" | "nl" | "tac" | "less" | "more" | "gzip" | "diff"
        | "comm" | "ls" | "od" | "xxd" | "uniq" => ops,
        "cp" | "mv" => &ops[..ops.len().saturating_sub(1)],
        "chmod" | "chown" | "chgrp" => ops.get(1..).unwrap_or(&[]),
        _ => &[],
    }
}

/// Most directory entries looked at for one name: a widget must stay fast
/// in a huge directory.
const MAX_SCAN: usize = 5000;

/// The one file in `dir` named `stem.EXT`, as `EXT`.
fn only_extension(dir: &Path, stem: &str) -> Option<String> {
    let mut found = None;
    for entry in std::fs::read_dir(dir).ok()?.take(MAX_SCAN).flatten() {
        let name = entry.file_name();
        let Some(ext) = name
            .to_str()
            .and_then(|n| n.strip_prefix(stem)?.strip_prefix('.'))
        else {
            continue;
        };
        let plain =
            !ext.is_empty() && ext.len() <= 5 && ext.chars().all(|c| c.is_ascii_alphanumeric());
        if !plain || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if found.is_some() {
            return None;
        }
        found = Some(ext.to_string());
    }
    found
}

/// "Remove the files notes1 and notes2": people name files without their
/// extension, and the model copies the name as said. Where no such file
/// exists but exactly one `name.EXT` does, that is the file meant.
pub(super) fn names_without_extension(cmd: &str, cwd: &Path) -> String {
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((at, prog)) = program(cmd, &toks) else {
            continue;
        };
        let ops: Vec<Token> = toks[at + 1..]
            .iter()
            .filter(|t| !cmd[t.start..t.end].starts_with('-'))
            .copied()
            .collect();
        for t in file_operands(prog, &ops) {
            let word = &cmd[t.start..t.end];
            let odd = |c: char| !(c.is_ascii_alphanumeric() || "._-/".contains(c));
            if t.quoted || word.contains(odd) || word.parse::<f64>().is_ok() {
                continue;
            }
            let path = cwd.join(word);
            if path.symlink_metadata().is_ok() {
                continue;
            }
            let (Some(dir), Some(stem)) =
                (path.parent(), path.file_name().and_then(|s| s.to_str()))
            else {
                continue;
            };
            if let Some(ext) = only_extension(dir, stem) {
                edits.push((t.end, t.end, format!(".{ext}")));
            }
        }
    }
    splice(cmd, edits)
}

/// A name in the directory with a space in it (`My Documents`), copied into
/// the command unquoted, is two words to the shell: it gets quoted, and
/// what follows it in the same word (`/`, `/*.txt`) stays as it was.
pub(super) fn names_with_spaces(cmd: &str, cwd: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(cwd) else {
        return cmd.to_string();
    };
    let names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .take(500)
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .filter(|n| n.contains(' ') && !n.contains(['\'', '"', '\\', '\n', '\t']))
        .collect();
    if names.is_empty() {
        return cmd.to_string();
    }
    let toks = super::tokens(cmd);
    let mut edits = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = toks[i];
        let found = names.iter().find(|n| {
            let end = t.start + n.len();
            cmd[t.start..].starts_with(n.as_str())
                && cmd[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| c == '/' || c.is_whitespace() || ";|&)".contains(c))
                && toks[i..]
                    .iter()
                    .take_while(|u| u.start < end)
                    .all(|u| !u.quoted)
        });
        match found {
            Some(n) => {
                let end = t.start + n.len();
                edits.push((t.start, end, format!("'{n}'")));
                i += toks[i..].iter().take_while(|u| u.start < end).count();
            }
            None => i += 1,
        }
    }
    splice(cmd, edits)
}

/// Every name of the directory listing pasted as operands (`du -sh src/
/// docs/ tests/ Cargo.toml README.md`): the prompt shows the listing and
/// small models copy all of it for "each folder" or "everything here". The
/// run becomes `*`, which the shell expands to those very names, and is
/// what a person would type. Only where the listing the model saw was the
/// whole directory (else `*` would name more than it pasted) and every
/// name of it is in the run, in any order.
pub(super) fn whole_listing(cmd: &str, cwd: &Path) -> String {
    let (listing, whole) = crate::context::listing(cwd);
    if listing.len() < 3 || !whole {
        return cmd.to_string();
    }
    let mut edits = Vec::new();
    for run in listed_runs(cmd, &listing, false) {
        let mut seen = vec![false; listing.len()];
        run.iter().for_each(|&(_, n)| seen[n] = true);
        if run.len() == listing.len() && seen.iter().all(|&s| s) {
            edits.push((run[0].0.start, run[run.len() - 1].0.end, "*".to_string()));
        }
    }
    splice(cmd, edits)
}

/// Whether `cmd` copies the directory listing the model was shown into its
/// operands: a run of three or more listed names, three of them names the
/// request does not mention. A small model given the listing sometimes
/// answers with it ("print the 3rd line of Cargo.toml" became `grep -n
/// 'Cargo.toml' benches/ docs/ … Cargo.toml | head -n 3`); the same
/// request without the listing gets `sed -n '3p' Cargo.toml`.
pub fn pastes_listing(cmd: &str, listing: &[String], request: &str) -> bool {
    let names: Vec<&str> = listing.iter().map(|n| n.trim_end_matches('/')).collect();
    let asked: Vec<&str> = request
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '`'))
        .map(|w| w.trim_end_matches(['/', '.', '?', '!', ':']))
        .collect();
    listed_runs(cmd, listing, true).iter().any(|run| {
        let unasked = run
            .iter()
            .filter(|&&(_, n)| !asked.contains(&names[n]))
            .count();
        run.len() >= 3 && unasked >= 3
    })
}

/// The runs of consecutive words of `cmd` that are names of `listing`
/// (unquoted; a directory with or without its `/`; with `anchored`, also
/// after `./` or `~/`), each word with the index of its name.
fn listed_runs(cmd: &str, listing: &[String], anchored: bool) -> Vec<Vec<(Token, usize)>> {
    let names: Vec<&str> = listing.iter().map(|n| n.trim_end_matches('/')).collect();
    let name_at = |t: &Token| {
        let mut word = cmd[t.start..t.end].trim_end_matches('/');
        if anchored {
            word = word
                .strip_prefix("./")
                .or_else(|| word.strip_prefix("~/"))
                .unwrap_or(word);
        }
        (!t.quoted)
            .then(|| names.iter().position(|n| *n == word))
            .flatten()
    };
    let mut runs = Vec::new();
    let mut run = Vec::new();
    for t in super::tokens(cmd) {
        match name_at(&t) {
            Some(n) => run.push((t, n)),
            None if !run.is_empty() => runs.push(std::mem::take(&mut run)),
            None => {}
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::super::{adapt, gnu, Target};
    use crate::context::Shell;
    use std::path::{Path, PathBuf};

    fn in_shell(cmd: &str, shell: Shell) -> String {
        adapt(
            cmd,
            "x",
            Target::gnu(shell, Path::new("/nonexistent-cmdai")),
        )
    }

    #[test]
    fn comm_reads_sorted_input() {
        assert_eq!(
            in_shell("comm -12 a.txt b.txt", Shell::Bash),
            "comm -12 <(sort a.txt) <(sort b.txt)"
        );
        assert_eq!(
            in_shell("comm -23 'x y' b | wc -l", Shell::Zsh),
            "comm -23 <(sort 'x y') <(sort b) | wc -l"
        );
        assert_eq!(
            in_shell("comm -13 a b", Shell::Fish),
            "comm -13 (sort a | psub) (sort b | psub)"
        );
        for cmd in [
            "comm -12 <(sort a) <(sort b)",
            "sort a | comm -12 - b",
            "comm -3 a",
        ] {
            assert_eq!(in_shell(cmd, Shell::Bash), cmd);
        }
        assert_eq!(in_shell("comm -12 a b", Shell::Sh), "comm -12 a b");
    }

    #[test]
    fn the_hash_of_a_string_is_of_the_string() {
        assert_eq!(
            gnu("md5sum \"hello\"", "md5 sum of the string \"hello\""),
            "printf '%s' 'hello' | md5sum"
        );
        assert_eq!(
            gnu("sha256sum abc", "sha256 of the text abc, only the hash"),
            "printf '%s' 'abc' | sha256sum | cut -d' ' -f1"
        );
        assert_eq!(
            gnu("echo 'abc' | md5sum | cut -c1-32", "md5 of the string abc"),
            "echo -n 'abc' | md5sum | cut -c1-32"
        );
        for (cmd, req) in [
            ("md5sum notes.txt", "md5 sum of notes.txt"),
            ("echo abc | md5sum", "md5 of abc with a newline"),
            ("echo -n abc | md5sum", "md5 of the string abc"),
            ("cat f | md5sum", "md5 of the string in f"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_name_without_its_extension_is_the_one_file_it_names() {
        let dir = Dir(std::env::temp_dir().join(format!("cmdai-ground-{}", std::process::id())));
        let sub = dir.0.join("notes");
        std::fs::create_dir_all(&sub).unwrap();
        for f in ["a.txt", "b.txt", "c.md", "c.txt", "d"] {
            std::fs::write(sub.join(f), "x").unwrap();
        }
        let fix = |cmd: &str| adapt(cmd, "x", Target::gnu(Shell::Bash, &dir.0));
        assert_eq!(fix("rm notes/a notes/b"), "rm notes/a.txt notes/b.txt");
        assert_eq!(fix("cp notes/a backup/a"), "cp notes/a.txt backup/a");
        assert_eq!(fix("head -n 5 notes/a"), "head -n 5 notes/a.txt");
        for cmd in [
            "rm notes/c",         // two candidates
            "rm notes/d",         // exists
            "rm notes/x",         // none
            "rm 'notes/a'",       // quoted: left as written
            "mkdir notes/a",      // creates
            "cp notes/d notes/a", // a destination
            "grep a notes/b.txt",
        ] {
            assert_eq!(fix(cmd), cmd);
        }
    }

    #[test]
    fn comm_keeps_the_lines_the_request_wants() {
        for (cmd, req, want) in [
            (
                "comm -12 <(sort a.txt) <(sort b.txt)",
                "print lines in a.txt that are not in b.txt",
                "comm -23 <(sort a.txt) <(sort b.txt)",
            ),
            (
                "comm -12 a.txt b.txt",
                "lines of b.txt missing from a.txt",
                "comm -13 <(sort a.txt) <(sort b.txt)",
            ),
            (
                "comm -13 d/x d/y",
                "names only in d/x",
                "comm -23 <(sort d/x) <(sort d/y)",
            ),
        ] {
            assert_eq!(gnu(cmd, req), want, "{req}");
        }
        for (cmd, req) in [
            ("comm -12 <(sort a) <(sort b)", "lines common to a and b"),
            ("comm -23 <(sort a) <(sort b)", "lines in a not in b"),
            (
                "comm -12 <(sort a) <(sort b)",
                "lines not in the other file",
            ),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }

    #[test]
    fn names_with_spaces_are_quoted() {
        let dir = std::env::temp_dir().join(format!("cmdai-spaces-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("My Documents")).unwrap();
        std::fs::write(dir.join("old notes.txt"), "").unwrap();
        let at = |cmd: &str| adapt(cmd, "anything", Target::gnu(Shell::Bash, &dir));
        assert_eq!(
            at("du -sh My Documents/ build/"),
            "du -sh 'My Documents'/ build/"
        );
        assert_eq!(at("ls My Documents/*.txt"), "ls 'My Documents'/*.txt");
        assert_eq!(
            at("cat old notes.txt | wc -l"),
            "cat 'old notes.txt' | wc -l"
        );
        for cmd in [
            "du -sh 'My Documents'/",
            "du -sh \"My Documents\"",
            "echo My Documentsx",
            "grep 'old notes.txt' log",
        ] {
            assert_eq!(at(cmd), cmd);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pasted_listing_is_told_from_names_the_request_gives() {
        use super::pastes_listing;
        let listing: Vec<String> = [
            "docs/",
            "src/",
            "tests/",
            "Cargo.toml",
            "README.md",
            "a b.txt",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let pasted = |cmd: &str, req: &str| pastes_listing(cmd, &listing, req);
        assert!(pasted(
            "grep -n 'Cargo.toml' docs/ src/ tests/ Cargo.toml README.md | head -n 3",
            "print the 3rd line of Cargo.toml"
        ));
        assert!(pasted("du -sh docs src tests", "disk usage of each folder"));
        assert!(pasted(
            "find ~/docs ~/src ./tests -size +100M",
            "files over 100MB in my home"
        ));
        // Names the request gives, fewer than three, apart, quoted, in paths.
        for (cmd, req) in [
            ("rm docs/ src/ tests/", "delete docs, src and tests/"),
            ("cat Cargo.toml README.md", "show Cargo.toml and the readme"),
            ("cp Cargo.toml docs/ && ls src/", "copy it"),
            ("grep x 'docs' 'src' 'tests'", "x"),
            ("ls docs/a src/b tests/c", "x"),
            ("sed -n '3p' Cargo.toml", "print the 3rd line of Cargo.toml"),
        ] {
            assert!(!pasted(cmd, req), "{cmd}");
        }
    }

    #[test]
    fn the_whole_listing_pasted_becomes_a_glob() {
        let dir = std::env::temp_dir().join(format!("cmdai-listing-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for d in ["docs", "src"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        for f in ["Cargo.toml", "README.md", ".hidden"] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let at = |cmd: &str| adapt(cmd, "anything", Target::gnu(Shell::Bash, &dir));
        assert_eq!(at("du -sh docs/ src/ Cargo.toml README.md"), "du -sh *");
        assert_eq!(
            at("ls -lhS docs/ src/ Cargo.toml README.md | head -n 3"),
            "ls -lhS * | head -n 3"
        );
        assert_eq!(
            at("find docs src README.md Cargo.toml -type f -exec wc -l {} +"),
            "find * -type f -exec wc -l {} +"
        );
        // Some of the names, or names inside paths or quotes: as written.
        for cmd in [
            "du -sh docs/ src/",
            "du -sh docs/* src/* Cargo.toml README.md",
            "du -sh 'docs/' src/ Cargo.toml README.md",
            "ls",
        ] {
            assert_eq!(at(cmd), cmd);
        }
        // A listing cut short: `*` would name more than was pasted.
        for n in 0..30 {
            std::fs::write(dir.join(format!("extra{n}.txt")), "").unwrap();
        }
        let cut = "du -sh docs/ src/ Cargo.toml README.md";
        assert_eq!(at(cut), cut);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
