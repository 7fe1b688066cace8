//! The prompt: Qwen's chat template, a system prompt with worked examples,
//! and the user's request after them.
//!
//! Everything that does not change between calls (system prompt, examples)
//! forms the prefix, whose KV cache is computed once and reused. What changes
//! per call (the cwd listing, the request) comes after it.

use crate::context::{Context, Shell};

/// The assistant's answer starts with this, so the model writes only the
/// command and the closing `"}`.
pub const PRIMER: &str = "{\"cmd\": \"";

pub enum Segment {
    /// Our own template text; special tokens are honoured.
    Template(String),
    /// Text from the user or the file system; special-token text stays text.
    User(String),
}

pub struct Prompt {
    pub prefix: String,
    pub turn: Vec<Segment>,
}

/// Worked examples: broad coverage of everyday idioms (find, grep, sed, awk,
/// sort/uniq, tar, ps, du, xargs), written for this prompt.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "list all files here including hidden ones, with sizes",
        "ls -lah",
    ),
    (
        "find pdfs bigger than 10MB modified this week",
        "find . -type f -name '*.pdf' -size +10M -mtime -7",
    ),
    (
        "show disk usage of each folder here sorted by size",
        "du -sh -- */ | sort -h",
    ),
    (
        "search for TODO in all python files under src, with line numbers",
        "grep -rn --include='*.py' 'TODO' src",
    ),
    (
        "replace foo with bar in config.ini",
        "sed -i 's/foo/bar/g' config.ini",
    ),
    (
        "sum the third column of data.csv",
        "awk -F, '{s += $3} END {print s}' data.csv",
    ),
    ("how many lines are in notes.txt", "wc -l < notes.txt"),
    (
        "show the 5 most common words in words.txt with their counts",
        "sort words.txt | uniq -c | sort -rn | head -n 5",
    ),
    (
        "compress the logs directory into logs.tar.gz",
        "tar -czf logs.tar.gz logs",
    ),
    ("list what is inside backup.tar", "tar -tf backup.tar"),
    ("kill every process named node", "pkill node"),
    ("which process is listening on port 8080", "lsof -i :8080"),
    (
        "delete empty files in the tmp folder but not in its subfolders",
        "find tmp -maxdepth 1 -type f -empty -delete",
    ),
    ("print lines 10 to 20 of app.log", "sed -n '10,20p' app.log"),
    ("make deploy.sh executable", "chmod +x deploy.sh"),
    (
        "show files in logs changed more than 3 hours ago",
        "find logs -type f -mmin +180",
    ),
    (
        "sort scores.txt from the lowest number to the highest",
        "sort -n scores.txt",
    ),
    (
        "total number of lines in all the markdown files here",
        "cat *.md | wc -l",
    ),
    (
        "find files under bin that anyone may write to",
        "find bin -type f -perm -o=w",
    ),
    (
        "rename every .jpeg file in this folder to .jpg",
        "for f in *.jpeg; do mv -- \"$f\" \"${f%.jpeg}.jpg\"; done",
    ),
];

fn system_prompt(shell: Shell, os: &str) -> String {
    let syntax = match shell {
        Shell::Fish => "fish syntax (no `$(...)` in old fish: use `(...)`; `set` instead of `=`)",
        Shell::Zsh => "zsh syntax",
        Shell::Bash => "bash syntax",
        Shell::Sh => "POSIX sh syntax",
    };
    format!(
        "You translate a request into exactly one shell command for {shell} on {os}.\n\
         Rules:\n\
         - Reply with JSON only: {{\"cmd\": \"<command>\"}}. No explanation.\n\
         - One line. Join steps with pipes, && or ;. Use {syntax}.\n\
         - Use standard tools: coreutils, findutils, grep, sed, awk, tar, ps.\n\
         - Paths and names in the request are relative to the current directory unless absolute: use them exactly as written. Use `.` when no place is named.\n\
         - Do exactly what is asked: no sudo, no extra flags, no extra output.\n\
         - If the request already is a command, return it unchanged.",
        shell = shell.name(),
    )
}

fn turn(role: &str, text: &str) -> String {
    format!("<|im_start|>{role}\n{text}<|im_end|>\n")
}

fn answer(cmd: &str) -> String {
    // serde_json escapes exactly like the model is asked to.
    format!("{{\"cmd\": {}}}", serde_json::Value::from(cmd))
}

pub fn build(ctx: &Context, request: &str) -> Prompt {
    let mut prefix = turn("system", &system_prompt(ctx.shell, ctx.os));
    for (q, a) in EXAMPLES {
        prefix.push_str(&turn("user", q));
        prefix.push_str(&turn("assistant", &answer(a)));
    }
    prefix.push_str("<|im_start|>user\n");

    let mut about = String::new();
    // Names only, never the absolute path: given the path, small models
    // write it into commands that should have been relative.
    if !ctx.listing.is_empty() {
        about.push_str(&format!("Files here: {}\n", ctx.listing.join(" ")));
    }
    let mut turn = Vec::new();
    if !about.is_empty() {
        turn.push(Segment::User(about));
        turn.push(Segment::Template("Request: ".into()));
    }
    turn.push(Segment::User(request.to_string()));
    turn.push(Segment::Template(format!(
        "<|im_end|>\n<|im_start|>assistant\n{PRIMER}"
    )));
    Prompt { prefix, turn }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            shell: Shell::Zsh,
            os: "Linux (GNU coreutils)",
            cwd: Some("/home/u/proj".into()),
            listing: vec!["src/".into(), "README.md".into()],
        }
    }

    #[test]
    fn request_and_context_come_after_the_prefix() {
        let p = build(&ctx(), "list files");
        assert!(p.prefix.starts_with("<|im_start|>system\n"));
        assert!(p.prefix.contains("zsh on Linux"));
        assert!(!p.prefix.contains("list files"));
        assert!(!p.prefix.contains("/home/u/proj"));
        let user: Vec<&str> = p
            .turn
            .iter()
            .filter_map(|s| match s {
                Segment::User(u) => Some(u.as_str()),
                _ => None,
            })
            .collect();
        assert!(!user[0].contains("/home/u/proj") && user[0].contains("src/ README.md"));
        assert_eq!(user[1], "list files");
        match p.turn.last() {
            Some(Segment::Template(t)) => assert!(t.ends_with(PRIMER)),
            _ => panic!("prompt must end primed"),
        }
    }

    #[test]
    fn prefix_is_the_same_for_every_request_and_cwd() {
        let mut other = ctx();
        other.cwd = Some("/tmp".into());
        assert_eq!(build(&ctx(), "a").prefix, build(&other, "b").prefix);
    }

    #[test]
    fn examples_are_valid_json_answers() {
        for (_, a) in EXAMPLES {
            let v: serde_json::Value = serde_json::from_str(&answer(a)).unwrap();
            assert_eq!(v["cmd"], *a);
        }
    }
}
