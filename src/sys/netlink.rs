//! A tiny rtnetlink client for the two things kv's USB network link needs: an
//! IPv4 address on the gadget's interface and the link up. `ip` is not on
//! every board image (iproute2 is often missing, busybox's applet may be
//! compiled out), and both are one fixed-size message the kernel answers
//! before `send` returns, so kv speaks netlink itself instead of running it.
//! Messages are built and answers parsed in safe code; only the socket calls
//! are `unsafe`.

use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFF_UP: u32 = 0x1;
const NLMSG_HEADER_LEN: usize = 16;

/// Gives `ifname` the address `address/prefix` (with its broadcast address),
/// replacing the same address if it is already there.
pub fn set_ipv4_address(ifname: &str, address: Ipv4Addr, prefix: u8) -> io::Result<()> {
    let index = interface_index(ifname)?;
    request(&address_message(index, address, prefix, 1))
}

/// Brings `ifname` up.
pub fn set_link_up(ifname: &str) -> io::Result<()> {
    let index = interface_index(ifname)?;
    request(&link_up_message(index, 2))
}

fn interface_index(ifname: &str) -> io::Result<u32> {
    let name = CString::new(ifname).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid NUL-terminated string, read only.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(index)
}

/// Sends one request and reads the kernel's acknowledgement, never waiting:
/// the kernel handles a route request inside `send` and has queued its
/// answer by the time it returns.
fn request(message: &[u8]) -> io::Result<()> {
    // SAFETY: plain socket(2); the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: a zeroed sockaddr_nl is valid; the kernel is pid 0.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: message and kernel outlive the call; lengths are theirs.
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            message.as_ptr().cast(),
            message.len(),
            0,
            (&kernel as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut answer = [0u8; 1024];
    // SAFETY: reads at most answer.len() bytes into a local buffer.
    let got = unsafe {
        libc::recv(
            socket.as_raw_fd(),
            answer.as_mut_ptr().cast(),
            answer.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    parse_ack(answer.get(..got as usize).unwrap_or_default())
}

fn header(out: &mut Vec<u8>, kind: u16, flags: u16, seq: u32) {
    out.extend_from_slice(&0u32.to_ne_bytes()); // length, patched by `finish`
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // port: the kernel fills it in
}

fn attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(out.len().next_multiple_of(4), 0);
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    let len = (out.len() as u32).to_ne_bytes();
    out[..4].copy_from_slice(&len);
    out
}

/// RTM_NEWADDR: `struct ifaddrmsg` and the local, peer and broadcast addresses.
fn address_message(index: u32, address: Ipv4Addr, prefix: u8, seq: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    header(&mut out, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, seq);
    out.extend_from_slice(&[libc::AF_INET as u8, prefix, 0, 0]); // family, prefix, flags, scope
    out.extend_from_slice(&index.to_ne_bytes());
    let host_bits = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
    let broadcast = Ipv4Addr::from(u32::from(address) | host_bits);
    attribute(&mut out, IFA_LOCAL, &address.octets());
    attribute(&mut out, IFA_ADDRESS, &address.octets());
    attribute(&mut out, IFA_BROADCAST, &broadcast.octets());
    finish(out)
}

/// RTM_NEWLINK: `struct ifinfomsg` changing only IFF_UP.
fn link_up_message(index: u32, seq: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    header(&mut out, RTM_NEWLINK, 0, seq);
    out.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]); // family, pad, type
    out.extend_from_slice(&index.to_ne_bytes());
    out.extend_from_slice(&IFF_UP.to_ne_bytes()); // flags
    out.extend_from_slice(&IFF_UP.to_ne_bytes()); // change mask
    finish(out)
}

/// The kernel's answer: NLMSG_ERROR with error 0 is the acknowledgement,
/// a negative errno a refusal.
fn parse_ack(answer: &[u8]) -> io::Result<()> {
    let field = |at: usize| -> Option<[u8; 4]> { answer.get(at..at + 4)?.try_into().ok() };
    let kind = answer
        .get(4..6)
        .and_then(|b| b.try_into().ok())
        .map(u16::from_ne_bytes);
    match (kind, field(NLMSG_HEADER_LEN)) {
        (Some(NLMSG_ERROR), Some(errno)) => match i32::from_ne_bytes(errno) {
            0 => Ok(()),
            e => Err(io::Error::from_raw_os_error(-e)),
        },
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "netlink: unexpected answer from the kernel",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_address_message_layout() {
        let m = address_message(7, Ipv4Addr::new(10, 55, 0, 1), 30, 1);
        assert_eq!(m.len(), 16 + 8 + 3 * 8);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()),
            m.len() as u32
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWADDR);
        assert_eq!(
            u16::from_ne_bytes([m[6], m[7]]),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
        );
        assert_eq!(&m[16..20], &[2, 30, 0, 0]);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 7);
        assert_eq!(&m[26..28], &IFA_LOCAL.to_ne_bytes());
        assert_eq!(&m[28..32], &[10, 55, 0, 1]);
        assert_eq!(&m[44..48], &[10, 55, 0, 3], "broadcast of a /30");
    }

    #[test]
    fn test_link_up_message_layout() {
        let m = link_up_message(3, 2);
        assert_eq!(m.len(), 32);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWLINK);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 3);
        assert_eq!(u32::from_ne_bytes(m[24..28].try_into().unwrap()), IFF_UP);
        assert_eq!(u32::from_ne_bytes(m[28..32].try_into().unwrap()), IFF_UP);
    }

    #[test]
    fn test_parse_ack_errors_and_junk() {
        let mut ack = vec![0u8; 36];
        ack[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        assert!(parse_ack(&ack).is_ok());
        ack[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        let e = parse_ack(&ack).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        assert!(parse_ack(&ack[..10]).is_err());
        assert!(parse_ack(&[]).is_err());
    }
}
