//! The HID report descriptors of kv's three gadget functions, written item by
//! item from the HID 1.11 specification and the HID Usage Tables. Each must
//! describe exactly the report layout `src/hid/mod.rs` writes: the host parses
//! reports by these descriptors alone.

/// Boot keyboard: input 8 bytes (modifier bits, reserved byte, six key slots),
/// output 1 byte (LEDs Num, Caps, Scroll, Compose, Kana and 3 bits padding).
/// The key array reaches usage 0xFF: with a smaller maximum hosts drop F13–F24,
/// the International and LANG keys.
pub const KEYBOARD: &[u8] = &[
    0x05, 0x01, // Usage Page (Generic Desktop)
    0x09, 0x06, // Usage (Keyboard)
    0xA1, 0x01, // Collection (Application)
    0x05, 0x07, //   Usage Page (Keyboard/Keypad)
    0x19, 0xE0, //   Usage Minimum (Left Control)
    0x29, 0xE7, //   Usage Maximum (Right GUI)
    0x15, 0x00, //   Logical Minimum (0)
    0x25, 0x01, //   Logical Maximum (1)
    0x75, 0x01, //   Report Size (1)
    0x95, 0x08, //   Report Count (8)
    0x81, 0x02, //   Input (Data, Variable, Absolute): modifier bits
    0x75, 0x08, //   Report Size (8)
    0x95, 0x01, //   Report Count (1)
    0x81, 0x01, //   Input (Constant): reserved byte
    0x05, 0x08, //   Usage Page (LEDs)
    0x19, 0x01, //   Usage Minimum (Num Lock)
    0x29, 0x05, //   Usage Maximum (Kana)
    0x75, 0x01, //   Report Size (1)
    0x95, 0x05, //   Report Count (5)
    0x91, 0x02, //   Output (Data, Variable, Absolute): LEDs
    0x75, 0x03, //   Report Size (3)
    0x95, 0x01, //   Report Count (1)
    0x91, 0x01, //   Output (Constant): padding
    0x05, 0x07, //   Usage Page (Keyboard/Keypad)
    0x19, 0x00, //   Usage Minimum (0)
    0x2A, 0xFF, 0x00, // Usage Maximum (0xFF)
    0x15, 0x00, //   Logical Minimum (0)
    0x26, 0xFF, 0x00, // Logical Maximum (255): two bytes, one would read as -1
    0x75, 0x08, //   Report Size (8)
    0x95, 0x06, //   Report Count (6)
    0x81, 0x00, //   Input (Data, Array, Absolute): key slots
    0xC0, //       End Collection
];

/// Absolute mouse: buttons 1–8, X and Y 0..32767 (no negative range: Windows 7
/// rejects it), wheel and AC Pan −127..127. Pointer sits in a Physical
/// collection, which Apple's recovery environment needs. 7 bytes.
pub const MOUSE_ABSOLUTE: &[u8] = &[
    0x05, 0x01, // Usage Page (Generic Desktop)
    0x09, 0x02, // Usage (Mouse)
    0xA1, 0x01, // Collection (Application)
    0x09, 0x01, //   Usage (Pointer)
    0xA1, 0x00, //   Collection (Physical)
    0x05, 0x09, //     Usage Page (Button)
    0x19, 0x01, //     Usage Minimum (1)
    0x29, 0x08, //     Usage Maximum (8)
    0x15, 0x00, //     Logical Minimum (0)
    0x25, 0x01, //     Logical Maximum (1)
    0x75, 0x01, //     Report Size (1)
    0x95, 0x08, //     Report Count (8)
    0x81, 0x02, //     Input (Data, Variable, Absolute): buttons
    0x05, 0x01, //     Usage Page (Generic Desktop)
    0x09, 0x30, //     Usage (X)
    0x09, 0x31, //     Usage (Y)
    0x15, 0x00, //     Logical Minimum (0)
    0x26, 0xFF, 0x7F, // Logical Maximum (32767)
    0x75, 0x10, //     Report Size (16)
    0x95, 0x02, //     Report Count (2)
    0x81, 0x02, //     Input (Data, Variable, Absolute): X, Y
    0x09, 0x38, //     Usage (Wheel)
    0x15, 0x81, //     Logical Minimum (-127)
    0x25, 0x7F, //     Logical Maximum (127)
    0x75, 0x08, //     Report Size (8)
    0x95, 0x01, //     Report Count (1)
    0x81, 0x06, //     Input (Data, Variable, Relative): wheel
    0x05, 0x0C, //     Usage Page (Consumer)
    0x0A, 0x38, 0x02, // Usage (AC Pan)
    0x81, 0x06, //     Input (Data, Variable, Relative): horizontal wheel
    0xC0, //         End Collection
    0xC0, //       End Collection
];

/// Relative boot mouse: buttons 1–8, X, Y, wheel and AC Pan as −127..127.
/// A BIOS in boot protocol reads the first three bytes. 5 bytes.
pub const MOUSE_RELATIVE: &[u8] = &[
    0x05, 0x01, // Usage Page (Generic Desktop)
    0x09, 0x02, // Usage (Mouse)
    0xA1, 0x01, // Collection (Application)
    0x09, 0x01, //   Usage (Pointer)
    0xA1, 0x00, //   Collection (Physical)
    0x05, 0x09, //     Usage Page (Button)
    0x19, 0x01, //     Usage Minimum (1)
    0x29, 0x08, //     Usage Maximum (8)
    0x15, 0x00, //     Logical Minimum (0)
    0x25, 0x01, //     Logical Maximum (1)
    0x75, 0x01, //     Report Size (1)
    0x95, 0x08, //     Report Count (8)
    0x81, 0x02, //     Input (Data, Variable, Absolute): buttons
    0x05, 0x01, //     Usage Page (Generic Desktop)
    0x09, 0x30, //     Usage (X)
    0x09, 0x31, //     Usage (Y)
    0x09, 0x38, //     Usage (Wheel)
    0x15, 0x81, //     Logical Minimum (-127)
    0x25, 0x7F, //     Logical Maximum (127)
    0x75, 0x08, //     Report Size (8)
    0x95, 0x03, //     Report Count (3)
    0x81, 0x06, //     Input (Data, Variable, Relative): X, Y, wheel
    0x05, 0x0C, //     Usage Page (Consumer)
    0x0A, 0x38, 0x02, // Usage (AC Pan)
    0x95, 0x01, //     Report Count (1)
    0x81, 0x06, //     Input (Data, Variable, Relative): horizontal wheel
    0xC0, //         End Collection
    0xC0, //       End Collection
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A main item with the global state in force when it appeared.
    #[derive(Debug, PartialEq)]
    struct Field {
        output: bool,
        constant: bool,
        array: bool,
        relative: bool,
        bits: u32,
        page: u32,
        logical: (i32, i32),
        usages: Vec<u32>,
        usage_range: Option<(u32, u32)>,
    }

    /// What a host's parser sees: the fields, in order, and the collections.
    #[derive(Debug, Default)]
    struct Parsed {
        fields: Vec<Field>,
        /// (collection type, usage page, usage) as opened.
        collections: Vec<(u32, u32, u32)>,
    }

    impl Parsed {
        fn bits(&self, output: bool) -> u32 {
            self.fields
                .iter()
                .filter(|f| f.output == output)
                .map(|f| f.bits)
                .sum()
        }
    }

    /// Walks short items (HID 1.11 §6.2.2.2): prefix = tag(4) type(2) size(2).
    /// Panics on anything kv's descriptors must not contain: that is the test.
    fn parse(descriptor: &[u8]) -> Parsed {
        let mut parsed = Parsed::default();
        let (mut page, mut logical_min, mut logical_max) = (0u32, 0i32, 0i32);
        let (mut size, mut count) = (0u32, 0u32);
        let mut usages = Vec::new();
        let (mut usage_min, mut usage_max) = (None, None);
        let mut depth = 0;
        let mut at = 0;
        while at < descriptor.len() {
            let prefix = descriptor[at];
            assert_ne!(prefix, 0xFE, "long items are not used");
            let len = [0, 1, 2, 4][usize::from(prefix & 3)];
            let data = &descriptor[at + 1..at + 1 + len];
            at += 1 + len;
            let unsigned = data
                .iter()
                .rev()
                .fold(0u32, |v, &b| (v << 8) | u32::from(b));
            let signed = match len {
                1 => i32::from(data[0] as i8),
                2 => i32::from(i16::from_le_bytes([data[0], data[1]])),
                _ => unsigned as i32,
            };
            match (prefix >> 2) & 3 {
                // Main
                0 => match prefix >> 4 {
                    0x8 | 0x9 => {
                        parsed.fields.push(Field {
                            output: prefix >> 4 == 0x9,
                            constant: unsigned & 1 != 0,
                            array: unsigned & 2 == 0,
                            relative: unsigned & 4 != 0,
                            bits: size * count,
                            page,
                            logical: (logical_min, logical_max),
                            usages: std::mem::take(&mut usages),
                            usage_range: usage_min.zip(usage_max),
                        });
                        (usage_min, usage_max) = (None, None);
                    }
                    0xA => {
                        let usage = usages.last().copied().unwrap_or(0);
                        parsed.collections.push((unsigned, page, usage));
                        usages.clear();
                        depth += 1;
                    }
                    0xC => {
                        assert!(depth > 0, "End Collection without Collection");
                        depth -= 1;
                    }
                    tag => panic!("unexpected main item {tag:#x}"),
                },
                // Global
                1 => match prefix >> 4 {
                    0x0 => page = unsigned,
                    0x1 => logical_min = signed,
                    0x2 => logical_max = signed,
                    0x7 => size = unsigned,
                    0x9 => count = unsigned,
                    tag => panic!("unexpected global item {tag:#x} (report IDs are not used)"),
                },
                // Local: a 2-byte usage on another page than the current one
                // would need 4 bytes; 2 bytes are a usage ID on `page`.
                2 => match prefix >> 4 {
                    0x0 => usages.push(unsigned),
                    0x1 => usage_min = Some(unsigned),
                    0x2 => usage_max = Some(unsigned),
                    tag => panic!("unexpected local item {tag:#x}"),
                },
                _ => panic!("reserved item type at byte {at}"),
            }
        }
        assert_eq!(depth, 0, "unbalanced collections");
        parsed
    }

    #[test]
    fn test_keyboard_report_sizes() {
        let parsed = parse(KEYBOARD);
        assert_eq!(parsed.bits(false), 8 * 8, "input report is 8 bytes");
        assert_eq!(parsed.bits(true), 8, "LED output report is 1 byte");
        assert_eq!(parsed.collections, [(1, 1, 6)], "Application(Keyboard)");
    }

    #[test]
    fn test_keyboard_fields_match_report_layout() {
        let fields = parse(KEYBOARD).fields;
        let modifiers = &fields[0];
        assert_eq!((modifiers.page, modifiers.bits), (0x07, 8));
        assert_eq!(modifiers.usage_range, Some((0xE0, 0xE7)));
        assert!(!modifiers.array && !modifiers.constant);
        assert!(fields[1].constant && fields[1].bits == 8, "reserved byte");
        let leds = &fields[2];
        assert!(leds.output && leds.page == 0x08);
        assert_eq!(leds.usage_range, Some((1, 5)));
        let keys = fields.last().expect("key array");
        assert!(keys.array && !keys.output);
        assert_eq!(keys.usage_range, Some((0, 0xFF)));
        assert_eq!(
            keys.logical,
            (0, 0xFF),
            "F13-F24, Intl and LANG keys reachable"
        );
    }

    #[test]
    fn test_mouse_absolute_report_sizes() {
        let parsed = parse(MOUSE_ABSOLUTE);
        assert_eq!(parsed.bits(false), 7 * 8);
        assert_eq!(parsed.bits(true), 0);
        assert_eq!(
            parsed.collections,
            [(1, 1, 2), (0, 1, 1)],
            "Application(Mouse) > Physical(Pointer)"
        );
    }

    #[test]
    fn test_mouse_absolute_fields_match_report_layout() {
        let fields = parse(MOUSE_ABSOLUTE).fields;
        let layout: Vec<_> = fields
            .iter()
            .map(|f| (f.page, f.bits, f.relative, f.logical))
            .collect();
        assert_eq!(
            layout,
            [
                (0x09, 8, false, (0, 1)),
                (0x01, 32, false, (0, 32767)),
                (0x01, 8, true, (-127, 127)),
                (0x0C, 8, true, (-127, 127)),
            ]
        );
        assert_eq!(fields[1].usages, [0x30, 0x31], "X then Y");
        assert_eq!(fields[2].usages, [0x38], "wheel");
        assert_eq!(fields[3].usages, [0x238], "AC Pan");
    }

    #[test]
    fn test_mouse_relative_report_sizes() {
        let parsed = parse(MOUSE_RELATIVE);
        assert_eq!(parsed.bits(false), 5 * 8);
        assert_eq!(parsed.bits(true), 0);
        assert_eq!(parsed.collections, [(1, 1, 2), (0, 1, 1)]);
        let fields = parsed.fields;
        assert_eq!(fields[1].usages, [0x30, 0x31, 0x38]);
        assert!(fields[1].relative && fields[1].logical == (-127, 127));
        assert_eq!(fields[2].usages, [0x238]);
    }
}
