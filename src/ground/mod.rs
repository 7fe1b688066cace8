//! Adapting a generated command to the machine it will run on and to the
//! request's own words, where the model's habit is known to be wrong and the
//! fix is certain.
//!
//! Small models mix BSD and GNU flags (they learned from both), read
//! "48 hours" as `-mtime 48` (days), forget that a `find` action binds to the
//! last `-o` alternative only, and edit or write files when asked to show a
//! result. Each rewrite here is exact: it changes a spelling to the one with
//! the same meaning on this system, or to what the request literally said
//! (a unit, "not in subdirectories", "to standard output"), or it drops a
//! side effect nobody asked for; nothing else.

mod find;
mod fish;
mod flavour;
mod idioms;
mod inputs;
mod order;
mod output;
mod units;

pub use inputs::{made_up_names, pasted_listing, Paste};

use crate::context::{Shell, Userland};
use std::path::Path;

/// Where the command will run: whose flags, which shell, which directory.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub userland: Userland,
    pub shell: Shell,
    pub cwd: &'a Path,
}

/// The command with known-wrong spellings fixed for `target`, given the
/// request it answers.
pub fn adapt(cmd: &str, request: &str, target: Target) -> String {
    let req = Request::new(request);
    let userland = target.userland;
    let mut cmd = cmd.to_string();
    if userland == Userland::Gnu {
        cmd = flavour::bsd_perm_to_gnu(&cmd);
        cmd = flavour::bsd_sed_inplace_to_gnu(&cmd);
        cmd = flavour::ere_digit_classes(&cmd);
        cmd = flavour::bsd_tail_reverse_to_tac(&cmd);
        cmd = units::sizes_in_named_unit(&cmd, &req);
    }
    cmd = find::perm_all_or_any(&cmd, &req);
    cmd = find::group_alternatives(&cmd);
    cmd = find::top_level_only(&cmd, &req);
    cmd = units::hours_as_days(&cmd, &req);
    cmd = units::days_in_minutes(&cmd, &req);
    cmd = output::print_is_not_edit(&cmd, &req);
    cmd = output::decompress_to_stdout(&cmd, &req);
    cmd = output::unrequested_redirect(&cmd, &req);
    cmd = output::read_and_truncated(&cmd);
    cmd = inputs::hash_of_a_string(&cmd, &req, target.cwd);
    cmd = inputs::names_without_extension(&cmd, target.cwd);
    cmd = inputs::misplaced_names(&cmd, request, target.cwd);
    cmd = output::only_the_hash(&cmd, &req);
    cmd = order::ls_order(&cmd, &req);
    cmd = order::ls_end(&cmd, &req);
    cmd = inputs::comm_direction(&cmd, &req);
    cmd = idioms::lsof_pids(&cmd);
    cmd = idioms::word_count(&cmd, &req);
    cmd = idioms::tail_follow(&cmd, &req);
    cmd = idioms::ps_header(&cmd, &req);
    cmd = idioms::ping_count(&cmd, &req);
    cmd = inputs::whole_listing(&cmd, target.cwd);
    cmd = inputs::names_with_spaces(&cmd, target.cwd);
    cmd = inputs::comm_sorted(&cmd, target.shell);
    if target.shell == Shell::Fish {
        cmd = fish::from_bash(&cmd);
        cmd = fish::exported(&cmd, &req);
    }
    cmd
}

/// The request as the rules read it: lower case, split into words.
pub(crate) struct Request {
    text: String,
    words: Vec<String>,
}

impl Request {
    fn new(request: &str) -> Request {
        let text = request.to_lowercase();
        let words = text
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
            .map(|w| w.trim_matches('-'))
            .filter(|w| !w.is_empty())
            .map(String::from)
            .collect();
        Request { text, words }
    }

    fn has_word(&self, w: &str) -> bool {
        self.words.iter().any(|x| x == w)
    }

    fn has_any_word(&self, ws: &[&str]) -> bool {
        ws.iter().any(|w| self.has_word(w))
    }

    fn contains(&self, phrase: &str) -> bool {
        self.text.contains(phrase)
    }

    /// How many things the request asks for ("the 3 newest", "five
    /// processes"): its first number, or one.
    fn count(&self) -> u32 {
        const WORDS: [&str; 10] = [
            "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        ];
        self.words
            .iter()
            .find_map(|w| {
                w.parse::<u32>()
                    .ok()
                    .or_else(|| WORDS.iter().position(|n| n == w).map(|i| i as u32 + 1))
            })
            .unwrap_or(1)
    }

    /// Whether `second` (a word predicate) follows one of `first` within
    /// `window` words.
    fn near(&self, first: &[&str], window: usize, second: impl Fn(&str) -> bool) -> bool {
        self.words.iter().enumerate().any(|(i, w)| {
            first.contains(&w.as_str())
                && self.words[i + 1..]
                    .iter()
                    .take(window)
                    .any(|x| second(x.as_str()))
        })
    }
}

/// One shell word: its byte range and whether any part of it is quoted.
#[derive(Debug, Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    quoted: bool,
}

/// Splits at unquoted whitespace, keeping quotes and escapes inside words.
fn tokens(cmd: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut quoted = false;
    for (i, c) in cmd.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') if quote != Some('\'') => {
                escaped = true;
                start.get_or_insert(i);
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                quoted = true;
                start.get_or_insert(i);
            }
            (Some(q), _) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if let Some(s) = start.take() {
                    out.push(Token {
                        start: s,
                        end: i,
                        quoted,
                    });
                }
                quoted = false;
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let (Some(s), None) = (start, quote) {
        out.push(Token {
            start: s,
            end: cmd.len(),
            quoted,
        });
    }
    out
}

/// Byte ranges of the unquoted words, so that rewrites never touch quoted
/// text.
fn words(cmd: &str) -> Vec<(usize, usize)> {
    tokens(cmd)
        .into_iter()
        .filter(|t| !t.quoted)
        .map(|t| (t.start, t.end))
        .collect()
}

/// The simple commands of `cmd` (split at `|`, `&&`, `||`, `;` and line
/// breaks), each as its tokens.
fn simple_commands(cmd: &str) -> Vec<Vec<Token>> {
    let mut out = vec![Vec::new()];
    let mut prev_end = 0;
    for t in tokens(cmd) {
        let text = &cmd[t.start..t.end];
        let line_break = cmd[prev_end..t.start].contains('\n');
        prev_end = t.end;
        if line_break {
            out.push(Vec::new());
        }
        if !t.quoted && matches!(text, "|" | "||" | "&&" | ";" | "|&" | "&") {
            out.push(Vec::new());
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.push(t);
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

/// The program a simple command runs, skipping `sudo` and `VAR=value`.
fn program<'a>(cmd: &'a str, toks: &[Token]) -> Option<(usize, &'a str)> {
    toks.iter().enumerate().find_map(|(i, t)| {
        let w = &cmd[t.start..t.end];
        let skip = t.quoted || w == "sudo" || w == "command" || w.contains('=');
        (!skip).then(|| (i, w.rsplit('/').next().unwrap_or(w)))
    })
}

/// The number of lines `head` or `tail` takes with these arguments and no
/// others (`-n 5`, `-n5`, `-5`, or none: 10).
fn line_count(args: &[&str]) -> Option<u32> {
    match args {
        [] => Some(10),
        ["-n", n] => n.parse().ok(),
        [a] => a
            .strip_prefix("-n")
            .or_else(|| a.strip_prefix('-'))
            .and_then(|n| n.parse().ok()),
        _ => None,
    }
}

/// Applies byte-range replacements (non-overlapping) from right to left.
fn splice(cmd: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = cmd.to_string();
    for (a, b, text) in edits {
        out.replace_range(a..b, &text);
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
    let mut edits = Vec::new();
    for pair in ws.windows(2) {
        let ((a0, a1), (b0, b1)) = (pair[0], pair[1]);
        if &cmd[a0..a1] == flag {
            if let Some((new_flag, new_arg)) = f(&cmd[b0..b1]) {
                edits.push((a0, b1, format!("{new_flag}{}{new_arg}", &cmd[a1..b0])));
            }
        }
    }
    splice(cmd, edits)
}

/// A short-option cluster such as `-xzvf` (not `--long`, not a number).
fn short_flags(word: &str) -> Option<&str> {
    let rest = word.strip_prefix('-')?;
    (!rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphabetic())).then_some(rest)
}

#[cfg(test)]
fn gnu(cmd: &str, request: &str) -> String {
    let nowhere = Path::new("/nonexistent-cmdai-test-dir");
    adapt(cmd, request, Target::gnu(Shell::Bash, nowhere))
}

#[cfg(test)]
impl<'a> Target<'a> {
    fn gnu(shell: Shell, cwd: &'a Path) -> Target<'a> {
        Target {
            userland: Userland::Gnu,
            shell,
            cwd,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_skip_quoted_text() {
        let cmd = r#"grep -e "-mtime 4" x 'a b' c\ d"#;
        let ws: Vec<&str> = words(cmd).iter().map(|&(a, b)| &cmd[a..b]).collect();
        assert_eq!(ws, ["grep", "-e", "x", r"c\ d"]);
    }

    #[test]
    fn simple_commands_split_at_operators_and_lines() {
        let cmd = "find . -exec rm {} \\; | wc -l && echo 'a | b'\nls";
        let progs: Vec<&str> = simple_commands(cmd)
            .iter()
            .filter_map(|c| program(cmd, c).map(|(_, p)| p))
            .collect();
        assert_eq!(progs, ["find", "wc", "echo", "ls"]);
    }

    #[test]
    fn commands_without_a_matching_rule_are_unchanged() {
        for cmd in [
            "ls -la",
            "echo \"it's \\\"quoted\\\"\" | tr a-z A-Z",
            "git log --oneline -n 5",
            "",
        ] {
            assert_eq!(gnu(cmd, "list things to the screen in bytes"), cmd);
        }
    }
}
