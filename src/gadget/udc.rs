//! The USB device controller (UDC) kv's gadget binds to: choosing it from
//! `/sys/class/udc`, and watching its `state` so the API can say whether the
//! target has enumerated kv (`configured`) or not (`not attached`, `suspended`...).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// How often the UDC state is read: a sysfs read is cheap, but status is
/// computed for every request and push.
const READ_EVERY: Duration = Duration::from_secs(1);

/// The state of one UDC as the host sees it, read at most once a second.
pub struct UdcWatch {
    path: PathBuf,
    state: String,
    read_at: Option<Instant>,
}

impl UdcWatch {
    pub fn new(udc_root: &Path, udc: &str) -> UdcWatch {
        UdcWatch {
            path: udc_root.join(udc).join("state"),
            state: String::new(),
            read_at: None,
        }
    }

    /// `configured` once the host has enumerated the gadget; `unknown` when
    /// the state file cannot be read.
    pub fn state(&mut self, now: Instant) -> &str {
        if self
            .read_at
            .is_none_or(|at| now.saturating_duration_since(at) >= READ_EVERY)
        {
            self.read_at = Some(now);
            let state = match std::fs::read_to_string(&self.path) {
                Ok(text) => text.trim().to_string(),
                Err(_) => "unknown".to_string(),
            };
            if state != self.state {
                log::info!("🔌 USB host: {state} ({})", self.path.display());
                self.state = state;
            }
        }
        &self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gadget::tests::TempDir;

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
    fn test_watch_reads_at_most_once_a_second() {
        let root = TempDir::new("udc-watch");
        let dir = root.path().join("dummy_udc.0");
        std::fs::create_dir(&dir).unwrap();
        let t0 = Instant::now();
        let mut watch = UdcWatch::new(root.path(), "dummy_udc.0");
        assert_eq!(watch.state(t0), "unknown");
        std::fs::write(dir.join("state"), "not attached\n").unwrap();
        assert_eq!(watch.state(t0 + Duration::from_millis(500)), "unknown");
        assert_eq!(watch.state(t0 + READ_EVERY), "not attached");
        std::fs::write(dir.join("state"), "configured\n").unwrap();
        assert_eq!(watch.state(t0 + 2 * READ_EVERY), "configured");
    }
}
