//! Activation rows to Q8_K, as candle's `BlockQ8K::from_float` does it
//! (byte for byte: the matmuls' results must not depend on which of the
//! two ran), eight values at a time. candle's loop is scalar and rounds
//! through libm: a twentieth of every pass.

use super::RawBlock;
use candle_core::quantized::k_quants::{BlockQ8K, GgmlType};

const QK_K: usize = 256;

/// `xs` (a multiple of 256 values) into `ys`, one block per 256.
pub fn quantize(xs: &[f32], ys: &mut [BlockQ8K]) {
    if !super::available() || xs.len() != ys.len() * QK_K {
        return BlockQ8K::from_float(xs, ys);
    }
    for (x, y) in xs.chunks_exact(QK_K).zip(ys.iter_mut()) {
        // SAFETY: AVX2 was checked above; `x` holds one block's values.
        if !unsafe { block(x, y) } {
            BlockQ8K::from_float(x, std::slice::from_mut(y));
        }
    }
}

/// One block; false (nothing written) where the values are not all finite,
/// for candle's loop to handle.
#[target_feature(enable = "avx2")]
unsafe fn block(x: &[f32], y: &mut BlockQ8K) -> bool {
    use std::arch::x86_64::*;
    let p = x.as_ptr();
    let sign = _mm256_set1_ps(-0.0);
    let mut amax = _mm256_setzero_ps();
    for i in (0..QK_K).step_by(8) {
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(p.add(i))));
    }
    let amax = {
        let m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)))
    };
    if !amax.is_finite() || x.iter().any(|v| v.is_nan()) {
        return false;
    }
    let out = y as *mut BlockQ8K as *mut u8;
    if amax == 0.0 {
        std::ptr::write_bytes(out, 0, BlockQ8K::SIZE);
        return true;
    }
    // candle keeps the first value of largest magnitude, with its sign.
    let max = x.iter().copied().find(|v| v.abs() == amax).unwrap_or(amax);
    let iscale = -127f32 / max;
    let scale = _mm256_set1_ps(iscale);
    let half = _mm256_set1_ps(0.5);
    let one = _mm256_set1_ps(1.0);
    let (lo, hi) = (_mm256_set1_ps(-128.0), _mm256_set1_ps(127.0));
    let qs = out.add(4) as *mut i8;
    let bsums = out.add(260);
    for g in 0..QK_K / 16 {
        let mut q = [0i32; 16];
        for h in 0..2 {
            let t = _mm256_mul_ps(scale, _mm256_loadu_ps(p.add(g * 16 + h * 8)));
            // Rounding half away from zero, as `f32::round`: the fraction
            // after truncation is exact, and decides.
            let tr = _mm256_round_ps(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            let frac = _mm256_andnot_ps(sign, _mm256_sub_ps(t, tr));
            let away = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), one);
            let r = _mm256_add_ps(tr, _mm256_or_ps(away, _mm256_and_ps(t, sign)));
            let r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
            _mm256_storeu_si256(
                q.as_mut_ptr().add(h * 8) as *mut __m256i,
                _mm256_cvtps_epi32(r),
            );
        }
        let mut sum = 0i32;
        for (i, v) in q.iter().enumerate() {
            *qs.add(g * 16 + i) = *v as i8;
            sum += v;
        }
        std::ptr::copy_nonoverlapping((sum as i16).to_le_bytes().as_ptr(), bsums.add(2 * g), 2);
    }
    std::ptr::copy_nonoverlapping((1.0 / iscale).to_le_bytes().as_ptr(), out, 4);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::kernels::testing::random;

    fn bytes(ys: &[BlockQ8K]) -> Vec<u8> {
        ys.iter().flat_map(|y| y.bytes().to_vec()).collect()
    }

    #[test]
    fn same_bytes_as_candle() {
        let mut rows = vec![
            random(1536, 4.0, 5),
            random(8960, 0.01, 6),
            vec![0.0; 256],
            // Halves after scaling (max 127 → iscale -1): ±2.5, ±0.5, ties
            // in magnitude with either sign first.
            (0..256)
                .map(|i| match i % 8 {
                    0 => 127.0,
                    1 => -127.0,
                    2 => 2.5,
                    3 => -0.5,
                    4 => 0.5,
                    5 => -3.5,
                    6 => 126.49999,
                    _ => (i as f32) * 0.37 - 40.0,
                })
                .collect(),
            (0..256)
                .map(|i| {
                    if i == 9 {
                        -3.0
                    } else {
                        (i % 5) as f32 * 0.25 - 3.0
                    }
                })
                .collect(),
        ];
        rows.push(rows[3].iter().map(|v| -v).collect());
        for (n, row) in rows.iter().enumerate() {
            let mut want = vec![BlockQ8K::zeros(); row.len() / QK_K];
            let mut got = want.clone();
            BlockQ8K::from_float(row, &mut want);
            quantize(row, &mut got);
            assert_eq!(bytes(&got), bytes(&want), "row {n}");
        }
    }

    #[test]
    fn leaves_non_finite_values_to_candle() {
        let mut row = random(256, 1.0, 7);
        row[17] = f32::NAN;
        row[40] = f32::INFINITY;
        let mut want = vec![BlockQ8K::zeros(); 1];
        let mut got = want.clone();
        BlockQ8K::from_float(&row, &mut want);
        quantize(&row, &mut got);
        assert_eq!(bytes(&got), bytes(&want));
    }
}
