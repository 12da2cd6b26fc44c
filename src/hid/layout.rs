//! Keyboard layouts: which key (usage) and modifiers type a character on the
//! target. Paste uses `strokes`; the demo target, acting as a host, uses
//! `char_for` to turn what it receives back into text.

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
    /// Character, usage, modifiers.
    keys: &'static [(char, u8, u8)],
}

impl Layout {
    /// The keystroke that types `c`, or `None` when this layout cannot type it.
    pub fn stroke(&self, c: char) -> Option<Stroke> {
        self.keys
            .iter()
            .find(|&&(k, _, _)| k == c)
            .map(|&(_, usage, modifiers)| Stroke { usage, modifiers })
    }

    /// The character a host with this layout types for `usage` with `modifiers`
    /// held (either Shift counts as Shift).
    pub fn char_for(&self, usage: u8, modifiers: u8) -> Option<char> {
        let shift = if modifiers & (LSHIFT | RSHIFT) != 0 {
            LSHIFT
        } else {
            0
        };
        let altgr = modifiers & RALT;
        self.keys
            .iter()
            .find(|&&(_, u, m)| u == usage && m == shift | altgr)
            .map(|&(c, _, _)| c)
    }
}

const S: u8 = LSHIFT;

#[rustfmt::skip]
pub static US: Layout = Layout {
    name: "us",
    keys: &[
        ('a', 0x04, 0), ('b', 0x05, 0), ('c', 0x06, 0), ('d', 0x07, 0), ('e', 0x08, 0),
        ('f', 0x09, 0), ('g', 0x0a, 0), ('h', 0x0b, 0), ('i', 0x0c, 0), ('j', 0x0d, 0),
        ('k', 0x0e, 0), ('l', 0x0f, 0), ('m', 0x10, 0), ('n', 0x11, 0), ('o', 0x12, 0),
        ('p', 0x13, 0), ('q', 0x14, 0), ('r', 0x15, 0), ('s', 0x16, 0), ('t', 0x17, 0),
        ('u', 0x18, 0), ('v', 0x19, 0), ('w', 0x1a, 0), ('x', 0x1b, 0), ('y', 0x1c, 0),
        ('z', 0x1d, 0),
        ('A', 0x04, S), ('B', 0x05, S), ('C', 0x06, S), ('D', 0x07, S), ('E', 0x08, S),
        ('F', 0x09, S), ('G', 0x0a, S), ('H', 0x0b, S), ('I', 0x0c, S), ('J', 0x0d, S),
        ('K', 0x0e, S), ('L', 0x0f, S), ('M', 0x10, S), ('N', 0x11, S), ('O', 0x12, S),
        ('P', 0x13, S), ('Q', 0x14, S), ('R', 0x15, S), ('S', 0x16, S), ('T', 0x17, S),
        ('U', 0x18, S), ('V', 0x19, S), ('W', 0x1a, S), ('X', 0x1b, S), ('Y', 0x1c, S),
        ('Z', 0x1d, S),
        ('1', 0x1e, 0), ('2', 0x1f, 0), ('3', 0x20, 0), ('4', 0x21, 0), ('5', 0x22, 0),
        ('6', 0x23, 0), ('7', 0x24, 0), ('8', 0x25, 0), ('9', 0x26, 0), ('0', 0x27, 0),
        ('!', 0x1e, S), ('@', 0x1f, S), ('#', 0x20, S), ('$', 0x21, S), ('%', 0x22, S),
        ('^', 0x23, S), ('&', 0x24, S), ('*', 0x25, S), ('(', 0x26, S), (')', 0x27, S),
        ('\n', 0x28, 0), ('\t', 0x2b, 0), (' ', 0x2c, 0),
        ('-', 0x2d, 0), ('_', 0x2d, S), ('=', 0x2e, 0), ('+', 0x2e, S),
        ('[', 0x2f, 0), ('{', 0x2f, S), (']', 0x30, 0), ('}', 0x30, S),
        ('\\', 0x31, 0), ('|', 0x31, S), (';', 0x33, 0), (':', 0x33, S),
        ('\'', 0x34, 0), ('"', 0x34, S), ('`', 0x35, 0), ('~', 0x35, S),
        (',', 0x36, 0), ('<', 0x36, S), ('.', 0x37, 0), ('>', 0x37, S),
        ('/', 0x38, 0), ('?', 0x38, S),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_us_round_trip() {
        for &(c, usage, modifiers) in US.keys {
            assert_eq!(US.stroke(c), Some(Stroke { usage, modifiers }));
            assert_eq!(US.char_for(usage, modifiers), Some(c));
        }
        assert_eq!(US.char_for(0x04, RSHIFT), Some('A'));
        assert_eq!(US.stroke('é'), None);
    }
}
