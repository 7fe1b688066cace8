//! The `cuda` build runs the same model as the CPU: small Qwen2 models with
//! the real models' quantisations (Q4_K, Q6_K, Q5_0, Q8_0) and the 0.5B
//! model's sizes, random weights, run on both devices from one GGUF.
//! Prefill, one-token decode and a pass over several drafted tokens must
//! give the CPU's logits; each matmul shape and tensor op is checked alone.
//!
//! Compiled only with `--features cuda` (building it needs the CUDA
//! toolkit's nvcc); runs on a machine with an NVIDIA GPU:
//! `cargo test --release --features cuda --test cuda`.
#![cfg(feature = "cuda")]

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use cmdai::engine::gguf::Gguf;
use cmdai::engine::qmatmul::{MappedWeight, QLinear};
use cmdai::engine::qwen2::{KvCache, Model};
use std::path::{Path, PathBuf};

const HIDDEN: usize = 512;
const FFN: usize = 1024;
const HEADS: u32 = 4;
const KV_HEADS: u32 = 2;
const VOCAB: usize = 1000;

/// Deterministic values in [-scale, scale): the test must not depend on a seed
/// the run happens to pick.
fn values(n: usize, scale: f32, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

struct Fixture(PathBuf);

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.0.parent().unwrap_or(&self.0));
    }
}

/// A model's sizes and, per layer, the formats of its (most, `attn_v`,
/// `ffn_down`) weights.
struct Shape {
    hidden: usize,
    ffn: usize,
    heads: u32,
    kv_heads: u32,
    vocab: usize,
    layers: &'static [(GgmlDType, GgmlDType, GgmlDType)],
    embedding: GgmlDType,
}

/// Two layers: the first quantised as the 1.5B model is (Q4_K, Q6_K), the
/// second as the 0.5B is (Q5_0, Q8_0).
const SMALL: Shape = Shape {
    hidden: HIDDEN,
    ffn: FFN,
    heads: HEADS,
    kv_heads: KV_HEADS,
    vocab: VOCAB,
    layers: &[
        (GgmlDType::Q4K, GgmlDType::Q6K, GgmlDType::Q6K),
        (GgmlDType::Q5_0, GgmlDType::Q8_0, GgmlDType::Q8_0),
    ],
    embedding: GgmlDType::Q6K,
};

/// qwen2.5-coder-0.5b's sizes and formats, two of its 24 layers.
const HALF_B: Shape = Shape {
    hidden: 896,
    ffn: 4864,
    heads: 14,
    kv_heads: 2,
    vocab: 151936,
    layers: &[
        (GgmlDType::Q5_0, GgmlDType::Q8_0, GgmlDType::Q6K),
        (GgmlDType::Q5_0, GgmlDType::Q8_0, GgmlDType::Q6K),
    ],
    embedding: GgmlDType::Q8_0,
};

fn write_model(shape: &Shape) -> Fixture {
    let Shape { hidden, ffn, .. } = *shape;
    let dir = std::env::temp_dir().join(format!("cmdai-cuda-{}-{hidden}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("model.gguf");
    let mut seed = 0u64;
    let mut tensor = |rows: usize, cols: usize, scale: f32, dtype: GgmlDType| {
        seed += 1;
        let shape: &[usize] = if rows == 1 { &[cols] } else { &[rows, cols] };
        let t = Tensor::from_vec(values(rows * cols, scale, seed), shape, &Device::Cpu)
            .expect("tensor");
        QTensor::quantize(&t, dtype).expect("quantize")
    };
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    let kv = hidden / shape.heads as usize * shape.kv_heads as usize;
    let (w, down) = (1.0 / (hidden as f32).sqrt(), 1.0 / (ffn as f32).sqrt());
    for (layer, &(main, v, wide)) in shape.layers.iter().enumerate() {
        let p = format!("blk.{layer}");
        for (name, rows, cols, scale, dtype) in [
            ("attn_q.weight", hidden, hidden, w, main),
            ("attn_k.weight", kv, hidden, w, main),
            ("attn_v.weight", kv, hidden, w, v),
            ("attn_output.weight", hidden, hidden, w, main),
            ("ffn_gate.weight", ffn, hidden, w, main),
            ("ffn_up.weight", ffn, hidden, w, main),
            ("ffn_down.weight", hidden, ffn, down, wide),
            ("attn_q.bias", 1, hidden, 0.1, GgmlDType::F32),
            ("attn_k.bias", 1, kv, 0.1, GgmlDType::F32),
            ("attn_v.bias", 1, kv, 0.1, GgmlDType::F32),
        ] {
            tensors.push((format!("{p}.{name}"), tensor(rows, cols, scale, dtype)));
        }
        for norm in ["attn_norm.weight", "ffn_norm.weight"] {
            let ones = Tensor::ones(hidden, candle_core::DType::F32, &Device::Cpu).expect("ones");
            tensors.push((
                format!("{p}.{norm}"),
                QTensor::quantize(&ones, GgmlDType::F32).expect("f32"),
            ));
        }
    }
    tensors.push((
        "token_embd.weight".into(),
        tensor(shape.vocab, hidden, 1.0, shape.embedding),
    ));
    tensors.push((
        "output_norm.weight".into(),
        tensor(1, hidden, 1.0, GgmlDType::F32),
    ));

    use gguf_file::Value;
    let metadata = [
        ("general.architecture", Value::String("qwen2".into())),
        ("qwen2.embedding_length", Value::U32(hidden as u32)),
        ("qwen2.feed_forward_length", Value::U32(ffn as u32)),
        ("qwen2.attention.head_count", Value::U32(shape.heads)),
        ("qwen2.attention.head_count_kv", Value::U32(shape.kv_heads)),
        ("qwen2.block_count", Value::U32(shape.layers.len() as u32)),
        ("qwen2.context_length", Value::U32(4096)),
        ("qwen2.attention.layer_norm_rms_epsilon", Value::F32(1e-6)),
        ("qwen2.rope.freq_base", Value::F32(1_000_000.0)),
    ];
    let mut f = std::fs::File::create(&path).expect("create model");
    gguf_file::write(
        &mut f,
        &metadata.iter().map(|(k, v)| (*k, v)).collect::<Vec<_>>(),
        &tensors
            .iter()
            .map(|(k, t)| (k.as_str(), t))
            .collect::<Vec<_>>(),
    )
    .expect("write model");
    Fixture(path)
}

fn cuda() -> Device {
    Device::new_cuda(0).expect("this test needs an NVIDIA GPU and its driver")
}

fn vector(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .and_then(|t| t.to_device(&Device::Cpu))
        .and_then(|t| t.to_vec1::<f32>())
        .expect("logits")
}

/// The largest difference between `want` and `got` (NaN where `got` has
/// one), and the largest magnitude in `want`.
fn difference(want: &[f32], got: &[f32]) -> (f32, f32) {
    let spread = want.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
    let worst = want.iter().zip(got).fold(0f32, |m, (a, b)| {
        let d = (a - b).abs();
        if d.is_nan() || m.is_nan() {
            f32::NAN
        } else {
            m.max(d)
        }
    });
    (worst, spread)
}

/// Largest difference relative to the CPU logits' spread, and whether the
/// top token is the same (or within that difference of the CPU's best).
fn compare(what: &str, cpu: &[f32], gpu: &[f32]) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: logits length");
    let (worst, spread) = difference(cpu, gpu);
    // Both sides quantise the activations to 8 bits the same way, but sum in
    // other orders; a wrong kernel or layout is off by the spread itself.
    assert!(
        worst <= 0.02 * spread,
        "{what}: logits differ by {worst} (largest CPU logit {spread})"
    );
    let best = |v: &[f32]| {
        v.iter()
            .enumerate()
            .fold((0, f32::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b })
            .0
    };
    let (c, g) = (best(cpu), best(gpu));
    assert!(
        c == g || (cpu[c] - cpu[g]).abs() <= worst,
        "{what}: top token {g} on the GPU, {c} on the CPU"
    );
}

fn run(path: &Path, device: &Device) -> Vec<(String, Vec<f32>)> {
    let gguf = Gguf::open(path).expect("open model");
    let model = Model::load(&gguf, device, None).expect("load model");
    let mut cache = KvCache::empty(&model.config, device).expect("cache");
    let mut out = Vec::new();
    let prompt: Vec<u32> = (0..23).map(|i| (i * 37 + 5) % VOCAB as u32).collect();
    out.push((
        "prefill".into(),
        vector(&model.forward(&prompt, &mut cache).expect("prefill")),
    ));
    for (step, token) in [17u32, 998, 3].into_iter().enumerate() {
        let logits = model.forward(&[token], &mut cache).expect("decode");
        out.push((format!("decode step {step}"), vector(&logits)));
    }
    let drafts = model
        .forward_all(&[11, 12, 13, 14], &mut cache)
        .expect("drafts");
    out.push(("drafted tokens".into(), vector(&drafts)));
    assert_eq!(cache.len, 23 + 3 + 4);
    out
}

#[test]
fn cuda_gives_the_cpu_logits() {
    let model = write_model(&SMALL);
    let cpu = run(&model.0, &Device::Cpu);
    let gpu = run(&model.0, &cuda());
    for ((what, c), (_, g)) in cpu.iter().zip(&gpu) {
        compare(what, c, g);
    }
}

/// Every weight shape and format of the two catalog models, at the row
/// counts a request passes (one token, drafts, a prompt): candle's CUDA
/// kernels against cmdai's CPU ones, and the same result twice.
#[test]
fn cuda_matmuls_match_the_cpu_at_the_models_shapes() {
    use GgmlDType::*;
    let shapes = [
        // qwen2.5-coder-0.5b
        (Q5_0, 896, 896),
        (Q5_0, 128, 896),
        (Q8_0, 128, 896),
        (Q5_0, 4864, 896),
        (Q6K, 896, 4864),
        (Q8_0, 151936, 896),
        // qwen2.5-coder-1.5b
        (Q4K, 1536, 1536),
        (Q4K, 256, 1536),
        (Q6K, 256, 1536),
        (Q4K, 8960, 1536),
        (Q6K, 1536, 8960),
        (Q6K, 151936, 1536),
    ];
    let dir = std::env::temp_dir().join(format!("cmdai-cuda-mm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("shapes.gguf");
    let fixture = Fixture(path.clone());
    let names: Vec<String> = (0..shapes.len()).map(|i| format!("w{i}")).collect();
    let weights: Vec<QTensor> = shapes
        .iter()
        .enumerate()
        .map(|(i, &(dtype, rows, cols))| {
            let t = Tensor::from_vec(
                values(rows * cols, 0.1, 100 + i as u64),
                (rows, cols),
                &Device::Cpu,
            )
            .expect("tensor");
            QTensor::quantize(&t, dtype).expect("quantize")
        })
        .collect();
    let mut f = std::fs::File::create(&path).expect("create");
    gguf_file::write(
        &mut f,
        &[],
        &names
            .iter()
            .map(String::as_str)
            .zip(&weights)
            .collect::<Vec<_>>(),
    )
    .expect("write");
    drop(f);
    let g = Gguf::open(&fixture.0).expect("open");
    let gpu = cuda();
    let mut failures = Vec::new();
    for (name, &(dtype, rows, cols)) in names.iter().zip(&shapes) {
        let weight =
            || MappedWeight::new(&g.tensor(name).expect("tensor"), &g.map).expect("weight");
        let on_cpu = QLinear::new(weight(), &Device::Cpu).expect("cpu");
        let on_gpu = QLinear::new(weight(), &gpu).expect("gpu");
        for m in [1, 3, 8, 9, 23, 64, 200, 1100] {
            let x = Tensor::from_vec(values(m * cols, 1.0, 7 + m as u64), (m, cols), &Device::Cpu)
                .expect("x");
            let want = vector(&on_cpu.forward(&x).expect("cpu forward"));
            let xg = x.to_device(&gpu).expect("upload");
            let got = vector(&on_gpu.forward(&xg).expect("gpu forward"));
            let again = vector(&on_gpu.forward(&xg).expect("gpu forward"));
            let (worst, spread) = difference(&want, &got);
            let nan = got.iter().any(|x| !x.is_finite());
            if nan || worst > 0.02 * spread || got != again {
                failures.push(format!(
                    "{dtype:?} {rows}x{cols}, {m} rows: off by {worst} of {spread}{}{}",
                    if nan { ", not finite" } else { "" },
                    if got != again {
                        ", differs between runs"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The 0.5B model's shapes with random weights (its 151,936-row output
/// head), over prompts up to as long as cmdai's cached prefix (the cache
/// grows on the GPU), then decoding and drafts. Without waiting for the
/// GPU before reading the logits back, most of these passes read garbage.
#[test]
fn cuda_runs_the_small_models_shapes_like_the_cpu() {
    let model = write_model(&HALF_B);
    let gguf = Gguf::open(&model.0).expect("open model");
    let on_cpu = Model::load(&gguf, &Device::Cpu, None).expect("load model");
    let gpu = cuda();
    let on_gpu = Model::load(&gguf, &gpu, None).expect("load model");
    let mut failures = Vec::new();
    for len in [9, 40, 65, 100, 200, 400, 1100] {
        let prompt: Vec<u32> = (0..len).map(|i| (i * 7919 + 13) % 151000).collect();
        let run = |model: &Model, device: &Device| {
            let mut cache = KvCache::empty(&model.config, device).expect("cache");
            let mut out = vec![vector(
                &model.forward(&prompt, &mut cache).expect("prefill"),
            )];
            for token in [17u32, 99_998] {
                out.push(vector(
                    &model.forward(&[token], &mut cache).expect("decode"),
                ));
            }
            out.push(vector(
                &model
                    .forward_all(&[11, 12, 13], &mut cache)
                    .expect("drafts"),
            ));
            out
        };
        let (cpu, gpu) = (run(&on_cpu, &Device::Cpu), run(&on_gpu, &gpu));
        for (i, (c, g)) in cpu.iter().zip(&gpu).enumerate() {
            if let Err(e) = std::panic::catch_unwind(|| compare("", c, g)) {
                let why = e.downcast_ref::<String>().cloned().unwrap_or_default();
                failures.push(format!("prompt of {len}, pass {i}{why}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The tensor operations of one attention and MLP step, at both models'
/// head layouts, on candle's CUDA kernels against candle's CPU ones.
#[test]
fn cuda_ops_match_the_cpu_at_the_models_shapes() {
    let gpu = cuda();
    let mut failures = Vec::new();
    // (heads, kv heads, head dim, new rows, rows already cached)
    for (heads, kv, hd, m, before) in [
        (4usize, 2usize, 128usize, 23usize, 0usize),
        (14, 2, 64, 9, 0),
        (14, 2, 64, 1, 9),
        (14, 2, 64, 40, 1100),
        (12, 2, 128, 9, 0),
    ] {
        let hidden = heads * hd;
        let groups = heads / kv;
        let cap = (before + m).max(64);
        let t = |shape: &[usize], seed: u64| {
            let n: usize = shape.iter().product();
            Tensor::from_vec(values(n, 1.0, seed), shape, &Device::Cpu).expect("tensor")
        };
        let x = t(&[m, hidden], 1);
        let alpha = t(&[hidden], 2);
        let q = t(&[heads, m, hd], 3);
        let k = t(&[kv, m, hd], 4);
        let all = t(&[2 * 3 * kv, cap, hd], 5);
        let cos = t(&[m, hd / 2], 6);
        let sin = t(&[m, hd / 2], 7);
        let mask = t(&[groups * m, before + m], 8);
        let ops = |dev: &Device| -> candle_core::Result<Vec<(&'static str, Tensor)>> {
            let on = |x: &Tensor| x.to_device(dev);
            let (x, alpha, q, k, all) = (on(&x)?, on(&alpha)?, on(&q)?, on(&k)?, on(&all)?);
            let (cos, sin, mask) = (on(&cos)?, on(&sin)?, on(&mask)?);
            let norm = candle_nn::ops::rms_norm(&x, &alpha, 1e-6)?;
            let roped = candle_nn::rotary_emb::rope(&q.unsqueeze(0)?, &cos, &sin)?.squeeze(0)?;
            let keys_buf = all.narrow(0, 2 * kv, kv)?;
            keys_buf.slice_set(&k, 1, before)?;
            let keys = keys_buf.narrow(1, 0, before + m)?;
            let qg = roped.reshape((kv, groups * m, hd))?;
            let att = (qg.matmul(&keys.t()?)? * 0.125)?.broadcast_add(&mask)?;
            let soft = candle_nn::ops::softmax_last_dim(&att)?;
            let out = soft.matmul(&keys)?;
            let merged = out
                .reshape((heads, m, hd))?
                .transpose(0, 1)?
                .reshape((m, hidden))?;
            let mlp = (candle_nn::ops::silu(&x)? * &norm)?;
            Ok(vec![
                ("rms_norm", norm),
                ("rope", roped),
                ("slice_set", all),
                ("scores", att),
                ("softmax", soft),
                ("weighted values", out),
                ("heads merged", merged),
                ("silu", mlp),
            ])
        };
        let (want, got) = (
            ops(&Device::Cpu).expect("cpu ops"),
            ops(&gpu).expect("gpu ops"),
        );
        for ((name, w), (_, g)) in want.iter().zip(&got) {
            let (w, g) = (vector(w), vector(g));
            let (worst, spread) = difference(&w, &g);
            if worst.is_nan() || worst > 1e-3 * spread {
                failures.push(format!(
                    "{name} ({heads} heads of {hd}, {kv} kv, {m} rows after {before}): off by {worst} of {spread}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
