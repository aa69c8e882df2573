//! Words: what a word character is, the keys and sets that compare words in ASCII lower case
//! without allocating, and the words next to a position of a text (for context rules).

use std::collections::HashSet;

/// Letters, digits, `_` and combining marks.
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_';
    }
    c.is_alphanumeric() || is_combining_mark(c)
}

/// The combining diacritical mark blocks (general category M for the scripts debias targets).
fn is_combining_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F
        | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A | 0x064B..=0x065F | 0x0900..=0x0903
        | 0x093A..=0x094F | 0x0E31 | 0x0E34..=0x0E3A | 0x3099..=0x309A)
}

/// The key of the word `bytes[s..e]`: its first 8 bytes in ASCII lower case and its length;
/// `None` when the word has a non-ASCII byte.
#[inline(always)]
pub(crate) fn word_key(bytes: &[u8], s: usize, e: usize) -> Option<u64> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = e - s;
    let v = if s + 8 <= bytes.len() {
        u64::from_le_bytes(bytes[s..s + 8].try_into().expect("8 bytes"))
    } else {
        // Near the end of the text: byte by byte (a variable-length copy would call memcpy).
        bytes[s..(s + 8).min(bytes.len())]
            .iter()
            .rev()
            .fold(0u64, |v, &b| (v << 8) | u64::from(b))
    };
    let v = if n >= 8 {
        v
    } else {
        v & ((1u64 << (n * 8)) - 1)
    };
    if v & HIGH != 0 || (n > 8 && !bytes[s + 8..e].is_ascii()) {
        return None;
    }
    // SWAR lower case: the high bit of each byte of `ge_a` is set for bytes >= b'A', of
    // `gt_z` for bytes > b'Z'; upper-case letters get 0x20 added.
    let ge_a = v + 0x3f3f_3f3f_3f3f_3f3f;
    let gt_z = v + 0x2525_2525_2525_2525;
    let upper = ge_a & !gt_z & HIGH;
    Some((v | (upper >> 2)) ^ length_tag(n))
}

/// What a key adds for a word longer than 8 bytes: the top bit (never set in the key of a
/// shorter word, whose bytes are ASCII and whose zero padding tells its length) and the
/// length.
#[inline(always)]
pub(crate) fn length_tag(n: usize) -> u64 {
    ((n > 8) as u64 * (0x80 | (n as u64 & 0x7f))) << 56
}

/// Hashes the words of a [`WordSet`] (FNV-1a; SipHash's protection against chosen keys is
/// not needed for a rule file's words).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct BuildKeyHasher;

impl std::hash::BuildHasher for BuildKeyHasher {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0xcbf2_9ce4_8422_2325)
    }
}

pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, k: u64) {
        self.0 = k.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
}

/// ASCII bytes that are word characters (letters, digits, `_`).
pub(crate) static ASCII_WORD: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = (b as u8).is_ascii_alphanumeric() || b == b'_' as usize;
        b += 1;
    }
    t
};

/// The key of a non-empty ASCII word of at most 8 bytes (its bytes in lower case).
#[inline]
pub(crate) fn short_key(w: &str) -> Option<u64> {
    (!w.is_empty() && w.len() <= 8)
        .then(|| word_key(w.as_bytes(), 0, w.len()))
        .flatten()
}

/// Words, compared in lower case without allocating: ASCII words of at most 8 bytes (nearly
/// all) by their [`word_key`], which is the whole word; longer ones by their lower-case bytes.
#[derive(Debug, Default, Clone)]
pub(crate) struct WordSet {
    short: HashSet<u64, BuildKeyHasher>,
    long: HashSet<Box<[u8]>, BuildKeyHasher>,
}

impl WordSet {
    pub(crate) fn new<S: AsRef<str>>(words: impl IntoIterator<Item = S>) -> Self {
        let mut set = WordSet::default();
        for w in words {
            set.insert(w.as_ref());
        }
        set
    }

    pub(crate) fn insert(&mut self, w: &str) {
        let lower = w.to_lowercase();
        match short_key(&lower) {
            Some(k) => self.short.insert(k),
            None => self.long.insert(lower.into_bytes().into_boxed_slice()),
        };
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.short.is_empty() && self.long.is_empty()
    }

    /// Whether the set holds `w` in lower case.
    #[inline]
    pub(crate) fn holds(&self, w: &str) -> bool {
        if w.is_empty() || self.is_empty() {
            return false;
        }
        if w.len() <= 8 {
            if let Some(k) = word_key(w.as_bytes(), 0, w.len()) {
                return self.short.contains(&k);
            }
        } else if w.len() <= 32 && w.is_ascii() {
            let mut buf = [0u8; 32];
            for (d, s) in buf.iter_mut().zip(w.bytes()) {
                *d = s.to_ascii_lowercase();
            }
            return self.long.contains(&buf[..w.len()]);
        }
        let lower = w.to_lowercase();
        match short_key(&lower) {
            Some(k) => self.short.contains(&k),
            None => self.long.contains(lower.as_bytes()),
        }
    }
}

/// What separates a word from the position it was reached from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gap {
    /// Spaces, quotes, round brackets or a spaced dash: the words are neighbours.
    Space,
    /// A hyphen or dash with no space around it ("old-fashioned", "30-year-old").
    Hyphen,
    /// An apostrophe between the two words ("he's", "who's", "America's").
    Apostrophe,
    /// A comma (with or without spaces and quotes around it).
    Comma,
}

/// A word next to a position: its text as written, its span and the gap before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
    pub gap: Gap,
}

impl Word<'_> {
    /// Whether it starts with an upper-case letter.
    pub(crate) fn capitalized(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }

    /// Whether it is a run of ASCII digits.
    pub(crate) fn is_digits(&self) -> bool {
        self.text.bytes().all(|b| b.is_ascii_digit())
    }
}

/// How a character between two words separates them.
enum Sep {
    Space,
    Hyphen,
    Quote,
    Comma,
    /// Anything else (a full stop, colon, slash, ...): the words are not neighbours.
    Break,
}

#[inline]
fn sep(c: char) -> Sep {
    match c {
        ',' => Sep::Comma,
        '-' | '–' | '—' => Sep::Hyphen,
        '\'' | '’' => Sep::Quote,
        '"' | '‘' | '“' | '”' | '(' | ')' | '«' | '»' => Sep::Space,
        c if c.is_whitespace() => Sep::Space,
        _ => Sep::Break,
    }
}

/// Gathers the separators of a gap into a [`Gap`]; `None` once a break is seen.
#[derive(Default)]
struct GapScan {
    space: bool,
    hyphen: bool,
    quote: bool,
    comma: bool,
    chars: usize,
}

impl GapScan {
    /// Adds one separator character; false at a break.
    #[inline]
    fn add(&mut self, c: char) -> bool {
        self.chars += 1;
        match sep(c) {
            Sep::Space => self.space = true,
            Sep::Hyphen => self.hyphen = true,
            Sep::Quote => self.quote = true,
            Sep::Comma => self.comma = true,
            Sep::Break => return false,
        }
        true
    }

    fn gap(&self) -> Gap {
        if self.comma {
            Gap::Comma
        } else if self.quote && self.chars == 1 {
            Gap::Apostrophe
        } else if self.space || self.quote {
            Gap::Space
        } else {
            // A hyphen alone, or no separator at all (a word split by a non-word character
            // the caller stopped at).
            Gap::Hyphen
        }
    }
}

/// The word after byte `pos` of `text` (a character boundary), if only spaces, quotes,
/// brackets, hyphens, dashes or a comma separate it from `pos`.
#[inline]
pub(crate) fn word_after(text: &str, pos: usize) -> Option<Word<'_>> {
    let bytes = text.as_bytes();
    let mut i = pos;
    let mut scan = GapScan::default();
    let start = loop {
        let &b = bytes.get(i)?;
        let (c, len) = if b < 0x80 {
            (b as char, 1)
        } else {
            let c = text[i..].chars().next()?;
            (c, c.len_utf8())
        };
        if is_word_char(c) {
            break i;
        }
        if !scan.add(c) {
            return None;
        }
        i += len;
    };
    let mut end = start;
    while end < bytes.len() {
        let b = bytes[end];
        if b < 0x80 {
            if !ASCII_WORD[b as usize] {
                break;
            }
            end += 1;
        } else {
            let c = text[end..].chars().next().expect("a character boundary");
            if !is_word_char(c) {
                break;
            }
            end += c.len_utf8();
        }
    }
    Some(Word {
        text: &text[start..end],
        start,
        end,
        gap: scan.gap(),
    })
}

/// The word before byte `pos` of `text` (a character boundary), if only spaces, quotes,
/// brackets, hyphens, dashes or a comma separate it from `pos`.
#[inline]
pub(crate) fn word_before(text: &str, pos: usize) -> Option<Word<'_>> {
    let bytes = text.as_bytes();
    let mut i = pos;
    let mut scan = GapScan::default();
    let end = loop {
        if i == 0 {
            return None;
        }
        let b = bytes[i - 1];
        let (c, len) = if b < 0x80 {
            (b as char, 1)
        } else {
            let c = text[..i].chars().next_back()?;
            (c, c.len_utf8())
        };
        if is_word_char(c) {
            break i;
        }
        if !scan.add(c) {
            return None;
        }
        i -= len;
    };
    let mut start = end;
    while start > 0 {
        let b = bytes[start - 1];
        if b < 0x80 {
            if !ASCII_WORD[b as usize] {
                break;
            }
            start -= 1;
        } else {
            let c = text[..start]
                .chars()
                .next_back()
                .expect("a character boundary");
            if !is_word_char(c) {
                break;
            }
            start -= c.len_utf8();
        }
    }
    Some(Word {
        text: &text[start..end],
        start,
        end,
        gap: scan.gap(),
    })
}

/// The word before the term starting at `s` as the `prev_word` rules see it.
#[inline]
pub(crate) fn adjacent_before(text: &str, s: usize) -> &str {
    match word_before(text, s) {
        Some(w) if w.gap != Gap::Comma => w.text,
        _ => "",
    }
}

/// Words with a set of class bits each ([`WordTable::get`] is their union, 0 for an unknown
/// word): one lookup tells everything a context rule needs to know about a word. ASCII words of
/// at most 16 bytes (nearly all) are found by their lower-case bytes in an open-addressed
/// table; longer or non-ASCII ones in a hash map.
#[derive(Debug, Clone)]
pub(crate) struct WordTable {
    /// (key, bits), key (0, 0) for an empty slot; at most half full.
    slots: Box<[((u64, u64), u32)]>,
    len: usize,
    long: std::collections::HashMap<Box<[u8]>, u32, BuildKeyHasher>,
}

impl Default for WordTable {
    fn default() -> Self {
        WordTable {
            slots: vec![((0, 0), 0); 16].into_boxed_slice(),
            len: 0,
            long: Default::default(),
        }
    }
}

/// The key of an ASCII word of 1 to 16 bytes: its [`word_key`] (first 8 bytes and length) and
/// its next 8 bytes, in lower case.
#[inline]
fn key16(w: &[u8]) -> Option<(u64, u64)> {
    if w.is_empty() || w.len() > 16 {
        return None;
    }
    let first = word_key(w, 0, w.len())?;
    if w.len() <= 8 {
        return Some((first, 0));
    }
    let mut buf = [0u8; 8];
    for (d, s) in buf.iter_mut().zip(&w[8..]) {
        *d = s.to_ascii_lowercase();
    }
    Some((first, u64::from_le_bytes(buf)))
}

impl WordTable {
    /// Adds `bits` to the classes of `w` (compared in lower case).
    pub(crate) fn insert(&mut self, w: &str, bits: u32) {
        let lower = w.to_lowercase();
        match key16(lower.as_bytes()) {
            Some(k) => {
                if (self.len + 1) * 2 > self.slots.len() {
                    self.grow();
                }
                let i = self.find(k);
                if self.slots[i].0 == (0, 0) {
                    self.slots[i].0 = k;
                    self.len += 1;
                }
                self.slots[i].1 |= bits;
            }
            None => {
                *self
                    .long
                    .entry(lower.into_bytes().into_boxed_slice())
                    .or_default() |= bits
            }
        }
    }

    fn grow(&mut self) {
        let size = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![((0, 0), 0); size].into_boxed_slice());
        for (k, bits) in old.iter().copied().filter(|&(k, _)| k != (0, 0)) {
            let i = self.find(k);
            self.slots[i] = (k, bits);
        }
    }

    /// The slot of key `k`, or the empty slot where it would go.
    #[inline]
    fn find(&self, k: (u64, u64)) -> usize {
        let mask = self.slots.len() - 1;
        let h = (k.0 ^ k.1.rotate_left(17)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut i = (h >> 40) as usize & mask;
        loop {
            let (key, _) = self.slots[i];
            if key == k || key == (0, 0) {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The class bits of `w` (in any case).
    #[inline]
    pub(crate) fn get(&self, w: &str) -> u32 {
        if let Some(k) = key16(w.as_bytes()) {
            return self.slots[self.find(k)].1;
        }
        if w.is_empty() || self.long.is_empty() {
            return 0;
        }
        let lower = w.to_lowercase();
        match key16(lower.as_bytes()) {
            Some(k) => self.slots[self.find(k)].1,
            None => self.long.get(lower.as_bytes()).copied().unwrap_or(0),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len + self.long.len()
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.slots.len() * 24 + self.long.keys().map(|w| w.len() + 40).sum::<usize>()
    }
}
