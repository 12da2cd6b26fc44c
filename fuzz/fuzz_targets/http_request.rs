//! HTTP request heads as any client may send them: `http::request::parse`
//! must never panic, must stay within its limits, and must say the same of a
//! head however it is split across reads.
#![no_main]

use kv::http::request::{parse, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let whole = parse(data, &limits);
    if let Ok(Some((req, n))) = &whole {
        assert!(*n <= data.len() && *n <= limits.max_head);
        assert!(req.content_length <= limits.max_body as u64);
        assert!(req.path.starts_with('/'));
        assert!(req.headers.len() <= limits.max_headers);
        // Cookies are read from the parsed headers, whatever they hold.
        let _ = req.cookie(kv::http::routes::SESSION_COOKIE);
        // The bytes after the head (body, pipelined requests) parse on their own.
        let _ = parse(&data[*n..], &limits);
    }
    // A prefix is either incomplete or already refused, never a different request.
    if let Some(cut) = data.len().checked_sub(1) {
        if let Ok(Some((_, n))) = parse(&data[..cut], &limits) {
            assert!(matches!(&whole, Ok(Some((_, m))) if *m == n));
        }
    }
});
