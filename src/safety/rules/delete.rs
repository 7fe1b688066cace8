//! Deleting: `rm`, `find -delete` / `-exec rm`, and `xargs rm`, including
//! what flows into xargs (`echo / | xargs rm -rf`, `find / | xargs rm`).
//!
//! A recursive delete is rated by what its target is after normalisation
//! (`paths::Place`): `/`, `~` or a system directory is critical; `.`, `*`,
//! `..`, an absolute path outside temp and caches, a home subtree or a
//! variable is high; a named project path, build output, cache or temp dir
//! is what the user asked for, and moderate.

use super::super::parse::Simple;
use super::super::Finding;
use super::paths::{self, Place};
use super::table::{emit, RuleId};
use super::{base, has_flag, operands, permissions, unwrap, Ctx, Source};

/// "a, b, c and 2 more".
pub fn list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [a, b] => format!("{a} and {b}"),
        [a, b, c] => format!("{a}, {b} and {c}"),
        [a, b, c, rest @ ..] => format!("{a}, {b}, {c} and {} more", rest.len()),
    }
}

/// "whatever $DIR/ expands to (all of / if it is empty)".
pub fn unknown(raw: &str) -> String {
    if super::super::parse::has_placeholder(raw) {
        return "whatever a command substitution prints".into();
    }
    let shown = raw;
    if raw.ends_with('/') || raw.ends_with("/*") {
        format!("whatever {shown} expands to (all of / if it is empty)")
    } else {
        format!("whatever {shown} expands to")
    }
}

pub fn rm(words: &[String], out: &mut Vec<Finding>) {
    let Some(first) = words.first() else { return };
    let name = base(first);
    let recursive =
        name == "rm" && (has_flag(words, 'r', "recursive") || has_flag(words, 'R', "recursive"));
    if words.iter().any(|w| w == "--no-preserve-root") {
        emit(out, RuleId::NoPreserveRoot, "disables rm's protection of /");
    }
    let targets = operands(words);
    let mut flagged = false;
    let mut named = Vec::new();
    for t in &targets {
        let norm = paths::normalize(t);
        match norm.place(t) {
            Place::Precious(what) => {
                if recursive || norm.all_in {
                    let how = if recursive {
                        "recursively deletes"
                    } else {
                        "deletes everything in"
                    };
                    emit(out, RuleId::RmRoot, format!("{how} {what}"));
                    flagged = true;
                }
            }
            _ if !recursive => {}
            Place::Named => named.push(*t),
            Place::Here(what) | Place::Outside(what) => {
                emit(
                    out,
                    RuleId::RmRecursive,
                    format!("recursively deletes {what}"),
                );
                flagged = true;
            }
            Place::Unknown(raw) => {
                emit(
                    out,
                    RuleId::RmRecursive,
                    format!("recursively deletes {}", unknown(&raw)),
                );
                flagged = true;
            }
        }
    }
    if !named.is_empty() {
        emit(
            out,
            RuleId::RmDir,
            format!("recursively deletes {}", list(&named)),
        );
        flagged = true;
    }
    if !flagged && !targets.is_empty() {
        let what = if name == "rmdir" {
            "removes directories"
        } else {
            "deletes files"
        };
        emit(out, RuleId::Rm, what);
    }
}

/// Tests that narrow what find matches. `-type`, `-maxdepth` and the like
/// do not: `find . -type f -delete` still deletes every file.
const NARROWING: &[&str] = &[
    "-name",
    "-iname",
    "-path",
    "-ipath",
    "-wholename",
    "-iwholename",
    "-regex",
    "-iregex",
    "-lname",
    "-ilname",
    "-size",
    "-mtime",
    "-mmin",
    "-atime",
    "-amin",
    "-ctime",
    "-cmin",
    "-newer",
    "-anewer",
    "-cnewer",
    "-newermt",
    "-newerct",
    "-newerat",
    "-used",
    "-empty",
    "-user",
    "-uid",
    "-group",
    "-gid",
    "-nouser",
    "-nogroup",
    "-perm",
    "-links",
    "-inum",
    "-samefile",
];

fn narrowed(expr: &[String]) -> bool {
    expr.iter().enumerate().any(|(i, w)| {
        let negated = i > 0 && matches!(expr[i - 1].as_str(), "!" | "-not");
        let name_like = matches!(
            w.as_str(),
            "-name" | "-iname" | "-path" | "-ipath" | "-wholename" | "-iwholename"
        );
        let matches_all = name_like
            && expr
                .get(i + 1)
                .is_some_and(|p| p.chars().all(|c| c == '*' || c == '/' || c == '.'));
        NARROWING.contains(&w.as_str()) && !negated && !matches_all
    })
}

fn severity(p: &Place) -> u8 {
    match p {
        Place::Precious(_) => 4,
        Place::Unknown(_) => 3,
        Place::Here(_) | Place::Outside(_) => 2,
        Place::Named => 1,
    }
}

const CHMOD_LIKE: &[&str] = &["chmod", "chown", "chgrp"];

pub fn find(words: &[String], nested: &mut Vec<String>, out: &mut Vec<Finding>) {
    let mut rest = words.get(1..).unwrap_or(&[]);
    // find's own options before the starting points: -H -L -P -D opts -O3.
    while let Some(w) = rest.first() {
        match w.as_str() {
            "-H" | "-L" | "-P" => rest = &rest[1..],
            "-D" => rest = &rest[rest.len().min(2)..],
            o if o.starts_with("-O") => rest = &rest[1..],
            _ => break,
        }
    }
    let n_roots = rest
        .iter()
        .take_while(|w| !w.starts_with('-') && !w.starts_with('(') && *w != "!" && *w != ",")
        .count();
    let mut roots: Vec<&str> = rest[..n_roots].iter().map(String::as_str).collect();
    if roots.is_empty() {
        roots.push(".");
    }
    let expr = &rest[n_roots..];
    let deletes = expr.iter().any(|w| w == "-delete");
    let narrow = narrowed(expr);
    let mut exec_rm = false;
    let mut i = 0;
    while i < expr.len() {
        if matches!(expr[i].as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
            let payload: Vec<String> = expr[i + 1..]
                .iter()
                .take_while(|w| !matches!(w.as_str(), ";" | "+" | "\\;"))
                .cloned()
                .collect();
            i += payload.len() + 1;
            let (inner, _) = unwrap(&payload);
            let cmd = inner.first().map(|w| base(w)).unwrap_or("");
            if matches!(cmd, "rm" | "shred" | "unlink") {
                exec_rm = true;
                continue;
            }
            // `find / -exec chmod 777 {} +` re-permissions every file under /.
            let precious_root = roots.iter().find(|r| paths::precious(r).is_some());
            if let Some(root) = precious_root.filter(|_| !narrow) {
                if CHMOD_LIKE.contains(&cmd) && inner.iter().any(|w| w == "{}") {
                    let mut as_tree = vec![cmd.to_string(), "-R".to_string()];
                    as_tree.extend(inner[1..].iter().map(|w| {
                        if w == "{}" {
                            root.to_string()
                        } else {
                            w.clone()
                        }
                    }));
                    permissions::chmod(cmd, &as_tree, out);
                    continue;
                }
            }
            if !payload.is_empty() {
                nested.push(shell_words::join(&payload));
            }
        }
        i += 1;
    }
    if !deletes && !exec_rm {
        return;
    }
    let Some((root, place)) = roots
        .iter()
        .map(|r| (*r, paths::place(r)))
        .max_by_key(|(_, p)| severity(p))
    else {
        return;
    };
    match place {
        Place::Precious(what) if narrow && paths::normalize(root).is_home() => emit(
            out,
            RuleId::FindDeleteAll,
            format!("deletes the files it matches throughout {what}"),
        ),
        Place::Precious(what) => emit(
            out,
            RuleId::FindDeleteRoot,
            format!("deletes files throughout {what}"),
        ),
        _ if narrow => emit(out, RuleId::FindDelete, "deletes the files find matches"),
        Place::Named => emit(
            out,
            RuleId::FindDelete,
            format!("deletes everything under {root}"),
        ),
        Place::Here(what) | Place::Outside(what) => {
            let reason = if what.starts_with("everything") {
                format!("deletes {what}")
            } else {
                format!("deletes everything under {what}")
            };
            emit(out, RuleId::FindDeleteAll, reason)
        }
        Place::Unknown(raw) => emit(
            out,
            RuleId::FindDeleteAll,
            format!("deletes everything under {}", unknown(&raw)),
        ),
    }
}

/// The words `echo` or `printf` print, or None for other commands.
fn printed(words: &[String]) -> Option<Vec<String>> {
    let name = base(words.first()?);
    let args = &words[1..];
    let text: Vec<String> = match name {
        "echo" => args
            .iter()
            .skip_while(|a| matches!(a.as_str(), "-n" | "-e" | "-E" | "-ne" | "-en"))
            .cloned()
            .collect(),
        "printf" => match args {
            [] => return None,
            [format] => vec![format.replace("\\n", "\n")],
            [_, rest @ ..] => rest.to_vec(),
        },
        _ => return None,
    };
    let items: Vec<String> = text
        .iter()
        .flat_map(|t| t.split_whitespace().map(str::to_string))
        .collect();
    (!items.is_empty()).then_some(items)
}

pub fn xargs(args: &[String], ctx: &Ctx, nested: &mut Vec<String>, out: &mut Vec<Finding>) {
    let mut i = 0;
    let mut replace: Option<String> = None;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            i += 1;
            break;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        match a {
            "-I" => {
                replace = args.get(i + 1).cloned();
                i += 1;
            }
            "-n" | "-P" | "-L" | "-l" | "-d" | "-s" | "-a" | "-E" | "--max-args"
            | "--max-procs" | "--max-lines" | "--delimiter" | "--arg-file" | "--max-chars" => {
                i += 1
            }
            "-i" => replace = Some("{}".into()),
            _ if a.starts_with("-I") => replace = Some(a[2..].to_string()),
            _ if a.starts_with("--replace") => {
                replace = Some(a.split_once('=').map_or("{}", |(_, r)| r).to_string())
            }
            _ => {}
        }
        i += 1;
    }
    let inner: Vec<String> = args.get(i..).unwrap_or(&[]).to_vec();
    let Some(first) = inner.first() else { return };
    let upstream = ctx.upstream.map(|u| unwrap(&u.words).0);
    let detached = Ctx {
        bodies: ctx.bodies,
        upstream: None,
        fed: Source::Nothing,
    };
    // Literal input: `echo / | xargs rm -rf` runs `rm -rf /`.
    if let Some(items) = upstream.and_then(printed) {
        let mut words: Vec<String> = Vec::new();
        let mut placed = false;
        for w in &inner {
            if replace.as_deref() == Some(w.as_str()) {
                words.extend(items.iter().cloned());
                placed = true;
            } else {
                words.push(w.clone());
            }
        }
        if !placed {
            words.extend(items);
        }
        let cmd = Simple {
            words,
            ..Simple::default()
        };
        super::simple(&cmd, &detached, nested, out);
        return;
    }
    // Found files: `find / -type f | xargs rm` deletes what find finds.
    if let Some(found) = upstream.filter(|u| u.first().is_some_and(|w| base(w) == "find")) {
        let mut words = found.to_vec();
        words.push("-exec".into());
        let mut placed = false;
        for w in &inner {
            if replace.as_deref() == Some(w.as_str()) {
                words.push("{}".into());
                placed = true;
            } else {
                words.push(w.clone());
            }
        }
        if !placed {
            words.push("{}".into());
        }
        words.push("+".into());
        find(&words, nested, out);
        return;
    }
    if base(first) == "rm" {
        if has_flag(&inner, 'r', "recursive") || has_flag(&inner, 'R', "recursive") {
            emit(
                out,
                RuleId::XargsRm,
                "recursively deletes whatever its input names",
            );
        } else {
            emit(out, RuleId::Rm, "deletes the files its input names");
        }
    } else {
        let cmd = Simple {
            words: inner,
            ..Simple::default()
        };
        super::simple(&cmd, &detached, nested, out);
    }
}
