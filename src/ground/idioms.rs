//! Idioms a small model writes that read right and do something else.

use super::{program, simple_commands, Request, Token};

/// `lsof … | awk '{print $2}'` prints lsof's header word `PID` with the
/// pids (`kill PID` then fails); `lsof -t` prints the pids alone.
pub(super) fn lsof_pids(cmd: &str) -> String {
    let cmds = simple_commands(cmd);
    for pair in cmds.windows(2) {
        let (lsof, awk) = (&pair[0], &pair[1]);
        let (Some((at, "lsof")), Some((_, "awk"))) = (program(cmd, lsof), program(cmd, awk)) else {
            continue;
        };
        let script = awk.last().map(|t| &cmd[t.start..t.end]);
        let prints_pid = matches!(script, Some("'{print $2}'" | "'{ print $2 }'"));
        let has_t = lsof[at + 1..]
            .iter()
            .any(|t| super::short_flags(&cmd[t.start..t.end]).is_some_and(|f| f.contains('t')));
        if awk.len() != 2 || !prints_pid || has_t || !cmd[lsof[at].end..awk[0].start].contains('|')
        {
            continue;
        }
        // `lsof -t ARGS`, then whatever followed the awk.
        let after = &cmd[awk[1].end..];
        return format!(
            "{} -t{}{after}",
            &cmd[..lsof[at].end],
            &cmd[lsof[at].end..lsof.last().map_or(lsof[at].end, |t| t.end)]
        );
    }
    cmd.to_string()
}

/// `grep -o '\w' f | wc -l` counts word *characters*; for "how many words"
/// it is `wc -w`.
pub(super) fn word_count(cmd: &str, req: &Request) -> String {
    if !req.has_any_word(&["word", "words"]) {
        return cmd.to_string();
    }
    let cmds = simple_commands(cmd);
    let [grep, wc] = &cmds[..] else {
        return cmd.to_string();
    };
    let text = |t: &Token| &cmd[t.start..t.end];
    let (Some((at, "grep")), Some((_, "wc"))) = (program(cmd, grep), program(cmd, wc)) else {
        return cmd.to_string();
    };
    let args: Vec<&str> = grep[at + 1..].iter().map(text).collect();
    let only = args.iter().any(|a| {
        super::short_flags(a)
            .is_some_and(|f| f.contains('o') && f.chars().all(|c| "oiE".contains(c)))
    });
    let letters = |a: &&str| matches!(*a, r"'\w'" | r#""\w""# | r"\\w");
    let rest: Vec<&&str> = args
        .iter()
        .filter(|a| !a.starts_with('-') && !letters(a))
        .collect();
    let counts_lines = wc.len() == 2 && text(&wc[1]) == "-l";
    match (only, args.iter().any(letters), &rest[..], counts_lines) {
        (true, true, [file], true) => format!("wc -w < {file}"),
        _ => cmd.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use crate::ground::gnu;

    #[test]
    fn lsof_gives_the_pids_itself() {
        assert_eq!(
            gnu(
                "lsof -i :3000 | awk '{print $2}' | xargs kill",
                "kill what listens on 3000"
            ),
            "lsof -t -i :3000 | xargs kill"
        );
        assert_eq!(
            gnu("lsof -i:80 | awk '{ print $2 }'", "pids on port 80"),
            "lsof -t -i:80"
        );
        for cmd in [
            "lsof -t -i :3000 | xargs kill",
            "lsof -i :3000 | awk 'NR>1 {print $2}'",
            "lsof -i :3000 | awk '{print $1}'",
            "lsof -i :3000",
        ] {
            assert_eq!(gnu(cmd, "who uses port 3000"), cmd);
        }
    }

    #[test]
    fn counting_words_is_wc_w() {
        assert_eq!(
            gnu(
                r"grep -o -i '\w' notes.md | wc -l",
                "count the words in notes.md"
            ),
            "wc -w < notes.md"
        );
        assert_eq!(
            gnu(r"grep -o '\w' a | wc -l", "number of words in a"),
            "wc -w < a"
        );
        for (cmd, req) in [
            (
                r"grep -o '\w' a | wc -l",
                "count the letters and digits in a",
            ),
            (r"grep -o '\w\+' a | wc -l", "count the words in a"),
            (r"grep -c '\w' a", "lines with a word in a"),
            (r"cat a | grep -o '\w' | wc -l", "count words in a"),
        ] {
            assert_eq!(gnu(cmd, req), cmd, "{req}");
        }
    }
}
