//! Permissions and ownership: `chmod`, `chown`, `chgrp`.
//!
//! A recursive change is rated by its target like a recursive delete:
//! `/`, `~` or a system directory is critical, a tree outside the project
//! is high, a named project path, cache or temp dir is moderate.

use super::super::Finding;
use super::delete::{list, unknown};
use super::paths::{self, Place};
use super::table::{emit, RuleId};
use super::{has_flag, operands};

/// `777`, `0666`, `1777`, `o+w`, `a+rwx`, `go=rw`: everyone may write.
fn world_writable(mode: &str) -> bool {
    let octal = (3..=4).contains(&mode.len()) && mode.chars().all(|c| ('0'..='7').contains(&c));
    if octal {
        return mode
            .chars()
            .last()
            .and_then(|c| c.to_digit(8))
            .is_some_and(|d| d & 2 != 0);
    }
    mode.split(',').any(|clause| {
        clause
            .find(['+', '='])
            .is_some_and(|op| clause[..op].contains(['o', 'a']) && clause[op..].contains('w'))
    })
}

/// "everything in X", unless `what` already says so.
fn everything_in(what: &str) -> String {
    if what.starts_with("everything") {
        what.to_string()
    } else {
        format!("everything in {what}")
    }
}

pub fn chmod(name: &str, words: &[String], out: &mut Vec<Finding>) {
    let recursive = has_flag(words, 'R', "recursive");
    let ops = operands(words);
    let by_reference = words.iter().any(|w| w.starts_with("--reference"));
    let targets = if by_reference || ops.len() <= 1 {
        &ops[..]
    } else {
        &ops[1..]
    };
    if recursive {
        let mut named = Vec::new();
        let mut wide: Option<String> = None;
        for t in targets {
            match paths::place(t) {
                Place::Precious(what) => {
                    emit(
                        out,
                        RuleId::ChmodRoot,
                        format!(
                            "changes permissions or owner of {} ({name} -R)",
                            everything_in(&what)
                        ),
                    );
                    return;
                }
                Place::Named => named.push(*t),
                Place::Here(what) | Place::Outside(what) => {
                    wide.get_or_insert(what);
                }
                Place::Unknown(raw) => {
                    wide.get_or_insert(unknown(&raw));
                }
            }
        }
        if let Some(what) = wide {
            emit(
                out,
                RuleId::ChmodRecursive,
                format!(
                    "changes permissions or owner of {} ({name} -R)",
                    everything_in(&what)
                ),
            );
        } else if !named.is_empty() {
            emit(
                out,
                RuleId::ChmodDir,
                format!(
                    "changes permissions or owner of everything in {} ({name} -R)",
                    list(&named)
                ),
            );
        }
    } else if name != "chmod" {
        emit(out, RuleId::Chown, "changes file ownership");
    }
    let mode = ops.first().copied().unwrap_or("");
    if name == "chmod" && !by_reference && world_writable(mode) {
        emit(
            out,
            RuleId::WorldWritable,
            "makes files writable by everyone",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::world_writable;

    #[test]
    fn world_writable_modes() {
        for m in [
            "777", "0777", "666", "1777", "o+w", "a+w", "a+rwx", "go=rw", "u+x,o+w",
        ] {
            assert!(world_writable(m), "{m}");
        }
        for m in [
            "644", "755", "0755", "+x", "u+w", "g+w", "o-w", "a-w", "600", "x",
        ] {
            assert!(!world_writable(m), "{m}");
        }
    }
}
