//! Overwriting files: redirections, `mv`, `truncate`, in-place edits.

use super::super::parse::Simple;
use super::super::Finding;
use super::paths;
use super::table::{emit, RuleId};
use super::{base, operands};

pub fn redirects(cmd: &Simple, out: &mut Vec<Finding>) {
    for (op, target) in &cmd.redirects {
        if !op.starts_with('>') || target == "&" {
            continue;
        }
        let append = op.starts_with(">>");
        let norm = paths::normalize(target);
        if norm.is_device() {
            emit(
                out,
                RuleId::WriteDevice,
                format!("writes onto the disk {target}"),
            );
        } else if norm.is_system_file() && !append {
            emit(out, RuleId::SystemFile, format!("overwrites {target}"));
        } else if norm.is_dotfile() && !append {
            emit(out, RuleId::Dotfile, format!("overwrites {target}"));
        } else if !append
            && !norm.is_dev_null()
            && target != "/dev/stderr"
            && target != "/dev/stdout"
        {
            // Only a redirection with nothing (or nothing real) written empties the file.
            let empty = match cmd.words.first().map(|w| base(w)) {
                None => true,
                Some(":") | Some("true") => true,
                Some("cat") | Some("cp") => cmd.words.get(1).is_some_and(|a| a == "/dev/null"),
                Some("echo") => {
                    cmd.words.len() == 1 || cmd.words.len() == 2 && cmd.words[1] == "-n"
                }
                _ => false,
            };
            if empty {
                emit(out, RuleId::Truncate, format!("empties {target}"));
            }
        }
    }
}

/// `sort list.txt | uniq > list.txt`: the shell empties `list.txt` for the
/// `>` before `sort` reads it, so the file ends up empty. Any command of one
/// pipeline that names (or reads with `<`) the file another truncates.
pub fn reads_what_it_truncates(pipeline: &[&Simple], out: &mut Vec<Finding>) {
    let same = |a: &str, b: &str| a.trim_start_matches("./") == b.trim_start_matches("./");
    for cmd in pipeline {
        for (op, target) in &cmd.redirects {
            if !(op == ">" || op == ">|" || op == "&>") || paths::normalize(target).is_dev_null() {
                continue;
            }
            let read = pipeline.iter().any(|c| {
                c.words.iter().skip(1).any(|w| same(w, target))
                    || c.redirects.iter().any(|(o, t)| o == "<" && same(t, target))
            });
            if read {
                emit(
                    out,
                    RuleId::Truncate,
                    format!("empties {target} before it is read (the shell opens > first)"),
                );
            }
        }
    }
}

pub fn mv(words: &[String], out: &mut Vec<Finding>) {
    let ops = operands(words);
    let Some((dest, sources)) = ops.split_last() else {
        return;
    };
    for s in sources {
        if let Some(what) = paths::precious(s) {
            emit(out, RuleId::MoveRoot, format!("moves {what} away"));
        }
    }
    let dest_norm = paths::normalize(dest);
    if dest_norm.is_dev_null() {
        emit(
            out,
            RuleId::MoveToNull,
            "moves files into /dev/null, destroying them",
        );
    } else if dest_norm.is_system_file() {
        emit(out, RuleId::SystemFile, format!("overwrites {dest}"));
    }
}

pub fn truncate(args: &[String], out: &mut Vec<Finding>) {
    let zero = args.windows(2).any(|w| w[0] == "-s" && w[1] == "0")
        || args.iter().any(|a| a == "-s0" || a == "--size=0");
    if zero {
        emit(out, RuleId::Truncate, "empties files");
    }
}

/// `sed -i`, `perl -i`.
pub fn in_place(words: &[String], out: &mut Vec<Finding>) {
    let in_place = words
        .iter()
        .skip(1)
        .any(|a| a.starts_with("-i") || a == "--in-place" || a.starts_with("--in-place="));
    if !in_place {
        return;
    }
    if operands(words).iter().any(|t| paths::is_system_file(t)) {
        emit(
            out,
            RuleId::SystemFile,
            "edits a critical system file in place",
        );
    } else {
        emit(out, RuleId::OverwriteInPlace, "edits files in place");
    }
}
