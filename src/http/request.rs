//! HTTP/1.1 request heads: parsed with httparse from a connection's input
//! buffer, checked against the limits that keep one client from costing kv
//! unbounded memory. httparse keeps no state, so a head split over several
//! reads is parsed again from the start when more bytes arrive; bytes after
//! the head stay in the buffer (a body, a pipelined request, WebSocket frames).

use super::Status;

/// How much a request may cost before it is refused.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Request line plus headers; beyond it: 431.
    pub max_head: usize,
    /// Number of header lines; beyond it: 431.
    pub max_headers: usize,
    /// `Content-Length` of API requests; beyond it: 413.
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: 8 * 1024,
            max_headers: 32,
            max_body: 64 * 1024,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Other,
}

#[derive(Debug)]
pub struct Request {
    pub method: Method,
    /// The path without the query, e.g. `/api/status`.
    pub path: String,
    /// What followed `?`, undecoded (empty without one).
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// u64: an upload may exceed 4 GB on a 32-bit board.
    pub content_length: u64,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
}

impl Request {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a comma-separated header such as `Connection` lists `token`.
    pub fn header_has(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// The value of cookie `name`, from any `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "cookie")
            .flat_map(|(_, v)| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
    }

    /// The value of `key` in the query (`?offset=5&overwrite=1`), undecoded.
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// An image upload: its body goes to disk as it arrives, so it is not
    /// held to `max_body` (the images folder sets its own limits).
    pub fn streams_body(&self) -> bool {
        self.method == Method::Put && self.path.starts_with(UPLOAD_PREFIX)
    }
}

/// `PUT /api/images/NAME` uploads image NAME.
pub const UPLOAD_PREFIX: &str = "/api/images/";

/// A request refused before it reached a route.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: Status,
    pub reason: &'static str,
}

fn refuse(status: Status, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// `Ok(None)`: the head is not complete yet. `Ok(Some((request, n)))`: the head
/// took the first `n` bytes of `buf`.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, Refusal> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut slots);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > limits.max_head => {
            return Err(refuse(
                Status::HeaderTooLarge,
                "request head is larger than 8 KiB",
            ));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refuse(Status::HeaderTooLarge, "too many request headers"));
        }
        Err(_) => return Err(refuse(Status::BadRequest, "malformed HTTP request")),
    };
    if n > limits.max_head {
        return Err(refuse(
            Status::HeaderTooLarge,
            "request head is larger than 8 KiB",
        ));
    }
    let method = match req.method.unwrap_or("") {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        _ => Method::Other,
    };
    let target = req.path.unwrap_or("");
    if !target.starts_with('/') {
        return Err(refuse(
            Status::BadRequest,
            "request target must be an absolute path",
        ));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let http11 = req.version == Some(1);
    let mut request = Request {
        method,
        path: path.to_string(),
        query: query.to_string(),
        headers,
        content_length: 0,
        keep_alive: false,
    };
    if request.header("transfer-encoding").is_some() {
        return Err(refuse(
            Status::LengthRequired,
            "chunked request bodies are not supported; send Content-Length",
        ));
    }
    request.content_length = content_length(&request.headers)?;
    if request.content_length > limits.max_body as u64 && !request.streams_body() {
        return Err(refuse(
            Status::PayloadTooLarge,
            "request body is larger than 64 KiB",
        ));
    }
    request.keep_alive = if http11 {
        !request.header_has("connection", "close")
    } else {
        request.header_has("connection", "keep-alive")
    };
    Ok(Some((request, n)))
}

/// The body's length, by RFC 9112 §6.3: digits only (`u64::from_str` would
/// take `+2`), and one value however often the header comes; a second,
/// different value makes the message's framing ambiguous (a smuggling
/// vector behind a proxy that picks the other one), so it is refused.
fn content_length(headers: &[(String, String)]) -> Result<u64, Refusal> {
    let invalid = || refuse(Status::BadRequest, "invalid Content-Length");
    let mut length = None;
    for (_, value) in headers.iter().filter(|(k, _)| k == "content-length") {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let n: u64 = value.parse().map_err(|_| invalid())?;
        if length.is_some_and(|l| l != n) {
            return Err(refuse(
                Status::BadRequest,
                "conflicting Content-Length headers",
            ));
        }
        length = Some(n);
    }
    Ok(length.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn test_parse_split_across_reads() {
        let whole = b"GET /api/status?x=1 HTTP/1.1\r\nHost: kv\r\nAccept: */*\r\n\r\n";
        for cut in 0..whole.len() {
            assert!(
                parse(&whole[..cut], &limits()).unwrap().is_none(),
                "cut at {cut}"
            );
        }
        let (req, n) = parse(whole, &limits()).unwrap().unwrap();
        assert_eq!(n, whole.len());
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.path, "/api/status");
        assert_eq!(req.header("host"), Some("kv"));
        assert!(req.keep_alive);
    }

    #[test]
    fn test_cookie_lookup() {
        let head =
            b"GET / HTTP/1.1\r\nCookie: a=1\r\nCookie: b=2; kv_session=abc ; kv_sessionx=3\r\n\r\n";
        let (req, _) = parse(head, &limits()).unwrap().unwrap();
        assert_eq!(req.cookie("kv_session"), Some("abc"));
        assert_eq!(req.cookie("a"), Some("1"));
        assert_eq!(req.cookie("x"), None);
    }

    #[test]
    fn test_parse_pipelined_leaves_rest() {
        let two = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let (a, n) = parse(two, &limits()).unwrap().unwrap();
        assert_eq!(a.path, "/a");
        let (b, m) = parse(&two[n..], &limits()).unwrap().unwrap();
        assert_eq!(b.path, "/b");
        assert_eq!(n + m, two.len());
    }

    #[test]
    fn test_parse_keep_alive_rules() {
        let (r, _) = parse(b"GET / HTTP/1.0\r\n\r\n", &limits())
            .unwrap()
            .unwrap();
        assert!(!r.keep_alive);
        let (r, _) = parse(
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
            &limits(),
        )
        .unwrap()
        .unwrap();
        assert!(r.keep_alive);
        let (r, _) = parse(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", &limits())
            .unwrap()
            .unwrap();
        assert!(!r.keep_alive);
    }

    #[test]
    fn test_limit_head_size() {
        let mut big = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 9000));
        assert_eq!(
            parse(&big, &limits()).unwrap_err().status,
            Status::HeaderTooLarge
        );
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            parse(&big, &limits()).unwrap_err().status,
            Status::HeaderTooLarge
        );
    }

    #[test]
    fn test_limit_header_count() {
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..40 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            parse(&many, &limits()).unwrap_err().status,
            Status::HeaderTooLarge
        );
    }

    #[test]
    fn test_limit_body_size() {
        let r = parse(
            b"POST /api/x HTTP/1.1\r\nContent-Length: 65537\r\n\r\n",
            &limits(),
        );
        assert_eq!(r.unwrap_err().status, Status::PayloadTooLarge);
        let (r, _) = parse(
            b"POST /api/x HTTP/1.1\r\nContent-Length: 12\r\n\r\n",
            &limits(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.content_length, 12);
        let (r, _) = parse(
            b"PUT /api/images/a.iso?offset=7&overwrite HTTP/1.1\r\nContent-Length: 5000000000\r\n\r\n",
            &limits(),
        )
        .unwrap()
        .unwrap();
        assert!(r.streams_body());
        assert_eq!(r.content_length, 5_000_000_000);
        assert_eq!(r.query_param("offset"), Some("7"));
        assert_eq!(r.query_param("overwrite"), Some(""));
        assert_eq!(r.query_param("size"), None);
    }

    #[test]
    fn test_malformed_requests() {
        for bad in [
            &b"GARBAGE\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
            b"GET http://evil/ HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
            b"\x00\x01\x02\r\n\r\n",
        ] {
            assert_eq!(
                parse(bad, &limits()).unwrap_err().status,
                Status::BadRequest,
                "{bad:?}"
            );
        }
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(
            parse(chunked, &limits()).unwrap_err().status,
            Status::LengthRequired
        );
    }

    /// Issue 15, finding 6: `+2` and two different lengths were taken.
    #[test]
    fn test_attack_signed_or_conflicting_content_length_is_400() {
        for bad in [
            &b"POST / HTTP/1.1\r\nContent-Length: +2\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 2, 3\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n",
        ] {
            assert_eq!(
                parse(bad, &limits()).unwrap_err().status,
                Status::BadRequest,
                "{bad:?}"
            );
        }
        let twice = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            parse(twice, &limits()).unwrap().unwrap().0.content_length,
            2
        );
    }
}
