//! `stream-watch` and `mjpeg-feed-bare`: what the video scenarios see through kv.
//!
//! `stream-watch` stays on one /stream connection and sorts every part: with a
//! pattern size it is `fed` when it is one of the frames `mjpeg-feed` writes
//! (byte-identical, or — for a bare feed — identical once the Huffman tables kv
//! added are taken out, and those tables are the standard ones) and `other`
//! otherwise (kv's placeholder frames); without a pattern it is the frame size.
//! Parts of one kind in a row form a run, and the summary lists the runs: "fed,
//! then placeholders, then fed again, all on the same connection" is one line.
//!
//! `mjpeg-feed-bare` feeds the same frames with their DHT segments removed, as
//! many HDMI dongles send them; `snapshot` checks `/snapshot.jpg`.

use crate::feed::{pattern_frames, play};
use crate::http::{fetch, MjpegStream};
use crate::{jpeg, Outcome};
use std::time::{Duration, Instant};

const DHT: u8 = 0xC4;
const SOS: u8 = 0xDA;

/// Header segments up to and including SOS as (marker, start, end) byte ranges;
/// `None` when the JPEG breaks off before its scan.
fn header_segments(jpeg: &[u8]) -> Option<Vec<(u8, usize, usize)>> {
    let mut segments = Vec::new();
    let mut at = 2;
    loop {
        let [0xFF, marker, hi, lo] = *jpeg.get(at..at + 4)? else {
            return None;
        };
        let end = at + 2 + usize::from(u16::from_be_bytes([hi, lo]));
        segments.push((marker, at, end));
        if marker == SOS {
            return Some(segments);
        }
        at = end;
    }
}

/// `jpeg` with every DHT segment before the scan cut out.
fn without_dht(jpeg: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(jpeg.len());
    let mut copied = 0;
    for (marker, start, end) in header_segments(jpeg)? {
        if marker == DHT {
            out.extend_from_slice(jpeg.get(copied..start)?);
            copied = end;
        }
    }
    out.extend_from_slice(jpeg.get(copied..)?);
    Some(out)
}

/// Every Huffman table defined before the scan as (class and destination,
/// BITS and HUFFVAL), sorted: equal lists mean the same tables however they
/// are split into segments.
fn huffman_tables(jpeg: &[u8]) -> Option<Vec<(u8, Vec<u8>)>> {
    let mut tables = Vec::new();
    for (_, start, end) in header_segments(jpeg)?.into_iter().filter(|s| s.0 == DHT) {
        let mut body = jpeg.get(start + 4..end)?;
        while let [class_destination, rest @ ..] = body {
            let bits = rest.get(..16)?;
            let n = 16 + bits.iter().map(|&b| usize::from(b)).sum::<usize>();
            tables.push((*class_destination, rest.get(..n)?.to_vec()));
            body = rest.get(n..)?;
        }
    }
    tables.sort();
    Some(tables)
}

/// Decodes `data` fully, as a browser would; the size the decoder saw.
fn decode(data: &[u8]) -> Result<(u16, u16), String> {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    let pixels = decoder
        .decode()
        .map_err(|e| format!("does not decode: {e}"))?;
    let info = decoder
        .info()
        .ok_or("decoded, but without a frame header")?;
    let expected =
        usize::from(info.width) * usize::from(info.height) * info.pixel_format.pixel_bytes();
    if pixels.len() != expected {
        return Err(format!(
            "decoded {} bytes for {}x{}, expected {expected}",
            pixels.len(),
            info.width,
            info.height
        ));
    }
    Ok((info.width, info.height))
}

/// `snapshot URL`: GET a single JPEG, check it is whole and decodes.
pub fn snapshot(url: &str) -> Outcome {
    let (head, body) = fetch("GET", url, "")?;
    if !head.first_line.contains(" 200") {
        return Err(format!("{url}: {}", head.first_line));
    }
    let content_type = head.header("content-type").unwrap_or_default();
    if content_type != "image/jpeg" {
        return Err(format!(
            "{url}: Content-Type {content_type:?}, not image/jpeg"
        ));
    }
    let info = jpeg::inspect(&body).map_err(|e| format!("{url}: {e}"))?;
    let (w, h) = decode(&body).map_err(|e| format!("{url}: {e}"))?;
    if (w, h) != (info.width, info.height) {
        return Err(format!(
            "{url}: header says {}x{}, decoder {w}x{h}",
            info.width, info.height
        ));
    }
    println!("snapshot: {w}x{h}, {} bytes, decodes", body.len());
    Ok(())
}

pub fn feed_bare(dev: &str, width: u16, height: u16, fps: u64, count: u64) -> Outcome {
    let frames = pattern_frames(width, height)?
        .iter()
        .map(|f| without_dht(f).ok_or("the test pattern is not a JPEG with a scan"))
        .collect::<Result<Vec<_>, _>>()?;
    play(dev, width, height, fps, count, &frames)
}

/// The frames a feeder writes, to recognise them in the stream.
struct Pattern {
    /// As written with DHT (`mjpeg-feed`); kv must pass them through unchanged.
    frames: Vec<Vec<u8>>,
    /// Written without DHT (`mjpeg-feed-bare`): kv must add the standard tables,
    /// which are the ones the pattern's encoder wrote.
    bare: Option<(Vec<Vec<u8>>, Vec<(u8, Vec<u8>)>)>,
}

impl Pattern {
    fn new(width: u16, height: u16, bare: bool) -> Result<Pattern, String> {
        let frames = pattern_frames(width, height)?;
        let bare = if bare {
            let stripped = frames.iter().filter_map(|f| without_dht(f)).collect();
            let tables = frames.first().and_then(|f| huffman_tables(f));
            Some((stripped, tables.ok_or("the test pattern has no tables")?))
        } else {
            None
        };
        Ok(Pattern { frames, bare })
    }

    /// Which fed frame `body` is, or `None` for any other picture; an error when
    /// it is a fed frame whose Huffman tables are missing or not the standard ones.
    fn identify(&self, body: &[u8]) -> Result<Option<usize>, String> {
        let Some((stripped, tables)) = &self.bare else {
            return Ok(self.frames.iter().position(|f| f == body));
        };
        let Some(index) = without_dht(body).and_then(|b| stripped.iter().position(|f| *f == b))
        else {
            return Ok(None);
        };
        match huffman_tables(body) {
            Some(t) if t == *tables => Ok(Some(index)),
            Some(t) if t.is_empty() => {
                Err(format!("fed frame {index} came without Huffman tables"))
            }
            _ => Err(format!(
                "fed frame {index} came with non-standard Huffman tables"
            )),
        }
    }
}

/// A stretch of parts of one kind.
struct Run {
    kind: String,
    parts: u64,
    first: Instant,
    last: Instant,
}

impl Run {
    fn fps(&self) -> f64 {
        let span = self.last.duration_since(self.first).as_secs_f64();
        if self.parts > 1 && span > 0.0 {
            (self.parts - 1) as f64 / span
        } else {
            0.0
        }
    }
}

pub struct WatchOptions {
    /// Recognise `mjpeg-feed` frames of this size.
    pub pattern: Option<(u16, u16)>,
    /// The feed is `mjpeg-feed-bare`.
    pub bare: bool,
    /// Decode every part fully.
    pub decode: bool,
    /// Stop after this many parts.
    pub frames: Option<u64>,
    /// Stop once this many runs were seen and the last has `MIN_LAST_RUN` parts.
    pub runs: Option<usize>,
}

/// Parts the last run needs before `--runs` counts it as settled.
const MIN_LAST_RUN: u64 = 10;

/// `stream-watch URL SECONDS [options]`: fails when the connection ends, a part
/// is not a whole JPEG, a fed frame has wrong tables, or the stop condition was
/// not met within SECONDS (without `--frames`/`--runs`, reading for SECONDS is
/// the point).
pub fn stream_watch(url: &str, seconds: u64, options: &WatchOptions) -> Outcome {
    let pattern = options
        .pattern
        .map(|(w, h)| Pattern::new(w, h, options.bare))
        .transpose()?;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut stream = MjpegStream::open(url, deadline)?;
    let mut runs: Vec<Run> = Vec::new();
    let (mut parts, mut skipped, mut previous) = (0u64, 0u64, None::<usize>);
    let outcome = loop {
        let done = options.frames.is_some_and(|n| parts >= n)
            || options.runs.is_some_and(|n| {
                runs.len() >= n && runs.last().is_some_and(|r| r.parts >= MIN_LAST_RUN)
            });
        if done {
            break Ok(());
        }
        let part = match stream.next_part() {
            Ok(part) => part,
            Err(_)
                if options.frames.is_none()
                    && options.runs.is_none()
                    && Instant::now() >= deadline =>
            {
                break Ok(())
            }
            Err(e) => break Err(e),
        };
        let now = Instant::now();
        if options.decode {
            if let Err(e) = decode(&part.body) {
                break Err(format!("{url}: frame {parts}: {e}"));
            }
        }
        let fed = match pattern.as_ref().map(|p| p.identify(&part.body)).transpose() {
            Ok(fed) => fed.flatten(),
            Err(e) => break Err(format!("{url}: frame {parts}: {e}")),
        };
        // The pattern cycles; a fed frame that does not follow the last one
        // means frames were lost on the way.
        if let (Some(index), Some(before)) = (fed, previous) {
            let frames = pattern.as_ref().map_or(1, |p| p.frames.len());
            skipped += ((index + frames - before - 1) % frames) as u64;
        }
        previous = fed;
        let kind = match (&pattern, fed) {
            (Some(_), Some(_)) => "fed".to_owned(),
            (Some(_), None) => "other".to_owned(),
            (None, _) => format!("{}x{}", part.info.width, part.info.height),
        };
        println!(
            "frame {parts} t={:.3} seq={} bytes={} size={}x{} kind={kind}{}",
            now.duration_since(start).as_secs_f64(),
            part.seq.map_or("-".into(), |s| s.to_string()),
            part.body.len(),
            part.info.width,
            part.info.height,
            fed.map_or(String::new(), |i| format!(" pattern={i}"))
        );
        match runs.last_mut() {
            Some(run) if run.kind == kind => {
                run.parts += 1;
                run.last = now;
            }
            _ => runs.push(Run {
                kind,
                parts: 1,
                first: now,
                last: now,
            }),
        }
        parts += 1;
    };
    let listed: Vec<String> = runs
        .iter()
        .map(|r| format!("{}:{}@{:.1}fps", r.kind, r.parts, r.fps()))
        .collect();
    let skipped = match pattern {
        Some(_) => format!("; fed frames skipped {skipped}"),
        None => String::new(),
    };
    println!(
        "stream-watch: {parts} frames in {:.1} s on one connection; runs {}{skipped}",
        start.elapsed().as_secs_f64(),
        listed.join(" ")
    );
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::test_pattern;

    #[test]
    fn test_without_dht_keeps_everything_else() {
        let frame = test_pattern(32, 16, 1).unwrap();
        let bare = without_dht(&frame).unwrap();
        assert!(bare.len() < frame.len());
        assert_eq!(huffman_tables(&bare), Some(vec![]));
        assert_eq!(huffman_tables(&frame).unwrap().len(), 4);
        assert!(bare.ends_with(&[0xFF, 0xD9]));
        assert_eq!(without_dht(&bare), Some(bare.clone()));
    }

    #[test]
    fn test_identify_bare_frame_with_tables_in_one_segment() {
        let pattern = Pattern::new(128, 16, true).unwrap();
        let frame = test_pattern(128, 16, 3).unwrap();
        // kv's insertion: all four tables in one DHT segment right before SOS.
        let segments = header_segments(&frame).unwrap();
        let mut merged = vec![0xFF, DHT, 0, 0];
        for &(_, start, end) in segments.iter().filter(|s| s.0 == DHT) {
            merged.extend_from_slice(&frame[start + 4..end]);
        }
        let len = (merged.len() - 2) as u16;
        merged[2..4].copy_from_slice(&len.to_be_bytes());
        let bare = without_dht(&frame).unwrap();
        let sos = header_segments(&bare).unwrap().last().unwrap().1;
        let mut served = bare[..sos].to_vec();
        served.extend_from_slice(&merged);
        served.extend_from_slice(&bare[sos..]);
        assert_eq!(pattern.identify(&served), Ok(Some(3)));
        assert!(pattern
            .identify(&bare)
            .unwrap_err()
            .contains("without Huffman"));
        assert_eq!(
            pattern.identify(&test_pattern(16, 16, 0).unwrap()),
            Ok(None)
        );
    }

    #[test]
    fn test_identify_exact() {
        let pattern = Pattern::new(128, 16, false).unwrap();
        let mut frame = test_pattern(128, 16, 5).unwrap();
        assert_eq!(pattern.identify(&frame), Ok(Some(5)));
        let at = frame.len() - 3;
        frame[at] ^= 1;
        assert_eq!(pattern.identify(&frame), Ok(None));
    }
}
