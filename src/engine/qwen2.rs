//! The Qwen2 transformer, forward pass only, with an explicit KV cache that
//! the prefix cache can save and restore (candle-transformers keeps its own
//! cache private, which rules out reusing a prefilled system prompt).

use crate::engine::attention;
use crate::engine::gguf::Gguf;
use crate::engine::qmatmul::{MappedWeight, QLinear};
use crate::engine::tiles::{TileSet, TILE_N};
use crate::error::{Error, Result};
use candle_core::{CpuStorage, DType, Device, Storage, Tensor, D};
use std::sync::OnceLock;

/// Positions cmdai ever uses: prompt, request and answer.
pub const MAX_CONTEXT: usize = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub hidden: usize,
    pub context: usize,
    pub rms_eps: f32,
    pub rope_theta: f32,
}

impl Config {
    pub fn from_gguf(g: &Gguf) -> Result<Self> {
        let arch = g.string("general.architecture")?;
        if arch != "qwen2" {
            return Err(Error::model(format!(
                "model architecture is `{arch}`; cmdai runs Qwen2 models"
            )));
        }
        let hidden = g.usize("qwen2.embedding_length")?;
        let n_head = g.usize("qwen2.attention.head_count")?;
        if n_head == 0 || hidden % n_head != 0 {
            return Err(Error::model("model metadata has an invalid head count"));
        }
        let n_kv_head = g.usize("qwen2.attention.head_count_kv")?;
        if n_kv_head == 0 || n_head % n_kv_head != 0 {
            return Err(Error::model("model metadata has an invalid KV head count"));
        }
        Ok(Config {
            n_layer: g.usize("qwen2.block_count")?,
            n_head,
            n_kv_head,
            head_dim: hidden / n_head,
            hidden,
            // A shell command needs a short context; bounding it keeps the
            // rotary tables (built per process) small.
            context: g.usize("qwen2.context_length")?.min(MAX_CONTEXT),
            rms_eps: g.f32("qwen2.attention.layer_norm_rms_epsilon")?,
            rope_theta: g.f32("qwen2.rope.freq_base").unwrap_or(1_000_000.0),
        })
    }
}

struct Layer {
    attn_norm: Tensor,
    q: QLinear,
    k: QLinear,
    v: QLinear,
    q_bias: Tensor,
    k_bias: Tensor,
    v_bias: Tensor,
    o: QLinear,
    ffn_norm: Tensor,
    gate: QLinear,
    up: QLinear,
    down: QLinear,
}

pub struct Model {
    pub config: Config,
    pub device: Device,
    embed: MappedWeight,
    layers: Vec<Layer>,
    norm: Tensor,
    output: QLinear,
    /// Per tile of 16 output-head rows: whether any token in it may be
    /// generated (see `restrict_output`). None: every row is computed.
    live_rows: Option<Vec<bool>>,
    cos: Tensor,
    sin: Tensor,
}

/// Keys and values of every layer for the tokens seen so far.
///
/// Each buffer is `(n_kv_head, capacity, head_dim)` and only the first `len`
/// positions are used: a token's keys are written in place, where
/// concatenating would copy the whole cache once per layer and token (with
/// a 3,000-token prefix, 160 MB per decoded token).
pub struct KvCache {
    pub layers: Vec<(Tensor, Tensor)>,
    pub len: usize,
}

impl KvCache {
    pub fn empty(c: &Config, device: &Device) -> Result<Self> {
        Self::with_capacity(c, 0, device)
    }

    pub fn with_capacity(c: &Config, capacity: usize, device: &Device) -> Result<Self> {
        let buffer = || Tensor::zeros((c.n_kv_head, capacity, c.head_dim), DType::F32, device);
        Ok(KvCache {
            layers: (0..c.n_layer)
                .map(|_| Ok((buffer()?, buffer()?)))
                .collect::<candle_core::Result<_>>()?,
            len: 0,
        })
    }

    pub fn device(&self) -> candle_core::Result<Device> {
        match self.layers.first() {
            Some((k, _)) => Ok(k.device().clone()),
            None => Err(candle_core::Error::Msg("a cache without layers".into())),
        }
    }

    /// Appends positions given per layer as `(K, V)`, `(n_kv_head, m,
    /// head_dim)` each: a stored segment's.
    pub fn append(&mut self, layers: &[(Tensor, Tensor)]) -> candle_core::Result<()> {
        if layers.len() != self.layers.len() {
            return Err(candle_core::Error::Msg("a segment of another model".into()));
        }
        let m = layers.first().map_or(Ok(0), |(k, _)| k.dim(1))?;
        self.reserve(m)?;
        for (l, (k, v)) in layers.iter().enumerate() {
            self.write(l, k, v)?;
        }
        self.len += m;
        Ok(())
    }

    /// Positions that fit without growing.
    pub fn capacity(&self) -> usize {
        self.layers
            .first()
            .map_or(0, |(k, _)| k.dim(1).unwrap_or(0))
    }

    /// Forgets the positions from `len` on (drafted tokens the model did
    /// not agree with): they are overwritten by the next write, and `reserve`
    /// only keeps the first `len` when it grows.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Room for `more` positions after `len` in every layer, growing by at
    /// least half so that appends stay amortised O(1).
    fn reserve(&mut self, more: usize) -> candle_core::Result<()> {
        let need = self.len + more;
        let cap = self.capacity();
        if need <= cap {
            return Ok(());
        }
        let new_cap = need.max(cap + cap / 2).max(64);
        for (k, v) in &mut self.layers {
            for t in [k, v] {
                let (n, _, hd) = t.dims3()?;
                let grown = Tensor::zeros((n, new_cap, hd), t.dtype(), t.device())?;
                if self.len > 0 {
                    grown.slice_set(&t.narrow(1, 0, self.len)?.contiguous()?, 1, 0)?;
                }
                *t = grown;
            }
        }
        Ok(())
    }

    /// The used part of layer `l`'s keys and values, after writing the new
    /// `k`, `v` (`(n_kv_head, m, head_dim)`) at `len`. `len` moves on once
    /// every layer has written (see `advance`).
    fn write(&mut self, l: usize, k: &Tensor, v: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let m = k.dim(1)?;
        let (kb, vb) = &self.layers[l];
        kb.slice_set(k, 1, self.len)?;
        vb.slice_set(v, 1, self.len)?;
        Ok((
            kb.narrow(1, 0, self.len + m)?,
            vb.narrow(1, 0, self.len + m)?,
        ))
    }
}

fn small_f32(g: &Gguf, name: &str, device: &Device) -> Result<Tensor> {
    let t = g.tensor(name)?;
    let n: usize = t.dims.iter().product();
    let mut out = vec![0f32; n];
    // Norm weights and biases are f32 in practice; dequantize anything else.
    MappedWeight::new(&t, &g.map)?.gather_rows(&[0], &mut out)?;
    Ok(Tensor::from_vec(out, n, device)?)
}

impl Model {
    /// The model in `g`, its matmuls on `tiles` where the tile file has them.
    pub fn load(g: &Gguf, device: &Device, tiles: Option<&TileSet>) -> Result<Self> {
        let config = Config::from_gguf(g)?;
        let linear = |name: &str| -> Result<QLinear> {
            let w = MappedWeight::new(&g.tensor(name)?, &g.map)?;
            let t = tiles.and_then(|s| s.get(name, w.dtype(), w.rows(), w.cols()));
            QLinear::new(w.with_tiles(t), device)
        };
        let mut layers = Vec::with_capacity(config.n_layer);
        for i in 0..config.n_layer {
            let p = format!("blk.{i}");
            layers.push(Layer {
                attn_norm: small_f32(g, &format!("{p}.attn_norm.weight"), device)?,
                q: linear(&format!("{p}.attn_q.weight"))?,
                k: linear(&format!("{p}.attn_k.weight"))?,
                v: linear(&format!("{p}.attn_v.weight"))?,
                q_bias: small_f32(g, &format!("{p}.attn_q.bias"), device)?,
                k_bias: small_f32(g, &format!("{p}.attn_k.bias"), device)?,
                v_bias: small_f32(g, &format!("{p}.attn_v.bias"), device)?,
                o: linear(&format!("{p}.attn_output.weight"))?,
                ffn_norm: small_f32(g, &format!("{p}.ffn_norm.weight"), device)?,
                gate: linear(&format!("{p}.ffn_gate.weight"))?,
                up: linear(&format!("{p}.ffn_up.weight"))?,
                down: linear(&format!("{p}.ffn_down.weight"))?,
            });
        }
        let embed = MappedWeight::new(&g.tensor("token_embd.weight")?, &g.map)?;
        if embed.cols() != config.hidden {
            return Err(Error::model(
                "token embedding width does not match the model",
            ));
        }
        // Small Qwen2 models tie the output head to the embedding table.
        let output = if g.has_tensor("output.weight") {
            linear("output.weight")?
        } else {
            QLinear::new(embed.clone(), device)?
        };
        let (cos, sin) = rope_tables(&config, device)?;
        Ok(Model {
            norm: small_f32(g, "output_norm.weight", device)?,
            config,
            device: device.clone(),
            embed,
            layers,
            output,
            live_rows: None,
            cos,
            sin,
        })
    }

    /// Skips the output head's tiles in which `allowed` (per token id)
    /// marks no token, or stops skipping (None). Their logits are then
    /// garbage or -inf: the caller masks every token it did not allow.
    pub fn restrict_output(&mut self, allowed: Option<&[bool]>) {
        self.live_rows = allowed.map(|a| {
            let n = self.output_rows();
            (0..n.div_ceil(TILE_N))
                .map(|t| (t * TILE_N..((t + 1) * TILE_N).min(n)).any(|id| a.get(id) == Some(&true)))
                .collect()
        });
    }

    /// The output head's rows: the vocabulary, padded.
    pub fn output_rows(&self) -> usize {
        self.embed.rows()
    }

    /// Whether checking drafted tokens pays: a pass over several rows must
    /// cost little more than one. The output head (151,936 rows) is the
    /// telling weight: untiled (the 0.5B model, whose head is its embedding
    /// table) each extra row costs a whole pass, and speculation measured
    /// slower (p50 1264 vs 1083 ms).
    pub fn checks_are_cheap(&self) -> bool {
        self.output.batches_cheaply()
    }

    /// Runs `tokens` at positions `cache.len..`, extends the cache, and returns
    /// the logits of the last token (a `vocab` vector).
    ///
    /// On a worker of cmdai's rayon pool: called from outside the pool, each
    /// of the hundred parallel ops per token would wake the pool and block
    /// on it; from a worker they split their work inline.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        Ok(self
            .on_pool(|| self.forward_here(tokens, cache, Logits::Last))?
            .squeeze(0)?)
    }

    /// As `forward`, returning the logits of every position (`m × vocab`):
    /// for checking several drafted tokens in one pass.
    pub fn forward_all(&self, tokens: &[u32], cache: &mut KvCache) -> Result<Tensor> {
        self.on_pool(|| self.forward_here(tokens, cache, Logits::All))
    }

    fn on_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
        match POOL.get_or_init(|| rayon::ThreadPoolBuilder::new().build().ok()) {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    fn forward_here(&self, tokens: &[u32], cache: &mut KvCache, want: Logits) -> Result<Tensor> {
        let c = &self.config;
        let m = tokens.len();
        let pos = cache.len;
        if m == 0 {
            return Err(Error::other("nothing to run the model on"));
        }
        if pos + m > c.context {
            return Err(Error::usage(format!(
                "the request is too long for the model ({} tokens, limit {})",
                pos + m,
                c.context
            )));
        }
        let mut rows = vec![0f32; m * c.hidden];
        self.embed.gather_rows(tokens, &mut rows)?;
        let mut x = Tensor::from_vec(rows, (m, c.hidden), &self.device)?;
        let cos = self.cos.narrow(0, pos, m)?;
        let sin = self.sin.narrow(0, pos, m)?;
        let mask = causal_mask(m, pos, c.n_head / c.n_kv_head, &self.device)?;
        cache.reserve(m)?;
        for (l, layer) in self.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, c.rms_eps)?;
            let attn = self.attention(layer, &h, (&cos, &sin), mask.as_ref(), cache, l)?;
            x = (x + attn)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, c.rms_eps)?;
            let gate = candle_nn::ops::silu(&layer.gate.forward(&h)?)?;
            let up = layer.up.forward(&h)?;
            x = (x + layer.down.forward(&(gate * up)?)?)?;
        }
        cache.len += m;
        // A prompt's logits are only wanted at its last position: skip the
        // vocab projection (the largest matmul) for the rest.
        let x = match want {
            Logits::Last => x.narrow(0, m - 1, 1)?,
            Logits::All => x,
        };
        let x = candle_nn::ops::rms_norm(&x, &self.norm, c.rms_eps)?;
        let logits = self.output.forward_live(&x, self.live_rows.as_deref())?;
        // On an H200, candle 0.11's CUDA backend let the logits be read back
        // before the output head's kernel had finished: with the 0.5B model's
        // 151,936-row head, decoding read garbage (`[PAD151813]` tokens, an
        // illegal address once). Waiting here made every pass match the CPU
        // (tests/cuda.rs), as did CUDA_LAUNCH_BLOCKING=1; it costs one wait
        // per pass.
        if !self.device.is_cpu() {
            self.device.synchronize()?;
        }
        Ok(logits)
    }

    fn attention(
        &self,
        l: &Layer,
        h: &Tensor,
        (cos, sin): (&Tensor, &Tensor),
        mask: Option<&Tensor>,
        cache: &mut KvCache,
        layer: usize,
    ) -> Result<Tensor> {
        let c = &self.config;
        let m = h.dim(0)?;
        let heads = |t: Tensor, n: usize| -> candle_core::Result<Tensor> {
            t.reshape((m, n, c.head_dim))?.transpose(0, 1)?.contiguous()
        };
        let q = heads(l.q.forward(h)?.broadcast_add(&l.q_bias)?, c.n_head)?;
        let k = heads(l.k.forward(h)?.broadcast_add(&l.k_bias)?, c.n_kv_head)?;
        let v = heads(l.v.forward(h)?.broadcast_add(&l.v_bias)?, c.n_kv_head)?;
        let q = candle_nn::rotary_emb::rope(&q.unsqueeze(0)?, cos, sin)?.squeeze(0)?;
        let k = candle_nn::rotary_emb::rope(&k.unsqueeze(0)?, cos, sin)?.squeeze(0)?;
        let (keys, values) = cache.write(layer, &k.contiguous()?, &v)?;
        if let Some(out) = self.attend_few(&q, &keys, &values)? {
            return Ok(l.o.forward(&out)?);
        }
        // Grouped-query attention without copying K/V per head: the query
        // heads that share a KV head are stacked along the row axis.
        let groups = c.n_head / c.n_kv_head;
        let q = q.reshape((c.n_kv_head, groups * m, c.head_dim))?;
        let scale = 1.0 / (c.head_dim as f64).sqrt();
        let mut att = (q.matmul(&keys.t()?)? * scale)?;
        if let Some(mask) = mask {
            att = att.broadcast_add(mask)?;
        }
        let att = candle_nn::ops::softmax_last_dim(&att)?;
        let out = att.matmul(&values)?; // (n_kv, groups*m, hd)
        let out = out
            .reshape((c.n_head, m, c.head_dim))?
            .transpose(0, 1)?
            .reshape((m, c.hidden))?;
        Ok(l.o.forward(&out)?)
    }
}

impl Model {
    /// Attention for up to `attention::max_rows` new rows with cmdai's CPU
    /// kernel, reading the cache buffers in place; None where it does not
    /// apply (other devices, long prompts), for candle's matmuls to run.
    fn attend_few(&self, q: &Tensor, keys: &Tensor, values: &Tensor) -> Result<Option<Tensor>> {
        let c = &self.config;
        let rows = q.dim(1)?;
        if !self.device.is_cpu() || rows > attention::max_rows(c.head_dim) {
            return Ok(None);
        }
        let len = keys.dim(1)?;
        let q = q.flatten_all()?.to_vec1::<f32>()?;
        let (ks, kl) = keys.storage_and_layout();
        let (vs, vl) = values.storage_and_layout();
        let (Storage::Cpu(CpuStorage::F32(k)), Storage::Cpu(CpuStorage::F32(v))) = (&*ks, &*vs)
        else {
            return Ok(None);
        };
        // The cache's buffers (views of one allocation, see
        // `prefix_cache`): heads `kv_stride` apart, positions packed.
        let kv_stride = kl.stride()[0];
        if kl.stride() != vl.stride() || kl.stride()[1..] != [c.head_dim, 1] {
            return Ok(None);
        }
        let (k, v) = (&k[kl.start_offset()..], &v[vl.start_offset()..]);
        let shape = attention::Shape {
            n_head: c.n_head,
            n_kv_head: c.n_kv_head,
            head_dim: c.head_dim,
            rows,
            pos: len - rows,
            kv_stride,
        };
        let scale = 1.0 / (c.head_dim as f32).sqrt();
        let out = attention::attend(shape, &q, k, v, scale);
        Ok(Some(Tensor::from_vec(out, (rows, c.hidden), &self.device)?))
    }
}

#[derive(Clone, Copy)]
enum Logits {
    Last,
    All,
}

/// Additive mask for `m` new queries at `pos..` over `pos + m` keys, repeated
/// for the `groups` query heads stacked per KV head. None for a single token.
fn causal_mask(m: usize, pos: usize, groups: usize, device: &Device) -> Result<Option<Tensor>> {
    if m == 1 {
        return Ok(None);
    }
    let total = pos + m;
    let mut data = Vec::with_capacity(groups * m * total);
    for _ in 0..groups {
        for i in 0..m {
            data.extend((0..total).map(|j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 }));
        }
    }
    Ok(Some(Tensor::from_vec(data, (groups * m, total), device)?))
}

fn rope_tables(c: &Config, device: &Device) -> Result<(Tensor, Tensor)> {
    let half = c.head_dim / 2;
    let inv: Vec<f32> = (0..half)
        .map(|i| 1.0 / c.rope_theta.powf(2.0 * i as f32 / c.head_dim as f32))
        .collect();
    let mut cos = Vec::with_capacity(c.context * half);
    let mut sin = Vec::with_capacity(c.context * half);
    for p in 0..c.context {
        for f in &inv {
            let a = p as f32 * f;
            cos.push(a.cos());
            sin.push(a.sin());
        }
    }
    Ok((
        Tensor::from_vec(cos, (c.context, half), device)?,
        Tensor::from_vec(sin, (c.context, half), device)?,
    ))
}

/// The argmax of a logits vector.
pub fn argmax(logits: &Tensor) -> Result<u32> {
    Ok(logits.argmax(D::Minus1)?.to_scalar::<u32>()?)
}
