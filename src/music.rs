//! Musical keys: pitch classes, major/minor keys and the Camelot wheel.
//!
//! One vocabulary shared by the demo synthesiser (which writes music in a
//! key), the analyzer (which detects a track's key) and the scheduler (which
//! prefers harmonically compatible transitions).
//!
//! - [`PitchClass`]: a note name without octave, `0 = C … 11 = B`, named with
//!   sharps (`C#`, never `Db`) when printed.
//! - [`Key`]: a tonic and a [`Mode`]; [`Key::ALL`] lists the 24 keys in one
//!   fixed order (the 12 major keys from C, then the 12 minor keys from C), and
//!   [`Key::index`] is the position in that list.
//! - [`Camelot`]: the DJ's Camelot wheel code of a key (`8A` = A minor,
//!   `8B` = C major). Numbers step by a fifth round the wheel; `A` is minor,
//!   `B` is major, and a key and its relative share a number.
//! - [`camelot_distance`]: how many steps apart two keys are on the wheel, and
//!   [`is_compatible`]: distance ≤ 1, the usual "harmonic mixing" rule.
//!
//! Keys print and serialise as their name (`"A minor"`, `"F# major"`) and
//! parse from a name in common spellings (`"Am"`, `"F#"`, `"Gb major"`,
//! `"c♯ min"`) or from a Camelot code (`"8A"`); the `FromStr` impl on
//! [`Key`] lists the spellings. A bad string gives a [`ParseKeyError`] that
//! carries the text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Pitch-class names, with sharps, indexed by [`PitchClass::index`].
const NAMES: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

/// A pitch class: a note name without octave, `0 = C`, `1 = C#`, … `11 = B`.
///
/// The value is always in `0..12`; arithmetic wraps round the octave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PitchClass(u8);

impl PitchClass {
    /// C.
    pub const C: Self = Self(0);
    /// C sharp / D flat.
    pub const C_SHARP: Self = Self(1);
    /// D.
    pub const D: Self = Self(2);
    /// D sharp / E flat.
    pub const D_SHARP: Self = Self(3);
    /// E.
    pub const E: Self = Self(4);
    /// F.
    pub const F: Self = Self(5);
    /// F sharp / G flat.
    pub const F_SHARP: Self = Self(6);
    /// G.
    pub const G: Self = Self(7);
    /// G sharp / A flat.
    pub const G_SHARP: Self = Self(8);
    /// A.
    pub const A: Self = Self(9);
    /// A sharp / B flat.
    pub const A_SHARP: Self = Self(10);
    /// B.
    pub const B: Self = Self(11);

    /// All 12 pitch classes, C first.
    pub const ALL: [Self; 12] = [
        Self(0),
        Self(1),
        Self(2),
        Self(3),
        Self(4),
        Self(5),
        Self(6),
        Self(7),
        Self(8),
        Self(9),
        Self(10),
        Self(11),
    ];

    /// The pitch class with this index, or `None` unless `index < 12`.
    pub const fn new(index: u8) -> Option<Self> {
        if index < 12 {
            Some(Self(index))
        } else {
            None
        }
    }

    /// The pitch class `semitones` above C, wrapping round the octave
    /// (so `-1` is B and `12` is C). Also the pitch class of a MIDI note.
    pub const fn from_semitones(semitones: i32) -> Self {
        // rem_euclid(12) is in 0..12, so the cast is lossless.
        Self(semitones.rem_euclid(12) as u8)
    }

    /// The index, `0 = C … 11 = B`.
    pub const fn index(self) -> u8 {
        self.0
    }

    /// This pitch class moved up by `semitones` (down if negative), wrapping.
    pub const fn transpose(self, semitones: i32) -> Self {
        Self::from_semitones(self.0 as i32 + semitones)
    }

    /// The upward interval from `self` to `other`, in semitones `0..12`.
    pub const fn interval_to(self, other: Self) -> u8 {
        (other.0 + 12 - self.0) % 12
    }

    /// The name with sharps: `"C"`, `"C#"`, … `"B"`.
    pub const fn name(self) -> &'static str {
        NAMES[self.0 as usize]
    }
}

impl fmt::Display for PitchClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PitchClass {
    type Err = ParseKeyError;

    /// Parses a note letter `A`–`G` (either case) with at most one accidental:
    /// `#`/`♯` (sharp) or `b`/`♭` (flat). Enharmonics wrap: `Cb` is B, `E#` is F.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        match split_note(text) {
            Some((pc, "")) => Ok(pc),
            _ => Err(ParseKeyError::Note { text: s.to_owned() }),
        }
    }
}

/// Splits a leading note name (letter plus optional accidental) off `text`,
/// returning the pitch class and the rest.
fn split_note(text: &str) -> Option<(PitchClass, &str)> {
    let mut chars = text.chars();
    let letter = chars.next()?;
    let natural: i32 = match letter.to_ascii_uppercase() {
        'C' => 0,
        'D' => 2,
        'E' => 4,
        'F' => 5,
        'G' => 7,
        'A' => 9,
        'B' => 11,
        _ => return None,
    };
    let rest = chars.as_str();
    let mut after = rest.chars();
    let (alter, rest) = match after.next() {
        Some('#' | '♯') => (1, after.as_str()),
        Some('b' | '♭') => (-1, after.as_str()),
        _ => (0, rest),
    };
    Some((PitchClass::from_semitones(natural + alter), rest))
}

/// The mode of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Major (Ionian); the `B` side of the Camelot wheel.
    Major,
    /// Natural minor (Aeolian); the `A` side of the Camelot wheel.
    Minor,
}

impl Mode {
    /// `"major"` or `"minor"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Major => "major",
            Self::Minor => "minor",
        }
    }

    /// The other mode.
    pub const fn other(self) -> Self {
        match self {
            Self::Major => Self::Minor,
            Self::Minor => Self::Major,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A musical key: a tonic pitch class and a mode, e.g. A minor.
///
/// Displays, parses and serialises as its name (`"A minor"`); see the
/// [module docs](self) for accepted spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// The tonic (home note).
    pub tonic: PitchClass,
    /// Major or minor.
    pub mode: Mode,
}

impl Key {
    /// All 24 keys in a fixed order: C major, C# major, … B major, then
    /// C minor, C# minor, … B minor. [`Key::index`] is the position here.
    pub const ALL: [Self; 24] = {
        let mut all = [Self::major(PitchClass::C); 24];
        let mut i = 0;
        while i < 24 {
            all[i] = match Self::from_index(i) {
                Some(key) => key,
                None => unreachable!(),
            };
            i += 1;
        }
        all
    };

    /// A key from its parts.
    pub const fn new(tonic: PitchClass, mode: Mode) -> Self {
        Self { tonic, mode }
    }

    /// The major key on `tonic`.
    pub const fn major(tonic: PitchClass) -> Self {
        Self::new(tonic, Mode::Major)
    }

    /// The minor key on `tonic`.
    pub const fn minor(tonic: PitchClass) -> Self {
        Self::new(tonic, Mode::Minor)
    }

    /// The 24 keys in [`Key::ALL`] order (a convenience iterator).
    pub fn all() -> impl Iterator<Item = Self> {
        Self::ALL.into_iter()
    }

    /// The position of this key in [`Key::ALL`]: `tonic` for major keys,
    /// `12 + tonic` for minor keys.
    pub const fn index(self) -> usize {
        let base = match self.mode {
            Mode::Major => 0,
            Mode::Minor => 12,
        };
        base + self.tonic.index() as usize
    }

    /// The key at `index` in [`Key::ALL`], or `None` unless `index < 24`.
    pub const fn from_index(index: usize) -> Option<Self> {
        if index >= 24 {
            return None;
        }
        let mode = if index < 12 { Mode::Major } else { Mode::Minor };
        // index % 12 < 12, so the cast is lossless.
        Some(Self::new(PitchClass((index % 12) as u8), mode))
    }

    /// The name: tonic with sharps, a space, the mode, e.g. `"F# major"`.
    pub fn name(self) -> String {
        format!("{} {}", self.tonic, self.mode)
    }

    /// The relative key: same notes, other mode (A minor ↔ C major).
    /// It has the same Camelot number and the other letter.
    pub const fn relative(self) -> Self {
        match self.mode {
            Mode::Major => Self::minor(self.tonic.transpose(-3)),
            Mode::Minor => Self::major(self.tonic.transpose(3)),
        }
    }

    /// The parallel key: same tonic, other mode (A minor ↔ A major).
    pub const fn parallel(self) -> Self {
        Self::new(self.tonic, self.mode.other())
    }

    /// The Camelot wheel code of this key.
    ///
    /// Major keys: C major is `8B` and each fifth up adds one (G major `9B`,
    /// … B major `1B`). Minor keys take the number of their relative major
    /// with letter `A` (A minor `8A`).
    pub const fn camelot(self) -> Camelot {
        let major_tonic = match self.mode {
            Mode::Major => self.tonic,
            Mode::Minor => self.relative().tonic,
        };
        // Each fifth (7 semitones) is one step; C (0) sits at 8.
        // (7·pc + 7) mod 12 is in 0..12, so the number is in 1..=12.
        let number = (7 * major_tonic.index() + 7) % 12 + 1;
        let letter = match self.mode {
            Mode::Major => CamelotLetter::B,
            Mode::Minor => CamelotLetter::A,
        };
        Camelot { number, letter }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tonic, self.mode)
    }
}

impl FromStr for Key {
    type Err = ParseKeyError;

    /// Parses a key name or a Camelot code; surrounding whitespace and case
    /// are ignored except as noted.
    ///
    /// - A Camelot code: `1`–`12` then `A` (minor) or `B` (major): `"8A"`, `"12b"`.
    /// - A note ([`PitchClass`] spelling: `"F#"`, `"Gb"`, `"c♯"`), optional
    ///   space, then a mode: `major`/`maj`/`M` or `minor`/`min`/`m`, or
    ///   nothing for major. `"A minor"`, `"Am"`, `"F#"`, `"Gb major"`.
    ///   The one-letter forms follow chord symbols: lower-case `m` is minor,
    ///   upper-case `M` is major.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(ParseKeyError::Empty);
        }
        if text.starts_with(|c: char| c.is_ascii_digit()) {
            return text.parse::<Camelot>().map(Camelot::key);
        }
        let Some((tonic, rest)) = split_note(text) else {
            return Err(ParseKeyError::Note { text: s.to_owned() });
        };
        let mode_text = rest.trim();
        let mode = match mode_text {
            "" | "M" => Mode::Major,
            "m" => Mode::Minor,
            _ => match mode_text.to_ascii_lowercase().as_str() {
                "major" | "maj" => Mode::Major,
                "minor" | "min" => Mode::Minor,
                _ => {
                    return Err(ParseKeyError::Mode {
                        text: s.to_owned(),
                        mode: mode_text.to_owned(),
                    })
                }
            },
        };
        Ok(Self::new(tonic, mode))
    }
}

impl Serialize for Key {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The letter of a Camelot code: `A` for minor keys, `B` for major keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CamelotLetter {
    /// The inner ring: minor keys.
    A,
    /// The outer ring: major keys.
    B,
}

/// A position on the Camelot wheel, `1A`–`12B`.
///
/// The number is always in `1..=12`. Displays as e.g. `"8A"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Camelot {
    number: u8,
    letter: CamelotLetter,
}

impl Camelot {
    /// The code with this number and letter, or `None` unless `1 ≤ number ≤ 12`.
    pub const fn new(number: u8, letter: CamelotLetter) -> Option<Self> {
        if number >= 1 && number <= 12 {
            Some(Self { number, letter })
        } else {
            None
        }
    }

    /// The number, `1..=12`.
    pub const fn number(self) -> u8 {
        self.number
    }

    /// The letter: `A` (minor) or `B` (major).
    pub const fn letter(self) -> CamelotLetter {
        self.letter
    }

    /// The key at this position (the inverse of [`Key::camelot`]).
    pub const fn key(self) -> Key {
        // Invert number = (7·pc + 7) mod 12 + 1: 7 is its own inverse mod 12,
        // so pc = 7·(number − 1) − 1 (mod 12) for the major key.
        let major_tonic = PitchClass::from_semitones(7 * (self.number as i32 - 1) - 1);
        let major = Key::major(major_tonic);
        match self.letter {
            CamelotLetter::B => major,
            CamelotLetter::A => major.relative(),
        }
    }
}

impl fmt::Display for Camelot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = match self.letter {
            CamelotLetter::A => 'A',
            CamelotLetter::B => 'B',
        };
        write!(f, "{}{}", self.number, letter)
    }
}

impl FromStr for Camelot {
    type Err = ParseKeyError;

    /// Parses `1`–`12` followed by `A` or `B` (either case), e.g. `"8A"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let bad = || ParseKeyError::Camelot { text: s.to_owned() };
        let digits_end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, letter) = text.split_at(digits_end);
        let letter = match letter {
            "A" | "a" => CamelotLetter::A,
            "B" | "b" => CamelotLetter::B,
            _ => return Err(bad()),
        };
        // At most two digits keeps the parse from overflowing; 1..=12 checked by new.
        if digits.is_empty() || digits.len() > 2 {
            return Err(bad());
        }
        let number: u8 = digits.parse().map_err(|_| bad())?;
        Self::new(number, letter).ok_or_else(bad)
    }
}

/// Why a key, pitch class or Camelot code could not be parsed. Each variant
/// carries the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseKeyError {
    /// The text was empty or only whitespace.
    #[error("empty key: expected a name like \"A minor\" or a Camelot code like \"8A\"")]
    Empty,
    /// The text does not start with a note name `A`–`G` (with optional
    /// `#`/`b`), or has something after the note where only a note was wanted.
    #[error("{text:?} is not a key or note: expected a name like \"A minor\", \"F#m\", \"Gb major\" or a Camelot code like \"8A\"")]
    Note {
        /// The text as given.
        text: String,
    },
    /// The note parsed but the mode did not.
    #[error("{text:?}: unknown mode {mode:?}, expected major/maj/M, minor/min/m or nothing")]
    Mode {
        /// The text as given.
        text: String,
        /// The part after the note.
        mode: String,
    },
    /// The text started with a digit but is not a Camelot code `1A`–`12B`.
    #[error("{text:?} is not a Camelot code: expected 1 to 12 followed by A or B, like \"8A\"")]
    Camelot {
        /// The text as given.
        text: String,
    },
}

/// The number of steps between two keys on the Camelot wheel, `0..=7`.
///
/// The wheel is a graph: each key is joined to its relative (same number,
/// other letter) and to its two neighbours a fifth apart (number ±1 round
/// the 12-hour dial, same letter). The distance is the shortest path in that
/// graph, which is the circular number difference (`0..=6`) plus 1 if the
/// letters differ. So the same key is 0; a relative or a neighbour is 1; a
/// "diagonal" move such as `8A → 9B` (A minor → G major) or two fifths away
/// is 2; the farthest pair (e.g. `1A → 7B`) is 7. Symmetric.
pub fn camelot_distance(a: Key, b: Key) -> u8 {
    let (ca, cb) = (a.camelot(), b.camelot());
    let diff = ca.number.abs_diff(cb.number);
    let around = diff.min(12 - diff);
    around + u8::from(ca.letter != cb.letter)
}

/// Whether two keys mix harmonically: a Camelot distance of at most 1 (the
/// same key, its relative, or a fifth up or down in the same mode).
pub fn is_compatible(a: Key, b: Key) -> bool {
    camelot_distance(a, b) <= 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(s: &str) -> Key {
        s.parse().expect("test key names are valid")
    }

    /// The standard Camelot wheel, written out by hand.
    const WHEEL: [(&str, &str); 24] = [
        ("1A", "G# minor"),
        ("1B", "B major"),
        ("2A", "D# minor"),
        ("2B", "F# major"),
        ("3A", "A# minor"),
        ("3B", "C# major"),
        ("4A", "F minor"),
        ("4B", "G# major"),
        ("5A", "C minor"),
        ("5B", "D# major"),
        ("6A", "G minor"),
        ("6B", "A# major"),
        ("7A", "D minor"),
        ("7B", "F major"),
        ("8A", "A minor"),
        ("8B", "C major"),
        ("9A", "E minor"),
        ("9B", "G major"),
        ("10A", "B minor"),
        ("10B", "D major"),
        ("11A", "F# minor"),
        ("11B", "A major"),
        ("12A", "C# minor"),
        ("12B", "E major"),
    ];

    #[test]
    fn camelot_codes_match_the_standard_wheel_for_all_24_keys() {
        for (code, name) in WHEEL {
            let k = key(name);
            assert_eq!(k.name(), name);
            assert_eq!(k.camelot().to_string(), code, "{name}");
            let parsed: Camelot = code.parse().expect("wheel codes are valid");
            assert_eq!(parsed.key(), k, "{code}");
            assert_eq!(key(code), k, "{code}");
        }
        let mut codes: Vec<String> = Key::all().map(|k| k.camelot().to_string()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 24, "every key has its own code");
    }

    #[test]
    fn flat_spellings_on_the_wheel() {
        assert_eq!(key("Ab minor").camelot().to_string(), "1A");
        assert_eq!(key("Ebm").camelot().to_string(), "2A");
        assert_eq!(key("Bb minor").camelot().to_string(), "3A");
        assert_eq!(key("Db").camelot().to_string(), "3B");
        assert_eq!(key("Gb major").camelot().to_string(), "2B");
    }

    #[test]
    fn all_is_in_index_order_and_covers_every_key() {
        assert_eq!(Key::ALL.len(), 24);
        for (i, k) in Key::all().enumerate() {
            assert_eq!(k.index(), i);
            assert_eq!(Key::from_index(i), Some(k));
        }
        assert_eq!(Key::ALL[0], Key::major(PitchClass::C));
        assert_eq!(Key::ALL[21], Key::minor(PitchClass::A));
        assert_eq!(Key::from_index(24), None);
    }

    #[test]
    fn pitch_class_names_and_arithmetic() {
        let names: Vec<&str> = PitchClass::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
        );
        assert_eq!(PitchClass::from_semitones(-1), PitchClass::B);
        assert_eq!(PitchClass::from_semitones(60), PitchClass::C);
        assert_eq!(PitchClass::A.transpose(3), PitchClass::C);
        assert_eq!(PitchClass::A.interval_to(PitchClass::C), 3);
        assert_eq!(PitchClass::C.interval_to(PitchClass::A), 9);
        assert_eq!(PitchClass::new(12), None);
        assert_eq!("Cb".parse::<PitchClass>(), Ok(PitchClass::B));
        assert_eq!("e#".parse::<PitchClass>(), Ok(PitchClass::F));
        assert_eq!("B♭".parse::<PitchClass>(), Ok(PitchClass::A_SHARP));
        assert!("H".parse::<PitchClass>().is_err());
        assert!("Am".parse::<PitchClass>().is_err());
    }

    #[test]
    fn parses_common_spellings() {
        let a_minor = Key::minor(PitchClass::A);
        for s in [
            "A minor", "a minor", "Am", "A m", "Amin", "A MINOR", " A  min ", "8A", "8a",
        ] {
            assert_eq!(key(s), a_minor, "{s:?}");
        }
        let f_sharp = Key::major(PitchClass::F_SHARP);
        for s in [
            "F#",
            "F# major",
            "F#maj",
            "F#M",
            "Gb major",
            "G♭",
            "f♯ Major",
            "2B",
        ] {
            assert_eq!(key(s), f_sharp, "{s:?}");
        }
        assert_eq!(key("Dbm"), Key::minor(PitchClass::C_SHARP));
        assert_eq!(key("Bb"), Key::major(PitchClass::A_SHARP));
        assert_eq!(key("B"), Key::major(PitchClass::B));
        assert_eq!(key("bm"), Key::minor(PitchClass::B));
        assert_eq!(key("12B"), Key::major(PitchClass::E));
    }

    #[test]
    fn parse_errors_name_the_text() {
        assert_eq!("".parse::<Key>(), Err(ParseKeyError::Empty));
        assert_eq!("  ".parse::<Key>(), Err(ParseKeyError::Empty));
        let cases = [
            ("H minor", "\"H minor\" is not a key or note"),
            ("A dorian", "\"A dorian\": unknown mode \"dorian\""),
            ("13A", "\"13A\" is not a Camelot code"),
            ("0B", "\"0B\" is not a Camelot code"),
            ("8C", "\"8C\" is not a Camelot code"),
            ("8", "\"8\" is not a Camelot code"),
            ("008A", "\"008A\" is not a Camelot code"),
            ("A##", "unknown mode \"#\""),
        ];
        for (text, message) in cases {
            let err = text.parse::<Key>().expect_err("case is invalid");
            assert!(
                err.to_string().contains(message),
                "{text:?} gave {err:?}: {err}"
            );
        }
    }

    #[test]
    fn relative_and_parallel() {
        assert_eq!(key("A minor").relative(), key("C major"));
        assert_eq!(key("C major").relative(), key("A minor"));
        assert_eq!(key("F# major").relative(), key("D# minor"));
        assert_eq!(key("A minor").parallel(), key("A major"));
        for k in Key::all() {
            assert_eq!(k.relative().relative(), k);
            assert_eq!(k.relative().camelot().number(), k.camelot().number());
            assert_ne!(k.relative().camelot().letter(), k.camelot().letter());
        }
    }

    #[test]
    fn distances_on_the_wheel() {
        let d = |a: &str, b: &str| camelot_distance(key(a), key(b));
        assert_eq!(d("8A", "8A"), 0);
        assert_eq!(d("8A", "8B"), 1, "relative");
        assert_eq!(d("8A", "9A"), 1, "fifth up");
        assert_eq!(d("8A", "7A"), 1, "fifth down");
        assert_eq!(d("12B", "1B"), 1, "wraps round 12");
        assert_eq!(d("1A", "12A"), 1, "wraps round 1");
        assert_eq!(d("8A", "9B"), 2, "diagonal");
        assert_eq!(d("8B", "10B"), 2, "two fifths");
        assert_eq!(d("8A", "2A"), 6, "opposite");
        assert_eq!(d("1A", "7B"), 7, "farthest");
        assert_eq!(d("2B", "11B"), 3, "wraps the short way");
        assert!(is_compatible(key("A minor"), key("C major")));
        assert!(is_compatible(key("A minor"), key("E minor")));
        assert!(is_compatible(key("A minor"), key("D minor")));
        assert!(!is_compatible(key("A minor"), key("A major")));
        assert!(!is_compatible(key("A minor"), key("G major")));
        let max = Key::all()
            .flat_map(|a| Key::all().map(move |b| camelot_distance(a, b)))
            .max();
        assert_eq!(max, Some(7));
        for k in Key::all() {
            let neighbours = Key::all().filter(|&o| camelot_distance(k, o) == 1).count();
            assert_eq!(neighbours, 3, "{k}: relative and two fifths");
        }
    }

    #[test]
    fn serde_uses_the_name() {
        let k = key("F# minor");
        let json = serde_json::to_string(&k).expect("a key serialises");
        assert_eq!(json, "\"F# minor\"");
        let back: Key = serde_json::from_str(&json).expect("its own output parses");
        assert_eq!(back, k);
        let from_code: Key = serde_json::from_str("\"11A\"").expect("a Camelot code parses");
        assert_eq!(from_code, k);
        let err = serde_json::from_str::<Key>("\"X minor\"").expect_err("X is not a note");
        assert!(err.to_string().contains("X minor"), "{err}");
        assert_eq!(
            serde_json::to_string(&Mode::Minor).expect("a mode serialises"),
            "\"minor\""
        );
    }

    fn any_key() -> impl Strategy<Value = Key> {
        (0usize..24).prop_map(|i| Key::ALL[i])
    }

    proptest! {
        #[test]
        fn name_and_camelot_round_trip(k in any_key()) {
            prop_assert_eq!(k.name().parse::<Key>(), Ok(k));
            prop_assert_eq!(k.to_string(), k.name());
            prop_assert_eq!(k.camelot().to_string().parse::<Key>(), Ok(k));
            prop_assert_eq!(k.camelot().key(), k);
        }

        #[test]
        fn distance_is_a_symmetric_metric(a in any_key(), b in any_key(), c in any_key()) {
            let ab = camelot_distance(a, b);
            prop_assert_eq!(ab, camelot_distance(b, a));
            prop_assert_eq!(ab == 0, a == b);
            prop_assert!(ab <= 7);
            prop_assert!(ab <= camelot_distance(a, c) + camelot_distance(c, b));
            prop_assert_eq!(is_compatible(a, b), ab <= 1);
        }
    }
}
