//! `evdev-read`: prints the events a /dev/input/eventN node delivers, so a scenario
//! can check what the USB host side of the gadget saw.

use crate::Outcome;
use std::fs::File;
use std::io::{Read, Write};
use std::time::Duration;

/// struct input_event: the time as two `unsigned long`s (seconds, microseconds; 16 bytes
/// on 64-bit Linux, 8 on 32-bit ARM whatever the C library's time_t), then type u16,
/// code u16, value i32: 24 bytes on 64-bit, 16 on 32-bit.
const TIME_SIZE: usize = 2 * std::mem::size_of::<usize>();
const EVENT_SIZE: usize = TIME_SIZE + 8;

fn type_name(kind: u16) -> String {
    match kind {
        0x01 => "EV_KEY".into(),
        0x02 => "EV_REL".into(),
        0x03 => "EV_ABS".into(),
        0x11 => "EV_LED".into(),
        other => format!("EV_{other:#04x}"),
    }
}

/// The event type a name (`EV_LED`) or number stands for.
fn type_number(name: &str) -> Result<u16, String> {
    match name {
        "EV_KEY" => Ok(0x01),
        "EV_REL" => Ok(0x02),
        "EV_ABS" => Ok(0x03),
        "EV_LED" => Ok(0x11),
        other => other
            .parse()
            .map_err(|_| format!("{other:?} is not an event type (EV_LED or a number)")),
    }
}

/// Writes one event and an EV_SYN to DEV, as the host's input layer would
/// (`EV_LED 1 1` turns Caps Lock on: usbhid sends the keyboard's output report).
pub fn write(dev: &str, kind: &str, code: &str, value: &str) -> Outcome {
    let kind = type_number(kind)?;
    let code: u16 = code
        .parse()
        .map_err(|_| format!("{code:?} is not an event code"))?;
    let value: i32 = value
        .parse()
        .map_err(|_| format!("{value:?} is not a value"))?;
    let event = |kind: u16, code: u16, value: i32| {
        let mut raw = [0u8; EVENT_SIZE];
        raw[TIME_SIZE..TIME_SIZE + 2].copy_from_slice(&kind.to_le_bytes());
        raw[TIME_SIZE + 2..TIME_SIZE + 4].copy_from_slice(&code.to_le_bytes());
        raw[TIME_SIZE + 4..].copy_from_slice(&value.to_le_bytes());
        raw
    };
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .open(dev)
        .map_err(|e| format!("{dev}: {e}"))?;
    for raw in [event(kind, code, value), event(0, 0, 0)] {
        output.write_all(&raw).map_err(|e| format!("{dev}: {e}"))?;
    }
    println!("wrote {kind} {code} {value} to {dev}");
    Ok(())
}

/// Prints `listening DEV`, then `EV_KEY 30 1`-style lines for SECONDS. Opening the node
/// is what makes usbhid start polling the device, so start this before sending reports.
pub fn read(dev: &str, seconds: u64) -> Outcome {
    let mut input = File::open(dev).map_err(|e| format!("{dev}: {e}"))?;
    println!("listening {dev}");
    // A blocking read can't be bounded, so it runs on a thread that dies with the process.
    std::thread::spawn(move || {
        let mut raw = [0u8; EVENT_SIZE];
        while input.read_exact(&mut raw).is_ok() {
            let [.., t0, t1, c0, c1, v0, v1, v2, v3] = raw;
            let kind = u16::from_le_bytes([t0, t1]);
            // EV_SYN and EV_MSC (scan codes) only frame the interesting events.
            if kind != 0x00 && kind != 0x04 {
                let code = u16::from_le_bytes([c0, c1]);
                println!(
                    "{} {code} {}",
                    type_name(kind),
                    i32::from_le_bytes([v0, v1, v2, v3])
                );
            }
        }
    });
    std::thread::sleep(Duration::from_secs(seconds));
    Ok(())
}

/// KEY_MAX + 1 bits: the key state bitmap EVIOCGKEY fills.
const KEY_BITMAP_BYTES: usize = 0x300 / 8;

/// Prints the keys DEV reports down right now (`EVIOCGKEY`), as event codes:
/// `keys down: 30 42`, or `keys down: none`.
pub fn keys_down(dev: &str) -> Outcome {
    use std::os::fd::AsRawFd;
    let input = File::open(dev).map_err(|e| format!("{dev}: {e}"))?;
    let mut bitmap = [0u8; KEY_BITMAP_BYTES];
    // EVIOCGKEY(len) = _IOC(_IOC_READ, 'E', 0x18, len)
    let request = (2 << 30) | ((KEY_BITMAP_BYTES as u32) << 16) | (u32::from(b'E') << 8) | 0x18;
    // SAFETY: the kernel writes at most `len` (the bitmap's size) bytes into it.
    let got = unsafe { libc::ioctl(input.as_raw_fd(), request as _, bitmap.as_mut_ptr()) };
    if got < 0 {
        return Err(format!(
            "{dev}: EVIOCGKEY: {}",
            std::io::Error::last_os_error()
        ));
    }
    let down = codes_set(&bitmap);
    if down.is_empty() {
        println!("keys down: none");
    } else {
        let codes: Vec<String> = down.iter().map(u16::to_string).collect();
        println!("keys down: {}", codes.join(" "));
    }
    Ok(())
}

/// The bit numbers set in a little-endian bitmap, lowest first.
fn codes_set(bitmap: &[u8]) -> Vec<u16> {
    (0..bitmap.len() * 8)
        .filter(|&bit| {
            bitmap
                .get(bit / 8)
                .is_some_and(|b| b & (1 << (bit % 8)) != 0)
        })
        .filter_map(|bit| u16::try_from(bit).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_codes_set_lowest_first() {
        let mut bitmap = [0u8; KEY_BITMAP_BYTES];
        bitmap[3] = 0x40; // 30, KEY_A
        bitmap[5] = 0x04; // 42, KEY_LEFTSHIFT
        bitmap[0x110 / 8] = 0x01; // BTN_LEFT
        assert_eq!(codes_set(&bitmap), [30, 42, 0x110]);
        assert!(codes_set(&[0; 4]).is_empty());
    }
}
