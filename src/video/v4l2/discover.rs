//! Finding a capture device: examining /dev/videoN nodes (capabilities,
//! formats, every size × rate they offer), choosing the best one, and
//! configuring it for the mode closest to the one asked for; or saying why
//! there is none, with the fix.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use log::debug;

use super::kernel::{Host, Node, DEV};
use super::reason::{describe, is_gone, is_locked};
use crate::sys::v4l2::{self as sys, PixFormat};
use crate::video::modes;
use crate::video::raw::PixelFormat;
use crate::video::Mode;

/// Capability bits used only to explain why a node was passed over.
const CAP_VIDEO_OUTPUT: u32 = 0x0000_0002;
pub(super) const CAP_META_CAPTURE: u32 = 0x0080_0000;

/// A capture device kv can use, opened and configured.
pub(super) struct Device {
    pub path: PathBuf,
    pub node: Box<dyn Node>,
    pub card: String,
    /// The driver (`uvcvideo`) and where the device sits (`usb-0000:01:00.0-1.2`):
    /// logged, so the log tells which dongle on which port kv took.
    pub driver: String,
    pub bus: String,
    pub format: PixelFormat,
    pub pix: PixFormat,
    pub mode: Mode,
    pub modes: Vec<Mode>,
}

/// What makes one capture device a better choice than another.
pub(super) struct Choice<'a> {
    /// `-d`: preferred to any other node.
    pub preferred: Option<&'a Path>,
    /// The card kv used last: a dongle often returns as another /dev/videoN.
    pub last_card: &'a str,
    pub wanted: Mode,
}

/// Why a node was passed over.
#[derive(Debug)]
enum Unusable {
    /// Opening or asking it failed.
    Fault(PathBuf, io::Error),
    MetadataNode(PathBuf),
    OutputDevice(PathBuf),
    NotCapture(PathBuf),
    NoStreaming(PathBuf),
    /// It offers only these formats, none of which kv takes.
    Formats(PathBuf, Vec<String>),
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Unusable::Fault(path, e) => write!(f, "{}", describe(path, e)),
            Unusable::MetadataNode(path) => write!(f, "{}, a metadata node", path.display()),
            Unusable::OutputDevice(path) => write!(f, "{}, an output device", path.display()),
            Unusable::NotCapture(path) => {
                write!(f, "{}, not a single-planar capture device", path.display())
            }
            Unusable::NoStreaming(path) => write!(f, "{}, no streaming I/O", path.display()),
            Unusable::Formats(path, names) => write!(
                f,
                "{}, only {} (kv takes MJPG, YUYV, UYVY or NV12)",
                path.display(),
                if names.is_empty() {
                    "no formats".to_string()
                } else {
                    names.join(", ")
                }
            ),
        }
    }
}

/// Examines `paths` in order and opens the best capture device among them,
/// configured for the offered mode closest to `choice.wanted`, or explains
/// why there is none.
pub(super) fn discover(
    host: &dyn Host,
    paths: &[PathBuf],
    explicit: bool,
    choice: &Choice,
) -> Result<Device, String> {
    let mut found = Vec::new();
    let mut rejected = Vec::new();
    for path in paths {
        match examine(host, path) {
            Ok(device) => found.push(device),
            Err(reason) => rejected.push(reason),
        }
    }
    let wanted = (choice.wanted.width, choice.wanted.height);
    let rank = |d: &Device| {
        (
            Some(d.path.as_path()) != choice.preferred,
            d.card != choice.last_card,
            d.format != PixelFormat::Mjpeg,
            !d.modes.iter().any(|m| (m.width, m.height) == wanted),
        )
    };
    // A stable sort keeps /dev order among equals.
    found.sort_by_key(rank);
    let Some(mut device) = found.into_iter().next() else {
        return Err(no_device_message(&rejected, explicit));
    };
    configure(&mut device, choice.wanted).map_err(|e| describe(&device.path, &e))?;
    Ok(device)
}

/// Opens `path` and reads what it offers; the reason when kv cannot use it.
fn examine(host: &dyn Host, path: &Path) -> Result<Device, Unusable> {
    let fault = |e| Unusable::Fault(path.to_path_buf(), e);
    let node = host.open(path).map_err(fault)?;
    let cap = node.capability().map_err(fault)?;
    let path = path.to_path_buf();
    if cap.caps & sys::CAP_VIDEO_CAPTURE == 0 {
        return Err(if cap.caps & CAP_META_CAPTURE != 0 {
            Unusable::MetadataNode(path)
        } else if cap.caps & CAP_VIDEO_OUTPUT != 0 {
            Unusable::OutputDevice(path)
        } else {
            Unusable::NotCapture(path)
        });
    }
    if cap.caps & sys::CAP_STREAMING == 0 {
        return Err(Unusable::NoStreaming(path));
    }
    let offered = node
        .formats()
        .map_err(|e| Unusable::Fault(path.clone(), e))?;
    for format in PixelFormat::PREFERRED {
        let Some(&fourcc) = offered
            .iter()
            .find(|&&f| PixelFormat::from_fourcc(f) == Some(format))
        else {
            continue;
        };
        let modes = list_modes(node.as_ref(), fourcc);
        if !modes.is_empty() {
            return Ok(Device {
                path,
                node,
                card: cap.card,
                driver: cap.driver,
                bus: cap.bus,
                format,
                // Filled in by `configure`.
                pix: PixFormat::default(),
                mode: Mode {
                    width: 0,
                    height: 0,
                    fps: 0,
                },
                modes,
            });
        }
    }
    let names = offered
        .iter()
        .map(|f| String::from_utf8_lossy(f).trim().to_string())
        .collect();
    Err(Unusable::Formats(path, names))
}

/// Every size × rate the node offers for `fourcc`, largest and fastest first.
pub(super) fn list_modes(node: &dyn Node, fourcc: [u8; 4]) -> Vec<Mode> {
    let sizes = match node.frame_sizes(fourcc) {
        Ok(offered) => modes::sizes(&offered),
        // Some drivers (v4l2loopback without a writer) enumerate nothing;
        // the format in effect is then the one size there is.
        Err(_) => Vec::new(),
    };
    let mut list = Vec::new();
    for (width, height) in sizes {
        let mut rates = node
            .frame_intervals(fourcc, (width, height))
            .map(|offered| modes::rates(&offered))
            .unwrap_or_default();
        if rates.is_empty() {
            rates.push(modes::DEFAULT_FPS);
        }
        list.extend(rates.into_iter().map(|fps| Mode { width, height, fps }));
    }
    list
}

/// S_FMT and S_PARM for the offered mode closest to `wanted`; records what
/// the driver really chose.
pub(super) fn configure(device: &mut Device, wanted: Mode) -> io::Result<()> {
    let mode = modes::closest(&device.modes, wanted).unwrap_or(wanted);
    let fourcc = device.format.fourcc();
    let pix = device.node.set_format(fourcc, (mode.width, mode.height))?;
    if PixelFormat::from_fourcc(pix.fourcc) != Some(device.format) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the driver chose {} instead of {}",
                String::from_utf8_lossy(&pix.fourcc),
                device.format.name()
            ),
        ));
    }
    // A driver that cannot set the rate still captures: keep the asked one.
    let fps = match device.node.set_frame_interval((1, mode.fps)) {
        Ok(Some((num, den))) if num > 0 && den > 0 => ((den + num / 2) / num).max(1),
        Ok(_) => mode.fps,
        Err(e) if is_gone(&e) => return Err(e),
        Err(e) => {
            debug!("video: {}: S_PARM: {e}", device.path.display());
            mode.fps
        }
    };
    device.pix = pix;
    device.mode = Mode {
        width: pix.width,
        height: pix.height,
        fps,
    };
    Ok(())
}

fn no_device_message(rejected: &[Unusable], explicit: bool) -> String {
    const HINT: &str = "plug in a capture dongle, pass -d /dev/videoN, or try kv --demo";
    // A node kv may not open is the likeliest culprit: say that first.
    let locked = rejected
        .iter()
        .find(|r| matches!(r, Unusable::Fault(_, e) if is_locked(e)));
    match (locked, rejected) {
        (Some(reason), _) => reason.to_string(),
        (None, [reason]) if explicit => {
            format!("{reason} — check -d, leave it out to pick a capture device, or try kv --demo")
        }
        (None, []) => format!("no V4L2 capture device found under {DEV} — {HINT}"),
        (None, _) => {
            let reasons: Vec<String> = rejected.iter().map(Unusable::to_string).collect();
            format!(
                "no V4L2 capture device found under {DEV} (only {}) — {HINT}",
                reasons.join("; ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::fake::{
        metadata_node, mjpeg_dongle, mode, open, world, yuyv_camera, WATCH_FD,
    };
    use crate::video::{FrameSource, Signal};

    #[test]
    fn test_open_prefers_mjpeg_with_wanted_size() {
        let now = Instant::now();
        let w = world(vec![
            ("/dev/video0", yuyv_camera()),
            ("/dev/video1", metadata_node()),
            ("/dev/video2", mjpeg_dongle("dongle")),
        ]);
        let source = open(&w, None, mode(1280, 720, 30), now).unwrap();
        let info = source.info();
        assert_eq!(info.device, "/dev/video2");
        assert_eq!(info.format, "MJPG");
        assert_eq!(info.mode, mode(1280, 720, 30));
        assert_eq!(info.signal, Signal::Live);
        assert_eq!(info.modes.len(), 6);
        assert_eq!(info.modes[0], mode(1920, 1080, 60));
        assert_eq!(source.fds(), [WATCH_FD]);
    }

    #[test]
    fn test_open_raw_only_takes_closest_size() {
        let w = world(vec![("/dev/video0", yuyv_camera())]);
        let source = open(&w, None, mode(1280, 720, 30), Instant::now()).unwrap();
        assert_eq!(source.info().format, "YUYV");
        assert_eq!(source.info().mode, mode(640, 480, 30));
    }

    #[test]
    fn test_open_no_capture_device_names_demo() {
        let w = world(vec![("/dev/video3", metadata_node())]);
        let err = open(&w, None, mode(1280, 720, 30), Instant::now())
            .err()
            .unwrap();
        assert_eq!(
            err,
            "no V4L2 capture device found under /dev (only /dev/video3, a metadata node) — \
             plug in a capture dongle, pass -d /dev/videoN, or try kv --demo"
        );
        let empty = world(vec![]);
        let err = open(&empty, None, mode(1280, 720, 30), Instant::now())
            .err()
            .unwrap();
        assert!(
            err.starts_with("no V4L2 capture device found under /dev — "),
            "{err}"
        );
    }

    #[test]
    fn test_open_permission_denied_names_fix() {
        let mut locked = mjpeg_dongle("dongle");
        locked.open_error = Some(libc::EACCES);
        let w = world(vec![
            ("/dev/video0", locked),
            ("/dev/video1", metadata_node()),
        ]);
        let err = open(&w, None, mode(1280, 720, 30), Instant::now())
            .err()
            .unwrap();
        assert_eq!(
            err,
            "/dev/video0: permission denied — is kv running as root or in group video?"
        );
    }

    #[test]
    fn test_open_explicit_device_only() {
        let w = world(vec![
            ("/dev/video0", mjpeg_dongle("a")),
            ("/dev/video1", yuyv_camera()),
        ]);
        let source = open(&w, Some("/dev/video1"), mode(640, 480, 30), Instant::now()).unwrap();
        assert_eq!(source.info().device, "/dev/video1");
        let err = open(&w, Some("/dev/video9"), mode(640, 480, 30), Instant::now())
            .err()
            .unwrap();
        assert!(
            err.starts_with("/dev/video9: no such device node — check -d"),
            "{err}"
        );
    }
}
