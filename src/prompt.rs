//! The prompt: Qwen's chat template, a system prompt with worked examples,
//! and the user's request after them.
//!
//! Everything that does not change between calls (system prompt, examples)
//! forms the prefix, whose KV cache is computed once and reused. What changes
//! per call (the cwd listing, the request) comes after it.
//!
//! A remote server applies the chat template itself, so for it the same
//! text goes out as chat messages ([`messages`]): the system prompt and
//! examples are byte-identical on every call, which is what servers'
//! prefix caches key on.

use crate::context::{Context, Shell};

/// The assistant's answer opens a code fence for the target shell, so the
/// model writes only the command, verbatim, then the closing fence.
pub fn primer(shell: Shell) -> String {
    format!("```{}\n", shell.name())
}

pub enum Segment {
    /// Our own template text; special tokens are honoured.
    Template(String),
    /// Text from the user or the file system; special-token text stays text.
    User(String),
}

/// One chat message, for servers that apply the chat template themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

impl Message {
    fn new(role: &'static str, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
        }
    }
}

pub struct Prompt {
    pub prefix: String,
    pub turn: Vec<Segment>,
    /// How many of `turn`'s first segments are the same for every request
    /// made in this directory (the listing): the engine keeps their keys
    /// and values per directory.
    pub shared: usize,
}

/// Worked examples in every prompt (the cached prefix): everyday idioms and
/// the conventions a small model gets wrong without them (a count prints
/// only the number, hours are `-mmin`, "not in subdirectories" is
/// `-maxdepth 1`, numbers sort with `-n`). Invented names, written for
/// cmdai.
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
        "files modified in the last 3 hours",
        "find . -type f -mmin -180",
    ),
    (
        "list files only in this directory, not in subdirectories",
        "find . -maxdepth 1 -type f",
    ),
    (
        "delete .tmp files older than 7 days",
        "find . -type f -name '*.tmp' -mtime +7 -delete",
    ),
    ("count lines in server.log", "wc -l < server.log"),
    (
        "how many lines in server.log contain ERROR",
        "grep -c 'ERROR' server.log",
    ),
    (
        "total number of lines across all .py files",
        "find . -type f -name '*.py' -exec cat {} + | wc -l",
    ),
    (
        "list files in the current directory tree that contain password",
        "grep -rl 'password' .",
    ),
    (
        "show the 5 largest files under the current directory recursively",
        "find . -type f -printf '%s %p\\n' | sort -rn | head -n 5",
    ),
    ("sort sizes.txt numerically", "sort -n sizes.txt"),
    (
        "show the 10 most common words in speech.txt",
        "tr -s ' ' '\\n' < speech.txt | sort | uniq -c | sort -rn | head -n 10",
    ),
    (
        "replace every occurrence of foo with bar in settings.conf",
        "sed -i 's/foo/bar/g' settings.conf",
    ),
    (
        "print lines 10 to 20 of server.log",
        "sed -n '10,20p' server.log",
    ),
    (
        "show the first 15 lines of changelog.md",
        "head -n 15 changelog.md",
    ),
    (
        "sum the numbers in the third column of inventory.csv",
        "awk -F, '{s+=$3} END {print s}' inventory.csv",
    ),
    (
        "create a gzipped tarball of the website directory",
        "tar -czf website.tar.gz website",
    ),
    (
        "list what is inside release.tar.gz",
        "tar -tzf release.tar.gz",
    ),
    ("make run.sh executable", "chmod +x run.sh"),
    (
        "find files under bin that anyone may write to",
        "find bin -type f -perm -o=w",
    ),
    (
        "list folder sizes in the current directory, largest first",
        "du -sh */ | sort -rh",
    ),
    ("which process is using port 8080", "lsof -i :8080"),
    ("stop every process named node", "pkill node"),
    (
        "delete draft1.md and draft2.md in the notes_old folder",
        "rm notes_old/draft1.md notes_old/draft2.md",
    ),
    (
        "rename every .jpeg file in this folder to .jpg",
        "for f in *.jpeg; do mv -- \"$f\" \"${f%.jpeg}.jpg\"; done",
    ),
];

/// The same for every shell, so one cached prefix serves them all: the
/// shell is named by the answer's code fence, after the prefix.
fn system_prompt(os: &str) -> String {
    format!(
        "You translate a request into exactly one shell command for {os}.\n\
         Rules:\n\
         - Answer with the command alone in one code block. No explanation.\n\
         - Use the syntax of the shell the code block names (bash, zsh, fish or sh).\n\
         - One line. Join steps with pipes, && or ;.\n\
         - Paths and names in the request are relative to the current directory unless absolute: use them exactly as written. Use `.` when no place is named.\n\
         - Do exactly what is asked, nothing more: no sudo, no extra flags, no extra output.\n\
         - When asked how many, print only the number.\n\
         - If the request already is a command, return it unchanged."
    )
}

fn turn(role: &str, text: &str) -> String {
    format!("<|im_start|>{role}\n{text}<|im_end|>\n")
}

/// A worked example's answer. Examples are bash: most commands read the
/// same in every shell, and the fence of the real answer names its shell.
fn answer(cmd: &str) -> String {
    format!("{}{cmd}\n```", primer(Shell::Bash))
}

/// The worked examples every prompt shows, as (request, command).
pub fn examples() -> &'static [(&'static str, &'static str)] {
    EXAMPLES
}

/// The system prompt and the worked examples, as chat messages.
fn fixed_messages(os: &str) -> Vec<Message> {
    let mut messages = vec![Message::new("system", system_prompt(os))];
    for (q, a) in EXAMPLES {
        messages.push(Message::new("user", *q));
        messages.push(Message::new("assistant", answer(a)));
    }
    messages
}

/// The part of every prompt that does not depend on the request, the
/// directory or the shell: its KV cache is computed once per model.
pub fn prefix(os: &str) -> String {
    fixed_messages(os)
        .iter()
        .map(|m| turn(m.role, &m.content))
        .collect()
}

/// The prompt as chat messages, for an OpenAI-compatible server: the same
/// system prompt, examples and request as [`build`]. A chat API cannot be
/// made to continue a primed answer everywhere, so the request's last line
/// names the code block the answer should be; the model writes the whole
/// block and extraction takes the command from it.
pub fn messages(ctx: &Context, request: &str) -> Vec<Message> {
    let mut messages = fixed_messages(ctx.os);
    let mut text = String::new();
    if !ctx.listing.is_empty() {
        text.push_str(&format!("Files here: {}\nRequest: ", listing(&ctx.listing)));
    }
    text.push_str(request);
    text.push_str(&format!(
        "\nAnswer with one ```{} code block.",
        ctx.shell.name()
    ));
    messages.push(Message::new("user", text));
    messages
}

/// The directory's names, space-separated; a name with a space in it is
/// quoted, so the model can tell it from two names (and copies it quoted).
fn listing(names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .map(|n| {
            if n.contains(char::is_whitespace) && !n.contains('\'') {
                format!("'{n}'")
            } else {
                n.clone()
            }
        })
        .collect();
    shown.join(" ")
}

pub fn build(ctx: &Context, request: &str) -> Prompt {
    let prefix = prefix(ctx.os);
    let mut turns = vec![Segment::Template("<|im_start|>user\n".into())];
    // Names only, never the absolute path: given the path, small models
    // write it into commands that should have been relative.
    if !ctx.listing.is_empty() {
        turns.push(Segment::User(format!(
            "Files here: {}\n",
            listing(&ctx.listing)
        )));
        turns.push(Segment::Template("Request: ".into()));
    }
    turns.push(Segment::User(request.to_string()));
    turns.push(Segment::Template(format!(
        "<|im_end|>\n<|im_start|>assistant\n{}",
        primer(ctx.shell)
    )));
    // Without a listing the shared part is three template tokens: not
    // worth a pass of their own.
    let shared = if ctx.listing.is_empty() { 0 } else { 3 };
    Prompt {
        prefix,
        turn: turns,
        shared,
    }
}

/// What a failed command's exit status says, for the fix request. Only the
/// status is known: the shell keeps no output, and nothing is re-run to get
/// it.
fn status_meaning(status: Option<i32>) -> String {
    match status {
        Some(127) => "exit status 127: command not found".into(),
        Some(126) => "exit status 126: not executable".into(),
        Some(n) if n > 128 && n < 160 => format!("exit status {n}: killed by signal {}", n - 128),
        Some(n) => format!("exit status {n}"),
        None => "it failed".into(),
    }
}

/// A request to correct `failed`. It is an ordinary request after the same
/// cached prefix and in the same code-fence protocol, so a fix costs what a
/// request costs (no second prefix to build or prefill).
pub fn build_fix(ctx: &Context, failed: &str, status: Option<i32>) -> Prompt {
    let request = format!(
        "This command failed ({}). Write the corrected command: {failed}",
        status_meaning(status)
    );
    build(ctx, &request)
}

/// The explanation's answer starts as a list item naming a part, which
/// keeps a small model to one short line per part instead of a paragraph.
pub const EXPLAIN_PRIMER: &str = "- `";

/// The explanation's own small prefix (cached like the request prompt's):
/// the code-fence examples of that one would make the model answer with a
/// command; one worked example here sets the format.
fn explain_prefix(os: &str) -> String {
    let mut prefix = turn(
        "system",
        &format!(
            "You explain shell commands for {os} to someone about to run one.\n\
             Answer with one short list line per part of the command: - `part`: what it does.\n\
             At most 6 lines, each under 12 words. No introduction, no summary.\n\
             Say plainly when a part deletes, overwrites or sends data."
        ),
    );
    prefix.push_str(&turn(
        "user",
        "Explain this bash command:\nfind . -name '*.log' -mtime +30 -delete",
    ));
    prefix.push_str(&turn(
        "assistant",
        "- `find .`: searches this directory and everything below it\n\
         - `-name '*.log'`: only names ending in .log\n\
         - `-mtime +30`: last changed more than 30 days ago\n\
         - `-delete`: deletes each match, without asking",
    ));
    prefix
}

/// A request to explain `command`, part by part.
pub fn build_explain(ctx: &Context, command: &str) -> Prompt {
    Prompt {
        prefix: explain_prefix(ctx.os),
        turn: vec![
            Segment::Template(format!(
                "<|im_start|>user\nExplain this {} command:\n",
                ctx.shell.name()
            )),
            Segment::User(command.to_string()),
            Segment::Template(format!(
                "<|im_end|>\n<|im_start|>assistant\n{EXPLAIN_PRIMER}"
            )),
        ],
        shared: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            shell: Shell::Zsh,
            os: "Linux (GNU coreutils)",
            listing: vec!["src/".into(), "README.md".into()],
        }
    }

    #[test]
    fn request_and_context_come_after_the_prefix() {
        let p = build(&ctx(), "play a sound");
        assert!(p.prefix.starts_with("<|im_start|>system\n"));
        assert!(p.prefix.contains("command for Linux"));
        assert!(!p.prefix.contains("play a sound"));
        let user: Vec<&str> = p
            .turn
            .iter()
            .filter_map(|s| match s {
                Segment::User(u) => Some(u.as_str()),
                _ => None,
            })
            .collect();
        assert!(user[0].contains("src/ README.md"));
        assert_eq!(user[1], "play a sound");
        match p.turn.last() {
            Some(Segment::Template(t)) => assert!(t.ends_with(&primer(Shell::Zsh))),
            _ => panic!("prompt must end primed"),
        }
    }

    #[test]
    fn names_with_spaces_are_quoted_in_the_listing() {
        let names = [
            "My Documents/".to_string(),
            "a.txt".into(),
            "it's here".into(),
        ];
        assert_eq!(listing(&names), "'My Documents/' a.txt it's here");
    }

    #[test]
    fn prefix_is_the_same_for_every_request_cwd_and_shell() {
        let mut other = ctx();
        other.listing = vec!["elsewhere/".into()];
        other.shell = Shell::Fish;
        assert_eq!(build(&ctx(), "a").prefix, build(&other, "b").prefix);
        match build(&other, "b").turn.last() {
            Some(Segment::Template(t)) => assert!(t.ends_with("```fish\n")),
            _ => panic!("prompt must end primed"),
        }
    }

    #[test]
    fn chat_messages_carry_the_same_prompt() {
        let c = ctx();
        let m = messages(&c, "play a sound");
        let rendered: String = m[..m.len() - 1]
            .iter()
            .map(|m| turn(m.role, &m.content))
            .collect();
        assert_eq!(rendered, build(&c, "x").prefix);
        assert_eq!(m.len(), 2 + 2 * EXAMPLES.len());
        let last = m.last().unwrap();
        assert_eq!(last.role, "user");
        assert_eq!(
            last.content,
            "Files here: src/ README.md\nRequest: play a sound\nAnswer with one ```zsh code block."
        );
        // Only the last message depends on the request, the cwd or the shell.
        let mut other = c.clone();
        other.listing.clear();
        other.shell = Shell::Fish;
        let n = messages(&other, "b");
        assert_eq!(m[..m.len() - 1], n[..n.len() - 1]);
        assert_eq!(
            n.last().unwrap().content,
            "b\nAnswer with one ```fish code block."
        );
    }

    #[test]
    fn fix_and_explain_keep_the_command_as_user_text() {
        let tricky = "grpe x <|im_end|>";
        let fix = build_fix(&ctx(), tricky, Some(127));
        assert_eq!(
            fix.prefix,
            build(&ctx(), "a").prefix,
            "fix reuses the cached prefix"
        );
        let user = |p: &Prompt| -> String {
            p.turn
                .iter()
                .filter_map(|s| match s {
                    Segment::User(u) => Some(u.as_str()),
                    _ => None,
                })
                .collect()
        };
        assert!(user(&fix).contains(tricky) && user(&fix).contains("command not found"));
        let ex = build_explain(&ctx(), tricky);
        assert!(user(&ex).contains(tricky));
        assert!(!ex.prefix.contains("```"));
    }

    #[test]
    fn examples_round_trip_through_extraction() {
        for (_, a) in EXAMPLES {
            let written = answer(a);
            let after_primer = &written[primer(Shell::Bash).len()..];
            assert_eq!(crate::extract::command(after_primer).unwrap(), *a);
        }
    }
}
