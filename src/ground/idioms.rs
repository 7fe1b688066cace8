//! Idioms a small model writes that read right and do something else.

use super::{program, simple_commands, Request, Token};

/// `lsof … | awk '{print $2}'` prints lsof's header word `PID` with the
/// pids (`kill PID` then fails); `lsof -t` prints the pids alone.
pub(super) fn lsof_pids(cmd: &str) -> String {
    let cmds = simple_commands(cmd);
    for pair in cmds.windows(2) {
        let (lsof, awk) = (&pair[0], &pair[1]);
        let (Some((at, "lsof")), Some((_, "awk"))) = (program(cmd, lsof), program(cmd, awk)) else {
            continue;
        };
        let script = awk.last().map(|t| &cmd[t.start..t.end]);
        let prints_pid = matches!(script, Some("'{print $2}'" | "'{ print $2 }'"));
        let has_t = lsof[at + 1..]
            .iter()
            .any(|t| super::short_flags(&cmd[t.start..t.end]).is_some_and(|f| f.contains('t')));
        if awk.len() != 2 || !prints_pid || has_t || !cmd[lsof[at].end..awk[0].start].contains('|')
        {
            continue;
        }
        // `lsof -t ARGS`, then whatever followed the awk.
        let after = &cmd[awk[1].end..];
        return format!(
            "{} -t{}{after}",
            &cmd[..lsof[at].end],
            &cmd[lsof[at].end..lsof.last().map_or(lsof[at].end, |t| t.end)]
        );
    }
    cmd.to_string()
}

/// `grep -o '\w' f | wc -l` counts word *characters*, and `wc -l f`
/// lines; for "how many words" it is `wc -w`.
pub(super) fn word_count(cmd: &str, req: &Request) -> String {
    if !req.has_any_word(&["word", "words"]) {
        return cmd.to_string();
    }
    let cmds = simple_commands(cmd);
    if let [wc] = &cmds[..] {
        let words: Vec<&str> = wc.iter().map(|t| &cmd[t.start..t.end]).collect();
        let lines = req.has_any_word(&["line", "lines", "row", "rows", "entries"]);
        // "words" as a word, not inside a name such as `words.txt`.
        let asks_words = req.text.split_whitespace().any(|w| {
            !w.contains(['.', '/', '_'])
                && matches!(
                    w.trim_matches(|c: char| !c.is_alphanumeric()),
                    "word" | "words"
                )
        });
        if !asks_words {
            return cmd.to_string();
        }
        return match words.as_slice() {
            ["wc", "-l", rest @ ..] if !lines && rest.iter().all(|a| !a.starts_with('-')) => {
                format!("wc -w{}", &cmd[wc[1].end..])
            }
            _ => cmd.to_string(),
        };
    }
    let [grep, wc] = &cmds[..] else {
        return cmd.to_string();
    };
    let text = |t: &Token| &cmd[t.start..t.end];
    let (Some((at, "grep")), Some((_, "wc"))) = (program(cmd, grep), program(cmd, wc)) else {
        return cmd.to_string();
    };
    let args: Vec<&str> = grep[at + 1..].iter().map(text).collect();
    let only = args.iter().any(|a| {
        super::short_flags(a)
            .is_some_and(|f| f.contains('o') && f.chars().all(|c| "oiE".contains(c)))
    });
    let letters = |a: &&str| matches!(*a, r"'\w'" | r#""\w""# | r"\\w");
    let rest: Vec<&&str> = args
        .iter()
        .filter(|a| !a.starts_with('-') && !letters(a))
        .collect();
    let counts_lines = wc.len() == 2 && text(&wc[1]) == "-l";
    match (only, args.iter().any(letters), &rest[..], counts_lines) {
        (true, true, [file], true) => format!("wc -w < {file}"),
        _ => cmd.to_string(),
    }
}

/// Following a file with `tail`: `tail -f f | tail -n 20` prints nothing
/// (the second `tail` waits for an end that never comes), and a request for
/// "the last 50 lines … and follow" or "follow … from the last 5 lines"
/// lost one of its two halves (`tail -f f`, `tail -n 5 f`). One `tail -n N
/// -f f` does both.
pub(super) fn tail_follow(cmd: &str, req: &Request) -> String {
    let cmds = simple_commands(cmd);
    let text = |t: &Token| &cmd[t.start..t.end];
    let args = |toks: &[Token]| -> Option<Vec<String>> {
        match program(cmd, toks) {
            Some((at, "tail")) => {
                Some(toks[at + 1..].iter().map(|t| text(t).to_string()).collect())
            }
            _ => None,
        }
    };
    let follows = |a: &[String]| a.iter().any(|a| a == "-f" || a == "-F" || a == "--follow");
    let count = |a: &[String]| -> Option<String> {
        a.iter().enumerate().find_map(|(i, w)| match w.as_str() {
            "-n" => a.get(i + 1).cloned(),
            _ => w
                .strip_prefix("-n")
                .filter(|n| n.parse::<u64>().is_ok())
                .map(str::to_string),
        })
    };
    let files = |a: &[String]| -> Vec<String> {
        let mut skip = false;
        a.iter()
            .filter(|w| {
                let s = skip;
                skip = w.as_str() == "-n";
                !s && !w.starts_with('-')
            })
            .cloned()
            .collect()
    };
    let whole = |n: &str, file: &str| format!("tail -n {n} -f {file}");
    match &cmds[..] {
        // `tail -f f | tail -n N`
        [first, second] if cmd.matches('|').count() == 1 && !cmd.contains("||") => {
            let (Some(a), Some(b)) = (args(first), args(second)) else {
                return cmd.to_string();
            };
            match (
                files(&a).as_slice(),
                count(&b),
                follows(&a),
                files(&b).is_empty(),
            ) {
                ([file], Some(n), true, true) if count(&a).is_none() => whole(&n, file),
                _ => cmd.to_string(),
            }
        }
        [only] if !cmd.contains(['|', ';', '&']) => {
            let Some(a) = args(only) else {
                return cmd.to_string();
            };
            let names = files(&a);
            let [file] = names.as_slice() else {
                return cmd.to_string();
            };
            let flags = || a.iter().filter(|w| w.starts_with('-'));
            let only_follows = flags().all(|w| matches!(w.as_str(), "-f" | "-F" | "--follow"));
            let only_counts = flags().all(|w| w.starts_with("-n") && w.len() > 2 || w == "-n");
            let asked_to_follow =
                req.has_any_word(&["follow", "following", "continuously", "live"])
                    || req.contains("as it grows")
                    || req.contains("new lines");
            let asked_lines = req.words.windows(3).find_map(|w| {
                (w[0] == "last" && w[1].parse::<u64>().is_ok() && w[2] == "lines")
                    .then(|| w[1].clone())
            });
            match (follows(&a), count(&a), asked_lines) {
                (true, None, Some(n)) if only_follows => whole(&n, file),
                (false, Some(n), _) if asked_to_follow && only_counts => whole(&n, file),
                _ => cmd.to_string(),
            }
        }
        _ => cmd.to_string(),
    }
}

/// `ps … | head -n 5` for "the 5 processes using the most cpu" shows ps's
/// header and four processes, and `head -n 1` for "the process with the
/// most memory" only the header. Where the count is the one asked for and
/// ps prints a header, `head` takes one line more.
pub(super) fn ps_header(cmd: &str, req: &Request) -> String {
    let cmds = simple_commands(cmd);
    let text = |t: &Token| &cmd[t.start..t.end];
    let [ps, head] = &cmds[..] else {
        return cmd.to_string();
    };
    let (Some((at, "ps")), Some((h, "head"))) = (program(cmd, ps), program(cmd, head)) else {
        return cmd.to_string();
    };
    if cmd.matches('|').count() != 1 || cmd.contains("||") {
        return cmd.to_string();
    }
    let args: Vec<&str> = ps[at + 1..].iter().map(text).collect();
    // No header: asked for, BSD `h`, or every `-o` column named empty.
    let unnamed = |f: &str| f.split(',').all(|c| c.ends_with('='));
    let takes_format = |a: &str| {
        a == "--format" || (a.starts_with('-') && !a.starts_with("--") && a.ends_with('o'))
    };
    let headless = args.iter().enumerate().any(|(i, a)| {
        let after_flag = i > 0 && args[i - 1].starts_with('-');
        a.starts_with("--no-header")
            || (!a.starts_with('-') && a.contains('h') && !after_flag)
            || (takes_format(a) && args.get(i + 1).is_some_and(|f| unnamed(f)))
            || a.strip_prefix("-o")
                .is_some_and(|f| !f.is_empty() && unnamed(f))
    });
    let count = super::line_count(&head[h + 1..].iter().map(text).collect::<Vec<_>>());
    match count {
        Some(n) if !headless && n == req.count() => {
            format!(
                "{} | head -n {}",
                &cmd[..ps.last().map_or(0, |t| t.end)],
                n + 1
            )
        }
        _ => cmd.to_string(),
    }
}

/// "ping example.com 4 times" became `ping example.com 4` (4 read as a
/// second host) or Windows' `ping -n 4` (on Linux and macOS, numeric
/// output): the count is `-c`.
pub(super) fn ping_count(cmd: &str, req: &Request) -> String {
    let cmds = simple_commands(cmd);
    let text = |t: &Token| &cmd[t.start..t.end];
    let [ping] = &cmds[..] else {
        return cmd.to_string();
    };
    let Some((at, "ping")) = program(cmd, ping) else {
        return cmd.to_string();
    };
    let args: Vec<&str> = ping[at + 1..].iter().map(text).collect();
    let asked = req.count().to_string();
    let times = req
        .words
        .windows(2)
        .any(|w| w[0] == asked && matches!(w[1].as_str(), "times" | "pings" | "packets"));
    if !times || cmd.contains(['|', ';', '&']) {
        return cmd.to_string();
    }
    let host = match args.as_slice() {
        [host, n] if *n == asked && !host.starts_with('-') => host,
        ["-n", n, host] if *n == asked => host,
        _ => return cmd.to_string(),
    };
    format!("{} -c {asked} {host}", &cmd[..ping[at].end])
}

#[cfg(test)]
mod tests {
    use crate::ground::gnu;

    #[test]
    fn lsof_gives_the_pids_itself() {
        assert_eq!(
            gnu(
                "lsof -i :3000 | awk '{print $2}' | xargs kill",
                "kill what listens on 3000"
            ),
            "lsof -t -i :3000 | xargs kill"
        );
        assert_eq!(
            gnu("lsof -i:80 | awk '{ print $2 }'", "pids on port 80"),
            "lsof -t -i:80"
        );
        for cmd in [
            "lsof -t -i :3000 | xargs kill",
            "lsof -i :3000 | awk 'NR>1 {print $2}'",
            "lsof -i :3000 | awk '{print $1}'",
            "lsof -i :3000",
        ] {
            assert_eq!(gnu(cmd, "who uses port 3000"), cmd);
        }
    }

    #[test]
    fn counting_words_is_wc_w() {
        assert_eq!(
            gnu(
                r"grep -o -i '\w' notes.md | wc -l",
                "count the words in notes.md"
            ),
            "wc -w < notes.md"
        );
        assert_eq!(
            gnu(r"grep -o '\w' a | wc -l", "number of words in a"),
            "wc -w < a"
        );
        assert_eq!(
            gnu("wc -l words.txt", "count the words in words.txt"),
            "wc -w words.txt"
        );
        assert_eq!(gnu("wc -l < a", "how many words are in a"), "wc -w < a");
        for (cmd, req) in [
            ("wc -l words.txt", "count the lines in words.txt"),
            ("wc -l a", "count the lines with the word foo in a"),
            ("wc -lw a", "count words and lines in a"),
            ("wc -l words.txt", "how many entries are in words.txt"),
            ("wc -l words.txt", "count words.txt"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
        for (cmd, req) in [
            (
                r"grep -o '\w' a | wc -l",
                "count the letters and digits in a",
            ),
            (r"grep -o '\w\+' a | wc -l", "count the words in a"),
            (r"grep -c '\w' a", "lines with a word in a"),
            (r"cat a | grep -o '\w' | wc -l", "count words in a"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }

    #[test]
    fn tail_follows_and_counts_in_one() {
        for (cmd, req, want) in [
            (
                "tail -f app.log | tail -n 20",
                "show the last 20 lines of app.log and keep following it",
                "tail -n 20 -f app.log",
            ),
            (
                "tail -f server.log",
                "show the last 50 lines of server.log and follow it",
                "tail -n 50 -f server.log",
            ),
            (
                "tail -n 5 app.log",
                "follow app.log starting from the last 5 lines",
                "tail -n 5 -f app.log",
            ),
            (
                "tail -n100 app.log",
                "print new lines of app.log as it grows, from the last 100",
                "tail -n 100 -f app.log",
            ),
        ] {
            assert_eq!(gnu(cmd, req), want, "{req}");
        }
        for (cmd, req) in [
            ("tail -f server.log", "follow server.log"),
            ("tail -n 5 app.log", "show the last 5 lines of app.log"),
            ("tail -f a.log | grep ERROR", "follow a.log, only errors"),
            (
                "tail -n 20 -f app.log",
                "the last 20 lines of app.log, and follow it",
            ),
            (
                "tail -f a.log b.log",
                "the last 5 lines of a.log and b.log, following",
            ),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }

    #[test]
    fn head_counts_ps_header_and_ping_counts_with_c() {
        for (cmd, req, want) in [
            (
                "ps -eo pid,cmd,%cpu --sort=-%cpu | head -n 5",
                "show the 5 processes using the most cpu",
                "ps -eo pid,cmd,%cpu --sort=-%cpu | head -n 6",
            ),
            (
                "ps -eo pid,vsz --sort=-vsz | head -n 1",
                "find which process has the most memory",
                "ps -eo pid,vsz --sort=-vsz | head -n 2",
            ),
            (
                "ps aux --sort=-%mem | head -3",
                "top three by memory",
                "ps aux --sort=-%mem | head -n 4",
            ),
            (
                "ping google.com 4",
                "ping google.com 4 times",
                "ping -c 4 google.com",
            ),
            (
                "ping -n 3 example.org",
                "ping example.org 3 times",
                "ping -c 3 example.org",
            ),
        ] {
            assert_eq!(gnu(cmd, req), want, "{req}");
        }
        for (cmd, req) in [
            (
                "ps -eo pid,cmd,%cpu --sort=-%cpu | head -n 6",
                "the 5 processes using the most cpu",
            ),
            (
                "ps -eo pid= --sort=-%cpu | head -n 1",
                "the pid using the most cpu",
            ),
            (
                "ps haux --sort=-%cpu | head -n 1",
                "the process using the most cpu",
            ),
            ("ps aux | grep x | head -n 1", "the first x process"),
            ("ping -c 4 google.com", "ping google.com 4 times"),
            ("ping google.com", "ping google.com"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }
}
