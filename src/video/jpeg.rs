//! JPEG as it comes out of a capture device: checked views over the raw buffer
//! that never panic, whatever the dongle wrote. A frame is served only when it
//! is a whole JPEG (`whole_jpeg` trims the padding and stale bytes that follow
//! the end marker), and a frame without Huffman tables — many MJPEG dongles
//! rely on the standard ones being implied — gets them inserted in the same
//! single copy that takes it out of the device buffer (`copy_with_dht`), so a
//! saved snapshot is a valid file for every decoder.

use std::ops::Range;

/// Shorter buffers are what dongles emit while they resynchronise, never a
/// picture: even a one-component JPEG without Huffman tables needs over 100
/// bytes of headers (the quantisation table alone is 69).
pub const MIN_JPEG_LEN: usize = 100;

pub(crate) const SOI: u8 = 0xD8;
pub(crate) const EOI: u8 = 0xD9;
pub(crate) const SOS: u8 = 0xDA;
pub(crate) const DHT: u8 = 0xC4;
pub(crate) const DQT: u8 = 0xDB;
pub(crate) const DRI: u8 = 0xDD;
/// Define number of lines: a frame height given after the first scan.
pub(crate) const DNL: u8 = 0xDC;
/// Start of frame, baseline and extended sequential (Huffman coded).
pub(crate) const SOF0: u8 = 0xC0;
pub(crate) const SOF1: u8 = 0xC1;
/// Start of frame: baseline, extended sequential, progressive (Huffman coded).
const SOF_HUFFMAN: [u8; 3] = [SOF0, SOF1, 0xC2];
/// Marker that may stand inside entropy-coded data: restart markers RST0..RST7.
pub(crate) const RST: Range<u8> = 0xD0..0xD8;
/// TEM, the only other marker without a length field.
const TEM: u8 = 0x01;

/// One marker found while walking a JPEG.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment<'a> {
    pub(crate) marker: u8,
    /// Offset of the marker's 0xFF byte in the buffer.
    pub(crate) at: usize,
    /// The segment's payload after its length field (empty for standalone markers).
    pub(crate) body: &'a [u8],
}

impl Segment<'_> {
    /// Offset of the first byte after the segment: for SOS, where the
    /// entropy-coded data begins.
    pub(crate) fn end(&self) -> usize {
        // 0xFF, marker, two length bytes, then the body.
        self.at + 4 + self.body.len()
    }
}

/// Walks the markers of a JPEG from SOI, skipping over each segment's payload
/// by its length and over entropy-coded data after SOS. Ends after EOI, or
/// early, without error, at the first byte that breaks the format: callers
/// that need the whole image check that they saw EOI.
pub(crate) struct Segments<'a> {
    buf: &'a [u8],
    pos: usize,
    /// `pos` is in entropy-coded data, skipped only when the walk goes on (a
    /// decoder that stops at SOS has no use for the scan's end).
    in_scan: bool,
    done: bool,
}

pub(crate) fn segments(buf: &[u8]) -> Segments<'_> {
    Segments {
        buf,
        pos: 0,
        in_scan: false,
        done: false,
    }
}

/// Walks on from inside a scan's entropy-coded data at `from` (any point of
/// it a decoder stopped at): the markers after the scan, as `segments` would
/// continue after SOS, without looking at the data before `from` again.
pub(crate) fn segments_after_scan(buf: &[u8], from: usize) -> Segments<'_> {
    Segments {
        buf,
        pos: from,
        in_scan: true,
        done: false,
    }
}

impl<'a> Segments<'a> {
    /// The offset of the first marker after the entropy-coded data starting at
    /// `from`: in that data 0xFF is followed by 0x00 (stuffing) or a restart
    /// marker, anything else ends it.
    fn end_of_entropy_data(&self, from: usize) -> Option<usize> {
        let mut i = from;
        loop {
            i += self.buf.get(i..)?.iter().position(|&b| b == 0xFF)?;
            match *self.buf.get(i + 1)? {
                0x00 => i += 2,
                m if RST.contains(&m) => i += 2,
                // Fill bytes before a marker: the marker starts at the last 0xFF,
                // which the walk skips over anyway.
                _ => return Some(i),
            }
        }
    }

    fn next_segment(&mut self) -> Option<Segment<'a>> {
        if self.in_scan {
            self.in_scan = false;
            self.pos = self.end_of_entropy_data(self.pos)?;
        }
        if *self.buf.get(self.pos)? != 0xFF {
            return None;
        }
        // Any number of 0xFF fill bytes may precede a marker (T.81 B.1.1.2).
        let mut m = self.pos + 1;
        let marker = loop {
            match *self.buf.get(m)? {
                0xFF => m += 1,
                marker => break marker,
            }
        };
        let at = m - 1;
        if self.pos == 0 && marker != SOI {
            return None;
        }
        if marker == 0x00 {
            return None;
        }
        if marker == SOI || marker == EOI || marker == TEM || RST.contains(&marker) {
            if marker == EOI {
                self.done = true;
            }
            self.pos = m + 1;
            return Some(Segment {
                marker,
                at,
                body: &[],
            });
        }
        let len_bytes = self.buf.get(m + 1..m + 3)?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            return None;
        }
        let body = self.buf.get(m + 3..m + 1 + len)?;
        self.pos = m + 1 + len;
        self.in_scan = marker == SOS;
        Some(Segment { marker, at, body })
    }
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        if self.done {
            return None;
        }
        let segment = self.next_segment();
        if segment.is_none() {
            self.done = true;
        }
        segment
    }
}

/// The segments before the first scan's data: where the tables and the frame
/// header live.
fn header_segments(jpeg: &[u8]) -> impl Iterator<Item = Segment<'_>> {
    let mut seen_sos = false;
    segments(jpeg).take_while(move |s| {
        let before = !seen_sos;
        seen_sos |= s.marker == SOS;
        before
    })
}

/// The JPEG at the start of `buf`, cut right after its end marker, or `None`
/// when `buf` does not hold one whole JPEG of at least `MIN_JPEG_LEN` bytes.
///
/// The end is found by walking the segments rather than by searching for
/// FFD9 from the back: what follows a JPEG in a device buffer is padding or a
/// stale earlier frame, which has end markers of its own.
pub fn whole_jpeg(buf: &[u8]) -> Option<&[u8]> {
    let eoi = segments(buf).find(|s| s.marker == EOI)?;
    let jpeg = buf.get(..eoi.at + 2)?;
    (jpeg.len() >= MIN_JPEG_LEN).then_some(jpeg)
}

/// Width and height from the frame header (SOF0, SOF1 or SOF2), if present
/// and non-zero (a zero height would be defined later by a DNL segment,
/// which capture devices do not send).
pub fn dimensions(jpeg: &[u8]) -> Option<(u32, u32)> {
    let sof = header_segments(jpeg).find(|s| SOF_HUFFMAN.contains(&s.marker))?;
    // Body: precision, height (2), width (2), components...
    let b = sof.body.get(..5)?;
    let height = u32::from(u16::from_be_bytes([b[1], b[2]]));
    let width = u32::from(u16::from_be_bytes([b[3], b[4]]));
    (width > 0 && height > 0).then_some((width, height))
}

/// Rewrites the frame height in the frame header (SOF0/1/2): the headers of
/// a band encoded alone become those of the whole frame. `false` when there
/// is no frame header.
pub fn set_height(jpeg: &mut [u8], height: u16) -> bool {
    let Some(at) = header_segments(jpeg)
        .find(|s| SOF_HUFFMAN.contains(&s.marker))
        .map(|s| s.at)
    else {
        return false;
    };
    // Marker (2), length (2), precision (1), then the height.
    match jpeg.get_mut(at + 5..at + 7) {
        Some(field) => {
            field.copy_from_slice(&height.to_be_bytes());
            true
        }
        None => false,
    }
}

/// Whether the JPEG defines any Huffman table before its first scan.
#[cfg(test)]
pub fn has_dht(jpeg: &[u8]) -> bool {
    header_segments(jpeg).any(|s| s.marker == DHT)
}

/// A copy of `jpeg` (a whole JPEG as returned by `whole_jpeg`) that carries
/// Huffman tables: the standard ones are inserted before the first scan when
/// it defines none. One allocation of the final size, one pass over the bytes.
pub fn copy_with_dht(jpeg: &[u8]) -> Box<[u8]> {
    let mut dht_seen = false;
    let sos = header_segments(jpeg).find(|s| {
        dht_seen |= s.marker == DHT;
        s.marker == SOS
    });
    match sos {
        Some(sos) if !dht_seen => {
            let (head, scan) = jpeg.split_at(sos.at);
            let mut out = Vec::with_capacity(jpeg.len() + STANDARD_DHT.len());
            out.extend_from_slice(head);
            out.extend_from_slice(&STANDARD_DHT);
            out.extend_from_slice(scan);
            out.into_boxed_slice()
        }
        _ => jpeg.into(),
    }
}

// The "typical" Huffman tables of ITU-T T.81 Annex K.3 (Tables K.3 to K.6),
// which Motion-JPEG streams without DHT imply (as AVI1/OpenDML MJPEG does).
// Each table is given as BITS (number of codes of each length 1..16) then
// HUFFVAL (symbols in order of increasing code length).

const DC_LUMINANCE_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMINANCE_BITS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
/// Both DC tables code the difference categories 0..=11.
const DC_VALUES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

const AC_LUMINANCE_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7D];
const AC_LUMINANCE_VALUES: [u8; 162] = [
    0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
    0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xA1, 0x08, 0x23, 0x42, 0xB1, 0xC1, 0x15, 0x52, 0xD1, 0xF0,
    0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0A, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2A, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
    0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
    0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
    0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7,
    0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3, 0xC4, 0xC5,
    0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA, 0xE1, 0xE2,
    0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
    0xF9, 0xFA,
];

const AC_CHROMINANCE_BITS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_CHROMINANCE_VALUES: [u8; 162] = [
    0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
    0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xA1, 0xB1, 0xC1, 0x09, 0x23, 0x33, 0x52, 0xF0,
    0x15, 0x62, 0x72, 0xD1, 0x0A, 0x16, 0x24, 0x34, 0xE1, 0x25, 0xF1, 0x17, 0x18, 0x19, 0x1A, 0x26,
    0x27, 0x28, 0x29, 0x2A, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
    0x49, 0x4A, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
    0x69, 0x6A, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
    0x88, 0x89, 0x8A, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0xA2, 0xA3, 0xA4, 0xA5,
    0xA6, 0xA7, 0xA8, 0xA9, 0xAA, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xB9, 0xBA, 0xC2, 0xC3,
    0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8, 0xD9, 0xDA,
    0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7, 0xE8, 0xE9, 0xEA, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7, 0xF8,
    0xF9, 0xFA,
];

/// One Huffman table as a DHT segment carries it: class (0 DC, 1 AC) in the
/// high nibble and destination in the low one, BITS, HUFFVAL.
pub(crate) type TableSpec = (u8, &'static [u8; 16], &'static [u8]);

/// The four standard tables, destination 0 for luminance and 1 for chrominance.
pub(crate) const STANDARD_TABLES: [TableSpec; 4] = [
    (0x00, &DC_LUMINANCE_BITS, &DC_VALUES),
    (0x10, &AC_LUMINANCE_BITS, &AC_LUMINANCE_VALUES),
    (0x01, &DC_CHROMINANCE_BITS, &DC_VALUES),
    (0x11, &AC_CHROMINANCE_BITS, &AC_CHROMINANCE_VALUES),
];

/// The four tables in one DHT segment: marker, length, then `STANDARD_TABLES`.
const STANDARD_DHT_LEN: usize = 4 + 4 * (1 + 16) + 2 * DC_VALUES.len() + 2 * 162;
const STANDARD_DHT: [u8; STANDARD_DHT_LEN] = standard_dht();

const fn standard_dht() -> [u8; STANDARD_DHT_LEN] {
    let tables = STANDARD_TABLES;
    let mut out = [0u8; STANDARD_DHT_LEN];
    let length = (STANDARD_DHT_LEN - 2) as u16;
    out[0] = 0xFF;
    out[1] = DHT;
    out[2] = (length >> 8) as u8;
    out[3] = length as u8;
    let mut at = 4;
    let mut t = 0;
    while t < tables.len() {
        let (class_and_destination, bits, values) = tables[t];
        out[at] = class_and_destination;
        at += 1;
        let mut i = 0;
        while i < bits.len() {
            out[at] = bits[i];
            at += 1;
            i += 1;
        }
        let mut i = 0;
        while i < values.len() {
            out[at] = values[i];
            at += 1;
            i += 1;
        }
        t += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::{ColorType, Encoder};

    /// A real baseline JPEG from the encoder kv uses, with its four DHT segments.
    fn encoded(width: u16, height: u16) -> Vec<u8> {
        let mut rgb = Vec::new();
        for y in 0..height {
            for x in 0..width {
                rgb.extend_from_slice(&[(x * 7) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8]);
            }
        }
        let mut out = Vec::new();
        Encoder::new(&mut out, 80)
            .encode(&rgb, width, height, ColorType::Rgb)
            .expect("encode test image");
        out
    }

    /// `jpeg` with every DHT segment removed: what many dongles send.
    fn without_dht(jpeg: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut last = 0;
        for s in header_segments(jpeg).filter(|s| s.marker == DHT) {
            out.extend_from_slice(&jpeg[last..s.at]);
            last = s.at + 4 + s.body.len();
        }
        out.extend_from_slice(&jpeg[last..]);
        out
    }

    /// (class/destination, BITS, HUFFVAL) of every table in the DHT segments.
    fn huffman_tables(jpeg: &[u8]) -> Vec<(u8, Vec<u8>, Vec<u8>)> {
        let mut tables = Vec::new();
        for s in header_segments(jpeg).filter(|s| s.marker == DHT) {
            let mut body = s.body;
            while let [tc_th, rest @ ..] = body {
                let bits = &rest[..16];
                let n: usize = bits.iter().map(|&b| usize::from(b)).sum();
                tables.push((*tc_th, bits.to_vec(), rest[16..16 + n].to_vec()));
                body = &rest[16 + n..];
            }
        }
        tables.sort();
        tables
    }

    /// The smallest hand-built frame: SOI, SOF0 (8x16, 1 component), SOS, a
    /// few entropy bytes with stuffing and a restart marker, EOI.
    fn hand_built() -> Vec<u8> {
        let mut j = vec![0xFF, SOI];
        j.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x10]);
        j.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        j.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
        j.extend(1..=64u8);
        j.extend_from_slice(&[
            0xFF, 0xC0, 0x00, 0x0B, 8, 0x00, 0x10, 0x00, 0x08, 1, 1, 0x11, 0,
        ]);
        j.extend_from_slice(&[0xFF, SOS, 0x00, 0x08, 1, 1, 0x00, 0, 63, 0]);
        j.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF]);
        j.extend_from_slice(&[0xFF, EOI]);
        j
    }

    #[test]
    fn test_standard_dht_matches_encoder_tables() {
        // jpeg-encoder writes the same K.3 tables (as four segments): an
        // independent check of the values typed in above.
        let ours = huffman_tables(&{
            let mut j = vec![0xFF, SOI];
            j.extend_from_slice(&STANDARD_DHT);
            j
        });
        assert_eq!(ours.len(), 4);
        assert_eq!(ours, huffman_tables(&encoded(16, 16)));
    }

    #[test]
    fn test_whole_jpeg_trims_padding_and_stale_frame() {
        let jpeg = encoded(32, 24);
        let mut buf = jpeg.clone();
        buf.extend_from_slice(&[0; 4096]);
        assert_eq!(whole_jpeg(&buf), Some(&jpeg[..]));
        // A stale, longer frame behind the new one: its FFD9 is not the end.
        let mut buf = jpeg.clone();
        buf.extend_from_slice(&encoded(64, 48)[jpeg.len() / 2..]);
        assert_eq!(whole_jpeg(&buf), Some(&jpeg[..]));
    }

    #[test]
    fn test_whole_jpeg_hand_built() {
        let jpeg = hand_built();
        let mut buf = jpeg.clone();
        buf.extend_from_slice(&[0xFF, 0xD9, 0xAA]);
        assert_eq!(whole_jpeg(&buf), Some(&jpeg[..]));
        assert_eq!(dimensions(&jpeg), Some((8, 16)));
        assert!(!has_dht(&jpeg));
    }

    #[test]
    fn test_whole_jpeg_rejects_truncated_tiny_and_foreign() {
        let jpeg = encoded(32, 24);
        assert_eq!(whole_jpeg(&jpeg[..jpeg.len() - 1]), None);
        assert_eq!(whole_jpeg(&jpeg[..jpeg.len() / 2]), None);
        assert_eq!(whole_jpeg(&jpeg[1..]), None);
        assert_eq!(whole_jpeg(&[0xFF, SOI, 0xFF, EOI]), None);
        assert_eq!(whole_jpeg(&[]), None);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&jpeg);
        assert_eq!(whole_jpeg(&png), None);
    }

    #[test]
    fn test_dimensions_encoded() {
        assert_eq!(dimensions(&encoded(40, 30)), Some((40, 30)));
        assert_eq!(dimensions(&encoded(1, 1)), Some((1, 1)));
        // A progressive frame header (SOF2) counts too.
        let mut j = hand_built();
        let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        j[sof + 1] = 0xC2;
        assert_eq!(dimensions(&j), Some((8, 16)));
        // Arithmetic coding (SOF9) is not something kv serves sizes for.
        j[sof + 1] = 0xC9;
        assert_eq!(dimensions(&j), None);
    }

    #[test]
    fn test_dimensions_zero_height_is_none() {
        let mut j = hand_built();
        let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        j[sof + 5] = 0;
        j[sof + 6] = 0;
        assert_eq!(dimensions(&j), None);
    }

    #[test]
    fn test_copy_with_dht_inserts_standard_tables() {
        let original = encoded(48, 32);
        assert!(has_dht(&original));
        let stripped = without_dht(&original);
        assert!(!has_dht(&stripped));
        let fixed = copy_with_dht(&stripped);
        assert!(has_dht(&fixed));
        assert_eq!(fixed.len(), stripped.len() + STANDARD_DHT.len());
        assert_eq!(huffman_tables(&fixed), huffman_tables(&original));
        // Everything else is untouched: the tables sit right before SOS.
        let sos = stripped.windows(2).position(|w| w == [0xFF, SOS]).unwrap();
        assert_eq!(fixed[..sos], stripped[..sos]);
        assert_eq!(fixed[sos..sos + STANDARD_DHT.len()], STANDARD_DHT);
        assert_eq!(fixed[sos + STANDARD_DHT.len()..], stripped[sos..]);
        assert_eq!(whole_jpeg(&fixed), Some(&fixed[..]));
        assert_eq!(dimensions(&fixed), Some((48, 32)));
    }

    #[test]
    fn test_copy_with_dht_keeps_frame_with_tables() {
        let original = encoded(16, 8);
        assert_eq!(&*copy_with_dht(&original), &original[..]);
    }

    #[test]
    fn test_segments_skip_marker_bytes_in_payload() {
        // An APP1 payload holding a whole thumbnail JPEG (as EXIF does): its
        // end marker is not the frame's.
        let thumbnail = hand_built();
        let main = hand_built();
        let mut j = vec![0xFF, SOI, 0xFF, 0xE1];
        j.extend_from_slice(&((thumbnail.len() + 2) as u16).to_be_bytes());
        j.extend_from_slice(&thumbnail);
        j.extend_from_slice(&main[2..]);
        assert_eq!(whole_jpeg(&j), Some(&j[..]));
        assert_eq!(dimensions(&j), Some((8, 16)));
    }

    #[test]
    fn test_malformed_lengths_never_panic() {
        let jpeg = encoded(24, 16);
        // Every truncation, and every single-byte corruption at the header
        // bytes, with every interesting value.
        for end in 0..jpeg.len() {
            let b = &jpeg[..end];
            let _ = (whole_jpeg(b), dimensions(b), has_dht(b), copy_with_dht(b));
        }
        for at in 0..jpeg.len().min(700) {
            for value in [0x00, 0x01, 0x02, 0x7F, 0xC0, 0xD8, 0xD9, 0xDA, 0xFE, 0xFF] {
                let mut b = jpeg.clone();
                b[at] = value;
                let _ = (whole_jpeg(&b), dimensions(&b), has_dht(&b));
                let _ = copy_with_dht(&b);
            }
        }
    }

    #[test]
    fn test_random_bytes_never_panic() {
        let mut next = crate::testutil::xorshift(0x9E37_79B9_7F4A_7C15);
        for round in 0..2000 {
            let len = (next() % 600) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Half the inputs look like a JPEG start so the walk goes deeper;
            // marker bytes are made common so segment parsing is exercised.
            if round % 2 == 0 && b.len() >= 2 {
                b[0] = 0xFF;
                b[1] = SOI;
                for x in b.iter_mut().skip(2).step_by(7) {
                    *x = 0xFF;
                }
            }
            let _ = (
                whole_jpeg(&b),
                dimensions(&b),
                has_dht(&b),
                copy_with_dht(&b),
            );
        }
    }
}
