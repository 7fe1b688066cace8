//! The tokenizer, read from the GGUF's own vocabulary and merges, so the
//! model file is the only thing cmdai needs.
//!
//! It gives the ids of the `tokenizers` crate's Qwen2 tokenizer as candle
//! builds it from a GGUF (NFC, Qwen2's pre-tokenizer regex, byte-level BPE,
//! special tokens matched longest-first), but is ready in milliseconds:
//! the vocabulary and merges stay in the mapped file and only two hash
//! tables of (tag, index) are built, where `tokenizers` needs an owned
//! String per entry and takes 150-300 ms. tests/tokenizer.rs compares the
//! two on every eval request and the prompt.

mod bpe;
mod pretokenize;
mod table;

use crate::engine::gguf::{Gguf, Value};
use crate::error::{Error, Result};
use memmap2::Mmap;
use std::sync::Arc;
use table::{bytes_of, Span, Table};

pub struct Tokenizer {
    map: Arc<Mmap>,
    tokens: Vec<Span>,
    vocab: Table,
    merges: Vec<Span>,
    ranks: bpe::Ranks,
    ignore_merges: bool,
    /// Special tokens by first byte, longest first: template text matches
    /// the longest one starting at the leftmost place, as the `tokenizers`
    /// added vocabulary does.
    specials: Vec<Vec<(Vec<u8>, u32)>>,
    /// Per id: the token is ASCII text or a single byte (see `plain`).
    plain: Vec<bool>,
}

/// GGUF token types that `tokenizers` (as candle builds it) treats as
/// special: unknown, control, user-defined, unused.
const SPECIAL_TYPES: std::ops::RangeInclusive<u32> = 2..=5;

impl Tokenizer {
    pub fn from_gguf(g: &Gguf) -> Result<Self> {
        Self::build(g, false).map_err(|e| {
            Error::model(format!(
                "cannot build the tokenizer from {}: {}",
                g.path.display(),
                crate::error::one_line(&e.to_string())
            ))
        })
    }

    /// As `from_gguf`, but looking merges up in a table as for a vocabulary
    /// not in merge order, so tests can check that path on Qwen2's.
    #[doc(hidden)]
    pub fn from_gguf_with_merge_table(g: &Gguf) -> Result<Self> {
        Self::build(g, true)
    }

    fn build(g: &Gguf, merge_table: bool) -> Result<Self> {
        let model = g.string("tokenizer.ggml.model")?.to_lowercase();
        let pre = match g.content.metadata.get("tokenizer.ggml.pre") {
            Some(Value::String(s)) => s.as_str(),
            _ => "gpt2",
        };
        if model != "gpt2" || pre != "qwen2" {
            return Err(Error::model(format!(
                "unsupported tokenizer `{model}`/`{pre}` (cmdai runs Qwen2 models)"
            )));
        }
        let tokens = g.string_spans("tokenizer.ggml.tokens")?;
        let merges = g.string_spans("tokenizer.ggml.merges")?;
        let buf: &[u8] = &g.map;
        let too_many = || Error::model("the vocabulary is too large");
        let vocab = Table::build(buf, &tokens).ok_or_else(too_many)?;
        let first = merges.first().and_then(|&m| {
            let spelled: Vec<u8> = bytes_of(buf, m)
                .iter()
                .filter(|&&b| b != b' ')
                .copied()
                .collect();
            vocab.get(buf, &tokens, &spelled)
        });
        let ranks = match first {
            Some(first)
                if !merge_table
                    && vocab.unique
                    && bpe::Ranks::in_token_order(buf, &tokens, &merges, first) =>
            {
                bpe::Ranks::ByToken { first }
            }
            _ => bpe::Ranks::Table(Table::build(buf, &merges).ok_or_else(too_many)?),
        };
        let ignore_merges = match g.content.metadata.get("tokenizer.ggml.ignore_merges") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Error::model("tokenizer.ggml.ignore_merges is not a bool")),
        };
        let mut tok = Tokenizer {
            map: g.map.clone(),
            tokens,
            vocab,
            merges,
            ranks,
            ignore_merges,
            specials: vec![Vec::new(); 256],
            plain: Vec::new(),
        };
        // Every piece starts as single byte characters; with all 256 in the
        // vocabulary no input character can go missing.
        let mut spelled = [0u8; 4];
        for c in bpe::BYTE_CHARS {
            if tok
                .bpe()
                .id(c.encode_utf8(&mut spelled).as_bytes())
                .is_none()
            {
                return Err(Error::model(format!(
                    "the vocabulary lacks byte token {c:?}"
                )));
            }
        }
        tok.add_specials(g)?;
        // On the tokenizer's own thread, beside the prompt cache's load:
        // no allocation per token (it ran 14 ms with one).
        tok.plain = tok
            .tokens
            .iter()
            .map(|&span| match std::str::from_utf8(bytes_of(buf, span)) {
                // ASCII characters stand for themselves.
                Ok(text) if text.is_ascii() => true,
                Ok(text) => {
                    text.chars().count() == 1
                        || text
                            .chars()
                            .all(|c| bpe::char_byte(c).is_some_and(|b| b < 128))
                }
                Err(_) => false,
            })
            .collect();
        Ok(tok)
    }

    /// Per token id: ASCII text (templates and special tokens included) or
    /// a single byte, with which any text can still be spelled. About 62 %
    /// of Qwen2's vocabulary; the rest are pieces of other scripts.
    pub fn plain(&self) -> &[bool] {
        &self.plain
    }

    fn add_specials(&mut self, g: &Gguf) -> Result<()> {
        let mut ids = Vec::new();
        if let Some(Value::Array(_)) = g.content.metadata.get("tokenizer.ggml.token_type") {
            let types = g.u32s("tokenizer.ggml.token_type")?;
            ids.extend(
                (0u32..)
                    .zip(types)
                    .filter(|(_, t)| SPECIAL_TYPES.contains(t))
                    .map(|(id, _)| id),
            );
        }
        for key in ["bos", "eos", "pad", "sep", "unk"] {
            let key = format!("tokenizer.ggml.{key}_token_id");
            if g.content.metadata.contains_key(&key) {
                ids.push(special_id(g.value(&key)?)?);
            }
        }
        for id in ids {
            let Some(&span) = self.tokens.get(id as usize) else {
                continue;
            };
            let text = bytes_of(&self.map, span).to_vec();
            let Some(&first) = text.first() else {
                continue;
            };
            // A token's text names the vocabulary's id for it (the last of
            // any duplicates), as `tokenizers` looks it up.
            let Some(id) = self.bpe().id(&text) else {
                continue;
            };
            let group = &mut self.specials[first as usize];
            if !group.iter().any(|(t, _)| *t == text) {
                group.push((text, id));
            }
        }
        for group in &mut self.specials {
            group.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        }
        Ok(())
    }

    fn bpe(&self) -> bpe::Bpe<'_> {
        bpe::Bpe {
            buf: &self.map,
            tokens: &self.tokens,
            vocab: &self.vocab,
            merges: &self.merges,
            ranks: &self.ranks,
            ignore_merges: self.ignore_merges,
        }
    }

    /// Token ids of template text: `<|im_start|>` and friends map to their
    /// single special ids.
    pub fn encode_template(&mut self, text: &str) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let mut plain_from = 0;
        let mut at = 0;
        let bytes = text.as_bytes();
        while at < bytes.len() {
            // A model file's special token need not be whole characters;
            // one that would cut a character in two is no match.
            let found = match text.is_char_boundary(at) {
                true => self
                    .special_at(&bytes[at..])
                    .filter(|&(len, _)| text.is_char_boundary(at + len)),
                false => None,
            };
            match found {
                Some((len, id)) => {
                    self.encode_text(&text[plain_from..at], &mut out);
                    out.push(id);
                    at += len;
                    plain_from = at;
                }
                None => at += 1,
            }
        }
        self.encode_text(&text[plain_from..], &mut out);
        Ok(out)
    }

    /// The longest special token `rest` starts with.
    fn special_at(&self, rest: &[u8]) -> Option<(usize, u32)> {
        let group = self.specials.get(*rest.first()? as usize)?;
        group
            .iter()
            .find(|(t, _)| rest.starts_with(t))
            .map(|(t, id)| (t.len(), *id))
    }

    /// Token ids of user text: special-token text is split as ordinary text,
    /// so a request cannot close its own turn and inject instructions.
    pub fn encode_plain(&mut self, text: &str) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        self.encode_text(text, &mut out);
        Ok(out)
    }

    fn encode_text(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        // NFC leaves ASCII as it is; other text goes through the same
        // normalization tables as `tokenizers`.
        let normalized: std::borrow::Cow<str> = if text.is_ascii() {
            text.into()
        } else {
            use unicode_normalization_alignments::UnicodeNormalization;
            text.nfc().map(|(c, _)| c).collect::<String>().into()
        };
        let mut pieces = Vec::new();
        pretokenize::split(&normalized, &mut pieces);
        let bpe = self.bpe();
        for piece in pieces {
            if let Some(p) = normalized.as_bytes().get(piece) {
                bpe.encode_piece(p, out);
            }
        }
    }

    /// Text of `ids`, special tokens included; unknown ids are skipped and
    /// bytes that are not UTF-8 become U+FFFD, as `tokenizers` decodes.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let bpe = self.bpe();
        let mut bytes = Vec::new();
        for &id in ids {
            bpe.token_bytes(id, &mut bytes);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.bpe().id(token.as_bytes())
    }
}

/// A token id in metadata, converted as candle does (`as u32`).
fn special_id(v: &Value) -> Result<u32> {
    Ok(match v {
        Value::U8(x) => *x as u32,
        Value::I8(x) => *x as u32,
        Value::U16(x) => *x as u32,
        Value::I16(x) => *x as u32,
        Value::U32(x) => *x,
        Value::I32(x) => *x as u32,
        Value::U64(x) => *x as u32,
        Value::I64(x) => *x as u32,
        _ => return Err(Error::model("a special token id is not a number")),
    })
}
