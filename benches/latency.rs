//! Latency benchmark: model load, prefill and decode per token, one-shot
//! end-to-end process time, peak RSS; candle's own quantized Qwen2 (heap
//! copies + repacking) on the same file; and, when `python3 -c 'import
//! llama_cpp'` works, llama.cpp on the same file and prompt, model resident
//! and the prefix's state in memory (a warm server's best case).
//!
//! cargo bench --bench latency [-- --model NAME] [--runs N] [--skip-candle] [--skip-llama-cpp]
//! Prints the machine (CPU, kernels, read bandwidth) and a Markdown table
//! for docs/PERFORMANCE.md.

use candle_core::{Device, Tensor};
use cmdai::engine::{gguf::Gguf, qwen2, tiles, tokenizer::Tokenizer, Engine, TilesUsed};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const REQUESTS: &[&str] = &[
    "list all files in the current directory including hidden ones",
    "find all rust files modified in the last day",
    "show the 10 largest files under this directory, biggest first",
];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn cmdai_bin() -> PathBuf {
    // target/release/deps/latency-… → target/release/cmdai
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("cmdai")
}

fn model_path(name: &str) -> PathBuf {
    let o = Command::new(cmdai_bin())
        .args(["model", "path", name])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}

/// Runs a child to completion; returns (wall ms, stdout, its peak RSS in MiB).
// Reaped by wait4, which (unlike std's wait) reports the child's own peak RSS.
#[allow(clippy::zombie_processes)]
fn run_timed(cmd: &mut Command) -> (f64, String, f64) {
    use std::io::Read;
    let start = Instant::now();
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: reaps our own child (std's handle is not waited on after).
    unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    (ms(start), out, usage.ru_maxrss as f64 / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes harness-less benches
    }
    // As the cmdai binary does (src/main.rs): candle's own spinning pool off.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    let name = arg("--model").unwrap_or_else(|| "qwen2.5-coder-1.5b".into());
    let runs: usize = arg("--runs").and_then(|r| r.parse().ok()).unwrap_or(5);
    let path = model_path(&name);
    assert!(
        path.is_file(),
        "{name} is not installed: cmdai model fetch {name}"
    );
    let dev = Device::Cpu;
    let mut rows: Vec<(String, String)> = Vec::new();

    // End to end: the real binary, one process per request, warm prefix
    // cache; with tiles and without (CMDAI_NO_TILES=1), interleaved. First,
    // while this process is small: a child's peak RSS counts its parent's
    // at the fork (Linux carries the high-water mark across exec).
    let mut e2e_rows: Vec<(String, String)> = Vec::new();
    let o = Command::new(cmdai_bin())
        .args(["model", "prepare", &name])
        .output()
        .unwrap();
    assert!(o.status.success(), "cmdai model prepare {name} failed");
    let cwd = std::env::temp_dir().join("cmdai-bench-cwd");
    let _ = std::fs::create_dir_all(&cwd);
    // (label, tiles, speculation)
    const HOW: [(&str, bool, bool); 3] = [
        ("GGUF blocks", false, true),
        ("tiles, no speculation", true, false),
        ("tiles", true, true),
    ];
    let one = |req: &str, (_, tiles, spec): (&str, bool, bool)| {
        run_timed(
            Command::new(cmdai_bin())
                .args(["--model", &name, "--json", "--shell", "bash", "--", req])
                .env("CMDAI_NO_TILES", if tiles { "0" } else { "1" })
                .env("CMDAI_NO_SPECULATION", if spec { "0" } else { "1" })
                .current_dir(&cwd),
        )
    };
    let mut walls = [Vec::new(), Vec::new(), Vec::new()];
    let mut rss = [0f64; 3];
    // Answer tokens per second of decoding, as each mode decodes a request.
    let mut rates = [Vec::new(), Vec::new(), Vec::new()];
    for req in REQUESTS {
        let mut w = [Vec::new(), Vec::new(), Vec::new()];
        let mut answer = [String::new(), String::new(), String::new()];
        for _ in 0..runs {
            for (i, how) in HOW.into_iter().enumerate() {
                let (t, out, peak) = one(req, how);
                w[i].push(t);
                let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_default();
                let (gen, ms) = (
                    v["tokens"]["generated"].as_f64().unwrap_or(0.0),
                    v["timings_ms"]["decode"].as_f64().unwrap_or(0.0),
                );
                if ms > 0.0 {
                    rates[i].push(gen * 1000.0 / ms);
                }
                rss[i] = rss[i].max(peak);
                answer[i] = out;
            }
        }
        for (i, (how, _, _)) in HOW.into_iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(answer[i].trim()).unwrap_or_default();
            let t = &v["tokens"];
            e2e_rows.push((
                format!("end to end, {how}: \"{req}\""),
                format!(
                    "{:.0} ms (`{}`, {} tokens out, {} of {} drafts accepted)",
                    median(w[i].clone()),
                    v["cmd"].as_str().unwrap_or("?"),
                    t["generated"],
                    t["accepted"],
                    t["drafted"]
                ),
            ));
            walls[i].extend(w[i].clone());
        }
    }
    let _ = std::fs::remove_dir_all(&cwd);

    // In a directory with files, as most requests are: the turn starts with
    // their names. The first request in a directory prefills them; later
    // ones load them (the listing cache). One file named for this process
    // and run (removed after) makes each listing new, so every first
    // request really is one, in this bench run and the next.
    let project = std::env::temp_dir().join("cmdai-bench-project");
    let _ = std::fs::remove_dir_all(&project);
    for d in ["src", "docs", "tests", "scripts"] {
        let _ = std::fs::create_dir_all(project.join(d));
    }
    for f in [
        "README.md",
        "Cargo.toml",
        "Cargo.lock",
        "notes.txt",
        "build.sh",
        "LICENSE",
    ] {
        let _ = std::fs::write(project.join(f), "x\n");
    }
    let (mut first, mut again) = (Vec::new(), Vec::new());
    let in_project = |req: &str| {
        run_timed(
            Command::new(cmdai_bin())
                .args(["--model", &name, "--json", "--shell", "bash", "--", req])
                .current_dir(&project),
        )
        .0
    };
    for run in 0..runs {
        for (i, req) in REQUESTS.iter().enumerate() {
            let marker = project.join(format!("run{}-{run}-{i}.log", std::process::id()));
            let _ = std::fs::write(&marker, "x\n");
            first.push(in_project(req));
            again.push(in_project(req));
            let _ = std::fs::remove_file(&marker);
        }
    }
    let _ = std::fs::remove_dir_all(&project);
    e2e_rows.push((
        "end to end p50 in a directory of 11 names, first request there".into(),
        format!("{:.0} ms", median(first)),
    ));
    e2e_rows.push((
        "end to end p50 in a directory of 11 names, a later request (listing loaded)".into(),
        format!("{:.0} ms", median(again)),
    ));
    for (i, (how, _, _)) in HOW.into_iter().enumerate() {
        e2e_rows.push((
            format!("end to end p50, all three, {how}"),
            format!("{:.0} ms", median(walls[i].clone())),
        ));
        e2e_rows.push((
            format!("peak RSS of one call, {how}"),
            format!("{:.0} MiB", rss[i]),
        ));
        // With speculation, drafts copied from the prompt are checked
        // several tokens per pass: what decoding a request gives a user,
        // against one token per pass above.
        e2e_rows.push((
            format!("decode in a request p50, all three, {how}: answer tokens / decode time"),
            format!("{:.1} tok/s", median(rates[i].clone())),
        ));
    }

    // The tile file the binary uses (built here if missing, timed).
    let resolved = cmdai::models::resolve::resolve_model(&name, false).unwrap();
    let tiles_at = resolved.tiles(true).unwrap();
    let t = Instant::now();
    let e = Engine::load(&path, resolved.id.clone(), &dev, Some(&tiles_at)).unwrap();
    if e.tiles == TilesUsed::Built {
        rows.push((
            "tile file: built (once per model)".into(),
            format!("{:.1} s", ms(t) / 1000.0),
        ));
    }
    assert_ne!(
        e.tiles,
        TilesUsed::Off,
        "no tiles: CMDAI_NO_TILES set, or no AVX2?"
    );
    drop(e);

    // Load: mapping + model (zero copy), and the tokenizer, warm page cache.
    let mut model_ms = Vec::new();
    let mut tiles_ms = Vec::new();
    let mut tok_ms = Vec::new();
    let gguf_len = std::fs::metadata(&path).unwrap().len();
    for _ in 0..runs {
        let t = Instant::now();
        let g = Gguf::open(&path).unwrap();
        let _m = qwen2::Model::load(&g, &dev, None).unwrap();
        model_ms.push(ms(t));
        let t = Instant::now();
        let set = tiles::TileSet::open(&tiles_at.path, &resolved.id, gguf_len).unwrap();
        let _m = qwen2::Model::load(&g, &dev, Some(&set)).unwrap();
        tiles_ms.push(ms(t));
        let t = Instant::now();
        let _tok = Tokenizer::from_gguf(&g).unwrap();
        tok_ms.push(ms(t));
    }
    rows.push((
        "load: mmap + weights (zero copy)".into(),
        format!("{:.1} ms", median(model_ms)),
    ));
    rows.push((
        "load: the same with the tile file (open, check header, map)".into(),
        format!("{:.1} ms", median(tiles_ms)),
    ));
    rows.push((
        "load: tokenizer from GGUF metadata".into(),
        format!("{:.0} ms", median(tok_ms)),
    ));

    // Prefill and decode per token, GGUF blocks against tiles, interleaved.
    let g = Gguf::open(&path).unwrap();
    let set = tiles::TileSet::open(&tiles_at.path, &resolved.id, gguf_len).unwrap();
    let blocks = qwen2::Model::load(&g, &dev, None).unwrap();
    let tiled = qwen2::Model::load(&g, &dev, Some(&set)).unwrap();
    let tokens: Vec<u32> = (0..64u32).map(|i| 1000 + i * 7).collect();
    let mut prefill = [Vec::new(), Vec::new()];
    let mut decode = [Vec::new(), Vec::new()];
    for _ in 0..runs.min(3) {
        for (i, model) in [&blocks, &tiled].into_iter().enumerate() {
            let mut cache = qwen2::KvCache::empty(&model.config, &dev).unwrap();
            let t = Instant::now();
            let logits = model.forward(&tokens, &mut cache).unwrap();
            prefill[i].push(ms(t) / tokens.len() as f64);
            let mut next = qwen2::argmax(&logits).unwrap();
            let t = Instant::now();
            for _ in 0..32 {
                next = qwen2::argmax(&model.forward(&[next], &mut cache).unwrap()).unwrap();
            }
            decode[i].push(ms(t) / 32.0);
        }
    }
    // Checking k drafts: one pass over k + 1 rows with every row's logits.
    let mut checks = vec![Vec::new(); 4];
    for _ in 0..runs.min(3) {
        let mut cache = qwen2::KvCache::empty(&tiled.config, &dev).unwrap();
        tiled.forward(&tokens, &mut cache).unwrap();
        let at = cache.len;
        for (k, times) in checks.iter_mut().enumerate() {
            let feed = &tokens[..k + 1];
            cache.truncate(at);
            let t = Instant::now();
            tiled.forward_all(feed, &mut cache).unwrap();
            times.push(ms(t));
        }
    }
    for (k, times) in checks.iter().enumerate() {
        let what = match k {
            0 => "one token, all-logits path (1 row)".to_string(),
            _ => format!("check of {k} drafted tokens ({} rows)", k + 1),
        };
        rows.push((
            format!("{what}, after 64 tokens, tiles"),
            format!("{:.1} ms", median(times.clone())),
        ));
    }
    for (i, how) in ["GGUF blocks", "tiles"].into_iter().enumerate() {
        let (p, d) = (median(prefill[i].clone()), median(decode[i].clone()));
        rows.push((
            format!("prefill (64-token chunk), {how}"),
            format!("{p:.1} ms/token ({:.0} tok/s)", 1000.0 / p),
        ));
        rows.push((
            format!("decode (after 64 tokens), {how}"),
            format!("{d:.1} ms/token ({:.1} tok/s)", 1000.0 / d),
        ));
    }
    drop((blocks, tiled, set));

    rows.append(&mut e2e_rows);

    if !std::env::args().any(|a| a == "--skip-candle") {
        candle_reference(&path, &tokens, &mut rows);
    }

    if !std::env::args().any(|a| a == "--skip-llama-cpp") {
        llama_cpp(&path, runs, &mut rows);
    }

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at the end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "model: {name}, runs: {runs}, threads: {threads}\nmachine: {}, {threads} threads, \
         read bandwidth {:.0} GB/s ({threads} threads), kernels: {}",
        cpu_model(),
        read_bandwidth_gbs(),
        cmdai::engine::cpu_kernels()
    );
    println!("\n| what | measured |\n| --- | --- |");
    for (k, v) in rows {
        println!("| {k} | {v} |");
    }
}

/// candle-transformers' quantized Qwen2 on the same file: heap-loaded
/// weights, `QMatMul` with its lazy repacking.
fn candle_reference(path: &Path, tokens: &[u32], rows: &mut Vec<(String, String)>) {
    use candle_transformers::models::quantized_qwen2::ModelWeights;
    let dev = Device::Cpu;
    let t = Instant::now();
    let mut f = std::fs::File::open(path).unwrap();
    let ct = candle_core::quantized::gguf_file::Content::read(&mut f).unwrap();
    let mut m = ModelWeights::from_gguf(ct, &mut f, &dev).unwrap();
    rows.push((
        "candle quantized_qwen2: load".into(),
        format!("{:.0} ms", ms(t)),
    ));
    let x = Tensor::new(tokens, &dev).unwrap().unsqueeze(0).unwrap();
    let t = Instant::now();
    let logits = m.forward(&x, 0).unwrap();
    rows.push((
        "candle quantized_qwen2: first prefill (64 tokens, includes repack)".into(),
        format!("{:.0} ms", ms(t)),
    ));
    let mut next = logits
        .squeeze(0)
        .unwrap()
        .argmax(0)
        .unwrap()
        .to_scalar::<u32>()
        .unwrap();
    let mut pos = tokens.len();
    let t = Instant::now();
    for _ in 0..32 {
        let x = Tensor::new(&[next], &dev).unwrap().unsqueeze(0).unwrap();
        let l = m.forward(&x, pos).unwrap();
        next = l
            .squeeze(0)
            .unwrap()
            .argmax(0)
            .unwrap()
            .to_scalar::<u32>()
            .unwrap();
        pos += 1;
    }
    let d = ms(t) / 32.0;
    rows.push((
        "candle quantized_qwen2: decode".into(),
        format!("{d:.1} ms/token ({:.1} tok/s)", 1000.0 / d),
    ));
    let t = Instant::now();
    let x = Tensor::new(tokens, &dev).unwrap().unsqueeze(0).unwrap();
    let _ = m.forward(&x, pos).unwrap();
    let p = ms(t) / tokens.len() as f64;
    rows.push((
        "candle quantized_qwen2: prefill after repack".into(),
        format!("{p:.1} ms/token ({:.0} tok/s)", 1000.0 / p),
    ));
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Best of three parallel passes summing a 1 GiB buffer: what decode, which
/// reads every weight once per token, could at most stream.
fn read_bandwidth_gbs() -> f64 {
    use rayon::prelude::*;
    let buf = vec![1u64; (1 << 30) / 8];
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let sum: u64 = buf.par_chunks(1 << 16).map(|c| c.iter().sum::<u64>()).sum();
        assert_eq!(sum, buf.len() as u64);
        best = best.min(t.elapsed().as_secs_f64());
    }
    (1u64 << 30) as f64 / best / 1e9
}

/// llama.cpp through llama-cpp-python, as a warm server would run it: the
/// model loaded once, the prefix evaluated once and its state restored per
/// request, greedy decoding to the closing fence. Same threads as cmdai.
const LLAMA_CPP: &str = r#"
import json, sys, time
import numpy as np
import llama_cpp
from llama_cpp import Llama
path, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
job = json.load(sys.stdin)
llm = Llama(model_path=path, n_ctx=4096, n_threads=threads, n_threads_batch=threads,
            n_batch=512, verbose=False)
prefix = llm.tokenize(job["prefix"].encode(), add_bos=False, special=True)
llm.eval(prefix)
state = llm.save_state()
stop = {llm.token_eos(), *llm.tokenize(b"<|im_end|>", add_bos=False, special=True)}
out = []
for turn in job["turns"]:
    for _ in range(runs):
        llm.load_state(state)
        toks = llm.tokenize(turn.encode(), add_bos=False, special=True)
        t0 = time.perf_counter()
        llm.eval(toks)
        t1 = time.perf_counter()
        gen = []
        while len(gen) < 64:
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1),
                                           shape=(llm.n_vocab(),))
            tok = int(np.argmax(logits))
            if tok in stop:
                break
            gen.append(tok)
            if "```" in llm.detokenize(gen).decode("utf-8", "replace"):
                break
            llm.eval([tok])
        t2 = time.perf_counter()
        out.append({"turn": len(toks), "prefill": t1 - t0, "gen": len(gen), "decode": t2 - t1,
                    "text": llm.detokenize(gen).decode("utf-8", "replace")})
print(json.dumps(out))
"#;

fn llama_cpp(path: &Path, runs: usize, rows: &mut Vec<(String, String)>) {
    use std::io::Write;
    let importable = Command::new("python3")
        .args(["-c", "import llama_cpp, numpy"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        rows.push((
            "llama.cpp".into(),
            "not measured: `python3 -m pip install llama-cpp-python` to compare".into(),
        ));
        return;
    }
    // The prompt cmdai sends from the bench's empty directory (no listing).
    use cmdai::context::{os_flavour, Context, Shell};
    use cmdai::prompt::Segment;
    let ctx = Context {
        shell: Shell::Bash,
        os: os_flavour(),
        listing: Vec::new(),
    };
    let turns: Vec<String> = REQUESTS
        .iter()
        .map(|r| {
            let p = cmdai::prompt::build(&ctx, r);
            p.turn
                .iter()
                .map(|s| match s {
                    Segment::Template(t) | Segment::User(t) => t.as_str(),
                })
                .collect()
        })
        .collect();
    let job = serde_json::json!({
        "prefix": cmdai::prompt::prefix(os_flavour()),
        "turns": turns,
    });
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut child = Command::new("python3")
        .args(["-c", LLAMA_CPP])
        .arg(path)
        .args([threads.to_string(), runs.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(job.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let Ok(v) = serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout) else {
        rows.push(("llama.cpp".into(), "failed to run".into()));
        return;
    };
    let f = |k: &str| {
        v.iter()
            .map(|r| r[k].as_f64().unwrap_or(0.0))
            .collect::<Vec<_>>()
    };
    let (turn, prefill, gen, decode) = (f("turn"), f("prefill"), f("gen"), f("decode"));
    let prefill_tps = median(turn.iter().zip(&prefill).map(|(n, t)| n / t).collect());
    let decode_tps = median(gen.iter().zip(&decode).map(|(n, t)| n / t).collect());
    let warm = median(
        prefill
            .iter()
            .zip(&decode)
            .map(|(p, d)| (p + d) * 1000.0)
            .collect(),
    );
    rows.push((
        "llama.cpp, resident, prefix state in memory: request prefill".into(),
        format!("{prefill_tps:.0} tok/s"),
    ));
    rows.push((
        "llama.cpp, resident: decode".into(),
        format!("{decode_tps:.1} tok/s"),
    ));
    rows.push((
        "llama.cpp, resident: request to answer p50, all three".into(),
        format!("{warm:.0} ms"),
    ));
}
