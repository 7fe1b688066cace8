//! Quantized weights used in place, straight from the memory-mapped GGUF.
//!
//! candle 0.11's `QMatMul` on CPU copies every tensor to the heap and repacks
//! Q4_K/Q6_K into tiles on the first forward of every process (seconds, and a
//! gigabyte). For a helper that lives for one request that is most of its
//! life, so on CPU the matmul is a custom op over the mapped blocks, calling
//! candle's public per-block dot products, threaded on rayon's pool.
//! On GPU devices the weights are uploaded once and candle's own `QMatMul` runs.

use crate::engine::gguf::TensorRef;
use crate::engine::tiles::{Tiles, TILE_N};
use crate::error::{Error, Result};
use candle_core::quantized::k_quants::*;
use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{CpuStorage, CustomOp1, Device, Layout, Module, Shape, Tensor};
use half::{bf16, f16};
use memmap2::Mmap;
use std::borrow::Cow;
use std::sync::Arc;

/// Runs `$body` with `$T` bound to the block type of `$dtype`.
macro_rules! with_block_type {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            GgmlDType::F32 => {
                type $T = f32;
                $body
            }
            GgmlDType::F16 => {
                type $T = f16;
                $body
            }
            GgmlDType::BF16 => {
                type $T = bf16;
                $body
            }
            GgmlDType::Q4_0 => {
                type $T = BlockQ4_0;
                $body
            }
            GgmlDType::Q4_1 => {
                type $T = BlockQ4_1;
                $body
            }
            GgmlDType::Q5_0 => {
                type $T = BlockQ5_0;
                $body
            }
            GgmlDType::Q5_1 => {
                type $T = BlockQ5_1;
                $body
            }
            GgmlDType::Q8_0 => {
                type $T = BlockQ8_0;
                $body
            }
            GgmlDType::Q8_1 => {
                type $T = BlockQ8_1;
                $body
            }
            GgmlDType::Q2K => {
                type $T = BlockQ2K;
                $body
            }
            GgmlDType::Q3K => {
                type $T = BlockQ3K;
                $body
            }
            GgmlDType::Q4K => {
                type $T = BlockQ4K;
                $body
            }
            GgmlDType::Q5K => {
                type $T = BlockQ5K;
                $body
            }
            GgmlDType::Q6K => {
                type $T = BlockQ6K;
                $body
            }
            GgmlDType::Q8K => {
                type $T = BlockQ8K;
                $body
            }
        }
    };
}

/// A 2-D weight (`rows` outputs × `cols` inputs) living in the mapping.
#[derive(Clone)]
pub struct MappedWeight {
    dtype: GgmlDType,
    rows: usize,
    cols: usize,
    ptr: *const u8,
    len: usize,
    // Keeps the mapping alive as long as `ptr` is used.
    _map: Arc<Mmap>,
    /// The same weight pre-laid-out for the tiled kernels, when the tile
    /// file has it: then the blocks above are never read on CPU.
    tiles: Option<Tiles>,
}

// SAFETY: the mapping is read-only and shared; `ptr` points into `_map`,
// which this struct keeps alive.
unsafe impl Send for MappedWeight {}
unsafe impl Sync for MappedWeight {}

impl MappedWeight {
    pub fn new(t: &TensorRef<'_>, map: &Arc<Mmap>) -> Result<Self> {
        // candle reports GGUF dims outermost first: [rows, cols].
        let (rows, cols) = match t.dims.as_slice() {
            [r, c] => (*r, *c),
            [c] => (1, *c),
            d => {
                return Err(Error::model(format!(
                    "expected a 2-D weight, got dims {d:?}"
                )))
            }
        };
        let align = with_block_type!(t.dtype, T => std::mem::align_of::<T>());
        if !(t.bytes.as_ptr() as usize).is_multiple_of(align) {
            return Err(Error::model("model tensor data is misaligned in the file"));
        }
        if cols % t.dtype.block_size() != 0 {
            return Err(Error::model(format!(
                "weight row of {cols} values is not a whole number of {:?} blocks",
                t.dtype
            )));
        }
        Ok(MappedWeight {
            dtype: t.dtype,
            rows,
            cols,
            ptr: t.bytes.as_ptr(),
            len: t.bytes.len(),
            _map: map.clone(),
            tiles: None,
        })
    }

    /// Uses `tiles` for the matmul (checked against this weight's type and
    /// shape by `TileSet::get`).
    /// Whether the tiled kernels serve this weight: several rows then cost
    /// little more than one.
    pub fn is_tiled(&self) -> bool {
        self.tiles.is_some()
    }

    pub fn with_tiles(mut self, tiles: Option<Tiles>) -> Self {
        self.tiles = tiles;
        self
    }

    pub fn dtype(&self) -> GgmlDType {
        self.dtype
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    fn blocks<T>(&self) -> &[T] {
        // SAFETY: alignment was checked in `new`, the length is the tensor's
        // byte size, and the block types are plain old data.
        unsafe {
            std::slice::from_raw_parts(self.ptr as *const T, self.len / std::mem::size_of::<T>())
        }
    }

    /// Dequantizes the rows `ids` into `out` (ids.len() × cols): the embedding
    /// lookup, without ever materialising the whole table as f32.
    pub fn gather_rows(&self, ids: &[u32], out: &mut [f32]) -> Result<()> {
        let cols = self.cols;
        for (i, &id) in ids.iter().enumerate() {
            let id = id as usize;
            if id >= self.rows {
                return Err(Error::other(format!(
                    "token id {id} is outside the vocabulary"
                )));
            }
            let dst = &mut out[i * cols..(i + 1) * cols];
            with_block_type!(self.dtype, T => {
                let per_row = cols / T::BLCK_SIZE;
                T::to_float(&self.blocks::<T>()[id * per_row..(id + 1) * per_row], dst);
            });
        }
        Ok(())
    }

    /// A device copy for candle's own quantized matmul (GPU backends).
    pub fn to_qmatmul(&self, device: &Device) -> Result<QMatMul> {
        // SAFETY: see `blocks`.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        let storage = QStorage::from_data(Cow::Borrowed(bytes), device, self.dtype)?;
        let qt = QTensor::new(storage, (self.rows, self.cols))?;
        Ok(QMatMul::from_qtensor(qt)?)
    }
}

impl CustomOp1 for MappedWeight {
    fn name(&self) -> &'static str {
        "mapped-qmatmul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.matmul(storage, layout, None)
    }
}

/// A weight's matmul that skips the groups of 16 rows `live` does not mark
/// (the output head restricted to the tokens an answer may hold), where
/// its kernel can: their outputs are -inf or computed anyway.
struct LiveRows<'a> {
    w: &'a MappedWeight,
    live: &'a [bool],
}

impl CustomOp1 for LiveRows<'_> {
    fn name(&self) -> &'static str {
        "mapped-qmatmul-live-rows"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.w.matmul(storage, layout, Some(self.live))
    }
}

impl MappedWeight {
    fn matmul(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
        live: Option<&[bool]>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let xs = match storage {
            CpuStorage::F32(v) => v,
            _ => candle_core::bail!("mapped-qmatmul expects f32 activations"),
        };
        let xs = match layout.contiguous_offsets() {
            Some((a, b)) => &xs[a..b],
            None => candle_core::bail!("mapped-qmatmul expects contiguous activations"),
        };
        let dims = layout.shape().dims();
        let k = *dims.last().unwrap_or(&0);
        if k != self.cols {
            candle_core::bail!(
                "mapped-qmatmul: input has {k} columns, weight {}",
                self.cols
            );
        }
        let m = xs.len() / k;
        let n = self.rows;
        let mut dst = vec![0f32; m * n];
        // Our own kernels where candle's are slow (see kernels/).
        #[cfg(target_arch = "x86_64")]
        let done = match &self.tiles {
            Some(t) => {
                super::kernels::tiles::matmul(t.kind, t.bytes(), m, k, n, xs, &mut dst, live)
            }
            None => false,
        };
        #[cfg(target_arch = "x86_64")]
        let done = done
            || match self.dtype {
                GgmlDType::Q5_0 => {
                    super::kernels::q5_0::matmul(m, k, n, xs, self.blocks(), &mut dst)
                }
                GgmlDType::Q4K => super::kernels::q4k::matmul(m, k, n, xs, self.blocks(), &mut dst),
                GgmlDType::Q6K => super::kernels::q6k::matmul(m, k, n, xs, self.blocks(), &mut dst),
                _ => false,
            };
        #[cfg(not(target_arch = "x86_64"))]
        let done = false;
        if !done {
            with_block_type!(self.dtype, T => vec_dot_matmul::<T>(m, k, n, xs, self.blocks::<T>(), &mut dst, live));
        }
        let mut out_dims = dims.to_vec();
        if let Some(last) = out_dims.last_mut() {
            *last = n;
        }
        Ok((CpuStorage::F32(dst), Shape::from(out_dims)))
    }
}

/// `dst[m×n] = xs[m×k] · wᵀ` with candle's per-block dot products, threaded
/// on rayon's pool like the rest of the forward pass. candle's own `matmul`
/// runs on a second, spinning thread pool: on a 2-core machine its workers
/// spin on the cores rayon's workers need (half the samples of a profiled
/// request were spent in its barrier).
/// Rows in groups of 16 that `live` does not mark are skipped and -inf
/// (weights without tiles: no tile file yet, or a CPU without AVX2).
fn vec_dot_matmul<T: GgmlType + Sync>(
    m: usize,
    k: usize,
    n: usize,
    xs: &[f32],
    w: &[T],
    dst: &mut [f32],
    live: Option<&[bool]>,
) {
    let dead = |c: usize| live.is_some_and(|l| l.get(c / TILE_N) == Some(&false));
    use rayon::prelude::*;
    let kb = k / T::BLCK_SIZE;
    let mut q = vec![T::VecDotType::zeros(); m * kb];
    for (row, out) in xs.chunks_exact(k).zip(q.chunks_exact_mut(kb)) {
        T::VecDotType::from_float(row, out);
    }
    let weight = |c: usize| &w[c * kb..(c + 1) * kb];
    // Enough chunks for rayon to balance, few enough to keep dispatch cheap.
    let chunk = (n / (8 * rayon::current_num_threads().max(1))).clamp(16, 512) & !3;
    if m == 1 {
        dst.par_chunks_mut(chunk).enumerate().for_each(|(i, out)| {
            let first = i * chunk;
            let mut j = 0;
            while j + 4 <= out.len() {
                let c = first + j;
                // Four rows from a multiple of 4 lie in one group of 16.
                if dead(c) {
                    out[j..j + 4].fill(f32::NEG_INFINITY);
                    j += 4;
                    continue;
                }
                let (a, b, e, f) = T::vec_dot_4(
                    k,
                    weight(c),
                    weight(c + 1),
                    weight(c + 2),
                    weight(c + 3),
                    &q,
                );
                out[j..j + 4].copy_from_slice(&[a, b, e, f]);
                j += 4;
            }
            for (o, c) in out[j..].iter_mut().zip(first + j..) {
                *o = if dead(c) {
                    f32::NEG_INFINITY
                } else {
                    T::vec_dot(k, weight(c), &q)
                };
            }
        });
        return;
    }
    // Column-major while threaded (each worker owns whole columns), so a
    // weight row is read once for all activation rows.
    let mut cols = vec![0f32; n * m];
    cols.par_chunks_mut(m * chunk)
        .enumerate()
        .for_each(|(i, out)| {
            for (j, col) in out.chunks_exact_mut(m).enumerate() {
                if dead(i * chunk + j) {
                    col.fill(f32::NEG_INFINITY);
                    continue;
                }
                let wr = weight(i * chunk + j);
                for (r, o) in col.iter_mut().enumerate() {
                    *o = T::vec_dot(k, wr, &q[r * kb..(r + 1) * kb]);
                }
            }
        });
    for r in 0..m {
        for c in 0..n {
            dst[r * n + c] = cols[c * m + r];
        }
    }
}

/// A linear layer without bias, on whichever device the model runs.
pub enum QLinear {
    Mapped(MappedWeight),
    Device(QMatMul),
}

impl QLinear {
    pub fn new(w: MappedWeight, device: &Device) -> Result<Self> {
        Ok(match device {
            Device::Cpu => QLinear::Mapped(w),
            _ => QLinear::Device(w.to_qmatmul(device)?),
        })
    }

    /// Whether a few rows at once cost little more than one (tiled kernels
    /// on CPU; GPU kernels always batch).
    pub fn batches_cheaply(&self) -> bool {
        match self {
            QLinear::Mapped(w) => w.is_tiled(),
            QLinear::Device(_) => true,
        }
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            QLinear::Mapped(w) => x.apply_op1_no_bwd(w),
            QLinear::Device(m) => m.forward(x),
        }
    }

    /// As `forward`, computing only the groups of 16 rows that `live`
    /// marks where the kernel can skip rows (tiles, candle's per-row dot
    /// products; elsewhere all of them): the rest may hold anything, and
    /// the caller masks them.
    pub fn forward_live(&self, x: &Tensor, live: Option<&[bool]>) -> candle_core::Result<Tensor> {
        match (self, live) {
            (QLinear::Mapped(w), Some(live)) => x.apply_op1_no_bwd(&LiveRows { w, live }),
            _ => self.forward(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect()
    }

    fn matches_candle<T: GgmlType + Sync>(m: usize, k: usize, n: usize) {
        let mut w = vec![T::zeros(); n * k / T::BLCK_SIZE];
        T::from_float(&random(n * k, 7), &mut w);
        let xs = random(m * k, 11);
        let mut want = vec![0f32; m * n];
        candle_core::quantized::k_quants::matmul::<T>((m, k, n), &xs, &w, &mut want).unwrap();
        let mut got = vec![0f32; m * n];
        vec_dot_matmul::<T>(m, k, n, &xs, &w, &mut got, None);
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
        }
        // Groups of 16 rows not live are -inf, the others as computed in full.
        let live: Vec<bool> = (0..n.div_ceil(TILE_N)).map(|g| g % 3 != 1).collect();
        let mut some = vec![0f32; m * n];
        vec_dot_matmul::<T>(m, k, n, &xs, &w, &mut some, Some(&live));
        for (i, (s, g)) in some.iter().zip(&got).enumerate() {
            if live[(i % n) / TILE_N] {
                assert_eq!(s, g);
            } else {
                assert_eq!(*s, f32::NEG_INFINITY);
            }
        }
    }

    #[test]
    fn threaded_vec_dot_matmul_matches_candles_matmul() {
        // Decode (one row) and prefill (several), with column counts that
        // leave partial chunks and a tail of fewer than four columns.
        for (m, n) in [(1, 1030), (1, 7), (3, 257), (6, 64)] {
            matches_candle::<BlockQ6K>(m, 512, n);
            matches_candle::<BlockQ4K>(m, 512, n);
            matches_candle::<BlockQ8_0>(m, 64, n);
            matches_candle::<f32>(m, 24, n);
        }
    }
}
