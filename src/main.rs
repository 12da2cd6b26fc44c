//! kv: a remote KVM. See README.md.
#![deny(unsafe_code)]

mod demo;
mod hid;
mod render;
mod sys;
mod video;

fn main() {}
