//! (owned by the HID work)
