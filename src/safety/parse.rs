//! Splitting a command line into the simple commands a shell would run.
//!
//! shell-words splits one simple command into words, but knows nothing of
//! `;`, `&&`, pipes or substitutions. This scanner finds those at the top
//! level (outside quotes), and pulls out `$(…)`, backticks, `<(…)` and
//! `( … )` bodies as nested scripts to be assessed on their own.

/// One simple command, e.g. `rm -rf build` in `make && rm -rf build`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Simple {
    pub words: Vec<String>,
    /// (operator, target), e.g. (">", "/dev/sda").
    pub redirects: Vec<(String, String)>,
    /// Set when the previous command's output is piped into this one.
    pub piped: bool,
}

#[derive(Debug, Default)]
pub struct Script {
    pub commands: Vec<Simple>,
    /// Bodies of substitutions and subshells, to assess recursively.
    pub nested: Vec<String>,
}

/// Splits `src` into simple commands and nested scripts. Never fails:
/// unbalanced quotes or parentheses are read as far as they go.
pub fn split(src: &str) -> Script {
    let chars: Vec<char> = src.chars().collect();
    let mut script = Script::default();
    let mut seg = String::new();
    let mut piped = false;
    let mut i = 0;
    let (mut single, mut double) = (false, false);
    let flush = |seg: &mut String, piped: bool, script: &mut Script| {
        if let Some(simple) = simple(seg, piped) {
            script.commands.push(simple);
        }
        seg.clear();
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if single {
            seg.push(c);
            if c == '\'' {
                single = false;
            }
            i += 1;
            continue;
        }
        match c {
            '\\' => {
                seg.push(c);
                if let Some(n) = next {
                    seg.push(n);
                }
                i += 2;
                continue;
            }
            '\'' if !double => single = true,
            '"' => double = !double,
            '$' | '<' | '>' if next == Some('(') => {
                let (body, end) = balanced(&chars, i + 2, ')');
                // `$(…)` is part of its word (`X=$(id)`, `"$(pwd)/x"`); `<(…)`
                // and `>(…)` stand for a file name of their own.
                let p = placeholder(script.nested.len());
                if c == '$' {
                    seg.push_str(&p);
                } else {
                    seg.push_str(&format!(" {p} "));
                }
                script.nested.push(body);
                i = end + 1;
                continue;
            }
            '`' => {
                let (body, end) = balanced(&chars, i + 1, '`');
                seg.push_str(&placeholder(script.nested.len()));
                script.nested.push(body);
                i = end + 1;
                continue;
            }
            '(' if !double && seg.trim().is_empty() => {
                let (body, end) = balanced(&chars, i + 1, ')');
                script.nested.push(body);
                i = end + 1;
                continue;
            }
            _ if double => {}
            ';' | '\n' => {
                flush(&mut seg, piped, &mut script);
                piped = false;
                i += 1;
                continue;
            }
            '&' if next == Some('&') => {
                flush(&mut seg, piped, &mut script);
                piped = false;
                i += 2;
                continue;
            }
            '|' if next == Some('|') => {
                flush(&mut seg, piped, &mut script);
                piped = false;
                i += 2;
                continue;
            }
            '|' => {
                flush(&mut seg, piped, &mut script);
                piped = true;
                // `|&` pipes stderr too.
                i += if next == Some('&') { 2 } else { 1 };
                continue;
            }
            // A lone `&` runs in the background; `>&`, `&>` and `2>&1` are redirections.
            '&' if next != Some('>') && !seg.ends_with('>') && !seg.ends_with('<') => {
                flush(&mut seg, piped, &mut script);
                piped = false;
                i += 1;
                continue;
            }
            _ => {}
        }
        seg.push(c);
        i += 1;
    }
    flush(&mut seg, piped, &mut script);
    script
}

/// What a substitution is replaced with in its command's words: `$(curl x)`
/// becomes `__SUBST0__`, where 0 is the body's index in `Script::nested`.
fn placeholder(index: usize) -> String {
    format!("{PLACEHOLDER}{index}__")
}

const PLACEHOLDER: &str = "__SUBST";

/// Whether a word contains (or is) the output of a substitution.
pub fn has_placeholder(word: &str) -> bool {
    word.contains(PLACEHOLDER)
}

/// Indices into `Script::nested` of the substitutions a word contains.
/// A literal `__SUBST9__` typed by the user may name no body; callers look
/// indices up with `get`.
pub fn placeholders(word: &str) -> impl Iterator<Item = usize> + '_ {
    word.split(PLACEHOLDER).skip(1).filter_map(|rest| {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        rest[digits..]
            .starts_with("__")
            .then(|| rest[..digits].parse().ok())
            .flatten()
    })
}

/// The text from `start` up to the matching `close`, and the index of it.
fn balanced(chars: &[char], start: usize, close: char) -> (String, usize) {
    let mut depth = 0usize;
    let (mut single, mut double) = (false, false);
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if !single => i += 1,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '(' if !single && !double && close == ')' => depth += 1,
            _ if c == close && !single && (!double || close == '`') => {
                if depth == 0 {
                    return (chars[start..i].iter().collect(), i);
                }
                depth -= 1;
            }
            _ => {}
        }
        i += 1;
    }
    let end = chars.len().min(i);
    (chars[start.min(end)..end].iter().collect(), end)
}

/// Words and redirections of one simple command.
fn simple(seg: &str, piped: bool) -> Option<Simple> {
    let words = shell_words::split(seg).unwrap_or_else(|_| {
        seg.split_whitespace()
            .map(|w| w.trim_matches(['"', '\'']).to_string())
            .collect()
    });
    let mut out = Simple {
        piped,
        ..Simple::default()
    };
    let mut it = words.into_iter().peekable();
    while let Some(w) = it.next() {
        if w == "{" || w == "}" {
            continue;
        }
        if let Some((op, target)) = redirect(&w) {
            let target = if target.is_empty() {
                it.next().unwrap_or_default()
            } else {
                target
            };
            out.redirects.push((op, target));
        } else {
            out.words.push(w);
        }
    }
    (!out.words.is_empty() || !out.redirects.is_empty()).then_some(out)
}

/// `>file`, `2>>log`, `&>out`, `<in` → (operator, attached target).
fn redirect(word: &str) -> Option<(String, String)> {
    let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix('&').unwrap_or(rest);
    let op_len = rest.len() - rest.trim_start_matches(['>', '<', '|']).len();
    if op_len == 0 || op_len > 3 {
        return None;
    }
    let (op, target) = rest.split_at(op_len);
    if !op.starts_with(['>', '<']) {
        return None;
    }
    // `2>&1` duplicates a descriptor; it writes nowhere new.
    if target.starts_with('&') {
        return Some((op.to_string(), "&".to_string()));
    }
    Some((op.to_string(), target.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Vec<String>> {
        split(s).commands.into_iter().map(|c| c.words).collect()
    }

    #[test]
    fn splits_on_operators_outside_quotes() {
        assert_eq!(words("a 1; b && c || d | e & f").len(), 6);
        assert_eq!(words("echo 'a; b' \"c && d\"").len(), 1);
        assert_eq!(words("echo a\\;b").len(), 1);
    }

    #[test]
    fn pipes_are_marked() {
        let s = split("curl x | sh");
        assert!(!s.commands[0].piped && s.commands[1].piped);
    }

    #[test]
    fn substitutions_are_nested() {
        let s = split("echo $(rm -rf /) `whoami` \"$(id)\"");
        assert_eq!(s.nested, vec!["rm -rf /", "whoami", "id"]);
        let s = split("(cd / && ls)");
        assert_eq!(s.nested, vec!["cd / && ls"]);
    }

    #[test]
    fn placeholders_name_their_bodies() {
        let s = split("eval \"$(curl -s x)\" `id` <(wget y)");
        assert_eq!(s.nested, vec!["curl -s x", "id", "wget y"]);
        let w = &s.commands[0].words;
        let found: Vec<usize> = w.iter().flat_map(|w| placeholders(w)).collect();
        assert_eq!(found, vec![0, 1, 2]);
        assert!(has_placeholder(&w[1]));
        assert_eq!(placeholders("__SUBST__ __SUBSTx__").count(), 0);
        let s = split("X=$(id) && rm -rf $(pwd)/build");
        assert_eq!(s.commands[0].words, vec!["X=__SUBST0__"]);
        assert_eq!(s.commands[1].words[2], "__SUBST1__/build");
    }

    #[test]
    fn redirections() {
        let s = split("cat a > /dev/sda 2>&1");
        assert_eq!(s.commands[0].words, vec!["cat", "a"]);
        assert_eq!(s.commands[0].redirects[0], (">".into(), "/dev/sda".into()));
        let s = split("echo hi >>log");
        assert_eq!(s.commands[0].redirects[0], (">>".into(), "log".into()));
        let s = split("> file");
        assert!(s.commands[0].words.is_empty());
    }

    #[test]
    fn unbalanced_input_does_not_panic() {
        for s in [
            "$(",
            "`",
            "'",
            "\"",
            "(((",
            "a | | b",
            "&&&",
            "$(echo 'x)",
            "\\",
        ] {
            let _ = split(s);
        }
    }
}
