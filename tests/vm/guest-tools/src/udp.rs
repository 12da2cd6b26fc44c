//! udp-recv: one datagram on a UDP port, printed byte for byte (a Wake-on-LAN
//! listener on the target's side of the USB link; busybox nc has no UDP).

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use crate::Outcome;

/// Waits up to `secs` for one datagram to `port` on any address (broadcasts
/// included) and prints "datagram from ADDR bytes=N hex=...".
pub fn recv(port: u16, secs: u64) -> Outcome {
    let socket =
        UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)).map_err(|e| format!("bind :{port}: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_secs(secs.max(1))))
        .map_err(|e| e.to_string())?;
    println!("listening udp {port}");
    let mut buf = [0u8; 2048];
    let (n, from) = socket
        .recv_from(&mut buf)
        .map_err(|e| format!("no datagram on :{port} within {secs} s: {e}"))?;
    let hex: String = buf[..n].iter().map(|b| format!("{b:02x}")).collect();
    println!("datagram from {from} bytes={n} hex={hex}");
    Ok(())
}
