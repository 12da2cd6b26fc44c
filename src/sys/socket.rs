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

/// Bytes written to the socket that the peer has not acknowledged yet
/// (SIOCOUTQ): those still in kv's kernel and those on their way.
pub fn unacknowledged(socket: &impl AsRawFd) -> io::Result<usize> {
    let mut value: libc::c_int = 0;
    // SAFETY: the fd is open for the call; SIOCOUTQ (TIOCOUTQ) writes one c_int we own.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut value) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(value).unwrap_or(0))
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

    #[test]
    fn test_unacknowledged_counts_what_a_full_peer_has_not_taken() {
        use std::io::Write;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_peer, _) = listener.accept().unwrap();
        assert_eq!(unacknowledged(&stream).unwrap(), 0, "nothing written");
        // The peer never reads: once its window is full, what kv writes stays
        // in kv's kernel, unacknowledged.
        stream.set_nonblocking(true).unwrap();
        let chunk = [0u8; 64 * 1024];
        while stream.write(&chunk).is_ok() {}
        assert!(unacknowledged(&stream).unwrap() > 0);
    }
}
