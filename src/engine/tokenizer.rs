//! The tokenizer, built from the GGUF's own vocabulary and merges, so the
//! model file is the only thing cmdai needs.

use crate::engine::gguf::Gguf;
use crate::error::{Error, Result};
use candle_core::quantized::tokenizer::TokenizerFromGguf;

pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
}

impl Tokenizer {
    pub fn from_gguf(g: &Gguf) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_gguf(&g.content).map_err(|e| {
            Error::model(format!(
                "cannot build the tokenizer from {}: {}",
                g.path.display(),
                crate::error::one_line(&e.to_string())
            ))
        })?;
        Ok(Tokenizer { inner })
    }

    /// Token ids of template text: `<|im_start|>` and friends map to their
    /// single special ids.
    pub fn encode_template(&mut self, text: &str) -> Result<Vec<u32>> {
        self.inner.set_encode_special_tokens(false);
        self.encode(text)
    }

    /// Token ids of user text: special-token text is split as ordinary text,
    /// so a request cannot close its own turn and inject instructions.
    pub fn encode_plain(&mut self, text: &str) -> Result<Vec<u32>> {
        self.inner.set_encode_special_tokens(true);
        self.encode(text)
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::other(format!("cannot tokenize the request: {e}")))?;
        Ok(enc.get_ids().to_vec())
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, false)
            .map_err(|e| Error::other(format!("cannot decode model output: {e}")))
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}
