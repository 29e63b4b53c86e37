//! The sender's block matcher (upstream: match.c match_sums(),
//! build_hash_table(), hash_search(), matched()).
//!
//! Receivers accept any valid token sequence, but this reproduces upstream's
//! exact output (same tokens, same literal chunking, same Literal/Matched
//! statistics) so transfers look identical on the wire and in `--stats`.
//! See rsync-protocol-map.md section 8.3.
//!
//! With `updating_basis` (the receiver rewrites its basis in place:
//! `--inplace`, `--append` redo) the in-place rules apply: candidates whose
//! basis offset lies before the current offset leave their hash chain unless
//! they were matched at their own offset, the block-aligned match is
//! preferred over `want_i`, and runs of zero bytes re-align to the aligned
//! block, so the receiver never reads basis data it has already overwritten.

use super::rolling::Rolling;
use super::signature::{block_len, BlockSum, SumHead};
use crate::checksum::{block_sum, ChecksumKind};
use std::io::{self, Read};

/// Largest literal run behind one length (CHUNK_SIZE); also the backlog size
/// beyond a block length at which unmatched data is flushed early.
pub const CHUNK_SIZE: usize = 32 * 1024;
/// Candidates with an equal weak sum examined per offset before the offset
/// is given up as unmatched (MAX_CHAIN_LEN, the fix for quadratic scans).
pub const MAX_CHAIN_LEN: u32 = 1024;
/// Hash table size used unless the block count calls for a bigger one.
const TRADITIONAL_TABLESIZE: u32 = 1 << 16;

/// One unit of the token stream, borrowing from the new file's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// Literal bytes, at most [`CHUNK_SIZE`] per token.
    Literal(&'a [u8]),
    /// Basis block `block` matches `len` bytes of the new data at `offset`;
    /// `data` are those bytes (for the whole-file checksum).
    Match {
        block: u32,
        offset: u64,
        len: u32,
        data: &'a [u8],
    },
}

/// The new file seen through a bounded window (upstream map_file() /
/// map_ptr()): only the bytes from the last emitted token up to the current
/// search window are held, so memory does not grow with the file.
pub struct Window<'r> {
    src: Option<&'r mut dyn Read>,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    base: usize,
    /// Length the file had when it was opened: what gets sent.
    len: usize,
    /// The file came up short or failed to read; zeros stand in (as
    /// upstream's map_ptr() does) and the caller must spoil the checksum.
    pub read_error: bool,
}

/// How much to read at a time when the window needs more data.
const READ_CHUNK: usize = 1 << 20;

impl<'r> Window<'r> {
    /// A window over data already in memory.
    pub fn from_slice(data: &[u8]) -> Window<'static> {
        Window {
            src: None,
            buf: data.to_vec(),
            base: 0,
            len: data.len(),
            read_error: false,
        }
    }

    /// A window over `len` bytes read from `src`.
    pub fn from_reader(src: &'r mut dyn Read, len: u64) -> Window<'r> {
        Window {
            src: Some(src),
            buf: Vec::new(),
            base: 0,
            len: len as usize,
            read_error: false,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Make `[.., end)` available, dropping what lies before `keep`.
    #[inline]
    fn ensure(&mut self, end: usize, keep: usize) {
        if end > self.base + self.buf.len() {
            self.fill(end, keep);
        }
    }

    #[cold]
    fn fill(&mut self, end: usize, keep: usize) {
        let drop = keep.saturating_sub(self.base).min(self.buf.len());
        if drop > 0 {
            self.buf.drain(..drop);
            self.base += drop;
        }
        let want = (end.max(self.base + self.buf.len() + READ_CHUNK)).min(self.len) - self.base;
        let have = self.buf.len();
        if want <= have {
            return;
        }
        self.buf.resize(want, 0);
        let mut got = have;
        if let Some(src) = self.src.as_mut() {
            while got < want {
                match src.read(&mut self.buf[got..want]) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        if got < want {
            // Short file: zeros fill the rest of the announced length.
            self.buf[got..want].iter_mut().for_each(|b| *b = 0);
            self.read_error = true;
        }
    }

    #[inline]
    fn slice(&self, start: usize, end: usize) -> &[u8] {
        &self.buf[start - self.base..end - self.base]
    }

    #[inline]
    fn byte(&self, at: usize) -> u8 {
        self.buf[at - self.base]
    }
}

/// Byte counts behind `--stats` "Literal data" and "Matched data".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchStats {
    pub literal: u64,
    pub matched: u64,
    /// Block matches (match.c `matches`).
    pub matches: u64,
    /// Offsets whose weak sum hit a non-empty hash bucket (`hash_hits`).
    pub hash_hits: u64,
    /// Weak-sum matches the strong sum refuted (`false_alarms`).
    pub false_alarms: u64,
}

/// Emission state: everything before `last_match` has been sent.
struct Out<'w, 'r, 'e> {
    win: &'w mut Window<'r>,
    last_match: usize,
    stats: MatchStats,
    emit: &'e mut dyn FnMut(Token) -> io::Result<()>,
}

impl Out<'_, '_, '_> {
    /// Send the pending data up to `upto` as literal chunks.
    fn literal_to(&mut self, upto: usize) -> io::Result<()> {
        let mut at = self.last_match;
        while at < upto {
            let end = (at + CHUNK_SIZE).min(upto);
            self.win.ensure(end, at);
            (self.emit)(Token::Literal(self.win.slice(at, end)))?;
            at = end;
        }
        self.stats.literal += (upto - self.last_match) as u64;
        self.last_match = upto;
        Ok(())
    }

    fn block_at(&mut self, offset: usize, block: usize, len: usize) -> io::Result<()> {
        self.literal_to(offset)?;
        self.win.ensure(offset + len, offset);
        (self.emit)(Token::Match {
            block: block as u32,
            offset: offset as u64,
            len: len as u32,
            data: self.win.slice(offset, offset + len),
        })?;
        self.stats.matched += len as u64;
        self.last_match = offset + len;
        Ok(())
    }
}

/// Hash chains over the block sums, built so that a bucket lists its blocks
/// from the highest index down (build_hash_table() pushes at the head).
struct Table {
    size: u32,
    heads: Vec<i32>,
    next: Vec<i32>,
}

impl Table {
    fn new(sums: &[BlockSum]) -> Self {
        // Aim for a load of about 80% on big files; a size above the
        // traditional one is odd so the modulus spreads over all buckets.
        let size = ((sums.len() / 8) as u32).wrapping_mul(10).wrapping_add(11);
        let size = size.max(TRADITIONAL_TABLESIZE);
        let mut t = Table {
            size,
            heads: vec![-1; size as usize],
            next: vec![-1; sums.len()],
        };
        for (i, s) in sums.iter().enumerate() {
            let h = t.bucket(s.sum1);
            t.next[i] = t.heads[h];
            t.heads[h] = i as i32;
        }
        t
    }

    #[inline(always)]
    fn bucket(&self, sum: u32) -> usize {
        if self.size == TRADITIONAL_TABLESIZE {
            ((sum & 0xffff).wrapping_add(sum >> 16) & 0xffff) as usize
        } else {
            (sum % self.size) as usize
        }
    }
}

/// Match `data` (the new file) against the basis block `sums` described by
/// `head`, emitting tokens in file order. The caller writes the end token and
/// computes the whole-file checksum (over every byte of `data`, literal and
/// matched alike). `kind`, `seed` and `proper_seed_order` must be those the
/// generator used for the strong sums. With `head.count == 0` (or empty
/// data) everything is literal.
pub fn match_sums(
    data: &[u8],
    head: &SumHead,
    sums: &[BlockSum],
    kind: ChecksumKind,
    seed: i32,
    proper_seed_order: bool,
    emit: &mut dyn FnMut(Token) -> io::Result<()>,
) -> io::Result<MatchStats> {
    let mut win = Window::from_slice(data);
    match_window(
        &mut win,
        head,
        sums,
        kind,
        seed,
        proper_seed_order,
        false,
        emit,
    )
}

/// [`match_sums`] over a [`Window`], for files read as they are matched.
#[allow(clippy::too_many_arguments)]
pub fn match_window(
    win: &mut Window,
    head: &SumHead,
    sums: &[BlockSum],
    kind: ChecksumKind,
    seed: i32,
    proper_seed_order: bool,
    updating_basis: bool,
    emit: &mut dyn FnMut(Token) -> io::Result<()>,
) -> io::Result<MatchStats> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    if head.count < 0 || sums.len() != head.count as usize {
        return Err(bad("block sum count does not match the sum head"));
    }
    if head.count > 0 {
        if head.blength <= 0 {
            return Err(bad("invalid zero block length"));
        }
        if !(0..=16).contains(&head.s2length) || !(0..=head.blength).contains(&head.remainder) {
            return Err(bad("invalid sum head"));
        }
    }
    let len = win.len();
    let mut out = Out {
        win,
        last_match: 0,
        stats: MatchStats::default(),
        emit,
    };
    if head.count > 0 && len > 0 {
        hash_search(
            &mut out,
            head,
            sums,
            kind,
            seed,
            proper_seed_order,
            updating_basis,
        )?;
    }
    out.literal_to(len)?;
    Ok(out.stats)
}

#[allow(clippy::too_many_arguments)]
fn hash_search(
    out: &mut Out,
    head: &SumHead,
    sums: &[BlockSum],
    kind: ChecksumKind,
    seed: i32,
    proper_seed_order: bool,
    updating: bool,
) -> io::Result<()> {
    let len = out.win.len();
    let count = sums.len();
    let blength = head.blength as usize;
    let s2length = head.s2length as usize;
    let mut table = Table::new(sums);
    let blen = |i: usize| block_len(head, i);
    // In-place: blocks seen unchanged at their own offset (SUMFLG_SAME_OFFSET).
    let mut same_offset = if updating {
        vec![false; count]
    } else {
        Vec::new()
    };
    let (mut aligned_offset, mut aligned_i) = (0usize, 0usize);

    // Offsets at or past `end` cannot hold even the (possibly short) last
    // block. The first offset is examined regardless, as upstream does.
    let end = len as i64 + 1 - blen(count - 1) as i64;
    let mut offset = 0usize;
    let mut k = blength.min(len);
    out.win.ensure(k, 0);
    let mut roll = Rolling::new(out.win.slice(0, k));
    // The block after the previous match: preferred to get runs of
    // consecutive block tokens, which compressed streams encode compactly.
    let mut want_i = 0usize;
    let mut strong = [0u8; 32];

    loop {
        let mut sum = roll.value();
        let mut found = None;
        let bucket = table.bucket(sum);
        let mut cand = table.heads[bucket];
        if cand >= 0 {
            out.stats.hash_hits += 1;
            let mut chain_len = 0u32;
            let mut have_strong = false;
            let l = blength.min(len - offset);
            // The link that points at `cand`: the bucket head or a block.
            let mut prev: Option<usize> = None;
            while cand >= 0 {
                let mut i = cand as usize;
                cand = table.next[i];
                if updating && i * blength < offset && !same_offset[i] {
                    // Never usable again: the receiver has written past it.
                    match prev {
                        None => table.heads[bucket] = cand,
                        Some(p) => table.next[p] = cand,
                    }
                    continue;
                }
                prev = Some(i);
                if sums[i].sum1 != sum {
                    continue;
                }
                chain_len += 1;
                if chain_len > MAX_CHAIN_LEN {
                    break;
                }
                // A short last block can only match the very end of the data.
                if blen(i) != l {
                    continue;
                }
                if !have_strong {
                    block_sum(
                        kind,
                        seed,
                        proper_seed_order,
                        out.win.slice(offset, offset + l),
                        &mut strong,
                    );
                    have_strong = true;
                }
                if strong[..s2length] != sums[i].sum2[..s2length] {
                    out.stats.false_alarms += 1;
                    continue;
                }
                if updating {
                    // The best match in place is the block at this very
                    // offset (generator blocks start at blength multiples).
                    while aligned_offset < offset {
                        aligned_offset += blength;
                        aligned_i += 1;
                    }
                    let zero_run = sum == 0 && l == blength && aligned_offset + l <= len;
                    'aligned: {
                        if !((offset == aligned_offset || zero_run) && aligned_i < count) {
                            break 'aligned;
                        }
                        if i != aligned_i {
                            if sum != sums[aligned_i].sum1
                                || l != blen(aligned_i)
                                || strong[..s2length] != sums[aligned_i].sum2[..s2length]
                            {
                                break 'aligned;
                            }
                            i = aligned_i;
                        }
                        if offset != aligned_offset {
                            // Zeros here are zeros further on in the basis
                            // too: send literals up to the aligned block so
                            // the receiver gets back to seeking.
                            out.win
                                .ensure(aligned_offset + l, out.last_match.min(aligned_offset));
                            let data = out.win.slice(aligned_offset, aligned_offset + l);
                            sum = crate::delta::rolling::checksum1(data);
                            if sum != sums[i].sum1 {
                                break 'aligned;
                            }
                            block_sum(kind, seed, proper_seed_order, data, &mut strong);
                            if strong[..s2length] != sums[i].sum2[..s2length] {
                                break 'aligned;
                            }
                            offset = aligned_offset;
                        }
                        same_offset[i] = true;
                        want_i = i;
                    }
                }
                let adjacent = want_i != i
                    && want_i < count
                    && (!updating || want_i * blength >= offset || same_offset[want_i])
                    && sums[want_i].sum1 == sum
                    && blen(want_i) == l
                    && strong[..s2length] == sums[want_i].sum2[..s2length];
                found = Some(if adjacent { want_i } else { i });
                break;
            }
        }

        if let Some(i) = found {
            let l = blen(i);
            want_i = i + 1;
            out.stats.matches += 1;
            out.block_at(offset, i, l)?;
            // Matches never overlap: the next window starts after this one.
            offset += l;
            if offset as i64 >= end {
                break;
            }
            k = blength.min(len - offset);
            out.win.ensure(offset + k, out.last_match);
            roll = Rolling::new(out.win.slice(offset, offset + k));
            continue;
        }

        let backlog = offset - out.last_match;
        if offset + k < len {
            out.win.ensure(offset + k + 1, out.last_match);
            roll.roll(out.win.byte(offset), out.win.byte(offset + k));
        } else {
            roll.shrink(out.win.byte(offset));
            k -= 1;
        }
        // Flush a long unmatched run early so the data is read only once
        // more; it stops a block length short of the window.
        if backlog >= blength + CHUNK_SIZE && end - offset as i64 > CHUNK_SIZE as i64 {
            out.literal_to(offset - blength)?;
        }
        offset += 1;
        if offset as i64 >= end {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::signature::{generate_sums, sum_sizes_sqroot};

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    struct Run {
        tokens: Vec<(Option<u32>, u64, usize)>, // (block, offset, len); None = literal
        out: Vec<u8>,
        stats: MatchStats,
    }

    /// Match `new` against `basis` and rebuild the new file from the tokens
    /// the way a receiver would.
    fn run(basis: &[u8], new: &[u8], block: Option<u32>, kind: ChecksumKind) -> Run {
        let head = if basis.is_empty() {
            SumHead::default()
        } else {
            sum_sizes_sqroot(basis.len() as i64, block, 32, kind.digest_len(), false)
        };
        let sums = generate_sums(basis, &head, kind, 77, true);
        let mut tokens = Vec::new();
        let mut out = Vec::new();
        let mut pos = 0u64;
        let stats = match_sums(new, &head, &sums, kind, 77, true, &mut |t| {
            match t {
                Token::Literal(d) => {
                    assert!(!d.is_empty() && d.len() <= CHUNK_SIZE);
                    tokens.push((None, pos, d.len()));
                    out.extend_from_slice(d);
                    pos += d.len() as u64;
                }
                Token::Match {
                    block, offset, len, ..
                } => {
                    assert_eq!(offset, pos);
                    let b = block as usize;
                    assert_eq!(len as usize, block_len(&head, b));
                    let start = b * head.blength as usize;
                    out.extend_from_slice(&basis[start..start + len as usize]);
                    tokens.push((Some(block), offset, len as usize));
                    pos += len as u64;
                }
            }
            Ok(())
        })
        .unwrap();
        Run { tokens, out, stats }
    }

    #[test]
    fn no_sums_is_all_literal() {
        let mut rng = Rng(1);
        let new = rng.bytes(100_000);
        let r = run(&[], &new, None, ChecksumKind::Md5);
        assert_eq!(r.out, new);
        let lens: Vec<usize> = r.tokens.iter().map(|t| t.2).collect();
        // As captured from upstream for a 100000-byte whole-file transfer.
        assert_eq!(lens, [32768, 32768, 32768, 1696]);
        assert_eq!((r.stats.literal, r.stats.matched), (100_000, 0));
        let r = run(&new, &[], None, ChecksumKind::Md5);
        assert!(r.tokens.is_empty());
    }

    #[test]
    fn unchanged_file_is_all_matches() {
        let mut rng = Rng(2);
        for n in [1, 699, 700, 701, 1400, 999_037] {
            let d = rng.bytes(n);
            let r = run(&d, &d, None, ChecksumKind::Xxh128);
            assert_eq!(r.out, d);
            assert!(r.tokens.iter().all(|t| t.0.is_some()), "len {n}");
            let blocks: Vec<u32> = r.tokens.iter().map(|t| t.0.unwrap()).collect();
            assert_eq!(blocks, (0..blocks.len() as u32).collect::<Vec<_>>());
            assert_eq!((r.stats.literal, r.stats.matched), (0, n as u64));
        }
    }

    #[test]
    fn appended_file_is_matches_then_literal() {
        let mut rng = Rng(3);
        let basis = rng.bytes(7000);
        let mut new = basis.clone();
        new.extend_from_slice(&rng.bytes(1234));
        let r = run(&basis, &new, None, ChecksumKind::Md5);
        assert_eq!(r.out, new);
        assert_eq!(r.tokens.len(), 11);
        assert!(r.tokens[..10].iter().all(|t| t.0.is_some()));
        assert_eq!(r.tokens[10], (None, 7000, 1234));
        assert_eq!((r.stats.literal, r.stats.matched), (1234, 7000));
    }

    #[test]
    fn short_last_block_only_matches_at_the_end() {
        let mut rng = Rng(4);
        let basis = rng.bytes(750); // blocks of 700 and 50
        let tail = basis[700..].to_vec();
        let mut new = tail.clone();
        new.extend_from_slice(&rng.bytes(100));
        new.extend_from_slice(&tail);
        let r = run(&basis, &new, None, ChecksumKind::Md5);
        assert_eq!(r.out, new);
        assert_eq!(r.stats.matched, 50);
        assert_eq!(r.tokens.last().unwrap(), &(Some(1), 150, 50));
    }

    #[test]
    fn long_literal_runs_are_flushed_in_chunks() {
        let mut rng = Rng(5);
        let basis = rng.bytes(70_000);
        let mut new = rng.bytes(200_000);
        new.extend_from_slice(&basis[..700]);
        let r = run(&basis, &new, None, ChecksumKind::Md5);
        assert_eq!(r.out, new);
        assert!(r.tokens.iter().all(|t| t.2 <= CHUNK_SIZE));
        assert_eq!(r.tokens.last().unwrap().0, Some(0));
        assert_eq!((r.stats.literal, r.stats.matched), (200_000, 700));
    }

    #[test]
    fn prefers_the_adjacent_block() {
        // All blocks identical: without want_i every match would pick the
        // highest index; with it the run is 0, 1, 2, ...
        let basis = vec![b'x'; 7000];
        let r = run(&basis, &basis, None, ChecksumKind::Md5);
        let blocks: Vec<u32> = r.tokens.iter().map(|t| t.0.unwrap()).collect();
        assert_eq!(blocks, (0..10).collect::<Vec<_>>());
        // A longer new file runs past the last block: the chain restarts at
        // the highest index, and want_i then points past the end.
        let r = run(&basis, &vec![b'x'; 9100], None, ChecksumKind::Md5);
        let blocks: Vec<u32> = r.tokens.iter().map(|t| t.0.unwrap()).collect();
        assert_eq!(blocks, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9]);
    }

    #[test]
    fn chain_cap_gives_up_on_huge_buckets() {
        // 2000 blocks with the same weak sum but different strong sums: the
        // block we want is the lowest index, visited last, beyond the cap.
        let bl = 16usize;
        let basis = Rng(7).bytes(2000 * bl);
        let head = sum_sizes_sqroot(basis.len() as i64, Some(bl as u32), 32, 16, false);
        let mut sums = generate_sums(&basis, &head, ChecksumKind::Md5, 0, true);
        let mut try_block = |idx: usize| {
            let new = &basis[idx * bl..(idx + 1) * bl];
            // Give every block the weak sum of the wanted one.
            let weak = crate::delta::rolling::checksum1(new);
            for s in sums.iter_mut() {
                s.sum1 = weak;
            }
            let mut matched = Vec::new();
            let stats = match_sums(new, &head, &sums, ChecksumKind::Md5, 0, true, &mut |t| {
                if let Token::Match { block, .. } = t {
                    matched.push(block);
                }
                Ok(())
            })
            .unwrap();
            (matched, (stats.literal, stats.matched))
        };
        // Candidates are visited from index 1999 down: 976 is the 1024th.
        let cut = 2000 - MAX_CHAIN_LEN as usize;
        assert_eq!(try_block(cut), (vec![cut as u32], (0, 16)));
        assert_eq!(try_block(cut - 1), (vec![], (16, 0)));
        assert_eq!(try_block(0), (vec![], (16, 0)));
        assert_eq!(try_block(1999).0, vec![1999]);
    }

    #[test]
    fn big_table_mode() {
        // More than 52428 blocks switches to the odd-sized modulo table.
        let mut rng = Rng(6);
        let basis = rng.bytes(60_000 * 8);
        let mut new = basis.clone();
        new[12345] ^= 1;
        new.splice(300_000..300_000, rng.bytes(3));
        let r = run(&basis, &new, Some(8), ChecksumKind::Xxh3);
        assert_eq!(r.out, new);
        // One damaged block plus the insertion (made at a block boundary).
        assert_eq!(r.stats.literal, 8 + 3);
    }

    #[test]
    fn random_edits_round_trip() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let kinds = [
            ChecksumKind::Md4Old,
            ChecksumKind::Md4Busted,
            ChecksumKind::Md5,
            ChecksumKind::Xxh64,
            ChecksumKind::Xxh3,
            ChecksumKind::Xxh128,
        ];
        for round in 0..60 {
            let n = rng.below(60_000) + 1;
            // Low-entropy data makes weak-sum collisions and repeats common.
            let basis: Vec<u8> = if round % 3 == 0 {
                (0..n).map(|_| b"ab"[rng.below(2)]).collect()
            } else {
                rng.bytes(n)
            };
            let mut new = basis.clone();
            for _ in 0..rng.below(8) {
                let at = rng.below(new.len() + 1);
                match rng.below(3) {
                    0 => {
                        let n = rng.below(2000);
                        let ins = rng.bytes(n);
                        new.splice(at..at, ins);
                    }
                    1 => {
                        let to = (at + rng.below(3000)).min(new.len());
                        new.drain(at..to);
                    }
                    _ => {
                        if at < new.len() {
                            new[at] ^= 0x5a;
                        }
                    }
                }
            }
            let block = if round % 2 == 0 {
                None
            } else {
                Some(rng.below(3000) as u32 + 1)
            };
            let kind = kinds[round % kinds.len()];
            let r = run(&basis, &new, block, kind);
            assert_eq!(r.out, new, "round {round}");
            assert_eq!(r.stats.literal + r.stats.matched, new.len() as u64);
        }
    }

    /// Checked against rsync 3.5.0 (`--no-whole-file --checksum-seed=1`,
    /// md5 and xxh128): same "Literal data"/"Matched data", same matches in
    /// `--debug=deltasum2`, and (md5, via `--only-write-batch`) the same
    /// token bytes on the wire.
    #[test]
    fn matches_upstream_scenario() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let basis = rng.bytes(300_000);
        let mut new = basis.clone();
        new.splice(1000..1000, rng.bytes(5000));
        new.drain(100_000..103_000);
        new[200_000] ^= 1;
        new.splice(250_000..250_000, rng.bytes(70_000));
        new.extend_from_slice(&rng.bytes(777));
        for kind in [ChecksumKind::Md5, ChecksumKind::Xxh128] {
            let head = sum_sizes_sqroot(basis.len() as i64, None, 32, 16, false);
            let sums = generate_sums(&basis, &head, kind, 1, true);
            // Runs of consecutive blocks (first, last) and literal chunks.
            let mut runs: Vec<(char, u32, u32)> = Vec::new();
            let stats = match_sums(&new, &head, &sums, kind, 1, true, &mut |t| {
                match t {
                    Token::Literal(d) => runs.push(('L', d.len() as u32, 0)),
                    Token::Match { block, .. } => match runs.last_mut() {
                        Some(('M', _, last)) if *last + 1 == block => *last = block,
                        _ => runs.push(('M', block, block)),
                    },
                }
                Ok(())
            })
            .unwrap();
            assert_eq!((stats.literal, stats.matched), (78_777, 294_000));
            let want = [
                ('M', 0, 0),
                ('L', 5700, 0),
                ('M', 2, 134),
                ('L', 500, 0),
                ('M', 140, 281),
                ('L', 700, 0),
                ('M', 283, 353),
                ('L', 32768, 0),
                ('L', 32768, 0),
                ('L', 5164, 0),
                ('M', 355, 427),
                ('L', 1177, 0),
            ];
            assert_eq!(runs, want);
        }
    }

    #[test]
    fn rejects_inconsistent_input() {
        let head = SumHead {
            count: 2,
            blength: 700,
            s2length: 2,
            remainder: 0,
        };
        let e = match_sums(b"abc", &head, &[], ChecksumKind::Md5, 0, true, &mut |_| {
            Ok(())
        });
        assert!(e.is_err());
        let head = SumHead {
            count: 1,
            blength: 0,
            s2length: 2,
            remainder: 0,
        };
        let sums = [BlockSum::default()];
        let e = match_sums(
            b"abc",
            &head,
            &sums,
            ChecksumKind::Md5,
            0,
            true,
            &mut |_| Ok(()),
        );
        assert!(e.is_err());
    }

    /// In place, the receiver overwrites its basis as it goes: a match must
    /// never name basis data that has already been overwritten. Rebuilding in one buffer the way
    /// an in-place receiver does must give the new data.
    #[test]
    fn updating_basis_matches_never_read_overwritten_data() {
        let mut rng = Rng(42);
        for round in 0..20 {
            let n = 40_000 + rng.below(20_000);
            let basis = rng.bytes(n);
            // Shuffled blocks, zero runs and edits: matches at every offset.
            let mut new = Vec::new();
            for chunk in basis.chunks(3000).rev() {
                new.extend_from_slice(chunk);
                if rng.below(3) == 0 {
                    let zeros = rng.below(5000);
                    new.extend(std::iter::repeat_n(0u8, zeros));
                }
            }
            let cut = rng.below(1000);
            new.truncate(new.len() - cut);
            let kind = ChecksumKind::Md5;
            let head =
                sum_sizes_sqroot(basis.len() as i64, Some(700), 32, kind.digest_len(), false);
            let sums = generate_sums(&basis, &head, kind, 7, true);
            let mut file = basis.clone();
            let mut pos = 0usize;
            let mut bad = None;
            let mut win = Window::from_slice(&new);
            match_window(&mut win, &head, &sums, kind, 7, true, true, &mut |t| {
                match t {
                    Token::Literal(d) => {
                        if file.len() < pos + d.len() {
                            file.resize(pos + d.len(), 0);
                        }
                        file[pos..pos + d.len()].copy_from_slice(d);
                        pos += d.len();
                    }
                    Token::Match { block, len, .. } => {
                        let from = block as usize * head.blength as usize;
                        let len = len as usize;
                        // Behind the write position only data that is still
                        // the basis's (a block seen at its own offset).
                        if from < pos && file[from..from + len] != basis[from..from + len] {
                            bad.get_or_insert((round, from, pos));
                        }
                        let data = file[from..from + len].to_vec();
                        if file.len() < pos + len {
                            file.resize(pos + len, 0);
                        }
                        file[pos..pos + len].copy_from_slice(&data);
                        pos += len;
                    }
                }
                Ok(())
            })
            .unwrap();
            file.truncate(pos);
            assert_eq!(bad, None, "a match reads behind the write position");
            assert!(file == new, "round {round}: in-place rebuild differs");
        }
    }
}
