//! Disks and system files: formatting, raw device writes (`dd`, `cp`, `tee`),
//! overwriting `/etc/passwd` and the like, `shred`.

use super::super::Finding;
use super::paths;
use super::table::{emit, RuleId};
use super::{has_flag, operands};

/// Commands that format, wipe or repartition a disk.
pub fn is_format(name: &str) -> bool {
    matches!(
        name,
        "mkfs"
            | "mkswap"
            | "wipefs"
            | "blkdiscard"
            | "fdisk"
            | "sfdisk"
            | "cfdisk"
            | "gdisk"
            | "sgdisk"
            | "parted"
    ) || name.starts_with("mkfs.")
}

pub fn format(name: &str, args: &[String], out: &mut Vec<Finding>) {
    let listing = args
        .iter()
        .any(|a| a == "-l" || a == "--list" || a == "print" || a == "--help" || a == "-h");
    if name.starts_with("mkfs.") {
        emit(out, RuleId::Mkfs, format!("formats a disk ({name})"));
    } else if !listing {
        emit(
            out,
            RuleId::Mkfs,
            format!("formats or repartitions a disk ({name})"),
        );
    }
}

/// `dd`, `cp`, `tee`, `install`, `shred`: what they write onto.
pub fn writes(name: &str, words: &[String], out: &mut Vec<Finding>) {
    match name {
        "dd" => {
            for a in words.iter().skip(1) {
                if let Some(of) = a.strip_prefix("of=") {
                    if paths::is_device(of) {
                        emit(
                            out,
                            RuleId::WriteDevice,
                            format!("overwrites the disk {of}"),
                        );
                    } else if paths::is_system_file(of) {
                        emit(out, RuleId::SystemFile, format!("overwrites {of}"));
                    }
                }
            }
        }
        "shred" => {
            let ops = operands(words);
            if let Some(d) = ops.iter().find(|t| paths::is_device(t)) {
                emit(
                    out,
                    RuleId::WriteDevice,
                    format!("destroys everything on the disk {d}"),
                );
            } else if !ops.is_empty() {
                emit(
                    out,
                    RuleId::Shred,
                    format!("destroys {} beyond recovery", super::delete::list(&ops)),
                );
            }
        }
        _ => {
            let append = name == "tee" && has_flag(words, 'a', "append");
            let ops = operands(words);
            // tee writes to every operand; cp and install to the last one
            // (or into it, when it is a directory: `cp passwd /etc/`).
            let dests: Vec<String> = match ops.split_last() {
                _ if name == "tee" => ops.iter().map(|t| t.to_string()).collect(),
                Some((dest, sources)) if !sources.is_empty() => {
                    let mut d = vec![dest.to_string()];
                    d.extend(
                        sources
                            .iter()
                            .map(|s| format!("{}/{}", dest.trim_end_matches('/'), super::base(s))),
                    );
                    d
                }
                _ => Vec::new(),
            };
            for t in &dests {
                let norm = paths::normalize(t);
                if norm.is_device() {
                    emit(
                        out,
                        RuleId::WriteDevice,
                        format!("writes onto the disk {t}"),
                    );
                } else if norm.is_system_file() && !append {
                    emit(out, RuleId::SystemFile, format!("overwrites {t}"));
                } else if name == "tee" && norm.is_dotfile() && !append {
                    emit(out, RuleId::Dotfile, format!("overwrites {t}"));
                }
            }
        }
    }
}
