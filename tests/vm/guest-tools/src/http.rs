//! Plain HTTP/1.1 client pieces over std's blocking TcpStream: URLs, one-shot
//! requests, and the multipart MJPEG reader behind `stream-read`.

use crate::{jpeg, Outcome};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Longest header line accepted; a longer one means the peer is not speaking HTTP.
const MAX_LINE: u64 = 8192;
/// Largest part body accepted from /stream (a 4K MJPEG frame is well below this).
const MAX_PART: usize = 32 << 20;

/// `http://host:port/path` or `ws://host:port/path`, the only forms the tests use.
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url, String> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("ws://"))
            .ok_or_else(|| format!("{url}: only http:// and ws:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| format!("{url}: bad port"))?),
            None => (authority, 80),
        };
        Ok(Url {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn connect(&self, timeout: Duration) -> Result<TcpStream, String> {
        connect(&self.authority(), timeout)
    }
}

fn connect(authority: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addr = authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| format!("{authority}: cannot resolve"))?;
    TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{authority}: connect: {e}"))
}

pub fn port_open(authority: &str) -> Outcome {
    connect(authority, Duration::from_secs(1)).map(drop)
}

/// A response or part head: the first line (empty for multipart parts) and headers.
pub(crate) struct Head {
    pub(crate) first_line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn content_length(&self) -> Result<Option<usize>, String> {
        self.header("content-length")
            .map(|v| v.parse().map_err(|_| format!("bad Content-Length {v:?}")))
            .transpose()
    }
}

fn read_line(r: &mut impl BufRead) -> Result<String, String> {
    let mut line = Vec::new();
    r.take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("read: {e}"))?;
    if line.is_empty() {
        return Err("connection closed".into());
    }
    Ok(String::from_utf8_lossy(&line)
        .trim_end_matches(['\r', '\n'])
        .to_owned())
}

/// Reads header lines up to the blank line; `with_first_line` for a response's status line.
fn read_head(r: &mut impl BufRead, with_first_line: bool) -> Result<Head, String> {
    let first_line = if with_first_line {
        read_line(r)?
    } else {
        String::new()
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            return Ok(Head {
                first_line,
                headers,
            });
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

fn send_request(url: &Url, method: &str, body: &str) -> Result<BufReader<TcpStream>, String> {
    let mut stream = url.connect(Duration::from_secs(5))?;
    let request = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        url.path,
        url.authority(),
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{}: send: {e}", url.authority()))?;
    Ok(BufReader::new(stream))
}

/// `http METHOD URL [BODY]`: prints the status line, the headers and the body.
pub fn request(method: &str, url: &str, body: &str) -> Outcome {
    let (head, content) = fetch(method, url, body)?;
    println!("{}", head.first_line);
    for (name, value) in &head.headers {
        println!("{name}: {value}");
    }
    println!();
    std::io::stdout()
        .write_all(&content)
        .map_err(|e| e.to_string())?;
    println!();
    Ok(())
}

/// GETs `url` until its body holds `text` (or `secs` pass), then prints
/// when the answer that held it came, on CLOCK_MONOTONIC: a scenario
/// compares that with when the kernel saw what changed (ATX: an input
/// line's edge, stamped by kv_vm_gpio on the same clock).
pub fn until(url: &str, text: &str, secs: u64) -> Outcome {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut requests = 0;
    let mut missed_sent = None;
    while std::time::Instant::now() < deadline {
        let sent = crate::bench::monotonic_us();
        let (_, body) = fetch("GET", url, "")?;
        requests += 1;
        if requests == 1 {
            // The scenario changes what it waits for only once this polls.
            println!("polling");
        }
        if String::from_utf8_lossy(&body).contains(text) {
            // The change came between the last miss's request and this answer.
            let missed = missed_sent.map_or("none".into(), |us: u64| us.to_string());
            println!(
                "seen at {} after {requests} requests (sent at {sent}, the last without it sent at {missed})",
                crate::bench::monotonic_us()
            );
            return Ok(());
        }
        missed_sent = Some(sent);
    }
    Err(format!("{url}: no answer held {text:?} in {secs} s ({requests} requests)"))
}

/// One request: the response head and body.
pub(crate) fn fetch(method: &str, url: &str, body: &str) -> Result<(Head, Vec<u8>), String> {
    let parsed = Url::parse(url)?;
    let mut r = send_request(&parsed, method, body)?;
    r.get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let head = read_head(&mut r, true).map_err(|e| format!("{url}: {e}"))?;
    let mut content = Vec::new();
    match head.content_length().map_err(|e| format!("{url}: {e}"))? {
        Some(n) => r.take(n as u64).read_to_end(&mut content),
        None => r.read_to_end(&mut content),
    }
    .map_err(|e| format!("{url}: reading body: {e}"))?;
    Ok((head, content))
}

/// One part of a multipart MJPEG stream, checked to be a whole JPEG.
pub(crate) struct Part {
    pub(crate) seq: Option<u64>,
    pub(crate) body: Vec<u8>,
    pub(crate) info: jpeg::JpegInfo,
}

/// A `multipart/x-mixed-replace` response being read part by part until a deadline.
pub(crate) struct MjpegStream {
    url: String,
    r: BufReader<TcpStream>,
    delimiter: String,
    deadline: Instant,
    parts: u64,
    last_seq: Option<u64>,
}

impl MjpegStream {
    /// Sends GET and checks the response is a multipart stream with a boundary.
    pub(crate) fn open(url: &str, deadline: Instant) -> Result<MjpegStream, String> {
        let parsed = Url::parse(url)?;
        let r = send_request(&parsed, "GET", "")?;
        let mut stream = MjpegStream {
            url: url.to_owned(),
            r,
            delimiter: String::new(),
            deadline,
            parts: 0,
            last_seq: None,
        };
        stream.set_timeout()?;
        let head = read_head(&mut stream.r, true).map_err(|e| format!("{url}: {e}"))?;
        if !head.first_line.contains(" 200") {
            return Err(format!("{url}: {}", head.first_line));
        }
        let content_type = head.header("content-type").unwrap_or_default();
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .filter(|_| content_type.starts_with("multipart/x-mixed-replace"))
            .ok_or_else(|| format!("{url}: Content-Type {content_type:?} is not multipart/x-mixed-replace with a boundary"))?;
        stream.delimiter = format!("--{}", boundary.trim_matches('"'));
        Ok(stream)
    }

    fn set_timeout(&self) -> Outcome {
        let left = self
            .deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        self.r
            .get_ref()
            .set_read_timeout(Some(left))
            .map_err(|e| e.to_string())
    }

    /// The next part: a whole JPEG whose X-Frame-Seq (if any) is above the last one.
    pub(crate) fn next_part(&mut self) -> Result<Part, String> {
        self.set_timeout()?;
        let (url, i) = (&self.url, self.parts);
        let context = |e: String| format!("{url}: frame {i}: {e}");
        loop {
            let line = read_line(&mut self.r).map_err(context)?;
            if line == self.delimiter {
                break;
            }
            if !line.is_empty() {
                return Err(context(format!(
                    "expected {:?}, got {line:?}",
                    self.delimiter
                )));
            }
        }
        let part = read_head(&mut self.r, false).map_err(context)?;
        let len = part
            .content_length()
            .map_err(context)?
            .ok_or_else(|| context("part has no Content-Length".into()))?;
        if len > MAX_PART {
            return Err(context(format!("part of {len} bytes is implausibly large")));
        }
        let mut body = vec![0; len];
        self.r
            .read_exact(&mut body)
            .map_err(|e| context(format!("reading {len} bytes: {e}")))?;
        let info = jpeg::inspect(&body).map_err(context)?;
        let seq = part
            .header("x-frame-seq")
            .and_then(|s| s.parse::<u64>().ok());
        if let (Some(prev), Some(now)) = (self.last_seq, seq) {
            if now <= prev {
                return Err(context(format!("X-Frame-Seq went from {prev} to {now}")));
            }
        }
        self.last_seq = seq.or(self.last_seq);
        self.parts += 1;
        Ok(Part { seq, body, info })
    }
}

/// `stream-read URL N [SECONDS]`: reads N parts from a multipart/x-mixed-replace
/// stream, checks each is a whole JPEG with increasing X-Frame-Seq, and prints one
/// line per frame and a summary with the measured frame rate.
pub fn stream_read(url: &str, frames: u64, seconds: u64) -> Outcome {
    let mut stream = MjpegStream::open(url, Instant::now() + Duration::from_secs(seconds))?;
    let (mut first_at, mut last_at) = (None, Instant::now());
    let mut total_bytes = 0;
    for i in 0..frames {
        let Part { seq, body, info } = stream.next_part()?;
        last_at = Instant::now();
        first_at.get_or_insert(last_at);
        total_bytes += body.len();
        println!(
            "frame {i} seq={} bytes={} size={}x{} dht={} sha1={}",
            seq.map_or("-".into(), |s| s.to_string()),
            body.len(),
            info.width,
            info.height,
            u8::from(info.huffman_tables),
            jpeg::sha1_hex(&body)
        );
    }
    let span = first_at.map_or(0.0, |t| last_at.duration_since(t).as_secs_f64());
    let fps = if frames > 1 && span > 0.0 {
        (frames - 1) as f64 / span
    } else {
        0.0
    };
    println!(
        "stream-read: {frames} frames, {} bytes average, fps={fps:.1}",
        total_bytes / frames.max(1) as usize
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::test_pattern;
    use std::net::TcpListener;

    /// Serves one connection: `head` after the request, then each part of `parts`
    /// as kv frames it (Content-Length, X-Frame-Seq).
    fn serve(head: &'static str, parts: Vec<(u64, Vec<u8>)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/stream", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = conn.read(&mut request);
            let mut out = head.as_bytes().to_vec();
            for (seq, body) in parts {
                out.extend(format!("--kvframe\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nX-Frame-Seq: {seq}\r\n\r\n", body.len()).bytes());
                out.extend(body);
                out.extend(b"\r\n");
            }
            let _ = conn.write_all(&out);
        });
        url
    }

    const MULTIPART: &str =
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=kvframe\r\n\r\n";

    fn frames(seqs: &[u64]) -> Vec<(u64, Vec<u8>)> {
        seqs.iter()
            .map(|&s| (s, test_pattern(32, 16, s as u16 % 8).unwrap()))
            .collect()
    }

    #[test]
    fn test_url_parse() {
        let url = Url::parse("ws://10.0.0.1:8080/ws").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("10.0.0.1", 8080, "/ws")
        );
        let url = Url::parse("http://localhost").unwrap();
        assert_eq!((url.port, url.path.as_str()), (80, "/"));
        assert!(Url::parse("https://x/").is_err());
        assert!(Url::parse("http://x:port/").is_err());
    }

    #[test]
    fn test_stream_read_whole_frames() {
        let url = serve(MULTIPART, frames(&[1, 2, 5]));
        assert_eq!(stream_read(&url, 3, 5), Ok(()));
    }

    #[test]
    fn test_stream_read_sequence_goes_back() {
        let url = serve(MULTIPART, frames(&[3, 2]));
        assert!(stream_read(&url, 2, 5).unwrap_err().contains("X-Frame-Seq"));
    }

    #[test]
    fn test_stream_read_truncated_jpeg() {
        let mut parts = frames(&[1]);
        parts[0].1.truncate(20);
        let url = serve(MULTIPART, parts);
        assert!(stream_read(&url, 1, 5).is_err());
    }

    #[test]
    fn test_stream_read_too_few_frames() {
        let url = serve(MULTIPART, frames(&[1]));
        assert!(stream_read(&url, 2, 5).unwrap_err().contains("frame 1"));
    }

    #[test]
    fn test_stream_read_not_multipart() {
        let url = serve(
            "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n\r\n",
            vec![],
        );
        assert!(stream_read(&url, 1, 5).unwrap_err().contains("multipart"));
    }
}
