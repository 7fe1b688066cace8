//! A hash table from byte strings to indices, where the strings stay in the
//! memory-mapped model file and the table holds only (hash tag, index)
//! pairs: 150k entries build in a couple of milliseconds with no per-entry
//! allocation, which a `HashMap<String, u32>` cannot do.

/// Where entry `i`'s bytes are: (offset, length) in the backing buffer.
pub type Span = (u32, u32);

pub struct Table {
    /// (tag << 32) | index, or EMPTY. The tag (high hash bits) spares most
    /// probes a comparison of the bytes themselves.
    slots: Vec<u64>,
    mask: usize,
}

const EMPTY: u64 = u64::MAX;

pub fn bytes_of(buf: &[u8], (start, len): Span) -> &[u8] {
    buf.get(start as usize..start as usize + len as usize)
        .unwrap_or_default()
}

/// FxHash-style mixing of 8-byte words; tokens are short, so this beats
/// SipHash by several times and quality is ample for a table we build once.
fn hash(b: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

impl Table {
    /// Maps each entry's bytes to its index; when two entries are equal the
    /// later one wins, as collecting into a HashMap does.
    pub fn build(buf: &[u8], spans: &[Span]) -> Table {
        let cap = (spans.len() * 2).next_power_of_two().max(16);
        let mut t = Table {
            slots: vec![EMPTY; cap],
            mask: cap - 1,
        };
        for (i, &span) in spans.iter().enumerate() {
            t.insert(buf, spans, bytes_of(buf, span), i as u32);
        }
        t
    }

    fn insert(&mut self, buf: &[u8], spans: &[Span], key: &[u8], index: u32) {
        let h = hash(key);
        let tag = h >> 32;
        let mut at = h as usize & self.mask;
        loop {
            let slot = self.slots[at];
            if slot == EMPTY {
                self.slots[at] = tag << 32 | index as u64;
                return;
            }
            if slot >> 32 == tag {
                let other = spans.get(slot as u32 as usize).copied().unwrap_or((0, 0));
                if bytes_of(buf, other) == key {
                    self.slots[at] = tag << 32 | index as u64;
                    return;
                }
            }
            at = (at + 1) & self.mask;
        }
    }

    pub fn get(&self, buf: &[u8], spans: &[Span], key: &[u8]) -> Option<u32> {
        let h = hash(key);
        let tag = h >> 32;
        let mut at = h as usize & self.mask;
        loop {
            let slot = *self.slots.get(at)?;
            if slot == EMPTY {
                return None;
            }
            if slot >> 32 == tag {
                let index = slot as u32;
                if bytes_of(buf, *spans.get(index as usize)?) == key {
                    return Some(index);
                }
            }
            at = (at + 1) & self.mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_duplicates_win_and_misses_are_none() {
        let buf = b"abcabxy";
        let spans = [(0, 3), (3, 2), (0, 2), (5, 2), (3, 2), (0, 0)];
        let t = Table::build(buf, &spans);
        assert_eq!(t.get(buf, &spans, b"abc"), Some(0));
        assert_eq!(t.get(buf, &spans, b"ab"), Some(4));
        assert_eq!(t.get(buf, &spans, b"xy"), Some(3));
        assert_eq!(t.get(buf, &spans, b""), Some(5));
        assert_eq!(t.get(buf, &spans, b"abx"), None);
    }
}
