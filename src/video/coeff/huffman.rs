//! Huffman tables: built from a DHT segment's BITS and HUFFVAL lists (T.81
//! §B.2.4.2), for decoding (§F.2.2.3, with a lookup on the first 9 bits) and for
//! encoding (the code of each symbol, §C.2), and the standard tables of Annex K.3
//! that `video::jpeg` already carries for frames that come without any.

use super::bits::BitWriter;
use super::Error;
use crate::video::jpeg::STANDARD_TABLES;

/// Codes up to this long are decoded with one table lookup.
const FAST_BITS: u32 = 9;

/// A whole AC coefficient from one lookup: run of zeros, value, and how many
/// bits its code and extra bits take (0: not in the lookup table). End of
/// block is run 0, value 0; sixteen zeros (ZRL) is run 15, value 0, so storing
/// it like any other coefficient is right.
#[derive(Clone, Copy, Debug, Default)]
pub struct Coefficient {
    pub value: i16,
    pub run: u8,
    pub bits: u8,
}

/// One table, ready to decode and to encode with.
#[derive(Clone, Debug)]
pub struct HuffmanTable {
    /// Indexed by the next `FAST_BITS` bits: `(length << 8) | symbol`, or 0
    /// when the code is longer.
    fast: [u16; 1 << FAST_BITS],
    /// Indexed the same way: the coefficient when the code and its extra bits
    /// both fit in `FAST_BITS` (most AC coefficients of a capture frame), so
    /// decoding one costs one lookup.
    whole: [Coefficient; 1 << FAST_BITS],
    /// Per code length 1..=16 (index 0 unused): the largest code of that
    /// length (-1 when none), and where its codes start in `values` minus the
    /// smallest code (T.81 §F.2.2.3's MAXCODE and VALPTR - MINCODE).
    max_code: [i32; 17],
    offset: [i32; 17],
    values: Vec<u8>,
    /// For encoding: `(code, length)` of each symbol; length 0 when absent.
    codes: [(u16, u8); 256],
}

impl HuffmanTable {
    /// Builds a table from BITS (how many codes of each length 1..=16) and
    /// HUFFVAL. `at` is the byte offset reported in errors.
    pub fn new(bits: &[u8; 16], values: &[u8], at: usize) -> Result<HuffmanTable, Error> {
        let total: usize = bits.iter().map(|&b| usize::from(b)).sum();
        if total == 0 || total > 256 || values.len() != total {
            return Err(Error::Malformed("Huffman table has a bad code count", at));
        }
        let mut table = HuffmanTable {
            fast: [0; 1 << FAST_BITS],
            whole: [Coefficient::default(); 1 << FAST_BITS],
            max_code: [-1; 17],
            offset: [0; 17],
            values: values.to_vec(),
            codes: [(0, 0); 256],
        };
        // Canonical codes (§C.2): consecutive within a length, doubled (one
        // more bit) from one length to the next.
        let mut code: u32 = 0;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let n = usize::from(bits[len as usize - 1]);
            if n > 0 {
                table.offset[len as usize] = k as i32 - code as i32;
                // More codes than `len` bits can hold: not a prefix code.
                if code + n as u32 > 1 << len {
                    return Err(Error::Malformed("Huffman table overflows", at));
                }
                for _ in 0..n {
                    let symbol = values[k];
                    table.codes[usize::from(symbol)] = (code as u16, len as u8);
                    if len <= FAST_BITS {
                        let shift = FAST_BITS - len;
                        let first = (code << shift) as usize;
                        for entry in table.fast.iter_mut().skip(first).take(1 << shift) {
                            *entry = ((len as u16) << 8) | u16::from(symbol);
                        }
                    }
                    code += 1;
                    k += 1;
                }
                table.max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        table.fill_whole();
        Ok(table)
    }

    /// Fills `whole` from `fast`: for the AC symbols whose code and extra bits
    /// fit, the extra bits are in the index too, so the value is known.
    fn fill_whole(&mut self) {
        for (index, (&entry, whole)) in self.fast.iter().zip(&mut self.whole).enumerate() {
            let (len, symbol) = (u32::from(entry >> 8), entry as u8);
            let size = u32::from(symbol & 0x0F);
            if len == 0 || len + size > FAST_BITS {
                continue;
            }
            // Of the symbols with size 0 only EOB and ZRL are valid.
            if size == 0 && symbol != 0x00 && symbol != 0xF0 {
                continue;
            }
            let extra = (index as u32 >> (FAST_BITS - len - size)) & ((1 << size) - 1);
            *whole = Coefficient {
                value: extend(extra, size) as i16,
                run: symbol >> 4,
                bits: (len + size) as u8,
            };
        }
    }

    /// The standard table for class (0 DC, 1 AC) and destination (0 luma, 1 chroma).
    pub fn standard(class_and_destination: u8) -> HuffmanTable {
        STANDARD_TABLES
            .iter()
            .find(|(id, ..)| *id == class_and_destination)
            .and_then(|(_, bits, values)| HuffmanTable::new(bits, values, 0).ok())
            .unwrap_or_else(HuffmanTable::empty)
    }

    /// The optimal table for symbol counts `frequencies` (T.81 Annex K.2):
    /// Huffman's construction, code lengths then limited to 16 bits
    /// (Figure K.3), with one code point held back so no code is all ones.
    pub fn optimal(frequencies: &[u32; 256]) -> HuffmanTable {
        // Index 256 is the reserved symbol that keeps the all-ones code free.
        let mut freq = [0u64; 257];
        for (f, &n) in freq.iter_mut().zip(frequencies) {
            *f = u64::from(n);
        }
        freq[256] = 1;
        let mut size = [0usize; 257];
        let mut others = [usize::MAX; 257];
        // Figure K.1: repeatedly merge the two least frequent trees (ties go
        // to the larger symbol), lengthening every code in both by one.
        loop {
            let least = |skip: usize| {
                (0..257)
                    .filter(|&i| freq[i] > 0 && i != skip)
                    .min_by_key(|&i| (freq[i], std::cmp::Reverse(i)))
            };
            let Some(v1) = least(usize::MAX) else { break };
            let Some(v2) = least(v1) else { break };
            freq[v1] += freq[v2];
            freq[v2] = 0;
            for start in [v1, v2] {
                let mut v = start;
                loop {
                    size[v] += 1;
                    if others[v] == usize::MAX {
                        break;
                    }
                    v = others[v];
                }
            }
            let mut tail = v1;
            while others[tail] != usize::MAX {
                tail = others[tail];
            }
            others[tail] = v2;
        }
        // Figure K.2 and K.3: count codes per length, then move codes
        // longer than 16 bits up the tree two at a time.
        let mut bits = [0usize; 258];
        for &s in size.iter().filter(|&&s| s > 0) {
            bits[s.min(257)] += 1;
        }
        for i in (17..=257).rev() {
            while bits[i] > 0 {
                let mut j = i - 2;
                while j > 0 && bits[j] == 0 {
                    j -= 1;
                }
                bits[i] -= 2;
                bits[i - 1] += 1;
                bits[j + 1] += 2;
                bits[j] -= 1;
            }
        }
        // Drop the reserved code: it is the longest.
        if let Some(i) = (1..=16).rev().find(|&i| bits[i] > 0) {
            bits[i] -= 1;
        }
        // Figure K.4: symbols by code length, then by value.
        let mut order: Vec<(usize, u8)> = (0..256)
            .filter(|&v| size[v] > 0)
            .map(|v| (size[v], v as u8))
            .collect();
        order.sort_unstable();
        let values: Vec<u8> = order.into_iter().map(|(_, v)| v).collect();
        let mut counts = [0u8; 16];
        for (c, &b) in counts.iter_mut().zip(&bits[1..=16]) {
            *c = b as u8;
        }
        HuffmanTable::new(&counts, &values, 0).unwrap_or_else(|_| HuffmanTable::empty())
    }

    /// A table with no codes: every decode fails, every encode writes nothing.
    fn empty() -> HuffmanTable {
        HuffmanTable {
            fast: [0; 1 << FAST_BITS],
            whole: [Coefficient::default(); 1 << FAST_BITS],
            max_code: [-1; 17],
            offset: [0; 17],
            values: Vec::new(),
            codes: [(0, 0); 256],
        }
    }

    /// The AC coefficient the next bits (`peek16`) code, when one lookup
    /// gives it whole (`bits` is 0 otherwise).
    #[inline(always)]
    pub fn coefficient(&self, peek16: u32) -> Coefficient {
        self.whole[(peek16 >> (16 - FAST_BITS)) as usize & ((1 << FAST_BITS) - 1)]
    }

    /// The symbol the next bits (`peek16`) code, and its code length
    /// (§F.2.2.3): one lookup for short codes, a search by length for long ones.
    #[inline(always)]
    pub fn symbol(&self, peek16: u32) -> Result<(u32, u8), Error> {
        let entry = self.fast[(peek16 >> (16 - FAST_BITS)) as usize & ((1 << FAST_BITS) - 1)];
        if entry != 0 {
            return Ok((u32::from(entry >> 8), entry as u8));
        }
        self.long_symbol(peek16)
    }

    #[inline(never)]
    fn long_symbol(&self, peek16: u32) -> Result<(u32, u8), Error> {
        for len in FAST_BITS + 1..=16 {
            let code = (peek16 >> (16 - len)) as i32;
            if code <= self.max_code[len as usize] {
                let index = usize::try_from(code + self.offset[len as usize]).ok();
                return index
                    .and_then(|i| self.values.get(i))
                    .map(|&symbol| (len, symbol))
                    .ok_or(Error::Malformed("bad Huffman code", 0));
            }
        }
        Err(Error::Malformed("bad Huffman code", 0))
    }

    /// Writes the code of `symbol`; `false` when the table has none.
    pub fn encode(&self, writer: &mut BitWriter, symbol: u8) -> bool {
        let (code, len) = self.codes[usize::from(symbol)];
        writer.put(u32::from(code), u32::from(len));
        len > 0
    }

    /// The DHT segment body for this table (class/destination byte, BITS, HUFFVAL).
    pub fn write_spec(&self, class_and_destination: u8, out: &mut Vec<u8>) {
        out.push(class_and_destination);
        let mut bits = [0u8; 16];
        for &v in &self.values {
            let len = self.codes[usize::from(v)].1;
            if let Some(b) = bits.get_mut(usize::from(len).wrapping_sub(1)) {
                *b += 1;
            }
        }
        out.extend_from_slice(&bits);
        out.extend_from_slice(&self.values);
    }
}

/// The signed value of a `size`-bit magnitude category (§F.2.2.1's EXTEND):
/// values with a leading 0 bit are negative.
#[inline(always)]
pub fn extend(bits: u32, size: u32) -> i32 {
    let bits = bits as i32;
    if size == 0 {
        0
    } else if bits < 1 << (size - 1) {
        bits - (1 << size) + 1
    } else {
        bits
    }
}

/// Parses a DHT segment body (one or more tables) into `tables`, indexed
/// `class * 4 + destination`.
pub fn read_dht(
    body: &[u8],
    at: usize,
    tables: &mut [Option<HuffmanTable>; 8],
) -> Result<(), Error> {
    let mut rest = body;
    while let [tc_th, tail @ ..] = rest {
        let class = tc_th >> 4;
        let destination = tc_th & 0x0F;
        if class > 1 || destination > 3 {
            return Err(Error::Malformed("Huffman table class or destination", at));
        }
        let bits: &[u8; 16] = tail
            .get(..16)
            .and_then(|b| b.try_into().ok())
            .ok_or(Error::Malformed("DHT segment too short", at))?;
        let n: usize = bits.iter().map(|&b| usize::from(b)).sum();
        let values = tail
            .get(16..16 + n)
            .ok_or(Error::Malformed("DHT segment too short", at))?;
        let slot = usize::from(class * 4 + destination);
        if let Some(t) = tables.get_mut(slot) {
            *t = Some(HuffmanTable::new(bits, values, at)?);
        }
        rest = tail.get(16 + n..).unwrap_or_default();
    }
    Ok(())
}
