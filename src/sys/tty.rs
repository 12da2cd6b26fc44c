//! The terminal, for `kv user`'s password prompts: whether standard input
//! is one, and reading a line from it without echo (termios).

use std::io::{self, BufRead};

/// Whether standard input is a terminal (a person typing, not a script).
pub fn stdin_is_tty() -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(libc::STDIN_FILENO) == 1 }
}

/// Reads one line from the terminal on standard input with echo off; echo
/// is restored whatever happens, and a newline is printed for the one the
/// user typed but did not see.
pub fn read_hidden_line() -> io::Result<String> {
    // SAFETY: an all-zero termios is a valid value of this plain C struct,
    // filled by tcgetattr below before use.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: the descriptor is ours to query; tcgetattr writes one struct we own.
    if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut saved) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    quiet.c_lflag |= libc::ECHONL;
    // SAFETY: sets the terminal from a struct tcgetattr filled.
    if unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut line = String::new();
    let read = io::stdin().lock().read_line(&mut line);
    // SAFETY: as above, restoring what was saved.
    unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &saved) };
    read.map(|_| line)
}
