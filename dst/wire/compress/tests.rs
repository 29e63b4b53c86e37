//! Round trips through encoder and decoder for every kind, and hostile
//! input. Byte compatibility with real rsync is in tests/real_rsync.rs.

use super::*;

const KINDS: [CompressKind; 5] = [
    CompressKind::None,
    CompressKind::Zlib,
    CompressKind::ZlibX,
    CompressKind::Zstd,
    CompressKind::Lz4,
];

/// One piece of a file as the sender's matcher would see it.
#[derive(Clone)]
enum Piece {
    Lit(Vec<u8>),
    Block(u32),
}

const BLOCK: usize = 700;

fn basis() -> Vec<u8> {
    // Compressible but not trivial, so back-references matter.
    (0..BLOCK * 300)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3] % 17 + b'a')
        .collect()
}

fn block(basis: &[u8], i: u32) -> &[u8] {
    &basis[i as usize * BLOCK..(i as usize + 1) * BLOCK]
}

fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(747_796_405).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn text(n: usize, seed: u32) -> Vec<u8> {
    noise(n, seed)
        .iter()
        .map(|b| b"the quick brown fox "[*b as usize % 20])
        .collect()
}

/// Encode files the way upstream's matcher drives send_token(): literal
/// runs longer than `split` go out early as data-only (-2) calls.
fn encode(kind: CompressKind, level: i32, files: &[Vec<Piece>], split: Option<usize>) -> Vec<u8> {
    let b = basis();
    let mut enc = TokenEncoder::new(kind, level);
    let mut out = Vec::new();
    for f in files {
        let mut lit = Vec::new();
        for p in f {
            match p {
                Piece::Lit(d) => {
                    lit.extend_from_slice(d);
                    if let Some(s) = split {
                        while lit.len() > s {
                            let rest = lit.split_off(s);
                            enc.send_token(&mut out, &lit, -2, &[]).unwrap();
                            lit = rest;
                        }
                    }
                }
                Piece::Block(i) => {
                    enc.send_token(&mut out, &lit, *i as i32, block(&b, *i))
                        .unwrap();
                    lit.clear();
                }
            }
        }
        enc.send_token(&mut out, &lit, -1, &[]).unwrap();
    }
    out
}

fn expected(f: &[Piece]) -> Vec<u8> {
    let b = basis();
    let mut v = Vec::new();
    for p in f {
        match p {
            Piece::Lit(d) => v.extend_from_slice(d),
            Piece::Block(i) => v.extend_from_slice(block(&b, *i)),
        }
    }
    v
}

/// Decode `n` files; also returns the match indexes seen.
fn decode(kind: CompressKind, mut stream: &[u8], n: usize) -> Result<Vec<(Vec<u8>, Vec<u32>)>> {
    let b = basis();
    let mut dec = TokenDecoder::new(kind);
    let mut buf = Vec::new();
    let mut files = Vec::new();
    for _ in 0..n {
        let (mut data, mut idx) = (Vec::new(), Vec::new());
        loop {
            match dec.recv_token(&mut stream, &mut buf)? {
                RecvToken::Literal(len) => {
                    assert!(len > 0 && len == buf.len());
                    data.extend_from_slice(&buf[..len]);
                }
                RecvToken::Match(i) => {
                    let blk = b.get(i as usize * BLOCK..(i as usize + 1) * BLOCK);
                    let blk = blk.ok_or_else(|| Error::protocol("bad block"))?;
                    data.extend_from_slice(blk);
                    dec.see_token(blk)?;
                    idx.push(i);
                }
                RecvToken::End => break,
            }
        }
        files.push((data, idx));
    }
    assert!(stream.is_empty(), "{} bytes left over", stream.len());
    Ok(files)
}

fn roundtrip_with(
    kind: CompressKind,
    level: i32,
    files: &[Vec<Piece>],
    split: Option<usize>,
) -> Vec<u8> {
    let wire = encode(kind, level, files, split);
    let got = decode(kind, &wire, files.len()).unwrap();
    for (f, (data, idx)) in files.iter().zip(&got) {
        assert_eq!(data, &expected(f), "{kind:?} level {level}");
        let want: Vec<u32> = f
            .iter()
            .filter_map(|p| match p {
                Piece::Block(i) => Some(*i),
                _ => None,
            })
            .collect();
        assert_eq!(idx, &want);
    }
    wire
}

fn roundtrip(files: &[Vec<Piece>]) {
    for kind in KINDS {
        let level = effective_level(kind, None);
        roundtrip_with(kind, level, files, None);
        roundtrip_with(kind, level, files, Some(CHUNK_SIZE));
    }
}

use Piece::{Block, Lit};

#[test]
fn literal_only() {
    roundtrip(&[vec![Lit(text(5000, 1))]]);
}

#[test]
fn empty_files() {
    roundtrip(&[vec![], vec![], vec![Lit(b"x".to_vec())], vec![]]);
}

#[test]
fn match_only_and_long_runs() {
    let run: Vec<Piece> = (0..300).map(Block).collect();
    roundtrip(&[run.clone(), vec![Block(5)], run]);
}

#[test]
fn runs_broken_by_literals_and_jumps() {
    let f = vec![
        Block(0),
        Block(1),
        Block(2),
        Lit(text(10, 2)),
        Block(3),
        Block(4),
        Block(200), // relative jump > 63: absolute form
        Block(201),
        Block(100), // backwards: absolute form
        Block(100), // repeated block
        Block(164), // exactly +63 from 101? no: relative to the last run end
        Lit(noise(100, 3)),
        Lit(text(3000, 4)),
        Block(7),
    ];
    roundtrip(&[f]);
}

#[test]
fn literals_referring_to_matched_data() {
    // zlib's history feeding pays off here: the literal repeats block 3.
    let b = basis();
    let f = vec![Block(3), Lit(block(&b, 3).to_vec()), Lit(text(100, 9))];
    roundtrip(std::slice::from_ref(&f));
    let zlib = encode(CompressKind::Zlib, 6, std::slice::from_ref(&f), None);
    let zlibx = encode(CompressKind::ZlibX, 6, &[f], None);
    assert!(
        zlib.len() + 150 < zlibx.len(),
        "{} vs {}",
        zlib.len(),
        zlibx.len()
    );
}

#[test]
fn big_literals() {
    roundtrip(&[vec![
        Lit(noise(200_000, 5)),
        Block(1),
        Lit(text(150_000, 6)),
    ]]);
}

#[test]
fn run_length_limit() {
    // More than 65536 consecutive blocks must be cut into several runs.
    // Use a tiny block count modulo the basis: indexes only, data unused.
    let mut enc = TokenEncoder::new(CompressKind::ZlibX, 6);
    let mut out = Vec::new();
    for i in 0..70_000 {
        enc.send_token(&mut out, &[], i, &[]).unwrap();
    }
    enc.send_token(&mut out, &[], -1, &[]).unwrap();
    // First run: 0xC0 (rel 0), n = 65535; second run starts at 65536 = last + 1.
    assert_eq!(&out[..3], &[0xc0, 0xff, 0xff]);
    assert_eq!(
        &out[3..6],
        &[
            0xc1,
            (70_000 - 65_536 - 1) as u8,
            ((70_000 - 65_536 - 1) >> 8) as u8
        ]
    );
    assert_eq!(&out[6..], &[0]);
    let mut dec = TokenDecoder::new(CompressKind::ZlibX);
    let mut r = &out[..];
    let mut buf = Vec::new();
    for i in 0..70_000u32 {
        assert_eq!(
            dec.recv_token(&mut r, &mut buf).unwrap(),
            RecvToken::Match(i)
        );
    }
    assert_eq!(dec.recv_token(&mut r, &mut buf).unwrap(), RecvToken::End);
}

#[test]
fn many_files_reset_state() {
    let files: Vec<Vec<Piece>> = (0..40)
        .map(|i| {
            vec![
                Lit(text(50 + i * 37, i as u32)),
                Block(i as u32),
                Lit(text(20, 99)),
            ]
        })
        .collect();
    roundtrip(&files);
    // Per-file reset for zlib: the same file sent twice codes identically.
    let one = vec![Block(2), Lit(text(4000, 7))];
    let w1 = encode(CompressKind::Zlib, 6, std::slice::from_ref(&one), None);
    let w2 = encode(CompressKind::Zlib, 6, &[one.clone(), one], None);
    assert_eq!(&w2[..w1.len()], &w1[..]);
    assert_eq!(&w2[w1.len()..], &w1[..]);
}

#[test]
fn plain_kind_matches_uncompressed_format() {
    let f = vec![Lit(vec![9; 100_000]), Block(0), Block(7)];
    let wire = encode(CompressKind::None, 0, &[f], None);
    let mut want = Vec::new();
    for n in [32768, 32768, 32768, 1696] {
        want.extend_from_slice(&(n as i32).to_le_bytes());
        want.extend(std::iter::repeat_n(9u8, n));
    }
    for t in [-1i32, -8, 0] {
        want.extend_from_slice(&t.to_le_bytes());
    }
    assert_eq!(wire, want);
}

#[test]
fn zlib_framing_details() {
    // Literal "abc" then block 0 then end.
    let mut enc = TokenEncoder::new(CompressKind::Zlib, 6);
    let mut out = Vec::new();
    enc.send_token(&mut out, b"abc", 0, b"xyz").unwrap();
    enc.send_token(&mut out, &[], -1, &[]).unwrap();
    // DATA frame, then TOKEN_REL+0, then END; no 00 00 ff ff on the wire.
    assert_eq!(out[0] & 0xc0, 0x40);
    let n = ((out[0] as usize & 0x3f) << 8) | out[1] as usize;
    assert_eq!(&out[2 + n..], &[0x80, 0x00]);
    assert!(!out[2..2 + n].ends_with(&[0, 0, 0xff, 0xff]));
}

#[test]
fn levels() {
    use CompressKind::{Lz4, Zlib, ZlibX, Zstd};
    assert_eq!(effective_level(Zlib, None), 6);
    assert_eq!(effective_level(Zlib, Some(-1)), 6);
    assert_eq!(effective_level(Zlib, Some(-7)), 1);
    assert_eq!(effective_level(ZlibX, Some(12)), 9);
    assert_eq!(effective_kind(Zlib, Some(0)), CompressKind::None);
    assert_eq!(effective_kind(Zstd, Some(0)), Zstd);
    assert_eq!(effective_level(Zstd, Some(0)), 3);
    assert_eq!(effective_level(Zstd, Some(99)), 22);
    assert_eq!(effective_level(Zstd, Some(-5)), -5);
    assert_eq!(effective_level(Zstd, Some(i32::MIN + 1)), ZSTD_MIN_LEVEL);
    assert_eq!(effective_level(Lz4, Some(5)), 0);
    for k in KINDS {
        assert_eq!(CompressKind::from_name(k.name()), Some(k));
    }
    assert_eq!(CompressKind::from_name("ZLIB"), Some(CompressKind::Zlib));
    assert_eq!(CompressKind::from_name("auto"), None);
    assert_eq!(default_compress_list(), "zstd lz4 zlibx zlib none");
}

#[test]
fn level_zero_and_skip_compress_files() {
    let files = vec![
        vec![Lit(text(20_000, 1)), Block(4)],
        vec![Lit(text(20_000, 2))],
        vec![Block(1), Lit(text(20_000, 3))],
    ];
    for kind in KINDS {
        // Session level 0 (stored blocks for zlib, the "dont compress = *" case).
        roundtrip_with(kind, 0, &files, None);
        roundtrip_with(kind, effective_level(kind, Some(-3)), &files, None);
        // Per-file override on the middle file only.
        let b = basis();
        let mut enc = TokenEncoder::new(kind, effective_level(kind, None));
        let mut out = Vec::new();
        let mut sizes = Vec::new();
        for (i, f) in files.iter().enumerate() {
            if i == 1 {
                enc.set_file_level(0);
            }
            let start = out.len();
            let mut lit = Vec::new();
            for p in f {
                match p {
                    Lit(d) => lit.extend_from_slice(d),
                    Block(k) => {
                        enc.send_token(&mut out, &lit, *k as i32, block(&b, *k))
                            .unwrap();
                        lit.clear();
                    }
                }
            }
            enc.send_token(&mut out, &lit, -1, &[]).unwrap();
            sizes.push(out.len() - start);
        }
        let got = decode(kind, &out, files.len()).unwrap();
        for (f, (data, _)) in files.iter().zip(&got) {
            assert_eq!(data, &expected(f));
        }
        if matches!(kind, CompressKind::Zlib | CompressKind::ZlibX) {
            assert!(sizes[1] > 20_000, "level 0 stores: {sizes:?}");
            assert!(sizes[2] < 15_000, "level back to default: {sizes:?}");
        }
    }
}

#[test]
fn protocol_30_long_block_quirk() {
    // Blocks longer than 0xFFFF: both sides must agree on the history.
    let big = text(100_000, 11);
    for proto in [30, 31] {
        let mut enc = TokenEncoder::new(CompressKind::Zlib, 6);
        enc.set_protocol(proto);
        let mut out = Vec::new();
        enc.send_token(&mut out, b"hdr", 0, &big).unwrap();
        let tail = big[70_000..90_000].to_vec();
        enc.send_token(&mut out, &tail, -1, &[]).unwrap();
        let mut dec = TokenDecoder::new(CompressKind::Zlib);
        dec.set_protocol(proto);
        let mut r = &out[..];
        let mut buf = Vec::new();
        let mut data = Vec::new();
        loop {
            match dec.recv_token(&mut r, &mut buf).unwrap() {
                RecvToken::Literal(n) => data.extend_from_slice(&buf[..n]),
                RecvToken::Match(_) => {
                    data.extend_from_slice(&big);
                    dec.see_token(&big).unwrap();
                }
                RecvToken::End => break,
            }
        }
        let mut want = b"hdr".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(&tail);
        assert_eq!(data, want, "protocol {proto}");
    }
}

// ---- hostile input ----

fn drain(kind: CompressKind, mut stream: &[u8]) -> Result<()> {
    let mut dec = TokenDecoder::new(kind);
    let mut buf = Vec::new();
    let mut total = 0usize;
    loop {
        match dec.recv_token(&mut stream, &mut buf)? {
            RecvToken::Literal(n) => {
                assert!(n <= 1 << 24);
                total += n;
            }
            RecvToken::Match(_) => {
                dec.see_token(&[7u8; 100])?;
            }
            RecvToken::End => {}
        }
        // Random input cannot legitimately go on for long.
        if total > 1 << 26 {
            return Ok(());
        }
    }
}

#[test]
fn truncated_streams_error() {
    let files = vec![vec![
        Lit(text(40_000, 1)),
        Block(2),
        Block(3),
        Lit(noise(5000, 2)),
        Block(9),
    ]];
    for kind in KINDS {
        let wire = encode(kind, effective_level(kind, None), &files, None);
        for cut in (0..wire.len()).step_by(97).chain([wire.len() - 1]) {
            // drain() keeps reading past the file's end, so every prefix,
            // complete or not, must end in an error rather than a panic.
            assert!(drain(kind, &wire[..cut]).is_err(), "{kind:?} cut {cut}");
        }
    }
}

#[test]
fn bad_flags_and_tokens() {
    for kind in &KINDS[1..] {
        for flag in [0x01u8, 0x1f, 0x22, 0x3f] {
            let e = drain(*kind, &[flag, 0, 0, 0, 0]).unwrap_err();
            assert_eq!(e.code.0, 2, "{kind:?} {flag:#x}: {}", e.msg);
        }
        // Negative / huge absolute tokens, zero-length runs, overflowing runs.
        for bad in [
            vec![0x20, 0xff, 0xff, 0xff, 0xff],
            vec![0x20, 0xff, 0xff, 0xff, 0x7f],
            vec![0x21, 0, 0, 0, 0, 0, 0],
            vec![0x21, 0xf0, 0xff, 0xff, 0x7f, 0xff, 0xff],
            vec![0xc0, 0, 0],
        ] {
            let e = drain(*kind, &bad).unwrap_err();
            assert_eq!(e.code.0, 2, "{kind:?} {bad:?}: {}", e.msg);
        }
        // A 16383-byte data frame that is garbage.
        let mut g = vec![0x7f, 0xff];
        g.extend(noise(16383, 4));
        g.push(0);
        assert!(drain(*kind, &g).is_err());
    }
    // Plain: oversized literal lengths.
    let e = drain(CompressKind::None, &i32::MAX.to_le_bytes()).unwrap_err();
    assert_eq!(e.code.0, 2);
}

#[test]
fn random_bytes_never_panic() {
    for kind in KINDS {
        for seed in 0..300 {
            let len = (seed as usize * 37) % 3000;
            let mut junk = noise(len, seed);
            // Make some of them start with a plausible data frame.
            if seed % 2 == 0 && len > 2 {
                junk[0] = 0x40 | (junk[0] & 0x0f);
            }
            let _ = drain(kind, &junk);
        }
    }
}

#[test]
fn decompression_bomb_is_chunked() {
    // A small zlib frame that inflates to a lot: output must come in
    // bounded pieces, never all at once.
    let mut enc = TokenEncoder::new(CompressKind::ZlibX, 9);
    let mut out = Vec::new();
    enc.send_token(&mut out, &vec![0u8; 4 << 20], -1, &[])
        .unwrap();
    assert!(out.len() < 10_000);
    let mut dec = TokenDecoder::new(CompressKind::ZlibX);
    let mut r = &out[..];
    let mut buf = Vec::new();
    let mut total = 0;
    while let RecvToken::Literal(n) = dec.recv_token(&mut r, &mut buf).unwrap() {
        assert!(n <= 64 * 1024);
        total += n;
    }
    assert_eq!(total, 4 << 20);
}
