//! Accuracy on an execution-checked NL→shell set (../shared/eval).
//!
//! cargo run --release --example eval -- \
//!     [--model qwen2.5-coder-1.5b] [--cases ../shared/eval/dev.jsonl] [--only d01,d02]
//!
//! Builds the fixture tree, runs the real `cmdai` binary once per case from
//! inside it (so the cwd listing in the prompt is real), writes the
//! predictions, scores them with score.py, and prints accuracy, failures and
//! time per case.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn fail(msg: &str) -> ! {
    eprintln!("eval: {msg}");
    std::process::exit(1)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let eval_dir = root.join("../shared/eval");
    let cases_path = arg("--cases")
        .map(PathBuf::from)
        .unwrap_or(eval_dir.join("dev.jsonl"));
    let model = arg("--model").unwrap_or_else(|| "qwen2.5-coder-1.5b".into());
    let only: Option<Vec<String>> = arg("--only").map(|s| s.split(',').map(String::from).collect());
    // Always measure the current code: rebuild the binary first.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "cmdai"])
        .current_dir(root)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !built {
        fail("cargo build --release failed");
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(&e.to_string()));
    let cmdai = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("cmdai"))
        .unwrap_or_default();
    if !cmdai.is_file() {
        fail(&format!(
            "{} not found: run `cargo build --release` first",
            cmdai.display()
        ));
    }

    let work = std::env::temp_dir().join(format!("cmdai-eval-{}", std::process::id()));
    let fixture = work.join("fixture");
    std::fs::create_dir_all(&work).unwrap_or_else(|e| fail(&e.to_string()));
    let ok = Command::new("bash")
        .arg(eval_dir.join("fixture.sh"))
        .arg(&fixture)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        fail("fixture.sh failed");
    }

    let text = std::fs::read_to_string(&cases_path)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", cases_path.display())));
    let cases: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| fail(&format!("bad case: {e}"))))
        .filter(|c: &serde_json::Value| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|id| c["id"] == id.as_str()))
        })
        .collect();

    let preds_path = work.join("preds.jsonl");
    let mut preds = std::fs::File::create(&preds_path).unwrap_or_else(|e| fail(&e.to_string()));
    let mut times = Vec::new();
    let _ = Command::new(&cmdai)
        .args(["--model", &model, "--json", "--", "warm up"])
        .current_dir(&fixture)
        .output();
    for case in &cases {
        let id = case["id"].as_str().unwrap_or("?").to_string();
        let nl = case["nl"].as_str().unwrap_or("");
        let start = Instant::now();
        let out = Command::new(&cmdai)
            .args([
                "--model",
                &model,
                "--json",
                "--shell",
                "bash",
                "--timeout",
                "300",
                "--",
                nl,
            ])
            .current_dir(&fixture)
            .output()
            .unwrap_or_else(|e| fail(&e.to_string()));
        times.push(start.elapsed().as_secs_f64());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let cmd = v["cmd"].as_str().unwrap_or("").to_string();
        eprintln!("{id} {:>5.1}s  {cmd}", start.elapsed().as_secs_f64());
        writeln!(preds, "{}", serde_json::json!({"id": id, "cmd": cmd}))
            .unwrap_or_else(|e| fail(&e.to_string()));
    }
    drop(preds);

    // score.py prints each failure with its reason, then `accuracy: X/Y`.
    let status = Command::new("python3")
        .arg(eval_dir.join("score.py"))
        .arg(&preds_path)
        .arg("--cases")
        .arg(&cases_path)
        .arg("-q")
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run python3 score.py: {e}")));
    times.sort_by(|a, b| a.total_cmp(b));
    if !times.is_empty() {
        println!(
            "model {model}: {} cases, time per case p50 {:.2}s, max {:.2}s",
            times.len(),
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    println!("predictions: {}", preds_path.display());
    let _ = std::fs::remove_dir_all(&fixture);
    if !status.success() {
        std::process::exit(status.code().unwrap_or(1));
    }
}
