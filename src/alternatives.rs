//! What Ctrl-G pressed again needs to find a different command fast: the
//! greedy answer's tokens, the runner-up tokens not tried yet (least
//! confident step first), and the distinct commands found so far.
//!
//! A widget call is one short process, so this lives in a small file in the
//! cache dir, keyed by everything the answer depends on (model, shell, cwd,
//! the prompt's request part), written atomically, and only trusted for a
//! few minutes: after that the directory may have changed, and the files are
//! pruned so they never pile up.

use crate::engine::Choice;
use crate::error::Result;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a state file is used, and when it is pruned.
pub const LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Distinct commands per request before Ctrl-G cycles back to the first.
pub const MAX_CANDIDATES: usize = 4;
const VERSION: u64 = 2;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct State {
    /// The greedy answer's tokens: a branch replays its first `step` tokens.
    pub answer: Vec<u32>,
    /// Branches not tried yet, the model's least confident step first.
    pub branches: Vec<Choice>,
    /// Distinct commands found, in the order they were shown.
    pub candidates: Vec<String>,
    /// Whether `answer` came from the prompt without the directory listing
    /// (`cmd::suggest`): its branches must replay that prompt.
    pub unlisted: bool,
}

impl State {
    pub fn new(answer: Vec<u32>, mut choices: Vec<Choice>) -> State {
        choices.sort_by(|a, b| a.gap.total_cmp(&b.gap).then(a.step.cmp(&b.step)));
        State {
            answer,
            branches: choices,
            candidates: Vec::new(),
            unlisted: false,
        }
    }

    /// The forced tokens for the next untried branch, which is consumed.
    pub fn take_branch(&mut self) -> Option<Vec<u32>> {
        if self.branches.is_empty() {
            return None;
        }
        let b = self.branches.remove(0);
        let mut forced = self.answer.get(..b.step)?.to_vec();
        forced.push(b.token);
        Some(forced)
    }

    pub fn knows(&self, cmd: &str) -> bool {
        self.candidates.iter().any(|c| same(c, cmd))
    }

    /// The candidate after `current` (wrapping), if one is known and differs.
    pub fn after(&self, current: &str) -> Option<&str> {
        let n = self.candidates.len();
        let at = self.candidates.iter().position(|c| same(c, current));
        let next = match at {
            Some(i) if i + 1 < n => i + 1,
            Some(_) => 0,
            None => 0,
        };
        self.candidates
            .get(next)
            .map(String::as_str)
            .filter(|c| !same(c, current))
    }

    fn to_json(&self, key: &str) -> serde_json::Value {
        serde_json::json!({
            "version": VERSION,
            "key": key,
            "answer": self.answer,
            "branches": self
                .branches
                .iter()
                .map(|b| serde_json::json!([b.step, b.token, b.gap]))
                .collect::<Vec<_>>(),
            "candidates": self.candidates,
            "unlisted": self.unlisted,
        })
    }

    fn from_json(v: &serde_json::Value, key: &str) -> Option<State> {
        if v["version"].as_u64()? != VERSION || v["key"].as_str()? != key {
            return None;
        }
        let ids = |v: &serde_json::Value| -> Option<Vec<u32>> {
            v.as_array()?
                .iter()
                .map(|x| x.as_u64().and_then(|x| u32::try_from(x).ok()))
                .collect()
        };
        let answer = ids(&v["answer"])?;
        let mut branches = Vec::new();
        for b in v["branches"].as_array()? {
            let step = b[0].as_u64()? as usize;
            let token = u32::try_from(b[1].as_u64()?).ok()?;
            let gap = b[2].as_f64()? as f32;
            if step >= answer.len() {
                return None;
            }
            branches.push(Choice { step, token, gap });
        }
        let candidates = v["candidates"]
            .as_array()?
            .iter()
            .map(|c| c.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()?;
        Some(State {
            answer,
            branches,
            candidates,
            unlisted: v["unlisted"].as_bool()?,
        })
    }
}

/// Two commands are the same if they differ only in spacing.
pub fn same(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// The key for one request: every part the answer depends on.
pub fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    crate::models::store::hex(&h.finalize()[..12])
}

/// The folder of state files inside the cache dir.
pub fn dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("alternatives")
}

fn path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.json"))
}

fn fresh(path: &Path, now: SystemTime) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age < LIFETIME))
}

/// The state for `key`, if there is one younger than `LIFETIME`.
pub fn load(dir: &Path, key: &str) -> Option<State> {
    let path = path(dir, key);
    if !fresh(&path, SystemTime::now()) {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    State::from_json(&serde_json::from_str(&text).ok()?, key)
}

/// Saves the state atomically and removes expired ones (and temp files a
/// killed process left). Failure only costs speed on the next press.
pub fn save(dir: &Path, key: &str, state: &State) -> Result<()> {
    prune(dir);
    crate::fsutil::write_atomic(&path(dir, key), state.to_json(key).to_string().as_bytes())
}

fn prune(dir: &Path) {
    let now = SystemTime::now();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_file()) && !fresh(&p, now) {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(step: usize, token: u32, gap: f32) -> Choice {
        Choice { step, token, gap }
    }

    #[test]
    fn branches_start_where_the_model_hesitated() {
        let mut s = State::new(
            vec![10, 11, 12],
            vec![choice(0, 20, 5.0), choice(2, 22, 0.5), choice(1, 21, 1.0)],
        );
        assert_eq!(s.take_branch(), Some(vec![10, 11, 22]));
        assert_eq!(s.take_branch(), Some(vec![10, 21]));
        assert_eq!(s.take_branch(), Some(vec![20]));
        assert_eq!(s.take_branch(), None);
    }

    #[test]
    fn candidates_cycle_and_spacing_does_not_count() {
        let mut s = State {
            candidates: vec!["ls -a".into(), "ls -la".into()],
            ..State::default()
        };
        assert!(same("ls  -a ", "ls -a"));
        assert_eq!(s.after("ls -a"), Some("ls -la"));
        assert_eq!(s.after("ls -la"), Some("ls -a"));
        assert_eq!(s.after("unknown"), Some("ls -a"));
        s.candidates.truncate(1);
        assert_eq!(s.after("ls -a"), None);
    }

    #[test]
    fn state_round_trips_and_expires() {
        let dir = std::env::temp_dir().join(format!("cmdai-alt-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = State::new(vec![1, 2], vec![choice(1, 7, 0.25)]);
        s.candidates.push("echo 'a b'".into());
        let k = key(&["zsh", "/home", "list"]);
        assert_ne!(k, key(&["zsh", "/hom", "elist"]));
        save(&dir, &k, &s).unwrap();
        assert_eq!(load(&dir, &k), Some(s.clone()));
        assert_eq!(load(&dir, &key(&["other"])), None);
        // Written long ago: neither used nor kept.
        let old = std::fs::File::options()
            .write(true)
            .open(path(&dir, &k))
            .unwrap();
        old.set_modified(SystemTime::now() - LIFETIME * 2).unwrap();
        assert_eq!(load(&dir, &k), None);
        prune(&dir);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
