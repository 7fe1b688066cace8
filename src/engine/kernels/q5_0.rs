//! Q5_0 × Q8_0 matmul with AVX2.
//!
//! candle 0.11 has SIMD kernels for the k-quants but only a scalar loop for
//! Q5_0, which llama.cpp uses for most tensors of models whose width is not
//! a multiple of 256 (Qwen2.5-Coder-0.5B: 896). Scalar Q5_0 made the small
//! model slower than the big one. This follows ggml's AVX2 kernel, with the
//! weights unpacked to bytes once per row tile. With a tile file (the
//! usual case) Q8 tiles (`kernels::tiles`) serve instead, 5–10× faster.

use super::{self as simd, RawBlock};
use candle_core::quantized::k_quants::{BlockQ5_0, BlockQ8_0, GgmlType};

const QK: usize = 32;

/// A weight row unpacked: values in -16..16 and a scale per block.
#[derive(Default)]
struct Unpacked {
    q: Vec<[i8; QK]>,
    d: Vec<f32>,
}

/// `dst[m×n] = lhs[m×k] · wᵀ`, `w` being `n` rows of `k/32` Q5_0 blocks.
/// Returns false when the CPU lacks the SIMD features (the caller falls back).
pub fn matmul(m: usize, k: usize, n: usize, lhs: &[f32], w: &[BlockQ5_0], dst: &mut [f32]) -> bool {
    if !simd::available()
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
    if m == 1 {
        use rayon::prelude::*;
        dst.par_chunks_mut(64).enumerate().for_each(|(chunk, out)| {
            for (j, o) in out.iter_mut().enumerate() {
                let c = chunk * 64 + j;
                // SAFETY: simd::available() was checked above.
                *o = unsafe { dot_direct(&w[c * kb..(c + 1) * kb], &q) };
            }
        });
        return true;
    }
    simd::tiled_matmul(
        m,
        n,
        |c| &w[c * kb..(c + 1) * kb],
        |r| &q[r * kb..(r + 1) * kb],
        // SAFETY (both): simd::available() was checked above.
        |row, u: &mut Unpacked| unsafe { unpack(row, u) },
        |u, ys| unsafe { dot(u, ys) },
        dst,
    );
    true
}

/// One block's 32 values as signed bytes in -16..16.
#[target_feature(enable = "avx2")]
unsafe fn values(xb: &[u8]) -> std::arch::x86_64::__m256i {
    use std::arch::x86_64::*;
    // xb: d: f16 | qh: [u8; 4] | qs: [u8; 16]. Low nibbles are values
    // 0..16, high nibbles 16..32.
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
    _mm256_or_si256(nibbles, hi)
}

/// Signed bytes x · y summed in eight i32 lanes, as floats.
#[target_feature(enable = "avx2")]
unsafe fn dot_bytes(
    x: std::arch::x86_64::__m256i,
    y: std::arch::x86_64::__m256i,
) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::*;
    // Signed × signed via |x| × sign(y, x), then pairwise sums to i32.
    let prod = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_set1_epi16(1), prod))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn unpack(xs: &[BlockQ5_0], u: &mut Unpacked) {
    use std::arch::x86_64::*;
    u.q.resize(xs.len(), [0; QK]);
    u.d.resize(xs.len(), 0.0);
    for ((x, q), d) in xs.iter().zip(u.q.iter_mut()).zip(u.d.iter_mut()) {
        let xb = x.bytes();
        *d = simd::f16_at(xb);
        _mm256_storeu_si256(q.as_mut_ptr() as *mut __m256i, values(xb));
    }
}

/// One row against one weight row, unpacking on the fly: for decode, where
/// each weight row meets a single activation row.
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_direct(xs: &[BlockQ5_0], ys: &[BlockQ8_0]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    for (x, y) in xs.iter().zip(ys) {
        let (xb, yb) = (x.bytes(), y.bytes());
        let scale = _mm256_set1_ps(simd::f16_at(xb) * simd::f16_at(yb));
        let y = _mm256_loadu_si256(yb.as_ptr().add(2) as *const __m256i);
        acc = _mm256_fmadd_ps(scale, dot_bytes(values(xb), y), acc);
    }
    simd::hsum(acc)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot(u: &Unpacked, ys: &[BlockQ8_0]) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = _mm256_setzero_ps();
    for ((q, d), y) in u.q.iter().zip(&u.d).zip(ys) {
        let yb = y.bytes(); // d: f16 | qs: [i8; 32]
        let scale = _mm256_set1_ps(d * simd::f16_at(yb));
        let x = _mm256_loadu_si256(q.as_ptr() as *const __m256i);
        let y = _mm256_loadu_si256(yb.as_ptr().add(2) as *const __m256i);
        acc = _mm256_fmadd_ps(scale, dot_bytes(x, y), acc);
    }
    simd::hsum(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kernels::testing::{assert_close, case};

    #[test]
    fn matches_candles_scalar_kernel() {
        if !simd::available() {
            return;
        }
        let (m, k, n) = (19, 128, 70);
        let (w, lhs, want) = case::<BlockQ5_0>(m, k, n);
        let mut got = vec![0f32; m * n];
        assert!(matmul(m, k, n, &lhs, &w, &mut got));
        assert_close(&got, &want);
        // The decode path: one row.
        let mut one = vec![0f32; n];
        assert!(matmul(1, k, n, &lhs[..k], &w, &mut one));
        assert_close(&one, &want[..n]);
    }
}
