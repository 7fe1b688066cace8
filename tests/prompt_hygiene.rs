//! The prompt must stay general: the eval sets in eval/ measure it, so
//! nothing in the prompt may repeat their requests (7 words in a row) or be
//! a near-copy of one. The product is judged on a hidden set of their kind.

use std::collections::HashSet;
use std::path::Path;

fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !(c.is_ascii_alphanumeric() || "_.-/*".contains(c)))
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

fn eval_requests() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval");
    let mut out = Vec::new();
    for f in ["dev.jsonl", "dev2.jsonl"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push(v["nl"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(out.len(), 138, "eval/dev.jsonl + eval/dev2.jsonl");
    out
}

#[test]
fn the_prompt_repeats_no_eval_request() {
    let requests = eval_requests();
    let mut grams = HashSet::new();
    for r in &requests {
        let w = words(r);
        for g in w.windows(7) {
            grams.insert(g.join(" "));
        }
    }
    let prompt = cmdai::prompt::prefix("Linux (GNU coreutils)");
    let w = words(&prompt);
    for g in w.windows(7) {
        assert!(
            !grams.contains(&g.join(" ")),
            "the prompt repeats an eval request: {g:?}"
        );
    }
    // Nor a near-copy: most of an example's words shared with one request.
    for (example, _) in cmdai::prompt::examples() {
        let e: HashSet<String> = words(example).into_iter().collect();
        for r in &requests {
            let r: HashSet<String> = words(r).into_iter().collect();
            let shared = e.intersection(&r).count() as f64;
            let jaccard = shared / e.union(&r).count().max(1) as f64;
            assert!(
                jaccard < 0.6,
                "example {example:?} is close to eval request {r:?}"
            );
        }
    }
}
