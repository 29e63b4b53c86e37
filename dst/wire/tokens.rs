//! The uncompressed token stream (upstream: token.c simple_send_token(),
//! simple_recv_token()). See protocol-notes/sums-and-tokens.md.
//!
//! Literal: int32 n > 0 then n bytes. Block match: int32 -(i + 1). End: 0.

use super::int::{read_int, write_int};
use crate::error::{Error, Result};
use std::io::{Read, Write};

/// Largest literal run we send behind one length (upstream CHUNK_SIZE).
pub const CHUNK_SIZE: usize = 32 * 1024;
/// Largest literal run we accept behind one length; third-party senders use
/// up to 64 KiB, so accept well beyond that but bound the allocation.
const MAX_LITERAL: i32 = 1 << 24;

#[derive(Debug, PartialEq, Eq)]
pub enum RecvToken {
    /// Literal bytes were read into the caller's buffer (this many).
    Literal(usize),
    Match(u32),
    End,
}

pub fn write_literal<W: Write + ?Sized>(w: &mut W, data: &[u8]) -> Result<()> {
    for chunk in data.chunks(CHUNK_SIZE) {
        write_int(w, chunk.len() as i32)?;
        w.write_all(chunk)?;
    }
    Ok(())
}

pub fn write_match<W: Write + ?Sized>(w: &mut W, block: u32) -> Result<()> {
    write_int(w, -(block as i32) - 1)
}

pub fn write_end<W: Write + ?Sized>(w: &mut W) -> Result<()> {
    write_int(w, 0)
}

/// Read the next token; literal data goes into `buf` (resized as needed).
pub fn read_token<R: Read + ?Sized>(r: &mut R, buf: &mut Vec<u8>) -> Result<RecvToken> {
    let n = read_int(r)?;
    if n == 0 {
        return Ok(RecvToken::End);
    }
    if n < 0 {
        return Ok(RecvToken::Match((-(n as i64) - 1) as u32));
    }
    if n > MAX_LITERAL {
        return Err(Error::protocol(format!("invalid literal length {n}")));
    }
    // Grow the buffer only as data actually arrives, so a bogus length
    // costs nothing before the stream runs dry.
    buf.clear();
    let got = r.take(n as u64).read_to_end(buf)?;
    if got < n as usize {
        return Err(Error::stream(crate::error::CONNECTION_CLOSED));
    }
    Ok(RecvToken::Literal(n as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_tokens() {
        let mut out = Vec::new();
        write_literal(&mut out, &vec![9u8; 100_000]).unwrap();
        write_match(&mut out, 0).unwrap();
        write_match(&mut out, 7).unwrap();
        write_end(&mut out).unwrap();
        // 100000 bytes split as 32768 x3 + 1696, as upstream sends them.
        assert_eq!(&out[..4], &32768i32.to_le_bytes());
        let mut r = &out[..];
        let mut buf = Vec::new();
        let mut lits = Vec::new();
        loop {
            match read_token(&mut r, &mut buf).unwrap() {
                RecvToken::Literal(n) => lits.push(n),
                RecvToken::Match(b) => lits.push(1_000_000 + b as usize),
                RecvToken::End => break,
            }
        }
        assert_eq!(lits, [32768, 32768, 32768, 1696, 1_000_000, 1_000_007]);
        assert_eq!(
            &out[out.len() - 12..out.len() - 8],
            &[0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn rejects_huge_or_truncated_literals() {
        let mut buf = Vec::new();
        assert!(read_token(&mut &i32::MAX.to_le_bytes()[..], &mut buf).is_err());
        let mut t = 10i32.to_le_bytes().to_vec();
        t.extend_from_slice(b"abc");
        assert!(read_token(&mut &t[..], &mut buf).is_err());
    }
}
