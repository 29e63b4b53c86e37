//! Stand-in (replaced by the full implementation): strong checksums.
use md5::Digest;
use std::io::Read;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumKind {
    Md4Archaic,
    Md4Busted,
    Md4Old,
    Md4,
    Md5,
    Xxh64,
    Xxh3,
    Xxh128,
    None,
}

impl ChecksumKind {
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "xxh128" => Self::Xxh128,
            "xxh3" => Self::Xxh3,
            "xxh64" | "xxhash" => Self::Xxh64,
            "md5" => Self::Md5,
            "md4" => Self::Md4,
            "none" => Self::None,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Xxh128 => "xxh128",
            Self::Xxh3 => "xxh3",
            Self::Xxh64 => "xxh64",
            Self::Md5 => "md5",
            Self::None => "none",
            _ => "md4",
        }
    }
    pub fn digest_len(self) -> usize {
        match self {
            Self::Xxh64 | Self::Xxh3 => 8,
            Self::None => 1,
            _ => 16,
        }
    }
}

pub fn default_for_protocol(p: u32) -> ChecksumKind {
    if p >= 30 {
        ChecksumKind::Md5
    } else if p >= 27 {
        ChecksumKind::Md4Old
    } else {
        ChecksumKind::Md4Busted
    }
}

fn md4(data: &[u8]) -> [u8; 16] {
    let mut h = md4::Md4::new();
    h.update(data);
    h.finalize().into()
}

pub fn block_sum(
    kind: ChecksumKind,
    seed: i32,
    proper: bool,
    data: &[u8],
    out: &mut [u8; 32],
) -> usize {
    let sb = seed.to_le_bytes();
    match kind {
        ChecksumKind::Md5 => {
            let mut h = md5::Md5::new();
            if proper && seed != 0 {
                h.update(sb);
            }
            h.update(data);
            if !proper && seed != 0 {
                h.update(sb);
            }
            out[..16].copy_from_slice(&h.finalize());
            16
        }
        ChecksumKind::Xxh64 => {
            out[..8].copy_from_slice(
                &xxhash_rust::xxh64::xxh64(data, seed as i64 as u64).to_le_bytes(),
            );
            8
        }
        ChecksumKind::Xxh3 => {
            out[..8].copy_from_slice(
                &xxhash_rust::xxh3::xxh3_64_with_seed(data, seed as i64 as u64).to_le_bytes(),
            );
            8
        }
        ChecksumKind::Xxh128 => {
            out[..16].copy_from_slice(
                &xxhash_rust::xxh3::xxh3_128_with_seed(data, seed as i64 as u64).to_le_bytes(),
            );
            16
        }
        ChecksumKind::None => {
            out[0] = 0;
            1
        }
        _ => {
            let mut v = data.to_vec();
            if seed != 0 {
                v.extend_from_slice(&sb);
            }
            out[..16].copy_from_slice(&md4(&v));
            16
        }
    }
}

pub struct FileSum {
    kind: ChecksumKind,
    buf: Vec<u8>,
    seed: i32,
}
impl FileSum {
    pub fn new(kind: ChecksumKind, seed: i32) -> Self {
        FileSum {
            kind,
            buf: Vec::new(),
            seed,
        }
    }
    pub fn update(&mut self, d: &[u8]) {
        self.buf.extend_from_slice(d);
    }
    pub fn finish(&mut self, out: &mut [u8; 32]) -> usize {
        match self.kind {
            ChecksumKind::Md4Old | ChecksumKind::Md4Busted | ChecksumKind::Md4Archaic => {
                let mut v = self.seed.to_le_bytes().to_vec();
                v.extend_from_slice(&self.buf);
                out[..16].copy_from_slice(&md4(&v));
                16
            }
            k => block_sum(k, 0, true, &self.buf, out),
        }
    }
}

pub fn file_checksum(kind: ChecksumKind, mut r: impl Read) -> std::io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    let mut out = [0u8; 32];
    let k = match kind {
        ChecksumKind::Md4Old | ChecksumKind::Md4Busted | ChecksumKind::Md4Archaic => {
            ChecksumKind::Md4
        }
        k => k,
    };
    let n = block_sum(k, 0, true, &v, &mut out);
    Ok(out[..n].to_vec())
}
