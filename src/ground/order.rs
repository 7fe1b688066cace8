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

/// The end of an `ls -t` / `ls -S` listing the request asks for: `('t',
/// true)` for the newest file, `('t', false)` for the oldest, `('S', true)`
/// for the largest, `('S', false)` for the smallest.
fn end_wanted(req: &Request) -> Option<(char, bool)> {
    let last = [
        "modified", "changed", "edited", "updated", "touched", "written",
    ]
    .iter()
    .any(|w| req.contains(&format!("{w} last")) || req.contains(&format!("last {w}")));
    if req.has_any_word(&["oldest", "earliest"]) || req.contains("least recent") {
        Some(('t', false))
    } else if req.has_any_word(&["newest", "latest"]) || req.contains("most recent") || last {
        Some(('t', true))
    } else if req.has_word("smallest") {
        Some(('S', false))
    } else if req.has_any_word(&["largest", "biggest"]) {
        Some(('S', true))
    } else {
        None
    }
}

/// `ls -t | tail -n 1` for the newest file: `ls -t` lists the newest first
/// (and `ls -S` the largest), so `tail` takes the oldest. Where the request
/// names an end and the pipe takes the other one, `head` and `tail` swap;
/// `ls -l` prints a `total` line first, which `head` then skips.
pub(super) fn ls_end(cmd: &str, req: &Request) -> String {
    let Some((key, top)) = end_wanted(req) else {
        return cmd.to_string();
    };
    let cmds = simple_commands(cmd);
    let programs: Vec<&str> = cmds
        .iter()
        .filter_map(|t| program(cmd, t))
        .map(|p| p.1)
        .collect();
    let piped = cmd.matches('|').count() == 1 && !cmd.contains("||") && !cmd.contains("&&");
    if !piped
        || programs.len() != 2
        || programs[0] != "ls"
        || !matches!(programs[1], "head" | "tail")
    {
        return cmd.to_string();
    }
    let word = |t: &super::Token| &cmd[t.start..t.end];
    let flags: String = cmds[0]
        .iter()
        .filter_map(|t| super::short_flags(word(t)))
        .collect();
    let long_sort = cmds[0]
        .iter()
        .any(|t| word(t).starts_with("--sort") || word(t).starts_with("--time"));
    let other = if key == 't' { 'S' } else { 't' };
    if long_sort
        || !flags.contains(key)
        || flags.contains(other)
        || flags.contains(['U', 'X', 'v', 'f'])
    {
        return cmd.to_string();
    }
    // What the listing puts first: the newest (largest) unless reversed.
    let front = top != flags.contains('r');
    let takes_front = programs[1] == "head";
    let Some((at, _)) = program(cmd, &cmds[1]) else {
        return cmd.to_string();
    };
    let args: Vec<&str> = cmds[1][at + 1..].iter().map(word).collect();
    let Some(count) = super::line_count(&args) else {
        return cmd.to_string();
    };
    // `ls -l`'s first line is `total …`: `head -n 1` shows only that.
    let total_line = flags.contains('l');
    let (tool, count) = if front == takes_front {
        if !(takes_front && total_line && count == req.count()) {
            return cmd.to_string();
        }
        ("head", count + 1)
    } else if takes_front {
        ("tail", count)
    } else {
        ("head", count + u32::from(total_line))
    };
    let ls_end = cmds[0].last().map_or(0, |t| t.end);
    format!("{} | {tool} -n {count}", &cmd[..ls_end])
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
                "ls -lS | head -n 6",
            ),
            ("ls -lh | sort -rh", "list files sorted by size", "ls -lhS"),
            ("ls -l | sort -n", "list files sorted by size", "ls -lSr"),
            ("ls -al | sort -h", "list files, largest first", "ls -alS"),
            (
                "ls -lh | sort -rh | head -n 3",
                "the 3 largest files here",
                "ls -lhS | head -n 4",
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

    #[test]
    fn the_end_of_a_sorted_listing_is_the_one_asked_for() {
        for (cmd, req, want) in [
            (
                "ls -t | tail -n 1",
                "show the newest file",
                "ls -t | head -n 1",
            ),
            (
                "ls -lt | tail -n 1",
                "what is the most recently modified file",
                "ls -lt | head -n 2",
            ),
            (
                "ls -t | tail -1",
                "which file was changed last",
                "ls -t | head -n 1",
            ),
            (
                "ls -t | head -n 1",
                "show the oldest file",
                "ls -t | tail -n 1",
            ),
            (
                "ls -lS | tail -n 3",
                "the 3 largest files",
                "ls -lS | head -n 4",
            ),
            ("ls -S | head", "the smallest files", "ls -S | tail -n 10"),
            (
                "ls -tr | head -n 1",
                "the latest file",
                "ls -tr | tail -n 1",
            ),
        ] {
            assert_eq!(gnu(cmd, req), want, "{req}");
        }
        // The right end already, no end named, other pipes and sorts.
        for (cmd, req) in [
            ("ls -t | head -n 1", "show the newest file"),
            ("ls -tr | tail -n 1", "the latest file"),
            ("ls -lhS | head -n 2", "biggest file here"),
            ("ls -lt | head -n 5", "the 3 newest files"),
            ("ls -t | tail -n 1", "show the last file in time order"),
            ("ls -t | tail -n 1 | xargs cat", "print the newest file"),
            ("ls -lS | tail -n 1", "the newest file"),
            ("ls -t | tail -c 5", "the newest file"),
            ("ls --sort=time | tail -n 1", "the newest file"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }
}
