//! Stand-in.
use crate::checksum::{block_sum, ChecksumKind};
pub use crate::wire::sums::{BlockSum, SumHead};
pub fn sum_sizes_sqroot(
    len: i64,
    forced: Option<u32>,
    _protocol: u32,
    xfer_sum_len: usize,
    redo: bool,
) -> SumHead {
    let blength = forced.map(|b| b as i64).unwrap_or(700).max(1);
    let count = (len + blength - 1) / blength;
    let s2 = if redo { xfer_sum_len.min(16) } else { 2 } as i32;
    SumHead {
        count: count as i32,
        blength: blength as i32,
        s2length: s2,
        remainder: (len % blength) as i32,
    }
}
pub fn generate_sums(
    basis: &[u8],
    head: &SumHead,
    kind: ChecksumKind,
    seed: i32,
    proper: bool,
) -> Vec<BlockSum> {
    let mut v = Vec::new();
    for i in 0..head.count {
        let off = i as usize * head.blength as usize;
        let d = &basis[off..off + head.block_len(i) as usize];
        let mut out = [0u8; 32];
        block_sum(kind, seed, proper, d, &mut out);
        let mut sum2 = [0u8; 16];
        sum2.copy_from_slice(&out[..16]);
        v.push(BlockSum {
            sum1: super::rolling::checksum1(d),
            sum2,
        });
    }
    v
}
