//! Integer and string encodings of the raw protocol stream (upstream: io.c
//! write_int/read_int, write_longint, write_varint, write_varlong,
//! write_vstring). See protocol-notes/integers.md.
//!
//! Every reader bounds what it accepts: an over-long varint/varlong or a
//! string longer than the caller's limit is a protocol error, never a panic
//! or an unbounded allocation.

use crate::error::{Error, Result};
use std::io::{Read, Write};

pub fn read_buf<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> Result<()> {
    r.read_exact(buf).map_err(Error::from)
}

pub fn read_byte<R: Read + ?Sized>(r: &mut R) -> Result<u8> {
    let mut b = [0u8; 1];
    read_buf(r, &mut b)?;
    Ok(b[0])
}

pub fn write_byte<W: Write + ?Sized>(w: &mut W, v: u8) -> Result<()> {
    w.write_all(&[v])?;
    Ok(())
}

pub fn read_shortint<R: Read + ?Sized>(r: &mut R) -> Result<u16> {
    let mut b = [0u8; 2];
    read_buf(r, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

pub fn write_shortint<W: Write + ?Sized>(w: &mut W, v: u16) -> Result<()> {
    w.write_all(&v.to_le_bytes())?;
    Ok(())
}

pub fn read_int<R: Read + ?Sized>(r: &mut R) -> Result<i32> {
    let mut b = [0u8; 4];
    read_buf(r, &mut b)?;
    Ok(i32::from_le_bytes(b))
}

pub fn write_int<W: Write + ?Sized>(w: &mut W, v: i32) -> Result<()> {
    w.write_all(&v.to_le_bytes())?;
    Ok(())
}

/// 0..=0x7FFFFFFF as 4 bytes, anything else as FF FF FF FF + 8 bytes.
pub fn write_longint<W: Write + ?Sized>(w: &mut W, v: i64) -> Result<()> {
    if (0..=0x7FFF_FFFF).contains(&v) {
        write_int(w, v as i32)
    } else {
        w.write_all(&[0xFF; 4])?;
        w.write_all(&v.to_le_bytes())?;
        Ok(())
    }
}

pub fn read_longint<R: Read + ?Sized>(r: &mut R) -> Result<i64> {
    let v = read_int(r)?;
    if v != -1 {
        return Ok(v as i64);
    }
    let mut b = [0u8; 8];
    read_buf(r, &mut b)?;
    Ok(i64::from_le_bytes(b))
}

/// Number of extra bytes announced by the leading 1-bits of a varint's first
/// byte (upstream table int_byte_extra, indexed by the top 6 bits).
fn extra_bytes(first: u8) -> usize {
    (first.leading_ones() as usize).min(6)
}

pub fn write_varint<W: Write + ?Sized>(w: &mut W, v: i32) -> Result<()> {
    let x = v as u32;
    let mut b = [0u8; 5];
    b[1..5].copy_from_slice(&x.to_le_bytes());
    // cnt = number of significant bytes (at least 1).
    let mut cnt = 4;
    while cnt > 1 && b[cnt] == 0 {
        cnt -= 1;
    }
    let bit = 1u8 << (7 - cnt + 1);
    if b[cnt] >= bit {
        cnt += 1;
        b[0] = !(bit - 1);
    } else if cnt > 1 {
        b[0] = b[cnt] | !(bit.wrapping_mul(2).wrapping_sub(1));
    } else {
        b[0] = b[cnt];
    }
    w.write_all(&b[..cnt])?;
    Ok(())
}

pub fn read_varint<R: Read + ?Sized>(r: &mut R) -> Result<i32> {
    let ch = read_byte(r)?;
    let extra = extra_bytes(ch);
    if extra > 4 {
        return Err(Error::stream("Overflow in read_varint()"));
    }
    let mut u = [0u8; 5];
    if extra > 0 {
        read_buf(r, &mut u[..extra])?;
        let bit = 1u8 << (8 - extra);
        if extra < 4 {
            u[extra] = ch & (bit - 1);
        }
    } else {
        u[0] = ch;
    }
    Ok(i32::from_le_bytes([u[0], u[1], u[2], u[3]]))
}

pub fn write_varlong<W: Write + ?Sized>(w: &mut W, v: i64, min_bytes: usize) -> Result<()> {
    let mut b = [0u8; 9];
    b[1..9].copy_from_slice(&v.to_le_bytes());
    let mut cnt = 8;
    while cnt > min_bytes && b[cnt] == 0 {
        cnt -= 1;
    }
    let bit = 1u8 << (7 + min_bytes - cnt);
    if b[cnt] >= bit {
        cnt += 1;
        b[0] = !(bit - 1);
    } else if cnt > min_bytes {
        b[0] = b[cnt] | !(bit.wrapping_mul(2).wrapping_sub(1));
    } else {
        b[0] = b[cnt];
    }
    w.write_all(&b[..cnt])?;
    Ok(())
}

pub fn read_varlong<R: Read + ?Sized>(r: &mut R, min_bytes: usize) -> Result<i64> {
    let mut b2 = [0u8; 8];
    read_buf(r, &mut b2[..min_bytes])?;
    let ch = b2[0];
    let extra = extra_bytes(ch);
    if min_bytes + extra > 9 {
        return Err(Error::stream("Overflow in read_varlong()"));
    }
    let mut u = [0u8; 9];
    u[..min_bytes - 1].copy_from_slice(&b2[1..min_bytes]);
    if extra > 0 {
        read_buf(r, &mut u[min_bytes - 1..min_bytes - 1 + extra])?;
        let bit = 1u8 << (8 - extra);
        if min_bytes + extra <= 8 {
            u[min_bytes - 1 + extra] = ch & (bit - 1);
        }
    } else {
        u[min_bytes - 1] = ch;
    }
    Ok(i64::from_le_bytes([
        u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
    ]))
}

/// A varint that must lie in `lo..=hi` (upstream 3.5.0 read_varint_bounded()).
pub fn read_varint_bounded<R: Read + ?Sized>(
    r: &mut R,
    lo: i32,
    hi: i32,
    what: &str,
) -> Result<i32> {
    let v = read_varint(r)?;
    if v < lo || v > hi {
        return Err(Error::protocol(format!(
            "wire value {v} for {what} out of range"
        )));
    }
    Ok(v)
}

/// varint for protocol >= 30, int32 below (io.h read_varint30()).
pub fn read_varint30<R: Read + ?Sized>(r: &mut R, protocol: u32) -> Result<i32> {
    if protocol < 30 {
        read_int(r)
    } else {
        read_varint(r)
    }
}

pub fn write_varint30<W: Write + ?Sized>(w: &mut W, v: i32, protocol: u32) -> Result<()> {
    if protocol < 30 {
        write_int(w, v)
    } else {
        write_varint(w, v)
    }
}

/// varlong(min) for protocol >= 30, longint below (io.h read_varlong30()).
pub fn read_varlong30<R: Read + ?Sized>(r: &mut R, min: usize, protocol: u32) -> Result<i64> {
    if protocol < 30 {
        read_longint(r)
    } else {
        read_varlong(r, min)
    }
}

pub fn write_varlong30<W: Write + ?Sized>(
    w: &mut W,
    v: i64,
    min: usize,
    protocol: u32,
) -> Result<()> {
    if protocol < 30 {
        write_longint(w, v)
    } else {
        write_varlong(w, v, min)
    }
}

/// Length-prefixed string: 1 byte for len <= 0x7F, else 2 bytes high-first.
pub fn write_vstring<W: Write + ?Sized>(w: &mut W, s: &[u8]) -> Result<()> {
    let len = s.len();
    if len > 0x7FFF {
        return Err(Error::protocol("vstring too long"));
    }
    if len > 0x7F {
        w.write_all(&[0x80 | (len >> 8) as u8, len as u8])?;
    } else {
        w.write_all(&[len as u8])?;
    }
    w.write_all(s)?;
    Ok(())
}

pub fn read_vstring<R: Read + ?Sized>(r: &mut R, max: usize) -> Result<Vec<u8>> {
    let mut len = read_byte(r)? as usize;
    if len & 0x80 != 0 {
        len = ((len & 0x7F) << 8) | read_byte(r)? as usize;
    }
    if len > max {
        return Err(Error::protocol(format!(
            "vstring length {len} exceeds {max}"
        )));
    }
    let mut v = vec![0u8; len];
    read_buf(r, &mut v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(v: i32) -> Vec<u8> {
        let mut out = Vec::new();
        write_varint(&mut out, v).unwrap();
        out
    }

    #[test]
    fn decodes_upstream_varints() {
        // Byte sequences captured from rsync 3.5.0 (protocol map 4.3).
        assert_eq!(varint_bytes(0x1FF), [0x81, 0xFF]);
        assert_eq!(varint_bytes(0x2C01), [0xAC, 0x01]);
        assert_eq!(varint_bytes(0), [0x00]);
        assert_eq!(varint_bytes(-1), [0xF0, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(read_varint(&mut &[0x81u8, 0xFF][..]).unwrap(), 0x1FF);
    }

    #[test]
    fn decodes_upstream_varlongs() {
        let mut out = Vec::new();
        write_varlong(&mut out, 4096, 3).unwrap();
        assert_eq!(out, [0x00, 0x00, 0x10]);
        out.clear();
        write_varlong(&mut out, 5, 3).unwrap();
        assert_eq!(out, [0x00, 0x05, 0x00]);
        out.clear();
        write_varlong(&mut out, 0x6B02_4797, 4).unwrap();
        assert_eq!(out, [0x6B, 0x97, 0x47, 0x02]);
        assert_eq!(read_varlong(&mut &out[..], 4).unwrap(), 0x6B02_4797);
        out.clear();
        write_varlong(&mut out, 1_704_164_645, 4).unwrap();
        assert_eq!(out, [0x65, 0x25, 0x7d, 0x93]);
    }

    #[test]
    fn roundtrip_varint_and_varlong() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        for i in 0..20000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let shift = i % 64;
            let v = (seed >> shift) as i64 * if i % 3 == 0 { -1 } else { 1 };
            let mut out = Vec::new();
            write_varint(&mut out, v as i32).unwrap();
            assert_eq!(read_varint(&mut &out[..]).unwrap(), v as i32);
            for min in [3usize, 4] {
                out.clear();
                write_varlong(&mut out, v, min).unwrap();
                assert_eq!(
                    read_varlong(&mut &out[..], min).unwrap(),
                    v,
                    "v={v} min={min}"
                );
            }
            out.clear();
            write_longint(&mut out, v).unwrap();
            assert_eq!(read_longint(&mut &out[..]).unwrap(), v);
        }
    }

    #[test]
    fn rejects_overlong_varint() {
        assert!(read_varint(&mut &[0xF8u8, 0, 0, 0, 0, 0][..]).is_err());
        assert!(read_varlong(&mut &[0xFFu8; 12][..], 4).is_err());
    }

    #[test]
    fn rejects_truncated_input() {
        assert!(read_int(&mut &[1u8, 2][..]).is_err());
        assert!(read_varint(&mut &[0x81u8][..]).is_err());
        assert!(read_vstring(&mut &[5u8, b'a'][..], 100).is_err());
        assert!(read_vstring(&mut &[0x81u8, 0x00][..], 100).is_err());
    }

    #[test]
    fn roundtrip_vstring() {
        for len in [0usize, 1, 0x7F, 0x80, 300, 0x7FFF] {
            let s = vec![b'x'; len];
            let mut out = Vec::new();
            write_vstring(&mut out, &s).unwrap();
            assert_eq!(read_vstring(&mut &out[..], 0x7FFF).unwrap(), s);
        }
    }
}
