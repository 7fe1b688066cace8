//! The fixed prompt prefix's KV cache on disk.
//!
//! Every request starts with the same system prompt and worked examples
//! (hundreds of tokens); prefilling them on every keypress would cost
//! seconds. Their keys and values are computed once per (model, prefix),
//! stored as f16, and read back with one mapping on later calls, straight
//! into buffers with room for the request and the answer.
//!
//! The start of the turn that names the directory's files is the same for
//! every request made there, and a user presses Ctrl-G many times in one
//! directory: its keys and values are kept too, as a *segment* (positions
//! after the prefix), one small file per directory listing, the most recent
//! few only.
//!
//! File layout (little endian), the same for both with their own magic:
//! `magic[8] | key[32] | n_layer u32 | n_kv u32 | len u32 | head_dim u32 |
//!  data: n_layer × {K, V} × n_kv × len × head_dim f16 | crc32(data) u32`
//!
//! The checksum is CRC-32 rather than a cryptographic hash: it guards
//! against a damaged file, not an attacker (who could write the cache dir
//! anyway), and it is read on every request: sha256 of a 3,000-token
//! prefix's 80 MB took ~250 ms, CRC-32 takes a few.

use crate::engine::qwen2::{Config, KvCache};
use crate::error::Result;
use candle_core::{DType, Device, Tensor};
use half::{f16, slice::HalfFloatSliceExt};
use memmap2::Mmap;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CMDAIKV2";
const SEGMENT_MAGIC: &[u8; 8] = b"CMDAISG1";
const HEADER: usize = 8 + 32 + 16;
const TRAILER: usize = 4;
/// Positions kept free after the prefix: a request, its listing and the
/// answer fit without the buffers growing.
const ROOM: usize = 256;
/// Segment files kept: one per directory listing recently asked in.
const SEGMENTS_KEPT: usize = 16;
/// Prefix files kept: a prompt's per model (generate, fix and explain for
/// the two catalog models, and a custom file or two). A build with another
/// prompt or arithmetic writes new ones; the old ones go once unused.
const PREFIXES_KEPT: usize = 8;

/// The engine's arithmetic: bumped whenever a kernel change moves the keys
/// and values in the last bits (summation order, a new weight layout), so
/// that a cache made by an older build is not mixed with this build's own
/// computation (a hit and a miss then give different answers).
const NUMERICS: &str = "q8-tiles-1";

/// Identifies a prefix cache: the engine's arithmetic, the model file
/// (whose tokenizer turns the text into the same tokens every time) and the
/// exact prefix text.
pub fn cache_key(model_id: &str, prefix: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(NUMERICS.as_bytes());
    h.update([0u8]);
    h.update(model_id.as_bytes());
    h.update([0u8]);
    h.update(prefix.as_bytes());
    h.finalize().into()
}

/// Identifies a segment: the prefix it follows (model and text) and the
/// segment's own text.
pub fn segment_key(model_id: &str, prefix: &str, segment: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(cache_key(model_id, prefix));
    h.update(segment.as_bytes());
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

/// The stored positions of a cache file, checked against `key` and the
/// model's shape: `(len, f16 data)`.
fn check<'a>(
    map: &'a [u8],
    magic: &[u8; 8],
    key: &[u8; 32],
    c: &Config,
) -> std::result::Result<(usize, &'a [u8]), Miss> {
    if map.len() < HEADER + TRAILER || &map[..8] != magic {
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
    let data_len = n_layer * 2 * n_kv * len * hd * 2;
    if map.len() != HEADER + data_len + TRAILER {
        return Err(Miss::Invalid("wrong size"));
    }
    let data = &map[HEADER..HEADER + data_len];
    if crc32fast::hash(data).to_le_bytes() != map[HEADER + data_len..] {
        return Err(Miss::Invalid("checksum mismatch"));
    }
    Ok((len, data))
}

fn map_file(path: &Path) -> std::result::Result<Mmap, Miss> {
    let file = std::fs::File::open(path).map_err(|_| Miss::Absent)?;
    // SAFETY: cache files are only ever replaced by rename, never rewritten.
    unsafe { Mmap::map(&file) }.map_err(|_| Miss::Invalid("unreadable"))
}

/// `n_layer × {K, V}` buffers of `(n_kv, cap, hd)` f32 back to back in one
/// allocation, the first `len` positions of each from `data`, converted in
/// parallel.
fn buffers(data: &[u8], c: &Config, len: usize, cap: usize) -> Vec<f32> {
    let (n_kv, hd) = (c.n_kv_head, c.head_dim);
    let (per_in, per_out) = (n_kv * len * hd, n_kv * cap * hd);
    let mut out = kv_memory(c.n_layer * 2 * per_out);
    out.par_chunks_mut(per_out)
        .enumerate()
        .for_each(|(i, out)| {
            let bytes = &data[i * per_in * 2..(i + 1) * per_in * 2];
            for (h, rows) in bytes.chunks_exact(len * hd * 2).enumerate() {
                let src: Vec<f16> = rows
                    .chunks_exact(2)
                    .map(|b| f16::from_le_bytes([b[0], b[1]]))
                    .collect();
                src.convert_to_f32_slice(&mut out[h * cap * hd..(h * cap + len) * hd]);
            }
        });
    out
}

/// Zeroed memory for the KV buffers, backed by 2 MiB pages where the
/// kernel allows: they are ~70 MB of memory new to each process, and in
/// 4 KiB pages their first writes took ~18,000 page faults per request.
/// A fresh allocation this large is a new mapping that no one has touched
/// yet, so the advice comes before any page exists.
fn kv_memory(n: usize) -> Vec<f32> {
    let v = vec![0f32; n];
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = v.as_ptr() as usize;
        let (from, to) = (start.next_multiple_of(HUGE), (start + 4 * n) / HUGE * HUGE);
        if from < to {
            // SAFETY: the range lies inside `v`'s allocation; the advice
            // changes how its pages are backed, never their contents.
            let _ =
                unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
        }
    }
    v
}

/// The layers' `(K, V)` as views of one tensor holding [`buffers`].
fn pairs(
    buffers: Vec<f32>,
    c: &Config,
    cap: usize,
    device: &Device,
) -> std::result::Result<Vec<(Tensor, Tensor)>, Miss> {
    let n_kv = c.n_kv_head;
    let all = Tensor::from_vec(buffers, (c.n_layer * 2 * n_kv, cap, c.head_dim), device)
        .map_err(|_| Miss::Invalid("tensor"))?;
    (0..c.n_layer)
        .map(|l| {
            let k = all.narrow(0, 2 * l * n_kv, n_kv)?;
            let v = all.narrow(0, (2 * l + 1) * n_kv, n_kv)?;
            Ok((k, v))
        })
        .collect::<candle_core::Result<_>>()
        .map_err(|_| Miss::Invalid("tensor"))
}

/// Loads a cache written by `save` for this exact key and model shape.
pub fn load(
    path: &Path,
    key: &[u8; 32],
    c: &Config,
    device: &Device,
) -> std::result::Result<KvCache, Miss> {
    let map = map_file(path)?;
    let (len, data) = check(&map, MAGIC, key, c)?;
    let cap = len + ROOM;
    let layers = pairs(buffers(data, c, len, cap), c, cap, device)?;
    mark_used(path);
    Ok(KvCache { layers, len })
}

/// Appends a segment written by `save_segment` for this key to `cache`.
pub fn append_segment(
    path: &Path,
    key: &[u8; 32],
    c: &Config,
    cache: &mut KvCache,
) -> std::result::Result<(), Miss> {
    let map = map_file(path)?;
    let (len, data) = check(&map, SEGMENT_MAGIC, key, c)?;
    let device = cache.device().map_err(|_| Miss::Invalid("empty cache"))?;
    let layers = pairs(buffers(data, c, len, len), c, len, &device)?;
    cache
        .append(&layers)
        .map_err(|_| Miss::Invalid("cannot append"))?;
    mark_used(path);
    Ok(())
}

/// The most recently used files are the ones kept (see `prune`).
fn mark_used(path: &Path) {
    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
    }
}

/// Writes positions `from..` of `cache` as a segment, after rounding them in
/// `cache` to what the file holds, so this call computes on exactly the
/// values that later calls load. Keeps the newest few segment files.
pub fn save_segment(
    path: &Path,
    key: &[u8; 32],
    c: &Config,
    cache: &mut KvCache,
    from: usize,
) -> Result<()> {
    let mut data = Vec::new();
    let mut rounded = Vec::with_capacity(cache.layers.len());
    for (k, v) in &cache.layers {
        let mut pair = Vec::with_capacity(2);
        for t in [k, v] {
            let seg = t.narrow(1, from, cache.len - from)?.to_dtype(DType::F16)?;
            for x in seg.flatten_all()?.to_vec1::<f16>()? {
                data.extend_from_slice(&x.to_le_bytes());
            }
            pair.push(seg.to_dtype(DType::F32)?);
        }
        rounded.push((pair.remove(0), pair.remove(0)));
    }
    let len = cache.len;
    cache.truncate(from);
    cache.append(&rounded)?;
    debug_assert_eq!(cache.len, len);
    write(path, SEGMENT_MAGIC, key, c, len - from, &data)?;
    if let Some(dir) = path.parent() {
        prune(dir, "segment-", SEGMENTS_KEPT);
    }
    Ok(())
}

/// Removes all but the `keep` most recently used `{kind}*.kv` files.
fn prune(dir: &Path, kind: &str, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(kind) && name.ends_with(".kv")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, path) in files.into_iter().skip(keep) {
        let _ = std::fs::remove_file(path);
    }
}

pub fn segment_path(dir: &Path, key: &[u8; 32]) -> PathBuf {
    let hex: String = key[..12].iter().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("segment-{hex}.kv"))
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
    write(path, MAGIC, key, c, len, &data)?;
    if let Some(dir) = path.parent() {
        prune(dir, "prefix-", PREFIXES_KEPT);
    }
    Ok(())
}

fn write(
    path: &Path,
    magic: &[u8; 8],
    key: &[u8; 32],
    c: &Config,
    len: usize,
    data: &[u8],
) -> Result<()> {
    let mut out = Vec::with_capacity(HEADER + data.len() + TRAILER);
    out.extend_from_slice(magic);
    out.extend_from_slice(key);
    for v in [c.n_layer, c.n_kv_head, len, c.head_dim] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    crate::fsutil::write_atomic(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory holding `names`, each a minute older than the next.
    fn aged(tag: &str, names: &[String]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cmdai-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let now = std::time::SystemTime::now();
        for (i, name) in names.iter().enumerate() {
            let f = std::fs::File::create(dir.join(name)).unwrap();
            let age = 60 * (names.len() - i) as u64;
            f.set_modified(now - std::time::Duration::from_secs(age))
                .unwrap();
        }
        dir
    }

    /// The names left in `dir`, sorted; the directory is removed.
    fn left(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let _ = std::fs::remove_dir_all(dir);
        names
    }

    fn numbered(kind: &str, ids: impl IntoIterator<Item = usize>) -> Vec<String> {
        ids.into_iter().map(|i| format!("{kind}{i}.kv")).collect()
    }

    #[test]
    fn old_prefix_files_go_and_segments_stay() {
        let mut names = vec!["segment-old.kv".to_string()];
        names.extend(numbered("prefix-", 0..10));
        let dir = aged("prune-p", &names);
        // Used just now: kept although made first.
        mark_used(&dir.join("prefix-0.kv"));
        prune(&dir, "prefix-", PREFIXES_KEPT);
        let mut want = numbered("prefix-", [0, 3, 4, 5, 6, 7, 8, 9]);
        want.push("segment-old.kv".into());
        assert_eq!(left(&dir), want);
    }

    #[test]
    fn pruning_keeps_the_most_recently_used_segments_only() {
        let mut names = vec!["prefix-0.kv".to_string()];
        names.extend(numbered("segment-", 0..6));
        let dir = aged("prune", &names);
        prune(&dir, "segment-", 4);
        let mut want = vec!["prefix-0.kv".to_string()];
        want.extend(numbered("segment-", 2..6));
        assert_eq!(left(&dir), want);
    }
}
