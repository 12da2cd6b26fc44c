//! Just enough JPEG structure to tell a whole frame from a broken one: SOI/EOI
//! markers, the frame size from the SOF segment, and whether Huffman tables are present.

pub struct JpegInfo {
    pub width: u16,
    pub height: u16,
    /// A DHT segment precedes the scan (MJPEG dongles often leave it out).
    pub huffman_tables: bool,
}

pub fn inspect(data: &[u8]) -> Result<JpegInfo, String> {
    if !data.starts_with(&[0xff, 0xd8]) {
        return Err(format!(
            "no JPEG start marker (first bytes {:02x?})",
            &data[..data.len().min(4)]
        ));
    }
    if !data.ends_with(&[0xff, 0xd9]) {
        return Err(format!(
            "no JPEG end marker at the end of {} bytes",
            data.len()
        ));
    }
    let (mut pos, mut size, mut huffman_tables) = (2, None, false);
    // Walk the marker segments up to the start of scan.
    loop {
        let marker = match data.get(pos..pos + 2) {
            Some([0xff, m]) => *m,
            _ => return Err(format!("bad marker at offset {pos}")),
        };
        let seg_len = data
            .get(pos + 2..pos + 4)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            .ok_or("truncated segment header")?;
        match marker {
            0xc4 => huffman_tables = true,
            // SOF0..SOF15 except DHT (c4), JPG (c8) and DAC (cc)
            0xc0..=0xcf if marker != 0xc8 && marker != 0xcc => {
                let sof = data.get(pos + 5..pos + 9).ok_or("truncated SOF segment")?;
                size = Some((
                    u16::from_be_bytes([sof[2], sof[3]]),
                    u16::from_be_bytes([sof[0], sof[1]]),
                ));
            }
            0xda => break,
            _ => {}
        }
        pos += 2 + seg_len;
    }
    let (width, height) = size.ok_or("no SOF segment before the scan")?;
    Ok(JpegInfo {
        width,
        height,
        huffman_tables,
    })
}

pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::test_pattern;

    #[test]
    fn test_inspect_whole_frame() {
        let frame = test_pattern(64, 32, 0).unwrap();
        let info = inspect(&frame).unwrap();
        assert_eq!(
            (info.width, info.height, info.huffman_tables),
            (64, 32, true)
        );
    }

    #[test]
    fn test_inspect_missing_end_marker() {
        let frame = test_pattern(64, 32, 0).unwrap();
        assert!(inspect(&frame[..frame.len() - 1]).is_err());
    }

    #[test]
    fn test_inspect_garbage() {
        assert!(inspect(&[]).is_err());
        assert!(inspect(&[0xff, 0xd8, 0xff, 0xd9]).is_err());
        assert!(inspect(&[0xff, 0xd8, 0x00, 0x01, 0xff, 0xd9]).is_err());
    }
}
