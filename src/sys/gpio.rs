//! The Linux GPIO character device (`/dev/gpiochipN`), uAPI v2 only: line
//! info (to find a line by name and to say who holds a busy one), line
//! requests for one output or one input with edge events, reading and
//! setting a requested line's value, and reading its edge events.
//!
//! The structures mirror `include/uapi/linux/gpio.h`. The kernel designed
//! them to have one layout on every architecture (64-bit fields 8-aligned,
//! explicit padding), so one Rust definition serves x86_64, aarch64 and
//! 32-bit ARM; the sizes are checked below against the header's, and the
//! request numbers are built from them.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::{c_string, zeroed};

const NAME_SIZE: usize = 32;
const LINES_MAX: usize = 64;
const NUM_ATTRS_MAX: usize = 10;

pub const FLAG_USED: u64 = 1 << 0;
pub const FLAG_ACTIVE_LOW: u64 = 1 << 1;
pub const FLAG_INPUT: u64 = 1 << 2;
pub const FLAG_OUTPUT: u64 = 1 << 3;
pub const FLAG_EDGE_RISING: u64 = 1 << 4;
pub const FLAG_EDGE_FALLING: u64 = 1 << 5;

#[repr(C)]
#[derive(Clone, Copy)]
struct ChipInfo {
    name: [u8; NAME_SIZE],
    label: [u8; NAME_SIZE],
    lines: u32,
}

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct LineValues {
    bits: u64,
    mask: u64,
}

/// `struct gpio_v2_line_attribute`; the union is read and written as its
/// widest member.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct LineAttribute {
    id: u32,
    padding: u32,
    value: u64,
}

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct LineConfigAttribute {
    attr: LineAttribute,
    mask: u64,
}

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct LineConfig {
    flags: u64,
    num_attrs: u32,
    padding: [u32; 5],
    attrs: [LineConfigAttribute; NUM_ATTRS_MAX],
}

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct LineRequest {
    offsets: [u32; LINES_MAX],
    consumer: [u8; NAME_SIZE],
    config: LineConfig,
    num_lines: u32,
    event_buffer_size: u32,
    padding: [u32; 5],
    fd: i32,
}

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct RawLineInfo {
    name: [u8; NAME_SIZE],
    consumer: [u8; NAME_SIZE],
    offset: u32,
    num_attrs: u32,
    flags: u64,
    attrs: [LineAttribute; NUM_ATTRS_MAX],
    padding: [u32; 4],
}

#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct LineEvent {
    timestamp_ns: u64,
    id: u32,
    offset: u32,
    seqno: u32,
    line_seqno: u32,
    padding: [u32; 6],
}

// The sizes of linux/gpio.h, the same on every architecture.
const _: () = assert!(std::mem::size_of::<ChipInfo>() == 68);
const _: () = assert!(std::mem::size_of::<LineValues>() == 16);
const _: () = assert!(std::mem::size_of::<LineAttribute>() == 16);
const _: () = assert!(std::mem::size_of::<LineConfigAttribute>() == 24);
const _: () = assert!(std::mem::size_of::<LineConfig>() == 272);
const _: () = assert!(std::mem::size_of::<LineRequest>() == 592);
const _: () = assert!(std::mem::size_of::<RawLineInfo>() == 256);
const _: () = assert!(std::mem::size_of::<LineEvent>() == 48);
const _: () = assert!(std::mem::offset_of!(LineRequest, fd) == 588);
const _: () = assert!(std::mem::offset_of!(RawLineInfo, flags) == 72);

/// `_IOC(dir, 0xB4, nr, size)` of asm-generic/ioctl.h (x86 and ARM).
const fn gpio_ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (0xB4 << 8) | nr
}
const READ: u32 = 2;
const READ_WRITE: u32 = 3;
const GET_CHIPINFO: u32 = gpio_ioc(READ, 0x01, std::mem::size_of::<ChipInfo>());
const GET_LINEINFO: u32 = gpio_ioc(READ_WRITE, 0x05, std::mem::size_of::<RawLineInfo>());
const GET_LINE: u32 = gpio_ioc(READ_WRITE, 0x07, std::mem::size_of::<LineRequest>());
const GET_VALUES: u32 = gpio_ioc(READ_WRITE, 0x0E, std::mem::size_of::<LineValues>());
const SET_VALUES: u32 = gpio_ioc(READ_WRITE, 0x0F, std::mem::size_of::<LineValues>());
// The numbers the header's macros give.
const _: () = assert!(GET_CHIPINFO == 0x8044_B401);
const _: () = assert!(GET_LINEINFO == 0xC100_B405);
const _: () = assert!(GET_LINE == 0xC250_B407);
const _: () = assert!(GET_VALUES == 0xC010_B40E);
const _: () = assert!(SET_VALUES == 0xC010_B40F);

/// Issues one ioctl (`super::ioctl`); each caller passes the structure
/// `request` encodes, which makes the call sound. The structures start
/// zeroed (`zeroed`): all-zero is valid for them and what the uAPI expects.
fn ioctl<T>(fd: BorrowedFd, request: u32, arg: &mut T) -> io::Result<()> {
    super::ioctl(fd, libc::c_ulong::from(request), arg)
}

/// An open GPIO chip.
pub struct Chip {
    file: File,
}

/// What the kernel says about one line of a chip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfo {
    pub name: String,
    /// Who holds the line, when it is in use and the holder gave a name.
    pub consumer: String,
    pub used: bool,
}

impl Chip {
    pub fn open(path: &Path) -> io::Result<Chip> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        Ok(Chip { file })
    }

    /// How many lines the chip has.
    pub fn lines(&self) -> io::Result<u32> {
        let mut info: ChipInfo = zeroed();
        ioctl(self.file.as_fd(), GET_CHIPINFO, &mut info)?;
        Ok(info.lines)
    }

    pub fn line_info(&self, offset: u32) -> io::Result<LineInfo> {
        let mut info: RawLineInfo = zeroed();
        info.offset = offset;
        ioctl(self.file.as_fd(), GET_LINEINFO, &mut info)?;
        Ok(LineInfo {
            name: c_string(&info.name),
            consumer: c_string(&info.consumer),
            used: info.flags & FLAG_USED != 0,
        })
    }

    /// Requests one line with `flags` (`FLAG_OUTPUT` or `FLAG_INPUT` with
    /// edges, maybe `FLAG_ACTIVE_LOW`); an output starts inactive. The
    /// line's descriptor is non-blocking, so reading its events never waits.
    pub fn request(&self, offset: u32, flags: u64, consumer: &str) -> io::Result<RequestedLine> {
        let mut request: LineRequest = zeroed();
        request.offsets[0] = offset;
        request.num_lines = 1;
        request.config.flags = flags;
        let name = consumer.as_bytes();
        let len = name.len().min(NAME_SIZE - 1);
        request.consumer[..len].copy_from_slice(&name[..len]);
        ioctl(self.file.as_fd(), GET_LINE, &mut request)?;
        // SAFETY: the kernel just opened this descriptor for us; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(request.fd) };
        // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
        let ok = unsafe {
            let status = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
            status != -1
                && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, status | libc::O_NONBLOCK) != -1
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
        Ok(RequestedLine { file: fd.into() })
    }
}

/// A direction of an edge the kernel saw on an input line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    Rising,
    Falling,
}

/// One line held by kv (a line request of one line).
pub struct RequestedLine {
    file: File,
}

impl RequestedLine {
    /// Whether the line is active (its logical value, after active-low).
    pub fn value(&self) -> io::Result<bool> {
        let mut values = LineValues { bits: 0, mask: 1 };
        ioctl(self.file.as_fd(), GET_VALUES, &mut values)?;
        Ok(values.bits & 1 != 0)
    }

    pub fn set_value(&self, active: bool) -> io::Result<()> {
        let mut values = LineValues {
            bits: u64::from(active),
            mask: 1,
        };
        ioctl(self.file.as_fd(), SET_VALUES, &mut values)
    }

    /// The edges waiting (in order), until the kernel has no more.
    pub fn read_edges(&mut self, edges: &mut Vec<Edge>) -> io::Result<()> {
        const SIZE: usize = std::mem::size_of::<LineEvent>();
        let mut buf = [0u8; SIZE * 16];
        loop {
            let n = match self.file.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            // The kernel hands out whole events only; the id sits after the timestamp.
            for event in buf[..n].chunks_exact(SIZE) {
                let id = u32::from_ne_bytes([event[8], event[9], event[10], event[11]]);
                edges.push(if id == 1 { Edge::Rising } else { Edge::Falling });
            }
        }
    }
}

impl AsRawFd for RequestedLine {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_event_id_sits_after_the_timestamp() {
        assert_eq!(std::mem::offset_of!(LineEvent, id), 8);
    }

    #[test]
    fn test_not_a_chip_is_an_error_not_a_panic() {
        let chip = Chip::open(Path::new("/dev/null")).unwrap();
        assert!(chip.lines().is_err());
        assert!(chip.line_info(0).is_err());
    }
}
