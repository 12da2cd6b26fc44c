//! V4L2 ioctls on a raw capture fd: capabilities, format enumeration, format
//! and frame rate selection, mmap streaming (REQBUFS, QUERYBUF, mmap, QBUF,
//! DQBUF, STREAMON/OFF) driven from the event loop, and source-change events
//! (SUBSCRIBE_EVENT, DQEVENT).
//!
//! The structures and request numbers come from the `v4l` crate's bindings
//! (generated from the kernel's videodev2.h); the calls are made here because
//! `v4l`'s own wrappers do not fit a poll loop: its `MmapStream` blocks in
//! `poll(-1)` and panics in `Drop`, and its capability and format conversions
//! `unwrap` kernel strings and enum values (a card name cut mid-UTF-8, a
//! colorspace newer than the bindings), which kv must not do on device data.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;

use super::{c_string, zeroed};
use v4l::v4l2::vidioc;
use v4l::v4l_sys::*;

/// Node capabilities kv needs: single-planar capture with streaming I/O.
pub const CAP_VIDEO_CAPTURE: u32 = V4L2_CAP_VIDEO_CAPTURE;
pub const CAP_STREAMING: u32 = V4L2_CAP_STREAMING;

const BUF_TYPE_CAPTURE: u32 = v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;
const MEMORY_MMAP: u32 = v4l2_memory_V4L2_MEMORY_MMAP;
const FRMSIZE_DISCRETE: u32 = v4l2_frmsizetypes_V4L2_FRMSIZE_TYPE_DISCRETE;
const FRMSIZE_STEPWISE: u32 = v4l2_frmsizetypes_V4L2_FRMSIZE_TYPE_STEPWISE;
const FRMSIZE_CONTINUOUS: u32 = v4l2_frmsizetypes_V4L2_FRMSIZE_TYPE_CONTINUOUS;
const FRMIVAL_DISCRETE: u32 = v4l2_frmivaltypes_V4L2_FRMIVAL_TYPE_DISCRETE;
const FRMIVAL_STEPWISE: u32 = v4l2_frmivaltypes_V4L2_FRMIVAL_TYPE_STEPWISE;
const FRMIVAL_CONTINUOUS: u32 = v4l2_frmivaltypes_V4L2_FRMIVAL_TYPE_CONTINUOUS;

/// `_IOC(dir, 'V', nr, size)` of asm-generic/ioctl.h (the layout on x86 and
/// ARM), for the requests missing from `v4l`'s table; the size comes from the
/// bindings, so it is right for the target's word size.
const fn vidioc(dir: u32, nr: u32, size: usize) -> vidioc::_IOC_TYPE {
    ((dir << 30) | ((size as u32) << 16) | ((b'V' as u32) << 8) | nr) as vidioc::_IOC_TYPE
}
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;
/// _IOR('V', 89, struct v4l2_event)
const VIDIOC_DQEVENT: vidioc::_IOC_TYPE = vidioc(IOC_READ, 89, std::mem::size_of::<v4l2_event>());
/// _IOW('V', 90, struct v4l2_event_subscription)
const VIDIOC_SUBSCRIBE_EVENT: vidioc::_IOC_TYPE = vidioc(
    IOC_WRITE,
    90,
    std::mem::size_of::<v4l2_event_subscription>(),
);

/// Opens a V4L2 node read-write and non-blocking (DQBUF then answers EAGAIN
/// instead of waiting for a frame).
pub fn open(path: &Path) -> io::Result<OwnedFd> {
    let file: File = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    Ok(file.into())
}

/// Issues one ioctl (`super::ioctl`) with a request number of `v4l`'s type.
///
/// Every caller passes the argument type that `request` encodes (the pairs
/// are the ones in videodev2.h), which is what makes the call sound; the
/// structures start zeroed (`zeroed`), all-zero being valid for the plain C
/// structs of videodev2.h and what the API expects.
fn ioctl<T>(fd: BorrowedFd, request: vidioc::_IOC_TYPE, arg: &mut T) -> io::Result<()> {
    super::ioctl(fd, request as libc::c_ulong, arg)
}

/// What VIDIOC_QUERYCAP says about one device node.
#[derive(Clone, Debug)]
pub struct Capability {
    pub driver: String,
    pub card: String,
    pub bus: String,
    /// The capabilities of this node (not of the whole physical device: a UVC
    /// camera's metadata node shares the camera's overall capabilities).
    pub caps: u32,
}

pub fn query_capability(fd: BorrowedFd) -> io::Result<Capability> {
    let mut cap: v4l2_capability = zeroed();
    ioctl(fd, vidioc::VIDIOC_QUERYCAP, &mut cap)?;
    let caps = if cap.capabilities & V4L2_CAP_DEVICE_CAPS != 0 {
        cap.device_caps
    } else {
        cap.capabilities
    };
    Ok(Capability {
        driver: c_string(&cap.driver),
        card: c_string(&cap.card),
        bus: c_string(&cap.bus_info),
        caps,
    })
}

/// The FourCCs of the capture formats the node offers, in the driver's order.
/// Formats the library layer would emulate do not exist here (no libv4l).
pub fn enum_formats(fd: BorrowedFd) -> io::Result<Vec<[u8; 4]>> {
    let mut formats = Vec::new();
    for index in 0.. {
        let mut desc: v4l2_fmtdesc = zeroed();
        desc.index = index;
        desc.type_ = BUF_TYPE_CAPTURE;
        match ioctl(fd, vidioc::VIDIOC_ENUM_FMT, &mut desc) {
            Ok(()) => formats.push(desc.pixelformat.to_le_bytes()),
            // EINVAL past the last index ends the list.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(formats)
}

/// Frame sizes offered for one format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameSizes {
    Discrete(Vec<(u32, u32)>),
    /// Any size in the ranges, on the steps (continuous: step 1).
    Stepwise {
        width: (u32, u32, u32),
        height: (u32, u32, u32),
    },
}

pub fn enum_frame_sizes(fd: BorrowedFd, fourcc: [u8; 4]) -> io::Result<FrameSizes> {
    let mut sizes = Vec::new();
    for index in 0.. {
        let mut e: v4l2_frmsizeenum = zeroed();
        e.index = index;
        e.pixel_format = u32::from_le_bytes(fourcc);
        match ioctl(fd, vidioc::VIDIOC_ENUM_FRAMESIZES, &mut e) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
        // SAFETY (union reads): `type_` says which member the driver filled.
        match e.type_ {
            FRMSIZE_DISCRETE => {
                let d = unsafe { e.__bindgen_anon_1.discrete };
                sizes.push((d.width, d.height));
            }
            FRMSIZE_STEPWISE | FRMSIZE_CONTINUOUS => {
                let s = unsafe { e.__bindgen_anon_1.stepwise };
                return Ok(FrameSizes::Stepwise {
                    width: (s.min_width, s.max_width, s.step_width.max(1)),
                    height: (s.min_height, s.max_height, s.step_height.max(1)),
                });
            }
            _ => {}
        }
    }
    Ok(FrameSizes::Discrete(sizes))
}

/// A frame interval as a fraction of a second (1/30 for 30 fps).
pub type Fraction = (u32, u32);

/// Frame intervals offered for one format and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameIntervals {
    Discrete(Vec<Fraction>),
    /// Any interval from `min` (fastest) to `max` (slowest).
    Stepwise {
        min: Fraction,
        max: Fraction,
    },
}

pub fn enum_frame_intervals(
    fd: BorrowedFd,
    fourcc: [u8; 4],
    width: u32,
    height: u32,
) -> io::Result<FrameIntervals> {
    let mut intervals = Vec::new();
    for index in 0.. {
        let mut e: v4l2_frmivalenum = zeroed();
        e.index = index;
        e.pixel_format = u32::from_le_bytes(fourcc);
        e.width = width;
        e.height = height;
        match ioctl(fd, vidioc::VIDIOC_ENUM_FRAMEINTERVALS, &mut e) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
        // SAFETY (union reads): `type_` says which member the driver filled.
        match e.type_ {
            FRMIVAL_DISCRETE => {
                let d = unsafe { e.__bindgen_anon_1.discrete };
                intervals.push((d.numerator, d.denominator));
            }
            FRMIVAL_STEPWISE | FRMIVAL_CONTINUOUS => {
                let s = unsafe { e.__bindgen_anon_1.stepwise };
                return Ok(FrameIntervals::Stepwise {
                    min: (s.min.numerator, s.min.denominator),
                    max: (s.max.numerator, s.max.denominator),
                });
            }
            _ => {}
        }
    }
    Ok(FrameIntervals::Discrete(intervals))
}

/// The single-planar capture format in effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PixFormat {
    pub width: u32,
    pub height: u32,
    pub fourcc: [u8; 4],
    pub bytes_per_line: u32,
    pub size_image: u32,
    /// Samples use the full 0..255 range (else limited, 16..235 luma).
    pub full_range: bool,
}

impl From<v4l2_pix_format> for PixFormat {
    fn from(p: v4l2_pix_format) -> PixFormat {
        PixFormat {
            width: p.width,
            height: p.height,
            fourcc: p.pixelformat.to_le_bytes(),
            bytes_per_line: p.bytesperline,
            size_image: p.sizeimage,
            full_range: p.quantization == v4l2_quantization_V4L2_QUANTIZATION_FULL_RANGE,
        }
    }
}

pub fn get_format(fd: BorrowedFd) -> io::Result<PixFormat> {
    let mut f: v4l2_format = zeroed();
    f.type_ = BUF_TYPE_CAPTURE;
    ioctl(fd, vidioc::VIDIOC_G_FMT, &mut f)?;
    // SAFETY: for a single-planar capture type the kernel fills `pix`.
    Ok(PixFormat::from(unsafe { f.fmt.pix }))
}

/// Asks for a size and format; the driver answers with what it will really
/// deliver (possibly another size), which is returned.
pub fn set_format(
    fd: BorrowedFd,
    width: u32,
    height: u32,
    fourcc: [u8; 4],
) -> io::Result<PixFormat> {
    let mut f: v4l2_format = zeroed();
    f.type_ = BUF_TYPE_CAPTURE;
    let mut pix: v4l2_pix_format = zeroed();
    pix.width = width;
    pix.height = height;
    pix.pixelformat = u32::from_le_bytes(fourcc);
    pix.field = v4l2_field_V4L2_FIELD_ANY;
    f.fmt.pix = pix;
    ioctl(fd, vidioc::VIDIOC_S_FMT, &mut f)?;
    // SAFETY: as in `get_format`.
    Ok(PixFormat::from(unsafe { f.fmt.pix }))
}

/// Asks for a frame interval (1/fps); returns the one the driver chose, or
/// `None` when the driver does not support setting it.
pub fn set_frame_interval(fd: BorrowedFd, interval: Fraction) -> io::Result<Option<Fraction>> {
    let mut p: v4l2_streamparm = zeroed();
    p.type_ = BUF_TYPE_CAPTURE;
    let mut capture: v4l2_captureparm = zeroed();
    capture.timeperframe = v4l2_fract {
        numerator: interval.0,
        denominator: interval.1,
    };
    p.parm.capture = capture;
    ioctl(fd, vidioc::VIDIOC_S_PARM, &mut p)?;
    // SAFETY: for a capture type the kernel fills `capture`.
    let capture = unsafe { p.parm.capture };
    Ok(
        (capture.capability & V4L2_CAP_TIMEPERFRAME != 0).then_some((
            capture.timeperframe.numerator,
            capture.timeperframe.denominator,
        )),
    )
}

/// Asks for `count` mmap buffers (0 frees them all); returns how many the
/// driver allocated.
pub fn request_buffers(fd: BorrowedFd, count: u32) -> io::Result<u32> {
    let mut r: v4l2_requestbuffers = zeroed();
    r.count = count;
    r.type_ = BUF_TYPE_CAPTURE;
    r.memory = MEMORY_MMAP;
    ioctl(fd, vidioc::VIDIOC_REQBUFS, &mut r)?;
    Ok(r.count)
}

fn buffer(index: u32) -> v4l2_buffer {
    let mut b: v4l2_buffer = zeroed();
    b.index = index;
    b.type_ = BUF_TYPE_CAPTURE;
    b.memory = MEMORY_MMAP;
    b
}

/// A driver buffer mapped into kv's memory, read-only. Unmapped on drop; the
/// mapping stays valid even when the device is unplugged.
#[derive(Debug)]
pub struct MappedBuffer {
    ptr: NonNull<u8>,
    len: usize,
}

impl MappedBuffer {
    /// The first `used` bytes (clamped to the mapping).
    pub fn bytes(&self, used: usize) -> &[u8] {
        // SAFETY: `ptr..ptr+len` is a live read-only mapping owned by self
        // (unmapped only in Drop). The driver writes into it only while the
        // buffer is queued; callers read it between DQBUF and QBUF.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), used.min(self.len)) }
    }
}

impl Drop for MappedBuffer {
    fn drop(&mut self) {
        // SAFETY: the mapping was created by `map_buffer` with this length
        // and is not referenced past self's lifetime (`bytes` borrows self).
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}

/// QUERYBUF and mmap of buffer `index`.
pub fn map_buffer(fd: BorrowedFd, index: u32) -> io::Result<MappedBuffer> {
    let mut b = buffer(index);
    ioctl(fd, vidioc::VIDIOC_QUERYBUF, &mut b)?;
    let len = b.length as usize;
    // SAFETY: QUERYBUF on an MMAP buffer fills `m.offset`.
    let offset = unsafe { b.m.offset };
    if len == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "driver reported an empty buffer",
        ));
    }
    // SAFETY: a fresh shared read-only mapping of the driver's buffer at the
    // offset/length the driver gave; no Rust memory is affected.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            libc::off_t::from(offset),
        )
    };
    if ptr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
    Ok(MappedBuffer { ptr, len })
}

pub fn queue_buffer(fd: BorrowedFd, index: u32) -> io::Result<()> {
    ioctl(fd, vidioc::VIDIOC_QBUF, &mut buffer(index))
}

/// A buffer the driver handed back with a frame in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dequeued {
    pub index: u32,
    pub bytes_used: u32,
    /// The driver flagged the frame as corrupt (V4L2_BUF_FLAG_ERROR).
    pub error: bool,
    /// When the driver captured it, on CLOCK_MONOTONIC, if it may be that:
    /// a timestamp flagged MONOTONIC, or UNKNOWN (v4l2loopback 0.12 stamps
    /// CLOCK_MONOTONIC and flags nothing), never COPY (the writer's clock).
    pub captured: Option<std::time::Duration>,
}

/// DQBUF without waiting: `None` when no frame is ready (EAGAIN).
pub fn dequeue_buffer(fd: BorrowedFd) -> io::Result<Option<Dequeued>> {
    let mut b = buffer(0);
    match ioctl(fd, vidioc::VIDIOC_DQBUF, &mut b) {
        Ok(()) => Ok(Some(Dequeued {
            index: b.index,
            bytes_used: b.bytesused,
            error: b.flags & V4L2_BUF_FLAG_ERROR != 0,
            captured: monotonic_timestamp(&b),
        })),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}

fn monotonic_timestamp(b: &v4l2_buffer) -> Option<std::time::Duration> {
    let kind = b.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK;
    let monotonic =
        kind == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC || kind == V4L2_BUF_FLAG_TIMESTAMP_UNKNOWN;
    // time_t and suseconds_t are 32 or 64 bits by target: widen, then check.
    #[allow(clippy::useless_conversion)]
    let (sec, usec) = (
        i64::from(b.timestamp.tv_sec),
        i64::from(b.timestamp.tv_usec),
    );
    let set = sec > 0 || usec > 0;
    (monotonic && set && sec >= 0 && (0..1_000_000).contains(&usec))
        .then(|| std::time::Duration::new(sec as u64, usec as u32 * 1000))
}

pub fn stream_on(fd: BorrowedFd) -> io::Result<()> {
    let mut kind = BUF_TYPE_CAPTURE as libc::c_int;
    ioctl(fd, vidioc::VIDIOC_STREAMON, &mut kind)
}

/// Stops capture; every buffer returns to the application side (dequeued).
pub fn stream_off(fd: BorrowedFd) -> io::Result<()> {
    let mut kind = BUF_TYPE_CAPTURE as libc::c_int;
    ioctl(fd, vidioc::VIDIOC_STREAMOFF, &mut kind)
}

/// The input the node captures from now (VIDIOC_G_INPUT): source-change
/// events are raised per input.
pub fn current_input(fd: BorrowedFd) -> io::Result<u32> {
    let mut input: libc::c_int = 0;
    ioctl(fd, vidioc::VIDIOC_G_INPUT, &mut input)?;
    u32::try_from(input).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Asks for V4L2_EVENT_SOURCE_CHANGE of `input`. A driver that raises none
/// answers EINVAL (or ENOTTY without event support at all).
pub fn subscribe_source_change(fd: BorrowedFd, input: u32) -> io::Result<()> {
    let mut sub: v4l2_event_subscription = zeroed();
    sub.type_ = V4L2_EVENT_SOURCE_CHANGE;
    sub.id = input;
    ioctl(fd, VIDIOC_SUBSCRIBE_EVENT, &mut sub)
}

/// A V4L2 event, as far as kv reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// V4L2_EVENT_SOURCE_CHANGE; `resolution`: the input's size or timings
    /// changed, or its signal went (V4L2_EVENT_SRC_CH_RESOLUTION).
    SourceChange { resolution: bool },
    /// A type kv did not subscribe to.
    Other(u32),
}

/// DQEVENT without waiting (events never block): `None` when none is pending.
pub fn dequeue_event(fd: BorrowedFd) -> io::Result<Option<Event>> {
    let mut e: v4l2_event = zeroed();
    match ioctl(fd, VIDIOC_DQEVENT, &mut e) {
        Ok(()) if e.type_ == V4L2_EVENT_SOURCE_CHANGE => {
            // SAFETY (union read): the type says the driver filled `src_change`.
            let changes = unsafe { e.u.src_change.changes };
            Ok(Some(Event::SourceChange {
                resolution: changes & V4L2_EVENT_SRC_CH_RESOLUTION != 0,
            }))
        }
        Ok(()) => Ok(Some(Event::Other(e.type_))),
        // ENOENT: the queue is empty.
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_event_requests_match_videodev2() {
        // The numbers the C compiler computes from videodev2.h on x86_64 and
        // arm64 (struct v4l2_event's size follows the target's time_t).
        if cfg!(target_pointer_width = "64") {
            assert_eq!(VIDIOC_DQEVENT as u32, 0x8088_5659);
        }
        assert_eq!(VIDIOC_SUBSCRIBE_EVENT as u32, 0x4020_565a);
    }
}
