//! Block size, strong-sum length and the block sums of a basis file
//! (upstream: generator.c sum_sizes_sqroot(), generate_and_send_sums()).
//! See rsync-protocol-map.md sections 7.1-7.4.

use super::rolling::checksum1;
use crate::checksum::{block_sum, ChecksumKind};
use std::io::{self, Read};

pub use crate::wire::sums::{BlockSum, SumHead, MAX_BLOCK_SIZE, OLD_MAX_BLOCK_SIZE};

/// Default block length and the file size up to which it is used (BLOCK_SIZE).
pub const BLOCK_SIZE: i32 = 700;
/// Strong-sum bytes of a normal request (SHORT_SUM_LENGTH) and of a redo
/// request or any full-length sum (SUM_LENGTH).
pub const SHORT_SUM_LENGTH: i32 = 2;
pub const SUM_LENGTH: i32 = 16;
const BLOCKSUM_BIAS: i32 = 10;

/// Choose block length, strong-sum length, count and remainder for a basis of
/// `len` bytes, exactly as upstream's generator does. `forced_block_size` is
/// `-B` (already bounded by option parsing; `Some(0)` means unset).
/// `xfer_sum_len` is the transfer checksum's digest length and `redo` selects
/// the full-length sums of a redo request. A negative length or a block count
/// that does not fit an int32 yields `count == -1` (the caller then sends an
/// all-zero head, "file is too large for checksum sending").
pub fn sum_sizes_sqroot(
    len: i64,
    forced_block_size: Option<u32>,
    protocol: u32,
    xfer_sum_len: usize,
    redo: bool,
) -> SumHead {
    if len < 0 {
        return SumHead {
            count: -1,
            ..SumHead::default()
        };
    }
    let max_s2length = xfer_sum_len.min(SUM_LENGTH as usize) as i32;
    let csum_length = if redo { SUM_LENGTH } else { SHORT_SUM_LENGTH };

    let blength: i64 = match forced_block_size {
        Some(b) if b > 0 => b as i64,
        _ if len <= (BLOCK_SIZE as i64) * (BLOCK_SIZE as i64) => BLOCK_SIZE as i64,
        _ => {
            let max = if protocol < 30 {
                OLD_MAX_BLOCK_SIZE
            } else {
                MAX_BLOCK_SIZE
            } as i64;
            // c = 2^floor(log4(len)): a first guess at the square root's top bit.
            let mut c: i64 = 1;
            let mut l = len >> 2;
            while l != 0 {
                c <<= 1;
                l >>= 2;
            }
            if c >= max {
                max
            } else {
                // Integer square root, one bit at a time, never below bit 3
                // (so the result is a multiple of 8).
                let mut b: i64 = 0;
                while c >= 8 {
                    b |= c;
                    if len < b * b {
                        b &= !c;
                    }
                    c >>= 1;
                }
                b.max(BLOCK_SIZE as i64)
            }
        }
    };

    let s2length = if protocol < 27 {
        csum_length
    } else if redo {
        max_s2length
    } else {
        // Enough strong-sum bits that a false match over the whole file stays
        // unlikely: 10 + 2*log2(len) - log2(blength) bits, minus the 32 bits
        // the weak sum already provides, rounded up to bytes.
        let mut b = BLOCKSUM_BIAS;
        let mut l = len >> 1;
        while l != 0 {
            b += 2;
            l >>= 1;
        }
        let mut c = blength >> 1;
        while c != 0 && b != 0 {
            b -= 1;
            c >>= 1;
        }
        // Division truncating towards zero, as in C.
        ((b + 1 - 32 + 7) / 8).max(csum_length).min(max_s2length)
    };

    let remainder = len % blength;
    let count = len / blength + (remainder != 0) as i64;
    let count = if count > i32::MAX as i64 {
        -1
    } else {
        count as i32
    };
    SumHead {
        count,
        blength: blength as i32,
        s2length,
        remainder: remainder as i32,
    }
}

/// Length of block `i` under `head` (the last block may be short).
#[inline]
pub(crate) fn block_len(head: &SumHead, i: usize) -> usize {
    if i + 1 == head.count as usize && head.remainder != 0 {
        head.remainder as usize
    } else {
        head.blength as usize
    }
}

/// The sum record of one block: weak sum plus the first `s2length` bytes of
/// the strong sum (the rest zero, as a record read off the wire).
pub fn block_sum_record(
    block: &[u8],
    s2length: usize,
    kind: ChecksumKind,
    seed: i32,
    proper_seed_order: bool,
) -> BlockSum {
    let mut strong = [0u8; 32];
    block_sum(kind, seed, proper_seed_order, block, &mut strong);
    let mut sum2 = [0u8; 16];
    let n = s2length.min(16);
    sum2[..n].copy_from_slice(&strong[..n]);
    BlockSum {
        sum1: checksum1(block),
        sum2,
    }
}

/// Block sums of an in-memory (or memory-mapped) basis. `basis` must hold at
/// least the bytes `head` describes; extra bytes are ignored.
pub fn generate_sums(
    basis: &[u8],
    head: &SumHead,
    kind: ChecksumKind,
    seed: i32,
    proper_seed_order: bool,
) -> Vec<BlockSum> {
    let count = head.count.max(0) as usize;
    let blength = head.blength.max(0) as usize;
    let s2 = head.s2length.max(0) as usize;
    (0..count)
        .map(|i| {
            let off = i * blength;
            let block = &basis[off..off + block_len(head, i)];
            block_sum_record(block, s2, kind, seed, proper_seed_order)
        })
        .collect()
}

/// Stream the block sums of a basis read block by block from `reader`,
/// handing each record to `emit` in block order. If the basis turns out
/// shorter than `head` says (it shrank after being measured), the missing
/// bytes count as zeros, as upstream's map_ptr() supplies them; the return
/// value is the number of bytes actually read so the caller can notice.
pub fn generate_sums_from_reader(
    mut reader: impl Read,
    head: &SumHead,
    kind: ChecksumKind,
    seed: i32,
    proper_seed_order: bool,
    emit: &mut dyn FnMut(&BlockSum) -> io::Result<()>,
) -> io::Result<u64> {
    let count = head.count.max(0) as usize;
    let s2 = head.s2length.max(0) as usize;
    let mut buf = vec![0u8; head.blength.max(0) as usize];
    let mut got_total = 0u64;
    let mut eof = false;
    for i in 0..count {
        let block = &mut buf[..block_len(head, i)];
        let mut got = 0;
        while got < block.len() && !eof {
            match reader.read(&mut block[got..]) {
                Ok(0) => eof = true,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        block[got..].fill(0);
        got_total += got as u64;
        emit(&block_sum_record(block, s2, kind, seed, proper_seed_order))?;
    }
    Ok(got_total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(len: i64, protocol: u32) -> SumHead {
        sum_sizes_sqroot(len, None, protocol, 16, false)
    }

    #[test]
    fn block_sizes_from_the_map() {
        assert_eq!(
            head(999_037, 32),
            SumHead {
                count: 1008,
                blength: 992,
                s2length: 2,
                remainder: 93
            }
        );
        assert_eq!(head(10_000_000, 32).blength, 3160);
        assert_eq!(head(100_000_000, 32).blength, 10000);
        assert_eq!(head(1_000_000_000, 32).blength, 31616);
        assert_eq!(head(1 << 32, 32).blength, 65536);
        assert_eq!(head(1 << 34, 32).blength, 131072);
        assert_eq!(head(100_000_000_000, 32).blength, 131072);
        assert_eq!(head(100_000_000_000, 29).blength, 316224);
        assert_eq!(head(490_000, 32).blength, 700);
        assert_eq!(head(490_001, 32).blength, 700);
        assert_eq!(
            head(0, 32),
            SumHead {
                count: 0,
                blength: 700,
                s2length: 2,
                remainder: 0
            }
        );
        assert_eq!(
            head(1, 32),
            SumHead {
                count: 1,
                blength: 700,
                s2length: 2,
                remainder: 1
            }
        );
        assert_eq!(
            head(1400, 32),
            SumHead {
                count: 2,
                blength: 700,
                s2length: 2,
                remainder: 0
            }
        );
    }

    #[test]
    fn strong_lengths_from_the_map() {
        assert_eq!(head(1_000_000, 32).s2length, 2);
        assert_eq!(head(100_000_000, 32).s2length, 3);
        assert_eq!(head(1 << 32, 32).s2length, 4);
        assert_eq!(head(100_000_000_000, 32).s2length, 5);
        assert_eq!(head(10_000_000_000_000, 32).s2length, 6);
        // Capped by the digest length: 8 for xxh64/xxh3.
        assert_eq!(sum_sizes_sqroot(1000, None, 32, 8, true).s2length, 8);
        assert_eq!(sum_sizes_sqroot(1000, None, 32, 16, true).s2length, 16);
        assert_eq!(sum_sizes_sqroot(1000, None, 32, 1, false).s2length, 1);
        // Below 27: csum_length, whatever the size.
        assert_eq!(sum_sizes_sqroot(1 << 40, None, 26, 16, false).s2length, 2);
        assert_eq!(sum_sizes_sqroot(1 << 40, None, 26, 16, true).s2length, 16);
    }

    #[test]
    fn forced_and_overflowing() {
        let h = sum_sizes_sqroot(10_000, Some(1000), 32, 16, false);
        assert_eq!(
            h,
            SumHead {
                count: 10,
                blength: 1000,
                s2length: 2,
                remainder: 0
            }
        );
        assert_eq!(
            sum_sizes_sqroot(10_000, Some(0), 32, 16, false).blength,
            700
        );
        assert_eq!(sum_sizes_sqroot(-1, None, 32, 16, false).count, -1);
        assert_eq!(sum_sizes_sqroot(1 << 40, Some(8), 32, 16, false).count, -1);
    }

    #[test]
    fn reader_and_slice_agree() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
        let h = sum_sizes_sqroot(data.len() as i64, Some(700), 32, 16, false);
        let a = generate_sums(&data, &h, ChecksumKind::Md5, 3, true);
        assert_eq!(a.len(), 8);
        assert_eq!(a[7].sum1, checksum1(&data[4900..]));
        assert!(a.iter().all(|s| s.sum2[2..].iter().all(|&b| b == 0)));
        let mut b = Vec::new();
        // A reader that returns short reads.
        struct Dribble<'a>(&'a [u8]);
        impl Read for Dribble<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(97);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let n =
            generate_sums_from_reader(Dribble(&data), &h, ChecksumKind::Md5, 3, true, &mut |s| {
                b.push(*s);
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 5000);
        assert_eq!(a, b);
        // A basis that shrank reads as zeros.
        let mut c = Vec::new();
        let n =
            generate_sums_from_reader(&data[..4000], &h, ChecksumKind::Md5, 3, true, &mut |s| {
                c.push(*s);
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 4000);
        let mut padded = data[..4000].to_vec();
        padded.resize(5000, 0);
        assert_eq!(c, generate_sums(&padded, &h, ChecksumKind::Md5, 3, true));
    }
}
