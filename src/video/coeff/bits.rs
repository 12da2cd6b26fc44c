//! The bit level of entropy-coded data (ITU T.81 §F.1.2.3, §F.2.2.5): codes are
//! packed most significant bit first, a 0xFF data byte is followed by a stuffed
//! 0x00, and any other byte after 0xFF is a marker that ends the data (or, for
//! RSTn, one restart interval).

use super::Error;

/// Reads bits from entropy-coded data starting at a byte offset, stopping at the
/// first marker. Past the marker (or the buffer's end) it supplies zero bits so
/// lookahead never fails; `overran` tells whether any of them were consumed.
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte to load into `acc`.
    pos: usize,
    /// Loaded bits, left-aligned: the next bit is bit 63.
    acc: u64,
    /// How many bits of `acc` are valid.
    count: u32,
    /// How many of the last-loaded bits in `acc` are made-up zeros.
    fake: u32,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> BitReader<'a> {
        BitReader {
            data,
            pos,
            acc: 0,
            count: 0,
            fake: 0,
        }
    }

    /// Loads bytes until at least 57 bits are available.
    fn refill(&mut self) {
        while self.count <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&0xFF) if self.data.get(self.pos + 1) == Some(&0x00) => {
                    self.pos += 2;
                    0xFF
                }
                // A marker, or the end of the buffer: the data is over.
                Some(&0xFF) | None => {
                    self.fake += 8;
                    0
                }
                Some(&b) => {
                    self.pos += 1;
                    b
                }
            };
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// The next 16 bits without consuming them.
    pub fn peek16(&mut self) -> u32 {
        if self.count < 16 {
            self.refill();
        }
        (self.acc >> 48) as u32
    }

    /// Consumes `n` (at most 16) bits; they must have been peeked.
    pub fn consume(&mut self, n: u32) {
        let n = n.min(self.count);
        self.acc <<= n;
        self.count -= n;
    }

    /// The next `n` bits (0..=16) as an unsigned number.
    pub fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let value = self.peek16() >> (16 - n.min(16));
        self.consume(n);
        value
    }

    /// Whether bits that are not in the data were consumed: the scan or the
    /// restart interval was cut short.
    pub fn overran(&self) -> bool {
        self.fake > self.count
    }

    /// At the end of a restart interval: drops the rest of the current byte
    /// (the encoder's 1-bit padding) and expects RSTn with `n == index % 8`
    /// (T.81 §F.1.2.3, §B.2.5), then continues after it.
    pub fn restart(&mut self, index: u32) -> Result<(), Error> {
        if self.overran() {
            return Err(Error::Truncated("a restart interval ends early"));
        }
        // Whole bytes still in `acc` were loaded from the data ahead of the
        // marker: only padding bits of a partial byte may precede it.
        let real = self.count - self.fake;
        if real >= 8 {
            return Err(Error::Malformed(
                "restart interval has data past its last MCU",
                self.pos,
            ));
        }
        let expected = 0xD0 + (index % 8) as u8;
        // Fill bytes (0xFF) may precede a marker (T.81 §B.1.1.2).
        let mut at = self.pos;
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
        self.pos = at + 2;
        self.acc = 0;
        self.count = 0;
        self.fake = 0;
        Ok(())
    }
}

/// Writes entropy-coded data: codes MSB first, 0xFF stuffed with 0x00.
pub struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    /// Pending bits, right-aligned.
    acc: u64,
    count: u32,
}

impl<'a> BitWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> BitWriter<'a> {
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

    /// Pads the last byte with 1 bits (T.81 §F.1.2.3) and flushes it.
    pub fn finish(mut self) {
        if self.count > 0 {
            let pad = 8 - self.count;
            self.put((1 << pad) - 1, pad);
        }
    }
}
