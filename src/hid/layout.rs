//! Keyboard layouts: which key (usage) and modifiers type a character on the
//! target. Paste uses `strokes`; the demo target, acting as a host, uses
//! `char_for` to turn what it receives back into text.
//!
//! The tables follow the Windows layouts of the same name, AltGr sent as Right
//! Alt. Characters that need a dead key there (`ê` on French, `^` on German)
//! are two strokes: the dead key, then the base letter or Space. A character a
//! layout cannot type in a way that holds on every common host (UK `á`, Italian
//! `~`) is left out, so paste reports it instead of typing something else.

/// Modifier bits of the keyboard report.
pub const LCTRL: u8 = 0x01;
pub const LSHIFT: u8 = 0x02;
pub const LALT: u8 = 0x04;
pub const LGUI: u8 = 0x08;
pub const RCTRL: u8 = 0x10;
pub const RSHIFT: u8 = 0x20;
/// AltGr on layouts that have it.
pub const RALT: u8 = 0x40;
pub const RGUI: u8 = 0x80;

/// One key press: a usage on page 0x07 with the modifiers held for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stroke {
    pub usage: u8,
    pub modifiers: u8,
}

pub struct Layout {
    /// `us`, `uk`, `de`, ...: the name the API and UI use.
    pub name: &'static str,
    /// The usage of each letter `a..=z`; the capital is the same key with Shift.
    letters: [u8; 26],
    /// Every other character the layout types with one stroke: character, usage, modifiers.
    keys: &'static [(char, u8, u8)],
    dead_keys: &'static [DeadKey],
}

/// A key that types nothing by itself but changes the next character.
struct DeadKey {
    usage: u8,
    modifiers: u8,
    /// What the dead key followed by Space types.
    alone: char,
    /// Base character, what the dead key followed by it types.
    composes: &'static [(char, char)],
}

/// Usage of Space, which turns a dead key into its own character.
const SPACE: u8 = 0x2C;
/// The ISO key left of Enter (US `\`'s neighbour, "Non-US #") and the US `\`
/// key: hosts treat the two usages as one key.
const NON_US_HASH: u8 = 0x32;
const BACKSLASH: u8 = 0x31;

impl Layout {
    /// The one keystroke that types `c`, or `None` when this layout cannot type
    /// it with one stroke (see `strokes`).
    pub fn stroke(&self, c: char) -> Option<Stroke> {
        let letter = c.to_ascii_lowercase();
        if letter.is_ascii_lowercase() {
            let usage = self.letters[usize::from(letter as u8 - b'a')];
            let modifiers = if c.is_ascii_uppercase() { LSHIFT } else { 0 };
            return Some(Stroke { usage, modifiers });
        }
        self.all_keys()
            .find(|&&(k, _, _)| k == c)
            .map(|&(_, usage, modifiers)| Stroke { usage, modifiers })
    }

    /// The keystrokes that type `c` (one, or a dead key and one), or `None` when
    /// this layout cannot type it.
    pub fn strokes(&self, c: char) -> Option<Vec<Stroke>> {
        if let Some(stroke) = self.stroke(c) {
            return Some(vec![stroke]);
        }
        self.dead_keys.iter().find_map(|dead| {
            let base = if dead.alone == c {
                Stroke {
                    usage: SPACE,
                    modifiers: 0,
                }
            } else {
                let &(base, _) = dead.composes.iter().find(|&&(_, made)| made == c)?;
                self.stroke(base)?
            };
            let dead = Stroke {
                usage: dead.usage,
                modifiers: dead.modifiers,
            };
            Some(vec![dead, base])
        })
    }

    /// Whether Caps Lock changes what `stroke` types: the letters `a..=z`.
    pub fn is_letter(&self, stroke: Stroke) -> bool {
        stroke.modifiers & !(LSHIFT | RSHIFT) == 0 && self.letters.contains(&stroke.usage)
    }

    /// The character a host with this layout types for `usage` with `modifiers`
    /// held (either Shift counts as Shift). Dead keys type nothing by themselves.
    pub fn char_for(&self, usage: u8, modifiers: u8) -> Option<char> {
        let shift = if modifiers & (LSHIFT | RSHIFT) != 0 {
            LSHIFT
        } else {
            0
        };
        let wanted = shift | (modifiers & RALT);
        let lookup = |usage: u8| {
            self.all_keys()
                .find(|&&(_, u, m)| u == usage && m == wanted)
                .map(|&(c, _, _)| c)
                .or_else(|| self.letter_for(usage, wanted))
        };
        lookup(usage).or_else(|| match usage {
            BACKSLASH => lookup(NON_US_HASH),
            NON_US_HASH => lookup(BACKSLASH),
            _ => None,
        })
    }

    fn all_keys(&self) -> impl Iterator<Item = &(char, u8, u8)> {
        WHITESPACE.iter().chain(self.keys)
    }

    fn letter_for(&self, usage: u8, modifiers: u8) -> Option<char> {
        let index = self.letters.iter().position(|&u| u == usage)?;
        let letter = char::from(b'a' + index as u8);
        match modifiers {
            0 => Some(letter),
            LSHIFT => Some(letter.to_ascii_uppercase()),
            _ => None,
        }
    }
}

/// Every layout, by the names `by_name` accepts.
pub const NAMES: &[&str] = &["us", "uk", "de", "fr", "es", "it"];
static LAYOUTS: [&Layout; 6] = [&US, &UK, &DE, &FR, &ES, &IT];

/// The layout called `name` (`us`, `de`, ...; any case).
pub fn by_name(name: &str) -> Option<&'static Layout> {
    LAYOUTS
        .iter()
        .copied()
        .find(|layout| layout.name.eq_ignore_ascii_case(name))
}

const S: u8 = LSHIFT;
const G: u8 = RALT;
const SG: u8 = LSHIFT | RALT;

/// The letters where a US keyboard has them.
#[rustfmt::skip]
const QWERTY: [u8; 26] = [
    0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
];

/// German: Z and Y trade places.
#[rustfmt::skip]
const QWERTZ: [u8; 26] = [
    0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1d, 0x1c,
];

/// French: A/Q and Z/W trade places, M sits where US has `;`.
#[rustfmt::skip]
const AZERTY: [u8; 26] = [
    0x14, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x33,
    0x11, 0x12, 0x13, 0x04, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1d, 0x1b, 0x1c, 0x1a,
];

/// Enter, Tab and Space: the same keys on every layout.
const WHITESPACE: &[(char, u8, u8)] = &[('\n', 0x28, 0), ('\t', 0x2b, 0), (' ', SPACE, 0)];

#[rustfmt::skip]
pub static US: Layout = Layout {
    name: "us",
    letters: QWERTY,
    keys: &[
        ('1', 0x1e, 0), ('2', 0x1f, 0), ('3', 0x20, 0), ('4', 0x21, 0), ('5', 0x22, 0),
        ('6', 0x23, 0), ('7', 0x24, 0), ('8', 0x25, 0), ('9', 0x26, 0), ('0', 0x27, 0),
        ('!', 0x1e, S), ('@', 0x1f, S), ('#', 0x20, S), ('$', 0x21, S), ('%', 0x22, S),
        ('^', 0x23, S), ('&', 0x24, S), ('*', 0x25, S), ('(', 0x26, S), (')', 0x27, S),
        ('-', 0x2d, 0), ('_', 0x2d, S), ('=', 0x2e, 0), ('+', 0x2e, S),
        ('[', 0x2f, 0), ('{', 0x2f, S), (']', 0x30, 0), ('}', 0x30, S),
        ('\\', 0x31, 0), ('|', 0x31, S), (';', 0x33, 0), (':', 0x33, S),
        ('\'', 0x34, 0), ('"', 0x34, S), ('`', 0x35, 0), ('~', 0x35, S),
        (',', 0x36, 0), ('<', 0x36, S), ('.', 0x37, 0), ('>', 0x37, S),
        ('/', 0x38, 0), ('?', 0x38, S),
    ],
    dead_keys: &[],
};

#[rustfmt::skip]
pub static UK: Layout = Layout {
    name: "uk",
    letters: QWERTY,
    keys: &[
        ('`', 0x35, 0), ('¬', 0x35, S),
        ('1', 0x1e, 0), ('2', 0x1f, 0), ('3', 0x20, 0), ('4', 0x21, 0), ('5', 0x22, 0),
        ('6', 0x23, 0), ('7', 0x24, 0), ('8', 0x25, 0), ('9', 0x26, 0), ('0', 0x27, 0),
        ('!', 0x1e, S), ('"', 0x1f, S), ('£', 0x20, S), ('$', 0x21, S), ('%', 0x22, S),
        ('^', 0x23, S), ('&', 0x24, S), ('*', 0x25, S), ('(', 0x26, S), (')', 0x27, S),
        ('€', 0x21, G),
        ('-', 0x2d, 0), ('_', 0x2d, S), ('=', 0x2e, 0), ('+', 0x2e, S),
        ('[', 0x2f, 0), ('{', 0x2f, S), (']', 0x30, 0), ('}', 0x30, S),
        (';', 0x33, 0), (':', 0x33, S), ('\'', 0x34, 0), ('@', 0x34, S),
        ('#', 0x32, 0), ('~', 0x32, S), ('\\', 0x64, 0), ('|', 0x64, S),
        (',', 0x36, 0), ('<', 0x36, S), ('.', 0x37, 0), ('>', 0x37, S),
        ('/', 0x38, 0), ('?', 0x38, S),
    ],
    dead_keys: &[],
};

#[rustfmt::skip]
pub static DE: Layout = Layout {
    name: "de",
    letters: QWERTZ,
    keys: &[
        ('°', 0x35, S),
        ('1', 0x1e, 0), ('2', 0x1f, 0), ('3', 0x20, 0), ('4', 0x21, 0), ('5', 0x22, 0),
        ('6', 0x23, 0), ('7', 0x24, 0), ('8', 0x25, 0), ('9', 0x26, 0), ('0', 0x27, 0),
        ('!', 0x1e, S), ('"', 0x1f, S), ('§', 0x20, S), ('$', 0x21, S), ('%', 0x22, S),
        ('&', 0x23, S), ('/', 0x24, S), ('(', 0x25, S), (')', 0x26, S), ('=', 0x27, S),
        ('²', 0x1f, G), ('³', 0x20, G), ('{', 0x24, G), ('[', 0x25, G), (']', 0x26, G),
        ('}', 0x27, G),
        ('ß', 0x2d, 0), ('?', 0x2d, S), ('\\', 0x2d, G),
        ('ü', 0x2f, 0), ('Ü', 0x2f, S), ('+', 0x30, 0), ('*', 0x30, S), ('~', 0x30, G),
        ('ö', 0x33, 0), ('Ö', 0x33, S), ('ä', 0x34, 0), ('Ä', 0x34, S),
        ('#', 0x32, 0), ('\'', 0x32, S), ('<', 0x64, 0), ('>', 0x64, S), ('|', 0x64, G),
        (',', 0x36, 0), (';', 0x36, S), ('.', 0x37, 0), (':', 0x37, S),
        ('-', 0x38, 0), ('_', 0x38, S),
        ('@', 0x14, G), ('€', 0x08, G), ('µ', 0x10, G),
    ],
    dead_keys: &[
        DeadKey { usage: 0x35, modifiers: 0, alone: '^', composes: CIRCUMFLEX },
        DeadKey { usage: 0x2e, modifiers: 0, alone: '´', composes: ACUTE },
        DeadKey { usage: 0x2e, modifiers: S, alone: '`', composes: GRAVE },
    ],
};

#[rustfmt::skip]
pub static FR: Layout = Layout {
    name: "fr",
    letters: AZERTY,
    keys: &[
        ('²', 0x35, 0),
        ('&', 0x1e, 0), ('é', 0x1f, 0), ('"', 0x20, 0), ('\'', 0x21, 0), ('(', 0x22, 0),
        ('-', 0x23, 0), ('è', 0x24, 0), ('_', 0x25, 0), ('ç', 0x26, 0), ('à', 0x27, 0),
        ('1', 0x1e, S), ('2', 0x1f, S), ('3', 0x20, S), ('4', 0x21, S), ('5', 0x22, S),
        ('6', 0x23, S), ('7', 0x24, S), ('8', 0x25, S), ('9', 0x26, S), ('0', 0x27, S),
        ('#', 0x20, G), ('{', 0x21, G), ('[', 0x22, G), ('|', 0x23, G), ('\\', 0x25, G),
        ('^', 0x26, G), ('@', 0x27, G),
        (')', 0x2d, 0), ('°', 0x2d, S), (']', 0x2d, G), ('=', 0x2e, 0), ('+', 0x2e, S),
        ('}', 0x2e, G),
        ('$', 0x30, 0), ('£', 0x30, S), ('¤', 0x30, G),
        ('ù', 0x34, 0), ('%', 0x34, S), ('*', 0x32, 0), ('µ', 0x32, S),
        ('<', 0x64, 0), ('>', 0x64, S),
        (',', 0x10, 0), ('?', 0x10, S), (';', 0x36, 0), ('.', 0x36, S),
        (':', 0x37, 0), ('/', 0x37, S), ('!', 0x38, 0), ('§', 0x38, S),
        ('€', 0x08, G),
    ],
    dead_keys: &[
        DeadKey { usage: 0x2f, modifiers: 0, alone: '^', composes: CIRCUMFLEX },
        DeadKey { usage: 0x2f, modifiers: S, alone: '¨', composes: DIAERESIS },
        DeadKey { usage: 0x1f, modifiers: G, alone: '~', composes: TILDE },
        DeadKey { usage: 0x24, modifiers: G, alone: '`', composes: GRAVE },
    ],
};

#[rustfmt::skip]
pub static ES: Layout = Layout {
    name: "es",
    letters: QWERTY,
    keys: &[
        ('º', 0x35, 0), ('ª', 0x35, S), ('\\', 0x35, G),
        ('1', 0x1e, 0), ('2', 0x1f, 0), ('3', 0x20, 0), ('4', 0x21, 0), ('5', 0x22, 0),
        ('6', 0x23, 0), ('7', 0x24, 0), ('8', 0x25, 0), ('9', 0x26, 0), ('0', 0x27, 0),
        ('!', 0x1e, S), ('"', 0x1f, S), ('·', 0x20, S), ('$', 0x21, S), ('%', 0x22, S),
        ('&', 0x23, S), ('/', 0x24, S), ('(', 0x25, S), (')', 0x26, S), ('=', 0x27, S),
        ('|', 0x1e, G), ('@', 0x1f, G), ('#', 0x20, G), ('¬', 0x23, G),
        ('\'', 0x2d, 0), ('?', 0x2d, S), ('¡', 0x2e, 0), ('¿', 0x2e, S),
        ('[', 0x2f, G), ('+', 0x30, 0), ('*', 0x30, S), (']', 0x30, G),
        ('ñ', 0x33, 0), ('Ñ', 0x33, S), ('{', 0x34, G),
        ('ç', 0x32, 0), ('Ç', 0x32, S), ('}', 0x32, G), ('<', 0x64, 0), ('>', 0x64, S),
        (',', 0x36, 0), (';', 0x36, S), ('.', 0x37, 0), (':', 0x37, S),
        ('-', 0x38, 0), ('_', 0x38, S),
        ('€', 0x08, G),
    ],
    dead_keys: &[
        DeadKey { usage: 0x2f, modifiers: 0, alone: '`', composes: GRAVE },
        DeadKey { usage: 0x2f, modifiers: S, alone: '^', composes: CIRCUMFLEX },
        DeadKey { usage: 0x34, modifiers: 0, alone: '´', composes: ACUTE },
        DeadKey { usage: 0x34, modifiers: S, alone: '¨', composes: DIAERESIS },
    ],
};

#[rustfmt::skip]
pub static IT: Layout = Layout {
    name: "it",
    letters: QWERTY,
    keys: &[
        ('\\', 0x35, 0), ('|', 0x35, S),
        ('1', 0x1e, 0), ('2', 0x1f, 0), ('3', 0x20, 0), ('4', 0x21, 0), ('5', 0x22, 0),
        ('6', 0x23, 0), ('7', 0x24, 0), ('8', 0x25, 0), ('9', 0x26, 0), ('0', 0x27, 0),
        ('!', 0x1e, S), ('"', 0x1f, S), ('£', 0x20, S), ('$', 0x21, S), ('%', 0x22, S),
        ('&', 0x23, S), ('/', 0x24, S), ('(', 0x25, S), (')', 0x26, S), ('=', 0x27, S),
        ('\'', 0x2d, 0), ('?', 0x2d, S), ('ì', 0x2e, 0), ('^', 0x2e, S),
        ('è', 0x2f, 0), ('é', 0x2f, S), ('[', 0x2f, G), ('{', 0x2f, SG),
        ('+', 0x30, 0), ('*', 0x30, S), (']', 0x30, G), ('}', 0x30, SG),
        ('ò', 0x33, 0), ('ç', 0x33, S), ('@', 0x33, G),
        ('à', 0x34, 0), ('°', 0x34, S), ('#', 0x34, G),
        ('ù', 0x32, 0), ('§', 0x32, S), ('<', 0x64, 0), ('>', 0x64, S),
        (',', 0x36, 0), (';', 0x36, S), ('.', 0x37, 0), (':', 0x37, S),
        ('-', 0x38, 0), ('_', 0x38, S),
        ('€', 0x08, G),
    ],
    dead_keys: &[],
};

#[rustfmt::skip]
const CIRCUMFLEX: &[(char, char)] = &[
    ('a', 'â'), ('e', 'ê'), ('i', 'î'), ('o', 'ô'), ('u', 'û'),
    ('A', 'Â'), ('E', 'Ê'), ('I', 'Î'), ('O', 'Ô'), ('U', 'Û'),
];
#[rustfmt::skip]
const ACUTE: &[(char, char)] = &[
    ('a', 'á'), ('e', 'é'), ('i', 'í'), ('o', 'ó'), ('u', 'ú'),
    ('A', 'Á'), ('E', 'É'), ('I', 'Í'), ('O', 'Ó'), ('U', 'Ú'),
];
#[rustfmt::skip]
const GRAVE: &[(char, char)] = &[
    ('a', 'à'), ('e', 'è'), ('i', 'ì'), ('o', 'ò'), ('u', 'ù'),
    ('A', 'À'), ('E', 'È'), ('I', 'Ì'), ('O', 'Ò'), ('U', 'Ù'),
];
#[rustfmt::skip]
const DIAERESIS: &[(char, char)] = &[
    ('a', 'ä'), ('e', 'ë'), ('i', 'ï'), ('o', 'ö'), ('u', 'ü'), ('y', 'ÿ'),
    ('A', 'Ä'), ('E', 'Ë'), ('I', 'Ï'), ('O', 'Ö'), ('U', 'Ü'),
];
#[rustfmt::skip]
const TILDE: &[(char, char)] = &[
    ('a', 'ã'), ('o', 'õ'), ('n', 'ñ'), ('A', 'Ã'), ('O', 'Õ'), ('N', 'Ñ'),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn one(usage: u8, modifiers: u8) -> Option<Vec<Stroke>> {
        Some(vec![Stroke { usage, modifiers }])
    }

    fn two(dead: (u8, u8), then: (u8, u8)) -> Option<Vec<Stroke>> {
        Some(vec![
            Stroke {
                usage: dead.0,
                modifiers: dead.1,
            },
            Stroke {
                usage: then.0,
                modifiers: then.1,
            },
        ])
    }

    /// Expected strokes, typed from the layouts' key charts.
    fn assert_strokes(layout: &Layout, expected: &[(char, Option<Vec<Stroke>>)]) {
        for (c, strokes) in expected {
            assert_eq!(&layout.strokes(*c), strokes, "{} {c:?}", layout.name);
        }
    }

    #[test]
    fn test_every_layout_round_trip() {
        for layout in LAYOUTS {
            let letters = ('a'..='z').chain('A'..='Z');
            let others = layout.all_keys().map(|&(c, _, _)| c);
            for c in letters.chain(others) {
                let stroke = layout.stroke(c).expect("typable");
                assert_eq!(
                    layout.char_for(stroke.usage, stroke.modifiers),
                    Some(c),
                    "{} {c:?} {stroke:?}",
                    layout.name
                );
                assert_eq!(layout.strokes(c), Some(vec![stroke]));
            }
        }
    }

    #[test]
    fn test_every_layout_has_unique_keys() {
        for layout in LAYOUTS {
            let keys: Vec<_> = layout.all_keys().copied().collect();
            for (i, &(c, usage, modifiers)) in keys.iter().enumerate() {
                assert!(
                    !c.is_ascii_alphabetic(),
                    "{} {c:?}: letters come from `letters`",
                    layout.name
                );
                let later = &keys[i + 1..];
                assert!(
                    later.iter().all(|&(k, _, _)| k != c),
                    "{} {c:?} twice",
                    layout.name
                );
                assert!(
                    later.iter().all(|&(_, u, m)| (u, m) != (usage, modifiers)),
                    "{} {c:?}: key used twice",
                    layout.name
                );
                let letter_key = layout.letters.contains(&usage) && modifiers & !S == 0;
                assert!(!letter_key, "{} {c:?} on a letter key", layout.name);
            }
        }
    }

    #[test]
    fn test_every_layout_types_ascii() {
        // Which printable ASCII characters each layout cannot type; paste reports them.
        let missing = [
            ("us", ""),
            ("uk", ""),
            ("de", ""),
            ("fr", ""),
            ("es", "~"),
            ("it", "`~"),
        ];
        for (name, missing) in missing {
            let layout = by_name(name).expect("known");
            let untypable: String = (' '..='~')
                .filter(|&c| layout.strokes(c).is_none())
                .collect();
            assert_eq!(untypable, missing, "{name}");
        }
    }

    #[test]
    fn test_dead_key_strokes_end_in_typable() {
        for layout in LAYOUTS {
            for dead in layout.dead_keys {
                assert_eq!(
                    layout.char_for(dead.usage, dead.modifiers),
                    None,
                    "{}",
                    layout.name
                );
                let prefix = Stroke {
                    usage: dead.usage,
                    modifiers: dead.modifiers,
                };
                for &(base, made) in dead.composes {
                    if layout.stroke(made).is_none() {
                        let base = layout.stroke(base).expect("base typable");
                        assert_eq!(layout.strokes(made), Some(vec![prefix, base]), "{made:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn test_us_known_characters() {
        assert_strokes(
            &US,
            &[
                ('a', one(0x04, 0)),
                ('Z', one(0x1D, LSHIFT)),
                ('1', one(0x1E, 0)),
                ('@', one(0x1F, LSHIFT)),
                ('\n', one(0x28, 0)),
                ('\\', one(0x31, 0)),
                ('~', one(0x35, LSHIFT)),
                ('é', None),
                ('€', None),
            ],
        );
        assert_eq!(US.char_for(0x04, RSHIFT), Some('A'));
    }

    #[test]
    fn test_uk_known_characters() {
        assert_strokes(
            &UK,
            &[
                ('"', one(0x1F, LSHIFT)),
                ('£', one(0x20, LSHIFT)),
                ('@', one(0x34, LSHIFT)),
                ('#', one(0x32, 0)),
                ('~', one(0x32, LSHIFT)),
                ('\\', one(0x64, 0)),
                ('|', one(0x64, LSHIFT)),
                ('€', one(0x21, RALT)),
                ('¬', one(0x35, LSHIFT)),
            ],
        );
        // A browser's "Backslash" (0x31) is the same key as Non-US # to the host.
        assert_eq!(UK.char_for(0x31, 0), Some('#'));
    }

    #[test]
    fn test_de_known_characters() {
        assert_strokes(
            &DE,
            &[
                ('z', one(0x1C, 0)),
                ('y', one(0x1D, 0)),
                ('Z', one(0x1C, LSHIFT)),
                ('@', one(0x14, RALT)),
                ('€', one(0x08, RALT)),
                ('ß', one(0x2D, 0)),
                ('ö', one(0x33, 0)),
                ('Ä', one(0x34, LSHIFT)),
                ('/', one(0x24, LSHIFT)),
                ('{', one(0x24, RALT)),
                ('\\', one(0x2D, RALT)),
                ('|', one(0x64, RALT)),
                ('~', one(0x30, RALT)),
                ('-', one(0x38, 0)),
                ('^', two((0x35, 0), (0x2C, 0))),
                ('ê', two((0x35, 0), (0x08, 0))),
                ('é', two((0x2E, 0), (0x08, 0))),
                ('`', two((0x2E, LSHIFT), (0x2C, 0))),
                ('À', two((0x2E, LSHIFT), (0x04, LSHIFT))),
            ],
        );
    }

    #[test]
    fn test_fr_known_characters() {
        assert_strokes(
            &FR,
            &[
                ('a', one(0x14, 0)),
                ('q', one(0x04, 0)),
                ('z', one(0x1A, 0)),
                ('w', one(0x1D, 0)),
                ('m', one(0x33, 0)),
                ('M', one(0x33, LSHIFT)),
                (',', one(0x10, 0)),
                ('1', one(0x1E, LSHIFT)),
                ('0', one(0x27, LSHIFT)),
                ('é', one(0x1F, 0)),
                ('@', one(0x27, RALT)),
                ('€', one(0x08, RALT)),
                ('!', one(0x38, 0)),
                ('ê', two((0x2F, 0), (0x08, 0))),
                ('Ô', two((0x2F, 0), (0x12, LSHIFT))),
                ('ë', two((0x2F, LSHIFT), (0x08, 0))),
                ('~', two((0x1F, RALT), (0x2C, 0))),
                ('ñ', two((0x1F, RALT), (0x11, 0))),
                ('^', one(0x26, RALT)),
                ('É', None),
            ],
        );
    }

    #[test]
    fn test_es_known_characters() {
        assert_strokes(
            &ES,
            &[
                ('ñ', one(0x33, 0)),
                ('Ñ', one(0x33, LSHIFT)),
                ('@', one(0x1F, RALT)),
                ('#', one(0x20, RALT)),
                ('¿', one(0x2E, LSHIFT)),
                ('/', one(0x24, LSHIFT)),
                ('€', one(0x08, RALT)),
                ('{', one(0x34, RALT)),
                ('}', one(0x32, RALT)),
                ('á', two((0x34, 0), (0x04, 0))),
                ('Ü', two((0x34, LSHIFT), (0x18, LSHIFT))),
                ('^', two((0x2F, LSHIFT), (0x2C, 0))),
                ('~', None),
            ],
        );
    }

    #[test]
    fn test_it_known_characters() {
        assert_strokes(
            &IT,
            &[
                ('è', one(0x2F, 0)),
                ('é', one(0x2F, LSHIFT)),
                ('@', one(0x33, RALT)),
                ('#', one(0x34, RALT)),
                ('{', one(0x2F, LSHIFT | RALT)),
                ('^', one(0x2E, LSHIFT)),
                ('£', one(0x20, LSHIFT)),
                ('€', one(0x08, RALT)),
                ('`', None),
                ('È', None),
            ],
        );
    }

    #[test]
    fn test_by_name() {
        for &name in NAMES {
            assert_eq!(by_name(name).map(|l| l.name), Some(name));
        }
        assert_eq!(by_name("DE").map(|l| l.name), Some("de"));
        assert!(by_name("xx").is_none());
        assert!(by_name("").is_none());
        assert_eq!(NAMES.len(), LAYOUTS.len());
    }

    #[test]
    fn test_is_letter() {
        assert!(DE.is_letter(Stroke {
            usage: 0x1C,
            modifiers: LSHIFT
        }));
        assert!(!DE.is_letter(Stroke {
            usage: 0x14,
            modifiers: RALT
        }));
        assert!(!FR.is_letter(Stroke {
            usage: 0x10,
            modifiers: 0
        }));
        assert!(FR.is_letter(Stroke {
            usage: 0x33,
            modifiers: 0
        }));
    }
}
