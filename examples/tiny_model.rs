//! Writes a small Qwen2 GGUF: a real model's tokenizer and chat metadata,
//! two layers of random weights. For smoke-testing the whole program where
//! the real model cannot go (a GPU machine without network access); its
//! answers are nonsense, but every step of a request runs.
//!
//! cargo run --release --example tiny_model -- MODEL.gguf OUT.gguf

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::{DType, Device, Tensor};

const HIDDEN: usize = 128;
const FFN: usize = 256;
const HEADS: u32 = 2;
const KV_HEADS: u32 = 1;
const LAYERS: usize = 2;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [from, to] = args.as_slice() else {
        eprintln!("usage: tiny_model MODEL.gguf OUT.gguf");
        std::process::exit(2);
    };
    if let Err(e) = write(from, to) {
        eprintln!("tiny_model: {e}");
        std::process::exit(1);
    }
}

fn write(from: &str, to: &str) -> candle_core::Result<()> {
    let mut f = std::fs::File::open(from)?;
    let source = gguf_file::Content::read(&mut f)?;
    let vocab = match source.metadata.get("tokenizer.ggml.tokens") {
        Some(gguf_file::Value::Array(tokens)) => tokens.len(),
        _ => candle_core::bail!("{from} has no tokenizer"),
    };
    use gguf_file::Value;
    let mut metadata: Vec<(String, Value)> = source
        .metadata
        .into_iter()
        .filter(|(k, _)| k.starts_with("tokenizer.") || k == "general.architecture")
        .collect();
    metadata.extend([
        ("qwen2.embedding_length".into(), Value::U32(HIDDEN as u32)),
        ("qwen2.feed_forward_length".into(), Value::U32(FFN as u32)),
        ("qwen2.attention.head_count".into(), Value::U32(HEADS)),
        ("qwen2.attention.head_count_kv".into(), Value::U32(KV_HEADS)),
        ("qwen2.block_count".into(), Value::U32(LAYERS as u32)),
        ("qwen2.context_length".into(), Value::U32(32768)),
        (
            "qwen2.attention.layer_norm_rms_epsilon".into(),
            Value::F32(1e-6),
        ),
        ("qwen2.rope.freq_base".into(), Value::F32(1_000_000.0)),
    ]);

    let mut seed = 0u64;
    let mut tensor = |shape: &[usize], dtype: GgmlDType| -> candle_core::Result<QTensor> {
        seed += 1;
        let t = Tensor::randn(0f32, 0.05, shape, &Device::Cpu)?;
        let t = (t + seed as f64 * 1e-3)?;
        QTensor::quantize(&t, dtype)
    };
    let kv = HIDDEN / HEADS as usize * KV_HEADS as usize;
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    for layer in 0..LAYERS {
        let p = format!("blk.{layer}");
        for (name, shape, dtype) in [
            ("attn_q.weight", vec![HIDDEN, HIDDEN], GgmlDType::Q4_0),
            ("attn_k.weight", vec![kv, HIDDEN], GgmlDType::Q5_0),
            ("attn_v.weight", vec![kv, HIDDEN], GgmlDType::Q8_0),
            ("attn_output.weight", vec![HIDDEN, HIDDEN], GgmlDType::Q4_0),
            ("ffn_gate.weight", vec![FFN, HIDDEN], GgmlDType::Q5_0),
            ("ffn_up.weight", vec![FFN, HIDDEN], GgmlDType::Q5_0),
            ("ffn_down.weight", vec![HIDDEN, FFN], GgmlDType::Q8_0),
            ("attn_q.bias", vec![HIDDEN], GgmlDType::F32),
            ("attn_k.bias", vec![kv], GgmlDType::F32),
            ("attn_v.bias", vec![kv], GgmlDType::F32),
        ] {
            tensors.push((format!("{p}.{name}"), tensor(&shape, dtype)?));
        }
        for norm in ["attn_norm.weight", "ffn_norm.weight"] {
            let ones = Tensor::ones(HIDDEN, DType::F32, &Device::Cpu)?;
            tensors.push((
                format!("{p}.{norm}"),
                QTensor::quantize(&ones, GgmlDType::F32)?,
            ));
        }
    }
    let ones = Tensor::ones(HIDDEN, DType::F32, &Device::Cpu)?;
    tensors.push((
        "output_norm.weight".into(),
        QTensor::quantize(&ones, GgmlDType::F32)?,
    ));
    tensors.push((
        "token_embd.weight".into(),
        tensor(&[vocab, HIDDEN], GgmlDType::Q4_0)?,
    ));

    let mut out = std::fs::File::create(to)?;
    gguf_file::write(
        &mut out,
        &metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect::<Vec<_>>(),
        &tensors
            .iter()
            .map(|(k, t)| (k.as_str(), t))
            .collect::<Vec<_>>(),
    )
}
