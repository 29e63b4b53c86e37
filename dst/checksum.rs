//! Strong checksums: per-block sums, the whole-file transfer sum and the
//! `--checksum` file sum, with upstream's seed placement and the MD4 quirks of
//! old protocols (upstream: checksum.c get_checksum2(), sum_init(),
//! sum_update(), sum_end(), file_checksum(), parse_csum_name(); lib/mdfour.c).
//! See rsync-protocol-map.md sections 2.6 and 7.6-7.8.

use md5::Digest;
use std::io::{self, Read};
use xxhash_rust::xxh3::{xxh3_128_with_seed, xxh3_64_with_seed, Xxh3Default};
use xxhash_rust::xxh64::{xxh64, Xxh64};

/// Size of the reads used for `--checksum` sums (upstream CHUNK_SIZE).
const CHUNK_SIZE: usize = 32 * 1024;

/// A checksum algorithm as selected by negotiation or implied by the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumKind {
    /// MD4 below protocol 21: busted finalisation, 2-byte file-list sums.
    Md4Archaic,
    /// MD4 for protocols 21-26: skips the final block when the input length is
    /// a multiple of 64 and only counts bits modulo 2^32.
    Md4Busted,
    /// Standard MD4 for protocols 27-29, with the seed hashed first in
    /// whole-file sums.
    Md4Old,
    /// Negotiated "md4": standard MD4, whole-file sum unseeded.
    Md4,
    Md5,
    Xxh64,
    Xxh3,
    Xxh128,
    None,
}

impl ChecksumKind {
    /// Look up a negotiable checksum name (checksum.c valid_checksums_items).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "xxh128" => Self::Xxh128,
            "xxh3" => Self::Xxh3,
            "xxh64" | "xxhash" => Self::Xxh64,
            "md5" => Self::Md5,
            "md4" => Self::Md4,
            "none" => Self::None,
            _ => return None,
        })
    }

    /// The name used in negotiation and in `--debug=nstr` style output.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md4Archaic | Self::Md4Busted | Self::Md4Old | Self::Md4 => "md4",
            Self::Md5 => "md5",
            Self::Xxh64 => "xxh64",
            Self::Xxh3 => "xxh3",
            Self::Xxh128 => "xxh128",
            Self::None => "none",
        }
    }

    /// Digest length in bytes (csum_len_for_type() outside the file list).
    pub fn digest_len(self) -> usize {
        match self {
            Self::Xxh64 | Self::Xxh3 => 8,
            Self::None => 1,
            _ => 16,
        }
    }

    /// Bytes of a `--checksum` sum carried in the file list: the archaic MD4
    /// only ever sent 2 (csum_len_for_type(.., flist_csum = 1)).
    pub fn flist_len(self) -> usize {
        match self {
            Self::Md4Archaic => 2,
            k => k.digest_len(),
        }
    }
}

/// The checksum implied when no checksum name is negotiated
/// (checksum.c parse_csum_name() with no name).
pub fn default_for_protocol(protocol: u32) -> ChecksumKind {
    match protocol {
        30.. => ChecksumKind::Md5,
        27..=29 => ChecksumKind::Md4Old,
        21..=26 => ChecksumKind::Md4Busted,
        _ => ChecksumKind::Md4Archaic,
    }
}

/// Strong checksum of one block (checksum.c get_checksum2()). Writes the
/// digest to the front of `out`, zeroes the rest (so comparing more bytes than
/// the digest has never sees stale data) and returns the digest length.
pub fn block_sum(
    kind: ChecksumKind,
    seed: i32,
    proper_seed_order: bool,
    data: &[u8],
    out: &mut [u8; 32],
) -> usize {
    *out = [0; 32];
    let seed_bytes = seed.to_le_bytes();
    // The C int seed reaches xxhash as an unsigned 64-bit value: sign-extended.
    let xseed = seed as i64 as u64;
    match kind {
        ChecksumKind::Md4Old | ChecksumKind::Md4 => {
            // The built-in MD4 appends the seed (only when non-zero).
            let mut h = md4::Md4::new();
            h.update(data);
            if seed != 0 {
                h.update(seed_bytes);
            }
            out[..16].copy_from_slice(&h.finalize());
            16
        }
        ChecksumKind::Md4Busted | ChecksumKind::Md4Archaic => {
            let mut h = BustedMd4::new();
            h.update(data);
            if seed != 0 {
                h.update(&seed_bytes);
            }
            out[..16].copy_from_slice(&h.finish());
            16
        }
        ChecksumKind::Md5 => {
            // CF_CHKSUM_SEED_FIX moved the seed in front of the data.
            let mut h = md5::Md5::new();
            if proper_seed_order && seed != 0 {
                h.update(seed_bytes);
            }
            h.update(data);
            if !proper_seed_order && seed != 0 {
                h.update(seed_bytes);
            }
            out[..16].copy_from_slice(&h.finalize());
            16
        }
        ChecksumKind::Xxh64 => {
            out[..8].copy_from_slice(&xxh64(data, xseed).to_le_bytes());
            8
        }
        ChecksumKind::Xxh3 => {
            out[..8].copy_from_slice(&xxh3_64_with_seed(data, xseed).to_le_bytes());
            8
        }
        ChecksumKind::Xxh128 => {
            // Low 64 bits little-endian, then high 64 bits: exactly the
            // little-endian bytes of the u128.
            out[..16].copy_from_slice(&xxh3_128_with_seed(data, xseed).to_le_bytes());
            16
        }
        // "none" forces whole-file transfers, so no block sums are ever made.
        ChecksumKind::None => 1,
    }
}

enum SumState {
    Md4(md4::Md4),
    Busted(BustedMd4),
    Md5(md5::Md5),
    Xxh64(Xxh64),
    Xxh3(Box<Xxh3Default>),
    Xxh128(Box<Xxh3Default>),
    None,
}

impl SumState {
    /// `seed` is hashed in front of the data for the pre-negotiation MD4
    /// kinds only; every other kind ignores it.
    fn new(kind: ChecksumKind, seed: Option<i32>) -> Self {
        let mut st = match kind {
            ChecksumKind::Md4Old | ChecksumKind::Md4 => SumState::Md4(md4::Md4::new()),
            ChecksumKind::Md4Busted | ChecksumKind::Md4Archaic => {
                SumState::Busted(BustedMd4::new())
            }
            ChecksumKind::Md5 => SumState::Md5(md5::Md5::new()),
            ChecksumKind::Xxh64 => SumState::Xxh64(Xxh64::new(0)),
            ChecksumKind::Xxh3 => SumState::Xxh3(Box::default()),
            ChecksumKind::Xxh128 => SumState::Xxh128(Box::default()),
            ChecksumKind::None => SumState::None,
        };
        let seeded = matches!(
            kind,
            ChecksumKind::Md4Old | ChecksumKind::Md4Busted | ChecksumKind::Md4Archaic
        );
        if let (Some(seed), true) = (seed, seeded) {
            // Always 4 bytes, even for a zero seed (checksum.c sum_init()).
            st.update(&seed.to_le_bytes());
        }
        st
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            SumState::Md4(h) => h.update(data),
            SumState::Busted(h) => h.update(data),
            SumState::Md5(h) => h.update(data),
            SumState::Xxh64(h) => h.update(data),
            SumState::Xxh3(h) | SumState::Xxh128(h) => h.update(data),
            SumState::None => {}
        }
    }

    fn finish(&mut self, out: &mut [u8; 32]) -> usize {
        *out = [0; 32];
        match self {
            SumState::Md4(h) => {
                out[..16].copy_from_slice(&h.finalize_reset());
                16
            }
            SumState::Busted(h) => {
                out[..16].copy_from_slice(&h.finish());
                16
            }
            SumState::Md5(h) => {
                out[..16].copy_from_slice(&h.finalize_reset());
                16
            }
            SumState::Xxh64(h) => {
                out[..8].copy_from_slice(&h.digest().to_le_bytes());
                8
            }
            SumState::Xxh3(h) => {
                out[..8].copy_from_slice(&h.digest().to_le_bytes());
                8
            }
            SumState::Xxh128(h) => {
                out[..16].copy_from_slice(&h.digest128().to_le_bytes());
                16
            }
            SumState::None => 1,
        }
    }
}

/// The whole-file checksum sent after a file's token stream
/// (checksum.c sum_init()/sum_update()/sum_end()): for the pre-negotiation
/// MD4 kinds the 4 seed bytes are hashed first, everything else is unseeded.
pub struct FileSum {
    state: SumState,
}

impl FileSum {
    pub fn new(kind: ChecksumKind, seed: i32) -> Self {
        FileSum {
            state: SumState::new(kind, Some(seed)),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.state.update(data);
    }

    /// Write the digest to the front of `out` and return its length. Call
    /// once; the object is not meant to be reused afterwards.
    pub fn finish(&mut self, out: &mut [u8; 32]) -> usize {
        self.state.finish(out)
    }
}

/// The `--checksum` sum of a whole file, never seeded (checksum.c
/// file_checksum()). Returns the full digest; the file list carries
/// [`ChecksumKind::flist_len`] bytes of it. "none" cannot checksum files.
pub fn file_checksum(kind: ChecksumKind, mut reader: impl Read) -> io::Result<Vec<u8>> {
    if kind == ChecksumKind::None {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "Invalid checksum-choice for --checksum: none",
        ));
    }
    let mut st = SumState::new(kind, None);
    let mut buf = vec![0u8; CHUNK_SIZE];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => st.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut out = [0u8; 32];
    let n = st.finish(&mut out);
    Ok(out[..n].to_vec())
}

/// MD4 as computed before protocol 27 (lib/mdfour.c with protocol_version
/// < 27): data is consumed in 64-byte blocks and the padding block is only
/// processed when a partial block is left over, so an input whose length is
/// a multiple of 64 (including 0) yields the raw chaining state. The length
/// field of the padding holds only the low 32 bits of the bit count.
struct BustedMd4 {
    state: [u32; 4],
    buf: [u8; 64],
    buf_len: usize,
    total: u64,
}

impl BustedMd4 {
    fn new() -> Self {
        BustedMd4 {
            state: [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476],
            buf: [0; 64],
            buf_len: 0,
            total: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.buf_len > 0 {
            let take = (64 - self.buf_len).min(data.len());
            self.buf[self.buf_len..self.buf_len + take].copy_from_slice(&data[..take]);
            self.buf_len += take;
            data = &data[take..];
            if self.buf_len < 64 {
                return;
            }
            let block = self.buf;
            md4_compress(&mut self.state, &block);
            self.buf_len = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            md4_compress(&mut self.state, block.try_into().expect("64-byte block"));
        }
        let rest = blocks.remainder();
        self.buf[..rest.len()].copy_from_slice(rest);
        self.buf_len = rest.len();
    }

    fn finish(&mut self) -> [u8; 16] {
        if self.buf_len > 0 {
            let mut pad = [0u8; 128];
            pad[..self.buf_len].copy_from_slice(&self.buf[..self.buf_len]);
            pad[self.buf_len] = 0x80;
            let bits = (self.total << 3) as u32;
            let end = if self.buf_len <= 55 { 64 } else { 128 };
            // The upper 32 bits of the length stay zero: the pre-27 bug.
            pad[end - 8..end - 4].copy_from_slice(&bits.to_le_bytes());
            for block in pad[..end].chunks_exact(64) {
                md4_compress(&mut self.state, block.try_into().expect("64-byte block"));
            }
            self.buf_len = 0;
        }
        let mut out = [0u8; 16];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// The MD4 compression function (RFC 1320).
fn md4_compress(state: &mut [u32; 4], block: &[u8; 64]) {
    let mut x = [0u32; 16];
    for (w, b) in x.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    let f = |x: u32, y: u32, z: u32| (x & y) | (!x & z);
    let g = |x: u32, y: u32, z: u32| (x & y) | (x & z) | (y & z);
    let h = |x: u32, y: u32, z: u32| x ^ y ^ z;
    for &i in &[0usize, 4, 8, 12] {
        a = a.wrapping_add(f(b, c, d)).wrapping_add(x[i]).rotate_left(3);
        d = d
            .wrapping_add(f(a, b, c))
            .wrapping_add(x[i + 1])
            .rotate_left(7);
        c = c
            .wrapping_add(f(d, a, b))
            .wrapping_add(x[i + 2])
            .rotate_left(11);
        b = b
            .wrapping_add(f(c, d, a))
            .wrapping_add(x[i + 3])
            .rotate_left(19);
    }
    const K2: u32 = 0x5a82_7999;
    for &i in &[0usize, 1, 2, 3] {
        a = a
            .wrapping_add(g(b, c, d))
            .wrapping_add(x[i])
            .wrapping_add(K2)
            .rotate_left(3);
        d = d
            .wrapping_add(g(a, b, c))
            .wrapping_add(x[i + 4])
            .wrapping_add(K2)
            .rotate_left(5);
        c = c
            .wrapping_add(g(d, a, b))
            .wrapping_add(x[i + 8])
            .wrapping_add(K2)
            .rotate_left(9);
        b = b
            .wrapping_add(g(c, d, a))
            .wrapping_add(x[i + 12])
            .wrapping_add(K2)
            .rotate_left(13);
    }
    const K3: u32 = 0x6ed9_eba1;
    for &i in &[0usize, 2, 1, 3] {
        a = a
            .wrapping_add(h(b, c, d))
            .wrapping_add(x[i])
            .wrapping_add(K3)
            .rotate_left(3);
        d = d
            .wrapping_add(h(a, b, c))
            .wrapping_add(x[i + 8])
            .wrapping_add(K3)
            .rotate_left(9);
        c = c
            .wrapping_add(h(d, a, b))
            .wrapping_add(x[i + 4])
            .wrapping_add(K3)
            .rotate_left(11);
        b = b
            .wrapping_add(h(c, d, a))
            .wrapping_add(x[i + 12])
            .wrapping_add(K3)
            .rotate_left(15);
    }
    state[0] = state[0].wrapping_add(a);
    state[1] = state[1].wrapping_add(b);
    state[2] = state[2].wrapping_add(c);
    state[3] = state[3].wrapping_add(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn block(kind: ChecksumKind, seed: i32, proper: bool, data: &[u8]) -> Vec<u8> {
        let mut out = [0u8; 32];
        let n = block_sum(kind, seed, proper, data, &mut out);
        out[..n].to_vec()
    }

    fn std_md4(data: &[u8]) -> Vec<u8> {
        md4::Md4::digest(data).to_vec()
    }

    /// A standard-finalising MD4 built from our own compression function, to
    /// check the compression against RustCrypto.
    fn own_std_md4(data: &[u8]) -> [u8; 16] {
        let mut h = BustedMd4::new();
        h.update(data);
        let mut pad = vec![0x80u8];
        while (data.len() + pad.len()) % 64 != 56 {
            pad.push(0);
        }
        pad.extend_from_slice(&((data.len() as u64) << 3).to_le_bytes());
        h.update(&pad);
        assert_eq!(h.buf_len, 0);
        h.finish()
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 13) as u8).collect()
    }

    #[test]
    fn names_and_lengths() {
        for (n, k, l) in [
            ("xxh128", ChecksumKind::Xxh128, 16),
            ("xxh3", ChecksumKind::Xxh3, 8),
            ("xxh64", ChecksumKind::Xxh64, 8),
            ("md5", ChecksumKind::Md5, 16),
            ("md4", ChecksumKind::Md4, 16),
            ("none", ChecksumKind::None, 1),
        ] {
            assert_eq!(ChecksumKind::from_name(n), Some(k));
            assert_eq!(k.name(), n);
            assert_eq!(k.digest_len(), l);
        }
        assert_eq!(ChecksumKind::from_name("xxhash"), Some(ChecksumKind::Xxh64));
        assert_eq!(ChecksumKind::from_name("sha1"), None);
        assert_eq!(ChecksumKind::Md4Archaic.flist_len(), 2);
        assert_eq!(default_for_protocol(32), ChecksumKind::Md5);
        assert_eq!(default_for_protocol(30), ChecksumKind::Md5);
        assert_eq!(default_for_protocol(29), ChecksumKind::Md4Old);
        assert_eq!(default_for_protocol(27), ChecksumKind::Md4Old);
        assert_eq!(default_for_protocol(26), ChecksumKind::Md4Busted);
        assert_eq!(default_for_protocol(21), ChecksumKind::Md4Busted);
        assert_eq!(default_for_protocol(20), ChecksumKind::Md4Archaic);
    }

    #[test]
    fn known_digests() {
        // RFC 1320 / RFC 1321 test vectors and the xxhash reference values.
        assert_eq!(hex(&std_md4(b"abc")), "a448017aaf21d8525fc10ae87aa6729d");
        assert_eq!(
            hex(&block(ChecksumKind::Md4, 0, true, b"abc")),
            "a448017aaf21d8525fc10ae87aa6729d"
        );
        assert_eq!(
            hex(&block(ChecksumKind::Md5, 0, true, b"abc")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex(&block(ChecksumKind::Md5, 0, false, b"")),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        // XXH64("") = ef46db3751d8e999, XXH3_64("") = 2d06800538d394c2,
        // XXH3_128("") = 99aa06d3014798d86001c324468d497f (canonical, high first).
        assert_eq!(
            hex(&block(ChecksumKind::Xxh64, 0, true, b"")),
            "99e9d85137db46ef"
        );
        assert_eq!(
            hex(&block(ChecksumKind::Xxh3, 0, true, b"")),
            "c294d3380580062d"
        );
        assert_eq!(
            hex(&block(ChecksumKind::Xxh128, 0, true, b"")),
            "7f498d4624c30160d8984701d306aa99"
        );
    }

    #[test]
    fn own_md4_matches_rustcrypto() {
        for n in [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 4096] {
            let d = pattern(n);
            assert_eq!(own_std_md4(&d).to_vec(), std_md4(&d), "len {n}");
        }
    }

    #[test]
    fn busted_md4_quirk() {
        for n in [1usize, 3, 55, 56, 60, 63, 65, 127, 1000] {
            // Not a multiple of 64 and short: identical to standard MD4.
            let d = pattern(n);
            assert_eq!(
                block(ChecksumKind::Md4Busted, 0, true, &d),
                std_md4(&d),
                "len {n}"
            );
        }
        for n in [64usize, 128, 4096] {
            // Multiples of 64: no padding block at all, the raw state.
            let d = pattern(n);
            let mut st = [0x6745_2301u32, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
            for b in d.chunks_exact(64) {
                md4_compress(&mut st, b.try_into().unwrap());
            }
            let raw: Vec<u8> = st.iter().flat_map(|w| w.to_le_bytes()).collect();
            assert_eq!(block(ChecksumKind::Md4Busted, 0, true, &d), raw);
            assert_eq!(block(ChecksumKind::Md4Archaic, 0, true, &d), raw);
            assert_ne!(raw, std_md4(&d));
            assert_eq!(block(ChecksumKind::Md4Old, 0, true, &d), std_md4(&d));
            assert_eq!(file_checksum(ChecksumKind::Md4Busted, &d[..]).unwrap(), raw);
        }
        // The seed counts towards the length: 60 data bytes + 4 seed bytes.
        let d = pattern(60);
        let mut with_seed = d.clone();
        with_seed.extend_from_slice(&7i32.to_le_bytes());
        let mut raw = [0x6745_2301u32, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
        md4_compress(&mut raw, with_seed[..].try_into().unwrap());
        let raw: Vec<u8> = raw.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(block(ChecksumKind::Md4Busted, 7, true, &d), raw);
        // Empty input: the initial state.
        assert_eq!(
            hex(&file_checksum(ChecksumKind::Md4Busted, &b""[..]).unwrap()),
            "0123456789abcdeffedcba9876543210"
        );
        assert_eq!(
            hex(&file_checksum(ChecksumKind::Md4Old, &b""[..]).unwrap()),
            "31d6cfe0d16ae931b73c59d7e0c089c0"
        );
    }

    #[test]
    fn busted_md4_truncates_bit_count() {
        // Build the digest of a 2^29+5 byte input without hashing it: the
        // busted padding stores (len*8) mod 2^32 = 40 and a zero high word.
        let mut h = BustedMd4::new();
        h.total = (1u64 << 29) - 64;
        h.update(&pattern(69));
        let got = h.finish();
        let mut st = [0x6745_2301u32, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
        md4_compress(&mut st, pattern(69)[..64].try_into().unwrap());
        let mut pad = [0u8; 64];
        pad[..5].copy_from_slice(&pattern(69)[64..]);
        pad[5] = 0x80;
        pad[56] = 40;
        md4_compress(&mut st, &pad);
        let want: Vec<u8> = st.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(got.to_vec(), want);
    }

    /// Digests found in batch files written by rsync 3.5.0 with
    /// `--checksum-seed=1` (`--protocol=26` for busted, 29 for old).
    #[test]
    fn upstream_md4_vectors() {
        let pat = |n: u32| -> Vec<u8> { (0..n).map(|i| (i * 37 + 11) as u8).collect() };
        let whole = |k: ChecksumKind, d: &[u8]| {
            let mut s = FileSum::new(k, 1);
            s.update(d);
            let mut out = [0u8; 32];
            let n = s.finish(&mut out);
            hex(&out[..n])
        };
        // 4 seed bytes + 60 data bytes = 64: the busted sum has no padding.
        assert_eq!(
            whole(ChecksumKind::Md4Busted, &pat(60)),
            "7eaadd00d7da36deba5c90842f9b2abc"
        );
        assert_eq!(
            whole(ChecksumKind::Md4Old, &pat(60)),
            "816772f980e0dbbb6fc2d3b0fa00e47b"
        );
        assert_eq!(
            whole(ChecksumKind::Md4Busted, &pat(1000)),
            "182b87c91885088fd7cd1f8e3f6c6ca0"
        );
        // `-c` file-list sums of a 128-byte file.
        let fc = |k: ChecksumKind| hex(&file_checksum(k, &pat(128)[..]).unwrap());
        assert_eq!(
            fc(ChecksumKind::Md4Busted),
            "6829383f9a5a7ccc20f930a588371cfd"
        );
        assert_eq!(fc(ChecksumKind::Md4Old), "30d7ef884bca324048651888e3d5fc58");
    }

    #[test]
    fn seed_placement() {
        let d = pattern(100);
        let seed = 0x0102_0304i32;
        let sb = seed.to_le_bytes();
        let cat = |a: &[u8], b: &[u8]| [a, b].concat();
        for k in [
            ChecksumKind::Md4,
            ChecksumKind::Md4Old,
            ChecksumKind::Md4Busted,
        ] {
            assert_eq!(block(k, seed, true, &d), std_md4(&cat(&d, &sb)));
            assert_eq!(block(k, 0, true, &d), std_md4(&d));
        }
        let md5 = |x: &[u8]| md5::Md5::digest(x).to_vec();
        assert_eq!(block(ChecksumKind::Md5, seed, true, &d), md5(&cat(&sb, &d)));
        assert_eq!(
            block(ChecksumKind::Md5, seed, false, &d),
            md5(&cat(&d, &sb))
        );
        assert_eq!(block(ChecksumKind::Md5, 0, true, &d), md5(&d));
        // xxhash: the seed is the hash seed, sign-extended.
        assert_eq!(
            block(ChecksumKind::Xxh64, -2, true, &d),
            xxh64(&d, (-2i64) as u64).to_le_bytes()
        );
        assert_eq!(
            block(ChecksumKind::Xxh3, -2, true, &d),
            xxh3_64_with_seed(&d, u64::MAX - 1).to_le_bytes()
        );
        let x = xxh3_128_with_seed(&d, 5);
        let mut want = (x as u64).to_le_bytes().to_vec();
        want.extend_from_slice(&((x >> 64) as u64).to_le_bytes());
        assert_eq!(block(ChecksumKind::Xxh128, 5, true, &d), want);
    }

    #[test]
    fn whole_file_sums() {
        let d = pattern(100_003);
        let seed = 1i32;
        let run = |k: ChecksumKind, seed: i32| {
            let mut s = FileSum::new(k, seed);
            for c in d.chunks(777) {
                s.update(c);
            }
            let mut out = [0u8; 32];
            let n = s.finish(&mut out);
            out[..n].to_vec()
        };
        let seeded = [&seed.to_le_bytes()[..], &d].concat();
        assert_eq!(run(ChecksumKind::Md4Old, seed), std_md4(&seeded));
        // The seed bytes are hashed even when the seed is zero.
        assert_eq!(
            run(ChecksumKind::Md4Old, 0),
            std_md4(&[&[0u8; 4][..], &d].concat())
        );
        assert_eq!(run(ChecksumKind::Md4Busted, seed), std_md4(&seeded));
        assert_eq!(run(ChecksumKind::Md4, seed), std_md4(&d));
        assert_eq!(run(ChecksumKind::Md5, seed), md5::Md5::digest(&d).to_vec());
        for k in [
            ChecksumKind::Xxh64,
            ChecksumKind::Xxh3,
            ChecksumKind::Xxh128,
        ] {
            assert_eq!(run(k, seed), block(k, 0, true, &d));
            assert_eq!(file_checksum(k, &d[..]).unwrap(), block(k, 0, true, &d));
        }
        assert_eq!(run(ChecksumKind::None, seed), vec![0]);
        // Busted whole-file sum: seed + 60 bytes = 64, no finalisation.
        let mut s = FileSum::new(ChecksumKind::Md4Busted, 9);
        s.update(&pattern(60));
        let mut out = [0u8; 32];
        assert_eq!(s.finish(&mut out), 16);
        assert_eq!(
            out[..16].to_vec(),
            block(ChecksumKind::Md4Busted, 0, true, &seed_then(9, 60))
        );
        assert_eq!(
            file_checksum(ChecksumKind::Md4Old, &d[..]).unwrap(),
            std_md4(&d)
        );
        assert_eq!(
            file_checksum(ChecksumKind::Md5, &d[..]).unwrap(),
            md5::Md5::digest(&d).to_vec()
        );
        assert!(file_checksum(ChecksumKind::None, &d[..]).is_err());
    }

    fn seed_then(seed: i32, n: usize) -> Vec<u8> {
        [&seed.to_le_bytes()[..], &pattern(n)].concat()
    }
}
