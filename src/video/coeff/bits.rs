//! The bit level of entropy-coded data (ITU T.81 §F.1.2.3, §F.2.2.5): codes are
//! packed most significant bit first, a 0xFF data byte is followed by a stuffed
//! 0x00, and any other byte after 0xFF is a marker that ends the data (or, for
//! RSTn, one restart interval).

use super::Error;

/// Reads bits from entropy-coded data starting at a byte offset, stopping at the
/// first marker. Past the marker (or the buffer's end) it supplies zero bits so
/// lookahead never fails; `overran` tells whether any of them were consumed.
///
/// Callers `fill` once before each code and its extra bits (at most 16 + 11
/// bits), then `peek` and `consume` without further checks: the buffer always
/// holds at least `FILLED` bits after `fill`.
pub struct BitReader<'a> {
    data: &'a [u8],
    state: BitState,
}

/// Where a `BitReader` stands: kept between slices of a scan, while the reader
/// itself (which borrows the data) lives only for one slice.
#[derive(Clone, Copy, Debug, Default)]
pub struct BitState {
    /// Next byte to load into `acc`.
    pos: usize,
    /// Loaded bits, left-aligned: the next bit is bit 63; the bits below the
    /// `count` valid ones are zero.
    acc: u64,
    /// How many bits of `acc` are valid.
    count: u32,
    /// How many of the last-loaded bits in `acc` are made-up zeros.
    fake: u32,
}

impl BitState {
    /// Before the first bit of the data at byte offset `pos`.
    pub fn at(pos: usize) -> BitState {
        BitState {
            pos,
            ..BitState::default()
        }
    }

    /// The offset of the next byte not yet loaded (never past a marker).
    pub fn position(&self) -> usize {
        self.pos
    }
}

/// Bits guaranteed after `fill`: one Huffman code (16) plus its extra bits (11).
pub const FILLED: u32 = 32;

/// Eight bytes with a 0xFF among them: stuffing or a marker, the slow path.
fn has_ff(word: u64) -> bool {
    // The classic "some byte is zero" test, on the complement.
    let inverse = !word;
    inverse.wrapping_sub(0x0101_0101_0101_0101) & word & 0x8080_8080_8080_8080 != 0
}

impl<'a> BitReader<'a> {
    /// Continues where `suspend` left off, over the same data.
    pub fn resume(data: &'a [u8], state: BitState) -> BitReader<'a> {
        BitReader { data, state }
    }

    pub fn suspend(&self) -> BitState {
        self.state
    }

    /// Makes at least `FILLED` bits available: loads as many whole bytes as
    /// fit at once when none of the next eight is 0xFF (almost always), else
    /// one at a time.
    #[inline(always)]
    pub fn fill(&mut self) {
        let s = &mut self.state;
        if s.count >= FILLED {
            return;
        }
        let next8 = self.data.get(s.pos..).and_then(<[u8]>::first_chunk::<8>);
        if let Some(&bytes) = next8 {
            let word = u64::from_be_bytes(bytes);
            if !has_ff(word) {
                let n = (63 - s.count) / 8;
                s.acc |= (word >> (64 - 8 * n)) << (64 - s.count - 8 * n);
                s.pos += n as usize;
                s.count += 8 * n;
                return;
            }
        }
        self.refill_slowly();
    }

    /// Loads bytes one at a time until more than 56 bits are available,
    /// unstuffing 0xFF00 and making up zeros past a marker.
    #[inline(never)]
    fn refill_slowly(&mut self) {
        let s = &mut self.state;
        while s.count <= 56 {
            let byte = match self.data.get(s.pos) {
                Some(&0xFF) if self.data.get(s.pos + 1) == Some(&0x00) => {
                    s.pos += 2;
                    0xFF
                }
                // A marker, or the end of the buffer: the data is over.
                Some(&0xFF) | None => {
                    s.fake += 8;
                    0
                }
                Some(&b) => {
                    s.pos += 1;
                    b
                }
            };
            s.acc |= u64::from(byte) << (56 - s.count);
            s.count += 8;
        }
    }

    /// The next 16 bits without consuming them; `fill` first.
    #[inline(always)]
    pub fn peek16(&self) -> u32 {
        (self.state.acc >> 48) as u32
    }

    /// Consumes `n` (at most `FILLED`) bits; they must have been filled (no
    /// clamping here: this is on every coefficient's critical path).
    #[inline(always)]
    pub fn consume(&mut self, n: u32) {
        self.state.acc <<= n;
        self.state.count -= n;
    }

    /// The next `n` bits (1..=16) as an unsigned number; `fill` first.
    #[inline(always)]
    pub fn bits(&mut self, n: u32) -> u32 {
        let value = (self.state.acc >> (64 - n.clamp(1, 16))) as u32;
        self.consume(n);
        value
    }

    /// Whether bits that are not in the data were consumed: the scan or the
    /// restart interval was cut short.
    pub fn overran(&self) -> bool {
        self.state.fake > self.state.count
    }

    /// At the end of a restart interval: drops the rest of the current byte
    /// (the encoder's 1-bit padding) and expects RSTn with `n == index % 8`
    /// (T.81 §F.1.2.3, §B.2.5), then continues after it.
    pub fn restart(&mut self, index: u32) -> Result<(), Error> {
        if self.overran() {
            return Err(Error::Truncated("a restart interval ends early"));
        }
        let s = &mut self.state;
        // Whole bytes still in `acc` were loaded from the data ahead of the
        // marker: only padding bits of a partial byte may precede it.
        let real = s.count - s.fake;
        if real >= 8 {
            return Err(Error::Malformed(
                "restart interval has data past its last MCU",
                s.pos,
            ));
        }
        let expected = 0xD0 + (index % 8) as u8;
        // Fill bytes (0xFF) may precede a marker (T.81 §B.1.1.2).
        let mut at = s.pos;
        while self.data.get(at) == Some(&0xFF) && self.data.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        match self.data.get(at..at + 2) {
            Some([0xFF, m]) if *m == expected => {}
            Some([0xFF, m]) if (0xD0..0xD8).contains(m) => {
                return Err(Error::Malformed("restart marker out of sequence", at))
            }
            Some(_) => return Err(Error::Malformed("restart marker missing", at)),
            None => return Err(Error::Truncated("data ends before a restart marker")),
        }
        *s = BitState::at(at + 2);
        Ok(())
    }
}

/// Writes entropy-coded data: codes MSB first, 0xFF stuffed with 0x00.
pub struct BitWriter {
    out: Vec<u8>,
    /// Pending bits, right-aligned.
    acc: u64,
    count: u32,
}

impl BitWriter {
    /// Appends to `out` (which may already hold the file's headers).
    pub fn new(out: Vec<u8>) -> BitWriter {
        BitWriter {
            out,
            acc: 0,
            count: 0,
        }
    }

    /// Appends the low `n` (at most 32) bits of `value`.
    pub fn put(&mut self, value: u32, n: u32) {
        let n = n.min(32);
        let mask = (1u64 << n) - 1;
        self.acc = (self.acc << n) | (u64::from(value) & mask);
        self.count += n;
        while self.count >= 8 {
            self.count -= 8;
            let byte = (self.acc >> self.count) as u8;
            self.out.push(byte);
            if byte == 0xFF {
                self.out.push(0x00);
            }
        }
    }

    /// Pads the last byte with 1 bits (T.81 §F.1.2.3), flushes it and gives
    /// the bytes back.
    pub fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            let pad = 8 - self.count;
            self.put((1 << pad) - 1, pad);
        }
        self.out
    }
}
