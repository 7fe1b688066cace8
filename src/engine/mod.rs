//! Running the model: the memory-mapped GGUF, its tokenizer, the Qwen2
//! forward pass, and the cached prompt prefix.

mod attention;
mod decode;
pub mod gguf;
#[cfg(target_arch = "x86_64")]
mod kernels;
pub mod prefix_cache;
pub mod qmatmul;
pub mod qwen2;
pub mod sample;
pub mod speculate;
pub mod tiles;
pub mod tokenizer;

use crate::error::{Error, Result};
use crate::prompt::Prompt;
use candle_core::Device;
use decode::Answer;
pub use decode::Choice;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct Engine {
    model: qwen2::Model,
    tokenizer: Pending<tokenizer::Tokenizer>,
    /// Identifies the weights for the prefix cache (sha256 for catalog
    /// models, a file fingerprint otherwise).
    model_id: String,
    pub load_ms: f64,
    /// Whether the matmuls run on the tile file, and how long opening (or
    /// building) it took.
    pub tiles: TilesUsed,
    pub tiles_ms: f64,
}

/// Where a model's pre-laid-out weights (`tiles`) live, and whether this
/// call may spend seconds building them when they are missing.
pub struct TilesAt {
    pub path: PathBuf,
    pub may_build: bool,
    /// Say so on stderr before building (not where the caller reports its
    /// own progress).
    pub announce: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilesUsed {
    /// Mapped from the file.
    Hit,
    /// Built by this call, then mapped.
    Built,
    /// Not used: not asked for, not supported here, or missing.
    Off,
}

/// A value built on another thread, waited for where first needed.
enum Pending<T> {
    Building(std::thread::JoinHandle<Result<T>>),
    Ready(T),
    Failed,
}

impl<T> Pending<T> {
    fn get(&mut self) -> Result<&mut T> {
        if matches!(self, Pending::Building(_)) {
            if let Pending::Building(handle) = std::mem::replace(self, Pending::Failed) {
                let built = handle
                    .join()
                    .unwrap_or_else(|_| Err(Error::model("building the tokenizer crashed")))?;
                *self = Pending::Ready(built);
            }
        }
        match self {
            Pending::Ready(v) => Ok(v),
            _ => Err(Error::model("the tokenizer could not be built")),
        }
    }
}

pub struct GenOptions {
    pub max_tokens: usize,
    pub temperature: f64,
    pub seed: u64,
    /// Where the prefix KV cache lives; None disables it.
    pub cache_dir: Option<PathBuf>,
    /// False: fail with `Kind::NotReady` rather than prefill a missing
    /// prefix cache (the widget must not block the shell for that long).
    pub may_build_prefix: bool,
    /// Answer tokens to take as given before decoding: an earlier answer's
    /// start and a runner-up token, to reach a different answer (see
    /// `alternatives`). They are prefilled with the request, so a branch
    /// costs about as much as the first answer.
    pub forced: Vec<u32>,
}

#[derive(Debug, Default, Clone)]
pub struct Timings {
    pub load_ms: f64,
    pub tokenize_ms: f64,
    pub prefix_ms: f64,
    /// The turn's shared part (the listing): loaded, or prefilled and saved.
    pub shared_ms: f64,
    pub prefill_ms: f64,
    pub decode_ms: f64,
}

pub struct Generation {
    pub text: String,
    pub timings: Timings,
    pub prefix_tokens: usize,
    pub request_tokens: usize,
    pub generated_tokens: usize,
    pub prefix_cache: PrefixCache,
    /// The directory listing's part of the turn: None when there is none.
    pub shared_cache: Option<PrefixCache>,
    /// The answer's tokens, forced ones included.
    pub tokens: Vec<u32>,
    /// Runner-up tokens at each greedily decoded step (none when sampling).
    pub choices: Vec<Choice>,
    /// How the drafts fared (all zero when sampling or switched off).
    pub speculation: speculate::Stats,
}

pub fn select_device(name: &str) -> Result<Device> {
    let unavailable = |what: &str, feature: &str| {
        Error::usage(format!(
            "{what} is not available in this build; rebuild with `--features {feature}` or use --device cpu"
        ))
    };
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" if cfg!(feature = "cuda") => Device::new_cuda(0).map_err(|e| {
            Error::other(format!(
                "cannot open the CUDA device ({}): check the NVIDIA driver, or use --device cpu",
                crate::error::one_line(&e.to_string())
            ))
        }),
        "cuda" => Err(unavailable("CUDA", "cuda")),
        "metal" if cfg!(feature = "metal") => Device::new_metal(0).map_err(|e| {
            Error::other(format!(
                "cannot open the Metal device ({}): use --device cpu",
                crate::error::one_line(&e.to_string())
            ))
        }),
        "metal" => Err(unavailable("Metal", "metal")),
        "auto" => {
            if cfg!(feature = "cuda") {
                if let Ok(d) = Device::new_cuda(0) {
                    return Ok(d);
                }
            }
            if cfg!(feature = "metal") {
                if let Ok(d) = Device::new_metal(0) {
                    return Ok(d);
                }
            }
            Ok(Device::Cpu)
        }
        other => Err(Error::usage(format!(
            "unknown device `{other}`: use auto, cpu, metal or cuda"
        ))),
    }
}

impl Engine {
    /// Where the model runs: "cpu", "cuda" or "metal".
    pub fn device_name(&self) -> &'static str {
        match &self.model.device {
            Device::Cpu => "cpu",
            Device::Cuda(_) => "cuda",
            Device::Metal(_) => "metal",
        }
    }

    /// Maps the model at `path`, and its tile file where `tiles` says (CPU
    /// only: other devices upload the GGUF's blocks).
    pub fn load(
        path: &Path,
        model_id: String,
        device: &Device,
        tiles: Option<&TilesAt>,
    ) -> Result<Self> {
        let start = Instant::now();
        let gguf = std::sync::Arc::new(gguf::Gguf::open(path)?);
        // The tokenizer's tables (~6-9 ms) are built while the tile file
        // opens and the prompt cache loads, which need no tokens.
        let for_tokenizer = gguf.clone();
        let tokenizer = Pending::Building(std::thread::spawn(move || {
            tokenizer::Tokenizer::from_gguf(&for_tokenizer)
        }));
        let tiles_start = Instant::now();
        let mut built = false;
        let tile_set = match tiles {
            Some(at) if device.is_cpu() => {
                tiles::open_or_build(&gguf, &model_id, &at.path, at.may_build, &mut || {
                    built = true;
                    if at.announce {
                        eprintln!("cmdai: laying out the model's weights for fast prompts (once, a few seconds)");
                    }
                })
            }
            _ => None,
        };
        let tiles_ms = ms(tiles_start);
        // Before the model reads it: with most weights in the tile file,
        // the GGUF is read in rows (embeddings, norms), else whole.
        let dense = tile_set
            .as_ref()
            .is_none_or(|set| set.file_len() < gguf.map.len() / 2);
        crate::fsutil::prefer_huge_pages(&gguf.map, dense);
        let model = qwen2::Model::load(&gguf, device, tile_set.as_ref())?;
        Ok(Engine {
            model,
            tokenizer,
            model_id,
            load_ms: ms(start),
            tiles: match (&tile_set, built) {
                (None, _) => TilesUsed::Off,
                (Some(_), false) => TilesUsed::Hit,
                (Some(_), true) => TilesUsed::Built,
            },
            tiles_ms,
        })
    }

    /// Runs the prompt and decodes until `done` says the answer is complete,
    /// an end-of-turn token, or `max_tokens`.
    pub fn generate(
        &mut self,
        prompt: &Prompt,
        opts: &GenOptions,
        done: impl Fn(&str) -> bool,
    ) -> Result<Generation> {
        let mut t = Timings {
            load_ms: self.load_ms,
            ..Timings::default()
        };
        let start = Instant::now();
        let (mut cache, cache_state) = self.prefix_cache(&prompt.prefix, opts, &mut |_, _| {})?;
        let prefix_tokens = cache.len;
        t.prefix_ms = ms(start);

        let start = Instant::now();
        let tokenizer = self.tokenizer.get()?;
        let mut encode = |segments: &[crate::prompt::Segment]| -> Result<Vec<u32>> {
            let mut ids = Vec::new();
            for seg in segments {
                match seg {
                    crate::prompt::Segment::Template(s) => {
                        ids.extend(tokenizer.encode_template(s)?)
                    }
                    crate::prompt::Segment::User(s) => ids.extend(tokenizer.encode_plain(s)?),
                }
            }
            Ok(ids)
        };
        let shared = prompt.shared.min(prompt.turn.len());
        let head = encode(&prompt.turn[..shared])?;
        let mut rest = encode(&prompt.turn[shared..])?;
        let allowed = answer_vocabulary(
            tokenizer.plain(),
            self.model.output_rows(),
            head.iter().chain(&rest).chain(&opts.forced),
        );
        self.model.restrict_output(Some(&allowed));
        let stop_ids: Vec<u32> = ["<|im_end|>", "<|endoftext|>"]
            .iter()
            .filter_map(|t| tokenizer.token_id(t))
            .collect();
        // Drafts are looked up in everything the model has seen.
        let speculate =
            opts.temperature <= 0.0 && speculate::enabled() && self.model.checks_are_cheap();
        let drafter = if speculate {
            let mut h = tokenizer.encode_template(&prompt.prefix)?;
            h.extend_from_slice(&head);
            h.extend_from_slice(&rest);
            h.extend_from_slice(&opts.forced);
            let mut barriers = stop_ids.clone();
            barriers.extend(tokenizer.token_id("<|im_start|>"));
            Some(speculate::Drafter::new(h, barriers))
        } else {
            None
        };
        t.tokenize_ms = ms(start);

        let out: Vec<u32> = opts.forced.clone();
        let text = tokenizer.decode(&out)?;
        rest.extend_from_slice(&out);
        let limit = self.model.config.context;
        let prompt_len = cache.len + head.len() + rest.len();
        if prompt_len + opts.max_tokens > limit {
            return Err(Error::usage(format!(
                "the request is too long ({prompt_len} tokens with the prompt; the limit is {}): shorten it",
                limit - opts.max_tokens
            )));
        }
        let start = Instant::now();
        let shared_cache = if head.is_empty() {
            None
        } else {
            let text = segments_text(&prompt.turn[..shared]);
            let at = opts.cache_dir.as_ref().map(|dir| {
                let key = prefix_cache::segment_key(&self.model_id, &prompt.prefix, &text);
                (prefix_cache::segment_path(dir, &key), key)
            });
            Some(shared_turn(&self.model, &head, at, &mut cache)?)
        };
        t.shared_ms = ms(start);
        let start = Instant::now();
        let logits = self.model.forward(&rest, &mut cache)?;
        t.prefill_ms = ms(start);

        let start = Instant::now();
        // Forced tokens may already close the answer.
        let finished = !out.is_empty() && done(&text);
        let mut answer = Answer::new(out, text, finished, opts.max_tokens, stop_ids);
        let mut stats = speculate::Stats::default();
        if opts.temperature > 0.0 {
            self.sample(logits, opts, &allowed, &mut answer, &mut cache, &done)?;
        } else {
            let mut logits = logits.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?;
            mask_logits(&mut logits, &allowed);
            stats = self.greedy(logits, drafter, &allowed, &mut answer, &mut cache, &done)?;
        }
        t.decode_ms = ms(start);
        Ok(Generation {
            text: answer.text,
            timings: t,
            prefix_tokens,
            request_tokens: head.len() + rest.len() - opts.forced.len(),
            shared_cache,
            generated_tokens: answer.generated,
            prefix_cache: cache_state,
            tokens: answer.out,
            choices: answer.choices,
            speculation: stats,
        })
    }

    /// Temperature sampling, one token per pass.
    fn sample(
        &mut self,
        logits: candle_core::Tensor,
        opts: &GenOptions,
        allowed: &[bool],
        answer: &mut Answer,
        cache: &mut qwen2::KvCache,
        done: &impl Fn(&str) -> bool,
    ) -> Result<()> {
        let mut sampler = sample::Sampler::new(opts.temperature, opts.seed);
        let tokenizer = self.tokenizer.get()?;
        let text = |ids: &[u32]| tokenizer.decode(ids);
        let masked = |t: candle_core::Tensor| -> Result<candle_core::Tensor> {
            let mut v = t.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?;
            mask_logits(&mut v, allowed);
            Ok(candle_core::Tensor::new(v, t.device())?)
        };
        let mut logits = masked(logits)?;
        while answer.wants_more() {
            let next = sampler.next(&logits)?;
            if !answer.push(next, &text, done)? || !answer.wants_more() {
                break;
            }
            logits = masked(self.model.forward(&[next], cache)?)?;
        }
        Ok(())
    }

    /// Greedy decoding from the prompt's logits, checking drafts several
    /// per pass where there is a `drafter`.
    fn greedy(
        &mut self,
        logits: Vec<f32>,
        drafter: Option<speculate::Drafter>,
        allowed: &[bool],
        answer: &mut Answer,
        cache: &mut qwen2::KvCache,
        done: &impl Fn(&str) -> bool,
    ) -> Result<speculate::Stats> {
        let tokenizer = self.tokenizer.get()?;
        let text = |ids: &[u32]| tokenizer.decode(ids);
        let model = &self.model;
        let pass = |drop: usize, feed: &[u32]| -> Result<Vec<f32>> {
            cache.truncate(cache.len - drop);
            let logits = if feed.len() == 1 {
                model.forward(feed, cache)?
            } else {
                model.forward_all(feed, cache)?.flatten_all()?
            };
            let mut logits = logits.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?;
            mask_logits(&mut logits, allowed);
            Ok(logits)
        };
        decode::greedy(logits, drafter, answer, &text, done, pass)
    }

    pub fn decode(&mut self, tokens: &[u32]) -> Result<String> {
        self.tokenizer.get()?.decode(tokens)
    }

    /// Builds and saves the prefix's KV cache ahead of the first request,
    /// reporting `(tokens done, total)` as it goes; `Hit` if it was there.
    pub fn prepare(
        &mut self,
        prefix: &str,
        dir: &Path,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<PrefixCache> {
        let opts = GenOptions {
            max_tokens: 1,
            temperature: 0.0,
            seed: 0,
            cache_dir: Some(dir.to_path_buf()),
            may_build_prefix: true,
            forced: Vec::new(),
        };
        Ok(self.prefix_cache(prefix, &opts, progress)?.1)
    }

    /// The prefix's keys and values: from the cache file when there is one
    /// for this model and prefix text (no tokenizer needed, so it loads while
    /// the tokenizer is being built), else prefilled.
    fn prefix_cache(
        &mut self,
        prefix: &str,
        opts: &GenOptions,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<(qwen2::KvCache, PrefixCache)> {
        let c = &self.model.config;
        let device = &self.model.device;
        let Some(dir) = &opts.cache_dir else {
            let tokens = self.tokenizer.get()?.encode_template(prefix)?;
            return Ok((self.prefill(&tokens, progress)?, PrefixCache::Off));
        };
        let key = prefix_cache::cache_key(&self.model_id, prefix);
        let path = prefix_cache::cache_path(dir, &key);
        if let Ok(cache) = prefix_cache::load(&path, &key, c, device) {
            return Ok((cache, PrefixCache::Hit));
        }
        if !opts.may_build_prefix {
            return Err(Error::new(
                crate::error::Kind::NotReady,
                "the prompt cache is not built yet: run `cmdai model prepare`",
            ));
        }
        let tokens = self.tokenizer.get()?.encode_template(prefix)?;
        let cache = self.prefill(&tokens, progress)?;
        // A read-only or full cache dir only costs speed, never the answer.
        let state = match prefix_cache::save(&path, &key, &self.model.config, &cache) {
            Ok(()) => PrefixCache::Built,
            Err(_) => PrefixCache::Unsaved,
        };
        Ok((cache, state))
    }

    /// Runs `tokens` from an empty cache in chunks, so progress can be shown
    /// and the attention scores of a long prefix stay small.
    fn prefill(
        &self,
        tokens: &[u32],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<qwen2::KvCache> {
        const CHUNK: usize = 128;
        let mut cache = qwen2::KvCache::empty(&self.model.config, &self.model.device)?;
        for chunk in tokens.chunks(CHUNK) {
            self.model.forward(chunk, &mut cache)?;
            progress(cache.len, tokens.len());
        }
        Ok(cache)
    }
}

/// The tokens an answer may hold, per id of the output head's `rows`: it
/// is a command, so ASCII tokens and single bytes (`plain`), plus the ones
/// the prompt's turn is made of (`seen`: a name in another script). The
/// head's tiles with none of them are not computed.
fn answer_vocabulary<'a>(
    plain: &[bool],
    rows: usize,
    seen: impl Iterator<Item = &'a u32>,
) -> Vec<bool> {
    let mut allowed = plain.to_vec();
    allowed.resize(rows, false);
    for &id in seen {
        if let Some(a) = allowed.get_mut(id as usize) {
            *a = true;
        }
    }
    allowed
}

/// Sets the logits of tokens `allowed` does not mark to -inf, in each row
/// of a `rows × vocab` block.
fn mask_logits(logits: &mut [f32], allowed: &[bool]) {
    for row in logits.chunks_mut(allowed.len().max(1)) {
        for (x, &ok) in row.iter_mut().zip(allowed) {
            if !ok {
                *x = f32::NEG_INFINITY;
            }
        }
    }
}

/// Appends the keys and values of `head` (the turn's part that is the same
/// for every request in a directory) to `cache`: from its segment file when
/// `at` has one, else run as a pass of its own and saved. Always its own
/// pass, so a request computes the same whether the file was there or not.
fn shared_turn(
    model: &qwen2::Model,
    head: &[u32],
    at: Option<(PathBuf, [u8; 32])>,
    cache: &mut qwen2::KvCache,
) -> Result<PrefixCache> {
    let c = &model.config;
    if let Some((path, key)) = &at {
        if prefix_cache::append_segment(path, key, c, cache).is_ok() {
            return Ok(PrefixCache::Hit);
        }
    }
    let from = cache.len;
    model.forward(head, cache)?;
    let Some((path, key)) = at else {
        return Ok(PrefixCache::Off);
    };
    // A read-only or full cache dir only costs speed, never the answer.
    Ok(
        match prefix_cache::save_segment(&path, &key, c, cache, from) {
            Ok(()) => PrefixCache::Built,
            Err(_) => PrefixCache::Unsaved,
        },
    )
}

/// The segments' text, each marked with its kind (which changes its
/// tokens), for the segment file's key.
fn segments_text(segments: &[crate::prompt::Segment]) -> String {
    segments
        .iter()
        .map(|seg| match seg {
            crate::prompt::Segment::Template(s) => format!("\0T{s}"),
            crate::prompt::Segment::User(s) => format!("\0U{s}"),
        })
        .collect()
}

/// The CPU kernels this machine runs, for benchmarks and bug reports.
pub fn cpu_kernels() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if kernels::vnni() {
            return "AVX-512 VNNI";
        }
        if kernels::available() {
            return "AVX2";
        }
    }
    "candle's"
}

/// Where the prompt prefix's keys and values came from on this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixCache {
    /// Loaded from disk.
    Hit,
    /// Computed and saved.
    Built,
    /// Computed; the cache dir is not writable.
    Unsaved,
    /// Computed; no cache dir.
    Off,
}

impl PrefixCache {
    pub fn name(self) -> &'static str {
        match self {
            PrefixCache::Hit => "hit",
            PrefixCache::Built => "built",
            PrefixCache::Unsaved => "unsaved",
            PrefixCache::Off => "off",
        }
    }
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_vocabulary_is_plain_tokens_and_the_turns_own() {
        // Ids past the tokenizer's vocabulary (the head's padding) are out,
        // unless the turn has them; ids past the head are ignored.
        let allowed = answer_vocabulary(&[true, false, true], 5, [1u32, 4, 9].iter());
        assert_eq!(allowed, [true, true, true, false, true]);
        let mut logits = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        mask_logits(&mut logits, &allowed);
        let ninf = f32::NEG_INFINITY;
        assert_eq!(
            logits,
            [1.0, 2.0, 3.0, ninf, 5.0, 6.0, 7.0, 8.0, ninf, 10.0]
        );
    }
}
