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

/// How an answer copied the directory listing the model was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paste {
    /// A run of three or more listed names, three of them names the
    /// request does not mention: "print the 3rd line of Cargo.toml" became
    /// `grep -n 'Cargo.toml' benches/ docs/ … Cargo.toml | head -n 3`.
    Listing,
    /// One listed folder the request does not refer to at all: in a
    /// directory of many folders "list files by size" became `ls -lhS c3/`.
    /// It may also be the model's right reading of the request ("my
    /// photos" as `Pictures/`), which a word match cannot tell.
    Folder,
}

/// Whether and how `cmd` copies the listing into its operands. Without the
/// listing the same requests get `sed -n '3p' Cargo.toml` and `ls -lhS`.
pub fn pasted_listing(cmd: &str, listing: &[String], request: &str) -> Option<Paste> {
    let names: Vec<&str> = listing.iter().map(|n| n.trim_end_matches('/')).collect();
    let asked: Vec<&str> = request
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '"' | '\'' | '`'))
        .map(|w| w.trim_end_matches(['/', '.', '?', '!', ':']))
        .collect();
    let words = name_words(request);
    let referred = |name: &str| refers_to(&words, name);
    let runs = listed_runs(cmd, listing, true);
    let listing_run = runs.iter().any(|run| {
        let unasked = run
            .iter()
            .filter(|&&(_, n)| !asked.contains(&names[n]))
            .count();
        run.len() >= 3 && unasked >= 3
    });
    let stray_folder = runs.iter().flatten().any(|&(t, n)| {
        // A word still being written may yet become another name.
        let finished = cmd[t.end..].starts_with(char::is_whitespace);
        finished && listing[n].ends_with('/') && !referred(names[n])
    });
    if listing_run {
        Some(Paste::Listing)
    } else if stray_folder {
        Some(Paste::Folder)
    } else {
        None
    }
}

/// The words of `cmd` that name files here, were not in `before`, and do
/// not exist in `dir`: names the model made up. Asked without the listing,
/// "compress the photos folder" gets `tar -czf photos.tar.gz photos` where
/// the listing's `Pictures/` was meant; "list files by size" gets `ls
/// -lhS`, which makes up nothing. Conservative: a word that might be a
/// pattern or a variable counts too.
pub fn made_up_names(cmd: &str, before: &str, dir: &Path) -> Vec<String> {
    let words = |c: &str| -> Vec<String> {
        super::tokens(c)
            .into_iter()
            .filter(|t| !t.quoted)
            .map(|t| c[t.start..t.end].to_string())
            .collect()
    };
    let known = words(before);
    let programs = crate::safety::programs(cmd);
    words(cmd)
        .into_iter()
        .filter(|w| {
            let name_like = w.starts_with(|c: char| c.is_alphabetic() || matches!(c, '~' | '*'))
                && w.chars().all(|c| {
                    c.is_alphanumeric() || matches!(c, '_' | '.' | '~' | '/' | '-' | '*' | '?')
                });
            name_like && !known.contains(w) && !programs.contains(w)
        })
        .filter(|w| !exists(w, dir))
        .collect()
}

/// Whether `word` names something in `dir` (`~/` is home; `*` and `?`
/// match within the last part of the path).
fn exists(word: &str, dir: &Path) -> bool {
    let path = match word.strip_prefix("~/") {
        Some(rest) => match std::env::var_os("HOME") {
            Some(home) => Path::new(&home).join(rest),
            None => return false,
        },
        None => dir.join(word),
    };
    if !word.contains(['*', '?']) {
        return path.exists();
    }
    let (Some(parent), Some(pattern)) = (path.parent(), path.file_name()) else {
        return false;
    };
    let pattern = pattern.to_string_lossy();
    std::fs::read_dir(parent).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| wildcard(pattern.as_bytes(), e.file_name().as_encoded_bytes()))
    })
}

/// Shell wildcard match of `*` and `?` (no brackets).
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| wildcard(rest, &name[i..])),
        Some((b'?', rest)) => !name.is_empty() && wildcard(rest, &name[1..]),
        Some((c, rest)) => name.first() == Some(c) && wildcard(rest, &name[1..]),
    }
}

/// The request's words as names are written: lower case, `.` `_` `-` kept.
fn name_words(request: &str) -> Vec<String> {
    request
        .to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .map(|w| w.trim_matches('.').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether one of `words` refers to `name`: "the downloads folder" to
/// `Downloads/`, "the logs" to `log/`, "the source folder" to `src/`, "the
/// benchmarks" to `benches/`.
fn refers_to(words: &[String], name: &str) -> bool {
    let name = name.to_lowercase();
    words.iter().any(|w| {
        let shared = w
            .chars()
            .zip(name.chars())
            .take_while(|(a, b)| a == b)
            .count();
        *w == name
            || (w.len() >= 3 && name.contains(w.as_str()))
            || (name.len() >= 3 && w.contains(name.as_str()))
            || shared >= 4
            || (shared >= 1 && abbreviates(&name, w))
    })
}

/// "follow server.log" in a directory with `server.log` and `logs/` became
/// `tail -f logs/server.log`: the model put a listed folder before a name
/// the request gives. Where that path does not exist, the name does, and
/// the request names neither the folder nor the path, the name is used as
/// given (not where the name is also an operand of its own: `cp a.txt
/// backup/a.txt`).
pub(super) fn misplaced_names(cmd: &str, request: &str, cwd: &Path) -> String {
    let words = name_words(request);
    let toks = super::tokens(cmd);
    let text = |t: &Token| &cmd[t.start..t.end];
    let mut edits = Vec::new();
    for t in &toks {
        let word = text(t);
        let Some((dir, name)) = word.rsplit_once('/') else {
            continue;
        };
        let plain = |c: char| c.is_alphanumeric() || "._-/".contains(c);
        if t.quoted
            || !word.chars().all(plain)
            || word.starts_with(['/', '.', '-'])
            || name.is_empty()
            || !words.iter().any(|w| *w == name.to_lowercase())
            || words.iter().any(|w| *w == word.to_lowercase())
            || dir.split('/').any(|d| refers_to(&words, d))
            || toks.iter().any(|o| text(o) == name)
            || cwd.join(word).symlink_metadata().is_ok()
            || cwd.join(name).symlink_metadata().is_err()
        {
            continue;
        }
        edits.push((t.start, t.end, name.to_string()));
    }
    splice(cmd, edits)
}

/// Whether `short` is `word` with letters left out (`src` of `source`).
fn abbreviates(short: &str, word: &str) -> bool {
    let mut letters = word.chars();
    short.chars().all(|c| letters.any(|l| l == c))
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
        use super::{pasted_listing, Paste};
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
        let how = |cmd: &str, req: &str| pasted_listing(cmd, &listing, req);
        let pasted = |cmd: &str, req: &str| how(cmd, req).is_some();
        assert!(pasted(
            "grep -n 'Cargo.toml' docs/ src/ tests/ Cargo.toml README.md | head -n 3",
            "print the 3rd line of Cargo.toml"
        ));
        assert!(pasted("du -sh docs src tests", "disk usage of each folder"));
        assert!(pasted(
            "find ~/docs ~/src ./tests -size +100M",
            "files over 100MB in my home"
        ));
        // One folder the request does not refer to, once it is written out.
        assert_eq!(how("du -sh docs src tests", "x"), Some(Paste::Listing));
        assert_eq!(
            how("ls -lhS docs/\n```", "list files by size"),
            Some(Paste::Folder)
        );
        assert_eq!(
            how(
                "find src -type d -empty -delete",
                "delete empty directories"
            ),
            Some(Paste::Folder)
        );
        // Names the request gives or refers to, fewer than three, apart,
        // quoted, in paths, files, a word still being written.
        for (cmd, req) in [
            ("rm docs/ src/ tests/", "delete docs, src and tests/"),
            ("cat Cargo.toml README.md", "show Cargo.toml and the readme"),
            (
                "cp Cargo.toml docs/ && ls src/",
                "copy Cargo.toml into docs, list src",
            ),
            ("du -sh docs/\n```", "how big is the Docs folder"),
            ("ls tests\n```", "show the test files"),
            ("cd src\n```", "go to the source folder"),
            ("ls docs/\n```", "list the documents"),
            ("ls -l src/\n```", "what is in the sources"),
            ("wc -l README.md\n```", "count lines"),
            ("ls -lhS docs", "list files by size"),
            ("grep x 'docs' 'src' 'tests'", "x"),
            ("ls docs/a src/b tests/c", "x"),
            ("sed -n '3p' Cargo.toml", "print the 3rd line of Cargo.toml"),
        ] {
            assert!(!pasted(cmd, req), "{cmd}");
        }
    }

    #[test]
    fn a_name_the_request_gives_is_not_moved_into_a_folder() {
        let dir = std::env::temp_dir().join(format!("cmdai-misplaced-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        std::fs::write(dir.join("server.log"), "").unwrap();
        std::fs::write(dir.join("logs/app.log"), "").unwrap();
        let at = |cmd: &str, req: &str| adapt(cmd, req, Target::gnu(Shell::Bash, &dir));
        assert_eq!(
            at("tail -f logs/server.log", "follow server.log"),
            "tail -f server.log"
        );
        for (cmd, req) in [
            // The path exists, the folder or path is named, the name is a
            // source elsewhere in the command, not a name the request gives.
            ("tail -f logs/app.log", "follow app.log"),
            (
                "touch logs/server.log",
                "create server.log in the logs folder",
            ),
            ("tail logs/server.log", "show logs/server.log"),
            (
                "cp server.log backup/server.log",
                "copy server.log to backup",
            ),
            ("tail -f logs/server.log", "follow the server log"),
        ] {
            assert_eq!(at(cmd, req), cmd, "{req}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn made_up_names_are_the_new_words_that_name_nothing_here() {
        use super::made_up_names;
        let dir = std::env::temp_dir().join(format!("cmdai-made-up-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("Pictures")).unwrap();
        std::fs::write(dir.join("a.jpg"), "").unwrap();
        let made_up = |cmd: &str, before: &str| made_up_names(cmd, before, &dir);
        assert_eq!(
            made_up(
                "tar -czf photos.tar.gz photos",
                "tar -czf photos.tar.gz Pictures"
            ),
            ["photos"]
        );
        assert_eq!(made_up("ls -l *.png", "ls Pictures"), ["*.png"]);
        for (cmd, before) in [
            ("ls -lhS", "ls -lhS c3/"),
            (
                "find . -type d -empty -delete",
                "find c3/ -type d -empty -delete",
            ),
            ("du -sh Pictures | sort -h", "du -sh c3/"),
            ("ls -l *.jpg 'quoted name'", "ls c3/"),
            ("cp a.jpg Pictures/", "cp a.jpg c3/"),
        ] {
            assert!(
                made_up(cmd, before).is_empty(),
                "{cmd}: {:?}",
                made_up(cmd, before)
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
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
