//! A serial line's settings (termios): raw mode, so every byte the target
//! sends reaches the browser as it is and every byte typed reaches the
//! target, with no echo, line editing or signal keys on kv's side.

use std::io;
use std::os::fd::AsRawFd;

/// Puts the terminal behind `fd` in raw mode (cfmakeraw: no echo, no
/// canonical lines, no CR/NL translation, 8 bits) and turns off modem
/// control so that a closed line does not hang up the reader.
pub fn set_raw(fd: &impl AsRawFd) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: a zeroed termios is a valid value for tcgetattr to fill.
    let mut termios: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open (borrowed from its owner) and termios is writable.
    if unsafe { libc::tcgetattr(fd, &mut termios) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: cfmakeraw only changes the struct it is given.
    unsafe { libc::cfmakeraw(&mut termios) };
    termios.c_cflag |= libc::CLOCAL | libc::CREAD;
    // SAFETY: as for tcgetattr; TCSANOW applies it at once.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &termios) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    /// A pseudo-terminal's far end starts cooked (echo, lines); after
    /// `set_raw` it reads as cfmakeraw left it.
    #[test]
    fn test_set_raw_on_a_pty() {
        // SAFETY: plain libc calls on a fresh descriptor this test owns.
        let (master, slave) = unsafe {
            let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            assert!(master >= 0, "posix_openpt");
            assert_eq!(libc::grantpt(master), 0);
            assert_eq!(libc::unlockpt(master), 0);
            let name = std::ffi::CStr::from_ptr(libc::ptsname(master))
                .to_string_lossy()
                .into_owned();
            (
                <File as std::os::fd::FromRawFd>::from_raw_fd(master),
                File::options().read(true).write(true).open(name).unwrap(),
            )
        };
        let flags = |f: &File| {
            // SAFETY: as in set_raw.
            let mut t: libc::termios = unsafe { std::mem::zeroed() };
            assert_eq!(unsafe { libc::tcgetattr(f.as_raw_fd(), &mut t) }, 0);
            t
        };
        assert_ne!(flags(&slave).c_lflag & libc::ECHO, 0, "a pty starts cooked");
        set_raw(&slave).unwrap();
        let t = flags(&slave);
        assert_eq!(t.c_lflag & (libc::ECHO | libc::ICANON | libc::ISIG), 0);
        assert_eq!(t.c_oflag & libc::OPOST, 0);
        assert_eq!(t.c_iflag & libc::ICRNL, 0);
        assert_eq!(t.c_cflag & libc::CSIZE, libc::CS8);
        assert_ne!(t.c_cflag & libc::CLOCAL, 0);
        drop(master);
        let e = set_raw(&File::open("/dev/null").unwrap()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
    }
}
