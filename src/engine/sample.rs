//! Picking the next token: greedy by default (deterministic answers that
//! tests and users can rely on), temperature sampling when asked.

use crate::error::Result;
use candle_core::Tensor;
use candle_transformers::generation::LogitsProcessor;

pub struct Sampler {
    processor: Option<LogitsProcessor>,
}

impl Sampler {
    pub fn new(temperature: f64, seed: u64) -> Self {
        let processor =
            (temperature > 0.0).then(|| LogitsProcessor::new(seed, Some(temperature), None));
        Sampler { processor }
    }

    pub fn next(&mut self, logits: &Tensor) -> Result<u32> {
        match &mut self.processor {
            Some(p) => Ok(p.sample(logits)?),
            None => crate::engine::qwen2::argmax(logits),
        }
    }
}
