//! Attention of a few new positions over the KV cache, on the CPU.
//!
//! A decoded token (or a check of a few drafts, or a short request) has 1 to
//! 64 query rows against ~1,100 cached keys per layer. candle runs that as
//! two general matmuls whose packing costs more than the arithmetic (a
//! seventh of each decoded token at a 1,000-token prefix). Here each key and
//! value row is read once per KV head and meets every query head that shares
//! it, which is all grouped-query attention needs.

use rayon::prelude::*;

/// Rows up to which [`attend`] beats candle's general matmuls, at a
/// 1,064-token context. The narrow kernel (AVX2): 1 row 57 → 45 ms a pass,
/// 4 rows 100 → 85, 8 rows 153 → 141, 24 rows even. With the wide one
/// (AVX-512), a whole 20-row prefill 245 → 216 ms, 48 rows 534 → 434, 96
/// rows 966 → 856 (the prefix is prefilled 128 rows at a time). Longer
/// prompts keep candle's.
pub fn max_rows(head_dim: usize) -> usize {
    if wide(WQ, head_dim) {
        128
    } else {
        32
    }
}

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
    let nq = groups * s.rows;
    let len = s.pos + s.rows;
    assert_eq!(q.len(), s.n_head * s.rows * hd);
    assert!(keys.len() >= (s.n_kv_head - 1) * s.kv_stride + len * hd);
    assert!(values.len() >= (s.n_kv_head - 1) * s.kv_stride + len * hd);
    // Per task: one KV head's query rows `first..first + nq` (query
    // head-major, `rows` per head). The wide kernel takes them a register
    // pair at a time; the narrow one all of a KV head's at once.
    let per = if wide(nq, hd) { WQ } else { nq };
    let tasks: Vec<(usize, usize)> = (0..s.n_kv_head)
        .flat_map(|g| (0..nq).step_by(per).map(move |first| (g, first)))
        .collect();
    let results: Vec<Vec<f32>> = tasks
        .par_iter()
        .map(|&(g, first)| {
            let n = (nq - first).min(per);
            let q = &q[(g * nq + first) * hd..(g * nq + first + n) * hd];
            let k = &keys[g * s.kv_stride..g * s.kv_stride + len * hd];
            let v = &values[g * s.kv_stride..g * s.kv_stride + len * hd];
            one_kv_head(&Group {
                q,
                k,
                v,
                nq: n,
                first,
                rows: s.rows,
                pos: s.pos,
                hd,
                scale,
            })
        })
        .collect();
    let mut out = vec![0f32; s.rows * s.n_head * hd];
    for (&(g, first), rows) in tasks.iter().zip(&results) {
        for (i, row) in rows.chunks_exact(hd).enumerate() {
            let qi = first + i;
            let (h, r) = (g * groups + qi / s.rows, qi % s.rows);
            out[(r * s.n_head + h) * hd..][..hd].copy_from_slice(row);
        }
    }
    out
}

/// One task's share of the work: `nq` query rows of one KV head, starting
/// at its query row `first` (query head-major, `rows` per head), against
/// its keys and values.
struct Group<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    nq: usize,
    first: usize,
    rows: usize,
    pos: usize,
    hd: usize,
    scale: f32,
}

impl Group<'_> {
    /// Keys visible to query row `i` of the task (causal).
    fn visible(&self, i: usize) -> usize {
        self.pos + (self.first + i) % self.rows + 1
    }
}

fn one_kv_head(g: &Group) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if wide(g.nq, g.hd) {
        // SAFETY: `wide` checked the features.
        return unsafe { wide::one_block(g) };
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        // SAFETY: the features were just detected.
        return unsafe {
            // A decoded token's six query heads (1.5B) in one block: four
            // at a time left a quarter of the second block empty.
            if g.nq == 6 {
                one_kv_head_avx2::<6>(g)
            } else {
                one_kv_head_avx2::<QB>(g)
            }
        };
    }
    one_kv_head_body(g, dots_any, weigh_any)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn one_kv_head_avx2<const B: usize>(g: &Group) -> Vec<f32> {
    use std::arch::x86_64::*;
    if !g.hd.is_multiple_of(16) {
        return one_kv_head_body(g, dots_any, weigh_any);
    }
    // B queries against one key row, eight lanes each.
    let dots = |q: &[f32], q0: usize, nb: usize, kj: &[f32], hd: usize| -> [f32; B] {
        let row = |a: usize| q[(q0 + a.min(nb - 1)) * hd..].as_ptr();
        let qs: [*const f32; B] = std::array::from_fn(row);
        // SAFETY: every query row and `kj` hold `hd` floats, hd % 16 == 0.
        unsafe {
            let mut acc = [_mm256_setzero_ps(); B];
            for c in (0..hd).step_by(8) {
                let kc = _mm256_loadu_ps(kj.as_ptr().add(c));
                for (a, acc) in acc.iter_mut().enumerate() {
                    *acc = _mm256_fmadd_ps(_mm256_loadu_ps(qs[a].add(c)), kc, *acc);
                }
            }
            acc.map(|x| super::kernels::hsum(x))
        }
    };
    // B queries' weighted sums over sixteen value columns at once (for
    // B = 6: twelve accumulators, two value registers and a broadcast).
    let weigh = |p: &[f32],
                 len: usize,
                 q0: usize,
                 nb: usize,
                 upto: usize,
                 v: &[f32],
                 hd: usize,
                 out: &mut [f32]| {
        let prow = |a: usize| p[(q0 + a.min(nb - 1)) * len..].as_ptr();
        let ps: [*const f32; B] = std::array::from_fn(prow);
        for c in (0..hd).step_by(16) {
            // SAFETY: j < upto <= len rows of `v` and of each probability
            // row; columns c..c + 16 <= hd.
            unsafe {
                let mut acc = [[_mm256_setzero_ps(); 2]; B];
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
fn one_kv_head_body<const B: usize>(
    g: &Group,
    dots: impl Fn(&[f32], usize, usize, &[f32], usize) -> [f32; B],
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
        ..
    } = g;
    let len = pos + rows;
    let visible = |qi: usize| g.visible(qi);
    // Probabilities, zero where masked so the value pass needs no mask.
    let mut p = vec![0f32; nq * len];
    for q0 in (0..nq).step_by(B) {
        let nb = (nq - q0).min(B);
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
    for q0 in (0..nq).step_by(B) {
        let nb = (nq - q0).min(B);
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

/// Query rows per task of the wide kernel: two 16-lane registers.
const WQ: usize = 32;

/// Whether `nq` query rows of width `hd` go to the wide kernel: with
/// AVX-512, and enough rows to fill its lanes (a decoded token's six query
/// heads would leave most of them empty; the narrow kernel is faster
/// there). Two rows' twelve query heads: 59 → 50 ms a check pass.
fn wide(nq: usize, hd: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        nq >= 12 && hd.is_multiple_of(64) && super::kernels::vnni()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (nq, hd);
        false
    }
}

/// AVX-512 for a block of up to 32 query rows, the queries in the lanes:
/// scores as `Σ_d qᵀ[d] · k[j][d]` (a key value broadcast against 32
/// queries, six keys per pass over the queries, no horizontal sums), a
/// softmax down each lane, then the weighted sum of value rows with four
/// queries against 64 value columns.
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::{Group, WQ};
    use std::arch::x86_64::*;

    /// Keys per block of the scores.
    const WK: usize = 6;

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn one_block(g: &Group) -> Vec<f32> {
        let (hd, nb, len) = (g.hd, g.nq, g.pos + g.rows);
        debug_assert!(nb <= WQ && hd.is_multiple_of(64));
        let mut qt = vec![0f32; hd * WQ];
        for (i, row) in g.q.chunks_exact(hd).take(nb).enumerate() {
            for (d, x) in row.iter().enumerate() {
                qt[d * WQ + i] = *x;
            }
        }
        let mut st = vec![0f32; len * WQ];
        let mut j = 0;
        while j < len {
            let t = (len - j).min(WK);
            macro_rules! go {
                ($($n:literal)*) => {
                    match (t, nb > 16) {
                        $(($n, false) => dots::<$n, 1>(&qt, g.k, j, hd, g.scale, &mut st),
                          ($n, true) => dots::<$n, 2>(&qt, g.k, j, hd, g.scale, &mut st),)*
                        _ => unreachable!(),
                    }
                };
            }
            go!(1 2 3 4 5 6);
            j += t;
        }
        let inv = softmax(g, &mut st);
        let mut out = vec![0f32; nb * hd];
        for a0 in (0..nb).step_by(4) {
            let na = (nb - a0).min(4);
            let upto = (a0..a0 + na).map(|i| g.visible(i)).max().unwrap_or(0);
            for c in (0..hd).step_by(64) {
                weigh(&st, g.v, hd, a0, na, upto, c, &inv, &mut out);
            }
        }
        out
    }

    /// Scores of keys `j..j + T` against the block's queries (`H` registers
    /// of 16), scaled, into `st[key][query]`.
    #[inline(always)]
    unsafe fn dots<const T: usize, const H: usize>(
        qt: &[f32],
        k: &[f32],
        j: usize,
        hd: usize,
        scale: f32,
        st: &mut [f32],
    ) {
        let mut acc = [[_mm512_setzero_ps(); H]; T];
        let (q, k) = (qt.as_ptr(), k.as_ptr().add(j * hd));
        for d in 0..hd {
            let qs: [__m512; H] = std::array::from_fn(|h| _mm512_loadu_ps(q.add(d * WQ + 16 * h)));
            for (t, acc) in acc.iter_mut().enumerate() {
                let kv = _mm512_set1_ps(*k.add(t * hd + d));
                for h in 0..H {
                    acc[h] = _mm512_fmadd_ps(qs[h], kv, acc[h]);
                }
            }
        }
        let scale = _mm512_set1_ps(scale);
        for (t, acc) in acc.iter().enumerate() {
            for (h, acc) in acc.iter().enumerate() {
                _mm512_storeu_ps(
                    st.as_mut_ptr().add((j + t) * WQ + 16 * h),
                    _mm512_mul_ps(*acc, scale),
                );
            }
        }
    }

    /// Turns each query's scores into unnormalised weights (zero where the
    /// key is masked, or the lane holds no query) and returns `1 / Σ` per
    /// query.
    #[inline(always)]
    unsafe fn softmax(g: &Group, st: &mut [f32]) -> [f32; WQ] {
        let len = g.pos + g.rows;
        let mut inv = [0f32; WQ];
        for h in 0..WQ / 16 {
            let vis: [i32; 16] = std::array::from_fn(|l| {
                let i = 16 * h + l;
                if i < g.nq {
                    g.visible(i) as i32
                } else {
                    0
                }
            });
            let vis = _mm512_loadu_si512(vis.as_ptr() as *const _);
            let lanes = |j: usize| _mm512_cmpgt_epi32_mask(vis, _mm512_set1_epi32(j as i32));
            let base = st.as_mut_ptr();
            let at = |j: usize| base.add(j * WQ + 16 * h);
            let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
            for j in 0..len {
                max = _mm512_mask_max_ps(max, lanes(j), max, _mm512_loadu_ps(at(j)));
            }
            let mut sum = _mm512_setzero_ps();
            for j in 0..len {
                let e = exp(_mm512_sub_ps(_mm512_loadu_ps(at(j)), max));
                let e = _mm512_maskz_mov_ps(lanes(j), e);
                _mm512_storeu_ps(at(j), e);
                sum = _mm512_add_ps(sum, e);
            }
            let some = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(sum, _mm512_setzero_ps());
            let r = _mm512_maskz_div_ps(some, _mm512_set1_ps(1.0), sum);
            _mm512_storeu_ps(inv.as_mut_ptr().add(16 * h), r);
        }
        inv
    }

    /// `out[a0..a0 + na][c..c + 64]`: the weighted sums of value rows
    /// `0..upto`, normalised.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn weigh(
        st: &[f32],
        v: &[f32],
        hd: usize,
        a0: usize,
        na: usize,
        upto: usize,
        c: usize,
        inv: &[f32; WQ],
        out: &mut [f32],
    ) {
        let mut acc = [[_mm512_setzero_ps(); 4]; 4];
        for j in 0..upto {
            let vj = v.as_ptr().add(j * hd + c);
            let vs: [__m512; 4] = std::array::from_fn(|x| _mm512_loadu_ps(vj.add(16 * x)));
            for (a, acc) in acc.iter_mut().enumerate() {
                let p = _mm512_set1_ps(*st.as_ptr().add(j * WQ + a0 + a.min(na - 1)));
                for x in 0..4 {
                    acc[x] = _mm512_fmadd_ps(p, vs[x], acc[x]);
                }
            }
        }
        for (a, acc) in acc.iter().enumerate().take(na) {
            let r = _mm512_set1_ps(inv[a0 + a]);
            let o = out.as_mut_ptr().add((a0 + a) * hd + c);
            for (x, acc) in acc.iter().enumerate() {
                _mm512_storeu_ps(o.add(16 * x), _mm512_mul_ps(*acc, r));
            }
        }
    }

    /// `eˣ` for x ≤ 0 (scores minus their maximum), as Cephes' `expf`:
    /// x = n·ln 2 + r with ln 2 split in two (so r keeps its bits), eʳ by
    /// a minimax polynomial on |r| ≤ ½ln 2, then `scalef` for 2ⁿ, which
    /// underflows through the subnormals to 0 as `expf` does. Within
    /// 2e-7 of `expf`.
    #[inline(always)]
    pub unsafe fn exp(x: __m512) -> __m512 {
        let x = _mm512_max_ps(x, _mm512_set1_ps(-104.0));
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
        );
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm512_set1_ps(1.987_569_1e-4);
        for c in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            0.166_666_65,
            0.5,
        ] {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
        }
        let p = _mm512_fmadd_ps(
            p,
            _mm512_mul_ps(r, r),
            _mm512_add_ps(r, _mm512_set1_ps(1.0)),
        );
        _mm512_scalef_ps(p, n)
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
            for (rows, pos) in [
                (1, 0),
                (1, 1043),
                (2, 500),
                (3, 17),
                (5, 1100),
                (24, 999),
                (64, 3),
            ] {
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

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn wide_exp_matches_expf() {
        if !crate::engine::kernels::vnni() {
            return;
        }
        use std::arch::x86_64::*;
        let xs: Vec<f32> = (0..4000)
            .map(|i| -(i as f32) * 0.03)
            .chain([-0.0, -1e-7, -87.5, -104.0, -200.0])
            .collect();
        for chunk in xs.chunks(16) {
            let mut lane = [0f32; 16];
            lane[..chunk.len()].copy_from_slice(chunk);
            let mut got = [0f32; 16];
            // SAFETY: `vnni` implies AVX-512F.
            unsafe {
                _mm512_storeu_ps(got.as_mut_ptr(), wide::exp(_mm512_loadu_ps(lane.as_ptr())))
            };
            for (x, g) in lane.iter().zip(got) {
                let want = x.exp();
                assert!(
                    (g - want).abs() <= 4e-7 * want + 1e-38,
                    "exp({x}) = {g}, want {want}"
                );
            }
        }
    }
}
