//! Pre-laid-out ("tiled") weights: the Q4_K, Q6_K, Q5_0 and Q8_0 layer
//! weights rearranged so one SIMD load holds four values of each of 16 output rows,
//! the order the multi-row kernels (`kernels::tiles`) consume them in.
//!
//! Laying out a gigabyte takes seconds, longer than a helper process lives
//! for one request, so it is done once (by `cmdai model prepare`, or lazily
//! with a notice), saved beside the model, and memory-mapped by every
//! process like the GGUF itself. When the file is there the GGUF's copies of
//! those tensors are never touched (decode uses the tiles too), so the pages
//! a request maps stay about the size of the model.
//!
//! The layout follows candle 0.11's `repack_x86` (MIT/Apache-2.0), made as
//! compact as the GGUF blocks: candle keeps per-row scales as f32, which
//! makes Q4_K a third bigger and Q6_K half again; here scales stay small
//! integers and are applied in the integer domain, and Q6_K keeps its
//! values in 4 + 2 bits.
//!
//! File layout (little endian), `<model>.tiles`:
//! `magic[8] | version u32 | header_len u32 | identity[32] | gguf_len u64 |
//!  count u32 | count × {name_len u16, name, kind u32, rows u64, cols u64,
//!  offset u64, len u64} | data_sha256[32] | header_sha256[32] | pad to 64 |
//!  data`
//! `identity` is the sha256 of the model id the prompt cache is keyed by
//! (the catalog's sha256 of the GGUF, or path + size + mtime for other
//! files). The header is checked on every open; the data's checksum is
//! checked when the file is written and by `cmdai model prepare`, not per
//! request (hashing it would cost as much as the prefill it speeds up): like
//! the GGUF, the file is only ever replaced whole, by rename.

use crate::engine::gguf::Gguf;
use crate::engine::kernels::q4k::scale_min;
use crate::error::{Context, Kind, Result};
use candle_core::quantized::GgmlDType;
use memmap2::Mmap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Output rows per tile: one 512-bit register of i32 lanes.
pub const TILE_N: usize = 16;
const QK_K: usize = 256;

const MAGIC: &[u8; 8] = b"CMDAITL1";
/// Bumped with any change to the layout below or to the header, or to the
/// weights laid out (2: the output head too; 3: Q5_0 and Q8_0; 4: Q5_0 in
/// five bits).
const VERSION: u32 = 4;
const ALIGN: usize = 64;

/// Q4_K tile: 16 rows × 256 values (one k-block).
/// `d: [f16; 16] | dmin: [f16; 16] | scales: [pair 4][row 16][2] u8 |
///  mins: same | qs: [group of 8 values 32][row 16][4] u8`, where byte j of a
/// group holds value j in its low nibble and value j + 4 in its high one.
pub mod q4k {
    pub const D: usize = 0;
    pub const DMIN: usize = 32;
    pub const SCALES: usize = 64;
    pub const MINS: usize = 192;
    pub const QS: usize = 320;
    pub const SIZE: usize = 2368;
}

/// Q6_K tile: 16 rows × 256 values.
/// `d: [f16; 16] | scales: [pair 8][row 16][2] i8 | per 16-value sub-block
///  (16): lo01[row][4] | lo23[row][4] | hi[row][4]`: for the sub-block's four
/// groups of four values g0..g3, `lo01` holds g0's low four bits in its low
/// nibble and g1's in its high nibble, `lo23` likewise g2 and g3, and `hi`
/// the top two bits of g0, g1, g2, g3 at bits 0, 2, 4, 6.
pub mod q6k {
    pub const D: usize = 0;
    pub const SCALES: usize = 32;
    pub const QS: usize = 288;
    pub const SUB: usize = 192;
    pub const SIZE: usize = 3360;
}

/// Q8 tile: 16 rows × 32 values of a Q8_0 weight.
/// `d: [f16; 16] | qs: [group of 4 values 8][row 16][4] u8`, each value
/// stored + 128 (unsigned, as the multiply wants it).
pub mod q8 {
    pub const D: usize = 0;
    pub const QS: usize = 32;
    pub const SIZE: usize = 544;
}

/// Q5 tile: 16 rows × 32 values of a Q5_0 weight, each stored + 16 (0..32),
/// as many bytes as its GGUF blocks. `d: [f16; 16] | qs: [pair of groups
/// 4][row 16][4] u8 | hb: [group 8] u64`: byte j of a row in pair p holds
/// the low four bits of value 8p + j in its low nibble and of 8p + 4 + j in
/// its high one; bit 4r + j of group g's word is the fifth bit of value
/// 4g + j of row r, so it masks exactly the bytes of one group's load.
pub mod q5 {
    pub const D: usize = 0;
    pub const QS: usize = 32;
    pub const HB: usize = 288;
    pub const SIZE: usize = 352;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    Q4K,
    Q6K,
    Q8,
    Q5,
}

impl TileKind {
    pub fn of(dtype: GgmlDType) -> Option<Self> {
        match dtype {
            GgmlDType::Q4K => Some(TileKind::Q4K),
            GgmlDType::Q6K => Some(TileKind::Q6K),
            GgmlDType::Q8_0 => Some(TileKind::Q8),
            GgmlDType::Q5_0 => Some(TileKind::Q5),
            _ => None,
        }
    }

    fn code(self) -> u32 {
        match self {
            TileKind::Q4K => 1,
            TileKind::Q6K => 2,
            TileKind::Q8 => 3,
            TileKind::Q5 => 4,
        }
    }

    fn from_code(c: u32) -> Option<Self> {
        match c {
            1 => Some(TileKind::Q4K),
            2 => Some(TileKind::Q6K),
            3 => Some(TileKind::Q8),
            4 => Some(TileKind::Q5),
            _ => None,
        }
    }

    pub fn tile_size(self) -> usize {
        match self {
            TileKind::Q4K => q4k::SIZE,
            TileKind::Q6K => q6k::SIZE,
            TileKind::Q8 => q8::SIZE,
            TileKind::Q5 => q5::SIZE,
        }
    }

    /// Values of a row in one tile (a block of the source format).
    pub fn block_len(self) -> usize {
        match self {
            TileKind::Q4K | TileKind::Q6K => QK_K,
            TileKind::Q8 | TileKind::Q5 => 32,
        }
    }

    /// Bytes of the tiles of a `rows × cols` weight, the last tile padded
    /// with zero rows.
    pub fn tensor_len(self, rows: usize, cols: usize) -> usize {
        rows.div_ceil(TILE_N) * (cols / self.block_len()) * self.tile_size()
    }
}

/// Lays out tile `(t, b)` (rows `16t..`, k-block `b`) of a Q4_K weight
/// given as its GGUF bytes, into `out` (one tile, zeroed by the caller).
fn pack_q4k(w: &[u8], rows: usize, kb: usize, t: usize, b: usize, out: &mut [u8]) {
    for r in 0..TILE_N {
        let row = t * TILE_N + r;
        if row >= rows {
            break;
        }
        let blk = &w[(row * kb + b) * 144..(row * kb + b + 1) * 144];
        out[q4k::D + 2 * r..q4k::D + 2 * r + 2].copy_from_slice(&blk[0..2]);
        out[q4k::DMIN + 2 * r..q4k::DMIN + 2 * r + 2].copy_from_slice(&blk[2..4]);
        for sub in 0..8 {
            let (sc, mn) = scale_min(sub, &blk[4..16]);
            let at = (sub / 2) * 2 * TILE_N + 2 * r + sub % 2;
            out[q4k::SCALES + at] = sc;
            out[q4k::MINS + at] = mn;
        }
        // GGUF: each 32 bytes hold 64 values, the first 32 in low nibbles.
        let qs = &blk[16..144];
        let val = |i: usize| {
            let byte = qs[(i / 64) * 32 + i % 32];
            if i % 64 < 32 {
                byte & 0xF
            } else {
                byte >> 4
            }
        };
        for g in 0..QK_K / 8 {
            for j in 0..4 {
                out[q4k::QS + (g * TILE_N + r) * 4 + j] =
                    val(8 * g + j) | (val(8 * g + j + 4) << 4);
            }
        }
    }
}

/// As `pack_q4k`, for Q6_K.
fn pack_q6k(w: &[u8], rows: usize, kb: usize, t: usize, b: usize, out: &mut [u8]) {
    for r in 0..TILE_N {
        let row = t * TILE_N + r;
        if row >= rows {
            break;
        }
        // GGUF: ql[128] | qh[64] | scales[16] i8 | d f16.
        let blk = &w[(row * kb + b) * 210..(row * kb + b + 1) * 210];
        out[q6k::D + 2 * r..q6k::D + 2 * r + 2].copy_from_slice(&blk[208..210]);
        for sub in 0..16 {
            out[q6k::SCALES + (sub / 2) * 2 * TILE_N + 2 * r + sub % 2] = blk[192 + sub];
        }
        // ggml's dequantize_row_q6_K, unscaled and unbiased (0..64).
        let mut v = [0u8; QK_K];
        for h in 0..2 {
            let ql = &blk[h * 64..h * 64 + 64];
            let qh = &blk[128 + h * 32..128 + h * 32 + 32];
            for l in 0..32 {
                v[h * 128 + l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
                v[h * 128 + l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
                v[h * 128 + l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                v[h * 128 + l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
            }
        }
        for sub in 0..16 {
            let base = q6k::QS + sub * q6k::SUB;
            for j in 0..4 {
                let g = |i: usize| v[sub * 16 + 4 * i + j];
                let at = base + 4 * r + j;
                out[at] = (g(0) & 0xF) | ((g(1) & 0xF) << 4);
                out[at + 64] = (g(2) & 0xF) | ((g(3) & 0xF) << 4);
                out[at + 128] =
                    (g(0) >> 4) | ((g(1) >> 4) << 2) | ((g(2) >> 4) << 4) | ((g(3) >> 4) << 6);
            }
        }
    }
}

/// As `pack_q4k`, for Q8_0 (`d: f16 | qs: [i8; 32]`).
fn pack_q8(w: &[u8], rows: usize, kb: usize, t: usize, b: usize, out: &mut [u8]) {
    for r in 0..TILE_N {
        let row = t * TILE_N + r;
        if row >= rows {
            break;
        }
        let blk = &w[(row * kb + b) * 34..(row * kb + b + 1) * 34];
        out[q8::D + 2 * r..q8::D + 2 * r + 2].copy_from_slice(&blk[0..2]);
        for g in 0..8 {
            for j in 0..4 {
                out[q8::QS + (g * TILE_N + r) * 4 + j] = blk[2 + 4 * g + j] ^ 0x80;
            }
        }
    }
}

/// As `pack_q4k`, for Q5_0 (`d: f16 | qh: u32 | qs: [u8; 16]`: value j has
/// its low four bits in byte j % 16, low nibble for j < 16, and its fifth
/// in bit j of `qh`; minus 16).
fn pack_q5(w: &[u8], rows: usize, kb: usize, t: usize, b: usize, out: &mut [u8]) {
    for r in 0..TILE_N {
        let row = t * TILE_N + r;
        if row >= rows {
            break;
        }
        let blk = &w[(row * kb + b) * 22..(row * kb + b + 1) * 22];
        out[q5::D + 2 * r..q5::D + 2 * r + 2].copy_from_slice(&blk[0..2]);
        let qh = u32::from_le_bytes([blk[2], blk[3], blk[4], blk[5]]);
        let low = |j: usize| {
            if j < 16 {
                blk[6 + j] & 0xF
            } else {
                blk[6 + j - 16] >> 4
            }
        };
        for p in 0..4 {
            for j in 0..4 {
                out[q5::QS + (p * TILE_N + r) * 4 + j] = low(8 * p + j) | (low(8 * p + 4 + j) << 4);
            }
        }
        for g in 0..8 {
            let at = q5::HB + 8 * g;
            let mut word = u64::from_le_bytes(out[at..at + 8].try_into().unwrap_or([0; 8]));
            for j in 0..4 {
                word |= u64::from((qh >> (4 * g + j)) & 1) << (4 * r + j);
            }
            out[at..at + 8].copy_from_slice(&word.to_le_bytes());
        }
    }
}

/// The tiles of a whole `rows × cols` weight given as GGUF block bytes
/// (of type `dtype`), ordered `[row tile][k-block]`, handed to `sink` a
/// batch at a time so a big tensor never sits in memory twice.
pub fn pack(
    dtype: GgmlDType,
    w: &[u8],
    rows: usize,
    cols: usize,
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use rayon::prelude::*;
    let Some(kind) = TileKind::of(dtype) else {
        return Err(std::io::Error::other("not a tileable type"));
    };
    let kb = cols / kind.block_len();
    let size = kind.tile_size();
    let n_tiles = rows.div_ceil(TILE_N);
    // About a megabyte per batch, laid out on all cores.
    let per_batch = (1 << 20) / (kb * size) + 1;
    let mut buf = Vec::new();
    for first in (0..n_tiles).step_by(per_batch) {
        let count = per_batch.min(n_tiles - first);
        buf.clear();
        buf.resize(count * kb * size, 0);
        buf.par_chunks_mut(size).enumerate().for_each(|(i, out)| {
            let (t, b) = (first + i / kb, i % kb);
            match kind {
                TileKind::Q4K => pack_q4k(w, rows, kb, t, b, out),
                TileKind::Q6K => pack_q6k(w, rows, kb, t, b, out),
                TileKind::Q8 => pack_q8(w, rows, kb, t, b, out),
                TileKind::Q5 => pack_q5(w, rows, kb, t, b, out),
            }
        });
        sink(&buf)?;
    }
    Ok(())
}

/// Whether a weight can be tiled: a type with tiles, rows of whole blocks.
pub fn tileable(dtype: GgmlDType, cols: usize) -> Option<TileKind> {
    TileKind::of(dtype).filter(|k| cols > 0 && cols.is_multiple_of(k.block_len()))
}

/// Whether the tiled kernels run on this machine (AVX2 at least), and are
/// not switched off with `CMDAI_NO_TILES=1` (to compare, or to rule them out).
pub fn supported() -> bool {
    let off = std::env::var_os("CMDAI_NO_TILES").is_some_and(|v| !v.is_empty() && v != "0");
    #[cfg(target_arch = "x86_64")]
    {
        !off && super::kernels::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = off;
        false
    }
}

/// The weights worth laying out: the layers' matmuls, which prefill runs
/// on many rows, and the output head, which checking drafted tokens runs on
/// several (with the GGUF's Q6_K blocks each extra row cost two thirds of
/// a row's pass; tiled, a few percent). A tied head (the embedding table)
/// is left as it is.
fn wanted(name: &str) -> bool {
    const LAYER: &[&str] = &[
        "attn_q.weight",
        "attn_k.weight",
        "attn_v.weight",
        "attn_output.weight",
        "ffn_gate.weight",
        "ffn_up.weight",
        "ffn_down.weight",
    ];
    name == "output.weight" || name.starts_with("blk.") && LAYER.iter().any(|l| name.ends_with(l))
}

/// Where the tile file of a model lives: beside the GGUF in the cache's
/// models dir, named after the GGUF and its id (so two custom files of the
/// same name do not take turns overwriting one file).
pub fn path_for(models_dir: &Path, gguf: &Path, model_id: &str) -> PathBuf {
    let name = gguf
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let id = Sha256::digest(model_id.as_bytes());
    let hex: String = id[..6].iter().map(|b| format!("{b:02x}")).collect();
    models_dir.join(format!("{name}.{hex}.tiles"))
}

struct Entry {
    kind: TileKind,
    rows: usize,
    cols: usize,
    offset: usize,
    len: usize,
}

/// A tile file, validated and mapped.
pub struct TileSet {
    map: Arc<Mmap>,
    entries: HashMap<String, Entry>,
    data_sha: [u8; 32],
    data_start: usize,
}

/// A weight's tiles in the mapping.
#[derive(Clone)]
pub struct Tiles {
    pub kind: TileKind,
    ptr: *const u8,
    len: usize,
    _map: Arc<Mmap>,
}

// SAFETY: a read-only shared mapping that `_map` keeps alive.
unsafe impl Send for Tiles {}
unsafe impl Sync for Tiles {}

impl Tiles {
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr + len` was checked to lie in the mapping.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Why a tile file was not used: any of these means "build it again".
#[derive(Debug, PartialEq, Eq)]
pub enum Miss {
    Absent,
    Invalid(&'static str),
}

fn identity(model_id: &str) -> [u8; 32] {
    Sha256::digest(model_id.as_bytes()).into()
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], Miss> {
        let end = self.at.checked_add(n).ok_or(Miss::Invalid("header"))?;
        let s = self
            .b
            .get(self.at..end)
            .ok_or(Miss::Invalid("truncated header"))?;
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> std::result::Result<u16, Miss> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> std::result::Result<u32, Miss> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> std::result::Result<usize, Miss> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        usize::try_from(u64::from_le_bytes(a)).map_err(|_| Miss::Invalid("header"))
    }
}

impl TileSet {
    /// Opens the tile file for the model `model_id` whose GGUF has
    /// `gguf_len` bytes, checking everything but the data's checksum.
    pub fn open(path: &Path, model_id: &str, gguf_len: u64) -> std::result::Result<Self, Miss> {
        let file = std::fs::File::open(path).map_err(|_| Miss::Absent)?;
        // SAFETY: tile files are only ever replaced by rename, never rewritten.
        let map = unsafe { Mmap::map(&file) }.map_err(|_| Miss::Invalid("unreadable"))?;
        crate::fsutil::prefer_huge_pages(&map, true);
        let mut r = Reader { b: &map, at: 0 };
        if r.take(8)? != MAGIC {
            return Err(Miss::Invalid("not a tile file"));
        }
        if r.u32()? != VERSION {
            return Err(Miss::Invalid("other version"));
        }
        let header_len = r.u32()? as usize;
        if header_len < 64 || header_len > map.len() {
            return Err(Miss::Invalid("bad header length"));
        }
        if r.take(32)? != identity(model_id) || r.u64()? as u64 != gguf_len {
            return Err(Miss::Invalid("stale: made for another model file"));
        }
        let count = r.u32()? as usize;
        let mut raw = Vec::with_capacity(count.min(4096));
        for _ in 0..count {
            let name_len = r.u16()? as usize;
            let name = std::str::from_utf8(r.take(name_len)?)
                .map_err(|_| Miss::Invalid("bad name"))?
                .to_string();
            let kind = TileKind::from_code(r.u32()?).ok_or(Miss::Invalid("bad kind"))?;
            let (rows, cols, offset, len) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
            raw.push((
                name,
                Entry {
                    kind,
                    rows,
                    cols,
                    offset,
                    len,
                },
            ));
        }
        let mut data_sha = [0u8; 32];
        data_sha.copy_from_slice(r.take(32)?);
        let summed = r.at;
        if r.take(32)? != Sha256::digest(&map[..summed]).as_slice() {
            return Err(Miss::Invalid("header checksum mismatch"));
        }
        if r.at.next_multiple_of(ALIGN) != header_len {
            return Err(Miss::Invalid("bad header length"));
        }
        // Tensors back to back from the header on, the file ending with the
        // last: a truncated file (or one with a tail) is caught here.
        let mut end = header_len;
        let mut entries = HashMap::with_capacity(raw.len());
        for (name, e) in raw {
            let fits = e.cols.is_multiple_of(e.kind.block_len())
                && e.rows > 0
                && e.len == e.kind.tensor_len(e.rows, e.cols)
                && e.offset == end;
            if !fits {
                return Err(Miss::Invalid("bad tensor entry"));
            }
            end = (e.offset + e.len).next_multiple_of(ALIGN);
            entries.insert(name, e);
        }
        if end != map.len() {
            return Err(Miss::Invalid("truncated or wrong size"));
        }
        Ok(TileSet {
            map: Arc::new(map),
            entries,
            data_sha,
            data_start: header_len,
        })
    }

    /// Hashes the data and compares it with the header's checksum: slow
    /// (a gigabyte), so for `cmdai model prepare`, not for each request.
    pub fn verify_data(&self) -> bool {
        Sha256::digest(&self.map[self.data_start..]).as_slice() == self.data_sha
    }

    /// The tiles of tensor `name`, if the file has them for exactly this
    /// type and shape (anything else and the GGUF's blocks are used).
    pub fn get(&self, name: &str, dtype: GgmlDType, rows: usize, cols: usize) -> Option<Tiles> {
        let e = self.entries.get(name)?;
        if Some(e.kind) != TileKind::of(dtype) || e.rows != rows || e.cols != cols {
            return None;
        }
        Some(Tiles {
            kind: e.kind,
            ptr: self.map[e.offset..e.offset + e.len].as_ptr(),
            len: e.len,
            _map: self.map.clone(),
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The file's size.
    pub fn file_len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Lays out the model's tileable weights and writes the tile file through a
/// temp file and a rename in the same directory; on any failure the temp
/// file is removed and the error returned (the caller runs without tiles).
pub fn build(g: &Gguf, model_id: &str, path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .context(Kind::Other, || format!("cannot create {}", dir.display()))?;
    remove_stale_temps(path);
    let mut names: Vec<&String> = g
        .content
        .tensor_infos
        .keys()
        .filter(|n| wanted(n))
        .collect();
    names.sort();
    let mut plan = Vec::new();
    for name in names {
        let t = g.tensor(name)?;
        let (rows, cols) = match t.dims.as_slice() {
            [r, c] => (*r, *c),
            _ => continue,
        };
        if let Some(kind) = tileable(t.dtype, cols) {
            if t.bytes.len() == rows * (cols / kind.block_len()) * t.dtype.type_size() {
                plan.push((name.clone(), kind, t.dtype, rows, cols, t.bytes));
            }
        }
    }
    // Header first, to know where the data starts.
    let mut header = Vec::new();
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes()); // header_len, set below
    header.extend_from_slice(&identity(model_id));
    header.extend_from_slice(&(g.map.len() as u64).to_le_bytes());
    header.extend_from_slice(&(plan.len() as u32).to_le_bytes());
    let entries_len: usize = plan.iter().map(|(n, ..)| 2 + n.len() + 4 + 32).sum();
    let header_len = (header.len() + entries_len + 64).next_multiple_of(ALIGN);
    header[12..16].copy_from_slice(&(header_len as u32).to_le_bytes());
    let mut offset = header_len;
    for (name, kind, _, rows, cols, _) in &plan {
        let len = kind.tensor_len(*rows, *cols);
        header.extend_from_slice(&(name.len() as u16).to_le_bytes());
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&kind.code().to_le_bytes());
        for v in [*rows, *cols, offset, len] {
            header.extend_from_slice(&(v as u64).to_le_bytes());
        }
        offset = (offset + len).next_multiple_of(ALIGN);
    }

    let tmp = temp_path(path);
    let result = (|| -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 22, file);
        out.seek(SeekFrom::Start(header_len as u64))?;
        let mut sha = Sha256::new();
        let mut written = header_len;
        for (_, _, dtype, rows, cols, bytes) in &plan {
            pack(*dtype, bytes, *rows, *cols, &mut |chunk| {
                sha.update(chunk);
                written += chunk.len();
                out.write_all(chunk)
            })?;
            let pad = written.next_multiple_of(ALIGN) - written;
            let zeros = [0u8; ALIGN];
            sha.update(&zeros[..pad]);
            out.write_all(&zeros[..pad])?;
            written += pad;
        }
        header.extend_from_slice(&sha.finalize());
        let header_sha = Sha256::digest(&header);
        header.extend_from_slice(&header_sha);
        header.resize(header_len, 0);
        out.seek(SeekFrom::Start(0))?;
        out.write_all(&header)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        crate::fsutil::drop_cached_pages(path);
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.context(Kind::Other, || {
        format!("cannot write the tile file {}", path.display())
    })
}

fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("tiles");
    dir.join(format!(".{name}.{}.tmp", std::process::id()))
}

/// Removes the temp files of builds that were killed before they could
/// clean up (an interrupted `cmdai model prepare`): a gigabyte each. A temp
/// file whose process still runs is someone's build in progress.
fn remove_stale_temps(path: &Path) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    let prefix = format!(".{name}.");
    let Ok(list) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in list.flatten() {
        let file = entry.file_name();
        let Some(f) = file.to_str() else { continue };
        let Some(pid) = f
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: kill with signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !alive {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Opens the tile file at `path`, building it first when it is missing or
/// unusable and `may_build`; None (run on the GGUF's blocks) when tiles are
/// not supported here, or the file cannot be had (an unwritable dir, a full
/// disk). `notice` is told before a build starts.
pub fn open_or_build(
    g: &Gguf,
    model_id: &str,
    path: &Path,
    may_build: bool,
    notice: &mut dyn FnMut(),
) -> Option<TileSet> {
    if !supported() {
        return None;
    }
    let len = g.map.len() as u64;
    match TileSet::open(path, model_id, len) {
        Ok(set) => return Some(set),
        Err(_) if !may_build => return None,
        Err(_) => {}
    }
    notice();
    let built = build(g, model_id, path);
    // The build read every layer weight of the GGUF; from now on the tiles
    // are read instead, so let those pages go rather than hold the model
    // twice. SAFETY: a read-only file mapping: dropped pages are read back
    // from the file, unchanged, if ever touched again.
    let _ = unsafe { g.map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    built.ok()?;
    TileSet::open(path, model_id, len).ok()
}

/// Whether `path` holds a tile file for this model whose data is intact,
/// hashing it all (for `cmdai model prepare`).
pub fn is_intact(path: &Path, model_id: &str, gguf_len: u64) -> bool {
    TileSet::open(path, model_id, gguf_len).is_ok_and(|s| s.verify_data())
}

// The kernels' test helpers are x86-64 only, like the kernels.
#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use candle_core::quantized::{gguf_file, QTensor};
    use candle_core::{Device, Tensor};

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let p = std::env::temp_dir().join(format!("cmdai-tiles-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).expect("temp dir");
            Dir(p)
        }
        fn files(&self) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(&self.0)
                .expect("list")
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const UP: &str = "blk.0.ffn_up.weight";
    const DOWN: &str = "blk.0.ffn_down.weight";

    /// A GGUF with one Q4_K and one Q6_K layer weight (40 rows: a partial
    /// last tile), and tensors that are not laid out.
    fn gguf(dir: &Path) -> Gguf {
        let dev = Device::Cpu;
        let t = |rows: usize, cols: usize, seed: u32| {
            let v = crate::engine::kernels::testing::random(rows * cols, 1.0, seed);
            Tensor::from_vec(v, (rows, cols), &dev).expect("tensor")
        };
        let up = QTensor::quantize(&t(40, 512, 1), GgmlDType::Q4K).expect("q4k");
        let down = QTensor::quantize(&t(16, 256, 2), GgmlDType::Q6K).expect("q6k");
        let embd = QTensor::quantize(&t(16, 256, 3), GgmlDType::Q4K).expect("q4k");
        let norm = QTensor::quantize(&t(1, 512, 4), GgmlDType::F32).expect("f32");
        let path = dir.join("m.gguf");
        let mut f = std::fs::File::create(&path).expect("create");
        let arch = gguf_file::Value::String("qwen2".into());
        gguf_file::write(
            &mut f,
            &[("general.architecture", &arch)],
            &[
                (UP, &up),
                (DOWN, &down),
                ("token_embd.weight", &embd),
                ("blk.0.attn_norm.weight", &norm),
            ],
        )
        .expect("write gguf");
        drop(f);
        Gguf::open(&path).expect("open gguf")
    }

    fn packed(g: &Gguf, name: &str) -> Vec<u8> {
        let t = g.tensor(name).expect("tensor");
        let mut out = Vec::new();
        pack(t.dtype, t.bytes, t.dims[0], t.dims[1], &mut |c| {
            out.extend_from_slice(c);
            Ok(())
        })
        .expect("pack");
        out
    }

    #[test]
    fn builds_opens_and_hands_out_the_layer_weights() {
        let dir = Dir::new("build");
        let g = gguf(&dir.0);
        let path = dir.0.join("m.gguf.x.tiles");
        build(&g, "id", &path).expect("build");
        assert_eq!(
            dir.files(),
            ["m.gguf", "m.gguf.x.tiles"],
            "no temp file left"
        );
        let len = g.map.len() as u64;
        let set = TileSet::open(&path, "id", len).expect("open");
        assert_eq!(set.len(), 2, "only the layers' matmuls");
        assert!(set.verify_data());
        let up = set.get(UP, GgmlDType::Q4K, 40, 512).expect("up");
        assert_eq!(up.bytes(), packed(&g, UP));
        let down = set.get(DOWN, GgmlDType::Q6K, 16, 256).expect("down");
        assert_eq!(down.bytes(), packed(&g, DOWN));
        // Another type or shape than the GGUF's: not used.
        assert!(set.get(UP, GgmlDType::Q6K, 40, 512).is_none());
        assert!(set.get(UP, GgmlDType::Q4K, 32, 512).is_none());
        assert!(set
            .get("token_embd.weight", GgmlDType::Q4K, 16, 256)
            .is_none());
    }

    #[test]
    fn stale_truncated_or_corrupt_files_are_refused() {
        let dir = Dir::new("refuse");
        let g = gguf(&dir.0);
        let path = dir.0.join("t.tiles");
        build(&g, "id", &path).expect("build");
        let len = g.map.len() as u64;
        let good = std::fs::read(&path).expect("read");
        let invalid = |e: std::result::Result<TileSet, Miss>| matches!(e, Err(Miss::Invalid(_)));
        assert!(invalid(TileSet::open(&path, "other id", len)));
        assert!(invalid(TileSet::open(&path, "id", len + 1)));
        assert!(matches!(
            TileSet::open(&dir.0.join("absent"), "id", len),
            Err(Miss::Absent)
        ));
        let with = |bytes: &[u8]| {
            std::fs::write(&path, bytes).expect("write");
            TileSet::open(&path, "id", len)
        };
        // Truncated anywhere, header or data; a tail; an empty file.
        for cut in [0, 7, 100, good.len() / 2, good.len() - 1] {
            assert!(invalid(with(&good[..cut])), "cut at {cut}");
        }
        let mut longer = good.clone();
        longer.extend_from_slice(&[0; 64]);
        assert!(invalid(with(&longer)));
        // Any header byte changed: the header's checksum.
        for at in [8, 12, 20, 60, 70, 100] {
            let mut bad = good.clone();
            bad[at] ^= 1;
            assert!(invalid(with(&bad)), "byte {at}");
        }
        // A data byte changed: the header is fine, the full check is not.
        let mut bad = good.clone();
        let last = bad.len() - 100;
        bad[last] ^= 1;
        let set = with(&bad).expect("header intact");
        assert!(!set.verify_data());
        assert!(!is_intact(&path, "id", len));
        std::fs::write(&path, &good).expect("write");
        assert!(is_intact(&path, "id", len));
    }

    #[test]
    fn an_unwritable_place_means_no_tiles_and_no_leftovers() {
        let dir = Dir::new("unwritable");
        let g = gguf(&dir.0);
        // A "directory" that is a file: fails even for root.
        let blocker = dir.0.join("blocker");
        std::fs::write(&blocker, b"").expect("write");
        let path = blocker.join("t.tiles");
        assert!(build(&g, "id", &path).is_err());
        let mut told = false;
        assert!(open_or_build(&g, "id", &path, true, &mut || told = true).is_none());
        assert_eq!(told, supported());
        assert_eq!(dir.files(), ["blocker", "m.gguf"]);
    }

    #[test]
    fn temp_files_of_dead_builds_are_removed() {
        let dir = Dir::new("stale");
        let g = gguf(&dir.0);
        let path = dir.0.join("t.tiles");
        // No such process (above any pid_max), and a live one (our parent).
        let dead = dir.0.join(".t.tiles.2147483646.tmp");
        let live = dir.0.join(format!(
            ".t.tiles.{}.tmp",
            std::os::unix::process::parent_id()
        ));
        std::fs::write(&dead, b"x").expect("write");
        std::fs::write(&live, b"x").expect("write");
        build(&g, "id", &path).expect("build");
        assert!(!dead.exists());
        assert!(live.exists());
    }

    #[test]
    fn the_file_name_follows_the_model_and_its_id() {
        let a = path_for(Path::new("/c"), Path::new("/x/m.gguf"), "one");
        let b = path_for(Path::new("/c"), Path::new("/x/m.gguf"), "two");
        assert_ne!(a, b);
        assert!(a.starts_with("/c"));
        let name = a.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            name.starts_with("m.gguf.") && name.ends_with(".tiles"),
            "{name}"
        );
    }
}
