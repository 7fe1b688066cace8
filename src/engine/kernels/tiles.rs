//! Matmul over pre-laid-out weights (`engine::tiles`): each 64-byte load
//! holds four values of each of 16 output rows, so one VNNI multiply-add
//! (or, on AVX2, `maddubs` + `madd`) advances 16 dot products by four
//! values, against four activation values broadcast from a Q8_K row. A
//! tile meets up to four activation rows while it is in registers.
//!
//! After candle 0.11's `repack_x86` kernels (MIT/Apache-2.0), with the
//! per-row scales applied in the integer domain (so tiles keep them as
//! bytes, and Q6_K as 4 + 2 bits: see `engine::tiles`).

use super::{self as simd, RawBlock};
use crate::engine::tiles::{q4k, q5, q6k, q8, TileKind, TILE_N};
use candle_core::quantized::k_quants::{BlockQ8K, BlockQ8_0, GgmlType};
use rayon::prelude::*;
use std::arch::x86_64::*;

const QK_K: usize = 256;
/// Bytes of a Q8_K block: `d: f32 | qs: [i8; 256] | bsums: [i16; 16]`.
const Q8K: usize = 292;
const Q8K_QS: usize = 4;
const Q8K_BSUMS: usize = 260;
/// Activation rows per pass over a tile.
const MT: usize = 4;

/// Q8_K activation rows, with, for Q4_K, the sums per 32 values of each
/// block packed in i16 pairs as the mins' multiply-add wants them.
struct Acts {
    q: Vec<BlockQ8K>,
    pairs: Vec<[u32; 4]>,
}

fn quantize(kind: TileKind, m: usize, k: usize, lhs: &[f32]) -> Acts {
    let kb = k / QK_K;
    let mut q = vec![BlockQ8K::zeros(); m * kb];
    q.par_chunks_mut(kb)
        .zip(lhs.par_chunks(k))
        .with_min_len(4)
        .for_each(|(out, row)| super::q8k::quantize(row, out));
    let pairs = match kind {
        TileKind::Q4K => q
            .iter()
            .map(|y| {
                let b = &y.bytes()[Q8K_BSUMS..Q8K];
                let bsum = |i: usize| i16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as i32;
                let sub = |s: usize| (bsum(2 * s) + bsum(2 * s + 1)) as u16 as u32;
                std::array::from_fn(|p| sub(2 * p) | (sub(2 * p + 1) << 16))
            })
            .collect(),
        TileKind::Q6K | TileKind::Q8 | TileKind::Q5 => Vec::new(),
    };
    Acts { q, pairs }
}

/// Q8_0 activation rows for Q8 and Q5 tiles (as candle quantizes them for
/// Q8_0 and Q5_0 weights), with each block's scale as f32 and its sum Σa:
/// the tiles store values + 128 (Q8) or + 16 (Q5), which adds that many
/// Σa to every dot product.
struct Acts8 {
    q: Vec<BlockQ8_0>,
    d: Vec<f32>,
    sums: Vec<i32>,
}

fn quantize8(m: usize, k: usize, lhs: &[f32]) -> Acts8 {
    let kb = k / 32;
    let mut q = vec![BlockQ8_0::zeros(); m * kb];
    q.par_chunks_mut(kb)
        .zip(lhs.par_chunks(k))
        .with_min_len(4)
        .for_each(|(out, row)| BlockQ8_0::from_float(row, out));
    let d = q
        .iter()
        .map(|b| half::f16::from_le_bytes([b.bytes()[0], b.bytes()[1]]).to_f32())
        .collect();
    let sums = q
        .iter()
        .map(|b| {
            b.bytes()[2..34]
                .iter()
                .map(|&v| v as i8 as i32)
                .sum::<i32>()
        })
        .collect();
    Acts8 { q, d, sums }
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: each work unit writes its own columns of `dst` (see `matmul`).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    // A method, so closures capture the wrapper (Send) rather than the
    // raw pointer field.
    fn at(self, i: usize) -> *mut f32 {
        self.0.wrapping_add(i)
    }
}

/// `dst[m×n] = lhs[m×k] · wᵀ`, `w` given as its tiles, where `live` (one
/// flag per tile of 16 rows) allows: the columns of other tiles are -inf.
/// Returns false when not applicable (the caller falls back to the GGUF's
/// blocks).
#[allow(clippy::too_many_arguments)]
pub fn matmul(
    kind: TileKind,
    tiles: &[u8],
    m: usize,
    k: usize,
    n: usize,
    lhs: &[f32],
    dst: &mut [f32],
    live: Option<&[bool]>,
) -> bool {
    if !simd::available()
        || m == 0
        || k == 0
        || !k.is_multiple_of(kind.block_len())
        || tiles.len() != kind.tensor_len(n, k)
        || lhs.len() != m * k
        || dst.len() != m * n
        || live.is_some_and(|l| l.len() != n.div_ceil(TILE_N))
    {
        return false;
    }
    matmul_with(kind, tiles, m, k, n, lhs, dst, live, simd::vnni());
    true
}

#[allow(clippy::too_many_arguments)]
fn matmul_with(
    kind: TileKind,
    tiles: &[u8],
    m: usize,
    k: usize,
    n: usize,
    lhs: &[f32],
    dst: &mut [f32],
    live: Option<&[bool]>,
    vnni: bool,
) {
    let kb = k / kind.block_len();
    if matches!(kind, TileKind::Q8 | TileKind::Q5) {
        let acts = quantize8(m, k, lhs);
        let row = |i: usize| i * kb;
        over_tiles(kind, tiles, m, kb, n, dst, live, |t, m0, mt, res| {
            let at = |i: usize| row(m0 + i.min(mt - 1));
            let a: [*const u8; MT] = std::array::from_fn(|i| acts.q[at(i)..].as_ptr() as *const u8);
            let d: [*const f32; MT] = std::array::from_fn(|i| acts.d[at(i)..].as_ptr());
            let c: [*const i32; MT] = std::array::from_fn(|i| acts.sums[at(i)..].as_ptr());
            // SAFETY: as for the k-quants below; each activation row has
            // kb blocks, scales and sums.
            unsafe { unit_q8(kind, vnni, mt, t, kb, &a, &d, &c, res) };
        });
        return;
    }
    let acts = quantize(kind, m, k, lhs);
    over_tiles(kind, tiles, m, kb, n, dst, live, |t, m0, mt, res| {
        let act = |i: usize| acts.q[(m0 + i.min(mt - 1)) * kb..].as_ptr() as *const u8;
        let pair = |i: usize| match kind {
            TileKind::Q4K => acts.pairs[(m0 + i.min(mt - 1)) * kb..].as_ptr(),
            TileKind::Q6K | TileKind::Q8 | TileKind::Q5 => std::ptr::null(),
        };
        let a: [*const u8; MT] = std::array::from_fn(act);
        let p: [*const [u32; 4]; MT] = std::array::from_fn(pair);
        // SAFETY: the features were checked by the caller (`vnni`
        // only where `simd::vnni()`), the tile row has kb tiles,
        // and each activation row kb blocks (and pair sums).
        unsafe { unit(kind, vnni, mt, t, kb, &a, &p, res) };
    });
}

/// Runs `unit(tile row, first activation row, rows, results)` over every
/// tile row of 16 output columns and groups of up to `MT` activation rows,
/// on all cores, and writes the results into `dst`; tile rows that `live`
/// does not mark are -inf.
#[allow(clippy::too_many_arguments)]
fn over_tiles(
    kind: TileKind,
    tiles: &[u8],
    m: usize,
    kb: usize,
    n: usize,
    dst: &mut [f32],
    live: Option<&[bool]>,
    unit: impl Fn(*const u8, usize, usize, &mut [[f32; TILE_N]; MT]) + Sync,
) {
    let n_tiles = n.div_ceil(TILE_N);
    let tile_row = kb * kind.tile_size();
    let out = SendPtr(dst.as_mut_ptr());
    // Enough pieces for rayon to balance two busy cores, few enough that
    // each one is worth a dispatch.
    let per = (n_tiles / (8 * rayon::current_num_threads().max(1))).max(1);
    (0..n_tiles)
        .into_par_iter()
        .with_min_len(per)
        .for_each(|nt| {
            let cols = (n - nt * TILE_N).min(TILE_N);
            if live.is_some_and(|l| !l[nt]) {
                for i in 0..m {
                    // SAFETY: row i < m, columns nt*16 .. +cols < n; units
                    // own disjoint column ranges.
                    unsafe {
                        std::slice::from_raw_parts_mut(out.at(i * n + nt * TILE_N), cols)
                            .fill(f32::NEG_INFINITY)
                    };
                }
                return;
            }
            let t = tiles[nt * tile_row..(nt + 1) * tile_row].as_ptr();
            for m0 in (0..m).step_by(MT) {
                let mt = (m - m0).min(MT);
                let mut res = [[0f32; TILE_N]; MT];
                unit(t, m0, mt, &mut res);
                for (i, row) in res.iter().enumerate().take(mt) {
                    // SAFETY: row m0 + i < m, columns nt*16 .. +cols < n;
                    // units own disjoint column ranges.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            row.as_ptr(),
                            out.at((m0 + i) * n + nt * TILE_N),
                            cols,
                        )
                    };
                }
            }
        });
}

/// Picks the kernel for `mt` rows: a const row count keeps the
/// accumulators in registers.
#[allow(clippy::too_many_arguments)]
unsafe fn unit(
    kind: TileKind,
    vnni: bool,
    mt: usize,
    t: *const u8,
    kb: usize,
    a: &[*const u8; MT],
    p: &[*const [u32; 4]; MT],
    res: &mut [[f32; TILE_N]; MT],
) {
    macro_rules! go {
        ($f:ident) => {
            match mt {
                1 => $f::<1>(t, kb, a, p, res),
                2 => $f::<2>(t, kb, a, p, res),
                3 => $f::<3>(t, kb, a, p, res),
                _ => $f::<4>(t, kb, a, p, res),
            }
        };
    }
    match (kind, vnni) {
        (TileKind::Q4K, true) => go!(q4k_512),
        (TileKind::Q4K, false) => go!(q4k_256),
        (TileKind::Q6K, true) => go!(q6k_512),
        (TileKind::Q6K, false) => go!(q6k_256),
        (TileKind::Q8 | TileKind::Q5, _) => unreachable!("Q8 and Q5 tiles take `unit_q8`"),
    }
}

/// As `unit`, for Q8 and Q5 tiles.
#[allow(clippy::too_many_arguments)]
unsafe fn unit_q8(
    kind: TileKind,
    vnni: bool,
    mt: usize,
    t: *const u8,
    kb: usize,
    a: &[*const u8; MT],
    d: &[*const f32; MT],
    c: &[*const i32; MT],
    res: &mut [[f32; TILE_N]; MT],
) {
    macro_rules! go {
        ($f:ident $(, $five:literal)?) => {
            match mt {
                1 => $f::<1 $(, $five)?>(t, kb, a, d, c, res),
                2 => $f::<2 $(, $five)?>(t, kb, a, d, c, res),
                3 => $f::<3 $(, $five)?>(t, kb, a, d, c, res),
                _ => $f::<4 $(, $five)?>(t, kb, a, d, c, res),
            }
        };
    }
    match (kind, vnni) {
        (TileKind::Q5, true) => go!(bytes_512, true),
        (TileKind::Q5, false) => go!(q5_256),
        (_, true) => go!(bytes_512, false),
        (_, false) => go!(q8_256),
    }
}

/// Bytes of a Q8_0 block: `d: f16 | qs: [i8; 32]`.
const Q80: usize = 34;

/// Q8 and Q5 tiles, AVX-512 VNNI: per block, (q + bias) · a − bias·Σa in
/// i32, then scaled by d·d_a (bias 128 for Q8, 16 for Q5). Q5 values are put
/// together in registers: a nibble, plus 16 where the group's mask word says
/// so (one masked add). Both sum the same integers in the same order, so Q5
/// tiles give what Q8 tiles of the same values give. Two chains of
/// multiply-adds per row, so a single row (decode) does not wait on one.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vnni")]
unsafe fn bytes_512<const R: usize, const FIVE: bool>(
    t: *const u8,
    kb: usize,
    a: &[*const u8; MT],
    d: &[*const f32; MT],
    c: &[*const i32; MT],
    res: &mut [[f32; TILE_N]; MT],
) {
    let (size, qs, scales, shift) = if FIVE {
        (q5::SIZE, q5::QS, q5::D, 4)
    } else {
        (q8::SIZE, q8::QS, q8::D, 7)
    };
    let nibble = _mm512_set1_epi8(0x0F);
    let fifth = _mm512_set1_epi8(0x10);
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..kb {
        let t = t.add(b * size);
        let mut lo = [_mm512_setzero_si512(); R];
        let mut hi = [_mm512_setzero_si512(); R];
        for g in 0..4 {
            // Groups 2g and 2g + 1: values 8g.. and 8g + 4.. of each row.
            let (w0, w1) = if FIVE {
                let w = _mm512_loadu_si512(t.add(qs + g * 64) as *const _);
                let k0 = std::ptr::read_unaligned(t.add(q5::HB + 16 * g) as *const u64);
                let k1 = std::ptr::read_unaligned(t.add(q5::HB + 16 * g + 8) as *const u64);
                let w0 = _mm512_and_si512(w, nibble);
                let w1 = _mm512_and_si512(_mm512_srli_epi16(w, 4), nibble);
                (
                    _mm512_mask_add_epi8(w0, k0, w0, fifth),
                    _mm512_mask_add_epi8(w1, k1, w1, fifth),
                )
            } else {
                (
                    _mm512_loadu_si512(t.add(qs + 2 * g * 64) as *const _),
                    _mm512_loadu_si512(t.add(qs + (2 * g + 1) * 64) as *const _),
                )
            };
            for r in 0..R {
                let y = a[r].add(b * Q80 + 2 + 8 * g);
                lo[r] = _mm512_dpbusd_epi32(lo[r], w0, _mm512_set1_epi32(word(y)));
                hi[r] = _mm512_dpbusd_epi32(hi[r], w1, _mm512_set1_epi32(word(y.add(4))));
            }
        }
        let dw = _mm512_cvtph_ps(_mm256_loadu_si256(t.add(scales) as *const __m256i));
        for r in 0..R {
            let sum = _mm512_sub_epi32(
                _mm512_add_epi32(lo[r], hi[r]),
                _mm512_set1_epi32(*c[r].add(b) << shift),
            );
            let yd = _mm512_set1_ps(*d[r].add(b));
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dw, yd), _mm512_cvtepi32_ps(sum), acc[r]);
        }
    }
    for r in 0..R {
        _mm512_storeu_ps(res[r].as_mut_ptr(), acc[r]);
    }
}

/// Q8 tiles, AVX2: values back to signed bytes, multiplied as
/// |x| · sign(y, x) (`maddubs`: 2·128·127 fits i16), widened by `madd`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q8_256<const R: usize>(
    t: *const u8,
    kb: usize,
    a: &[*const u8; MT],
    d: &[*const f32; MT],
    _c: &[*const i32; MT],
    res: &mut [[f32; TILE_N]; MT],
) {
    let flip = _mm256_set1_epi8(0x80u8 as i8);
    let ones = _mm256_set1_epi16(1);
    for h in 0..2 {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..kb {
            let t = t.add(b * q8::SIZE);
            let mut sumi = [_mm256_setzero_si256(); R];
            for g in 0..8 {
                let w = _mm256_loadu_si256(t.add(q8::QS + g * 64 + 32 * h) as *const __m256i);
                let x = _mm256_xor_si256(w, flip);
                let ax = _mm256_sign_epi8(x, x);
                for r in 0..R {
                    let y = _mm256_set1_epi32(word(a[r].add(b * Q80 + 2 + 4 * g)));
                    let p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(y, x));
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(p, ones));
                }
            }
            let dw = _mm256_cvtph_ps(_mm_loadu_si128(t.add(q8::D + 16 * h) as *const _));
            for r in 0..R {
                let yd = _mm256_set1_ps(*d[r].add(b));
                acc[r] =
                    _mm256_fmadd_ps(_mm256_mul_ps(dw, yd), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
            }
        }
        for r in 0..R {
            _mm256_storeu_ps(res[r].as_mut_ptr().add(8 * h), acc[r]);
        }
    }
}

#[inline(always)]
unsafe fn word(p: *const u8) -> i32 {
    std::ptr::read_unaligned(p as *const i32)
}

#[inline(always)]
unsafe fn f32_at(p: *const u8) -> f32 {
    std::ptr::read_unaligned(p as *const f32)
}

/// Q4_K, AVX-512 VNNI. Per k-block: Σ_sub scale·(q · a) − Σ_sub min·Σa,
/// both in i32, then scaled by d·d_a and dmin·d_a.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vnni")]
unsafe fn q4k_512<const R: usize>(
    t: *const u8,
    kb: usize,
    a: &[*const u8; MT],
    p: &[*const [u32; 4]; MT],
    res: &mut [[f32; TILE_N]; MT],
) {
    let mask = _mm512_set1_epi8(0x0F);
    let low16 = _mm512_set1_epi32(0xFFFF);
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..kb {
        let t = t.add(b * q4k::SIZE);
        let mut sumi = [_mm512_setzero_si512(); R];
        let mut summ = [_mm512_setzero_si512(); R];
        for pair in 0..4 {
            let sc = _mm512_cvtepu8_epi16(_mm256_loadu_si256(
                t.add(q4k::SCALES + 32 * pair) as *const __m256i
            ));
            let mn = _mm512_cvtepu8_epi16(_mm256_loadu_si256(
                t.add(q4k::MINS + 32 * pair) as *const __m256i
            ));
            let (sa, sb) = (2 * pair, 2 * pair + 1);
            // Two sub-blocks at once: independent chains of multiply-adds
            // even for a single row (decode).
            let mut isa = [_mm512_setzero_si512(); R];
            let mut isb = [_mm512_setzero_si512(); R];
            for g4 in 0..4 {
                let wa = _mm512_loadu_si512(t.add(q4k::QS + (sa * 4 + g4) * 64) as *const _);
                let wb = _mm512_loadu_si512(t.add(q4k::QS + (sb * 4 + g4) * 64) as *const _);
                let lo_a = _mm512_and_si512(wa, mask);
                let hi_a = _mm512_and_si512(_mm512_srli_epi16(wa, 4), mask);
                let lo_b = _mm512_and_si512(wb, mask);
                let hi_b = _mm512_and_si512(_mm512_srli_epi16(wb, 4), mask);
                for r in 0..R {
                    let y = a[r].add(b * Q8K + Q8K_QS);
                    let ya = y.add(sa * 32 + g4 * 8);
                    let yb = y.add(sb * 32 + g4 * 8);
                    isa[r] = _mm512_dpbusd_epi32(isa[r], lo_a, _mm512_set1_epi32(word(ya)));
                    isa[r] = _mm512_dpbusd_epi32(isa[r], hi_a, _mm512_set1_epi32(word(ya.add(4))));
                    isb[r] = _mm512_dpbusd_epi32(isb[r], lo_b, _mm512_set1_epi32(word(yb)));
                    isb[r] = _mm512_dpbusd_epi32(isb[r], hi_b, _mm512_set1_epi32(word(yb.add(4))));
                }
            }
            let sc_a = _mm512_and_si512(sc, low16);
            let sc_b = _mm512_srli_epi32(sc, 16);
            for r in 0..R {
                let s = _mm512_add_epi32(
                    _mm512_mullo_epi32(isa[r], sc_a),
                    _mm512_mullo_epi32(isb[r], sc_b),
                );
                sumi[r] = _mm512_add_epi32(sumi[r], s);
                let sums = (*p[r].add(b))[pair] as i32;
                summ[r] = _mm512_dpwssd_epi32(summ[r], mn, _mm512_set1_epi32(sums));
            }
        }
        let d = _mm512_cvtph_ps(_mm256_loadu_si256(t.add(q4k::D) as *const __m256i));
        let dmin = _mm512_cvtph_ps(_mm256_loadu_si256(t.add(q4k::DMIN) as *const __m256i));
        for r in 0..R {
            let yd = _mm512_set1_ps(f32_at(a[r].add(b * Q8K)));
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(d, yd), _mm512_cvtepi32_ps(sumi[r]), acc[r]);
            acc[r] = _mm512_fnmadd_ps(_mm512_mul_ps(dmin, yd), _mm512_cvtepi32_ps(summ[r]), acc[r]);
        }
    }
    for r in 0..R {
        _mm512_storeu_ps(res[r].as_mut_ptr(), acc[r]);
    }
}

/// Q4_K, AVX2: `maddubs` pairs (at most 2·15·128, no saturation), the two
/// halves of a group added in i16, then `madd` by the scale repeated in
/// both halves of each row's lane, which also widens to i32.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q4k_256<const R: usize>(
    t: *const u8,
    kb: usize,
    a: &[*const u8; MT],
    p: &[*const [u32; 4]; MT],
    res: &mut [[f32; TILE_N]; MT],
) {
    let mask = _mm256_set1_epi8(0x0F);
    // Per 128-bit lane: i16 k of each row pair, repeated in both halves.
    let dup_a = _mm256_setr_epi8(
        0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13, 0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12,
        13, 12, 13,
    );
    let dup_b = _mm256_setr_epi8(
        2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15, 2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10,
        11, 14, 15, 14, 15,
    );
    for h in 0..2 {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..kb {
            let t = t.add(b * q4k::SIZE);
            let mut sumi = [_mm256_setzero_si256(); R];
            let mut summ = [_mm256_setzero_si256(); R];
            for pair in 0..4 {
                let at = 32 * pair + 16 * h;
                let sc = _mm256_cvtepu8_epi16(_mm_loadu_si128(t.add(q4k::SCALES + at) as *const _));
                let mn = _mm256_cvtepu8_epi16(_mm_loadu_si128(t.add(q4k::MINS + at) as *const _));
                for (s, dup) in [(2 * pair, dup_a), (2 * pair + 1, dup_b)] {
                    let scale = _mm256_shuffle_epi8(sc, dup);
                    for g4 in 0..4 {
                        let w = _mm256_loadu_si256(
                            t.add(q4k::QS + (s * 4 + g4) * 64 + 32 * h) as *const __m256i
                        );
                        let lo = _mm256_and_si256(w, mask);
                        let hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), mask);
                        for r in 0..R {
                            let y = a[r].add(b * Q8K + Q8K_QS + s * 32 + g4 * 8);
                            let p16 = _mm256_add_epi16(
                                _mm256_maddubs_epi16(lo, _mm256_set1_epi32(word(y))),
                                _mm256_maddubs_epi16(hi, _mm256_set1_epi32(word(y.add(4)))),
                            );
                            sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(p16, scale));
                        }
                    }
                }
                for r in 0..R {
                    let sums = (*p[r].add(b))[pair] as i32;
                    summ[r] =
                        _mm256_add_epi32(summ[r], _mm256_madd_epi16(mn, _mm256_set1_epi32(sums)));
                }
            }
            let d = _mm256_cvtph_ps(_mm_loadu_si128(t.add(q4k::D + 16 * h) as *const _));
            let dmin = _mm256_cvtph_ps(_mm_loadu_si128(t.add(q4k::DMIN + 16 * h) as *const _));
            for r in 0..R {
                let yd = _mm256_set1_ps(f32_at(a[r].add(b * Q8K)));
                acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(d, yd), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
                acc[r] =
                    _mm256_fnmadd_ps(_mm256_mul_ps(dmin, yd), _mm256_cvtepi32_ps(summ[r]), acc[r]);
            }
        }
        for r in 0..R {
            _mm256_storeu_ps(res[r].as_mut_ptr().add(8 * h), acc[r]);
        }
    }
}

/// Q6_K, AVX-512 VNNI. Values are stored +32 (0..64, unsigned for the
/// multiply): Σ_sub scale·(q · a) − 32·Σ_sub scale·Σa, in i32.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vnni")]
unsafe fn q6k_512<const R: usize>(
    t: *const u8,
    kb: usize,
    a: &[*const u8; MT],
    _p: &[*const [u32; 4]; MT],
    res: &mut [[f32; TILE_N]; MT],
) {
    let m0f = _mm512_set1_epi8(0x0F);
    let m30 = _mm512_set1_epi8(0x30);
    // (A & 0x0F) | (B & !0x0F) with C = 0x0F: c ? a : b.
    let sel = |lo: __m512i, hi: __m512i| _mm512_ternarylogic_epi32::<0xE4>(lo, hi, m0f);
    let mut acc = [_mm512_setzero_ps(); R];
    for b in 0..kb {
        let t = t.add(b * q6k::SIZE);
        let mut sumi = [_mm512_setzero_si512(); R];
        let mut bias = [_mm512_setzero_si512(); R];
        for pair in 0..8 {
            let sc = _mm512_cvtepi8_epi16(_mm256_loadu_si256(
                t.add(q6k::SCALES + 32 * pair) as *const __m256i
            ));
            let values = |s: usize| {
                let base = t.add(q6k::QS + s * q6k::SUB);
                let l01 = _mm512_loadu_si512(base as *const _);
                let l23 = _mm512_loadu_si512(base.add(64) as *const _);
                let hb = _mm512_loadu_si512(base.add(128) as *const _);
                [
                    sel(l01, _mm512_and_si512(_mm512_slli_epi16(hb, 4), m30)),
                    sel(
                        _mm512_srli_epi16(l01, 4),
                        _mm512_and_si512(_mm512_slli_epi16(hb, 2), m30),
                    ),
                    sel(l23, _mm512_and_si512(hb, m30)),
                    sel(
                        _mm512_srli_epi16(l23, 4),
                        _mm512_and_si512(_mm512_srli_epi16(hb, 2), m30),
                    ),
                ]
            };
            let (sa, sb) = (2 * pair, 2 * pair + 1);
            let (va, vb) = (values(sa), values(sb));
            let mut isa = [_mm512_setzero_si512(); R];
            let mut isb = [_mm512_setzero_si512(); R];
            for g in 0..4 {
                for r in 0..R {
                    let y = a[r].add(b * Q8K + Q8K_QS);
                    let ya = _mm512_set1_epi32(word(y.add(sa * 16 + g * 4)));
                    let yb = _mm512_set1_epi32(word(y.add(sb * 16 + g * 4)));
                    isa[r] = _mm512_dpbusd_epi32(isa[r], va[g], ya);
                    isb[r] = _mm512_dpbusd_epi32(isb[r], vb[g], yb);
                }
            }
            let sc_a = _mm512_srai_epi32(_mm512_slli_epi32(sc, 16), 16);
            let sc_b = _mm512_srai_epi32(sc, 16);
            for r in 0..R {
                let s = _mm512_add_epi32(
                    _mm512_mullo_epi32(isa[r], sc_a),
                    _mm512_mullo_epi32(isb[r], sc_b),
                );
                sumi[r] = _mm512_add_epi32(sumi[r], s);
                // Q8_K's per-16 sums of this pair of sub-blocks, as i16 pairs.
                let sums = word(a[r].add(b * Q8K + Q8K_BSUMS + 4 * pair));
                bias[r] = _mm512_dpwssd_epi32(bias[r], sc, _mm512_set1_epi32(sums));
            }
        }
        let d = _mm512_cvtph_ps(_mm256_loadu_si256(t.add(q6k::D) as *const __m256i));
        for r in 0..R {
            let yd = _mm512_set1_ps(f32_at(a[r].add(b * Q8K)));
            let s = _mm512_sub_epi32(sumi[r], _mm512_slli_epi32(bias[r], 5));
            acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(d, yd), _mm512_cvtepi32_ps(s), acc[r]);
        }
    }
    for r in 0..R {
        _mm512_storeu_ps(res[r].as_mut_ptr(), acc[r]);
    }
}

/// Q6_K, AVX2: as `q4k_256`; two `maddubs` of 6-bit values fit i16
/// (2·2·63·128 < 2¹⁵), so groups are added in pairs before the `madd`.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q6k_256<const R: usize>(
    t: *const u8,
    kb: usize,
    a: &[*const u8; MT],
    _p: &[*const [u32; 4]; MT],
    res: &mut [[f32; TILE_N]; MT],
) {
    let m0f = _mm256_set1_epi8(0x0F);
    let m30 = _mm256_set1_epi8(0x30);
    let dup_a = _mm256_setr_epi8(
        0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13, 0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12,
        13, 12, 13,
    );
    let dup_b = _mm256_setr_epi8(
        2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15, 2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10,
        11, 14, 15, 14, 15,
    );
    let join = |lo: __m256i, hi: __m256i| {
        _mm256_or_si256(_mm256_and_si256(lo, m0f), _mm256_and_si256(hi, m30))
    };
    for h in 0..2 {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..kb {
            let t = t.add(b * q6k::SIZE);
            let mut sumi = [_mm256_setzero_si256(); R];
            let mut bias = [_mm256_setzero_si256(); R];
            for pair in 0..8 {
                let sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(
                    t.add(q6k::SCALES + 32 * pair + 16 * h) as *const _,
                ));
                for (s, dup) in [(2 * pair, dup_a), (2 * pair + 1, dup_b)] {
                    let scale = _mm256_shuffle_epi8(sc, dup);
                    let base = t.add(q6k::QS + s * q6k::SUB + 32 * h);
                    let l01 = _mm256_loadu_si256(base as *const __m256i);
                    let l23 = _mm256_loadu_si256(base.add(64) as *const __m256i);
                    let hb = _mm256_loadu_si256(base.add(128) as *const __m256i);
                    let v = [
                        join(l01, _mm256_slli_epi16(hb, 4)),
                        join(_mm256_srli_epi16(l01, 4), _mm256_slli_epi16(hb, 2)),
                        join(l23, hb),
                        join(_mm256_srli_epi16(l23, 4), _mm256_srli_epi16(hb, 2)),
                    ];
                    for r in 0..R {
                        let y = a[r].add(b * Q8K + Q8K_QS + s * 16);
                        let prod = |g: usize| {
                            _mm256_maddubs_epi16(v[g], _mm256_set1_epi32(word(y.add(4 * g))))
                        };
                        let p01 = _mm256_add_epi16(prod(0), prod(1));
                        let p23 = _mm256_add_epi16(prod(2), prod(3));
                        let s32 = _mm256_add_epi32(
                            _mm256_madd_epi16(p01, scale),
                            _mm256_madd_epi16(p23, scale),
                        );
                        sumi[r] = _mm256_add_epi32(sumi[r], s32);
                    }
                }
                for r in 0..R {
                    let sums = word(a[r].add(b * Q8K + Q8K_BSUMS + 4 * pair));
                    bias[r] =
                        _mm256_add_epi32(bias[r], _mm256_madd_epi16(sc, _mm256_set1_epi32(sums)));
                }
            }
            let d = _mm256_cvtph_ps(_mm_loadu_si128(t.add(q6k::D + 16 * h) as *const _));
            for r in 0..R {
                let yd = _mm256_set1_ps(f32_at(a[r].add(b * Q8K)));
                let s = _mm256_sub_epi32(sumi[r], _mm256_slli_epi32(bias[r], 5));
                acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(d, yd), _mm256_cvtepi32_ps(s), acc[r]);
            }
        }
        for r in 0..R {
            _mm256_storeu_ps(res[r].as_mut_ptr().add(8 * h), acc[r]);
        }
    }
}

/// Q5 tiles, AVX2: the fifth bits of a half tile's group (32 bits) spread
/// to bytes of 0x10; values 0..32 are unsigned, so `maddubs` takes them as
/// they are (2·31·127 fits i16), and 16·Σa comes off the sum.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q5_256<const R: usize>(
    t: *const u8,
    kb: usize,
    a: &[*const u8; MT],
    d: &[*const f32; MT],
    c: &[*const i32; MT],
    res: &mut [[f32; TILE_N]; MT],
) {
    let nibble = _mm256_set1_epi8(0x0F);
    let ones = _mm256_set1_epi16(1);
    // Byte i of the result takes byte i / 8 of the 32 bits, then bit i % 8.
    let spread = _mm256_setr_epi8(
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
        3, 3,
    );
    let bit = _mm256_set1_epi64x(0x8040201008040201u64 as i64);
    let fifth = |bits: u32| {
        let x = _mm256_shuffle_epi8(_mm256_set1_epi32(bits as i32), spread);
        _mm256_and_si256(
            _mm256_cmpeq_epi8(_mm256_and_si256(x, bit), bit),
            _mm256_set1_epi8(0x10),
        )
    };
    for h in 0..2 {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..kb {
            let t = t.add(b * q5::SIZE);
            let mut sumi = [_mm256_setzero_si256(); R];
            for g in 0..8 {
                let w = _mm256_loadu_si256(t.add(q5::QS + (g / 2) * 64 + 32 * h) as *const __m256i);
                let w = if g % 2 == 1 {
                    _mm256_srli_epi16(w, 4)
                } else {
                    w
                };
                let k = std::ptr::read_unaligned(t.add(q5::HB + 8 * g + 4 * h) as *const u32);
                let x = _mm256_or_si256(_mm256_and_si256(w, nibble), fifth(k));
                for r in 0..R {
                    let y = _mm256_set1_epi32(word(a[r].add(b * Q80 + 2 + 4 * g)));
                    let p = _mm256_maddubs_epi16(x, y);
                    sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(p, ones));
                }
            }
            let dw = _mm256_cvtph_ps(_mm_loadu_si128(t.add(q5::D + 16 * h) as *const _));
            for r in 0..R {
                let s = _mm256_sub_epi32(sumi[r], _mm256_set1_epi32(*c[r].add(b) << 4));
                let yd = _mm256_set1_ps(*d[r].add(b));
                acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(dw, yd), _mm256_cvtepi32_ps(s), acc[r]);
            }
        }
        for r in 0..R {
            _mm256_storeu_ps(res[r].as_mut_ptr().add(8 * h), acc[r]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kernels::testing::{assert_close, case};
    use crate::engine::tiles::pack;
    use candle_core::quantized::k_quants::{BlockQ4K, BlockQ5_0, BlockQ6K};
    use candle_core::quantized::GgmlDType;

    fn tiles_of<T: GgmlType + RawBlock>(kind: TileKind, w: &[T], n: usize, k: usize) -> Vec<u8> {
        let bytes: Vec<u8> = w.iter().flat_map(|b| b.bytes().to_vec()).collect();
        let mut out = Vec::new();
        pack(T::DTYPE, &bytes, n, k, &mut |c| {
            out.extend_from_slice(c);
            Ok(())
        })
        .expect("packing into memory");
        assert_eq!(out.len(), kind.tensor_len(n, k));
        out
    }

    fn check<T: GgmlType + RawBlock>(kind: TileKind) {
        // Decode and prefill row counts, with tails of 1..3 rows past the
        // last group of four; n with and without a partial last tile.
        for (m, k, n) in [
            (1, 512, 48),
            (3, 256, 40),
            (17, 512, 16),
            (5, 768, 70),
            (4, 256, 7),
        ] {
            let (w, lhs, want) = case::<T>(m, k, n);
            let tiles = tiles_of(kind, &w, n, k);
            let mut got = vec![f32::NAN; m * n];
            assert!(matmul(kind, &tiles, m, k, n, &lhs, &mut got, None));
            assert_close(&got, &want);
            // Tiles not live are -inf, the others as computed in full.
            let live: Vec<bool> = (0..n.div_ceil(TILE_N)).map(|t| t % 2 == 1).collect();
            let mut some = vec![f32::NAN; m * n];
            assert!(matmul(kind, &tiles, m, k, n, &lhs, &mut some, Some(&live)));
            for (i, (s, g)) in some.iter().zip(&got).enumerate() {
                if live[(i % n) / TILE_N] {
                    assert_eq!(s, g);
                } else {
                    assert_eq!(*s, f32::NEG_INFINITY);
                }
            }
            // Both instruction sets, whichever this machine picks itself.
            for vnni in [false, true] {
                if vnni && !simd::vnni() {
                    continue;
                }
                let mut got = vec![f32::NAN; m * n];
                matmul_with(kind, &tiles, m, k, n, &lhs, &mut got, None, vnni);
                assert_close(&got, &want);
            }
        }
    }

    #[test]
    fn q4k_tiles_match_candle() {
        if simd::available() {
            check::<BlockQ4K>(TileKind::Q4K);
        }
    }

    #[test]
    fn q6k_tiles_match_candle() {
        if simd::available() {
            check::<BlockQ6K>(TileKind::Q6K);
        }
    }

    #[test]
    fn q8_and_q5_tiles_match_candle() {
        if simd::available() {
            check::<BlockQ8_0>(TileKind::Q8);
            check::<BlockQ5_0>(TileKind::Q5);
        }
    }

    /// Q5_0 blocks written out as Q8_0 (same scales, the values as bytes).
    fn as_q8_0(w: &[BlockQ5_0]) -> Vec<u8> {
        let mut out = Vec::new();
        for b in w {
            let x = b.bytes();
            let qh = u32::from_le_bytes([x[2], x[3], x[4], x[5]]);
            out.extend_from_slice(&x[0..2]);
            for j in 0..32 {
                let low = if j < 16 {
                    x[6 + j] & 0xF
                } else {
                    x[6 + j - 16] >> 4
                };
                out.push(((low | (((qh >> j) & 1) as u8) << 4) as i8 - 16) as u8);
            }
        }
        out
    }

    #[test]
    fn q5_tiles_give_what_the_same_values_give_as_q8_tiles() {
        if !simd::available() {
            return;
        }
        // The 0.5B model's width (28 blocks of 32), decode and prefill rows.
        for (m, n) in [(1, 40), (6, 33), (17, 16)] {
            let (w, lhs, want) = case::<BlockQ5_0>(m, 896, n);
            let q5 = tiles_of(TileKind::Q5, &w, n, 896);
            let padded = n.next_multiple_of(TILE_N) * 896 / 32;
            assert_eq!(q5.len(), padded * 22, "as many bytes as the blocks");
            let mut q8 = Vec::new();
            pack(GgmlDType::Q8_0, &as_q8_0(&w), n, 896, &mut |c| {
                q8.extend_from_slice(c);
                Ok(())
            })
            .expect("pack");
            for vnni in [false, true] {
                if vnni && !simd::vnni() {
                    continue;
                }
                let run = |kind: TileKind, tiles: &[u8]| {
                    let mut got = vec![f32::NAN; m * n];
                    matmul_with(kind, tiles, m, 896, n, &lhs, &mut got, None, vnni);
                    got
                };
                let got = run(TileKind::Q5, &q5);
                assert_close(&got, &want);
                assert_eq!(got, run(TileKind::Q8, &q8), "vnni {vnni}");
            }
        }
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        let mut dst = vec![0f32; 16];
        // Tiles of the wrong size for the shape.
        assert!(!matmul(
            TileKind::Q4K,
            &[0u8; 100],
            1,
            256,
            16,
            &[0.0; 256],
            &mut dst,
            None
        ));
        // k not a whole number of blocks.
        assert!(!matmul(
            TileKind::Q4K,
            &[],
            1,
            100,
            16,
            &[0.0; 100],
            &mut dst,
            None
        ));
    }
}

#[cfg(test)]
mod speed {
    use super::*;
    use crate::engine::kernels::testing::random;
    use candle_core::quantized::k_quants::{BlockQ4K, BlockQ5_0, BlockQ6K};

    fn time(f: &mut dyn FnMut()) -> f64 {
        let t = std::time::Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e3
    }

    /// The per-row kernels over the GGUF blocks that tiles replace: ours
    /// where there is one, else candle's dot product on rayon's pool.
    fn old<T: GgmlType + RawBlock + Sync>(
        m: usize,
        k: usize,
        n: usize,
        lhs: &[f32],
        w: &[T],
        dst: &mut [f32],
    ) {
        // SAFETY (casts): T is the block type named by T::DTYPE.
        let done = match T::DTYPE {
            candle_core::quantized::GgmlDType::Q4K => super::super::q4k::matmul(
                m,
                k,
                n,
                lhs,
                unsafe { std::mem::transmute::<&[T], &[BlockQ4K]>(w) },
                dst,
            ),
            candle_core::quantized::GgmlDType::Q6K => super::super::q6k::matmul(
                m,
                k,
                n,
                lhs,
                unsafe { std::mem::transmute::<&[T], &[BlockQ6K]>(w) },
                dst,
            ),
            candle_core::quantized::GgmlDType::Q5_0 => super::super::q5_0::matmul(
                m,
                k,
                n,
                lhs,
                unsafe { std::mem::transmute::<&[T], &[BlockQ5_0]>(w) },
                dst,
            ),
            _ => false,
        };
        if !done {
            let kb = k / T::BLCK_SIZE;
            let mut q = vec![T::VecDotType::zeros(); m * kb];
            for (row, out) in lhs.chunks_exact(k).zip(q.chunks_exact_mut(kb)) {
                T::VecDotType::from_float(row, out);
            }
            // dst is row-major: entry i is row i / n, column i % n.
            dst.par_iter_mut().enumerate().for_each(|(i, o)| {
                let (r, c) = (i / n, i % n);
                *o = T::vec_dot(k, &w[c * kb..(c + 1) * kb], &q[r * kb..(r + 1) * kb]);
            });
        }
    }

    fn compare<T: GgmlType + RawBlock + Sync>(k: usize, n: usize) {
        let kind = TileKind::of(T::DTYPE).expect("tileable");
        let mut w = vec![T::zeros(); n * k / T::BLCK_SIZE];
        T::from_float(&random(n * k, 1.0, 3), &mut w);
        let blocks: Vec<u8> = w.iter().flat_map(|b| b.bytes().to_vec()).collect();
        let mut tiles = Vec::new();
        crate::engine::tiles::pack(T::DTYPE, &blocks, n, k, &mut |c| {
            tiles.extend_from_slice(c);
            Ok(())
        })
        .expect("pack");
        for m in [1usize, 2, 4, 24, 64] {
            let lhs = random(m * k, 4.0, 5);
            let mut dst = vec![0f32; m * n];
            let (mut before, mut after) = (f64::MAX, f64::MAX);
            for _ in 0..5 {
                before = before.min(time(&mut || old(m, k, n, &lhs, &w, &mut dst)));
                after = after.min(time(&mut || {
                    assert!(matmul(kind, &tiles, m, k, n, &lhs, &mut dst, None));
                }));
            }
            eprintln!(
                "{:?} m={m} k={k} n={n}: GGUF blocks {before:.2} ms, tiles {after:.2} ms ({:.2}x) vnni={}",
                T::DTYPE,
                before / after,
                simd::vnni()
            );
        }
    }

    /// Old (per-row kernels over the GGUF blocks) against tiles, interleaved,
    /// on the models' shapes: `cargo test --release --lib tiles_speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn tiles_speed() {
        compare::<BlockQ4K>(1536, 8960);
        compare::<BlockQ6K>(8960, 1536);
        compare::<BlockQ5_0>(896, 4864);
        compare::<candle_core::quantized::k_quants::BlockQ8_0>(896, 16384);
    }
}
