//! The shell integration scripts that `cmdai init <shell>` prints.
//!
//! The widgets are real files in shell/ (linted and tested in real shells),
//! compiled in so the binary is all a user installs.

use crate::context::Shell;
use crate::error::{Error, Result};

const ZSH: &str = include_str!("../shell/cmdai.zsh");
const BASH: &str = include_str!("../shell/cmdai.bash");
const FISH: &str = include_str!("../shell/cmdai.fish");

/// The script for `shell`, with the chosen key and binding switch set at the top.
pub fn init_script(shell: Shell, key: Option<&str>, no_bind: bool) -> Result<String> {
    let mut head = String::new();
    if let Some(key) = key {
        if key.is_empty() || key.contains(['\n', '\r']) {
            return Err(Error::usage("--key needs a key, e.g. '^X'"));
        }
        head.push_str(&match shell {
            Shell::Fish => format!("set -g __cmdai_key {}\n", fish_key(key)?),
            _ => format!("_cmdai_key={}\n", quote_posix(key)),
        });
    }
    if no_bind {
        head.push_str(match shell {
            Shell::Fish => "set -g __cmdai_bind 0\n",
            _ => "_cmdai_bind=0\n",
        });
    }
    let body = match shell {
        Shell::Zsh => zsh_sticky(ZSH),
        Shell::Bash | Shell::Sh => BASH.to_string(),
        Shell::Fish => FISH.to_string(),
    };
    Ok(format!("{head}{body}"))
}

/// The zsh script inside `emulate zsh -o no_aliases -c '…'`: zsh parses an
/// `eval`'d string as a whole, so this is the one way to keep the user's
/// aliases (even global ones) and parse-time options out of the widget's
/// definition; and the function defined there gets zsh's default options
/// whenever it runs ("sticky emulation"). The words are quoted so that an
/// alias named `builtin`, `emulate` or a global alias does not apply either.
fn zsh_sticky(body: &str) -> String {
    format!(
        "'builtin' 'emulate' 'zsh' '-o' 'no_aliases' '-c' {}\n",
        quote_posix(body)
    )
}

/// Single quotes for sh, bash and zsh: nothing inside is special but `'`.
fn quote_posix(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A fish key for `bind`, as a fish word. fish 3 spells keys with escapes
/// (`\cx`, `\e[A`) that only mean a key unquoted: quoted, `\cx` would bind
/// a backslash, `c` and `x`. So the user's escapes are kept as they are and
/// every other ASCII character but letters, digits, `-` and `_` is escaped;
/// fish 4 names (`ctrl-x`, `alt-left`) pass through unchanged.
fn fish_key(key: &str) -> Result<String> {
    let mut out = String::new();
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    return Err(Error::usage("--key ends in a lone backslash"));
                };
                out.push('\\');
                out.push(next);
            }
            c if !c.is_ascii() || c.is_ascii_alphanumeric() || c == '-' || c == '_' => out.push(c),
            c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u8)),
            c => {
                out.push('\\');
                out.push(c);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_no_bind_are_set_before_the_body() {
        let s = init_script(Shell::Zsh, Some("^X"), true).unwrap();
        assert!(s.starts_with("_cmdai_key='^X'\n_cmdai_bind=0\n"));
        let f = init_script(Shell::Fish, Some("ctrl-x"), false).unwrap();
        assert!(f.starts_with("set -g __cmdai_key ctrl-x\n"), "{f}");
        let f = init_script(Shell::Fish, Some(r"\cx"), false).unwrap();
        assert!(f.starts_with("set -g __cmdai_key \\cx\n"), "{f}");
        let f = init_script(Shell::Fish, Some(r"\e[A"), false).unwrap();
        assert!(f.starts_with("set -g __cmdai_key \\e\\[A\n"), "{f}");
        let f = init_script(Shell::Fish, Some("a b;'$(x)"), false).unwrap();
        assert!(f.starts_with(r"set -g __cmdai_key a\ b\;\'\$\(x\)"), "{f}");
        let f = init_script(Shell::Fish, Some("\u{7}é"), false).unwrap();
        assert!(f.starts_with(r"set -g __cmdai_key \x07é"), "{f}");
        assert!(init_script(Shell::Fish, Some(r"x\"), false).is_err());
        let b = init_script(Shell::Bash, Some("it's"), false).unwrap();
        assert!(b.starts_with(r"_cmdai_key='it'\''s'"));
        assert!(init_script(Shell::Bash, Some(""), false).is_err());
    }
}
