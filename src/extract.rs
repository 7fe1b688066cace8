//! Model text → exactly one command.
//!
//! The answer is primed with `{"cmd": "`, so normally the model writes the
//! JSON string's body and `"}`. Small models sometimes wander (a code fence,
//! a `$ ` prompt, a sentence); the fallbacks recover a command where one is
//! clearly there and refuse prose.

use crate::error::{Error, Kind, Result};

/// Byte offset of the quote that closes the primed JSON string, if written.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// True once the model has closed the JSON string: decoding can stop.
pub fn is_complete(text: &str) -> bool {
    closing_quote(text).is_some()
}

/// The command in `text`, the model's continuation after the primer.
pub fn command(text: &str) -> Result<String> {
    let cmd = match closing_quote(text) {
        Some(end) => serde_json::from_str::<String>(&format!("\"{}\"", &text[..end]))
            .ok()
            .unwrap_or_else(|| text[..end].to_string()),
        None => fallback(text),
    };
    let cmd = cmd.trim().trim_start_matches("$ ").trim().to_string();
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

/// The string was never closed (token limit, or the model left the format):
/// take a fenced block or the first command-looking line.
fn fallback(text: &str) -> String {
    if let Some(start) = text.find("```") {
        let body = &text[start + 3..];
        // Skip the language tag line (```bash).
        let body = body.split_once('\n').map(|(_, b)| b).unwrap_or(body);
        let body = body.split("```").next().unwrap_or("");
        if let Some(line) = body.lines().map(str::trim).find(|l| !l.is_empty()) {
            return line.to_string();
        }
    }
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .trim_end_matches("\"}")
        .to_string()
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

    #[test]
    fn json_body_is_unescaped() {
        assert_eq!(command(r#"ls -la"}"#).unwrap(), "ls -la");
        assert_eq!(
            command(r#"grep -r \"a b\" . | wc -l"}"#).unwrap(),
            r#"grep -r "a b" . | wc -l"#
        );
        assert_eq!(command(r#"printf 'a\\tb'"}"#).unwrap(), r"printf 'a\tb'");
    }

    #[test]
    fn completion_needs_an_unescaped_quote() {
        assert!(!is_complete(r#"echo \"hi"#));
        assert!(is_complete(r#"echo \"hi\""}"#));
        assert!(is_complete(r#"ls""#));
    }

    #[test]
    fn fallbacks() {
        assert_eq!(
            command("```bash\nfind . -name '*.rs'\n```").unwrap(),
            "find . -name '*.rs'"
        );
        assert_eq!(command("$ df -h\n").unwrap(), "df -h");
        assert_eq!(command("\n  uptime").unwrap(), "uptime");
    }

    #[test]
    fn refuses_empty_and_prose() {
        assert_eq!(command("\"}").unwrap_err().kind, Kind::NoCommand);
        assert_eq!(command("   ").unwrap_err().kind, Kind::NoCommand);
        let e = command("I cannot help with that request because it is unclear.").unwrap_err();
        assert_eq!(e.kind, Kind::NoCommand);
        // Commands that start with a capitalised word are still commands.
        assert!(command("To=1 make -j4\"}").is_ok());
    }
}
