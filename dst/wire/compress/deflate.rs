//! zlib and zlibx data frames (upstream: token.c send_deflated_token(),
//! recv_deflated_token(), see_deflate_token()).
//!
//! Raw deflate (no zlib header, 32 KiB window), restarted at every file.
//! Each literal run that ends in a token is sync-flushed and the flush's
//! final `00 00 ff ff` is left off the wire; the receiver puts it back.
//! For "zlib" (not "zlibx") both sides also push every matched block into
//! the deflate history, so later literals can refer back to it.

use super::{write_frame, Step, CHUNK_SIZE, DEFAULT_PROTOCOL, MAX_DATA_COUNT};
use crate::error::{Error, Result};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::io::Write;

/// The empty stored block that ends every sync flush.
const SYNC_TRAILER: [u8; 4] = [0, 0, 0xff, 0xff];
/// Matched data enters the history in pieces of at most this size: the
/// receiver wraps each piece in one stored block, whose length is 16 bits.
const MAX_STORED: usize = 0xffff;
/// Output space per inflate call (upstream AVAIL_OUT_SIZE(CHUNK_SIZE)).
const INFLATE_OUT: usize = CHUNK_SIZE * 1001 / 1000 + 16;
/// Scratch space for output that is thrown away.
const SCRATCH: usize = 64 * 1024;

fn delta(after: u64, before: u64) -> usize {
    (after - before) as usize
}

pub(super) struct Encoder {
    c: Compress,
    /// Feed matched blocks into the history ("zlib"), or not ("zlibx").
    insert_matches: bool,
    protocol: i32,
    session_level: i32,
    level_now: i32,
    next_file_level: Option<i32>,
    /// Compressed bytes not yet framed. When flushing, the last four bytes
    /// may be the trailer we must drop, so they are held back.
    pending: Vec<u8>,
    out: Vec<u8>,
}

fn level_of(level: i32) -> Compression {
    Compression::new(level.clamp(0, 9) as u32)
}

impl Encoder {
    pub(super) fn new(level: i32, insert_matches: bool) -> Encoder {
        Encoder {
            // Raw deflate, window 2^15: what upstream's deflateInit2(-15)
            // sets up and its inflater expects.
            c: Compress::new_with_window_bits(level_of(level), false, 15),
            insert_matches,
            protocol: DEFAULT_PROTOCOL,
            session_level: level,
            level_now: level,
            next_file_level: None,
            pending: Vec::new(),
            out: vec![0; CHUNK_SIZE + 1024],
        }
    }

    pub(super) fn set_protocol(&mut self, protocol: i32) {
        self.protocol = protocol;
    }

    pub(super) fn set_next_file_level(&mut self, level: i32) {
        self.next_file_level = Some(level);
    }

    /// Every file starts a fresh deflate stream (upstream deflateReset()).
    pub(super) fn start_file(&mut self) {
        self.c.reset();
        self.pending.clear();
        let want = self.next_file_level.take().unwrap_or(self.session_level);
        if want != self.level_now {
            // Right after a reset nothing is buffered, so the change cannot
            // emit data or fail for want of output space.
            if self.c.set_level(level_of(want)).is_ok() {
                self.level_now = want;
            }
        }
    }

    /// Run `input` through deflate, handing finished output to `pending`.
    fn run(&mut self, mut input: &[u8], flush: FlushCompress) -> Result<()> {
        loop {
            let (in0, out0) = (self.c.total_in(), self.c.total_out());
            let st = self
                .c
                .compress(input, &mut self.out, flush)
                .map_err(|e| Error::stream(format!("deflate returned an error: {e}")))?;
            let used = delta(self.c.total_in(), in0);
            let made = delta(self.c.total_out(), out0);
            input = &input[used..];
            self.pending.extend_from_slice(&self.out[..made]);
            // zlib's rule: the call is complete once the input is gone and
            // there was output space to spare.
            if input.is_empty() && made < self.out.len() {
                return Ok(());
            }
            if used == 0 && made == 0 && st == Status::BufError {
                return Err(Error::stream("deflate made no progress"));
            }
        }
    }

    /// Send the full frames in `pending`, keeping `keep` bytes back.
    fn drain(&mut self, w: &mut dyn Write, keep: usize) -> Result<()> {
        let mut sent = 0;
        while self.pending.len() - sent >= MAX_DATA_COUNT + keep {
            write_frame(w, &self.pending[sent..sent + MAX_DATA_COUNT])?;
            sent += MAX_DATA_COUNT;
        }
        self.pending.drain(..sent);
        Ok(())
    }

    pub(super) fn compress(&mut self, w: &mut dyn Write, data: &[u8], flush: bool) -> Result<()> {
        for piece in data.chunks(CHUNK_SIZE) {
            self.run(piece, FlushCompress::None)?;
            self.drain(w, SYNC_TRAILER.len())?;
        }
        if flush {
            self.run(&[], FlushCompress::Sync)?;
            if !self.pending.ends_with(&SYNC_TRAILER) {
                return Err(Error::stream("deflate sync flush lacks its trailer"));
            }
            self.pending
                .truncate(self.pending.len() - SYNC_TRAILER.len());
        }
        self.drain(w, 0)?;
        if !self.pending.is_empty() {
            write_frame(w, &self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Put a matched block into the history without sending anything. This
    /// is what upstream does when built against a system zlib (which lacks
    /// Z_INSERT_ONLY): sync-flush the block and discard the output. The
    /// receiver rebuilds the same history from its copy of the block.
    pub(super) fn insert_history(&mut self, matched: &[u8]) -> Result<()> {
        if !self.insert_matches || matched.is_empty() {
            return Ok(());
        }
        let mut rest = matched.len();
        let mut off = 0;
        while rest > 0 {
            let n = rest.min(MAX_STORED);
            let piece = &matched[off..off + n];
            self.run(piece, FlushCompress::Sync)?;
            self.pending.clear();
            rest -= n;
            // Before protocol 31 upstream fed the first piece again and
            // again; the receiver does the same, so we must too.
            if self.protocol >= 31 {
                off += n;
            }
        }
        Ok(())
    }
}

pub(super) struct Decoder {
    d: Decompress,
    see_matches: bool,
    protocol: i32,
    /// Data arrived since the last token: the stream sits just before the
    /// dropped sync trailer.
    needs_trailer: bool,
    scratch: Vec<u8>,
}

impl Decoder {
    pub(super) fn new(see_matches: bool) -> Decoder {
        Decoder {
            d: Decompress::new_with_window_bits(false, 15),
            see_matches,
            protocol: DEFAULT_PROTOCOL,
            needs_trailer: false,
            scratch: Vec::new(),
        }
    }

    pub(super) fn set_protocol(&mut self, protocol: i32) {
        self.protocol = protocol;
    }

    pub(super) fn start_file(&mut self) {
        self.d.reset(false);
        self.needs_trailer = false;
    }

    pub(super) fn data_seen(&mut self) {
        self.needs_trailer = true;
    }

    fn inflate_raw(&mut self, input: &[u8], out: &mut [u8]) -> Result<(usize, usize)> {
        let (in0, out0) = (self.d.total_in(), self.d.total_out());
        let st = self
            .d
            .decompress(input, out, FlushDecompress::Sync)
            .map_err(|e| Error::stream(format!("inflate returned an error: {e}")))?;
        if st == Status::StreamEnd {
            // rsync never finishes the deflate stream; a final block is
            // not something a real sender produces.
            return Err(Error::stream("inflate saw the end of the stream"));
        }
        Ok((
            delta(self.d.total_in(), in0),
            delta(self.d.total_out(), out0),
        ))
    }

    pub(super) fn inflate(&mut self, input: &[u8], buf: &mut Vec<u8>) -> Result<Step> {
        buf.resize(INFLATE_OUT, 0);
        let (consumed, produced) = self.inflate_raw(input, buf)?;
        Ok(Step {
            consumed,
            produced,
            // A full buffer may mean more output is waiting.
            done: consumed == input.len() && produced < INFLATE_OUT,
        })
    }

    /// A non-data flag follows data: give the inflater back the sync
    /// trailer the sender left off. It must be taken whole and yield
    /// nothing, otherwise the streams are out of step (upstream's
    /// "decompressor lost sync!").
    pub(super) fn end_of_data(&mut self) -> Result<()> {
        if !self.needs_trailer {
            return Ok(());
        }
        self.needs_trailer = false;
        let mut out = [0u8; 16];
        let (used, made) = self.inflate_raw(&SYNC_TRAILER, &mut out)?;
        if used != SYNC_TRAILER.len() || made != 0 {
            return Err(Error::stream("decompressor lost sync!"));
        }
        Ok(())
    }

    /// Put a matched block into the inflater's history by feeding it as
    /// stored blocks of at most 0xFFFF bytes and discarding the output.
    pub(super) fn see_token(&mut self, data: &[u8]) -> Result<()> {
        if !self.see_matches || data.is_empty() {
            return Ok(());
        }
        // A token flag always comes before see_token(), so the trailer is
        // normally in already; this covers a caller that skips ahead.
        self.end_of_data()?;
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize(SCRATCH, 0);
        let mut rest = data.len();
        let mut off = 0;
        let result = (|| {
            while rest > 0 {
                let n = rest.min(MAX_STORED);
                let len = (n as u16).to_le_bytes();
                // BFINAL=0, BTYPE=00 (stored), then LEN and its complement.
                let hdr = [0, len[0], len[1], !len[0], !len[1]];
                self.feed_all(&hdr, &mut scratch)?;
                self.feed_all(&data[off..off + n], &mut scratch)?;
                rest -= n;
                // Protocol < 31: the same first piece again (upstream bug
                // that both ends share).
                if self.protocol >= 31 {
                    off += n;
                }
            }
            Ok(())
        })();
        self.scratch = scratch;
        result
    }

    fn feed_all(&mut self, mut input: &[u8], scratch: &mut [u8]) -> Result<()> {
        loop {
            let (used, made) = self.inflate_raw(input, scratch)?;
            input = &input[used..];
            if input.is_empty() && made < scratch.len() {
                return Ok(());
            }
            if used == 0 && made == 0 {
                return Err(Error::stream("inflate (token) made no progress"));
            }
        }
    }
}
