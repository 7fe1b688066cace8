//! Where the result goes: on the screen when that is what was asked, not
//! into a file nobody named.

use super::{program, short_flags, simple_commands, splice, Request, Token};

/// Words that ask for a file to be changed or written.
const WRITES: [&str; 14] = [
    "in place",
    "in-place",
    "inplace",
    "save",
    "overwrite",
    "modify",
    "edit",
    "update",
    "write",
    "store",
    "redirect",
    "record",
    "export",
    "dump",
];

fn asks_to_write(req: &Request) -> bool {
    WRITES.iter().any(|k| req.contains(k))
        || req.near(&["to", "into", "in", "as", "new"], 2, |w| w == "file")
}

/// The text of each unquoted token, paired with the token.
fn texts<'a>(cmd: &'a str, toks: &'a [Token]) -> impl Iterator<Item = (&'a Token, &'a str)> {
    toks.iter()
        .filter(|t| !t.quoted)
        .map(move |t| (t, &cmd[t.start..t.end]))
}

/// Removes the token and the whitespace before it.
fn drop_token(cmd: &str, t: &Token) -> (usize, usize, String) {
    (cmd[..t.start].trim_end().len(), t.end, String::new())
}

/// "… and print the result" wants the text on stdout: `sed -i` would change
/// the file and print nothing. Unless the request also speaks of changing
/// the file itself, `-i` goes (a command that modifies nothing is the safe
/// side of this guess).
pub(super) fn print_is_not_edit(cmd: &str, req: &Request) -> String {
    let shows = req.has_any_word(&[
        "print", "prints", "display", "displays", "show", "shows", "output",
    ]);
    if !shows || asks_to_write(req) {
        return cmd.to_string();
    }
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((at, "sed")) = program(cmd, &toks) else {
            continue;
        };
        // Only among sed's own options, before the script: `sed -n -i 's/…/' f`.
        for (t, w) in texts(cmd, &toks[at + 1..]).take_while(|(_, w)| w.starts_with('-')) {
            if w == "-i" || w == "--in-place" {
                edits.push(drop_token(cmd, t));
            }
        }
    }
    splice(cmd, edits)
}

fn wants_stdout(req: &Request) -> bool {
    [
        "stdout",
        "standard output",
        "to the screen",
        "to the terminal",
        "to the console",
    ]
    .iter()
    .any(|p| req.contains(p))
}

/// "Decompress X to standard output": without `-c` (`-O` for tar, `-p` for
/// unzip) the archive is unpacked onto the disk and nothing is printed.
pub(super) fn decompress_to_stdout(cmd: &str, req: &Request) -> String {
    if !wants_stdout(req) {
        return cmd.to_string();
    }
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((at, prog)) = program(cmd, &toks) else {
            continue;
        };
        let args: Vec<(&Token, &str)> = texts(cmd, &toks[at + 1..]).collect();
        let has = |letters: &str, longs: &[&str]| {
            args.iter().any(|(_, w)| {
                short_flags(w).is_some_and(|f| f.contains(|c| letters.contains(c)))
                    || longs.contains(w)
            })
        };
        let after_prog = toks[at].end;
        match prog {
            "gzip" | "bzip2" | "xz" | "zstd" | "lz4" | "gunzip" | "bunzip2" | "unxz" | "unzstd"
            | "unlz4" => {
                let decompress = prog.contains("un") || has("d", &["--decompress", "--uncompress"]);
                if !decompress || has("c", &["--stdout", "--to-stdout"]) {
                    continue;
                }
                match args
                    .iter()
                    .find(|(_, w)| short_flags(w).is_some_and(|f| f.contains('d')))
                {
                    Some((t, w)) => edits.push((t.start, t.end, format!("{w}c"))),
                    None => edits.push((after_prog, after_prog, " -c".into())),
                }
            }
            "unzip" if !has("pc", &[]) => edits.push((after_prog, after_prog, " -p".into())),
            // "… and list the names": `-v` is wanted, the files too.
            "tar" if !req.has_any_word(&["name", "names", "list", "verbose"]) => {
                // `-xzvf` or the old `xzvf`: the first word holds the mode.
                let Some((t, w)) = args.iter().find(|(_, w)| {
                    let letters = w.strip_prefix('-').unwrap_or(w);
                    !w.starts_with("--")
                        && letters.contains('x')
                        && letters.chars().all(|c| c.is_ascii_alphabetic())
                }) else {
                    continue;
                };
                if w.contains('O') || args.iter().any(|(_, w)| *w == "--to-stdout") {
                    continue;
                }
                // The list of names (`v`) would mix with the contents.
                let mut flags: String = w.chars().filter(|&c| c != 'v').collect();
                match flags.strip_suffix('f') {
                    Some(rest) => flags = format!("{rest}Of"),
                    None => flags.push('O'),
                }
                edits.push((t.start, t.end, flags));
            }
            _ => {}
        }
    }
    splice(cmd, edits)
}

/// Requests whose result is a file, not text to read: "compress the logs",
/// "back up the database", "download the page".
const MAKES_A_FILE: [&str; 17] = [
    "compress", "archive", "backup", "back up", "download", "fetch", "convert", "generate",
    "create", "make", "encrypt", "decrypt", "encode", "decode", "split", "extract", "copy",
];

/// Programs whose output is data for a file (an archive, a download, a
/// dump), never text for a terminal.
const WRITES_DATA: [&str; 16] = [
    "tar",
    "gzip",
    "bzip2",
    "xz",
    "zstd",
    "zip",
    "curl",
    "wget",
    "openssl",
    "gpg",
    "mysqldump",
    "pg_dump",
    "dd",
    "convert",
    "ffmpeg",
    "cpio",
];

/// A `> file` that the request never asked for: the user wanted to see the
/// result, and the redirect would hide it (or overwrite a file). Kept when
/// the request names the file, speaks of saving or writing, or asks for
/// something that is a file by nature, and when the command makes data
/// rather than text.
pub(super) fn unrequested_redirect(cmd: &str, req: &Request) -> String {
    let makes_data = simple_commands(cmd)
        .iter()
        .filter_map(|toks| program(cmd, toks))
        .any(|(_, p)| WRITES_DATA.contains(&p));
    if asks_to_write(req) || MAKES_A_FILE.iter().any(|w| req.contains(w)) || makes_data {
        return cmd.to_string();
    }
    let toks = super::tokens(cmd);
    let mut edits = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let w = &cmd[t.start..t.end];
        if t.quoted && !w.starts_with('>') {
            continue;
        }
        let (target, end) = match w.strip_prefix('>').or_else(|| w.strip_prefix("1>")) {
            Some("") => match toks.get(i + 1) {
                Some(next) => (&cmd[next.start..next.end], next.end),
                None => continue,
            },
            Some(rest) if !rest.starts_with(['>', '&', '|']) => (rest, t.end),
            _ => continue,
        };
        let name = target.trim_matches(['\'', '"']);
        let base = name.rsplit('/').next().unwrap_or(name).to_lowercase();
        // A file the command goes on to use (`> f.tmp && mv f.tmp f`) is
        // part of the work, not a place to hide the result.
        let used = toks
            .iter()
            .any(|o| o.start >= end && &cmd[o.start..o.end] == target);
        if name.starts_with("/dev/") || base.is_empty() || req.contains(&base) || used {
            continue;
        }
        edits.push((cmd[..t.start].trim_end().len(), end, String::new()));
    }
    splice(cmd, edits)
}

/// "Only the hash": `md5sum` and its kin print the hash, two spaces and
/// the file name (`-` for input); the request wants the first field.
pub(super) fn only_the_hash(cmd: &str, req: &Request) -> String {
    let asked = req.near(&["only", "just"], 3, |w| {
        matches!(
            w,
            "hash" | "hashes" | "checksum" | "checksums" | "digest" | "sum"
        )
    }) || req.contains("hash only")
        || req.contains("checksum only");
    let last = simple_commands(cmd).pop();
    let hasher = last
        .as_ref()
        .and_then(|t| program(cmd, t))
        .is_some_and(|(_, p)| super::inputs::HASHERS.contains(&p) && p != "cksum");
    if !asked || !hasher || cmd.contains(['>', '&', ';']) {
        return cmd.to_string();
    }
    format!("{} | cut -d' ' -f1", cmd.trim_end())
}

/// `sort list.txt | uniq > list.txt` empties `list.txt` before `sort` reads
/// it (the shell opens `>` first): the result goes to a new file that then
/// takes the old one's place, which is what "remove duplicate lines from
/// list.txt" meant.
pub(super) fn read_and_truncated(cmd: &str) -> String {
    if cmd.contains([';', '\n']) || cmd.contains("&&") || cmd.contains("||") {
        return cmd.to_string();
    }
    let toks = super::tokens(cmd);
    let text = |t: &Token| &cmd[t.start..t.end];
    let [.., arrow, file] = toks.as_slice() else {
        return cmd.to_string();
    };
    let plain =
        |w: &str| !w.is_empty() && w.chars().all(|c| c.is_alphanumeric() || "._-/".contains(c));
    if text(arrow) != ">" || file.quoted || !plain(text(file)) || file.end != cmd.trim_end().len() {
        return cmd.to_string();
    }
    let target = text(file).trim_start_matches("./");
    let before = &toks[..toks.len() - 2];
    let reads = before.iter().enumerate().any(|(i, t)| {
        i > 0
            && !t.quoted
            && text(t).trim_start_matches("./") == target
            && text(&before[i - 1]) != ">"
    });
    if !reads {
        return cmd.to_string();
    }
    let head = cmd[..arrow.start].trim_end();
    let tmp = format!("{}.tmp", text(file));
    format!("{head} > {tmp} && mv {tmp} {}", text(file))
}

#[cfg(test)]
mod tests {
    use super::super::gnu;

    #[test]
    fn printing_a_result_does_not_edit_the_file() {
        assert_eq!(
            gnu(
                "sed -i '/x/d' notes.txt",
                "delete lines with x from notes.txt and print the result"
            ),
            "sed '/x/d' notes.txt"
        );
        assert_eq!(
            gnu(
                "sed -n -i 's/a/b/p' f.txt",
                "show the lines of f.txt with a replaced by b"
            ),
            "sed -n 's/a/b/p' f.txt"
        );
        // Asked to change the file, or not asked to show anything: unchanged.
        for (cmd, req) in [
            ("sed -i 's/a/b/g' f.txt", "replace a with b in f.txt"),
            (
                "sed -i 's/a/b/g' f.txt",
                "replace a with b in f.txt in place and print it",
            ),
            ("sed -i 's/a/b/g' f.txt", "edit f.txt to use b and show it"),
            ("grep -i x f.txt", "print lines of f.txt with x in any case"),
            ("echo 'sed -i' | cat", "print the text sed -i"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }

    #[test]
    fn decompressing_to_stdout_prints() {
        for (cmd, want) in [
            ("gzip -d logs/a.gz", "gzip -dc logs/a.gz"),
            ("gunzip a.gz | head", "gunzip -c a.gz | head"),
            ("xz --decompress a.xz", "xz -c --decompress a.xz"),
            ("unzip a.zip", "unzip -p a.zip"),
            ("tar -xzvf a.tar.gz | grep x", "tar -xzOf a.tar.gz | grep x"),
            ("tar xjf a.tbz", "tar xjOf a.tbz"),
            ("tar -x -f a.tar", "tar -xO -f a.tar"),
        ] {
            assert_eq!(gnu(cmd, "unpack it to standard output"), want, "{cmd}");
        }
        for cmd in [
            "gzip -dc a.gz",
            "zcat a.gz",
            "gzip a",
            "tar -xzOf a.tgz",
            "tar --to-stdout -xf a.tar",
            "tar -czf a.tgz d",
        ] {
            assert_eq!(gnu(cmd, "write it to stdout"), cmd);
        }
        assert_eq!(gnu("gzip -d a.gz", "decompress a.gz"), "gzip -d a.gz");
    }

    #[test]
    fn redirects_nobody_asked_for_are_dropped() {
        assert_eq!(
            gnu(
                "paste -sd, nums.txt > nums_joined.txt",
                "join the lines of nums.txt with commas"
            ),
            "paste -sd, nums.txt"
        );
        assert_eq!(gnu("sort a >'out file'", "sort the lines of a"), "sort a");
        for (cmd, req) in [
            ("sort a > b", "sort a into b"),
            ("sort a > sorted.txt", "sort a and save it"),
            ("ls > list.txt", "put the listing in a file"),
            ("make 2> errors.log", "build, errors aside"),
            ("cmd > /dev/null", "run cmd quietly"),
            ("echo x >> log", "add x to the log"),
            ("echo '> x'", "print > x"),
            ("tar czf - logs > l.tgz", "pack up the logs"),
            ("curl -s https://e.org > p.html", "get the page at e.org"),
            (
                "sort -u a > b",
                "make a sorted copy of a without duplicates",
            ),
            ("base64 -d x > y", "decode x"),
            (
                "sed '/^$/d' n.txt > n.tmp && mv n.tmp n.txt",
                "delete the empty lines of n.txt",
            ),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }

    #[test]
    fn only_the_hash_is_the_first_field() {
        assert_eq!(
            gnu(
                "printf '%s' 'abc' | md5sum",
                "md5 of the string abc, print only the hash"
            ),
            "printf '%s' 'abc' | md5sum | cut -d' ' -f1"
        );
        assert_eq!(
            gnu("sha256sum a.iso", "just the sha256 checksum of a.iso"),
            "sha256sum a.iso | cut -d' ' -f1"
        );
        for (cmd, req) in [
            ("sha256sum a.iso", "the sha256 checksum of a.iso"),
            ("md5sum a | cut -d' ' -f1", "only the hash of a"),
            ("md5sum a > sums.txt", "save only the hash of a to sums.txt"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }

    #[test]
    fn a_file_read_and_truncated_is_written_through_a_new_one() {
        assert_eq!(
            gnu(
                "sort list.txt | uniq > list.txt",
                "remove duplicate lines from list.txt"
            ),
            "sort list.txt | uniq > list.txt.tmp && mv list.txt.tmp list.txt"
        );
        assert_eq!(
            gnu(
                "grep -v '^$' notes.txt > ./notes.txt",
                "delete the empty lines of notes.txt"
            ),
            "grep -v '^$' notes.txt > ./notes.txt.tmp && mv ./notes.txt.tmp ./notes.txt"
        );
        for cmd in [
            "sort list.txt | uniq > sorted.txt",
            "sort list.txt >> list.txt",
            "echo list.txt > 'list.txt'",
            "sort a > a; cat a",
        ] {
            assert_eq!(gnu(cmd, "save the result in a file"), cmd);
        }
    }
}
