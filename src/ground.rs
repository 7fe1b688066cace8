//! Adapting a generated command to the machine it will run on, where the
//! model's habit is known to be wrong and the fix is certain.
//!
//! Small models mix BSD and GNU flags (they learned from both), read
//! "48 hours" as `-mtime 48` (days), and edit a file in place when asked to
//! print the edited text. Each rewrite here is exact: it changes a flag to
//! the spelling with the same meaning on this system, to the unit the
//! request named, or drops `sed -i` where the request asks to see a result
//! and never to change the file; nothing else.

use crate::context::Userland;

/// The command with known-wrong spellings fixed for `userland`, given the
/// request it answers.
pub fn adapt(cmd: &str, request: &str, userland: Userland) -> String {
    let mut cmd = cmd.to_string();
    if userland == Userland::Gnu {
        cmd = bsd_perm_to_gnu(&cmd);
        cmd = bsd_sed_inplace_to_gnu(&cmd);
    }
    let cmd = hours_as_days(&cmd, request);
    print_is_not_edit(&cmd, request)
}

/// Byte ranges of the whitespace-separated words outside quotes, so that
/// rewrites never touch quoted text.
fn words(cmd: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut quoted_word = false;
    for (i, c) in cmd.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => escaped = true,
            (None, '\'' | '"') => {
                quote = Some(c);
                quoted_word = true;
                start.get_or_insert(i);
            }
            (Some(q), _) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if let Some(s) = start.take() {
                    if !quoted_word {
                        out.push((s, i));
                    }
                }
                quoted_word = false;
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let (Some(s), None, false) = (start, quote, quoted_word) {
        out.push((s, cmd.len()));
    }
    out
}

/// Rewrites each unquoted `flag` and the word after it with `f`, where it
/// returns the new pair.
fn rewrite_arg(
    cmd: &str,
    flag: &str,
    f: impl Fn(&str) -> Option<(&'static str, String)>,
) -> String {
    let ws = words(cmd);
    let mut out = cmd.to_string();
    // Right to left, so earlier byte offsets stay valid.
    for pair in ws.windows(2).rev() {
        let ((a0, a1), (b0, b1)) = (pair[0], pair[1]);
        if &cmd[a0..a1] == flag {
            if let Some((new_flag, new_arg)) = f(&cmd[b0..b1]) {
                out.replace_range(a0..b1, &format!("{new_flag}{}{new_arg}", &cmd[a1..b0]));
            }
        }
    }
    out
}

/// BSD `find -perm +MODE` (any of the bits) is GNU `-perm /MODE`; GNU find
/// rejects the `+` form.
fn bsd_perm_to_gnu(cmd: &str) -> String {
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
fn bsd_sed_inplace_to_gnu(cmd: &str) -> String {
    for form in ["sed -i '' ", "sed -i \"\" "] {
        if cmd.contains(form) {
            return cmd.replace(form, "sed -i ");
        }
    }
    cmd.to_string()
}

/// The number of hours or minutes a request names, in minutes: "48 hours",
/// "an hour", "30 minutes", "2 hrs".
fn request_minutes(request: &str) -> Vec<u64> {
    let words: Vec<String> = request
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let per = match w.as_str() {
            "hour" | "hours" | "hr" | "hrs" => 60,
            "minute" | "minutes" | "min" | "mins" => 1,
            _ => continue,
        };
        let n = match i.checked_sub(1).map(|j| words[j].as_str()) {
            Some("an" | "a" | "one" | "last" | "past") => Some(1),
            Some(n) => n.parse::<u64>().ok(),
            None => None,
        };
        if let Some(n) = n {
            out.push(n * per);
        }
    }
    out
}

/// `find -mtime N` counts days and `-mmin N` minutes. When the request
/// speaks of N hours (or minutes) and the model wrote that same N as days,
/// or N hours as N minutes, it copied the number without the unit.
fn hours_as_days(cmd: &str, request: &str) -> String {
    let minutes = request_minutes(request);
    if minutes.is_empty() || request.to_lowercase().contains("day") {
        return cmd.to_string();
    }
    let cmd = rewrite_arg(cmd, "-mmin", |arg| {
        let (sign, digits) = match arg.strip_prefix(['+', '-']) {
            Some(d) => (&arg[..1], d),
            None => ("", arg),
        };
        let n: u64 = digits.parse().ok()?;
        if minutes.contains(&n) {
            return None; // the request's own minutes
        }
        let m = minutes.iter().find(|&&m| m == n * 60)?;
        Some(("-mmin", format!("{sign}{m}")))
    });
    rewrite_arg(&cmd, "-mtime", |arg| {
        let (sign, digits) = match arg.strip_prefix(['+', '-']) {
            Some(d) => (&arg[..1], d),
            None => ("", arg),
        };
        let n: u64 = digits.parse().ok()?;
        // The model copied the request's number: N hours or N minutes.
        let m = minutes.iter().find(|&&m| m == n * 60 || m == n)?;
        Some(("-mmin", format!("{sign}{m}")))
    })
}

/// "… and print the result" wants the text on stdout: `sed -i` would change
/// the file and print nothing. Unless the request also speaks of changing
/// the file itself, `-i` goes (a command that modifies nothing is the safe
/// side of this guess).
fn print_is_not_edit(cmd: &str, request: &str) -> String {
    let req = request.to_lowercase();
    let req_words: Vec<&str> = req
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .collect();
    let shows = req_words.iter().any(|w| {
        matches!(
            *w,
            "print" | "prints" | "display" | "displays" | "show" | "shows" | "output"
        )
    });
    let edits = [
        "in place",
        "in-place",
        "inplace",
        "save",
        "overwrite",
        "modify",
        "edit",
        "update",
        "write",
    ]
    .iter()
    .any(|k| req.contains(k));
    if !shows || edits {
        return cmd.to_string();
    }
    let ws = words(cmd);
    let mut out = cmd.to_string();
    // Right to left, so earlier byte offsets stay valid.
    for (i, &(a, b)) in ws.iter().enumerate().rev() {
        let flag = &cmd[a..b];
        if flag != "-i" && flag != "--in-place" {
            continue;
        }
        // Only among sed's own options: `sed -n -i 's/…/' f`.
        let opens_sed = ws[..i]
            .iter()
            .rev()
            .map(|&(a, b)| &cmd[a..b])
            .take_while(|w| w.starts_with('-'))
            .count();
        if i > opens_sed && &cmd[ws[i - 1 - opens_sed].0..ws[i - 1 - opens_sed].1] == "sed" {
            let end = b + cmd[b..].len() - cmd[b..].trim_start().len();
            out.replace_range(a..end, "");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gnu(cmd: &str, request: &str) -> String {
        adapt(cmd, request, Userland::Gnu)
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
        assert_eq!(
            adapt("find . -perm +x", "x", Userland::Bsd),
            "find . -perm +x"
        );
    }

    #[test]
    fn bsd_sed_inplace_becomes_gnu() {
        assert_eq!(gnu("sed -i '' 's/a/b/' f", "x"), "sed -i 's/a/b/' f");
    }

    #[test]
    fn hours_written_as_days_become_minutes() {
        assert_eq!(
            gnu("find logs -type f -mtime +48", "files older than 48 hours"),
            "find logs -type f -mmin +2880"
        );
        assert_eq!(
            gnu("find . -mtime -1", "changed in the last hour"),
            "find . -mmin -60"
        );
        assert_eq!(
            gnu("find . -mtime -30", "modified in the past 30 minutes"),
            "find . -mmin -30"
        );
        // Right already, or days named: unchanged.
        assert_eq!(
            gnu("find . -mtime -1", "modified in the last 24 hours"),
            "find . -mtime -1"
        );
        assert_eq!(
            gnu("find . -mmin -120", "modified in the last 2 hours"),
            "find . -mmin -120"
        );
        assert_eq!(
            gnu("find . -mtime +2", "older than 2 days and 3 hours"),
            "find . -mtime +2"
        );
        // Hours written as minutes.
        assert_eq!(
            gnu(
                "find docs -type f -mmin -12",
                "files changed in the last 12 hours"
            ),
            "find docs -type f -mmin -720"
        );
        assert_eq!(
            gnu("find . -mmin -90", "modified in the last 90 minutes"),
            "find . -mmin -90"
        );
        assert_eq!(
            gnu("find . -mmin -60", "in the last 60 minutes or 1 hour"),
            "find . -mmin -60"
        );
    }

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
    fn words_skip_quoted_text() {
        let cmd = r#"grep -e "-mtime 4" x 'a b' c\ d"#;
        let ws: Vec<&str> = words(cmd).iter().map(|&(a, b)| &cmd[a..b]).collect();
        assert_eq!(ws, ["grep", "-e", "x", r"c\ d"]);
    }
}
