//! The order the request asked for, where `ls` gives it itself: a listing
//! "sorted by size" from `ls -lh` is in name order, and nothing on the
//! screen says so.

use super::{program, simple_commands, splice, Request};

/// `ls` flags for the order the request names, or None where it names none.
fn wanted(req: &Request) -> Option<(char, bool)> {
    let by = |what: &[&str]| {
        req.near(&["by", "on"], 2, |w| what.contains(&w))
            || req.near(&["sort", "sorted", "order", "ordered"], 4, |w| {
                what.contains(&w)
            })
    };
    let (size, time) = (["size", "sizes"], ["time", "date", "modification", "mtime"]);
    if req.has_word("smallest") {
        Some(('S', true))
    } else if req.has_any_word(&["largest", "biggest"]) || by(&size) {
        Some(('S', false))
    } else if req.has_word("oldest") {
        Some(('t', true))
    } else if req.has_any_word(&["newest", "latest"]) || req.contains("most recent") || by(&time) {
        Some(('t', false))
    } else {
        None
    }
}

/// `ls` without a sort flag, in a command that does not sort its output
/// otherwise (or sorts it wrongly, by the mode column), gets the order the
/// request asked for (`-S` size, `-t` time, `r` for smallest or oldest
/// first).
pub(super) fn ls_order(cmd: &str, req: &Request) -> String {
    let Some((key, mut reverse)) = wanted(req) else {
        return cmd.to_string();
    };
    let mut cmds = simple_commands(cmd);
    let mut programs: Vec<&str> = cmds
        .iter()
        .filter_map(|t| program(cmd, t))
        .map(|p| p.1)
        .collect();
    // `ls -l | sort -h` sorts the lines by their first column (the mode
    // string), not by size: `ls -S` is what it meant, in the same direction
    // unless the request names one.
    let keeps_order = |p: &&str| matches!(*p, "head" | "tail" | "less" | "more" | "grep");
    let piped = cmd.contains('|') && !cmd.contains("||") && !cmd.contains("&&");
    let mut owned;
    let mut cmd = cmd;
    if key == 'S' && piped && programs.len() >= 2 && programs[..2] == ["ls", "sort"] {
        let toks = &cmds[1];
        let flags: Vec<&str> = toks[1..].iter().map(|t| &cmd[t.start..t.end]).collect();
        let plain = |f: &&str| matches!(*f, "-r" | "-h" | "-n" | "-rh" | "-hr" | "-nr" | "-rn");
        // `ls -s` puts the size first, where `sort -n` finds it.
        let sized = cmds[0]
            .iter()
            .any(|t| super::short_flags(&cmd[t.start..t.end]).is_some_and(|f| f.contains('s')));
        if sized
            || toks.len() < 2
            || !flags.iter().all(plain)
            || !programs[2..].iter().all(keeps_order)
        {
            return cmd.to_string();
        }
        if !req.has_any_word(&["smallest", "largest", "biggest"]) {
            reverse = !flags.iter().any(|f| f.contains('r'));
        }
        let ls_end = cmds[0].last().map_or(0, |t| t.end);
        let sort_end = toks.last().map_or(0, |t| t.end);
        owned = format!("{}{}", &cmd[..ls_end], &cmd[sort_end..]);
        // The `|` before sort goes with it: what follows keeps its own.
        if let Some(rest) = cmd[sort_end..].trim_start().strip_prefix('|') {
            owned = format!("{} |{}", &cmd[..ls_end], rest);
        }
        cmd = &owned;
        cmds = simple_commands(cmd);
        programs.remove(1);
    }
    // `ls` alone, or piped into something that keeps its order.
    if programs.first() != Some(&"ls")
        || programs[1..].iter().any(|p| !keeps_order(p))
        || (programs.len() > 1 && !piped)
    {
        return cmd.to_string();
    }
    let toks = &cmds[0];
    let Some((at, _)) = program(cmd, toks) else {
        return cmd.to_string();
    };
    let args: Vec<&str> = toks[at + 1..]
        .iter()
        .map(|t| &cmd[t.start..t.end])
        .collect();
    let sorts = |a: &&str| {
        a.starts_with("--sort")
            || a.starts_with("--time")
            || (a.starts_with('-')
                && !a.starts_with("--")
                && a.contains(['S', 't', 'U', 'X', 'v', 'f', 'c', 'u']))
    };
    if args.iter().any(sorts) {
        return cmd.to_string();
    }
    let letters = if reverse
        && !args
            .iter()
            .any(|a| a.starts_with('-') && !a.starts_with("--") && a.contains('r'))
    {
        format!("{key}r")
    } else {
        key.to_string()
    };
    let cluster = toks[at + 1..]
        .iter()
        .find(|t| !t.quoted && super::short_flags(&cmd[t.start..t.end]).is_some());
    let edit = match cluster {
        Some(t) => (t.end, t.end, letters),
        None => {
            let end = toks[at].end;
            (end, end, format!(" -{letters}"))
        }
    };
    splice(cmd, vec![edit])
}

#[cfg(test)]
mod tests {
    use crate::ground::gnu;

    #[test]
    fn ls_sorts_as_asked() {
        for (cmd, req, want) in [
            (
                "ls -lh testbed",
                "list the files in testbed sorted by size",
                "ls -lhS testbed",
            ),
            ("ls", "show files here, largest first", "ls -S"),
            ("ls -l", "list files, smallest first", "ls -lSr"),
            (
                "ls -la /var/log",
                "list the logs by modification time",
                "ls -lat /var/log",
            ),
            ("ls -l", "newest first please", "ls -lt"),
            ("ls -1", "oldest first", "ls -tr -1"),
            (
                "ls -l | head -n 5",
                "the 5 biggest files here, biggest first",
                "ls -lS | head -n 5",
            ),
            ("ls -lh | sort -rh", "list files sorted by size", "ls -lhS"),
            ("ls -l | sort -n", "list files sorted by size", "ls -lSr"),
            ("ls -al | sort -h", "list files, largest first", "ls -alS"),
            (
                "ls -lh | sort -rh | head -n 3",
                "the 3 largest files here",
                "ls -lhS | head -n 3",
            ),
        ] {
            assert_eq!(gnu(cmd, req), want, "{req}");
        }
    }

    #[test]
    fn other_orders_and_sorting_commands_stay() {
        for (cmd, req) in [
            ("ls -lS", "list files sorted by size"),
            ("ls -lt", "list files by size"),
            ("ls --sort=size", "files by size"),
            ("ls -l | sort -k5 -n", "list files sorted by size"),
            ("ls -l | sort -h", "list files sorted by name"),
            ("ls -l | sort -rh | wc -l", "count files sorted by size"),
            ("ls -ls | sort -n", "list files sorted by size"),
            ("ls -l", "list the files in this folder"),
            ("du -sh * | sort -h", "folder sizes, largest first"),
            ("ls -l && du -sh", "sizes by folder, largest first"),
            ("find . -type f -size +1M", "files by size over a megabyte"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }
}
