//! rsync's weak rolling checksum (upstream: checksum.c get_checksum1();
//! match.c hash_search() for the rolling update; rsync.h CHAR_OFFSET = 0).
//!
//! Bytes count as signed chars. For a window x_0..x_(n-1):
//! s1 = sum x_i, s2 = sum (n - i) * x_i, value = (s1 & 0xffff) | (s2 << 16),
//! all in wrapping 32-bit arithmetic.

/// Bytes folded per step of the block loop. Within one block the partial
/// sums stay far below i32 range (64 * 128 * 65 / 2), so they can be
/// accumulated in plain i32 lanes that the compiler vectorises.
const LANES: usize = 64;

/// Weak checksum of a whole block (get_checksum1()).
pub fn checksum1(data: &[u8]) -> u32 {
    let (s1, s2) = sums(data);
    (s1 & 0xffff) | (s2 << 16)
}

/// The unreduced (s1, s2) pair of `data`.
fn sums(data: &[u8]) -> (u32, u32) {
    let mut s1: u32 = 0;
    let mut s2: u32 = 0;
    let mut blocks = data.chunks_exact(LANES);
    for block in &mut blocks {
        let block: &[u8; LANES] = block.try_into().expect("exact chunk");
        let mut a: i32 = 0;
        let mut b: i32 = 0;
        for (j, &x) in block.iter().enumerate() {
            let x = x as i8 as i32;
            a += x;
            b += (LANES - j) as i32 * x;
        }
        // Every byte of the block also adds the s1 carried in from before.
        s2 = s2
            .wrapping_add(s1.wrapping_mul(LANES as u32))
            .wrapping_add(b as u32);
        s1 = s1.wrapping_add(a as u32);
    }
    for &x in blocks.remainder() {
        s1 = s1.wrapping_add(x as i8 as i32 as u32);
        s2 = s2.wrapping_add(s1);
    }
    (s1, s2)
}

/// A weak checksum over a sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rolling {
    s1: u32,
    s2: u32,
    len: u32,
}

impl Rolling {
    /// Start with the checksum of `window`.
    pub fn new(window: &[u8]) -> Self {
        let (s1, s2) = sums(window);
        Rolling {
            s1,
            s2,
            len: window.len() as u32,
        }
    }

    /// Slide the window one byte: drop `out_byte` from the front and append
    /// `in_byte` at the back; the window length is unchanged.
    #[inline(always)]
    pub fn roll(&mut self, out_byte: u8, in_byte: u8) {
        let out = out_byte as i8 as i32 as u32;
        self.s1 = self
            .s1
            .wrapping_sub(out)
            .wrapping_add(in_byte as i8 as i32 as u32);
        self.s2 = self
            .s2
            .wrapping_sub(self.len.wrapping_mul(out))
            .wrapping_add(self.s1);
    }

    /// Drop `out_byte` from the front without appending: the window shrinks
    /// by one, as at the end of the data.
    #[inline(always)]
    pub fn shrink(&mut self, out_byte: u8) {
        let out = out_byte as i8 as i32 as u32;
        self.s1 = self.s1.wrapping_sub(out);
        self.s2 = self.s2.wrapping_sub(self.len.wrapping_mul(out));
        self.len -= 1;
    }

    /// The current checksum, as get_checksum1() would return it.
    #[inline(always)]
    pub fn value(&self) -> u32 {
        (self.s1 & 0xffff) | (self.s2 << 16)
    }

    /// Current window length.
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(data: &[u8]) -> u32 {
        let (mut s1, mut s2) = (0u32, 0u32);
        for &b in data {
            s1 = s1.wrapping_add(b as i8 as i32 as u32);
            s2 = s2.wrapping_add(s1);
        }
        (s1 & 0xffff) | (s2 << 16)
    }

    fn noise(n: usize, mut x: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn signed_bytes() {
        // 0xff is -1: s1 = -1, s2 = -1.
        assert_eq!(checksum1(&[0xff]), 0xffff_ffff);
        assert_eq!(checksum1(&[1, 2, 3]), 6 | (10 << 16));
        assert_eq!(checksum1(&[]), 0);
        // Unsigned and signed interpretations differ for high bytes.
        assert_ne!(checksum1(&[0x80; 8]), 0x400 | (0x1200 << 16));
    }

    #[test]
    fn upstream_vector() {
        // rsync 3.5.0 `--debug=deltasum3` prints "sum=6a50ffa6 k=700" for the
        // first window of this file.
        let d: Vec<u8> = (0..700u32).map(|i| (i * 37 + 11) as u8).collect();
        assert_eq!(checksum1(&d), 0x6a50_ffa6);
    }

    #[test]
    fn matches_naive_at_every_length() {
        let d = noise(3000, 7);
        for n in 0..300 {
            assert_eq!(checksum1(&d[..n]), naive(&d[..n]), "len {n}");
        }
        assert_eq!(checksum1(&d), naive(&d));
        let big = vec![0x80u8; 1 << 20];
        assert_eq!(checksum1(&big), naive(&big));
    }

    #[test]
    fn rolling_equals_recompute() {
        let d = noise(5000, 99);
        let w = 700;
        let mut r = Rolling::new(&d[..w]);
        for off in 0..d.len() - w {
            assert_eq!(r.value(), checksum1(&d[off..off + w]));
            r.roll(d[off], d[off + w]);
        }
        // Shrink to nothing at the end.
        let start = d.len() - w;
        for off in start..d.len() {
            assert_eq!(r.value(), checksum1(&d[off..]));
            assert_eq!(r.len() as usize, d.len() - off);
            r.shrink(d[off]);
        }
        assert!(r.is_empty());
        assert_eq!(r.value(), 0);
    }
}
