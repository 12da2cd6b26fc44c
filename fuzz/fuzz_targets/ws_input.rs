//! What a browser may send over `/ws`: the WebSocket framing (tungstenite
//! with kv's limits) and the JSON input messages (`ws::parse_input`, which
//! uses `json::Value`). Nothing may panic or grow beyond the message limit.
#![no_main]

use std::io::{self, Read, Write};

use kv::http::ws::{self, Event, WebSocket};
use libfuzzer_sys::fuzz_target;

/// A socket with nothing more to read and room for every write.
struct Drained {
    written: usize,
}

impl Read for Drained {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }
}

impl Write for Drained {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ws::parse_input(text);
        let _ = kv::json::Value::parse(text);
    }
    // The same bytes as raw frames arriving after the upgrade.
    let mut socket = WebSocket::new(data.to_vec());
    let mut stream = Drained { written: 0 };
    let mut events = Vec::new();
    socket.read(&mut stream, &mut events);
    for event in &events {
        if let Event::Text(text) = event {
            assert!(text.len() <= ws::MAX_MESSAGE);
            let _ = ws::parse_input(text);
        }
    }
});
