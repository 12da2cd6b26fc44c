//! kv's modules as a library, so the fuzz targets in `fuzz/` can drive the
//! parsers (HTTP heads, WebSocket messages, JPEG checks) directly; the `kv`
//! binary (main.rs) is the command line over it.
#![deny(unsafe_code)]

pub mod app;
pub mod atx;
pub mod audit;
pub mod auth;
pub mod config;
pub mod control;
pub mod demo;
pub mod event_loop;
pub mod gadget;
pub mod hid;
pub mod http;
pub mod json;
pub mod macros;
pub mod media;
pub mod metrics;
pub mod net;
pub mod qr;
pub mod render;
pub mod serial;
pub mod sys;
#[cfg(test)]
mod testutil;
pub mod tls;
pub mod usb;
pub mod video;
