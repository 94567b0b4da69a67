//! Extension names and patterns: `100`, `s`, `_NXX.`, `_[1-5a]!`.
//!
//! Ordering follows Asterisk's `ext_cmp`: plain names before patterns; patterns
//! compared position by position, a smaller character set first (so `_12X` before
//! `_1XX`), `.` after every set, `!` after `.`, and the end of a pattern after
//! all of those. The first matching extension in that order wins a lookup.

use std::cmp::Ordering;
use std::fmt;

/// One position of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Elem {
    /// A set of characters (a literal is a set of one).
    Set(CharSet),
    /// `.`: one or more of anything; ends the pattern.
    OneOrMore,
    /// `!`: zero or more of anything; ends the pattern.
    ZeroOrMore,
}

/// Characters as a 256-bit map (byte values), laid out like Asterisk's bitmap
/// so that comparing two maps orders sets the way Asterisk does. Characters
/// above U+00FF are kept aside and compared literally.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CharSet {
    /// Bit (255 - c) of the 256-bit big-endian number `bits[0]:bits[1]` is char c.
    bits: [u128; 2],
    wide: Vec<char>,
}

impl CharSet {
    fn empty() -> Self {
        CharSet {
            bits: [0, 0],
            wide: Vec::new(),
        }
    }

    fn insert(&mut self, c: char) {
        let v = c as u32;
        if v < 128 {
            self.bits[0] |= 1u128 << (127 - v);
        } else if v < 256 {
            self.bits[1] |= 1u128 << (255 - v);
        } else if !self.wide.contains(&c) {
            self.wide.push(c);
        }
    }

    fn contains(&self, c: char) -> bool {
        let v = c as u32;
        if v < 128 {
            self.bits[0] & (1u128 << (127 - v)) != 0
        } else if v < 256 {
            self.bits[1] & (1u128 << (255 - v)) != 0
        } else {
            self.wide.contains(&c)
        }
    }

    fn count(&self) -> u32 {
        self.bits[0].count_ones() + self.bits[1].count_ones() + self.wide.len() as u32
    }

    fn first(&self) -> u32 {
        if self.bits[0] != 0 {
            self.bits[0].leading_zeros()
        } else if self.bits[1] != 0 {
            128 + self.bits[1].leading_zeros()
        } else {
            self.wide.iter().map(|c| *c as u32).min().unwrap_or(0)
        }
    }

    fn range(lo: char, hi: char) -> Self {
        let mut s = CharSet::empty();
        for c in lo..=hi {
            s.insert(c);
        }
        s
    }
}

/// An extension as written in `exten =>`: a plain name or a `_` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Literal,
    Match(Vec<Elem>),
}

/// Sort key values of Asterisk's `ext_cmp_pattern_pos`.
const KEY_ONE_OR_MORE: u32 = 0x18000;
const KEY_ZERO_OR_MORE: u32 = 0x28000;
const KEY_END: u32 = 0x30000;

impl Pattern {
    /// Parses an extension name. Returns a warning text for a malformed set
    /// (`[` without `]`), which then matches a literal `[` as Asterisk's would not
    /// match at all; either way the author must fix it.
    pub fn parse(text: &str) -> (Pattern, Option<String>) {
        let Some(body) = text.strip_prefix('_') else {
            return (
                Pattern {
                    text: text.to_string(),
                    kind: Kind::Literal,
                },
                None,
            );
        };
        let mut elems = Vec::new();
        let mut warning = None;
        let chars: Vec<char> = body.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '-' => {}
                'x' | 'X' => elems.push(Elem::Set(CharSet::range('0', '9'))),
                'z' | 'Z' => elems.push(Elem::Set(CharSet::range('1', '9'))),
                'n' | 'N' => elems.push(Elem::Set(CharSet::range('2', '9'))),
                '.' => {
                    elems.push(Elem::OneOrMore);
                    break;
                }
                '!' => {
                    elems.push(Elem::ZeroOrMore);
                    break;
                }
                '[' => match chars[i..].iter().position(|&c| c == ']') {
                    Some(len) => {
                        let set = parse_set(&chars[i..i + len]);
                        i += len + 1;
                        // Asterisk ignores an empty set.
                        if set.count() > 0 {
                            elems.push(Elem::Set(set));
                        }
                    }
                    None => {
                        warning = Some(format!("pattern {text:?} has a '[' without ']'"));
                        let mut s = CharSet::empty();
                        s.insert('[');
                        elems.push(Elem::Set(s));
                    }
                },
                other => {
                    let mut s = CharSet::empty();
                    s.insert(other);
                    elems.push(Elem::Set(s));
                }
            }
        }
        (
            Pattern {
                text: text.to_string(),
                kind: Kind::Match(elems),
            },
            warning,
        )
    }

    /// The extension as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn is_pattern(&self) -> bool {
        matches!(self.kind, Kind::Match(_))
    }

    /// Whether `exten` (a dialled string) matches this extension.
    pub fn matches(&self, exten: &str) -> bool {
        match &self.kind {
            Kind::Literal => self.text == exten,
            Kind::Match(elems) => walk(elems, exten) == Walk::Matched,
        }
    }

    /// Whether more digits after `exten` could still match (what a digit
    /// collector asks before it stops waiting).
    pub fn can_match_more(&self, exten: &str) -> bool {
        match &self.kind {
            Kind::Literal => self.text.len() > exten.len() && self.text.starts_with(exten),
            Kind::Match(elems) => {
                matches!(walk(elems, exten), Walk::Prefix | Walk::Matched)
                    && can_extend(elems, exten)
            }
        }
    }

    /// Asterisk's `ext_cmp`: `Less` means `self` is tried first.
    pub fn specificity_cmp(&self, other: &Pattern) -> Ordering {
        match (&self.kind, &other.kind) {
            (Kind::Literal, Kind::Literal) => {
                let a = self.text.chars().filter(|&c| c != '-');
                let b = other.text.chars().filter(|&c| c != '-');
                a.cmp(b)
            }
            (Kind::Literal, Kind::Match(_)) => Ordering::Less,
            (Kind::Match(_), Kind::Literal) => Ordering::Greater,
            (Kind::Match(a), Kind::Match(b)) => {
                let n = a.len().max(b.len()) + 1;
                for i in 0..n {
                    let ka = key(a.get(i));
                    let kb = key(b.get(i));
                    match ka.cmp(&kb) {
                        Ordering::Equal if ka.0 == KEY_END => return Ordering::Equal,
                        Ordering::Equal => {}
                        other => return other,
                    }
                }
                Ordering::Equal
            }
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn key(e: Option<&Elem>) -> (u32, [u128; 2]) {
    match e {
        None => (KEY_END, [0, 0]),
        Some(Elem::OneOrMore) => (KEY_ONE_OR_MORE, [0, 0]),
        Some(Elem::ZeroOrMore) => (KEY_ZERO_OR_MORE, [0, 0]),
        // The bitmap compares like Asterisk's memcmp: a set holding a lower
        // character has a higher bit set and so sorts later.
        Some(Elem::Set(s)) => ((s.count() << 8) | (s.first() & 0xff), s.bits),
    }
}

fn parse_set(chars: &[char]) -> CharSet {
    let mut set = CharSet::empty();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' {
            let (lo, hi) = (chars[i], chars[i + 2]);
            if lo <= hi {
                for c in lo..=hi {
                    set.insert(c);
                }
            }
            i += 3;
        } else {
            set.insert(chars[i]);
            i += 1;
        }
    }
    set
}

#[derive(Debug, PartialEq, Eq)]
enum Walk {
    /// Input fits the pattern completely.
    Matched,
    /// Input ran out while the pattern still needs characters.
    Prefix,
    /// Some character does not fit, or input is longer than the pattern.
    NoMatch,
}

fn walk(elems: &[Elem], input: &str) -> Walk {
    let chars: Vec<char> = input.chars().collect();
    let mut pos = 0;
    for e in elems {
        match e {
            Elem::ZeroOrMore => return Walk::Matched,
            Elem::OneOrMore => {
                return if pos < chars.len() {
                    Walk::Matched
                } else {
                    Walk::Prefix
                };
            }
            Elem::Set(s) => match chars.get(pos) {
                None => return Walk::Prefix,
                Some(&c) if s.contains(c) => pos += 1,
                Some(_) => return Walk::NoMatch,
            },
        }
    }
    if pos == chars.len() {
        Walk::Matched
    } else {
        Walk::NoMatch
    }
}

/// After `input` fits (fully or as a prefix), can a longer string still fit?
fn can_extend(elems: &[Elem], input: &str) -> bool {
    let n = input.chars().count();
    let mut fixed = 0;
    for e in elems {
        match e {
            Elem::Set(_) => fixed += 1,
            Elem::OneOrMore | Elem::ZeroOrMore => return true,
        }
    }
    fixed > n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::parse(s).0
    }

    #[test]
    fn matching_table() {
        let table: &[(&str, &str, bool)] = &[
            ("100", "100", true),
            ("100", "1000", false),
            ("s", "s", true),
            ("_X", "5", true),
            ("_X", "a", false),
            ("_Z", "0", false),
            ("_Z", "1", true),
            ("_N", "1", false),
            ("_n", "2", true),
            ("_x", "9", true),
            ("_NXX", "200", true),
            ("_NXX", "20", false),
            ("_NXX", "2000", false),
            ("_1[2-5a]", "1a", true),
            ("_1[2-5a]", "13", true),
            ("_1[2-5a]", "16", false),
            ("_1X.", "12", false),
            ("_1X.", "123", true),
            ("_1X.", "12345", true),
            ("_1X!", "12", true),
            ("_1X!", "1234", true),
            ("_X.", "*222", false),
            ("_*222x.#", "*222110", true),
            ("_*222x.#", "*222", false),
            ("_*222x.#", "*2221", false),
            ("_1-800-NXX", "1800234", true),
            ("_[]1", "1", true),
        ];
        for (pat, input, want) in table {
            assert_eq!(p(pat).matches(input), *want, "{pat} vs {input}");
        }
    }

    #[test]
    fn unterminated_set_warns() {
        let (_, w) = Pattern::parse("_1[23");
        assert!(w.unwrap().contains("'['"));
    }

    #[test]
    fn can_match_more() {
        assert!(p("_1XX").can_match_more("1"));
        assert!(p("_1XX").can_match_more("12"));
        assert!(!p("_1XX").can_match_more("123"));
        assert!(!p("_1XX").can_match_more("2"));
        assert!(p("_1.").can_match_more("1"));
        assert!(p("_1.").can_match_more("12"));
        assert!(p("100").can_match_more("10"));
        assert!(!p("100").can_match_more("100"));
    }

    #[test]
    fn ordering_table() {
        // Each pair: first is tried before second.
        let table: &[(&str, &str)] = &[
            ("100", "_1XX"),
            ("100", "_X."),
            ("101", "102"),
            ("_12X", "_1XX"),
            ("_1NX", "_1XX"),
            ("_1ZX", "_1XX"),
            ("_1NX", "_1ZX"),
            ("_1[2-4]X", "_1NX"),
            ("_1XX", "_1X."),
            ("_1X.", "_1X!"),
            ("_1X.", "_1X"),
            ("_1XX", "_1X"),
            ("_X.", "_."),
            ("_NXXXXXX", "_X."),
            ("_[13]X", "_[12]X"),
        ];
        for (a, b) in table {
            assert_eq!(
                p(a).specificity_cmp(&p(b)),
                Ordering::Less,
                "{a} before {b}"
            );
            assert_eq!(
                p(b).specificity_cmp(&p(a)),
                Ordering::Greater,
                "{b} after {a}"
            );
        }
        assert_eq!(p("_1-X").specificity_cmp(&p("_1X")), Ordering::Equal);
    }
}
