//! cmdai's own CPU kernels where candle's are slow (`q4k`, `q6k`: Q4_K and
//! Q6_K prefill; `q5_0`: Q5_0, for which candle has only a scalar loop), and
//! what they share: feature detection, byte access to candle's blocks, and
//! the tiled, threaded matmul driver. x86-64 only (AVX2, and AVX-512 VNNI
//! where the CPU has it, chosen at run time): the module is not compiled
//! elsewhere, and candle's kernels run instead.

pub mod q4k;
pub mod q5_0;
pub mod q6k;
pub mod q8k;
pub mod tiles;

use candle_core::quantized::k_quants::{BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8K, BlockQ8_0};
use rayon::prelude::*;

/// AVX2 + FMA + F16C, the baseline of every x86-64 CPU from the last decade.
pub fn available() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

/// AVX-512 with VNNI (Zen 4, Ice Lake and later): 64 bytes per multiply
/// and a fused multiply-add of i16 pairs into i32.
/// `CMDAI_NO_AVX512=1` keeps to AVX2 (to compare them, or where AVX-512
/// lowers the clock).
pub fn vnni() -> bool {
    static VNNI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VNNI.get_or_init(|| {
        available()
            && is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vnni")
            && std::env::var_os("CMDAI_NO_AVX512").is_none_or(|v| v.is_empty() || v == "0")
    })
}

mod sealed {
    pub trait Sealed {}
}

/// A candle block type whose bytes the kernels read at fixed offsets.
/// candle keeps the fields crate-private, but the types are `repr(C)`; the
/// sizes below are asserted at compile time, so a layout change in candle
/// fails the build instead of reading the wrong bytes. Sealed: only these.
pub trait RawBlock: sealed::Sealed + Sized {
    const SIZE: usize;

    fn bytes(&self) -> &[u8] {
        // SAFETY: plain-old-data blocks of exactly SIZE bytes (asserted).
        unsafe { std::slice::from_raw_parts(self as *const Self as *const u8, Self::SIZE) }
    }
}

macro_rules! block {
    ($t:ty, $size:expr, $layout:literal) => {
        impl sealed::Sealed for $t {}
        #[doc = $layout]
        impl RawBlock for $t {
            const SIZE: usize = $size;
        }
        const _: () = assert!(std::mem::size_of::<$t>() == $size);
    };
}

block!(
    BlockQ4K,
    144,
    "d: f16 | dmin: f16 | scales: [u8; 12] | qs: [u8; 128]"
);
block!(
    BlockQ6K,
    210,
    "ql: [u8; 128] | qh: [u8; 64] | scales: [i8; 16] | d: f16"
);
block!(BlockQ8K, 292, "d: f32 | qs: [i8; 256] | bsums: [i16; 16]");
block!(BlockQ5_0, 22, "d: f16 | qh: [u8; 4] | qs: [u8; 16]");
block!(BlockQ8_0, 34, "d: f16 | qs: [i8; 32]");

#[target_feature(enable = "f16c")]
pub unsafe fn f16_at(b: &[u8]) -> f32 {
    use std::arch::x86_64::*;
    let bits = u16::from_le_bytes([b[0], b[1]]) as i32;
    _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits)))
}

#[target_feature(enable = "avx2")]
pub unsafe fn hsum(v: std::arch::x86_64::__m256) -> f32 {
    use std::arch::x86_64::*;
    hsum128(_mm_add_ps(
        _mm256_castps256_ps128(v),
        _mm256_extractf128_ps(v, 1),
    ))
}

#[target_feature(enable = "avx2")]
pub unsafe fn hsum128(v: std::arch::x86_64::__m128) -> f32 {
    use std::arch::x86_64::*;
    let sum = _mm_add_ps(v, _mm_movehl_ps(v, v));
    _mm_cvtss_f32(_mm_add_ss(sum, _mm_movehdup_ps(sum)))
}

/// `dst[m×n]` where `dst[r][c] = dot(unpack(weight row c), act row r)`.
///
/// Output columns are split across threads; each worker unpacks a weight
/// row once per tile of activation rows, so the unpacking is paid m/16
/// times instead of m times, while the tile's activations stay in L1.
pub fn tiled_matmul<W, A, U>(
    m: usize,
    n: usize,
    weight_row: impl Fn(usize) -> W + Sync,
    act_row: impl Fn(usize) -> A + Sync,
    unpack: impl Fn(W, &mut U) + Sync,
    dot: impl Fn(&U, A) -> f32 + Sync,
    dst: &mut [f32],
) where
    U: Default + Send,
{
    const COLS: usize = 32;
    const ROWS: usize = 16;
    let mut cols = vec![0f32; n * m];
    cols.par_chunks_mut(m * COLS)
        .enumerate()
        .for_each(|(chunk, out)| {
            let first = chunk * COLS;
            let ncols = out.len() / m;
            let mut unpacked = U::default();
            for r0 in (0..m).step_by(ROWS) {
                let r1 = (r0 + ROWS).min(m);
                for j in 0..ncols {
                    unpack(weight_row(first + j), &mut unpacked);
                    for r in r0..r1 {
                        out[j * m + r] = dot(&unpacked, act_row(r));
                    }
                }
            }
        });
    for r in 0..m {
        for c in 0..n {
            dst[r * n + c] = cols[c * m + r];
        }
    }
}

/// `dst[r][c] = dot(c, r)` for a few activation rows (decode), output
/// columns split across threads in chunks big enough to amortise dispatch.
pub fn few_rows_matmul(
    m: usize,
    n: usize,
    dot: impl Fn(usize, usize) -> f32 + Sync,
    dst: &mut [f32],
) {
    const CHUNK: usize = 64;
    for (r, row) in dst.chunks_exact_mut(n).enumerate().take(m) {
        row.par_chunks_mut(CHUNK).enumerate().for_each(|(i, out)| {
            for (j, o) in out.iter_mut().enumerate() {
                *o = dot(i * CHUNK + j, r);
            }
        });
    }
}

#[cfg(test)]
pub mod testing {
    use candle_core::quantized::k_quants::GgmlType;

    /// A matmul to check a kernel against: `n` random weight rows of `k`
    /// values in `T`'s blocks, `m` random activation rows, and candle's own
    /// product of them, `(weights, activations, expected)`.
    pub fn case<T: GgmlType>(m: usize, k: usize, n: usize) -> (Vec<T>, Vec<f32>, Vec<f32>) {
        let mut w = vec![T::zeros(); n * k / T::BLCK_SIZE];
        T::from_float(&random(n * k, 1.0, 3), &mut w);
        let lhs = random(m * k, 4.0, 5);
        let mut want = vec![0f32; m * n];
        candle_core::quantized::k_quants::matmul::<T>((m, k, n), &lhs, &w, &mut want)
            .expect("candle's reference matmul");
        (w, lhs, want)
    }

    /// Deterministic values in [-scale/2, scale/2).
    pub fn random(n: usize, scale: f32, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                ((s >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * scale
            })
            .collect()
    }

    pub fn assert_close(got: &[f32], want: &[f32]) {
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(want) {
            assert!((a - b).abs() <= 1e-3 * b.abs().max(1.0), "{a} vs {b}");
        }
    }
}
