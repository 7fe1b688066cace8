//! Attention of a few new positions over the KV cache, on the CPU.
//!
//! A decoded token (or a check of a few drafts, or a short request) has 1 to
//! 64 query rows against ~1,100 cached keys per layer. candle runs that as
//! two general matmuls whose packing costs more than the arithmetic (a
//! seventh of each decoded token at a 1,000-token prefix). Here each key and
//! value row is read once per KV head and meets every query head that shares
//! it, which is all grouped-query attention needs.

use rayon::prelude::*;

/// Rows up to which [`attend`] beats the general matmuls (measured at a
/// 1,064-token context: 1 row 57 → 45 ms a pass, 4 rows 100 → 85, 8 rows
/// 153 → 141, 24 rows even); longer prompts keep candle's.
pub const MAX_ROWS: usize = 32;

/// The shapes of one layer's attention.
#[derive(Clone, Copy)]
pub struct Shape {
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    /// New rows (queries), at positions `pos..pos + rows`.
    pub rows: usize,
    pub pos: usize,
    /// Floats from one KV head's first key to the next one's (the buffers
    /// have room for more positions than are used).
    pub kv_stride: usize,
}

/// Softmax(q·kᵀ·scale, causal) · v for `q` laid out `(n_head, rows,
/// head_dim)`, `keys`/`values` `(n_kv_head, ≥ pos + rows, head_dim)` with
/// `kv_stride` between heads. Returns `(rows, n_head · head_dim)`, the
/// heads side by side as the output projection wants them.
pub fn attend(s: Shape, q: &[f32], keys: &[f32], values: &[f32], scale: f32) -> Vec<f32> {
    let hd = s.head_dim;
    let groups = s.n_head / s.n_kv_head;
    let len = s.pos + s.rows;
    assert_eq!(q.len(), s.n_head * s.rows * hd);
    assert!(keys.len() >= (s.n_kv_head - 1) * s.kv_stride + len * hd);
    assert!(values.len() >= (s.n_kv_head - 1) * s.kv_stride + len * hd);
    // Per KV head: its query heads' output rows, `(groups, rows, hd)`.
    let per_head: Vec<Vec<f32>> = (0..s.n_kv_head)
        .into_par_iter()
        .map(|g| {
            let q = &q[g * groups * s.rows * hd..(g + 1) * groups * s.rows * hd];
            let k = &keys[g * s.kv_stride..g * s.kv_stride + len * hd];
            let v = &values[g * s.kv_stride..g * s.kv_stride + len * hd];
            one_kv_head(&Group {
                q,
                k,
                v,
                nq: groups * s.rows,
                rows: s.rows,
                pos: s.pos,
                hd,
                scale,
            })
        })
        .collect();
    let mut out = vec![0f32; s.rows * s.n_head * hd];
    for (g, heads) in per_head.iter().enumerate() {
        for (qi, row) in heads.chunks_exact(hd).enumerate() {
            let (h, i) = (g * groups + qi / s.rows, qi % s.rows);
            out[(i * s.n_head + h) * hd..][..hd].copy_from_slice(row);
        }
    }
    out
}

/// One KV head's share of the work: `nq` query rows (query head-major,
/// `rows` per head) against its keys and values.
struct Group<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    nq: usize,
    rows: usize,
    pos: usize,
    hd: usize,
    scale: f32,
}

fn one_kv_head(g: &Group) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the features were just detected.
        return unsafe { one_kv_head_avx2(g) };
    }
    one_kv_head_body(g, dots_any, weigh_any)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn one_kv_head_avx2(g: &Group) -> Vec<f32> {
    use std::arch::x86_64::*;
    if !g.hd.is_multiple_of(16) {
        return one_kv_head_body(g, dots_any, weigh_any);
    }
    // Four queries against one key row, eight lanes each.
    let dots = |q: &[f32], q0: usize, nb: usize, kj: &[f32], hd: usize| -> [f32; QB] {
        let row = |a: usize| q[(q0 + a.min(nb - 1)) * hd..].as_ptr();
        let qs: [*const f32; QB] = std::array::from_fn(row);
        // SAFETY: every query row and `kj` hold `hd` floats, hd % 16 == 0.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); QB];
            for c in (0..hd).step_by(8) {
                let kc = _mm256_loadu_ps(kj.as_ptr().add(c));
                for (a, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_ps(_mm256_loadu_ps(qs[a].add(c)), kc, *acc);
                }
            }
            acc.map(|x| super::kernels::hsum(x))
        }
    };
    // Four queries' weighted sums over sixteen value columns at once.
    let weigh = |p: &[f32],
                 len: usize,
                 q0: usize,
                 nb: usize,
                 upto: usize,
                 v: &[f32],
                 hd: usize,
                 out: &mut [f32]| {
        let prow = |a: usize| p[(q0 + a.min(nb - 1)) * len..].as_ptr();
        let ps: [*const f32; QB] = std::array::from_fn(prow);
        for c in (0..hd).step_by(16) {
            // SAFETY: j < upto <= len rows of `v` and of each probability
            // row; columns c..c + 16 <= hd.
            unsafe {
                let mut acc = [[_mm256_setzero_ps(); 2]; QB];
                for j in 0..upto {
                    let vj = v.as_ptr().add(j * hd + c);
                    let (v0, v1) = (_mm256_loadu_ps(vj), _mm256_loadu_ps(vj.add(8)));
                    for (a, acc) in acc.iter_mut().enumerate() {
                        let pj = _mm256_broadcast_ss(&*ps[a].add(j));
                        acc[0] = _mm256_fmadd_ps(pj, v0, acc[0]);
                        acc[1] = _mm256_fmadd_ps(pj, v1, acc[1]);
                    }
                }
                for (a, acc) in acc.iter().enumerate().take(nb) {
                    let o = out[(q0 + a) * hd + c..].as_mut_ptr();
                    _mm256_storeu_ps(o, acc[0]);
                    _mm256_storeu_ps(o.add(8), acc[1]);
                }
            }
        }
    };
    one_kv_head_body(g, dots, weigh)
}

/// Queries that meet each key or value row while it is in registers.
const QB: usize = 4;

#[inline(always)]
fn one_kv_head_body(
    g: &Group,
    dots: impl Fn(&[f32], usize, usize, &[f32], usize) -> [f32; QB],
    weigh: impl Fn(&[f32], usize, usize, usize, usize, &[f32], usize, &mut [f32]),
) -> Vec<f32> {
    let &Group {
        q,
        k,
        v,
        nq,
        rows,
        pos,
        hd,
        scale,
    } = g;
    let len = pos + rows;
    // Keys visible to query row `qi` (row `qi % rows` of its head).
    let visible = |qi: usize| pos + qi % rows + 1;
    // Probabilities, zero where masked so the value pass needs no mask.
    let mut p = vec![0f32; nq * len];
    for q0 in (0..nq).step_by(QB) {
        let nb = (nq - q0).min(QB);
        let upto = (q0..q0 + nb).map(visible).max().unwrap_or(0);
        for (j, kj) in k.chunks_exact(hd).take(upto).enumerate() {
            let d = dots(q, q0, nb, kj, hd);
            for (a, d) in d.iter().enumerate().take(nb) {
                if j < visible(q0 + a) {
                    p[(q0 + a) * len + j] = d * scale;
                }
            }
        }
    }
    for qi in 0..nq {
        let row = &mut p[qi * len..qi * len + visible(qi)];
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for x in row.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|x| *x *= inv);
    }
    let mut out = vec![0f32; nq * hd];
    for q0 in (0..nq).step_by(QB) {
        let nb = (nq - q0).min(QB);
        let upto = (q0..q0 + nb).map(visible).max().unwrap_or(0);
        weigh(&p, len, q0, nb, upto, v, hd, &mut out);
    }
    out
}

/// Portable: query rows `q0..q0 + nb` against one key row.
fn dots_any(q: &[f32], q0: usize, nb: usize, kj: &[f32], hd: usize) -> [f32; QB] {
    std::array::from_fn(|a| {
        if a >= nb {
            return 0.0;
        }
        let qa = &q[(q0 + a) * hd..(q0 + a + 1) * hd];
        qa.iter().zip(kj).map(|(x, y)| x * y).sum()
    })
}

/// Portable: the probability-weighted sums of value rows for `nb` queries.
#[allow(clippy::too_many_arguments)]
fn weigh_any(
    p: &[f32],
    len: usize,
    q0: usize,
    nb: usize,
    upto: usize,
    v: &[f32],
    hd: usize,
    out: &mut [f32],
) {
    for a in 0..nb {
        let o = &mut out[(q0 + a) * hd..(q0 + a + 1) * hd];
        for (j, vj) in v.chunks_exact(hd).take(upto).enumerate() {
            let pj = p[(q0 + a) * len + j];
            o.iter_mut().zip(vj).for_each(|(o, x)| *o += pj * x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// candle's matmul + mask + softmax, as `qwen2::attention` ran it.
    fn reference(s: Shape, q: &[f32], k: &[f32], v: &[f32], scale: f32) -> Vec<f32> {
        let dev = Device::Cpu;
        let (hd, groups, len) = (s.head_dim, s.n_head / s.n_kv_head, s.pos + s.rows);
        let narrow = |x: &[f32]| {
            Tensor::from_slice(x, (s.n_kv_head, s.kv_stride / hd, hd), &dev)
                .and_then(|t| t.narrow(1, 0, len))
                .unwrap()
        };
        let (k, v) = (narrow(k), narrow(v));
        let q = Tensor::from_slice(q, (s.n_kv_head, groups * s.rows, hd), &dev).unwrap();
        let mut att = (q.matmul(&k.t().unwrap()).unwrap() * scale as f64).unwrap();
        let mask: Vec<f32> = (0..groups * s.rows)
            .flat_map(|r| {
                let i = r % s.rows;
                (0..len).map(move |j| {
                    if j > s.pos + i {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        let mask = Tensor::from_vec(mask, (groups * s.rows, len), &dev).unwrap();
        att = att.broadcast_add(&mask).unwrap();
        let att = candle_nn::ops::softmax_last_dim(&att).unwrap();
        att.matmul(&v)
            .unwrap()
            .reshape((s.n_head, s.rows, hd))
            .unwrap()
            .transpose(0, 1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    #[test]
    fn matches_candle_on_model_shapes() {
        // Qwen2.5 1.5B (12 heads over 2) and 0.5B (14 over 2, 64 wide),
        // one row (decode), a few (checks), a short request; odd lengths.
        for (n_head, n_kv_head, head_dim) in [(12, 2, 128), (14, 2, 64), (4, 4, 8)] {
            for (rows, pos) in [(1, 0), (1, 1043), (3, 17), (5, 1100), (24, 999), (64, 3)] {
                let cap = pos + rows + 7;
                let s = Shape {
                    n_head,
                    n_kv_head,
                    head_dim,
                    rows,
                    pos,
                    kv_stride: cap * head_dim,
                };
                let q = random(n_head * rows * head_dim, 1);
                let k = random(n_kv_head * cap * head_dim, 2);
                let v = random(n_kv_head * cap * head_dim, 3);
                let scale = 1.0 / (head_dim as f32).sqrt();
                let got = attend(s, &q, &k, &v, scale);
                let want = reference(s, &q, &k, &v, scale);
                assert_eq!(got.len(), want.len());
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                        "{n_head}/{n_kv_head}x{head_dim}, {rows} rows at {pos}: [{i}] {a} vs {b}"
                    );
                }
            }
        }
    }
}
