//! `cmdai init <shell>` and `cmdai completions <shell>`.
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
            Shell::Fish => format!("set -g __cmdai_key {}\n", quote_fish(key)),
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
        Shell::Zsh => ZSH,
        Shell::Bash | Shell::Sh => BASH,
        Shell::Fish => FISH,
    };
    Ok(format!("{head}{body}"))
}

/// Single quotes for sh, bash and zsh: nothing inside is special but `'`.
fn quote_posix(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// fish single quotes: only `\\` and `\'` are escapes inside.
fn quote_fish(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

pub fn completions(shell: clap_complete::Shell) -> String {
    use clap::CommandFactory;
    let mut cmd = crate::cli::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cmdai", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_no_bind_are_set_before_the_body() {
        let s = init_script(Shell::Zsh, Some("^X"), true).unwrap();
        assert!(s.starts_with("_cmdai_key='^X'\n_cmdai_bind=0\n"));
        let f = init_script(Shell::Fish, Some("ctrl-x"), false).unwrap();
        assert!(f.starts_with("set -g __cmdai_key 'ctrl-x'\n"));
        let f = init_script(Shell::Fish, Some(r"\cx"), false).unwrap();
        assert!(f.starts_with(r"set -g __cmdai_key '\\cx'"));
        let b = init_script(Shell::Bash, Some("it's"), false).unwrap();
        assert!(b.starts_with(r"_cmdai_key='it'\''s'"));
        assert!(init_script(Shell::Bash, Some(""), false).is_err());
    }
}
