//! Running the model: the memory-mapped GGUF, its tokenizer, the Qwen2
//! forward pass, and the cached prompt prefix.

pub mod gguf;
pub mod prefix_cache;
mod q4k;
mod q5_0;
pub mod qmatmul;
pub mod qwen2;
pub mod sample;
mod simd;
pub mod tokenizer;

use crate::error::{Error, Result};
use crate::prompt::Prompt;
use candle_core::Device;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub struct Engine {
    model: qwen2::Model,
    tokenizer: tokenizer::Tokenizer,
    /// Identifies the weights for the prefix cache (sha256 for catalog
    /// models, a file fingerprint otherwise).
    model_id: String,
    stop_ids: Vec<u32>,
    pub load_ms: f64,
}

pub struct GenOptions {
    pub max_tokens: usize,
    pub temperature: f64,
    pub seed: u64,
    /// Where the prefix KV cache lives; None disables it.
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Clone)]
pub struct Timings {
    pub load_ms: f64,
    pub tokenize_ms: f64,
    pub prefix_ms: f64,
    pub prefill_ms: f64,
    pub decode_ms: f64,
}

pub struct Generation {
    pub text: String,
    pub timings: Timings,
    pub prefix_tokens: usize,
    pub request_tokens: usize,
    pub generated_tokens: usize,
    /// "hit" (loaded from disk), "built" (computed and saved), "unsaved"
    /// (computed; the cache dir is not writable) or "off".
    pub prefix_cache: &'static str,
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
                "cannot open the CUDA device: {}",
                crate::error::one_line(&e.to_string())
            ))
        }),
        "cuda" => Err(unavailable("CUDA", "cuda")),
        "metal" if cfg!(feature = "metal") => Device::new_metal(0).map_err(|e| {
            Error::other(format!(
                "cannot open the Metal device: {}",
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
    pub fn load(path: &Path, model_id: String, device: &Device) -> Result<Self> {
        let start = Instant::now();
        let gguf = gguf::Gguf::open(path)?;
        let model = qwen2::Model::load(&gguf, device)?;
        let tokenizer = tokenizer::Tokenizer::from_gguf(&gguf)?;
        let stop_ids = ["<|im_end|>", "<|endoftext|>"]
            .iter()
            .filter_map(|t| tokenizer.token_id(t))
            .collect();
        Ok(Engine {
            model,
            tokenizer,
            model_id,
            stop_ids,
            load_ms: ms(start),
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
        let prefix = self.tokenizer.encode_template(&prompt.prefix)?;
        let mut rest = Vec::new();
        for seg in &prompt.turn {
            match seg {
                crate::prompt::Segment::Template(s) => {
                    rest.extend(self.tokenizer.encode_template(s)?)
                }
                crate::prompt::Segment::User(s) => rest.extend(self.tokenizer.encode_plain(s)?),
            }
        }
        t.tokenize_ms = ms(start);

        let start = Instant::now();
        let (mut cache, cache_state) = self.prefix_cache(&prefix, opts)?;
        t.prefix_ms = ms(start);

        let limit = self.model.config.context;
        if cache.len + rest.len() + opts.max_tokens > limit {
            return Err(Error::usage(format!(
                "the request is too long ({} tokens with the prompt; the limit is {}): shorten it",
                cache.len + rest.len(),
                limit - opts.max_tokens
            )));
        }
        let start = Instant::now();
        let mut logits = self.model.forward(&rest, &mut cache)?;
        t.prefill_ms = ms(start);

        let start = Instant::now();
        let mut sampler = sample::Sampler::new(opts.temperature, opts.seed);
        let mut out: Vec<u32> = Vec::new();
        let mut text = String::new();
        for _ in 0..opts.max_tokens {
            let next = sampler.next(&logits)?;
            if self.stop_ids.contains(&next) {
                break;
            }
            out.push(next);
            text = self.tokenizer.decode(&out)?;
            if done(&text) {
                break;
            }
            logits = self.model.forward(&[next], &mut cache)?;
        }
        t.decode_ms = ms(start);
        Ok(Generation {
            text,
            timings: t,
            prefix_tokens: prefix.len(),
            request_tokens: rest.len(),
            generated_tokens: out.len(),
            prefix_cache: cache_state,
        })
    }

    fn prefix_cache(
        &mut self,
        prefix: &[u32],
        opts: &GenOptions,
    ) -> Result<(qwen2::KvCache, &'static str)> {
        let c = &self.model.config;
        let device = &self.model.device;
        let Some(dir) = &opts.cache_dir else {
            let mut cache = qwen2::KvCache::empty(c, device)?;
            self.model.forward(prefix, &mut cache)?;
            return Ok((cache, "off"));
        };
        let key = prefix_cache::cache_key(&self.model_id, prefix);
        let path = prefix_cache::cache_path(dir, &key);
        if let Ok(cache) = prefix_cache::load(&path, &key, c, device) {
            if cache.len == prefix.len() {
                return Ok((cache, "hit"));
            }
        }
        let mut cache = qwen2::KvCache::empty(c, device)?;
        self.model.forward(prefix, &mut cache)?;
        // A read-only or full cache dir only costs speed, never the answer.
        let state = match prefix_cache::save(&path, &key, c, &cache) {
            Ok(()) => "built",
            Err(_) => "unsaved",
        };
        Ok((cache, state))
    }
}

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}
