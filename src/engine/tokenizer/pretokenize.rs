//! Qwen2's pre-tokenizer: the text is cut into pieces by
//!
//! ```text
//! (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}
//! | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//! ```
//!
//! matched leftmost-first with backtracking, as fancy-regex does, every match
//! its own piece. Written out by hand: compiling that regex costs more than
//! the whole tokenizer is allowed, and its lookahead needs a backtracking
//! engine anyway. Character classes come from regex-syntax's Unicode tables,
//! the ones the regex would use.

use std::ops::Range;
use std::sync::OnceLock;

const SPACE: u8 = 1;
const LETTER: u8 = 2;
const NUMBER: u8 = 4;

struct Classes {
    space: Vec<(char, char)>,
    letter: Vec<(char, char)>,
    number: Vec<(char, char)>,
}

fn ranges(pattern: &str) -> Option<Vec<(char, char)>> {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::parse(pattern).ok()?;
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => {
            Some(c.ranges().iter().map(|r| (r.start(), r.end())).collect())
        }
        _ => None,
    }
}

fn classes() -> &'static Classes {
    static CLASSES: OnceLock<Classes> = OnceLock::new();
    // Parsing three Unicode classes takes tens of microseconds; ASCII text
    // never gets here.
    CLASSES.get_or_init(|| Classes {
        space: ranges(r"\s").unwrap_or_default(),
        letter: ranges(r"\p{L}").unwrap_or_default(),
        number: ranges(r"\p{N}").unwrap_or_default(),
    })
}

fn within(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn class(c: char) -> u8 {
    if c.is_ascii() {
        return match c {
            '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' ' => SPACE,
            'a'..='z' | 'A'..='Z' => LETTER,
            '0'..='9' => NUMBER,
            _ => 0,
        };
    }
    let k = classes();
    let mut bits = 0;
    if within(&k.space, c) {
        bits |= SPACE;
    }
    if within(&k.letter, c) {
        bits |= LETTER;
    }
    if within(&k.number, c) {
        bits |= NUMBER;
    }
    bits
}

/// The text's characters with their classes, for matching by hand.
struct Text {
    chars: Vec<(usize, char, u8)>,
    len: usize,
}

impl Text {
    fn ch(&self, i: usize) -> Option<char> {
        self.chars.get(i).map(|c| c.1)
    }
    fn is(&self, i: usize, bits: u8) -> bool {
        self.chars.get(i).is_some_and(|c| c.2 & bits != 0)
    }
    fn other(&self, i: usize) -> bool {
        self.chars
            .get(i)
            .is_some_and(|c| c.2 & (SPACE | LETTER | NUMBER) == 0)
    }
    fn newline(&self, i: usize) -> bool {
        matches!(self.ch(i), Some('\r' | '\n'))
    }
    /// The first index from `j` on where `ok` fails.
    fn run(&self, mut j: usize, ok: impl Fn(&Self, usize) -> bool) -> usize {
        while j < self.chars.len() && ok(self, j) {
            j += 1;
        }
        j
    }
    fn byte(&self, i: usize) -> usize {
        self.chars.get(i).map_or(self.len, |c| c.0)
    }

    /// Where the piece starting at char `i` ends: the regex's alternatives,
    /// in its order.
    fn piece_end(&self, i: usize) -> usize {
        let n = self.chars.len();
        // '[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]
        if self.ch(i) == Some('\'') {
            let lower = |k: usize| self.ch(k).map(|c| c.to_ascii_lowercase());
            match (lower(i + 1), lower(i + 2)) {
                (Some('s' | 't' | 'm' | 'd'), _) => return i + 2,
                (Some('r' | 'v'), Some('e')) | (Some('l'), Some('l')) => return i + 3,
                _ => {}
            }
        }
        let letter = |t: &Self, k: usize| t.is(k, LETTER);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if !self.newline(i) && !self.is(i, LETTER | NUMBER) && letter(self, i + 1) {
            return self.run(i + 1, letter);
        }
        if letter(self, i) {
            return self.run(i, letter);
        }
        // \p{N}
        if self.is(i, NUMBER) {
            return i + 1;
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let start = if self.ch(i) == Some(' ') && self.other(i + 1) {
            Some(i + 1)
        } else if self.other(i) {
            Some(i)
        } else {
            None
        };
        if let Some(s) = start {
            let j = self.run(s, Self::other);
            return self.run(j, Self::newline);
        }
        // Only whitespace is left.
        let j = self.run(i, |t, k| t.is(k, SPACE));
        // \s*[\r\n]+ : backtracking ends it after the run's last newline.
        if let Some(k) = (i..j).rev().find(|&k| self.newline(k)) {
            return k + 1;
        }
        // \s+(?!\S) : the whole run at the end of the text, else all but its
        // last character when that leaves at least one.
        if j == n {
            return j;
        }
        if j > i + 1 {
            return j - 1;
        }
        // \s+, or a character nothing matched (cannot happen: every
        // character is a space, letter, number or other), taken alone.
        j.max(i + 1)
    }
}

/// Byte ranges of `text`'s pieces, in order, covering all of it.
pub fn split(text: &str, out: &mut Vec<Range<usize>>) {
    let t = Text {
        chars: text.char_indices().map(|(i, c)| (i, c, class(c))).collect(),
        len: text.len(),
    };
    let mut i = 0;
    while i < t.chars.len() {
        let end = t.piece_end(i);
        out.push(t.byte(i)..t.byte(end));
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(s: &str) -> Vec<&str> {
        let mut out = Vec::new();
        split(s, &mut out);
        out.into_iter().map(|r| &s[r]).collect()
    }

    #[test]
    fn like_the_regex() {
        assert_eq!(
            pieces("Hello'Ve world 123\n\n  foo"),
            ["Hello", "'Ve", " world", " ", "1", "2", "3", "\n\n", " ", " foo"]
        );
        assert_eq!(pieces("a  \n b\t\n"), ["a", "  \n", " b", "\t\n"]);
        assert_eq!(
            pieces("x ... !?\n\ny  "),
            ["x", " ...", " !?\n\n", "y", "  "]
        );
        assert_eq!(pieces("don't we'll"), ["don", "'t", " we", "'ll"]);
        assert_eq!(pieces(""), Vec::<&str>::new());
    }

    #[test]
    fn ascii_classes_agree_with_regex_syntax() {
        let k = classes();
        for b in 0u8..128 {
            let c = b as char;
            let mut bits = 0;
            for (ranges, bit) in [(&k.space, SPACE), (&k.letter, LETTER), (&k.number, NUMBER)] {
                if within(ranges, c) {
                    bits |= bit;
                }
            }
            assert_eq!(class(c), bits, "{c:?}");
        }
    }
}
