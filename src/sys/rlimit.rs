//! The open-files limit (RLIMIT_NOFILE): every client is a descriptor, and
//! many systems start services with a soft limit of 1024, fewer than a large
//! `--max-connections` needs.

use std::io;

/// Raises the soft open-files limit to `wanted`, or to the hard limit if that
/// is lower. Returns (limit before, limit now).
pub fn raise_open_files(wanted: u64) -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let before = limit.rlim_cur;
    if before >= wanted {
        return Ok((before, before));
    }
    limit.rlim_cur = wanted.min(limit.rlim_max);
    // SAFETY: setrlimit reads one rlimit we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((before, limit.rlim_cur))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_raise_never_lowers() {
        let (before, now) = raise_open_files(1).unwrap();
        assert_eq!(before, now);
        let (_, now) = raise_open_files(before).unwrap();
        assert!(now >= before);
    }
}
