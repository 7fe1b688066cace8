//! The decoding loop: picking tokens, recording runner-ups, stopping, and
//! checking drafted tokens several per pass (see `speculate`).

use crate::engine::speculate::{Drafter, Stats};
use crate::error::{Error, Result};

/// A token that was nearly chosen at one step of a greedy answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// Index into the answer's tokens.
    pub step: usize,
    pub token: u32,
    /// How far its logit is below the chosen token's: small means the model
    /// hesitated there.
    pub gap: f32,
}

/// Runner-ups recorded per step: the second and third most likely tokens.
const RUNNER_UPS: usize = 2;

/// The answer as it is decoded, and when to stop.
pub struct Answer {
    /// Forced tokens, then decoded ones.
    pub out: Vec<u32>,
    pub text: String,
    pub generated: usize,
    pub choices: Vec<Choice>,
    max_tokens: usize,
    stop_ids: Vec<u32>,
    /// A stop token came, or `done` said the text is complete.
    finished: bool,
}

impl Answer {
    pub fn new(
        out: Vec<u32>,
        text: String,
        finished: bool,
        max_tokens: usize,
        stop_ids: Vec<u32>,
    ) -> Self {
        Answer {
            out,
            text,
            generated: 0,
            choices: Vec::new(),
            max_tokens,
            stop_ids,
            finished,
        }
    }

    pub fn wants_more(&self) -> bool {
        !self.finished && self.generated < self.max_tokens
    }

    /// Tokens still allowed after the next one.
    fn room_after_next(&self) -> usize {
        self.max_tokens.saturating_sub(self.generated + 1)
    }

    /// Takes the greedy token of `logits`, recording its runner-ups; None at
    /// a stop token (which is not part of the answer).
    fn pick(
        &mut self,
        logits: &[f32],
        text: &dyn Fn(&[u32]) -> Result<String>,
        done: &impl Fn(&str) -> bool,
    ) -> Result<Option<u32>> {
        let (best, runners) = top_choices(logits, &self.stop_ids)?;
        let step = self.out.len();
        self.choices.extend(
            runners
                .into_iter()
                .map(|(token, gap)| Choice { step, token, gap }),
        );
        Ok(self.push(best, text, done)?.then_some(best))
    }

    /// Appends `token` unless it is a stop token (then false), and checks
    /// whether the text is complete.
    pub fn push(
        &mut self,
        token: u32,
        text: &dyn Fn(&[u32]) -> Result<String>,
        done: &impl Fn(&str) -> bool,
    ) -> Result<bool> {
        if self.stop_ids.contains(&token) {
            self.finished = true;
            return Ok(false);
        }
        self.out.push(token);
        self.generated += 1;
        self.text = text(&self.out)?;
        self.finished = done(&self.text);
        Ok(true)
    }
}

/// Greedy decoding from `logits` (the prompt's last position).
///
/// `pass(drop, feed)` forgets the last `drop` positions the model was fed,
/// runs `feed` and returns its logits, one row per fed token when several
/// (a vocabulary each). With a `drafter`, each pass feeds the decided token
/// and the drafts after it; row i then predicts the token after draft i, so
/// the rows are read in order while the drafts agree with the greedy choice,
/// and positions after the first disagreement are dropped. Tokens, runner-
/// ups and stops are those of one token per pass; only the float rounding
/// of several-row kernels can differ.
pub fn greedy(
    logits: Vec<f32>,
    mut drafter: Option<Drafter>,
    answer: &mut Answer,
    text: &dyn Fn(&[u32]) -> Result<String>,
    done: &impl Fn(&str) -> bool,
    mut pass: impl FnMut(usize, &[u32]) -> Result<Vec<f32>>,
) -> Result<Stats> {
    let mut stats = Stats::default();
    let vocab = logits.len();
    let mut rows = logits;
    let mut drafts: Vec<u32> = Vec::new();
    while answer.wants_more() {
        let mut next = None;
        for (i, row) in rows.chunks_exact(vocab.max(1)).enumerate() {
            let Some(token) = answer.pick(row, text, done)? else {
                stats.accepted += i;
                return Ok(stats);
            };
            if let Some(d) = &mut drafter {
                d.push(token);
            }
            if !answer.wants_more() {
                stats.accepted += i;
                return Ok(stats);
            }
            if drafts.get(i) != Some(&token) {
                stats.accepted += i;
                if let Some(d) = drafter.as_mut().filter(|_| !drafts.is_empty()) {
                    d.checked(drafts.len(), i);
                }
                next = Some((token, drafts.len() - i));
                break;
            }
        }
        // The rows after the last one read followed a wrong draft.
        let Some((token, drop)) = next else {
            return Err(Error::other("the model returned no scores"));
        };
        drafts = drafter
            .as_ref()
            .map(|d| d.propose(answer.room_after_next()))
            .unwrap_or_default();
        if !drafts.is_empty() {
            stats.drafted += drafts.len();
            stats.checks += 1;
        }
        let mut feed = Vec::with_capacity(drafts.len() + 1);
        feed.push(token);
        feed.extend_from_slice(&drafts);
        rows = pass(drop, &feed)?;
        if rows.len() != vocab * feed.len() {
            return Err(Error::other("the model returned scores of the wrong size"));
        }
    }
    Ok(stats)
}

/// The greedy token and the runner-ups with their logit gaps, stop tokens
/// left out of the runner-ups (stopping early only truncates the answer).
/// Ties go to the lowest id, as with `argmax`.
fn top_choices(v: &[f32], stop_ids: &[u32]) -> Result<(u32, Vec<(u32, f32)>)> {
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(RUNNER_UPS + 2);
    for (i, &x) in v.iter().enumerate() {
        if x.is_nan() || top.len() == RUNNER_UPS + 2 && x <= top[top.len() - 1].1 {
            continue;
        }
        let at = top.iter().position(|&(_, y)| x > y).unwrap_or(top.len());
        top.insert(at, (i as u32, x));
        // One spare place: the best may be followed by a stop token.
        top.truncate(RUNNER_UPS + 2);
    }
    let Some(&(best, best_logit)) = top.first() else {
        return Err(Error::other("the model produced no scores"));
    };
    let runners = top[1..]
        .iter()
        .filter(|(t, _)| !stop_ids.contains(t))
        .take(RUNNER_UPS)
        .map(|&(t, x)| (t, best_logit - x))
        .collect();
    Ok((best, runners))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOCAB: usize = 16;
    const STOP: u32 = 0;
    const BARRIER: u32 = 1;

    /// A stand-in model: the next token is a function of the last two, and
    /// the answer repeats every ten tokens, so lookups find drafts; `STOP`
    /// at position `stop_at`.
    fn next_of(ctx: &[u32], stop_at: usize) -> u32 {
        if ctx.len() == stop_at {
            return STOP;
        }
        let n = ctx.len();
        (ctx[n - 1] + ctx[n - 2]) % 11 + 2
    }

    /// Ends in 5 7, whose answer is 3 12 6 9 6 6 3 11 5 7 over and over;
    /// 12 6 and 6 6 are followed here by what the model does not say, so
    /// the first drafts after them are wrong.
    const PROMPT: &[u32] = &[12, 6, 2, 6, 6, 8, 3, 4, 9, 2, 5, 7];

    /// Scores with the greedy token first, then the ones after it (mod the
    /// vocabulary) at gaps 1, 2, …: runner-ups to record.
    fn row(best: u32) -> Vec<f32> {
        (0..VOCAB as u32)
            .map(|j| -(((j + VOCAB as u32 - best) % VOCAB as u32) as f32))
            .collect()
    }

    struct Run {
        out: Vec<u32>,
        choices: Vec<Choice>,
        stats: Stats,
        /// What the model holds at the end: the prompt and the answer, but
        /// its last token, whatever was drafted and dropped on the way.
        fed: Vec<u32>,
    }

    fn run(
        prompt: &[u32],
        speculate: bool,
        max_tokens: usize,
        stop_at: usize,
        done_at: u32,
    ) -> Run {
        let mut fed = prompt.to_vec();
        let first = row(next_of(&fed, stop_at));
        let drafter = speculate.then(|| Drafter::new(prompt.to_vec(), vec![STOP, BARRIER]));
        let mut answer = Answer::new(Vec::new(), String::new(), false, max_tokens, vec![STOP]);
        let text = |ids: &[u32]| Ok(ids.iter().map(|t| format!("{t},")).collect::<String>());
        let done_text = format!("{done_at},");
        let done = |t: &str| t.ends_with(&done_text);
        let pass = |drop: usize, feed: &[u32]| {
            fed.truncate(fed.len() - drop);
            let mut rows = Vec::new();
            for &t in feed {
                fed.push(t);
                rows.extend(row(next_of(&fed, stop_at)));
            }
            Ok(rows)
        };
        let stats = greedy(first, drafter, &mut answer, &text, &done, pass).unwrap();
        Run {
            out: answer.out,
            choices: answer.choices,
            stats,
            fed,
        }
    }

    fn same_as_plain(prompt: &[u32], max_tokens: usize, stop_at: usize, done_at: u32) -> Stats {
        let plain = run(prompt, false, max_tokens, stop_at, done_at);
        let spec = run(prompt, true, max_tokens, stop_at, done_at);
        assert_eq!(spec.out, plain.out);
        assert_eq!(spec.choices, plain.choices);
        assert_eq!(plain.stats, Stats::default());
        for r in [&plain, &spec] {
            let mut want = prompt.to_vec();
            want.extend_from_slice(&r.out[..r.out.len().saturating_sub(1)]);
            // Past the answer's end there may be what the last pass fed.
            assert!(
                r.fed.starts_with(&want),
                "positions after a wrong draft were kept: {:?}, want {want:?}",
                r.fed
            );
        }
        spec.stats
    }

    #[test]
    fn drafts_give_the_plain_greedy_answer_and_save_passes() {
        // The sequence repeats: later drafts come from the answer itself.
        let stats = same_as_plain(PROMPT, 60, usize::MAX, 99);
        assert!(stats.accepted > 0, "{stats:?}");
        assert!(stats.accepted < stats.drafted, "no wrong draft: {stats:?}");
        assert!(stats.accepted <= stats.drafted);
    }

    #[test]
    fn stops_where_plain_greedy_stops() {
        let prompt = PROMPT;
        // A stop token, `done` and max_tokens falling inside a run of
        // accepted drafts, at every offset.
        for at in 0..40 {
            same_as_plain(prompt, 60, prompt.len() + at, 99);
            same_as_plain(prompt, at + 1, usize::MAX, 99);
        }
        for done_at in 2..13 {
            same_as_plain(prompt, 60, usize::MAX, done_at);
        }
    }

    #[test]
    fn ties_go_to_the_lowest_id_and_stops_are_not_runner_ups() {
        let (best, runners) = top_choices(&[1.0, 3.0, 3.0, 2.5, 2.0], &[3]).unwrap();
        assert_eq!(best, 1);
        assert_eq!(runners, vec![(2, 0.0), (4, 1.0)]);
    }
}
