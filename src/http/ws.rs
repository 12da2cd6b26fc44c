//! WebSocket: the upgrade handshake (RFC 6455, checked against the RFC's own
//! vector), the browser's input messages, and a non-blocking connection that
//! tungstenite reads and writes. Only small JSON messages travel through it;
//! video frames are written by hand (`canvas`), so tungstenite's
//! per-connection write copy is harmless.

use std::io::{self, Read, Write};

use base64::Engine;
use sha1::{Digest, Sha1};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::{Role, WebSocketConfig, WebSocketContext};
use tungstenite::{Error, Message};

use crate::hid::report::ABS_MAX;
use crate::hid::Input;
use crate::json::Value;

/// The largest message a browser may send (a long paste); bigger ones close
/// the socket with "message too big".
pub const MAX_MESSAGE: usize = 256 * 1024;
/// Longest `code` a key message may carry (the longest real one is ~20).
const MAX_CODE: usize = 32;
/// Relative moves and wheel steps beyond this are refused, not split for ever.
const MAX_DELTA: i64 = 100_000;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Parses one browser message into an `Input`, or says what is wrong with it.
pub fn parse_input(text: &str) -> Result<Input, String> {
    input_of(&parse_message(text)?)
}

/// A browser message as JSON, checked to have a `type`.
pub fn parse_message(text: &str) -> Result<Value, String> {
    let msg = Value::parse(text).map_err(|e| format!("message is not JSON: {e}"))?;
    message_type(&msg).ok_or("message has no \"type\"")?;
    Ok(msg)
}

pub fn message_type(msg: &Value) -> Option<&str> {
    msg.get("type").and_then(Value::as_str)
}

/// The `Input` an input message (`key`, `abs`, ... `paste`) asks for.
pub fn input_of(msg: &Value) -> Result<Input, String> {
    let kind = message_type(msg).ok_or("message has no \"type\"")?;
    let int = |name: &str, min: i64, max: i64| -> Result<i64, String> {
        let v = msg
            .get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| format!("\"{kind}\" needs an integer \"{name}\""))?;
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(format!("\"{name}\" must be within {min}..{max}, got {v}"))
        }
    };
    let buttons = || -> Result<u8, String> {
        match msg.get("buttons") {
            None => Ok(0),
            Some(_) => int("buttons", 0, 255).map(|b| b as u8),
        }
    };
    match kind {
        "key" => {
            let code = msg
                .get("code")
                .and_then(Value::as_str)
                .ok_or("\"key\" needs a string \"code\"")?;
            if code.is_empty() || code.len() > MAX_CODE {
                return Err("\"code\" must be a KeyboardEvent.code such as \"KeyA\"".into());
            }
            let down = msg
                .get("down")
                .and_then(Value::as_bool)
                .ok_or("\"key\" needs a boolean \"down\"")?;
            Ok(Input::Key {
                code: code.to_string(),
                down,
            })
        }
        "abs" => Ok(Input::Abs {
            x: int("x", 0, ABS_MAX.into())? as u16,
            y: int("y", 0, ABS_MAX.into())? as u16,
            buttons: buttons()?,
        }),
        "rel" => Ok(Input::Rel {
            dx: int("dx", -MAX_DELTA, MAX_DELTA)? as i32,
            dy: int("dy", -MAX_DELTA, MAX_DELTA)? as i32,
            buttons: buttons()?,
        }),
        "wheel" => Ok(Input::Wheel {
            dx: msg.get("dx").map_or(Ok(0), |_| int("dx", -1000, 1000))? as i32,
            dy: msg.get("dy").map_or(Ok(0), |_| int("dy", -1000, 1000))? as i32,
        }),
        "release" => Ok(Input::Release),
        "paste" => {
            let text = msg
                .get("text")
                .and_then(Value::as_str)
                .ok_or("\"paste\" needs a string \"text\"")?;
            let layout = match msg.get("layout") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_str()
                        .ok_or("\"layout\" must be a string such as \"us\"")?
                        .to_string(),
                ),
            };
            let check = match msg.get("check") {
                None | Some(Value::Null) => false,
                Some(v) => v.as_bool().ok_or("\"check\" must be true or false")?,
            };
            Ok(Input::Paste {
                text: text.to_string(),
                layout,
                check,
            })
        }
        other => Err(format!("unknown message type \"{other}\"")),
    }
}

/// What reading a socket produced.
pub enum Event {
    Text(String),
    /// A ping, pong or binary frame: the peer is alive, nothing to do.
    Control,
    /// The peer closed or broke the connection.
    Closed,
}

/// A server-side WebSocket over a non-blocking stream.
pub struct WebSocket {
    ctx: WebSocketContext,
}

impl WebSocket {
    /// `leftover`: bytes that arrived after the upgrade request's head.
    pub fn new(leftover: Vec<u8>) -> WebSocket {
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0)
            .max_write_buffer_size(1024 * 1024)
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        WebSocket {
            ctx: WebSocketContext::from_partially_read(leftover, Role::Server, Some(config)),
        }
    }

    /// Reads every message available without blocking. Binary and control
    /// frames are handled (pongs are answered by tungstenite) and not returned.
    pub fn read<S: Read + Write>(&mut self, stream: &mut S, events: &mut Vec<Event>) {
        loop {
            match self.ctx.read(stream) {
                Ok(Message::Text(text)) => events.push(Event::Text(text.as_str().to_string())),
                Ok(Message::Close(_)) => {
                    let _ = self.ctx.flush(stream);
                    events.push(Event::Closed);
                    return;
                }
                Ok(_) => events.push(Event::Control),
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(Error::Capacity(e)) => {
                    // The WebSocket's 413: say why before hanging up.
                    log::debug!("websocket read: {e}");
                    let frame = CloseFrame {
                        code: CloseCode::Size,
                        reason: "message larger than 256 KiB".into(),
                    };
                    let _ = self.ctx.close(stream, Some(frame));
                    let _ = self.ctx.flush(stream);
                    events.push(Event::Closed);
                    return;
                }
                Err(e) => {
                    log::debug!("websocket read: {e}");
                    events.push(Event::Closed);
                    return;
                }
            }
        }
    }

    /// Queues a text message and writes what the socket takes. Err: the socket
    /// is gone or the peer has stopped reading for a megabyte.
    pub fn send<S: Read + Write>(&mut self, stream: &mut S, text: String) -> Result<(), String> {
        match self.ctx.write(stream, Message::text(text)) {
            Ok(()) => self.flush(stream),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn ping<S: Read + Write>(&mut self, stream: &mut S) -> Result<(), String> {
        match self.ctx.write(stream, Message::Ping(Default::default())) {
            Ok(()) => self.flush(stream),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Writes queued frames; `WouldBlock` leaves them queued for the next call.
    pub fn flush<S: Read + Write>(&mut self, stream: &mut S) -> Result<(), String> {
        match self.ctx.flush(stream) {
            Ok(()) => Ok(()),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// A browser's text frame, masked as clients must (payload under 126 bytes),
/// for tests that play the browser.
#[cfg(test)]
pub fn client_text(text: &str) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// Keeps the `Write` bound honest for tests over in-memory buffers.
#[cfg(test)]
struct Pipe {
    input: io::Cursor<Vec<u8>>,
    output: Vec<u8>,
}

#[cfg(test)]
impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.input.read(buf)? {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

#[cfg(test)]
impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_handshake_rfc6455_vector() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn test_parse_every_input_kind() {
        assert_eq!(
            parse_input(r#"{"type":"key","code":"KeyA","down":true}"#),
            Ok(Input::Key {
                code: "KeyA".into(),
                down: true
            })
        );
        assert_eq!(
            parse_input(r#"{"type":"abs","x":32767,"y":0,"buttons":1}"#),
            Ok(Input::Abs {
                x: 32767,
                y: 0,
                buttons: 1
            })
        );
        assert_eq!(
            parse_input(r#"{"type":"rel","dx":-1000,"dy":5}"#),
            Ok(Input::Rel {
                dx: -1000,
                dy: 5,
                buttons: 0
            })
        );
        assert_eq!(
            parse_input(r#"{"type":"wheel","dy":-1}"#),
            Ok(Input::Wheel { dx: 0, dy: -1 })
        );
        assert_eq!(parse_input(r#"{"type":"release"}"#), Ok(Input::Release));
        assert_eq!(
            parse_input(r#"{"type":"paste","text":"hi","layout":"de"}"#),
            Ok(Input::Paste {
                text: "hi".into(),
                layout: Some("de".into()),
                check: false,
            })
        );
        assert_eq!(
            parse_input(r#"{"type":"paste","text":"hi","check":true}"#),
            Ok(Input::Paste {
                text: "hi".into(),
                layout: None,
                check: true,
            })
        );
    }

    #[test]
    fn test_parse_refuses_bad_messages() {
        for bad in [
            "not json",
            "{}",
            r#"{"type":"dance"}"#,
            r#"{"type":"key","code":"KeyA"}"#,
            r#"{"type":"key","code":"","down":true}"#,
            r#"{"type":"abs","x":40000,"y":0}"#,
            r#"{"type":"abs","x":1.5,"y":0}"#,
            r#"{"type":"rel","dx":1e12,"dy":0}"#,
            r#"{"type":"abs","x":1,"y":1,"buttons":256}"#,
            r#"{"type":"paste","text":5}"#,
            r#"{"type":"paste","text":"x","layout":7}"#,
            r#"{"type":"paste","text":"x","check":"yes"}"#,
        ] {
            assert!(parse_input(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn test_websocket_reads_masked_text_frame() {
        // A client text frame "hi" masked with key 01 02 03 04, then a close frame.
        let mut bytes = vec![0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
        bytes.extend_from_slice(&[0x88, 0x80, 0, 0, 0, 0]);
        let (first, rest) = bytes.split_at(3);
        let mut ws = WebSocket::new(first.to_vec());
        let mut pipe = Pipe {
            input: io::Cursor::new(rest.to_vec()),
            output: Vec::new(),
        };
        let mut events = Vec::new();
        ws.read(&mut pipe, &mut events);
        assert!(matches!(&events[..], [Event::Text(t), Event::Closed] if t == "hi"));
        assert_eq!(pipe.output.first(), Some(&0x88), "close is answered");
    }

    #[test]
    fn test_websocket_oversized_message_closes_with_1009() {
        // A text frame header announcing MAX_MESSAGE + 1 bytes (64-bit length).
        let mut bytes = vec![0x81, 0xFF];
        bytes.extend_from_slice(&(MAX_MESSAGE as u64 + 1).to_be_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        let mut ws = WebSocket::new(Vec::new());
        let mut pipe = Pipe {
            input: io::Cursor::new(bytes),
            output: Vec::new(),
        };
        let mut events = Vec::new();
        ws.read(&mut pipe, &mut events);
        assert!(matches!(&events[..], [Event::Closed]));
        // Close frame, then the status code 1009 (0x03F1).
        assert_eq!(pipe.output.get(..1), Some(&[0x88][..]));
        assert_eq!(pipe.output.get(2..4), Some(&[0x03, 0xF1][..]));
    }
}
