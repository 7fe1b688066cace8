//! Accuracy on the execution-checked NL→shell sets vendored in `eval/`.
//!
//! cargo run --release --example eval -- \
//!     [--model qwen2.5-coder-1.5b] [--cases eval/dev.jsonl,eval/dev2.jsonl] [--only d01,e002]
//!
//! Builds the fixture tree, runs the real `cmdai` binary once per case from
//! inside it (so the cwd listing in the prompt is real), writes the
//! predictions, scores each file with score.py, and prints each file's
//! accuracy, the total, and the time per case. Extra `cmdai` flags go after
//! `--`: `cargo run --release --example eval -- -- --max-tokens 64`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().take_while(|a| a != "--").collect();
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
    let eval_dir = root.join("eval");
    let case_files: Vec<PathBuf> = match arg("--cases") {
        Some(list) => list.split(',').map(PathBuf::from).collect(),
        None => vec![eval_dir.join("dev.jsonl"), eval_dir.join("dev2.jsonl")],
    };
    let model = arg("--model").unwrap_or_else(|| "qwen2.5-coder-1.5b".into());
    let only: Option<Vec<String>> = arg("--only").map(|s| s.split(',').map(String::from).collect());
    let extra: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
    // Always measure the current code: rebuild the binary first.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--bin", "cmdai"])
        .current_dir(root)
        .status()
        .is_ok_and(|s| s.success());
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
        fail(&format!("{} not found", cmdai.display()));
    }

    // Under target/, not $TMPDIR: the predictions are kept for reading.
    let work = root.join("target").join("eval");
    let fixture = work.join("fixture");
    let _ = std::fs::remove_dir_all(&fixture);
    std::fs::create_dir_all(&work).unwrap_or_else(|e| fail(&e.to_string()));
    let ok = Command::new("bash")
        .arg(eval_dir.join("fixture.sh"))
        .arg(&fixture)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        fail("fixture.sh failed");
    }
    let run = |nl: &str| {
        Command::new(&cmdai)
            .args(["--model", &model, "--json", "--shell", "bash"])
            .args(["--timeout", "300"])
            .args(&extra)
            .args(["--", nl])
            .current_dir(&fixture)
            .output()
            .unwrap_or_else(|e| fail(&e.to_string()))
    };
    // Builds the prefix cache, so no case pays for it.
    run("warm up");

    let mut times = Vec::new();
    let mut summary = Vec::new();
    let (mut right, mut total) = (0, 0);
    for cases_path in &case_files {
        let text = std::fs::read_to_string(cases_path)
            .unwrap_or_else(|e| fail(&format!("{}: {e}", cases_path.display())));
        let stem = cases_path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("cases");
        let preds_path = work.join(format!("{stem}.preds.jsonl"));
        let mut preds = std::fs::File::create(&preds_path).unwrap_or_else(|e| fail(&e.to_string()));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let case: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| fail(&format!("bad case: {e}")));
            let id = case["id"].as_str().unwrap_or("?").to_string();
            if only.as_ref().is_some_and(|o| !o.contains(&id)) {
                continue;
            }
            let start = Instant::now();
            let out = run(case["nl"].as_str().unwrap_or(""));
            times.push(start.elapsed().as_secs_f64());
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            let cmd = v["cmd"].as_str().unwrap_or("").to_string();
            eprintln!("{id} {:>5.1}s  {cmd}", start.elapsed().as_secs_f64());
            writeln!(preds, "{}", serde_json::json!({"id": id, "cmd": cmd}))
                .unwrap_or_else(|e| fail(&e.to_string()));
        }
        drop(preds);

        // score.py prints each failure with its reason, then `accuracy: X/Y`.
        let out = Command::new("python3")
            .arg(eval_dir.join("score.py"))
            .arg(&preds_path)
            .arg("--cases")
            .arg(cases_path)
            .args(
                only.as_ref()
                    .map(|o| vec!["--only".to_string(), o.join(",")])
                    .unwrap_or_default(),
            )
            .arg("-q")
            .output()
            .unwrap_or_else(|e| fail(&format!("cannot run python3 score.py: {e}")));
        let report = String::from_utf8_lossy(&out.stdout);
        print!("{report}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        let score = report
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("accuracy: "))
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.split_once('/'))
            .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
            .unwrap_or_else(|| fail("score.py printed no accuracy line"));
        right += score.0;
        total += score.1;
        summary.push(format!("{stem}: {}/{}", score.0, score.1));
    }
    times.sort_by(|a, b| a.total_cmp(b));
    if !times.is_empty() {
        println!(
            "model {model}: time per case p50 {:.2}s, max {:.2}s",
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
    println!(
        "{}; total: {right}/{total} = {:.3}",
        summary.join(", "),
        f64::from(right) / f64::from(total.max(1))
    );
    println!("predictions: {}", work.display());
    let _ = std::fs::remove_dir_all(&fixture);
}
