//! The USB device controller (UDC) kv's gadget binds to: choosing it from
//! `/sys/class/udc`, and watching the gadget's binding and the controller's
//! `state`, so kv knows whether the target takes its reports (`configured`)
//! or not (`unbound`, `not attached`, `suspended`...) and the API can say so.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::usb::HostState;

/// The controllers present under `udc_root`, sorted by name.
pub fn list(udc_root: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(udc_root).map_err(|e| {
        format!(
            "{}: {e} — this kernel has no USB device controller support; \
             load the board's UDC driver (e.g. dwc2) or enable its overlay",
            udc_root.display()
        )
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// The UDC to bind: the one named by `--udc` if present, else the only one.
pub fn choose(udc_root: &Path, wanted: Option<&str>) -> Result<String, String> {
    let present = list(udc_root)?;
    match (wanted, present.as_slice()) {
        (Some(name), _) if present.iter().any(|p| p == name) => Ok(name.to_string()),
        (Some(name), []) => Err(format!(
            "--udc {name}: no USB device controller in {}; is the OTG port in \
             peripheral mode (dtoverlay=dwc2, dr_mode=peripheral)?",
            udc_root.display()
        )),
        (Some(name), _) => Err(format!(
            "--udc {name}: no such controller in {}; present: {}",
            udc_root.display(),
            present.join(", ")
        )),
        (None, [only]) => Ok(only.clone()),
        (None, []) => Err(format!(
            "no USB device controller in {}; is the OTG port in peripheral mode \
             (dtoverlay=dwc2, dr_mode=peripheral)? Or run kv without --gadget",
            udc_root.display()
        )),
        (None, several) => Err(format!(
            "several USB device controllers in {}: {}; choose one with --udc",
            udc_root.display(),
            several.join(", ")
        )),
    }
}

/// How often the host side is looked at: a host that leaves or comes back is
/// noticed within this. Two small sysfs reads cost next to nothing.
pub const READ_EVERY: Duration = Duration::from_millis(250);

/// Whether a host has configured kv's gadget: the gadget's own `UDC`
/// attribute (which controller, if any, it is bound to) and that
/// controller's `state`. Both are needed: a controller keeps saying
/// `configured` after the gadget was unbound from it.
pub struct UdcWatch {
    /// The gadget's `UDC` attribute.
    binding: PathBuf,
    udc_root: PathBuf,
    state: HostState,
    read_at: Instant,
}

impl UdcWatch {
    /// A watch of the gadget at `gadget_dir`, first read at `now`.
    pub fn new(udc_root: &Path, gadget_dir: &Path, now: Instant) -> UdcWatch {
        UdcWatch {
            binding: gadget_dir.join("UDC"),
            udc_root: udc_root.to_path_buf(),
            state: HostState::Unread,
            read_at: now,
        }
    }

    /// When `poll` next reads.
    pub fn poll_at(&self) -> Instant {
        self.read_at
    }

    /// Reads the state if it is due, and says what it is, changed or not:
    /// whoever follows it may retry then what failed at the last read (a
    /// device that would not open while the host was there).
    pub fn poll(&mut self, now: Instant) -> Option<HostState> {
        if now < self.read_at {
            return None;
        }
        self.read_at = now + READ_EVERY;
        let state = self.read();
        if state != self.state {
            log::info!(
                "🔌 USB host: {} ({})",
                state.as_str(),
                self.binding.display()
            );
            self.state = state;
        }
        Some(self.state.clone())
    }

    fn read(&self) -> HostState {
        let udc = match std::fs::read_to_string(&self.binding) {
            Ok(text) => text.trim().to_string(),
            Err(_) => return HostState::Unknown,
        };
        // A name that could climb out of udc_root is no controller of ours.
        if udc.is_empty() || udc.contains('/') || udc == ".." {
            return HostState::Unbound;
        }
        match std::fs::read_to_string(self.udc_root.join(udc).join("state")) {
            Ok(text) => HostState::of_controller(&text),
            Err(_) => HostState::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn test_choose_only_one() {
        let root = TempDir::new("udc-one");
        std::fs::create_dir(root.path().join("dummy_udc.0")).unwrap();
        assert_eq!(choose(root.path(), None).unwrap(), "dummy_udc.0");
        assert_eq!(
            choose(root.path(), Some("dummy_udc.0")).unwrap(),
            "dummy_udc.0"
        );
        let e = choose(root.path(), Some("fe980000.usb")).unwrap_err();
        assert!(
            e.contains("--udc fe980000.usb") && e.contains("dummy_udc.0"),
            "{e}"
        );
    }

    #[test]
    fn test_choose_none_or_several_says_fix() {
        let root = TempDir::new("udc-none");
        let e = choose(root.path(), None).unwrap_err();
        assert!(
            e.contains("no USB device controller") && e.contains("dwc2"),
            "{e}"
        );
        std::fs::create_dir(root.path().join("b.usb")).unwrap();
        std::fs::create_dir(root.path().join("a.usb")).unwrap();
        let e = choose(root.path(), None).unwrap_err();
        assert!(e.contains("a.usb, b.usb") && e.contains("--udc"), "{e}");
        let e = choose(&root.path().join("missing"), None).unwrap_err();
        assert!(e.contains("missing"), "{e}");
    }

    #[test]
    fn test_watch_reads_bound_controller_state() {
        let root = TempDir::new("udc-watch");
        let udc = root.path().join("udc/dummy_udc.0");
        let gadget = root.path().join("kv");
        std::fs::create_dir_all(&udc).unwrap();
        std::fs::create_dir_all(&gadget).unwrap();
        let t0 = Instant::now();
        let mut watch = UdcWatch::new(&root.path().join("udc"), &gadget, t0);
        assert_eq!(watch.poll_at(), t0);
        assert_eq!(watch.poll(t0), Some(HostState::Unknown), "no UDC attribute");
        std::fs::write(gadget.join("UDC"), "dummy_udc.0\n").unwrap();
        std::fs::write(udc.join("state"), "configured\n").unwrap();
        assert_eq!(watch.poll(t0 + READ_EVERY / 2), None, "not due yet");
        assert_eq!(watch.poll(t0 + READ_EVERY), Some(HostState::Configured));
        let again = watch.poll(t0 + 2 * READ_EVERY);
        assert_eq!(again, Some(HostState::Configured), "unchanged, said again");
        assert_eq!(watch.poll_at(), t0 + 3 * READ_EVERY);
    }

    #[test]
    fn test_watch_unbound_though_controller_says_configured() {
        let root = TempDir::new("udc-unbound");
        let udc = root.path().join("udc/dummy_udc.0");
        let gadget = root.path().join("kv");
        std::fs::create_dir_all(&udc).unwrap();
        std::fs::create_dir_all(&gadget).unwrap();
        std::fs::write(udc.join("state"), "configured\n").unwrap();
        let t0 = Instant::now();
        let mut watch = UdcWatch::new(&root.path().join("udc"), &gadget, t0);
        // What configfs shows after `echo "" > UDC`: a newline.
        std::fs::write(gadget.join("UDC"), "\n").unwrap();
        assert_eq!(watch.poll(t0), Some(HostState::Unbound));
        std::fs::write(gadget.join("UDC"), "../../etc\n").unwrap();
        assert_eq!(watch.poll(t0 + READ_EVERY), Some(HostState::Unbound));
    }
}
