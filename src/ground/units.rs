//! Units the request named and the command did not use.

use super::{program, rewrite_arg, short_flags, simple_commands, splice, Request};

/// The number of hours or minutes a request names, in minutes: "48 hours",
/// "an hour", "30 minutes", "2 hrs".
fn request_minutes(request: &str) -> Vec<u64> {
    request_amounts(request, |w| match w {
        "hour" | "hours" | "hr" | "hrs" => Some(60),
        "minute" | "minutes" | "min" | "mins" => Some(1),
        _ => None,
    })
}

/// The numbers of days a request names: "2 days", "a day", "the last day".
fn request_days(request: &str) -> Vec<u64> {
    request_amounts(request, |w| matches!(w, "day" | "days").then_some(1))
}

/// Each "N unit" in the request (N a number, or "a"/"an"/"one"/"last"/"past"
/// for one), times what `per` says the unit is worth.
fn request_amounts(request: &str, per: impl Fn(&str) -> Option<u64>) -> Vec<u64> {
    let words: Vec<&str> = request
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let Some(per) = per(w) else {
            continue;
        };
        let n = match i.checked_sub(1).map(|j| words[j]) {
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

/// "In the last 2 days" as `-mmin -480` (the model's arithmetic, seen): a
/// request that names one number of days and no hours or minutes gets
/// `-mtime`, unless the minutes already are those days.
pub(super) fn days_in_minutes(cmd: &str, req: &Request) -> String {
    let days = request_days(&req.text);
    let [n] = days[..] else {
        return cmd.to_string();
    };
    if !request_minutes(&req.text).is_empty() {
        return cmd.to_string();
    }
    rewrite_arg(cmd, "-mmin", |arg| {
        let (sign, m) = signed(arg)?;
        (m != n * 1440).then(|| ("-mtime", format!("{sign}{n}")))
    })
}

/// A `find` time argument split into its sign (`+`, `-` or none) and number.
fn signed(arg: &str) -> Option<(&str, u64)> {
    let (sign, digits) = match arg.strip_prefix(['+', '-']) {
        Some(d) => (&arg[..1], d),
        None => ("", arg),
    };
    Some((sign, digits.parse().ok()?))
}

/// `find -mtime N` counts days and `-mmin N` minutes. When the request
/// speaks of N hours (or minutes) and the model wrote that same N as days,
/// or N hours as N minutes, it copied the number without the unit.
pub(super) fn hours_as_days(cmd: &str, req: &Request) -> String {
    let minutes = request_minutes(&req.text);
    if minutes.is_empty() || req.contains("day") {
        return cmd.to_string();
    }
    let cmd = rewrite_arg(cmd, "-mmin", |arg| {
        let (sign, n) = signed(arg)?;
        if minutes.contains(&n) {
            return None; // the request's own minutes
        }
        let m = minutes.iter().find(|&&m| m == n * 60)?;
        Some(("-mmin", format!("{sign}{m}")))
    });
    rewrite_arg(&cmd, "-mtime", |arg| {
        let (sign, n) = signed(arg)?;
        // The model copied the request's number: N hours or N minutes.
        let m = minutes.iter().find(|&&m| m == n * 60 || m == n)?;
        Some(("-mmin", format!("{sign}{m}")))
    })
}

#[derive(Clone, Copy, PartialEq)]
enum SizeUnit {
    Bytes,
    Kilo,
    Mega,
}

/// "… in megabytes", "in KB", "in bytes".
fn named_unit(req: &Request) -> Option<SizeUnit> {
    req.words
        .windows(2)
        .find_map(|w| match (w[0].as_str(), w[1].as_str()) {
            ("in", "bytes") => Some(SizeUnit::Bytes),
            ("in", "kilobytes" | "kb" | "kib" | "kbytes") => Some(SizeUnit::Kilo),
            ("in", "megabytes" | "mb" | "mib" | "mbytes" | "megs") => Some(SizeUnit::Mega),
            _ => None,
        })
}

/// `du -h`, `df -h`, `free -h` and `ls -lh` pick a unit per line ("4.0K",
/// "1.2G"); a request for sizes in bytes, kilobytes or megabytes wants that
/// unit on every line.
pub(super) fn sizes_in_named_unit(cmd: &str, req: &Request) -> String {
    let Some(unit) = named_unit(req) else {
        return cmd.to_string();
    };
    let mut edits = Vec::new();
    for toks in simple_commands(cmd) {
        let Some((at, prog)) = program(cmd, &toks) else {
            continue;
        };
        // The flag that says `unit`, and the letters that already name one.
        let (flag, unit_letters) = match (prog, unit) {
            ("du", SizeUnit::Bytes) => ("-b", "bkmBg"),
            ("df", SizeUnit::Bytes) => ("-B1", "kmB"),
            ("free", SizeUnit::Bytes) => ("-b", "bkmg"),
            ("ls", SizeUnit::Bytes) => ("", "k"),
            ("du" | "df" | "free", SizeUnit::Kilo) => ("-k", "bkmBg"),
            ("du" | "df" | "free", SizeUnit::Mega) => ("-m", "bkmBg"),
            _ => continue,
        };
        let args = &toks[at + 1..];
        let word = |t: &super::Token| &cmd[t.start..t.end];
        let clusters: Vec<(&super::Token, &str)> = args
            .iter()
            .filter(|t| !t.quoted)
            .filter_map(|t| short_flags(word(t)).map(|f| (t, f)))
            .collect();
        let named = clusters
            .iter()
            .any(|(_, f)| f.contains(|c| unit_letters.contains(c)))
            || args.iter().any(|t| word(t).starts_with("--block-size"));
        if named {
            continue;
        }
        let human = clusters.iter().find(|(_, f)| f.contains('h'));
        match human {
            Some((t, f)) => {
                let rest: String = f.chars().filter(|&c| c != 'h').collect();
                let new = match (rest.is_empty(), flag.len()) {
                    (_, 0) if rest.is_empty() => String::new(),
                    (_, 0) => format!("-{rest}"),
                    (true, _) => flag.to_string(),
                    (false, 2) => format!("-{rest}{}", &flag[1..]),
                    (false, _) => format!("-{rest} {flag}"),
                };
                // An emptied word takes its leading space with it.
                let start = if new.is_empty() {
                    cmd[..t.start].trim_end().len()
                } else {
                    t.start
                };
                edits.push((start, t.end, new));
            }
            // `ls` without `-h` already prints bytes.
            None if prog != "ls" => {
                let end = toks[at].end;
                edits.push((end, end, format!(" {flag}")));
            }
            None => {}
        }
    }
    splice(cmd, edits)
}

#[cfg(test)]
mod tests {
    use super::super::gnu;

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
    fn sizes_come_in_the_unit_asked_for() {
        for (cmd, req, want) in [
            (
                "df -h data",
                "free space on data in megabytes",
                "df -m data",
            ),
            ("df -h .", "space left here in bytes", "df -B1 ."),
            ("du -sh f.txt", "size of f.txt in bytes", "du -sb f.txt"),
            (
                "du -sh d | sort -h",
                "size of d in KB",
                "du -sk d | sort -h",
            ),
            ("du -s d", "disk usage of d in MB", "du -m -s d"),
            ("free -h", "memory in megabytes", "free -m"),
            ("ls -lh f", "size of f in bytes", "ls -l f"),
            ("ls -h", "names, sizes in bytes", "ls"),
        ] {
            assert_eq!(gnu(cmd, req), want, "{req}");
        }
        for (cmd, req) in [
            ("du -sh d", "size of d"),
            ("du -sm d", "size of d in bytes"),
            ("df --block-size=M .", "space in bytes"),
            ("find . -size +1M", "files over 1 MB in the tree"),
            ("du -sh d", "files bigger than 10 megabytes"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }

    #[test]
    fn days_are_mtime() {
        for (cmd, req, want) in [
            (
                "find . -type f -mmin -480",
                "files changed in the last 2 days",
                "find . -type f -mtime -2",
            ),
            (
                "find /tmp -mmin +60 -delete",
                "delete files older than 3 days in /tmp",
                "find /tmp -mtime +3 -delete",
            ),
            (
                "find . -mmin -1440",
                "modified in the last day",
                "find . -mmin -1440",
            ),
        ] {
            assert_eq!(gnu(cmd, req), want, "{req}");
        }
        for (cmd, req) in [
            (
                "find . -mmin -90",
                "in the last day and a half (90 minutes)",
            ),
            ("find . -mmin -30", "between 2 days and 30 minutes ago"),
            ("find . -mmin -30", "the last 30 minutes"),
            ("find . -mtime -2", "files from the last 2 days"),
            ("find . -mmin -60", "from 1 day or 2 days ago"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }
}
