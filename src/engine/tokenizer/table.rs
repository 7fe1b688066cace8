//! A hash table from byte strings to indices, where the strings stay in the
//! memory-mapped model file and the table holds only (hash tag, index)
//! pairs: 150k entries build in a couple of milliseconds with no per-entry
//! allocation, which a `HashMap<String, u32>` cannot do.

/// Where entry `i`'s bytes are: (offset, length) in the backing buffer.
pub type Span = (u32, u32);

pub struct Table {
    /// (tag << index_bits) | (index + 1), or 0 for empty. The tag (spare
    /// high hash bits) spares most probes a comparison of the bytes; u32
    /// slots keep a 150k-entry table at 1 MiB, in cache while it is built.
    slots: Vec<u32>,
    mask: usize,
    index_bits: u32,
    /// Whether no two entries were equal.
    pub unique: bool,
}

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
    /// later one wins, as collecting into a HashMap does. None when there
    /// are too many entries for the slot layout (2^24).
    pub fn build(buf: &[u8], spans: &[Span]) -> Option<Table> {
        let index_bits = (spans.len() + 1).next_power_of_two().trailing_zeros();
        if index_bits > 24 {
            return None;
        }
        let cap = (spans.len() * 2).next_power_of_two().max(16);
        let mut t = Table {
            slots: vec![0; cap],
            mask: cap - 1,
            index_bits,
            unique: true,
        };
        // Hashes first, then inserts with the slot a few entries ahead
        // prefetched: the slots are random accesses into a table bigger
        // than L2, and overlapping those misses halves the build.
        let hashes: Vec<u64> = spans.iter().map(|&s| hash(bytes_of(buf, s))).collect();
        const AHEAD: usize = 16;
        for (i, &h) in hashes.iter().enumerate() {
            if let Some(&ahead) = hashes.get(i + AHEAD) {
                t.prefetch(ahead);
            }
            let key = spans.get(i).map_or(&[][..], |&s| bytes_of(buf, s));
            t.insert_hashed(buf, spans, key, h, i as u32);
        }
        Some(t)
    }

    fn prefetch(&self, h: u64) {
        #[cfg(target_arch = "x86_64")]
        if let Some(slot) = self.slots.get(h as usize & self.mask) {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: a prefetch is only a hint; the address is a valid slot.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(slot as *const u32 as *const i8) };
        }
    }

    fn tag(&self, h: u64) -> u32 {
        ((h >> 32) as u32) << self.index_bits
    }

    fn insert_hashed(&mut self, buf: &[u8], spans: &[Span], key: &[u8], h: u64, index: u32) {
        let tag = self.tag(h);
        let low = (1u32 << self.index_bits) - 1;
        let mut at = h as usize & self.mask;
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                self.slots[at] = tag | (index + 1);
                return;
            }
            if slot & !low == tag {
                let other = spans.get((slot & low).wrapping_sub(1) as usize).copied();
                if other.is_some_and(|o| bytes_of(buf, o) == key) {
                    self.slots[at] = tag | (index + 1);
                    self.unique = false;
                    return;
                }
            }
            at = (at + 1) & self.mask;
        }
    }

    pub fn get(&self, buf: &[u8], spans: &[Span], key: &[u8]) -> Option<u32> {
        let h = hash(key);
        let tag = self.tag(h);
        let low = (1u32 << self.index_bits) - 1;
        let mut at = h as usize & self.mask;
        loop {
            let slot = *self.slots.get(at)?;
            if slot == 0 {
                return None;
            }
            if slot & !low == tag {
                let index = (slot & low).wrapping_sub(1);
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
        let t = Table::build(buf, &spans).unwrap();
        assert!(!t.unique);
        assert_eq!(t.get(buf, &spans, b"abc"), Some(0));
        assert_eq!(t.get(buf, &spans, b"ab"), Some(4));
        assert_eq!(t.get(buf, &spans, b"xy"), Some(3));
        assert_eq!(t.get(buf, &spans, b""), Some(5));
        assert_eq!(t.get(buf, &spans, b"abx"), None);
    }
}
