//! Browser key codes to USB HID usages: the one table from `KeyboardEvent.code`
//! (the physical key, whatever the operator's layout) to a usage on the
//! Keyboard/Keypad page (0x07). The target applies its own layout, so the
//! browser's layout never matters here.
//!
//! Keys that browsers report but that live on other usage pages (media keys on
//! the Consumer page, Sleep/WakeUp on Generic Desktop, Fn) have no entry: the
//! keyboard function only sends page 0x07.

/// The usage on page 0x07 for a browser `KeyboardEvent.code`, or `None` when the
/// code is unknown or not a Keyboard/Keypad key.
pub fn usage(code: &str) -> Option<u8> {
    // 170-odd entries: a linear scan costs well under a microsecond, less than
    // building and keeping a hash map for one key event.
    CODES.iter().find(|&&(c, _)| c == code).map(|&(_, u)| u)
}

#[rustfmt::skip]
const CODES: &[(&str, u8)] = &[
    ("KeyA", 0x04), ("KeyB", 0x05), ("KeyC", 0x06), ("KeyD", 0x07), ("KeyE", 0x08),
    ("KeyF", 0x09), ("KeyG", 0x0A), ("KeyH", 0x0B), ("KeyI", 0x0C), ("KeyJ", 0x0D),
    ("KeyK", 0x0E), ("KeyL", 0x0F), ("KeyM", 0x10), ("KeyN", 0x11), ("KeyO", 0x12),
    ("KeyP", 0x13), ("KeyQ", 0x14), ("KeyR", 0x15), ("KeyS", 0x16), ("KeyT", 0x17),
    ("KeyU", 0x18), ("KeyV", 0x19), ("KeyW", 0x1A), ("KeyX", 0x1B), ("KeyY", 0x1C),
    ("KeyZ", 0x1D),
    ("Digit1", 0x1E), ("Digit2", 0x1F), ("Digit3", 0x20), ("Digit4", 0x21),
    ("Digit5", 0x22), ("Digit6", 0x23), ("Digit7", 0x24), ("Digit8", 0x25),
    ("Digit9", 0x26), ("Digit0", 0x27),
    ("Enter", 0x28), ("Escape", 0x29), ("Backspace", 0x2A), ("Tab", 0x2B), ("Space", 0x2C),
    ("Minus", 0x2D), ("Equal", 0x2E), ("BracketLeft", 0x2F), ("BracketRight", 0x30),
    // Browsers name both the US `\|` key and the ISO key left of Enter (UK `#~`)
    // "Backslash"; hosts treat usages 0x31 and 0x32 as the same key.
    ("Backslash", 0x31), ("IntlHash", 0x32),
    ("Semicolon", 0x33), ("Quote", 0x34), ("Backquote", 0x35), ("Comma", 0x36),
    ("Period", 0x37), ("Slash", 0x38), ("CapsLock", 0x39),
    ("F1", 0x3A), ("F2", 0x3B), ("F3", 0x3C), ("F4", 0x3D), ("F5", 0x3E), ("F6", 0x3F),
    ("F7", 0x40), ("F8", 0x41), ("F9", 0x42), ("F10", 0x43), ("F11", 0x44), ("F12", 0x45),
    ("PrintScreen", 0x46), ("ScrollLock", 0x47), ("Pause", 0x48),
    ("Insert", 0x49), ("Home", 0x4A), ("PageUp", 0x4B),
    ("Delete", 0x4C), ("End", 0x4D), ("PageDown", 0x4E),
    ("ArrowRight", 0x4F), ("ArrowLeft", 0x50), ("ArrowDown", 0x51), ("ArrowUp", 0x52),
    ("NumLock", 0x53), ("NumpadDivide", 0x54), ("NumpadMultiply", 0x55),
    ("NumpadSubtract", 0x56), ("NumpadAdd", 0x57), ("NumpadEnter", 0x58),
    ("Numpad1", 0x59), ("Numpad2", 0x5A), ("Numpad3", 0x5B), ("Numpad4", 0x5C),
    ("Numpad5", 0x5D), ("Numpad6", 0x5E), ("Numpad7", 0x5F), ("Numpad8", 0x60),
    ("Numpad9", 0x61), ("Numpad0", 0x62), ("NumpadDecimal", 0x63),
    ("IntlBackslash", 0x64), ("ContextMenu", 0x65), ("Power", 0x66), ("NumpadEqual", 0x67),
    ("F13", 0x68), ("F14", 0x69), ("F15", 0x6A), ("F16", 0x6B), ("F17", 0x6C),
    ("F18", 0x6D), ("F19", 0x6E), ("F20", 0x6F), ("F21", 0x70), ("F22", 0x71),
    ("F23", 0x72), ("F24", 0x73),
    // Usage 0x74 is "Execute"; browsers call that key "Open".
    ("Open", 0x74), ("Help", 0x75), ("Select", 0x77), ("Again", 0x79), ("Undo", 0x7A),
    ("Cut", 0x7B), ("Copy", 0x7C), ("Paste", 0x7D), ("Find", 0x7E),
    ("AudioVolumeMute", 0x7F), ("AudioVolumeUp", 0x80), ("AudioVolumeDown", 0x81),
    ("NumpadComma", 0x85),
    // International1..5: the JIS keys.
    ("IntlRo", 0x87), ("KanaMode", 0x88), ("IntlYen", 0x89), ("Convert", 0x8A),
    ("NonConvert", 0x8B),
    ("Lang1", 0x90), ("Lang2", 0x91), ("Lang3", 0x92), ("Lang4", 0x93), ("Lang5", 0x94),
    ("Props", 0xA3),
    ("NumpadParenLeft", 0xB6), ("NumpadParenRight", 0xB7), ("NumpadBackspace", 0xBB),
    ("NumpadHash", 0xCC),
    ("NumpadMemoryStore", 0xD0), ("NumpadMemoryRecall", 0xD1), ("NumpadMemoryClear", 0xD2),
    ("NumpadMemoryAdd", 0xD3), ("NumpadMemorySubtract", 0xD4),
    ("NumpadClear", 0xD8), ("NumpadClearEntry", 0xD9),
    ("ControlLeft", 0xE0), ("ShiftLeft", 0xE1), ("AltLeft", 0xE2), ("MetaLeft", 0xE3),
    ("ControlRight", 0xE4), ("ShiftRight", 0xE5), ("AltRight", 0xE6), ("MetaRight", 0xE7),
    // Firefox before 118 on Windows and Linux named the Windows/Super keys "OS".
    ("OSLeft", 0xE3), ("OSRight", 0xE7),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts each code maps to the usage written beside it. The expected
    /// numbers are typed from the HID Usage Tables, chapter 10 (Keyboard/Keypad
    /// page), not taken from `CODES`.
    fn assert_usages(expected: &[(&str, u8)]) {
        for &(code, value) in expected {
            assert_eq!(usage(code), Some(value), "{code}");
        }
    }

    #[test]
    fn test_letters() {
        assert_usages(&[
            ("KeyA", 4),
            ("KeyB", 5),
            ("KeyM", 16),
            ("KeyQ", 20),
            ("KeyY", 28),
        ]);
        assert_usages(&[("KeyZ", 29), ("KeyW", 26), ("KeyE", 8), ("KeyP", 19)]);
        let letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for (i, l) in letters.chars().enumerate() {
            assert_eq!(usage(&format!("Key{l}")), Some(4 + i as u8));
        }
    }

    #[test]
    fn test_digits_and_controls() {
        assert_usages(&[("Digit1", 30), ("Digit9", 38), ("Digit0", 39)]);
        assert_usages(&[
            ("Enter", 40),
            ("Escape", 41),
            ("Backspace", 42),
            ("Tab", 43),
            ("Space", 44),
            ("CapsLock", 57),
        ]);
    }

    #[test]
    fn test_punctuation() {
        assert_usages(&[
            ("Minus", 0x2D),
            ("Equal", 0x2E),
            ("BracketLeft", 0x2F),
            ("BracketRight", 0x30),
            ("Backslash", 0x31),
            ("IntlHash", 0x32),
            ("Semicolon", 0x33),
            ("Quote", 0x34),
            ("Backquote", 0x35),
            ("Comma", 0x36),
            ("Period", 0x37),
            ("Slash", 0x38),
        ]);
    }

    #[test]
    fn test_function_keys() {
        assert_usages(&[("F1", 0x3A), ("F2", 0x3B), ("F10", 0x43), ("F11", 0x44)]);
        assert_usages(&[("F12", 0x45), ("F13", 0x68), ("F20", 0x6F), ("F24", 0x73)]);
        for n in 1..=24 {
            assert!(usage(&format!("F{n}")).is_some(), "F{n}");
        }
        assert_eq!(usage("F25"), None);
    }

    #[test]
    fn test_navigation() {
        assert_usages(&[
            ("PrintScreen", 0x46),
            ("ScrollLock", 0x47),
            ("Pause", 0x48),
            ("Insert", 0x49),
            ("Home", 0x4A),
            ("PageUp", 0x4B),
            ("Delete", 0x4C),
            ("End", 0x4D),
            ("PageDown", 0x4E),
            ("ArrowRight", 0x4F),
            ("ArrowLeft", 0x50),
            ("ArrowDown", 0x51),
            ("ArrowUp", 0x52),
        ]);
    }

    #[test]
    fn test_keypad() {
        assert_usages(&[
            ("NumLock", 0x53),
            ("NumpadDivide", 0x54),
            ("NumpadMultiply", 0x55),
            ("NumpadSubtract", 0x56),
            ("NumpadAdd", 0x57),
            ("NumpadEnter", 0x58),
            ("Numpad1", 0x59),
            ("Numpad5", 0x5D),
            ("Numpad9", 0x61),
            ("Numpad0", 0x62),
            ("NumpadDecimal", 0x63),
            ("NumpadEqual", 0x67),
            ("NumpadComma", 0x85),
            ("NumpadParenLeft", 0xB6),
            ("NumpadParenRight", 0xB7),
            ("NumpadBackspace", 0xBB),
            ("NumpadHash", 0xCC),
            ("NumpadMemoryStore", 0xD0),
            ("NumpadMemorySubtract", 0xD4),
            ("NumpadClear", 0xD8),
            ("NumpadClearEntry", 0xD9),
        ]);
    }

    #[test]
    fn test_iso_and_jis() {
        assert_usages(&[
            ("IntlBackslash", 0x64),
            ("IntlRo", 0x87),
            ("KanaMode", 0x88),
            ("IntlYen", 0x89),
            ("Convert", 0x8A),
            ("NonConvert", 0x8B),
            ("Lang1", 0x90),
            ("Lang2", 0x91),
            ("Lang3", 0x92),
            ("Lang4", 0x93),
            ("Lang5", 0x94),
        ]);
    }

    #[test]
    fn test_system_and_editing() {
        assert_usages(&[
            ("ContextMenu", 0x65),
            ("Power", 0x66),
            ("Open", 0x74),
            ("Help", 0x75),
            ("Select", 0x77),
            ("Again", 0x79),
            ("Undo", 0x7A),
            ("Cut", 0x7B),
            ("Copy", 0x7C),
            ("Paste", 0x7D),
            ("Find", 0x7E),
            ("AudioVolumeMute", 0x7F),
            ("AudioVolumeUp", 0x80),
            ("AudioVolumeDown", 0x81),
            ("Props", 0xA3),
        ]);
    }

    #[test]
    fn test_modifiers() {
        assert_usages(&[
            ("ControlLeft", 0xE0),
            ("ShiftLeft", 0xE1),
            ("AltLeft", 0xE2),
            ("MetaLeft", 0xE3),
            ("ControlRight", 0xE4),
            ("ShiftRight", 0xE5),
            ("AltRight", 0xE6),
            ("MetaRight", 0xE7),
            ("OSLeft", 0xE3),
            ("OSRight", 0xE7),
        ]);
    }

    #[test]
    fn test_unknown_codes() {
        for code in [
            "",
            "keya",
            "KeyA ",
            "Fn",
            "MediaPlayPause",
            "Sleep",
            "Unidentified",
        ] {
            assert_eq!(usage(code), None, "{code:?}");
        }
    }

    #[test]
    fn test_table_has_no_duplicate_codes() {
        for (i, &(code, _)) in CODES.iter().enumerate() {
            assert!(
                CODES[i + 1..].iter().all(|&(c, _)| c != code),
                "{code} twice"
            );
            assert!(usage(code).is_some_and(|u| u >= 0x04), "{code}");
        }
    }
}
