//! Byte-level BPE over the GGUF's vocabulary and merges, both left in the
//! mapped file: pieces are spelled in GPT-2's byte-to-character alphabet
//! (the vocabulary's spelling), then merged pair by pair, lowest merge rank
//! first and leftmost among equals, as the `tokenizers` crate does.

use super::table::{bytes_of, Span, Table};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// GPT-2's map from bytes to characters: printable Latin-1 bytes stand for
/// themselves, the rest are moved to U+0100 and up, in byte order.
pub const fn byte_chars() -> [char; 256] {
    let mut out = ['\0'; 256];
    let mut next = 256u32;
    let mut b = 0usize;
    while b < 256 {
        let printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        let code = if printable {
            b as u32
        } else {
            next += 1;
            next - 1
        };
        out[b] = match char::from_u32(code) {
            Some(c) => c,
            None => '\0',
        };
        b += 1;
    }
    out
}

pub const BYTE_CHARS: [char; 256] = byte_chars();

/// The byte a vocabulary character stands for.
pub fn char_byte(c: char) -> Option<u8> {
    let code = c as u32;
    match code {
        0x21..=0x7e | 0xa1..=0xac | 0xae..=0xff => Some(code as u8),
        0x100..=0x143 => BYTE_CHARS
            .iter()
            .position(|&x| x == c)
            .and_then(|b| u8::try_from(b).ok()),
        _ => None,
    }
}

pub struct Bpe<'a> {
    /// The mapped file the spans point into.
    pub buf: &'a [u8],
    pub tokens: &'a [Span],
    pub vocab: &'a Table,
    pub merges: &'a [Span],
    pub ranks: &'a Ranks,
    /// `tokenizer.ggml.ignore_merges`: a piece that is a token is taken whole.
    pub ignore_merges: bool,
}

/// How to find a pair's merge rank.
pub enum Ranks {
    /// Merge `r` makes token `first + r`, and no two tokens are spelled
    /// alike (true of Qwen2's vocabulary, checked when loading): the merged
    /// token's id names the only merge that can make it, so no table of
    /// merges is needed.
    ByToken { first: u32 },
    /// Any other vocabulary: "left right" -> rank.
    Table(Table),
}

impl Ranks {
    /// Whether merge `r` makes token `first + r` for every `r`.
    pub fn in_token_order(buf: &[u8], tokens: &[Span], merges: &[Span], first: u32) -> bool {
        merges.iter().enumerate().all(|(r, &m)| {
            let merge = bytes_of(buf, m);
            let token = tokens
                .get(first as usize + r)
                .map_or(&[][..], |&t| bytes_of(buf, t));
            match merge.iter().position(|&b| b == b' ') {
                Some(k) => {
                    token.len() + 1 == merge.len()
                        && token.get(..k) == merge.get(..k)
                        && token.get(k..) == merge.get(k + 1..)
                }
                None => false,
            }
        })
    }
}

struct Symbol {
    start: u32,
    end: u32,
    id: u32,
    prev: u32,
    next: u32,
    alive: bool,
}

const NONE: u32 = u32::MAX;

impl Bpe<'_> {
    pub fn id(&self, key: &[u8]) -> Option<u32> {
        self.vocab.get(self.buf, self.tokens, key)
    }

    /// The rank of merging `w[a..b]` with `w[b..c]` and the merged token's
    /// id, when there is such a merge.
    fn merge(&self, w: &[u8], (a, b, c): (u32, u32, u32), key: &mut Vec<u8>) -> Option<(u32, u32)> {
        let (a, b, c) = (a as usize, b as usize, c as usize);
        let (left, right, both) = (w.get(a..b)?, w.get(b..c)?, w.get(a..c)?);
        let is_merge = |m: &[u8]| {
            m.len() == both.len() + 1
                && m.get(..left.len()) == Some(left)
                && m.get(left.len()) == Some(&b' ')
                && m.get(left.len() + 1..) == Some(right)
        };
        match self.ranks {
            Ranks::ByToken { first } => {
                let id = self.id(both)?;
                let rank = id.checked_sub(*first)?;
                let &m = self.merges.get(rank as usize)?;
                is_merge(bytes_of(self.buf, m)).then_some((rank, id))
            }
            Ranks::Table(t) => {
                key.clear();
                key.extend_from_slice(left);
                key.push(b' ');
                key.extend_from_slice(right);
                let rank = t.get(self.buf, self.merges, key)?;
                Some((rank, self.id(both)?))
            }
        }
    }

    /// Appends the ids of one pre-tokenized piece (raw bytes).
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        let mut word = String::with_capacity(piece.len() * 2);
        word.extend(piece.iter().map(|&b| BYTE_CHARS[b as usize]));
        let w = word.as_bytes();
        if self.ignore_merges {
            if let Some(id) = self.id(w) {
                out.push(id);
                return;
            }
        }
        let mut syms: Vec<Symbol> = Vec::with_capacity(word.len());
        for (i, c) in word.char_indices() {
            let end = i + c.len_utf8();
            // Every byte's character is in the vocabulary (checked when the
            // tokenizer is built), so no symbol is ever missing.
            let id = self.id(&w[i..end]).unwrap_or(NONE);
            syms.push(Symbol {
                start: i as u32,
                end: end as u32,
                id,
                prev: NONE,
                next: NONE,
                alive: true,
            });
        }
        let n = syms.len();
        for (k, s) in syms.iter_mut().enumerate() {
            if k + 1 < n {
                s.next = k as u32 + 1;
            }
            if k > 0 {
                s.prev = k as u32 - 1;
            }
        }
        let mut key = Vec::new();
        // (rank, left symbol, right symbol, right symbol's end, merged id):
        // an entry is stale once either side has merged with something else.
        let mut heap = BinaryHeap::new();
        for k in 0..n.saturating_sub(1) {
            let (l, r) = (&syms[k], &syms[k + 1]);
            if let Some((rank, id)) = self.merge(w, (l.start, r.start, r.end), &mut key) {
                heap.push(Reverse((rank, k as u32, k as u32 + 1, r.end, id)));
            }
        }
        while let Some(Reverse((_, l, r, r_end, id))) = heap.pop() {
            let (li, ri) = (l as usize, r as usize);
            let valid =
                syms[li].alive && syms[li].next == r && syms[ri].alive && syms[ri].end == r_end;
            if !valid {
                continue;
            }
            syms[li].end = r_end;
            syms[li].id = id;
            syms[li].next = syms[ri].next;
            syms[ri].alive = false;
            let next = syms[li].next;
            if let Some(after) = syms.get_mut(next as usize) {
                after.prev = l;
            }
            // The new symbol's pairs with its neighbours.
            let (start, end) = (syms[li].start, syms[li].end);
            let prev = syms[li].prev;
            if let Some(before) = syms.get(prev as usize) {
                if let Some((rank, id)) = self.merge(w, (before.start, start, end), &mut key) {
                    heap.push(Reverse((rank, prev, l, end, id)));
                }
            }
            if let Some(after) = syms.get(next as usize) {
                if let Some((rank, id)) = self.merge(w, (start, end, after.end), &mut key) {
                    heap.push(Reverse((rank, l, next, after.end, id)));
                }
            }
        }
        out.extend(
            syms.iter()
                .filter(|s| s.alive && s.id != NONE)
                .map(|s| s.id),
        );
    }

    /// The bytes a token stands for: its characters mapped back to bytes,
    /// or its own text when it is not in the byte alphabet (as the
    /// `tokenizers` ByteLevel decoder does).
    pub fn token_bytes(&self, id: u32, out: &mut Vec<u8>) -> bool {
        let Some(&span) = self.tokens.get(id as usize) else {
            return false;
        };
        let raw = bytes_of(self.buf, span);
        let text = String::from_utf8_lossy(raw);
        let mapped: Option<Vec<u8>> = text.chars().map(char_byte).collect();
        match mapped {
            Some(b) => out.extend_from_slice(&b),
            None => out.extend_from_slice(text.as_bytes()),
        }
        true
    }
}
