//! Q4_K × Q8_K matmul: prefill (several rows at once) with AVX2, and
//! decode (one row) with AVX-512 VNNI where the CPU has it.
//!
//! candle's per-row Q4_K dot product unpacks nibbles and 6-bit scales for
//! every activation row; during prefill the same weight row meets dozens of
//! activation rows. Here each weight row is unpacked once per tile of rows
//! (values as bytes, scales and mins as integers), and the inner loop is
//! multiply-adds only. Decode (one row) stays on candle's kernel.

use super::{self as simd, RawBlock};
use candle_core::quantized::k_quants::{BlockQ4K, BlockQ8K, GgmlType};

const QK_K: usize = 256;

/// One 256-value block unpacked.
#[derive(Clone, Copy)]
struct Block {
    q: [u8; QK_K],
    scales: [i16; 8],
    mins: [i16; 8],
    d: f32,
    dmin: f32,
}

#[derive(Default)]
struct Unpacked {
    blocks: Vec<Block>,
}

/// Prefill only: with a single row, unpacking costs as much as the dot.
pub const MIN_ROWS: usize = 4;

/// `dst[m×n] = lhs[m×k] · wᵀ`, `w` being `n` rows of `k/256` Q4_K blocks.
/// Returns false when not applicable (the caller falls back).
pub fn matmul(m: usize, k: usize, n: usize, lhs: &[f32], w: &[BlockQ4K], dst: &mut [f32]) -> bool {
    if !simd::available()
        || !k.is_multiple_of(QK_K)
        || lhs.len() != m * k
        || w.len() != n * (k / QK_K)
        || dst.len() != m * n
    {
        return false;
    }
    if m < MIN_ROWS && !simd::vnni() {
        return false;
    }
    let kb = k / QK_K;
    let mut q = vec![BlockQ8K::zeros(); m * kb];
    for (row, out) in lhs.chunks_exact(k).zip(q.chunks_exact_mut(kb)) {
        super::q8k::quantize(row, out);
    }
    if m < MIN_ROWS {
        // SAFETY: simd::vnni() was checked above.
        let dot = |c: usize, r: usize| unsafe {
            dot_packed_vnni(&w[c * kb..(c + 1) * kb], &q[r * kb..(r + 1) * kb])
        };
        simd::few_rows_matmul(m, n, dot, dst);
        return true;
    }
    let sums = sub_block_sums(&q);
    let weight = |c: usize| &w[c * kb..(c + 1) * kb];
    let act = |r: usize| (&q[r * kb..(r + 1) * kb], &sums[r * kb..(r + 1) * kb]);
    let unpack = |row, u: &mut Unpacked| unpack(row, u);
    // SAFETY: simd::available() was checked above. (An AVX-512 version of
    // this dot measured 8% slower for prefill on Zen 4: AVX2 it is.)
    let dot = |u: &Unpacked, ys| unsafe { dot(u, ys) };
    simd::tiled_matmul(m, n, weight, act, unpack, dot, dst);
    true
}

/// Sums of the activations per 32-value sub-block (from the two 16-value
/// sums Q8_K keeps), for the mins term: at most 32 × 127, so i16 holds them.
fn sub_block_sums(q: &[BlockQ8K]) -> Vec<[i16; 8]> {
    q.iter()
        .map(|y| {
            let b = &y.bytes()[260..292];
            let bsum = |i: usize| i16::from_le_bytes([b[2 * i], b[2 * i + 1]]);
            std::array::from_fn(|j| bsum(2 * j) + bsum(2 * j + 1))
        })
        .collect()
}

/// ggml's get_scale_min_k4: 6-bit scale and min of sub-block `j`.
pub(crate) fn scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    }
}

fn unpack(xs: &[BlockQ4K], u: &mut Unpacked) {
    u.blocks.clear();
    for x in xs {
        let b = x.bytes(); // d: f16 | dmin: f16 | scales: [u8; 12] | qs: [u8; 128]
        let mut blk = Block {
            q: [0; QK_K],
            scales: [0; 8],
            mins: [0; 8],
            d: half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            dmin: half::f16::from_le_bytes([b[2], b[3]]).to_f32(),
        };
        let (scales, qs) = (&b[4..16], &b[16..144]);
        for j in 0..8 {
            let (sc, m) = scale_min(j, scales);
            blk.scales[j] = sc as i16;
            blk.mins[j] = m as i16;
        }
        // Each 32 bytes hold two sub-blocks: low nibbles, then high nibbles.
        for chunk in 0..4 {
            for l in 0..32 {
                let v = qs[chunk * 32 + l];
                blk.q[chunk * 64 + l] = v & 0xF;
                blk.q[chunk * 64 + 32 + l] = v >> 4;
            }
        }
        u.blocks.push(blk);
    }
}

/// The mins term of one block, Σ min_j · sum_j, eight products at once.
#[target_feature(enable = "avx2,fma")]
unsafe fn add_mins(
    acc: std::arch::x86_64::__m128,
    x: &Block,
    s: &[i16; 8],
    yd: f32,
) -> std::arch::x86_64::__m128 {
    use std::arch::x86_64::*;
    let mins = _mm_loadu_si128(x.mins.as_ptr() as *const __m128i);
    let sums = _mm_loadu_si128(s.as_ptr() as *const __m128i);
    let prod = _mm_cvtepi32_ps(_mm_madd_epi16(mins, sums));
    _mm_fmadd_ps(_mm_set1_ps(x.dmin * yd), prod, acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot(u: &Unpacked, (ys, sums): (&[BlockQ8K], &[[i16; 8]])) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    let mut acc_min = _mm_setzero_ps();
    for ((x, y), s) in u.blocks.iter().zip(ys).zip(sums) {
        let yb = y.bytes(); // d: f32 | qs: [i8; 256] | bsums: [i16; 16]
        let yd = f32::from_le_bytes([yb[0], yb[1], yb[2], yb[3]]);
        let mut sumi = _mm256_setzero_si256();
        for j in 0..8 {
            let q4 = _mm256_loadu_si256(x.q.as_ptr().add(j * 32) as *const __m256i);
            let q8 = _mm256_loadu_si256(yb.as_ptr().add(4 + j * 32) as *const __m256i);
            // u8 × i8 pairs to i16, then × the 6-bit scale and pairs to i32.
            let p16 = _mm256_maddubs_epi16(q4, q8);
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, _mm256_set1_epi16(x.scales[j])));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(x.d * yd), _mm256_cvtepi32_ps(sumi), acc);
        acc_min = add_mins(acc_min, x, s, yd);
    }
    simd::hsum(acc) - simd::hsum128(acc_min)
}

/// Decode: one activation row meets each weight row once, so the blocks
/// are used as stored, nibbles split in registers (ggml's AVX2 kernel,
/// widened to 64 values per step with the scale multiply fused).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vnni")]
unsafe fn dot_packed_vnni(xs: &[BlockQ4K], ys: &[BlockQ8K]) -> f32 {
    use std::arch::x86_64::*;
    // vpermw indices: 16 lanes of scale 2j, then 16 of scale 2j + 1.
    const fn index(j: usize) -> [i16; 32] {
        let mut ix = [0i16; 32];
        let mut l = 0;
        while l < 32 {
            ix[l] = (2 * j + l / 16) as i16;
            l += 1;
        }
        ix
    }
    const INDEX: [[i16; 32]; 4] = [index(0), index(1), index(2), index(3)];
    let m4 = _mm256_set1_epi8(0xF);
    let mut acc = _mm512_setzero_ps();
    let mut acc_m = _mm_setzero_ps();
    for (x, y) in xs.iter().zip(ys) {
        let b = x.bytes(); // d: f16 | dmin: f16 | scales: [u8; 12] | qs: [u8; 128]
        let yb = y.bytes(); // d: f32 | qs: [i8; 256] | bsums: [i16; 16]
        let yd = f32::from_le_bytes([yb[0], yb[1], yb[2], yb[3]]);
        let d = yd * simd::f16_at(&b[0..2]);
        let dmin = yd * simd::f16_at(&b[2..4]);
        // ggml's bit shuffle of the twelve scale bytes into eight 6-bit
        // scales, then eight 6-bit mins.
        let w =
            |i: usize| u32::from_le_bytes([b[4 + 4 * i], b[5 + 4 * i], b[6 + 4 * i], b[7 + 4 * i]]);
        let (u0, u1, u2) = (w(0), w(1), w(2));
        const KMASK1: u32 = 0x3f3f3f3f;
        const KMASK2: u32 = 0x0f0f0f0f;
        const KMASK3: u32 = 0x03030303;
        let sc_lo = u0 & KMASK1;
        let sc_hi = (u2 & KMASK2) | (((u0 >> 6) & KMASK3) << 4);
        let mn_lo = u1 & KMASK1;
        let mn_hi = ((u2 >> 4) & KMASK2) | (((u1 >> 6) & KMASK3) << 4);
        let mins_scales = _mm256_cvtepu8_epi16(_mm_set_epi32(
            mn_hi as i32,
            mn_lo as i32,
            sc_hi as i32,
            sc_lo as i32,
        ));
        // The mins term, from Q8_K's per-16 sums added in pairs.
        let bsums = _mm256_loadu_si256(yb.as_ptr().add(260) as *const __m256i);
        let pair_sums = _mm_hadd_epi16(
            _mm256_castsi256_si128(bsums),
            _mm256_extracti128_si256(bsums, 1),
        );
        let prod = _mm_madd_epi16(_mm256_extracti128_si256(mins_scales, 1), pair_sums);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod), acc_m);

        let sc = _mm512_castsi256_si512(mins_scales);
        // Four independent sums, added at the end: one chain of dependent
        // multiply-adds per block would make latency, not throughput, the limit.
        let part = |j: usize| {
            let bits = _mm256_loadu_si256(b.as_ptr().add(16 + 32 * j) as *const __m256i);
            let lo = _mm256_and_si256(bits, m4);
            let hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            let q4 = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
            let q8 = _mm512_loadu_si512(yb.as_ptr().add(4 + 64 * j) as *const _);
            let index = _mm512_loadu_si512(INDEX[j].as_ptr() as *const _);
            let scale = _mm512_permutexvar_epi16(index, sc);
            _mm512_madd_epi16(_mm512_maddubs_epi16(q4, q8), scale)
        };
        let sumi = _mm512_add_epi32(
            _mm512_add_epi32(part(0), part(1)),
            _mm512_add_epi32(part(2), part(3)),
        );
        acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
    }
    _mm512_reduce_add_ps(acc) - simd::hsum128(acc_m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kernels::testing::{assert_close, case};

    #[test]
    fn matches_candles_kernel() {
        if !simd::available() {
            return;
        }
        for (m, n) in [(21, 40), (1, 70), (3, 9)] {
            matches_at(m, 512, n);
        }
    }

    fn matches_at(m: usize, k: usize, n: usize) {
        let (w, lhs, want) = case::<BlockQ4K>(m, k, n);
        let mut got = vec![0f32; m * n];
        if !matmul(m, k, n, &lhs, &w, &mut got) {
            assert!(m < MIN_ROWS && !simd::vnni(), "the kernel refused {m} rows");
            return;
        }
        assert_close(&got, &want);

        // The dot product on its own, for one row.
        let kb = k / QK_K;
        let mut q = vec![BlockQ8K::zeros(); kb];
        BlockQ8K::from_float(&lhs[..k], &mut q);
        let sums = sub_block_sums(&q);
        let mut u = Unpacked::default();
        unpack(&w[..kb], &mut u);
        let one = unsafe { dot(&u, (&q, &sums)) };
        assert_close(&[one], &want[..1]);
    }
}

#[cfg(test)]
mod speed {
    use super::*;
    use crate::engine::kernels::testing::random;

    #[test]
    #[ignore]
    fn decode_dot_speed() {
        let (k, n) = (1536, 384);
        let kb = k / QK_K;
        let mut w = vec![BlockQ4K::zeros(); n * kb];
        BlockQ4K::from_float(&random(n * k, 1.0, 3), &mut w);
        let mut q = vec![BlockQ8K::zeros(); kb];
        BlockQ8K::from_float(&random(k, 4.0, 5), &mut q);
        let (mut a, mut b) = (f64::MAX, f64::MAX);
        let mut sink = 0f32;
        for _ in 0..50 {
            let t = std::time::Instant::now();
            for c in 0..n {
                sink += BlockQ4K::vec_dot(k, &w[c * kb..(c + 1) * kb], &q);
            }
            a = a.min(t.elapsed().as_secs_f64());
            let t = std::time::Instant::now();
            for c in 0..n {
                sink += unsafe { dot_packed_vnni(&w[c * kb..(c + 1) * kb], &q) };
            }
            b = b.min(t.elapsed().as_secs_f64());
        }
        eprintln!(
            "candle avx2 {:.1} us, vnni {:.1} us ({sink})",
            a * 1e6,
            b * 1e6
        );
    }
}
