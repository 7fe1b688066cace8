//! Q5_0 × Q8_0 matmul with an AVX2 dot product.
//!
//! candle 0.11 has SIMD kernels for the k-quants but only a scalar loop for
//! Q5_0, which llama.cpp uses for most tensors of models whose width is not
//! a multiple of 256 (Qwen2.5-Coder-0.5B: 896). Scalar Q5_0 made the small
//! model slower than the big one; this is ggml's AVX2 kernel, in Rust.

use candle_core::quantized::k_quants::{BlockQ5_0, BlockQ8_0, GgmlType};
use rayon::prelude::*;

const QK: usize = 32;

/// `dst[m×n] = lhs[m×k] · wᵀ`, `w` being `n` rows of `k/32` Q5_0 blocks.
/// Returns false when the CPU lacks AVX2/FMA (the caller falls back).
pub fn matmul(m: usize, k: usize, n: usize, lhs: &[f32], w: &[BlockQ5_0], dst: &mut [f32]) -> bool {
    if !simd_available() || k % QK != 0 || lhs.len() != m * k || w.len() != n * (k / QK) || dst.len() != m * n {
        return false;
    }
    let kb = k / QK;
    let mut q = vec![BlockQ8_0::zeros(); m * kb];
    for (row, out) in lhs.chunks_exact(k).zip(q.chunks_exact_mut(kb)) {
        BlockQ8_0::from_float(row, out);
    }
    // Output columns in parallel, written transposed then copied back, so
    // each worker owns a contiguous slice.
    let mut cols = vec![0f32; n * m];
    cols.par_chunks_mut(m * 64).enumerate().for_each(|(chunk, out)| {
        for (j, col_out) in out.chunks_exact_mut(m).enumerate() {
            let col = chunk * 64 + j;
            let wrow = &w[col * kb..(col + 1) * kb];
            for (r, o) in col_out.iter_mut().enumerate() {
                // SAFETY: simd_available() checked avx2 and fma above.
                *o = unsafe { dot_avx2(wrow, &q[r * kb..(r + 1) * kb]) };
            }
        }
    });
    for r in 0..m {
        for c in 0..n {
            dst[r * n + c] = cols[c * m + r];
        }
    }
    true
}

fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The bytes of a block: candle keeps the fields crate-private, but both
/// types are `repr(C)` with a fixed layout (asserted by candle).
fn bytes<T>(b: &T) -> &[u8] {
    // SAFETY: plain-old-data blocks; the slice covers exactly one value.
    unsafe { std::slice::from_raw_parts(b as *const T as *const u8, std::mem::size_of::<T>()) }
}

fn f16_at(b: &[u8]) -> f32 {
    half::f16::from_le_bytes([b[0], b[1]]).to_f32()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(xs: &[BlockQ5_0], ys: &[BlockQ8_0]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    for (x, y) in xs.iter().zip(ys) {
        let xb = bytes(x); // d: f16 | qh: [u8; 4] | qs: [u8; 16]
        let yb = bytes(y); // d: f16 | qs: [i8; 32]
        let d = _mm256_set1_ps(f16_at(xb) * f16_at(yb));
        // Low nibbles are values 0..16, high nibbles 16..32.
        let tmp = _mm_loadu_si128(xb.as_ptr().add(6) as *const __m128i);
        let nibbles = _mm256_and_si256(
            _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp),
            _mm256_set1_epi8(0x0F),
        );
        // The fifth bit: bytes of 0xFF where the bit is set.
        let qh = u32::from_le_bytes([xb[2], xb[3], xb[4], xb[5]]);
        let shuf = _mm256_set_epi64x(
            0x0303030303030303,
            0x0202020202020202,
            0x0101010101010101,
            0x0000000000000000,
        );
        let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(qh as i32), shuf);
        let bits = _mm256_cmpeq_epi8(
            _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe)),
            _mm256_set1_epi64x(-1),
        );
        // Values are (nibble | bit << 4) - 16: subtract 16 where the bit is clear.
        let hi = _mm256_andnot_si256(bits, _mm256_set1_epi8(0xF0u8 as i8));
        let qx = _mm256_or_si256(nibbles, hi);
        let qy = _mm256_loadu_si256(yb.as_ptr().add(2) as *const __m256i);
        // Signed × signed via |x| × sign(y, x), then pairwise sums to i32.
        let ax = _mm256_sign_epi8(qx, qx);
        let sy = _mm256_sign_epi8(qy, qx);
        let dot16 = _mm256_maddubs_epi16(ax, sy);
        let dot32 = _mm256_madd_epi16(_mm256_set1_epi16(1), dot16);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot32), acc);
    }
    let hi = _mm256_extractf128_ps(acc, 1);
    let sum = _mm_add_ps(_mm256_castps256_ps128(acc), hi);
    let sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    let sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    _mm_cvtss_f32(sum)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot_avx2(_: &[BlockQ5_0], _: &[BlockQ8_0]) -> f32 {
    unreachable!("only called after simd_available()")
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::k_quants::matmul as reference;

    #[test]
    fn matches_candles_scalar_kernel() {
        if !simd_available() {
            return;
        }
        let (m, k, n) = (3, 128, 70);
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let wf: Vec<f32> = (0..n * k).map(|_| next()).collect();
        let lhs: Vec<f32> = (0..m * k).map(|_| next() * 4.0).collect();
        let mut w = vec![BlockQ5_0::zeros(); n * k / QK];
        BlockQ5_0::from_float(&wf, &mut w);
        let mut want = vec![0f32; m * n];
        reference::<BlockQ5_0>((m, k, n), &lhs, &w, &mut want).unwrap();
        let mut got = vec![0f32; m * n];
        assert!(matmul(m, k, n, &lhs, &w, &mut got));
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-3 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}
