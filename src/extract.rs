//! Model text → exactly one command.
//!
//! The answer is primed with an opening code fence (```` ```bash ````), so the
//! model writes the command verbatim and then a closing fence on its own line.
//! Nothing inside a fence is escaped, so any command a shell accepts, with any
//! quotes, backslashes or braces, comes through byte for byte. (A primed JSON
//! string did not: the first unescaped `"` in `grep -l "x" …` ended it.)
//! Small models sometimes wander (a `$ ` prompt, a sentence); the fallbacks
//! recover a command where one is clearly there and refuse prose.
//!
//! A remote chat server cannot be primed, so its reply is a whole fenced
//! block (```` ```bash\nls\n``` ````), sometimes with words around it:
//! [`command_in_reply`] takes the first block.

use crate::error::{Error, Kind, Result};

const FENCE: &str = "```";

/// Byte offset where the command ends: the start of the closing fence line.
fn closing_fence(text: &str) -> Option<usize> {
    if text.starts_with(FENCE) {
        return Some(0);
    }
    text.find("\n```").map(|i| i + 1)
}

/// True once the model has closed the fence, or is stuck repeating itself
/// (`| sed 's/,$//' | sed 's/,$//' | …` until the token limit): decoding
/// can stop.
pub fn is_complete(text: &str) -> bool {
    closing_fence(text).is_some() || loop_start(text, 4).is_some() || runaway(text)
}

/// Bytes of one short unit in a row (`000…`, `-B 1000…`, `=-=-…`) past which
/// no command goes on: a model that starts such a run writes it to the
/// token limit (five seconds on the CPU).
const RUNAWAY: usize = 80;

/// Whether the text ends in a run of a unit shorter than `MIN_PERIOD`
/// longer than `RUNAWAY` bytes.
fn runaway(text: &str) -> bool {
    let b = text.as_bytes();
    (1..MIN_PERIOD).any(|period| {
        b.len() > RUNAWAY + period && (b.len() - RUNAWAY..b.len()).all(|i| b[i] == b[i - period])
    })
}

/// Shortest repeated unit worth calling a loop: shorter repeats occur in
/// real commands (`echo na na na`, `%s %s %s`).
const MIN_PERIOD: usize = 6;

/// Where the text ends in at least `times` repetitions of one unit, as
/// (start of the repetitions, unit length); the longest such tail wins.
fn loop_start(text: &str, times: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let n = b.len();
    // Start of the longest tail of `b` with this period.
    let tail = |period: usize| {
        let mut i = n - period;
        while i > 0 && b[i - 1] == b[i - 1 + period] {
            i -= 1;
        }
        i
    };
    // A run of a short unit is periodic at every multiple of it too.
    let short = (1..MIN_PERIOD.min(n)).map(tail).min().unwrap_or(n);
    let mut best: Option<(usize, usize)> = None;
    for period in MIN_PERIOD..=(n / times).min(120) {
        let i = tail(period);
        if n - i >= times * period && i < short && best.is_none_or(|(p, _)| i < p) {
            best = Some((i, period));
        }
    }
    best
}

/// A looping answer cut after its first repetition, at a word boundary
/// with quotes closed, so that what the loop repeated stays once.
fn cut_loop(body: &str) -> &str {
    let Some((start, period)) = loop_start(body.trim_end(), 3) else {
        return body;
    };
    (start + period..body.len())
        .filter(|&cut| body.is_char_boundary(cut))
        .find(|&cut| body[cut..].starts_with(char::is_whitespace) && quotes_closed(&body[..cut]))
        .map_or(body, |cut| &body[..cut])
}

fn quotes_closed(s: &str) -> bool {
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
    }
    !single && !double
}

/// The command in `text`, the model's continuation after the primer.
pub fn command(text: &str) -> Result<String> {
    // Without a closing fence (token limit, a loop, or end of turn) the
    // text so far is the answer, less any loop.
    let body = match closing_fence(text) {
        Some(end) => &text[..end],
        None => cut_loop(text),
    };
    let mut lines: Vec<&str> = body
        .lines()
        .map(|l| strip_comment(l).trim_end())
        .filter(|l| !l.trim().is_empty())
        .collect();
    // A small model sometimes writes its line twice; one command never
    // means to run the same line twice in a row.
    lines.dedup();
    let mut cmd = lines.join("\n");
    if let Some(rest) = cmd.strip_prefix("$ ") {
        cmd = rest.to_string();
    }
    let cmd = cmd.trim().to_string();
    if cmd.is_empty() {
        return Err(Error::new(
            Kind::NoCommand,
            "the model gave no command: try rephrasing the request",
        ));
    }
    if looks_like_prose(&cmd) {
        return Err(Error::new(
            Kind::NoCommand,
            "the model answered in prose, not a command: try rephrasing the request",
        ));
    }
    Ok(cmd)
}

/// The command in a whole chat reply: the body of its first fenced block,
/// or, without a fence, the reply itself (a bare command, one inline code
/// span, or prose, which is refused).
pub fn command_in_reply(reply: &str) -> Result<String> {
    let mut offset = 0;
    for line in reply.split_inclusive('\n') {
        if let Some(info) = line.trim_start().strip_prefix(FENCE) {
            // ```ls -la``` on one line: the command sits between the fences.
            if let Some(end) = info.find(FENCE) {
                return command(&info[..end]);
            }
            return command(&reply[offset + line.len()..]);
        }
        offset += line.len();
    }
    let trimmed = reply.trim();
    let span = trimmed
        .strip_prefix('`')
        .and_then(|t| t.strip_suffix('`'))
        .filter(|t| !t.contains('`'));
    command(span.unwrap_or(trimmed))
}

/// The line without a trailing comment (`ls -a  # or ls -la`). At an
/// interactive zsh prompt `#` starts no comment (unless the user set
/// interactive_comments), so the comment would run as arguments. A `#`
/// starts one only at the start of a word, outside quotes.
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double, mut escaped) = (false, false, false);
    // After unquoted, unescaped blank space: a word starts here.
    let mut word_start = true;
    for (i, c) in line.char_indices() {
        let blank = !escaped && !single && !double && c.is_whitespace();
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && word_start => return &line[..i],
            _ => {}
        }
        word_start = blank;
    }
    line
}

fn looks_like_prose(cmd: &str) -> bool {
    const OPENERS: &[&str] = &[
        "I",
        "I'm",
        "Sorry",
        "Unfortunately",
        "This",
        "The",
        "You",
        "Please",
        "As",
        "Here",
        "It",
        "There",
        "To",
    ];
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let first = words.first().copied().unwrap_or("");
    words.len() > 4 && OPENERS.contains(&first) && !cmd.contains(['|', '-', '/', '='])
        || (words.len() > 6 && cmd.ends_with('.') && OPENERS.contains(&first))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commands a shell accepts that a JSON string protocol mangled.
    pub const AWKWARD: &[&str] = &[
        r#"grep -l "hello" -r ."#,
        r#"echo "a \"quoted\" word" | tr a-z A-Z"#,
        r#"cut -d " " -f 2 list"#,
        r"find . -type d -empty -exec rmdir {} \;",
        r"find . \( -name '*.c' -o -name '*.h' \) -print",
        r"sed -n '7p' f",
        r#"awk -F'\t' '{print $1 "\\" $2}' t.tsv"#,
        r"grep -E '^[0-9]+\.[0-9]+$' v",
        r#"for f in *.jpeg; do mv -- "$f" "${f%.jpeg}.jpg"; done"#,
        r#"printf '%s\n' "$HOME" '$HOME' `date` $(pwd)"#,
        "echo '}' \"}\" '```' ok",
    ];

    #[test]
    fn a_looping_answer_stops_and_keeps_one_copy() {
        let unit = " | sed 's/,$//'";
        let looping = format!("tr '\\n' ','{}{}", unit.repeat(9), &unit[..6]);
        assert!(is_complete(&looping));
        assert_eq!(command(&looping).unwrap(), format!("tr '\\n' ','{unit}"));
        // Not a loop: short repeats, or three copies the model closed itself.
        for text in ["echo na na na na na na na na", "printf '%s %s %s %s %s\\n'"] {
            assert!(!is_complete(text), "{text}");
            assert_eq!(command(text).unwrap(), text);
        }
        // A run of one short unit past any command's length stops too.
        let digits = format!("grep -B 1{}", "0".repeat(100));
        assert!(is_complete(&digits));
        assert!(!is_complete(&format!("echo {}", "=".repeat(60))));
        let closed = "rev f | rev | rev | rev\n```";
        assert_eq!(command(closed).unwrap(), "rev f | rev | rev | rev");
        // Awkward commands are never mistaken for loops.
        for cmd in AWKWARD {
            assert!(!is_complete(cmd), "{cmd}");
            assert_eq!(command(cmd).unwrap(), *cmd);
        }
    }

    #[test]
    fn a_line_written_twice_is_one_command() {
        assert_eq!(
            command("grep x notes.txt\ngrep x notes.txt\n```").unwrap(),
            "grep x notes.txt"
        );
        assert_eq!(command("cd a\nls\ncd a\n```").unwrap(), "cd a\nls\ncd a");
    }

    #[test]
    fn any_command_comes_through_byte_exact() {
        for cmd in AWKWARD {
            for tail in ["\n```", "\n```\n", "\n```<|im_end|>", "\n```\nThis lists…"] {
                let text = format!("{cmd}{tail}");
                assert!(is_complete(&text), "{text}");
                assert_eq!(command(&text).unwrap(), *cmd, "from {text:?}");
            }
            // Cut off by the token limit or an end-of-turn token: same command.
            assert_eq!(command(cmd).unwrap(), *cmd);
            assert!(!is_complete(cmd));
        }
    }

    #[test]
    fn completion_needs_a_fence_at_the_start_of_a_line() {
        assert!(!is_complete("echo '```'"));
        assert!(!is_complete("ls -la"));
        assert!(is_complete("ls\n```"));
        assert!(is_complete("```"));
    }

    #[test]
    fn multi_line_answers_keep_their_lines_and_drop_comments() {
        assert_eq!(
            command("# make it\nmkdir -p a/b\ncd a/b\n```").unwrap(),
            "mkdir -p a/b\ncd a/b"
        );
    }

    #[test]
    fn trailing_comments_are_dropped_but_not_quoted_or_inner_hashes() {
        assert_eq!(command("ls -a  # or ls -la\n```").unwrap(), "ls -a");
        for kept in [
            "echo '# not' \"# not\" a\\ #x",
            "echo ${#PATH} $# a#b",
            r"grep -c '^#' f",
        ] {
            assert_eq!(command(kept).unwrap(), kept);
        }
    }

    #[test]
    fn prompt_sign_is_dropped() {
        assert_eq!(command("$ df -h\n```").unwrap(), "df -h");
        assert_eq!(command("\n  uptime\n```").unwrap(), "uptime");
    }

    #[test]
    fn whole_replies_give_their_first_fenced_block() {
        for cmd in AWKWARD {
            for reply in [
                format!("```bash\n{cmd}\n```"),
                format!("```zsh\n{cmd}\n```\n"),
                format!("```\n{cmd}\n```"),
                format!("Here you go:\n\n```sh\n{cmd}\n```\nThis does it.\n```bash\nother\n```"),
                // Cut off by the token limit: the block so far.
                format!("```fish\n{cmd}"),
            ] {
                assert_eq!(command_in_reply(&reply).unwrap(), *cmd, "from {reply:?}");
            }
        }
        assert_eq!(command_in_reply("```ls -la```").unwrap(), "ls -la");
        assert_eq!(command_in_reply("  df -h\n").unwrap(), "df -h");
        assert_eq!(command_in_reply("`du -sh .`").unwrap(), "du -sh .");
        assert_eq!(command_in_reply("").unwrap_err().kind, Kind::NoCommand);
        assert_eq!(
            command_in_reply("```bash\n```").unwrap_err().kind,
            Kind::NoCommand
        );
        let prose = "I am sorry, but I cannot help with that request.";
        assert_eq!(command_in_reply(prose).unwrap_err().kind, Kind::NoCommand);
    }

    #[test]
    fn refuses_empty_and_prose() {
        assert_eq!(command("```").unwrap_err().kind, Kind::NoCommand);
        assert_eq!(command("   ").unwrap_err().kind, Kind::NoCommand);
        let e = command("I cannot help with that request because it is unclear.").unwrap_err();
        assert_eq!(e.kind, Kind::NoCommand);
        // Commands that start with a capitalised word are still commands.
        assert!(command("To=1 make -j4\n```").is_ok());
    }
}
