//! Responses: a status, headers and a body, serialised into the connection's
//! output buffer. Every response carries the security headers; errors are one
//! line of JSON saying what went wrong.

use std::time::Instant;

use super::Status;
use crate::json;

pub struct Response {
    pub status: Status,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// For HEAD: headers (with the real Content-Length) but no body.
    pub head_only: bool,
    /// Not to be sent before then: the answer to a wrong password waits,
    /// held by the connection on a timer.
    pub not_before: Option<Instant>,
}

/// Sent with every response: kv's pages must not be framed, sniffed, or leak
/// their address, and may load nothing but their own files.
const SECURITY_HEADERS: &str = "Content-Security-Policy: default-src 'self'; img-src 'self' blob: data:; \
connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'\r\n\
X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\n";

impl Response {
    pub fn new(status: Status, content_type: &str, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type", content_type.to_string())],
            body,
            head_only: false,
            not_before: None,
        }
    }

    /// JSON is kv's state (status, images, sessions) or an answer to one
    /// request: no cache, the browser's or a proxy's, may keep it for
    /// whoever uses the machine next (issue 15, finding 7).
    pub fn json(status: Status, body: String) -> Response {
        Response::new(status, "application/json", body.into_bytes())
            .header("Cache-Control", "no-store")
    }

    pub fn ok_json() -> Response {
        Response::json(Status::Ok, json::Object::new().bool("ok", true).finish())
    }

    /// An error: `{"error":"<reason>"}`.
    pub fn error(status: Status, reason: &str) -> Response {
        Response::json(status, json::Object::new().str("error", reason).finish())
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    pub fn not_before(mut self, at: Instant) -> Response {
        self.not_before = Some(at);
        self
    }

    /// Appends the serialised response to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>, keep_alive: bool) {
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Length: {}\r\nConnection: {}\r\n{SECURITY_HEADERS}",
            self.status.code(),
            self.status.text(),
            self.body.len(),
            if keep_alive { "keep-alive" } else { "close" },
        );
        out.extend_from_slice(head.as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if !self.head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

/// The head of a response whose body follows without a length (the MJPEG
/// stream) or that changes protocol (WebSocket).
pub fn open_ended_head(status: Status, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n{SECURITY_HEADERS}",
        status.code(),
        status.text()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_error_is_json_with_length() {
        let mut out = Vec::new();
        Response::error(Status::NotFound, "no route \"/x\"").write_to(&mut out, true);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        let body = r#"{"error":"no route \"/x\""}"#;
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
        assert!(text.contains("X-Frame-Options: DENY\r\n"));
        assert!(text.contains("Cache-Control: no-store\r\n"));
        assert!(text.ends_with(&format!("\r\n\r\n{body}")));
    }

    #[test]
    fn test_head_only_keeps_length() {
        let mut r = Response::new(Status::Ok, "text/plain", b"hello".to_vec());
        r.head_only = true;
        let mut out = Vec::new();
        r.write_to(&mut out, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 5\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }
}
