//! TCP socket options the standard library does not set.

use std::io;
use std::os::fd::AsRawFd;

/// Makes the kernel report the socket writable (and accept more) only while
/// fewer than `bytes` written bytes are still unsent. The socket buffer can
/// otherwise hold seconds of video on a slow link, all of it older than what
/// kv would send next.
pub fn set_notsent_lowat(socket: &impl AsRawFd, bytes: u32) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: the fd is open for the call; setsockopt reads one c_int we own,
    // of the length given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NOTSENT_LOWAT,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn test_notsent_lowat_set_on_tcp_refused_elsewhere() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        set_notsent_lowat(&stream, 16 * 1024).unwrap();
        let pipe = std::fs::File::open("/dev/null").unwrap();
        assert!(set_notsent_lowat(&pipe, 16 * 1024).is_err());
    }
}
