//! JPEG checks on captured frames (owned by the video work).
