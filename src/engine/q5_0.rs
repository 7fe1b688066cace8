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
    if !simd_available()
        || !k.is_multiple_of(QK)
        || lhs.len() != m * k
        || w.len() != n * (k / QK)
        || dst.len() != m * n
    {
        return false;
    }
    let kb = k / QK;
    let mut q = vec![BlockQ8_0::zeros(); m * kb];
    for (row, out) in lhs.chunks_exact(k).zip(q.chunks_exact_mut(kb)) {
        BlockQ8_0::from_float(row, out);
    }
    // Output columns in parallel, written transposed then copied back, so
    // each worker owns a contiguous slice. A weight row is unpacked to
    // signed bytes once per tile of activation rows, and the tile's
    // quantized activations stay in cache while the columns stream by.
    const COLS: usize = 32;
    const ROWS: usize = 16;
    let mut cols = vec![0f32; n * m];
    cols.par_chunks_mut(m * COLS)
        .enumerate()
        .for_each(|(chunk, out)| {
            let first = chunk * COLS;
            let ncols = out.len() / m;
            let mut qx = vec![[0i8; QK]; kb];
            let mut dx = vec![0f32; kb];
            for r0 in (0..m).step_by(ROWS) {
                let r1 = (r0 + ROWS).min(m);
                for j in 0..ncols {
                    let wrow = &w[(first + j) * kb..(first + j + 1) * kb];
                    // SAFETY: simd_available() checked the CPU features above.
                    unsafe { unpack(wrow, &mut qx, &mut dx) };
                    for r in r0..r1 {
                        out[j * m + r] = unsafe { dot(&qx, &dx, &q[r * kb..(r + 1) * kb]) };
                    }
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
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma")
            && is_x86_feature_detected!("f16c")
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "f16c")]
unsafe fn f16_at(b: &[u8]) -> f32 {
    use std::arch::x86_64::*;
    let bits = u16::from_le_bytes([b[0], b[1]]) as i32;
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits)))
}

/// Q5_0 blocks → signed bytes in -16..16 and their scales.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn unpack(xs: &[BlockQ5_0], qx: &mut [[i8; QK]], dx: &mut [f32]) {
    use std::arch::x86_64::*;
    for ((x, q), d) in xs.iter().zip(qx.iter_mut()).zip(dx.iter_mut()) {
        let xb = bytes(x); // d: f16 | qh: [u8; 4] | qs: [u8; 16]
        *d = f16_at(xb);
        // Low nibbles are values 0..16, high nibbles 16..32.
        let tmp = _mm_loadu_si128(xb.as_ptr().add(6) as *const __m128i);
        let nibbles = _mm256_and_si256(
            _mm256_set_m128i(_mm_srli_epi16(tmp, 4), tmp),
            _mm256_set1_epi8(0x0F),
        );
        // The fifth bit, spread to bytes of 0xFF where it is set.
        let qh = u32::from_le_bytes([xb[2], xb[3], xb[4], xb[5]]);
        let shuf = _mm256_set_epi64x(
            0x0303030303030303,
            0x0202020202020202,
            0x0101010101010101,
            0,
        );
        let spread = _mm256_shuffle_epi8(_mm256_set1_epi32(qh as i32), shuf);
        let bits = _mm256_cmpeq_epi8(
            _mm256_or_si256(spread, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe)),
            _mm256_set1_epi64x(-1),
        );
        // (nibble | bit << 4) - 16 is nibble - 16 where the bit is clear.
        let hi = _mm256_andnot_si256(bits, _mm256_set1_epi8(0xF0u8 as i8));
        _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, _mm256_or_si256(nibbles, hi));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot(qx: &[[i8; QK]], dx: &[f32], ys: &[BlockQ8_0]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    for ((q, d), y) in qx.iter().zip(dx).zip(ys) {
        let yb = bytes(y); // d: f16 | qs: [i8; 32]
        let scale = _mm256_set1_ps(d * f16_at(yb));
        let x = _mm256_loadu_si256(q.as_ptr() as *const __m256i);
        let y = _mm256_loadu_si256(yb.as_ptr().add(2) as *const __m256i);
        // Signed × signed via |x| × sign(y, x), then pairwise sums to i32.
        let prod = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
        let sum = _mm256_madd_epi16(_mm256_set1_epi16(1), prod);
        acc = _mm256_fmadd_ps(scale, _mm256_cvtepi32_ps(sum), acc);
    }
    let hi = _mm256_extractf128_ps(acc, 1);
    let sum = _mm_add_ps(_mm256_castps256_ps128(acc), hi);
    let sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    let sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    _mm_cvtss_f32(sum)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn unpack(_: &[BlockQ5_0], _: &mut [[i8; QK]], _: &mut [f32]) {
    unreachable!("only called after simd_available()")
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dot(_: &[[i8; QK]], _: &[f32], _: &[BlockQ8_0]) -> f32 {
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
