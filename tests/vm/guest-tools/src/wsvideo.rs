//! `ws-video-check`: a /ws/video client that keeps the picture a page would draw
//! (kind 1 replaces it, kind 2 draws spans of its JPEG, kind 3 leaves it), acks every
//! update, and checks that picture against the frame being fed, pixel for pixel
//! (both decoded by the same decoder). It changes the fed frame itself by re-pointing
//! the symlink `feed-link` plays, one phase per frame, and prints a `phase` line of
//! facts for each (docs/API.md, "GET /ws/video").

use crate::http::Url;
use crate::Outcome;
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Error, Message, WebSocket};

/// How long a phase waits for the picture to become the fed frame.
const CONVERGE: Duration = Duration::from_secs(15);
/// How long a change phase goes on listening once the picture is exact: updates
/// that follow must leave it exact.
const SETTLE: Duration = Duration::from_secs(2);

/// An RGB picture.
#[derive(Clone, PartialEq)]
pub struct Picture {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

/// One destination span in MCU units (docs/API.md: five u16).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub dst_col: u16,
    pub dst_row: u16,
    pub len: u16,
    pub src_col: u16,
    pub src_row: u16,
}

/// A parsed binary update.
pub struct Update<'a> {
    pub kind: u8,
    pub seq: u64,
    pub width: usize,
    pub height: usize,
    /// Kind 2: MCU width and height in pixels, and the spans.
    pub mcu: (usize, usize),
    pub spans: Vec<Span>,
    pub jpeg: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

pub fn parse(msg: &[u8]) -> Result<Update<'_>, String> {
    if msg.len() < 28 {
        return Err(format!(
            "update of {} bytes, shorter than the 28-byte header",
            msg.len()
        ));
    }
    let mut update = Update {
        kind: msg[0],
        seq: u64::from_be_bytes(msg[4..12].try_into().unwrap_or_default()),
        width: be32(msg, 20) as usize,
        height: be32(msg, 24) as usize,
        mcu: (0, 0),
        spans: Vec::new(),
        jpeg: &msg[28..],
    };
    if update.kind == 2 {
        if msg.len() < 36 {
            return Err(format!("kind 2 of {} bytes has no span header", msg.len()));
        }
        update.mcu = (usize::from(be16(msg, 28)), usize::from(be16(msg, 30)));
        let n = usize::from(be16(msg, 32));
        let end = 36 + n * 10;
        if msg.len() < end {
            return Err(format!("kind 2 says {n} spans but has {} bytes", msg.len()));
        }
        update.spans = (0..n)
            .map(|i| {
                let at = 36 + i * 10;
                Span {
                    dst_col: be16(msg, at),
                    dst_row: be16(msg, at + 2),
                    len: be16(msg, at + 4),
                    src_col: be16(msg, at + 6),
                    src_row: be16(msg, at + 8),
                }
            })
            .collect();
        update.jpeg = &msg[end..];
    }
    Ok(update)
}

/// Decodes a JPEG to RGB with the decoder this tool uses everywhere.
pub fn decode(data: &[u8]) -> Result<Picture, String> {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    let pixels = decoder
        .decode()
        .map_err(|e| format!("JPEG does not decode: {e}"))?;
    let info = decoder
        .info()
        .ok_or("decoded, but without a frame header")?;
    let rgb = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        other => return Err(format!("JPEG decodes to {other:?}, not RGB")),
    };
    Ok(Picture {
        width: usize::from(info.width),
        height: usize::from(info.height),
        rgb,
    })
}

impl Picture {
    /// Applies one update as a page would. Kind 3 and unknown kinds leave it.
    pub fn apply(&mut self, update: &Update) -> Result<(), String> {
        match update.kind {
            1 => {
                let picture = decode(update.jpeg)?;
                if (picture.width, picture.height) != (update.width, update.height) {
                    return Err(format!(
                        "kind 1 says {}x{} but its JPEG is {}x{}",
                        update.width, update.height, picture.width, picture.height
                    ));
                }
                *self = picture;
            }
            2 => {
                if (update.width, update.height) != (self.width, self.height) {
                    return Err(format!(
                        "kind 2 says {}x{} on a {}x{} picture",
                        update.width, update.height, self.width, self.height
                    ));
                }
                let src = decode(update.jpeg)?;
                let (mw, mh) = update.mcu;
                for s in &update.spans {
                    let (sx, sy) = (usize::from(s.src_col) * mw, usize::from(s.src_row) * mh);
                    let (dx, dy) = (usize::from(s.dst_col) * mw, usize::from(s.dst_row) * mh);
                    let w = (usize::from(s.len) * mw).min(self.width.saturating_sub(dx));
                    let h = mh.min(self.height.saturating_sub(dy));
                    if sx + w > src.width || sy + h > src.height {
                        return Err(format!(
                            "span {s:?} needs {w}x{h} at {sx},{sy} of a {}x{} JPEG",
                            src.width, src.height
                        ));
                    }
                    for y in 0..h {
                        let from = ((sy + y) * src.width + sx) * 3;
                        let to = ((dy + y) * self.width + dx) * 3;
                        self.rgb[to..to + w * 3].copy_from_slice(&src.rgb[from..from + w * 3]);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Where `self` differs from `want`: differing pixels, their bounding box, the
    /// largest difference of one channel, and the first few; None when exact.
    pub fn mismatch(&self, want: &Picture) -> Option<String> {
        if (self.width, self.height) != (want.width, want.height) {
            return Some(format!(
                "size {}x{}, fed {}x{}",
                self.width, self.height, want.width, want.height
            ));
        }
        let (mut count, mut max) = (0usize, 0u8);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let mut first = Vec::new();
        for (i, (a, b)) in self.rgb.chunks(3).zip(want.rgb.chunks(3)).enumerate() {
            if a == b {
                continue;
            }
            let (x, y) = (i % self.width, i / self.width);
            count += 1;
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            max = a
                .iter()
                .zip(b)
                .map(|(p, q)| p.abs_diff(*q))
                .fold(max, u8::max);
            if first.len() < 4 {
                first.push(format!("({x},{y}) {a:?} fed {b:?}"));
            }
        }
        (count > 0).then(|| {
            format!(
                "{count} pixels differ within x {x0}..={x1} y {y0}..={y1}, max {max}; first {}",
                first.join(", ")
            )
        })
    }
}

/// What one phase saw.
#[derive(Default)]
struct Tally {
    updates: u64,
    kinds: BTreeMap<u8, u64>,
    binary_bytes: u64,
    text_bytes: u64,
    spans: u64,
    mcus: u64,
    /// Union of kind 2 destination rectangles, as a per-pixel mask.
    drawn: Vec<bool>,
    /// The update after which the picture first matched, counted from 1.
    exact_after: Option<u64>,
}

impl Tally {
    fn kinds(&self) -> String {
        if self.kinds.is_empty() {
            return "none".into();
        }
        self.kinds
            .iter()
            .map(|(k, n)| format!("{k}x{n}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

struct Client {
    socket: WebSocket<std::net::TcpStream>,
    picture: Picture,
    url: String,
    connected: Instant,
}

impl Client {
    fn connect(url: &str) -> Result<Client, String> {
        let parsed = Url::parse(&url.replacen("ws://", "http://", 1))?;
        let stream = parsed.connect(Duration::from_secs(5))?;
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(|e| e.to_string())?;
        let mut request = url
            .into_client_request()
            .map_err(|e| format!("{url}: {e}"))?;
        let origin = format!("http://{}", parsed.authority());
        request.headers_mut().insert(
            "Origin",
            origin
                .parse()
                .map_err(|_| format!("bad Origin {origin:?}"))?,
        );
        let (socket, response) = tungstenite::client(request, stream)
            .map_err(|e| format!("{url}: handshake failed: {e}"))?;
        println!("connected {}", response.status().as_u16());
        Ok(Client {
            socket,
            picture: Picture {
                width: 0,
                height: 0,
                rgb: Vec::new(),
            },
            url: url.to_owned(),
            connected: Instant::now(),
        })
    }

    /// Reads messages until `deadline`, applying and acking updates and counting
    /// them in `tally`; after each update, `done(picture)` says whether to stop.
    fn listen(
        &mut self,
        deadline: Instant,
        tally: &mut Tally,
        mut done: impl FnMut(&Picture) -> bool,
    ) -> Result<bool, String> {
        while Instant::now() < deadline {
            let data = match self.socket.read() {
                Ok(Message::Binary(data)) => data,
                Ok(Message::Text(text)) => {
                    tally.text_bytes += text.len() as u64;
                    println!("text {}", text.as_str());
                    continue;
                }
                Ok(Message::Close(frame)) => {
                    return Err(format!("{}: closed by kv: {frame:?}", self.url));
                }
                // Pings are answered by tungstenite on the next read or write.
                Ok(_) => continue,
                Err(Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    continue
                }
                Err(e) => return Err(format!("{}: {e}", self.url)),
            };
            let update = parse(&data)?;
            let (arrived, t) = (Instant::now(), self.connected.elapsed().as_secs_f64());
            self.picture
                .apply(&update)
                .map_err(|e| format!("update seq {}: {e}", update.seq))?;
            let mcus: u64 = update.spans.iter().map(|s| u64::from(s.len)).sum();
            println!(
                "update t={t:.2} kind={} seq={} bytes={} size={}x{} spans={} mcus={mcus} apply_ms={}",
                update.kind,
                update.seq,
                data.len(),
                update.width,
                update.height,
                update.spans.len(),
                arrived.elapsed().as_millis()
            );
            tally.updates += 1;
            *tally.kinds.entry(update.kind).or_default() += 1;
            tally.binary_bytes += data.len() as u64;
            tally.spans += update.spans.len() as u64;
            tally.mcus += mcus;
            if update.kind == 2 {
                mark_drawn(&mut tally.drawn, &self.picture, &update);
            }
            let ack = format!(r#"{{"type":"ack","seq":{}}}"#, update.seq);
            self.socket
                .send(Message::text(ack))
                .map_err(|e| format!("{}: ack: {e}", self.url))?;
            if done(&self.picture) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn mark_drawn(mask: &mut Vec<bool>, picture: &Picture, update: &Update) {
    mask.resize(picture.width * picture.height, false);
    let (mw, mh) = update.mcu;
    for s in &update.spans {
        let (dx, dy) = (usize::from(s.dst_col) * mw, usize::from(s.dst_row) * mh);
        for y in dy..(dy + mh).min(picture.height) {
            for x in dx..(dx + usize::from(s.len) * mw).min(picture.width) {
                mask[y * picture.width + x] = true;
            }
        }
    }
}

/// Pixels that differ between `a` and `b` but no kind 2 span drew, with their box.
fn undrawn(a: &Picture, b: &Picture, drawn: &[bool]) -> String {
    let (mut n, mut x0, mut y0, mut x1, mut y1) = (0, usize::MAX, usize::MAX, 0, 0);
    for (i, (p, q)) in a.rgb.chunks(3).zip(b.rgb.chunks(3)).enumerate() {
        if p != q && !drawn.get(i).copied().unwrap_or(false) {
            let (x, y) = (i % a.width, i / a.width);
            n += 1;
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    if n == 0 {
        "0".into()
    } else {
        format!("{n}(x{x0}..={x1},y{y0}..={y1})")
    }
}

/// The bounding box of the pixels that differ between two frames.
fn changed_box(a: &Picture, b: &Picture) -> String {
    let (mut x0, mut y0, mut x1, mut y1, mut n) = (usize::MAX, usize::MAX, 0, 0, 0);
    for (i, (p, q)) in a.rgb.chunks(3).zip(b.rgb.chunks(3)).enumerate() {
        if p != q {
            let (x, y) = (i % a.width, i / a.width);
            n += 1;
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    if n == 0 {
        "none".into()
    } else {
        format!("{}x{}+{x0}+{y0}", x1 - x0 + 1, y1 - y0 + 1)
    }
}

fn load(path: &str) -> Result<Picture, String> {
    decode(&std::fs::read(path).map_err(|e| format!("{path}: {e}"))?)
        .map_err(|e| format!("{path}: {e}"))
}

/// Points LINK at TARGET atomically (a new symlink renamed over it).
fn repoint(link: &str, target: &str) -> Outcome {
    let tmp = format!("{link}.new");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(|e| format!("{tmp}: {e}"))?;
    std::fs::rename(&tmp, link).map_err(|e| format!("{link}: {e}"))
}

/// Connects, waits until the picture is FIRST (which LINK must already name), listens
/// STILL_SECS on that still frame, then for each of NEXT points LINK at it and waits
/// until the picture is exactly that frame, listening SETTLE more. One `phase` line each:
/// `phase NAME frame=F updates=N kinds=KxN,.. bytes=B text_bytes=T secs=S bytes_per_s=R
/// spans=N mcus=N changed=WxH+X+Y undrawn=N exact=yes|no after=N [mismatch=...]`.
pub fn check(url: &str, link: &str, still_secs: u64, first: &str, next: &[&str]) -> Outcome {
    phases(url, link, still_secs, first, next).map(|_| ())
}

/// `check`, returning the phase lines it printed.
fn phases(
    url: &str,
    link: &str,
    still_secs: u64,
    first: &str,
    next: &[&str],
) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut client = Client::connect(url)?;
    let mut want = load(first)?;
    let mut phases: Vec<(&str, &str)> = vec![("first", first), ("still", first)];
    phases.extend(next.iter().map(|f| ("change", *f)));
    for (i, (name, frame)) in phases.into_iter().enumerate() {
        let before = want.clone();
        if name == "change" {
            want = load(frame)?;
            repoint(link, frame)?;
        }
        let started = Instant::now();
        let mut tally = Tally::default();
        let exact = if name == "still" {
            client.listen(
                started + Duration::from_secs(still_secs),
                &mut tally,
                |_| false,
            )?;
            client.picture == want
        } else {
            let mut n = 0;
            let converged = client.listen(started + CONVERGE, &mut tally, |p| {
                n += 1;
                p == &want
            })?;
            tally.exact_after = converged.then_some(n);
            if converged && name == "change" {
                // Whatever comes next must keep the picture exact.
                let until = Instant::now() + SETTLE;
                client.listen(until, &mut tally, |p| p != &want)?;
            }
            client.picture == want
        };
        let secs = started.elapsed().as_secs_f64();
        let total = tally.binary_bytes + tally.text_bytes;
        let label = if name == "change" {
            format!("change{}", i - 1)
        } else {
            name.to_owned()
        };
        let mut line = format!(
            "phase {label} frame={frame} updates={} kinds={} bytes={} text_bytes={} secs={secs:.1} bytes_per_s={:.0} spans={} mcus={} changed={} undrawn={} exact={} after={}",
            tally.updates,
            tally.kinds(),
            tally.binary_bytes,
            tally.text_bytes,
            total as f64 / secs.max(0.001),
            tally.spans,
            tally.mcus,
            changed_box(&before, &want),
            if tally.drawn.is_empty() { "-".into() } else { undrawn(&before, &want, &tally.drawn) },
            if exact { "yes" } else { "no" },
            tally.exact_after.map_or("-".into(), |n| n.to_string()),
        );
        if let Some(m) = client.picture.mismatch(&want) {
            line += &format!(" mismatch={}", m.replace(' ', "_"));
        }
        println!("{line}");
        lines.push(line);
    }
    let _ = client.socket.close(None);
    let _ = client.socket.flush();
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes;

    fn header(kind: u8, seq: u64, w: u32, h: u32) -> Vec<u8> {
        let mut m = vec![kind, 0, 0, 0];
        m.extend(seq.to_be_bytes());
        m.extend(7u64.to_be_bytes());
        m.extend(w.to_be_bytes());
        m.extend(h.to_be_bytes());
        m
    }

    #[test]
    fn test_apply_kind2_draws_span_source_at_destination() {
        let frames = changes::frames(64, 32).unwrap();
        let mut picture = decode(&frames[0].1).unwrap();
        let mut msg = header(1, 1, 64, 32);
        msg.extend(&frames[0].1);
        picture.apply(&parse(&msg).unwrap()).unwrap();
        assert!(picture == decode(&frames[0].1).unwrap());

        // The "different" frame as a kind 2 whose one span copies its row 1, columns
        // 1..3 (16x8 MCUs) to row 2, column 0.
        let other = decode(&frames[2].1).unwrap();
        let mut msg = header(2, 2, 64, 32);
        for v in [16u16, 8, 1, 0, 0, 2, 2, 1, 1] {
            msg.extend(v.to_be_bytes());
        }
        msg.extend(&frames[2].1);
        let update = parse(&msg).unwrap();
        assert_eq!(
            update.spans,
            vec![Span {
                dst_col: 0,
                dst_row: 2,
                len: 2,
                src_col: 1,
                src_row: 1
            }]
        );
        let before = picture.clone();
        picture.apply(&update).unwrap();
        for y in 0..32 {
            for x in 0..64 {
                let got = &picture.rgb[(y * 64 + x) * 3..][..3];
                let want = if (16..24).contains(&y) && x < 32 {
                    &other.rgb[((y - 8) * 64 + x + 16) * 3..][..3]
                } else {
                    &before.rgb[(y * 64 + x) * 3..][..3]
                };
                assert_eq!(got, want, "pixel {x},{y}");
            }
        }
        let m = picture.mismatch(&before).unwrap();
        assert!(
            m.contains(" pixels differ within x 0..=31 y 16..=23"),
            "{m}"
        );
    }

    #[test]
    fn test_parse_rejects_short_messages() {
        assert!(parse(&[1; 27]).is_err());
        let mut msg = header(2, 1, 64, 32);
        msg.extend([0, 16, 0, 8, 0, 3, 0, 0]);
        assert!(parse(&msg).is_err());
    }

    #[test]
    fn test_frames_are_422_and_change_only_the_rectangle() {
        for (w, h) in [(64u16, 32u16), (1366, 768)] {
            let frames = changes::frames(w, h).unwrap();
            let sof = frames[0]
                .1
                .windows(2)
                .position(|m| m == [0xff, 0xc0])
                .unwrap();
            // Component 1 (Y) sampling 2x1, components 2 and 3 1x1.
            assert_eq!(frames[0].1[sof + 11], 0x21);
            assert_eq!(frames[0].1[sof + 14], 0x11);
            let (a, b) = (decode(&frames[0].1).unwrap(), decode(&frames[1].1).unwrap());
            if w > 400 {
                // MCUs 288..=351 x 200..=223 hold the rectangle; chroma upsampling
                // carries the change one pixel into the MCUs left and right of them.
                let m = b.mismatch(&a).unwrap();
                assert!(m.contains("within x 287..=352 y 200..=223"), "{m}");
            }
        }
    }

    #[test]
    fn test_changed_mcus_alone_leave_neighbour_columns_stale() {
        // What a page shows if kv draws only the MCUs whose coefficients changed
        // (each decoded exactly as in the whole frame): h2v1 upsampling carries the
        // rectangle's chroma one pixel into the MCU on either side, so those columns
        // stay stale unless the neighbours are drawn too.
        let frames = changes::frames(1366, 768).unwrap();
        let (still, changed) = (decode(&frames[0].1).unwrap(), decode(&frames[1].1).unwrap());
        let mut picture = still.clone();
        for y in 200..224 {
            let row = (y * 1366 + 288) * 3..(y * 1366 + 352) * 3;
            picture.rgb[row.clone()].copy_from_slice(&changed.rgb[row]);
        }
        let m = picture.mismatch(&changed).unwrap();
        assert!(m.contains("within x 287..=352 y 200..=223"), "{m}");
        for y in 200..224 {
            let row = (y * 1366 + 272) * 3..(y * 1366 + 368) * 3;
            picture.rgb[row.clone()].copy_from_slice(&changed.rgb[row]);
        }
        assert_eq!(picture.mismatch(&changed), None);
    }

    /// A stand-in for kv on one connection: a whole frame first, then every 100 ms
    /// kind 3 while LINK names the same file, kind 2 (the whole new JPEG as source,
    /// spans over `rect` in 16x8 MCUs, drawn in place) when it names changed.jpg,
    /// kind 1 for any other.
    fn serve(link: String, rect: (u16, u16, u16, u16)) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept(conn).unwrap();
            let (mut seq, mut shown) = (1u64, String::new());
            loop {
                let target = std::fs::read_link(&link).unwrap().display().to_string();
                let jpeg = std::fs::read(&target).unwrap();
                let mut msg = header(3, seq, 400, 240);
                if target != shown && target.ends_with("changed.jpg") {
                    msg[0] = 2;
                    let (col, row, len, rows) = rect;
                    for v in [16, 8, rows, 0] {
                        msg.extend(v.to_be_bytes());
                    }
                    for r in row..row + rows {
                        for v in [col, r, len, col, r] {
                            msg.extend(v.to_be_bytes());
                        }
                    }
                    msg.extend(&jpeg);
                } else if target != shown {
                    msg[0] = 1;
                    msg.extend(&jpeg);
                }
                shown = target;
                if ws.send(Message::binary(msg)).is_err() {
                    return;
                }
                seq += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        format!("ws://{addr}/ws/video")
    }

    fn phase_fields(lines: &[String], phase: &str) -> String {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("phase {phase} ")))
            .unwrap();
        line.split(' ')
            .filter(|f| {
                ["kinds", "spans", "undrawn", "exact"]
                    .iter()
                    .any(|k| f.starts_with(&format!("{k}=")))
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn test_check_phases_against_a_fake_kv() {
        let dir = std::env::temp_dir().join(format!("ws-video-check-{}", std::process::id()));
        let dir = dir.to_str().unwrap().to_owned();
        changes::write_frames(400, 240, &dir).unwrap();
        let link = format!("{dir}/current.jpg");
        let frame = |name: &str| format!("{dir}/{name}");
        repoint(&link, &frame("still.jpg")).unwrap();
        // MCU columns 18..=21, rows 25..=27 hold the rectangle (x 301..346, y 203..224).
        let exact = phases(
            &serve(link.clone(), (17, 25, 6, 3)),
            &link,
            1,
            &frame("still.jpg"),
            &[&frame("changed.jpg"), &frame("different.jpg")],
        )
        .unwrap();
        assert_eq!(
            phase_fields(&exact, "first"),
            "kinds=1x1 spans=0 undrawn=- exact=yes"
        );
        assert!(phase_fields(&exact, "still").starts_with("kinds=3x"));
        assert!(
            phase_fields(&exact, "change1").ends_with("spans=3 undrawn=0 exact=yes"),
            "{exact:?}"
        );
        assert_eq!(
            phase_fields(&exact, "change2").split(' ').nth(3),
            Some("exact=yes")
        );

        // Only the MCUs the rectangle touches: the columns beside them stay stale.
        repoint(&link, &frame("still.jpg")).unwrap();
        let stale = phases(
            &serve(link.clone(), (18, 25, 4, 3)),
            &link,
            0,
            &frame("still.jpg"),
            &[&frame("changed.jpg")],
        )
        .unwrap();
        let change = stale
            .iter()
            .find(|l| l.starts_with("phase change1 "))
            .unwrap();
        assert!(
            change.contains(" undrawn=12(x287..=352,y200..=207) exact=no "),
            "{change}"
        );
        assert!(
            change.contains(" mismatch=12_pixels_differ_within_x_287..=352_y_200..=207,_max_3"),
            "{change}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
