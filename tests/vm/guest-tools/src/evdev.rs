//! `evdev-read`: prints the events a /dev/input/eventN node delivers, so a scenario
//! can check what the USB host side of the gadget saw.

use crate::Outcome;
use std::fs::File;
use std::io::{Read, Write};
use std::time::Duration;

/// struct input_event on 64-bit Linux: struct timeval (16 bytes), type u16, code u16, value i32.
const EVENT_SIZE: usize = 24;

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
        raw[16..18].copy_from_slice(&kind.to_le_bytes());
        raw[18..20].copy_from_slice(&code.to_le_bytes());
        raw[20..24].copy_from_slice(&value.to_le_bytes());
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
