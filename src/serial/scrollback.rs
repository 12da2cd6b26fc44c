//! What the target wrote on its serial line lately: a ring of the last
//! `capacity` bytes, numbered from the first byte ever seen. A console
//! viewer keeps only the number of the next byte it will send; a slow one
//! that falls behind the ring skips to its oldest byte (it loses old output,
//! kv keeps no queue for it), and a new one starts there (recent output,
//! such as the login prompt, shows at once).

use std::collections::VecDeque;

pub struct Scrollback {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// The number of the byte after the newest: every byte ever pushed.
    end: u64,
}

/// Bytes a viewer may send next, from the ring.
#[derive(Debug, PartialEq, Eq)]
pub struct Since<'a> {
    /// Bytes the viewer missed: they left the ring before it sent them.
    pub lost: u64,
    /// The number of the byte after `bytes`: the viewer's next cursor.
    pub next: u64,
    pub bytes: &'a [u8],
}

impl Scrollback {
    pub fn new(capacity: usize) -> Scrollback {
        Scrollback {
            bytes: VecDeque::with_capacity(capacity),
            capacity,
            end: 0,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.end += data.len() as u64;
        let data = &data[data.len().saturating_sub(self.capacity)..];
        let over = (self.bytes.len() + data.len()).saturating_sub(self.capacity);
        self.bytes.drain(..over);
        self.bytes.extend(data);
    }

    /// The number of the byte after the newest.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The number of the oldest byte still kept: where a new viewer starts.
    pub fn start(&self) -> u64 {
        self.end - self.bytes.len() as u64
    }

    /// Up to `max` bytes from byte number `cursor` on (from the oldest kept
    /// when it is older than that). One contiguous piece of the ring: a
    /// caller wanting everything asks again from `next`.
    pub fn since(&self, cursor: u64, max: usize) -> Since<'_> {
        let from = cursor.clamp(self.start(), self.end);
        let lost = from - cursor.min(from);
        let offset = (from - self.start()) as usize;
        let (front, back) = self.bytes.as_slices();
        let piece = if offset < front.len() {
            &front[offset..]
        } else {
            &back[offset - front.len()..]
        };
        let bytes = &piece[..piece.len().min(max)];
        Since {
            lost,
            next: from + bytes.len() as u64,
            bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything from `cursor`, as a viewer gathers it piece by piece.
    fn gather(ring: &Scrollback, mut cursor: u64) -> (u64, Vec<u8>) {
        let (mut lost, mut out) = (0, Vec::new());
        loop {
            let since = ring.since(cursor, 3);
            if since.bytes.is_empty() {
                return (lost, out);
            }
            lost += since.lost;
            out.extend_from_slice(since.bytes);
            cursor = since.next;
        }
    }

    #[test]
    fn test_scrollback_keeps_the_newest_bytes() {
        let mut ring = Scrollback::new(8);
        ring.push(b"hello ");
        assert_eq!(gather(&ring, 0), (0, b"hello ".to_vec()));
        ring.push(b"world");
        assert_eq!((ring.start(), ring.end()), (3, 11));
        // A new viewer starts at the oldest byte kept.
        assert_eq!(gather(&ring, ring.start()), (0, b"lo world".to_vec()));
        // One that had sent "hel" goes on where it was.
        assert_eq!(gather(&ring, 3), (0, b"lo world".to_vec()));
        // A push bigger than the ring keeps its tail.
        ring.push(b"0123456789");
        assert_eq!(gather(&ring, ring.start()), (0, b"23456789".to_vec()));
        assert_eq!(ring.end(), 21);
    }

    #[test]
    fn test_scrollback_slow_viewer_loses_old_bytes() {
        let mut ring = Scrollback::new(4);
        ring.push(b"abcdef");
        // It had sent one byte; "bc" left the ring meanwhile.
        let since = ring.since(1, 10);
        assert_eq!((since.lost, since.bytes, since.next), (1, &b"cdef"[..], 6));
        // Up to date: nothing, nothing lost.
        let since = ring.since(6, 10);
        assert_eq!((since.lost, since.bytes.len(), since.next), (0, 0, 6));
    }

    #[test]
    fn test_scrollback_wraps_into_two_pieces() {
        let mut ring = Scrollback::new(4);
        for chunk in [&b"ab"[..], b"cd", b"ef", b"g"] {
            ring.push(chunk);
        }
        assert_eq!(gather(&ring, 0), (3, b"defg".to_vec()));
        assert!(ring.bytes.capacity() < 64, "bounded by its capacity");
    }
}
