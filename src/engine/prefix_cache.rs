//! The fixed prompt prefix's KV cache on disk.
//!
//! Every request starts with the same system prompt and worked examples
//! (hundreds of tokens); prefilling them on every keypress would cost
//! seconds. Their keys and values are computed once per (model, prefix),
//! stored as f16, and read back with one mapping on later calls.
//!
//! File layout (little endian):
//! `magic[8] | key[32] | n_layer u32 | n_kv u32 | len u32 | head_dim u32 |
//!  data: n_layer × {K, V} × n_kv × len × head_dim f16 | sha256(data)[32]`

use crate::engine::qwen2::{Config, KvCache};
use crate::error::Result;
use candle_core::{DType, Device, Tensor};
use half::f16;
use memmap2::Mmap;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CMDAIKV1";
const HEADER: usize = 8 + 32 + 16;

/// Identifies a prefix cache: the model file (whose tokenizer turns the
/// text into the same tokens every time) and the exact prefix text.
pub fn cache_key(model_id: &str, prefix: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(model_id.as_bytes());
    h.update([0u8]);
    h.update(prefix.as_bytes());
    h.finalize().into()
}

pub fn cache_path(dir: &Path, key: &[u8; 32]) -> PathBuf {
    let hex: String = key[..12].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("prefix-{hex}.kv"))
}

/// Why a cache file was not used; any of these means "rebuild it".
#[derive(Debug, PartialEq, Eq)]
pub enum Miss {
    Absent,
    Invalid(&'static str),
}

/// Loads a cache written by `save` for this exact key and model shape.
pub fn load(
    path: &Path,
    key: &[u8; 32],
    c: &Config,
    device: &Device,
) -> std::result::Result<KvCache, Miss> {
    let file = std::fs::File::open(path).map_err(|_| Miss::Absent)?;
    // SAFETY: cache files are only ever replaced by rename, never rewritten.
    let map = unsafe { Mmap::map(&file) }.map_err(|_| Miss::Invalid("unreadable"))?;
    if map.len() < HEADER + 32 || &map[..8] != MAGIC {
        return Err(Miss::Invalid("bad header"));
    }
    if &map[8..40] != key {
        return Err(Miss::Invalid("stale key"));
    }
    let field = |i: usize| {
        let o = 40 + 4 * i;
        u32::from_le_bytes([map[o], map[o + 1], map[o + 2], map[o + 3]]) as usize
    };
    let (n_layer, n_kv, len, hd) = (field(0), field(1), field(2), field(3));
    if (n_layer, n_kv, hd) != (c.n_layer, c.n_kv_head, c.head_dim) || len == 0 {
        return Err(Miss::Invalid("model shape differs"));
    }
    let per = n_kv * len * hd;
    let data_len = n_layer * 2 * per * 2;
    if map.len() != HEADER + data_len + 32 {
        return Err(Miss::Invalid("wrong size"));
    }
    let data = &map[HEADER..HEADER + data_len];
    if Sha256::digest(data).as_slice() != &map[HEADER + data_len..] {
        return Err(Miss::Invalid("checksum mismatch"));
    }
    let tensor = |i: usize| -> candle_core::Result<Tensor> {
        let bytes = &data[i * per * 2..(i + 1) * per * 2];
        let vals: Vec<f16> = bytes
            .chunks_exact(2)
            .map(|b| f16::from_le_bytes([b[0], b[1]]))
            .collect();
        Tensor::from_vec(vals, (n_kv, len, hd), device)?.to_dtype(DType::F32)
    };
    let mut layers = Vec::with_capacity(n_layer);
    for l in 0..n_layer {
        let k = tensor(2 * l).map_err(|_| Miss::Invalid("tensor"))?;
        let v = tensor(2 * l + 1).map_err(|_| Miss::Invalid("tensor"))?;
        layers.push((k, v));
    }
    Ok(KvCache { layers, len })
}

/// Writes the cache atomically: a unique temp file, then rename, so a reader
/// (or a second shell doing the same) never sees a half-written file.
pub fn save(path: &Path, key: &[u8; 32], c: &Config, cache: &KvCache) -> Result<()> {
    let mut data =
        Vec::with_capacity(cache.layers.len() * 2 * c.n_kv_head * cache.len * c.head_dim * 2);
    for (k, v) in &cache.layers {
        for t in [k, v] {
            for x in t.flatten_all()?.to_vec1::<f32>()? {
                data.extend_from_slice(&f16::from_f32(x).to_le_bytes());
            }
        }
    }
    let mut out = Vec::with_capacity(HEADER + data.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key);
    for v in [c.n_layer, c.n_kv_head, cache.len, c.head_dim] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    out.extend_from_slice(&data);
    out.extend_from_slice(&Sha256::digest(&data));
    crate::fsutil::write_atomic(path, &out)
}
