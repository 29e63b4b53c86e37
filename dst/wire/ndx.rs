//! File indexes on the wire (upstream: io.c write_ndx(), read_ndx()).
//! See protocol-notes/ndx-and-iflags.md.
//!
//! Protocol >= 30 sends a delta against per-direction state (one "previous
//! positive" and one "previous negative" value), so each direction needs its
//! own [`NdxCodec`]. Below 30 an ndx is a plain int32.

use super::int::{read_buf, read_byte, read_int, write_int};
use crate::error::{Error, Result};
use std::io::{Read, Write};

pub const NDX_DONE: i32 = -1;
pub const NDX_FLIST_EOF: i32 = -2;
pub const NDX_DEL_STATS: i32 = -3;
pub const NDX_FLIST_OFFSET: i32 = -101;

#[derive(Debug, Clone)]
pub struct NdxCodec {
    protocol: u32,
    prev_positive: i32,
    prev_negative: i32,
}

impl NdxCodec {
    pub fn new(protocol: u32) -> Self {
        NdxCodec {
            protocol,
            prev_positive: -1,
            prev_negative: 1,
        }
    }

    pub fn write<W: Write + ?Sized>(&mut self, w: &mut W, ndx: i32) -> Result<()> {
        if self.protocol < 30 {
            return write_int(w, ndx);
        }
        let mut b = [0u8; 6];
        let mut cnt = 0;
        let (diff, val) = if ndx >= 0 {
            let d = ndx.wrapping_sub(self.prev_positive);
            self.prev_positive = ndx;
            (d, ndx)
        } else if ndx == NDX_DONE {
            w.write_all(&[0])?;
            return Ok(());
        } else {
            b[cnt] = 0xFF;
            cnt += 1;
            let v = ndx.wrapping_neg();
            let d = v.wrapping_sub(self.prev_negative);
            self.prev_negative = v;
            (d, v)
        };
        if diff > 0 && diff < 0xFE {
            b[cnt] = diff as u8;
            cnt += 1;
        } else if !(0..=0x7FFF).contains(&diff) {
            b[cnt] = 0xFE;
            b[cnt + 1] = ((val >> 24) as u8) | 0x80;
            b[cnt + 2] = val as u8;
            b[cnt + 3] = (val >> 8) as u8;
            b[cnt + 4] = (val >> 16) as u8;
            cnt += 5;
        } else {
            b[cnt] = 0xFE;
            b[cnt + 1] = (diff >> 8) as u8;
            b[cnt + 2] = diff as u8;
            cnt += 3;
        }
        w.write_all(&b[..cnt])?;
        Ok(())
    }

    pub fn read<R: Read + ?Sized>(&mut self, r: &mut R) -> Result<i32> {
        if self.protocol < 30 {
            return read_int(r);
        }
        let mut b0 = read_byte(r)?;
        let negative = if b0 == 0xFF {
            b0 = read_byte(r)?;
            true
        } else if b0 == 0 {
            return Ok(NDX_DONE);
        } else {
            false
        };
        let prev = if negative {
            self.prev_negative
        } else {
            self.prev_positive
        };
        let num: i64 = if b0 == 0xFE {
            let mut b = [0u8; 2];
            read_buf(r, &mut b)?;
            if b[0] & 0x80 != 0 {
                let mut rest = [0u8; 2];
                read_buf(r, &mut rest)?;
                i64::from(u32::from_le_bytes([b[1], rest[0], rest[1], b[0] & 0x7F]))
            } else {
                ((b[0] as i64) << 8) + b[1] as i64 + prev as i64
            }
        } else {
            b0 as i64 + prev as i64
        };
        if !(0..=0x7FFF_FFFF).contains(&num) {
            return Err(Error::protocol(format!("Invalid file index: {num}")));
        }
        let num = num as i32;
        if negative {
            self.prev_negative = num;
            Ok(-num)
        } else {
            self.prev_positive = num;
            Ok(num)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(seq: &[i32]) -> Vec<u8> {
        let mut c = NdxCodec::new(32);
        let mut out = Vec::new();
        for &n in seq {
            c.write(&mut out, n).unwrap();
        }
        out
    }

    #[test]
    fn decodes_upstream_ndx_bytes() {
        // Captured from rsync 3.5.0 (protocol map 6.1, 9.2).
        assert_eq!(enc(&[0]), [0x01]);
        assert_eq!(enc(&[0, 2]), [0x01, 0x02]);
        assert_eq!(enc(&[-102]), [0xff, 0x65]);
        assert_eq!(enc(&[-102, -103]), [0xff, 0x65, 0xff, 0x01]);
        assert_eq!(
            enc(&[-102, -103, -2]),
            [0xff, 0x65, 0xff, 0x01, 0xff, 0xfe, 0x80, 0x02, 0, 0]
        );
        assert_eq!(enc(&[10, 4]), [0x0b, 0xfe, 0x80, 0x04, 0x00, 0x00]);
        assert_eq!(enc(&[NDX_DONE]), [0x00]);
        assert_eq!(enc(&[5, 5]), [0x06, 0xfe, 0x00, 0x00]);
        assert_eq!(enc(&[NDX_DEL_STATS]), [0xff, 0x02]);
    }

    #[test]
    fn roundtrip_sequences() {
        for proto in [29u32, 30, 32] {
            let seq = [
                0,
                1,
                2,
                300,
                299,
                70000,
                NDX_DONE,
                -2,
                -3,
                -102,
                5,
                5,
                0x7FFF_FFFE,
                3,
            ];
            let mut c = NdxCodec::new(proto);
            let mut out = Vec::new();
            for &n in &seq {
                c.write(&mut out, n).unwrap();
            }
            let mut d = NdxCodec::new(proto);
            let mut r = &out[..];
            for &n in &seq {
                assert_eq!(d.read(&mut r).unwrap(), n);
            }
            assert!(r.is_empty());
        }
    }

    #[test]
    fn rejects_truncated() {
        let mut d = NdxCodec::new(32);
        assert!(d.read(&mut &[0xfeu8, 0x80][..]).is_err());
        assert!(d.read(&mut &[0xffu8][..]).is_err());
    }
}
