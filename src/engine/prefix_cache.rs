//! The fixed prompt prefix's KV cache on disk.
//!
//! Every request starts with the same system prompt and worked examples
//! (hundreds of tokens); prefilling them on every keypress would cost
//! seconds. Their keys and values are computed once per (model, prefix),
//! stored as f16, and read back with one mapping on later calls, straight
//! into buffers with room for the request and the answer.
//!
//! File layout (little endian):
//! `magic[8] | key[32] | n_layer u32 | n_kv u32 | len u32 | head_dim u32 |
//!  data: n_layer × {K, V} × n_kv × len × head_dim f16 | crc32(data) u32`
//!
//! The checksum is CRC-32 rather than a cryptographic hash: it guards
//! against a damaged file, not an attacker (who could write the cache dir
//! anyway), and it is read on every request: sha256 of a 3,000-token
//! prefix's 80 MB took ~250 ms, CRC-32 takes a few.

use crate::engine::qwen2::{Config, KvCache};
use crate::error::Result;
use candle_core::{Device, Tensor};
use half::{f16, slice::HalfFloatSliceExt};
use memmap2::Mmap;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CMDAIKV2";
const HEADER: usize = 8 + 32 + 16;
const TRAILER: usize = 4;
/// Positions kept free after the prefix: a request, its listing and the
/// answer fit without the buffers growing.
const ROOM: usize = 256;

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
    if map.len() < HEADER + TRAILER || &map[..8] != MAGIC {
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
    if map.len() != HEADER + data_len + TRAILER {
        return Err(Miss::Invalid("wrong size"));
    }
    let data = &map[HEADER..HEADER + data_len];
    let stored = &map[HEADER + data_len..];
    if crc32fast::hash(data).to_le_bytes() != stored {
        return Err(Miss::Invalid("checksum mismatch"));
    }
    let cap = len + ROOM;
    // One buffer per layer's K and V, `(n_kv, cap, hd)`, converted in parallel.
    let buffers: Vec<Vec<f32>> = (0..n_layer * 2)
        .into_par_iter()
        .map(|i| {
            let bytes = &data[i * per * 2..(i + 1) * per * 2];
            let mut out = vec![0f32; n_kv * cap * hd];
            for (h, rows) in bytes.chunks_exact(len * hd * 2).enumerate() {
                let src: Vec<f16> = rows
                    .chunks_exact(2)
                    .map(|b| f16::from_le_bytes([b[0], b[1]]))
                    .collect();
                src.convert_to_f32_slice(&mut out[h * cap * hd..(h * cap + len) * hd]);
            }
            out
        })
        .collect();
    let mut tensors = buffers
        .into_iter()
        .map(|b| Tensor::from_vec(b, (n_kv, cap, hd), device).map_err(|_| Miss::Invalid("tensor")));
    let mut layers = Vec::with_capacity(n_layer);
    while let (Some(k), Some(v)) = (tensors.next(), tensors.next()) {
        layers.push((k?, v?));
    }
    Ok(KvCache { layers, len })
}

/// Writes the cache atomically: a unique temp file, then rename, so a reader
/// (or a second shell doing the same) never sees a half-written file.
pub fn save(path: &Path, key: &[u8; 32], c: &Config, cache: &KvCache) -> Result<()> {
    let len = cache.len;
    let mut data = Vec::with_capacity(cache.layers.len() * 2 * c.n_kv_head * len * c.head_dim * 2);
    for (k, v) in &cache.layers {
        for t in [k, v] {
            for x in t.narrow(1, 0, len)?.flatten_all()?.to_vec1::<f32>()? {
                data.extend_from_slice(&f16::from_f32(x).to_le_bytes());
            }
        }
    }
    let mut out = Vec::with_capacity(HEADER + data.len() + TRAILER);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(key);
    for v in [c.n_layer, c.n_kv_head, len, c.head_dim] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    out.extend_from_slice(&data);
    out.extend_from_slice(&crc32fast::hash(&data).to_le_bytes());
    crate::fsutil::write_atomic(path, &out)
}
