//! Prompt-lookup drafts for greedy decoding.
//!
//! A command copies much of its prompt: file names and flags from the
//! request and the directory listing, idioms from the worked examples. The
//! tokens that followed the latest earlier occurrence of the answer's last
//! few tokens are a cheap guess at what comes next; the model checks all the
//! guesses in one pass over several rows (cheaper per row than one pass per
//! token) and keeps the ones its greedy choice agrees with, so the answer is
//! the one plain greedy decoding gives.

/// Longest suffix looked up: longer matches are rarer, and three tokens
/// already pin down a file name or an idiom.
pub const MAX_NGRAM: usize = 3;

/// Shortest suffix worth a draft: after one token the guess is right too
/// rarely to pay for its row (see `Drafter`).
pub const MIN_NGRAM: usize = 2;

/// Most tokens drafted per check.
pub const MAX_DRAFT: usize = 8;

/// Whether to draft at all: `CMDAI_NO_SPECULATION=1` turns it off, to
/// compare or to rule it out.
pub fn enabled() -> bool {
    std::env::var("CMDAI_NO_SPECULATION").map_or(true, |v| v.is_empty() || v == "0")
}

/// Earlier occurrences of a suffix consulted: enough to tell an idiom the
/// examples agree on from a coincidence.
const VOTERS: usize = 8;

/// Up to `k` tokens that followed the most recent earlier occurrence of the
/// last `n` tokens of `history`, trying `n` from `MAX_NGRAM` down to 1, with
/// the `n` that matched; empty when nothing matches, or when fewer than
/// half of the latest occurrences go on the way the most recent one does
/// (after "find ." the examples go on a dozen ways: no guess is good).
pub fn draft(history: &[u32], k: usize) -> (Vec<u32>, usize) {
    if k == 0 {
        return (Vec::new(), 0);
    }
    for n in (1..=MAX_NGRAM.min(history.len().saturating_sub(1))).rev() {
        let suffix = &history[history.len() - n..];
        // Start positions of earlier occurrences, latest first; the suffix
        // itself (starting at len - n) is not a match.
        let mut found = (0..history.len() - n)
            .rev()
            .filter(|&s| &history[s..s + n] == suffix)
            .take(VOTERS)
            .map(|s| s + n);
        let Some(from) = found.next() else {
            continue;
        };
        let (mut voters, mut agree) = (1, 1);
        for other in found {
            voters += 1;
            agree += usize::from(history[other] == history[from]);
        }
        if 2 * agree < voters {
            return (Vec::new(), n);
        }
        let to = (from + k).min(history.len());
        return (history[from..to].to_vec(), n);
    }
    (Vec::new(), 0)
}

/// Where drafts come from, and how many to propose: a check of `k` drafts
/// costs about `1 + k/3` one-token steps here, so a draft must be right more
/// often than about one time in three to pay.
///
/// Measured on the development requests: after a one-token match the next
/// token was right a third of the time (no gain), after two or three tokens
/// about 60 %, and a draft that crosses the end of a turn (a file name
/// copied from the request, followed there by `<|im_end|>`) almost never.
/// Runs of right drafts cluster (copying a listing, a path, an idiom), so
/// the length doubles after a fully accepted check and falls back to one
/// after any miss.
pub struct Drafter {
    /// Everything the model has seen: prefix, request, answer so far.
    history: Vec<u32>,
    /// Tokens a draft never crosses (the chat template's turn markers).
    barriers: Vec<u32>,
    /// Drafts to propose after the next match.
    k: usize,
}

impl Drafter {
    pub fn new(history: Vec<u32>, barriers: Vec<u32>) -> Self {
        Drafter {
            history,
            barriers,
            k: 1,
        }
    }

    /// The answer's next token, decided.
    pub fn push(&mut self, token: u32) {
        self.history.push(token);
    }

    /// Drafts for the tokens after the history's end, at most `room`.
    pub fn propose(&self, room: usize) -> Vec<u32> {
        let (mut d, n) = draft(&self.history, self.k.min(room));
        if n < MIN_NGRAM {
            return Vec::new();
        }
        if let Some(at) = d.iter().position(|t| self.barriers.contains(t)) {
            d.truncate(at);
        }
        d
    }

    /// How the last check went: `accepted` of `drafted` were right.
    pub fn checked(&mut self, drafted: usize, accepted: usize) {
        self.k = if drafted > 0 && accepted == drafted {
            (self.k * 2).min(MAX_DRAFT)
        } else {
            1
        };
    }
}

/// Drafts and acceptances over one answer, for timings and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Tokens proposed to the model.
    pub drafted: usize,
    /// Of those, how many were the model's greedy choice (and so emitted
    /// without a pass of their own).
    pub accepted: usize,
    /// Passes that checked drafts.
    pub checks: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_suffix_wins_and_latest_occurrence() {
        // "1 2 3 9" early, "2 3 7" later: the three-token suffix 1 2 3
        // matches the first, although 2 3 alone would match the later one.
        let h = [1, 2, 3, 9, 8, 2, 3, 7, 5, 1, 2, 3];
        assert_eq!(draft(&h, 4), (vec![9, 8, 2, 3], 3));
        // Only a two-token suffix: the latest occurrence of 2 3 (→ 7 5).
        let h = [2, 3, 9, 0, 2, 3, 7, 5, 4, 2, 3];
        assert_eq!(draft(&h, 2), (vec![7, 5], 2));
    }

    #[test]
    fn no_draft_where_earlier_occurrences_disagree() {
        // 1 2 went on as 3, 4, 5 and 3: the latest (3) has half: drafted.
        let h = [1, 2, 3, 1, 2, 4, 1, 2, 5, 1, 2, 3, 0, 1, 2];
        assert_eq!(draft(&h, 1), (vec![3], 2));
        // 3, 4, 5, then 6 latest: one in four.
        let h = [1, 2, 3, 1, 2, 4, 1, 2, 5, 1, 2, 6, 0, 1, 2];
        assert_eq!(draft(&h, 1), (vec![], 2));
    }

    #[test]
    fn drafts_stop_at_the_end_of_history() {
        // The latest earlier "4" is right before the suffix: one token left.
        let h = [5, 4, 4];
        assert_eq!(draft(&h, 5), (vec![4], 1));
        // Repeating pattern: the match overlaps the suffix.
        let h = [1, 2, 1, 2, 1, 2];
        assert_eq!(draft(&h, 8), (vec![1, 2], 3));
    }

    #[test]
    fn drafter_needs_two_tokens_stops_at_barriers_and_adapts() {
        // Suffix 4 5 matched at the start: drafts 6 7 …, but not past 1.
        let mut d = Drafter::new(vec![4, 5, 6, 7, 8, 1, 9, 4, 5], vec![1]);
        assert_eq!(d.propose(10), vec![6]);
        d.checked(1, 1);
        assert_eq!(d.propose(10), vec![6, 7]);
        d.checked(2, 2);
        assert_eq!(d.propose(10), vec![6, 7, 8]);
        assert_eq!(d.propose(2), vec![6, 7]);
        d.checked(4, 3);
        assert_eq!(d.propose(10), vec![6]);
        // A one-token match is no draft.
        d.push(7);
        assert_eq!(d.propose(10), Vec::<u32>::new());
    }

    #[test]
    fn no_match_no_draft() {
        assert_eq!(draft(&[1, 2, 3], 4), (vec![], 0));
        assert_eq!(draft(&[], 4), (vec![], 0));
        assert_eq!(draft(&[7], 4), (vec![], 0));
        assert_eq!(draft(&[7, 7], 0), (vec![], 0));
        assert_eq!(draft(&[7, 7], 3), (vec![7], 1));
    }
}
