//! The only place with `unsafe`: thin, checked wrappers over Linux syscalls and
//! ioctls that the crates in use do not cover. Each wrapper returns `io::Result`.
#![allow(unsafe_code)]

pub mod clock;
pub mod fs;
pub mod inotify;
pub mod netlink;
pub mod process;
pub mod rlimit;
pub mod signal;
pub mod socket;
pub mod v4l2;
