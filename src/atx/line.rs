//! Where the ATX lines are and how kv holds them: a `LineSpec` names a line
//! (`gpiochipN:OFFSET` or the line's name), `GpioPins` holds the configured
//! lines through the GPIO character device, and `Pins` is what the state
//! machine drives, so the demo can put a simulated target behind it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::press::Button;
use crate::sys::gpio::{self, Chip, RequestedLine};

/// How kv names itself as the lines' consumer (`gpioinfo` shows it).
const CONSUMER: &str = "kv-atx";

/// A GPIO line as the command line names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineSpec {
    /// `gpiochipN:OFFSET`.
    Offset { chip: String, offset: u32 },
    /// The line's name in the device tree or driver (`gpioinfo` lists them).
    Name(String),
}

impl LineSpec {
    pub fn parse(text: &str) -> Result<LineSpec, String> {
        if let Some((chip, offset)) = text.split_once(':') {
            let number = chip.strip_prefix("gpiochip").unwrap_or("");
            return match offset.parse() {
                Ok(offset) if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => {
                    Ok(LineSpec::Offset {
                        chip: chip.to_string(),
                        offset,
                    })
                }
                _ => Err(format!(
                    "{text:?} is not gpiochipN:OFFSET (e.g. gpiochip0:17) nor a line name"
                )),
            };
        }
        if text.is_empty() || text.len() >= 32 {
            return Err(format!(
                "{text:?} is not a GPIO line name (1 to 31 characters)"
            ));
        }
        Ok(LineSpec::Name(text.to_string()))
    }
}

impl std::fmt::Display for LineSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            LineSpec::Offset { chip, offset } => write!(f, "{chip}:{offset}"),
            LineSpec::Name(name) => f.write_str(name),
        }
    }
}

/// A front-panel LED kv reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Led {
    Power,
    Hdd,
}

/// A LED's level now and whether it moved since it was last read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub level: bool,
    pub moved: bool,
}

/// The buttons and LEDs, real or simulated. A line not wired is `None` or an
/// error naming the flag that wires it.
pub trait Pins {
    fn wired_button(&self, button: Button) -> bool;
    fn wired_led(&self, led: Led) -> bool;
    /// Makes a button's line active (pressed) or inactive; answers when
    /// that took effect (`now` for a simulated line; the clock read after the
    /// ioctl for a real one, which may be well into the loop's turn).
    fn set(&mut self, button: Button, pressed: bool, now: Instant) -> io::Result<Instant>;
    /// A wired LED's reading (draining the edges waiting on its line).
    fn read(&mut self, led: Led) -> io::Result<Option<Reading>>;
    /// Descriptors that turn readable on an LED's edge.
    fn fds(&self) -> Vec<RawFd>;
}

/// One role's line as configured: where it is and whether it is active-low.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineConfig {
    pub spec: LineSpec,
    pub active_low: bool,
}

/// The real lines, held through `/dev/gpiochipN`.
pub struct GpioPins {
    power: Option<RequestedLine>,
    reset: Option<RequestedLine>,
    power_led: Option<RequestedLine>,
    hdd_led: Option<RequestedLine>,
}

/// The lines to open, by flag name.
pub struct Wiring<'a> {
    pub power: Option<&'a LineConfig>,
    pub reset: Option<&'a LineConfig>,
    pub power_led: Option<&'a LineConfig>,
    pub hdd_led: Option<&'a LineConfig>,
}

impl GpioPins {
    /// Requests every configured line in `dev` (`/dev`): buttons as outputs
    /// starting inactive, LEDs as inputs with both edges.
    pub fn open(dev: &Path, wiring: &Wiring) -> Result<GpioPins, String> {
        let output = gpio::FLAG_OUTPUT;
        let input = gpio::FLAG_INPUT | gpio::FLAG_EDGE_RISING | gpio::FLAG_EDGE_FALLING;
        let open = |flag: &str, line: Option<&LineConfig>, flags: u64| {
            line.map(|l| request(dev, flag, l, flags)).transpose()
        };
        Ok(GpioPins {
            power: open("--atx-power", wiring.power, output)?,
            reset: open("--atx-reset", wiring.reset, output)?,
            power_led: open("--atx-power-led", wiring.power_led, input)?,
            hdd_led: open("--atx-hdd-led", wiring.hdd_led, input)?,
        })
    }

    fn button(&self, button: Button) -> Option<&RequestedLine> {
        match button {
            Button::Power => self.power.as_ref(),
            Button::Reset => self.reset.as_ref(),
        }
    }

    fn led(&mut self, led: Led) -> Option<&mut RequestedLine> {
        match led {
            Led::Power => self.power_led.as_mut(),
            Led::Hdd => self.hdd_led.as_mut(),
        }
    }
}

impl Pins for GpioPins {
    fn wired_button(&self, button: Button) -> bool {
        self.button(button).is_some()
    }

    fn wired_led(&self, led: Led) -> bool {
        match led {
            Led::Power => self.power_led.is_some(),
            Led::Hdd => self.hdd_led.is_some(),
        }
    }

    fn set(&mut self, button: Button, pressed: bool, _: Instant) -> io::Result<Instant> {
        match self.button(button) {
            Some(line) => line.set_value(pressed).map(|()| Instant::now()),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    fn read(&mut self, led: Led) -> io::Result<Option<Reading>> {
        let Some(line) = self.led(led) else {
            return Ok(None);
        };
        let mut edges = Vec::new();
        line.read_edges(&mut edges)?;
        Ok(Some(Reading {
            level: line.value()?,
            moved: !edges.is_empty(),
        }))
    }

    fn fds(&self) -> Vec<RawFd> {
        [&self.power_led, &self.hdd_led]
            .into_iter()
            .flatten()
            .map(|l| l.as_raw_fd())
            .collect()
    }
}

/// Finds and requests one line, or says what is wrong in terms of `flag`.
fn request(dev: &Path, flag: &str, line: &LineConfig, flags: u64) -> Result<RequestedLine, String> {
    let (path, chip, offset) = find(dev, flag, &line.spec)?;
    let info = chip.line_info(offset).map_err(|e| {
        format!(
            "{flag} {}: cannot read line {offset} of {}: {e}",
            line.spec,
            path.display()
        )
    })?;
    let busy = |consumer: &str| {
        let holder = match consumer {
            "" => "another program or driver".to_string(),
            name => format!("\"{name}\""),
        };
        format!(
            "{flag} {}: line {offset} of {} is in use by {holder}; stop it or wire another line (gpioinfo lists them)",
            line.spec,
            path.display()
        )
    };
    if info.used {
        return Err(busy(&info.consumer));
    }
    let flags = if line.active_low {
        flags | gpio::FLAG_ACTIVE_LOW
    } else {
        flags
    };
    chip.request(offset, flags, CONSUMER).map_err(|e| {
        if e.raw_os_error() == Some(libc::EBUSY) {
            // Taken between the two calls: ask again who holds it.
            busy(
                &chip
                    .line_info(offset)
                    .map(|i| i.consumer)
                    .unwrap_or_default(),
            )
        } else {
            format!(
                "{flag} {}: cannot request line {offset} of {}: {e}",
                line.spec,
                path.display()
            )
        }
    })
}

/// The chip and offset `spec` names.
fn find(dev: &Path, flag: &str, spec: &LineSpec) -> Result<(PathBuf, Chip, u32), String> {
    match spec {
        LineSpec::Offset { chip, offset } => {
            let path = dev.join(chip);
            let opened = Chip::open(&path).map_err(|e| {
                format!(
                    "{flag} {spec}: cannot open {}: {e}; GPIO chips here: {}",
                    path.display(),
                    chip_list(dev)
                )
            })?;
            let lines = opened.lines().map_err(|e| {
                format!("{flag} {spec}: {} is not a GPIO chip: {e}", path.display())
            })?;
            if *offset >= lines {
                return Err(format!(
                    "{flag} {spec}: {chip} has lines 0 to {}",
                    lines.saturating_sub(1)
                ));
            }
            Ok((path, opened, *offset))
        }
        LineSpec::Name(name) => {
            for path in chips(dev) {
                let Ok(chip) = Chip::open(&path) else {
                    continue;
                };
                let lines = chip.lines().unwrap_or(0);
                let found = (0..lines).find(|&o| chip.line_info(o).is_ok_and(|i| i.name == *name));
                if let Some(offset) = found {
                    return Ok((path, chip, offset));
                }
            }
            Err(format!(
                "{flag} {name}: no GPIO line has that name on {}; give gpiochipN:OFFSET or a name gpioinfo lists",
                chip_list(dev)
            ))
        }
    }
}

/// The `gpiochipN` nodes in `dev`, in order.
fn chips(dev: &Path) -> Vec<PathBuf> {
    let mut chips: Vec<PathBuf> = std::fs::read_dir(dev)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("gpiochip"))
        .map(|e| e.path())
        .collect();
    chips.sort();
    chips
}

fn chip_list(dev: &Path) -> String {
    let names: Vec<String> = chips(dev)
        .iter()
        .filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .collect();
    if names.is_empty() {
        format!(
            "{} (none: no GPIO driver, or a kernel without CONFIG_GPIO_CDEV)",
            dev.display()
        )
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_line_specs() {
        assert_eq!(
            LineSpec::parse("gpiochip0:17"),
            Ok(LineSpec::Offset {
                chip: "gpiochip0".into(),
                offset: 17
            })
        );
        assert_eq!(
            LineSpec::parse("GPIO17"),
            Ok(LineSpec::Name("GPIO17".into()))
        );
        for bad in [
            "gpiochip0:x",
            "chip0:1",
            "gpiochip:1",
            "gpiochipa:1",
            "",
            &"n".repeat(32),
        ] {
            assert!(LineSpec::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn test_missing_chip_and_name_say_what_exists() {
        let dev = crate::testutil::TempDir::new("atx");
        let line = LineConfig {
            spec: LineSpec::parse("gpiochip7:1").unwrap(),
            active_low: false,
        };
        let wiring = Wiring {
            power: Some(&line),
            reset: None,
            power_led: None,
            hdd_led: None,
        };
        let e = GpioPins::open(dev.path(), &wiring).err().unwrap();
        assert!(e.starts_with("--atx-power gpiochip7:1: cannot open"), "{e}");
        assert!(e.contains("CONFIG_GPIO_CDEV"), "{e}");
        let named = LineConfig {
            spec: LineSpec::parse("PWR_BTN").unwrap(),
            active_low: false,
        };
        let wiring = Wiring {
            power: None,
            reset: None,
            power_led: None,
            hdd_led: Some(&named),
        };
        let e = GpioPins::open(dev.path(), &wiring).err().unwrap();
        assert!(
            e.starts_with("--atx-hdd-led PWR_BTN: no GPIO line has that name"),
            "{e}"
        );
    }
}
