//! Sum heads and block sums (upstream: io.c write_sum_head(), read_sum_head();
//! generator.c generate_and_send_sums(); sender.c receive_sums()).
//! See protocol-notes/sums-and-tokens.md.
//!
//! The reader enforces the 3.4/3.5 hardening: count, block length, strong
//! sum length and remainder are bounded before anything is allocated.

use super::int::{read_buf, read_int, write_int};
use crate::error::{Error, Result};
use std::io::{Read, Write};

/// Largest block length for protocol >= 30 (MAX_BLOCK_SIZE) and below (OLD_MAX_BLOCK_SIZE).
pub const MAX_BLOCK_SIZE: i32 = 1 << 17;
pub const OLD_MAX_BLOCK_SIZE: i32 = 1 << 29;
/// Refuse more block sums than a --max-alloc of 1 GiB could hold.
const MAX_SUM_COUNT: i32 = (1 << 30) / 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SumHead {
    pub count: i32,
    pub blength: i32,
    pub s2length: i32,
    pub remainder: i32,
}

impl SumHead {
    /// Length of block `i` of the basis.
    pub fn block_len(&self, i: i32) -> i32 {
        if i == self.count - 1 && self.remainder != 0 {
            self.remainder
        } else {
            self.blength
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockSum {
    pub sum1: u32,
    pub sum2: [u8; 16],
}

pub fn write_sum_head<W: Write + ?Sized>(w: &mut W, h: &SumHead, protocol: u32) -> Result<()> {
    write_int(w, h.count)?;
    write_int(w, h.blength)?;
    if protocol >= 27 {
        write_int(w, h.s2length)?;
    }
    write_int(w, h.remainder)
}

/// Read and validate a sum head. `xfer_sum_len` is the digest length of the
/// transfer checksum; `csum_length` is the implicit strong length below 27.
pub fn read_sum_head<R: Read + ?Sized>(
    r: &mut R,
    protocol: u32,
    xfer_sum_len: usize,
    csum_length: i32,
) -> Result<SumHead> {
    let count = read_int(r)?;
    if !(0..=MAX_SUM_COUNT).contains(&count) {
        return Err(Error::protocol(format!("Invalid checksum count {count}")));
    }
    let blength = read_int(r)?;
    let max = if protocol < 30 {
        OLD_MAX_BLOCK_SIZE
    } else {
        MAX_BLOCK_SIZE
    };
    if blength < 0 || blength > max {
        return Err(Error::protocol(format!("Invalid block length {blength}")));
    }
    if count > 0 && blength == 0 {
        return Err(Error::protocol("Invalid zero block length"));
    }
    let s2length = if protocol >= 27 {
        read_int(r)?
    } else {
        csum_length
    };
    if s2length < 0 || s2length as usize > xfer_sum_len.min(16) {
        return Err(Error::protocol(format!(
            "Invalid checksum length {s2length}"
        )));
    }
    let remainder = read_int(r)?;
    if remainder < 0 || remainder > blength {
        return Err(Error::protocol(format!(
            "Invalid remainder length {remainder}"
        )));
    }
    Ok(SumHead {
        count,
        blength,
        s2length,
        remainder,
    })
}

pub fn write_block_sum<W: Write + ?Sized>(w: &mut W, s: &BlockSum, s2length: i32) -> Result<()> {
    write_int(w, s.sum1 as i32)?;
    w.write_all(&s.sum2[..s2length as usize])?;
    Ok(())
}

/// Read `head.count` block sums (sender.c receive_sums()).
pub fn read_block_sums<R: Read + ?Sized>(r: &mut R, head: &SumHead) -> Result<Vec<BlockSum>> {
    let mut v = Vec::with_capacity(head.count.min(1 << 16) as usize);
    for _ in 0..head.count {
        let sum1 = read_int(r)? as u32;
        let mut sum2 = [0u8; 16];
        read_buf(r, &mut sum2[..head.s2length as usize])?;
        v.push(BlockSum { sum1, sum2 });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_upstream_sum_head() {
        // Head for a 999037-byte basis captured from rsync 3.5.0.
        let bytes = [0xf0, 3, 0, 0, 0xe0, 3, 0, 0, 2, 0, 0, 0, 0x5d, 0, 0, 0];
        let h = read_sum_head(&mut &bytes[..], 32, 16, 2).unwrap();
        assert_eq!(
            h,
            SumHead {
                count: 1008,
                blength: 992,
                s2length: 2,
                remainder: 93
            }
        );
        let mut out = Vec::new();
        write_sum_head(&mut out, &h, 32).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn rejects_hostile_heads() {
        let mk = |c: i32, b: i32, s: i32, r: i32| {
            let mut out = Vec::new();
            for v in [c, b, s, r] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out
        };
        for (c, b, s, r) in [
            (-1, 700, 2, 0),
            (1, 0, 2, 0),
            (1, MAX_BLOCK_SIZE + 1, 2, 0),
            (1, 700, 17, 0),
            (1, 700, 9, 0), // longer than an 8-byte digest
            (1, 700, 2, 701),
            (i32::MAX, 700, 2, 0),
        ] {
            assert!(
                read_sum_head(&mut &mk(c, b, s, r)[..], 32, 8, 2).is_err(),
                "{c} {b} {s} {r}"
            );
        }
        assert!(read_sum_head(&mut &mk(1, 700, 2, 0)[..8], 32, 16, 2).is_err());
    }
}
