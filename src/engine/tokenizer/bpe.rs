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
    pub merge_rank: &'a Table,
    /// `tokenizer.ggml.ignore_merges`: a piece that is a token is taken whole.
    pub ignore_merges: bool,
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

    fn rank(&self, left: &[u8], right: &[u8], key: &mut Vec<u8>) -> Option<u32> {
        key.clear();
        key.extend_from_slice(left);
        key.push(b' ');
        key.extend_from_slice(right);
        self.merge_rank.get(self.buf, self.merges, key)
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
        let span = |s: &Symbol| &w[s.start as usize..s.end as usize];
        let mut key = Vec::new();
        // (rank, left symbol, right symbol, right symbol's end): an entry is
        // stale once either side has merged with something else.
        let mut heap = BinaryHeap::new();
        for k in 0..n.saturating_sub(1) {
            if let Some(r) = self.rank(span(&syms[k]), span(&syms[k + 1]), &mut key) {
                heap.push(Reverse((r, k as u32, k as u32 + 1, syms[k + 1].end)));
            }
        }
        while let Some(Reverse((_, l, r, r_end))) = heap.pop() {
            let (li, ri) = (l as usize, r as usize);
            let valid =
                syms[li].alive && syms[li].next == r && syms[ri].alive && syms[ri].end == r_end;
            if !valid {
                continue;
            }
            let merged = &w[syms[li].start as usize..r_end as usize];
            let Some(id) = self.id(merged) else {
                continue;
            };
            syms[li].end = r_end;
            syms[li].id = id;
            syms[li].next = syms[ri].next;
            syms[ri].alive = false;
            let next = syms[li].next;
            if let Some(after) = syms.get_mut(next as usize) {
                after.prev = l;
            }
            // The new symbol's pairs with its neighbours.
            let prev = syms[li].prev;
            if let Some(before) = syms.get(prev as usize) {
                if let Some(rank) = self.rank(span(before), span(&syms[li]), &mut key) {
                    heap.push(Reverse((rank, prev, l, syms[li].end)));
                }
            }
            if next != NONE {
                let ni = next as usize;
                if let Some(rank) = self.rank(span(&syms[li]), span(&syms[ni]), &mut key) {
                    heap.push(Reverse((rank, l, next, syms[ni].end)));
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
