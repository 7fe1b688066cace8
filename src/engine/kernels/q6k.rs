//! Q6_K × Q8_K matmul for prefill (several rows at once), with AVX2.
//! Q4_K_M models keep half the `ffn_down` weights (a sixth of each token's
//! work) in Q6_K; candle unpacks their 6-bit values for every activation
//! row. Here a weight row is unpacked once per tile of rows. (An AVX-512
//! VNNI version measured slower than this one on Zen 4.)

use super::{self as simd, RawBlock};
use candle_core::quantized::k_quants::{BlockQ6K, BlockQ8K, GgmlType};

const QK_K: usize = 256;

/// One 256-value block unpacked: values biased to 0..64 (so that the
/// unsigned × signed byte multiply applies), and the 16 sub-block scales.
#[derive(Clone, Copy)]
struct Block {
    q: [u8; QK_K],
    /// For each 64 values (four sub-blocks of 16): eight i16 lanes per
    /// sub-block scale, as the products of `maddubs` line up (32 at a time).
    lanes: [[i16; 32]; 4],
    scales: [i16; 16],
    d: f32,
}

#[derive(Default)]
struct Unpacked {
    blocks: Vec<Block>,
}

/// Prefill only: with a single row, unpacking costs as much as the dot.
pub const MIN_ROWS: usize = 4;

/// `dst[m×n] = lhs[m×k] · wᵀ`, `w` being `n` rows of `k/256` Q6_K blocks.
/// Returns false when not applicable (the caller falls back).
pub fn matmul(m: usize, k: usize, n: usize, lhs: &[f32], w: &[BlockQ6K], dst: &mut [f32]) -> bool {
    if m < MIN_ROWS
        || !simd::available()
        || !k.is_multiple_of(QK_K)
        || lhs.len() != m * k
        || w.len() != n * (k / QK_K)
        || dst.len() != m * n
    {
        return false;
    }
    let kb = k / QK_K;
    let mut q = vec![BlockQ8K::zeros(); m * kb];
    for (row, out) in lhs.chunks_exact(k).zip(q.chunks_exact_mut(kb)) {
        super::q8k::quantize(row, out);
    }
    let weight = |c: usize| &w[c * kb..(c + 1) * kb];
    let act = |r: usize| &q[r * kb..(r + 1) * kb];
    let unpack = |row, u: &mut Unpacked| unpack(row, u);
    // SAFETY: simd::available() was checked above.
    let dot = |u: &Unpacked, ys| unsafe { dot(u, ys) };
    simd::tiled_matmul(m, n, weight, act, unpack, dot, dst);
    true
}

/// ggml's dequantize_row_q6_K, without the scaling: each 128 values take
/// 64 bytes of low nibbles and 32 bytes of high bit pairs.
fn unpack(xs: &[BlockQ6K], u: &mut Unpacked) {
    u.blocks.clear();
    for x in xs {
        let b = x.bytes(); // ql: [u8; 128] | qh: [u8; 64] | scales: [i8; 16] | d: f16
        let mut blk = Block {
            q: [0; QK_K],
            lanes: [[0; 32]; 4],
            scales: [0; 16],
            d: half::f16::from_le_bytes([b[208], b[209]]).to_f32(),
        };
        for (half, out) in blk.q.chunks_exact_mut(128).enumerate() {
            let ql = &b[half * 64..half * 64 + 64];
            let qh = &b[128 + half * 32..128 + half * 32 + 32];
            for l in 0..32 {
                out[l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
                out[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
                out[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                out[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
            }
        }
        for (s, &byte) in blk.scales.iter_mut().zip(&b[192..208]) {
            *s = byte as i8 as i16;
        }
        for (h, lanes) in blk.lanes.iter_mut().enumerate() {
            for (j, lane) in lanes.chunks_exact_mut(8).enumerate() {
                lane.fill(blk.scales[4 * h + j]);
            }
        }
        u.blocks.push(blk);
    }
}

/// The bias term: the values were stored +32, so each sub-block's sum is
/// too big by 32 × (sum of its activations), which Q8_K keeps per 16.
#[target_feature(enable = "avx2")]
unsafe fn bias(x: &Block, yb: &[u8]) -> i32 {
    use std::arch::x86_64::*;
    let bsums = _mm256_loadu_si256(yb.as_ptr().add(260) as *const __m256i);
    let scales = _mm256_loadu_si256(x.scales.as_ptr() as *const __m256i);
    let p = _mm256_madd_epi16(bsums, scales);
    let s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
    32 * _mm_cvtsi128_si32(s)
}

#[target_feature(enable = "avx2,fma")]
unsafe fn dot(u: &Unpacked, ys: &[BlockQ8K]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    let mut acc_bias = 0f32;
    for (x, y) in u.blocks.iter().zip(ys) {
        let yb = y.bytes(); // d: f32 | qs: [i8; 256] | bsums: [i16; 16]
        let yd = f32::from_le_bytes([yb[0], yb[1], yb[2], yb[3]]);
        let mut sumi = _mm256_setzero_si256();
        for j in 0..8 {
            let q6 = _mm256_loadu_si256(x.q.as_ptr().add(j * 32) as *const __m256i);
            let q8 = _mm256_loadu_si256(yb.as_ptr().add(4 + j * 32) as *const __m256i);
            let sc =
                _mm256_loadu_si256(x.lanes[j / 2].as_ptr().add(16 * (j % 2)) as *const __m256i);
            let p16 = _mm256_maddubs_epi16(q6, q8);
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p16, sc));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(x.d * yd), _mm256_cvtepi32_ps(sumi), acc);
        acc_bias += x.d * yd * bias(x, yb) as f32;
    }
    simd::hsum(acc) - acc_bias
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
        let (m, k, n) = (21, 512, 40);
        let (w, lhs, want) = case::<BlockQ6K>(m, k, n);
        let mut got = vec![0f32; m * n];
        assert!(matmul(m, k, n, &lhs, &w, &mut got));
        assert_close(&got, &want);

        // Each dot product on its own, for one row.
        let kb = k / QK_K;
        let mut q = vec![BlockQ8K::zeros(); kb];
        BlockQ8K::from_float(&lhs[..k], &mut q);
        let mut u = Unpacked::default();
        unpack(&w[..kb], &mut u);
        assert_close(&[unsafe { dot(&u, &q) }], &want[..1]);
    }
}
