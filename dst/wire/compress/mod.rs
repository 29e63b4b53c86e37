//! Compressed token streams (upstream: token.c send_token(), recv_token(),
//! see_token(); compat.c for the names). See protocol-notes/compression.md.
//!
//! Every compressed kind shares one framing of flag bytes:
//!
//! | flag        | meaning                                               |
//! |-------------|-------------------------------------------------------|
//! | 0x00        | end of the file's tokens                              |
//! | 0x20        | match, int32 absolute block index follows             |
//! | 0x21        | run of matches: int32 first index, u16 LE extra count |
//! | 0x40..=0x7F | compressed data: 6 high + 8 low bits of a length      |
//! | 0x80..=0xBF | match, index = previous run end + (flag & 0x3F)       |
//! | 0xC0..=0xFF | run, first = previous run end + (flag & 0x3F), u16 LE |
//!
//! Only what goes inside the data frames differs between the kinds.
//! `CompressKind::None` is the plain int32 token stream, so a caller can
//! always route its tokens through [`TokenEncoder`] / [`TokenDecoder`].

mod deflate;
mod lz4;
mod skip;
mod zstd;

pub use skip::{SkipCompress, DEFAULT_DONT_COMPRESS};

use crate::error::{Error, Result};
use crate::wire::int::{read_byte, read_int, write_int};
use std::io::{Read, Write};

/// Largest literal piece the plain stream sends behind one length
/// (upstream CHUNK_SIZE); the compressors also take input in these pieces.
pub use crate::wire::tokens::CHUNK_SIZE;
/// Largest payload of one compressed data frame: 14 bits of length.
pub const MAX_DATA_COUNT: usize = 16383;
/// Largest plain literal accepted behind one length. Third-party senders use
/// up to 64 KiB; stay well above that but bound the allocation.
const MAX_PLAIN_LITERAL: i32 = 1 << 24;
/// Largest block index the compressed framing can carry (upstream
/// MAX_TOKEN_INDEX); keeps `index + run` from overflowing.
const MAX_TOKEN_INDEX: i32 = 0x7fff_fffe;
/// Protocol assumed until the caller says otherwise.
const DEFAULT_PROTOCOL: i32 = 32;

const END_FLAG: u8 = 0x00;
const TOKEN_LONG: u8 = 0x20;
const TOKENRUN_LONG: u8 = 0x21;
const DEFLATED_DATA: u8 = 0x40;
const TOKEN_REL: u8 = 0x80;
const TOKENRUN_REL: u8 = 0xc0;

/// The compressors rsync can negotiate (upstream CPRES_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressKind {
    None,
    Zlib,
    ZlibX,
    Zstd,
    Lz4,
}

impl CompressKind {
    /// The name used in negotiation and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CompressKind::None => "none",
            CompressKind::Zlib => "zlib",
            CompressKind::ZlibX => "zlibx",
            CompressKind::Zstd => "zstd",
            CompressKind::Lz4 => "lz4",
        }
    }

    /// Parse a negotiation / `--compress-choice` name. Upstream's
    /// get_nni_by_name() compares with strncasecmp, so case is ignored
    /// (`--zc=ZSTD` works with rsync 3.5.0).
    pub fn from_name(name: &str) -> Option<CompressKind> {
        Some(match name.to_ascii_lowercase().as_str() {
            "none" => CompressKind::None,
            "zlib" => CompressKind::Zlib,
            "zlibx" => CompressKind::ZlibX,
            "zstd" => CompressKind::Zstd,
            "lz4" => CompressKind::Lz4,
            _ => return None,
        })
    }
}

/// rsync 3.5.0's compression preference list, strongest first, as printed
/// by `rsync --version`. A client leaves "none" out of what it sends.
pub fn default_compress_list() -> &'static str {
    "zstd lz4 zlibx zlib none"
}

/// zstd's level range as upstream reads it from libzstd
/// (ZSTD_minCLevel() .. ZSTD_maxCLevel()); fixed numbers so they do not
/// depend on the linked library version.
pub const ZSTD_MIN_LEVEL: i32 = -131_072;
pub const ZSTD_MAX_LEVEL: i32 = 22;
const ZSTD_DEFAULT_LEVEL: i32 = 3;
const ZLIB_DEFAULT_LEVEL: i32 = 6;

/// The level a kind really runs at for a `--compress-level` value
/// (upstream init_compression_level()). `None` = option not given.
///
/// - zlib / zlibx: unset or -1 mean 6; **0 turns compression off** (see
///   [`effective_kind`]; this function then returns 0); otherwise clamped to
///   1..=9.
/// - zstd: unset or 0 mean 3; otherwise clamped to -131072..=22.
/// - lz4 and none: always 0.
pub fn effective_level(kind: CompressKind, requested: Option<i32>) -> i32 {
    match kind {
        CompressKind::None | CompressKind::Lz4 => 0,
        CompressKind::Zlib | CompressKind::ZlibX => match requested {
            None | Some(-1) => ZLIB_DEFAULT_LEVEL,
            Some(0) => 0,
            Some(l) => l.clamp(1, 9),
        },
        CompressKind::Zstd => match requested {
            None | Some(0) => ZSTD_DEFAULT_LEVEL,
            Some(l) => l.clamp(ZSTD_MIN_LEVEL, ZSTD_MAX_LEVEL),
        },
    }
}

/// The kind that really runs: upstream switches zlib/zlibx off entirely
/// for `--compress-level=0` (both sides do so, because the level is
/// forwarded to the server whenever it was given).
pub fn effective_kind(kind: CompressKind, requested: Option<i32>) -> CompressKind {
    match (kind, requested) {
        (CompressKind::Zlib | CompressKind::ZlibX, Some(0)) => CompressKind::None,
        _ => kind,
    }
}

/// What the receiver gets back from [`TokenDecoder::recv_token`]; a
/// literal is never empty.
pub use crate::wire::tokens::RecvToken;

/// Sender state for coding runs of consecutive matches (upstream
/// last_token / run_start / last_run_end). Runs are written lazily: a run is
/// only known to be over when something other than its next block arrives.
struct RunCoder {
    /// -1 = at the start of a file, -2 = after a data-only call.
    last_token: i32,
    run_start: i32,
    last_run_end: i32,
    /// Literal data was sent without a flush (token -2); the next call must
    /// flush even if it brings no data.
    flush_pending: bool,
}

impl RunCoder {
    fn new() -> RunCoder {
        RunCoder {
            last_token: -1,
            run_start: 0,
            last_run_end: 0,
            flush_pending: false,
        }
    }

    /// Write the pending run [run_start, last_token].
    fn write_run(&mut self, w: &mut dyn Write) -> Result<()> {
        let rel = self.run_start as i64 - self.last_run_end as i64;
        let extra = self.last_token - self.run_start;
        if (0..=63).contains(&rel) {
            let base = if extra == 0 { TOKEN_REL } else { TOKENRUN_REL };
            w.write_all(&[base + rel as u8])?;
        } else {
            let base = if extra == 0 {
                TOKEN_LONG
            } else {
                TOKENRUN_LONG
            };
            w.write_all(&[base])?;
            write_int(w, self.run_start)?;
        }
        if extra != 0 {
            // At most 65535 by construction (runs are cut at 65536 blocks).
            w.write_all(&(extra as u16).to_le_bytes())?;
        }
        self.last_run_end = self.last_token;
        Ok(())
    }
}

enum EncCodec {
    Plain,
    Deflate(deflate::Encoder),
    Zstd(zstd::Encoder),
    Lz4(lz4::Encoder),
}

/// The sending half: one per transfer direction, like upstream's static
/// state in token.c.
pub struct TokenEncoder {
    runs: RunCoder,
    codec: EncCodec,
}

impl TokenEncoder {
    /// `level` should come from [`effective_level`]. Creating the zstd
    /// context can only fail for lack of memory; that is left to the first
    /// `send_token` to report, so construction stays infallible.
    pub fn new(kind: CompressKind, level: i32) -> TokenEncoder {
        let codec = match kind {
            CompressKind::None => EncCodec::Plain,
            CompressKind::Zlib => EncCodec::Deflate(deflate::Encoder::new(level, true)),
            CompressKind::ZlibX => EncCodec::Deflate(deflate::Encoder::new(level, false)),
            CompressKind::Zstd => EncCodec::Zstd(zstd::Encoder::new(level)),
            CompressKind::Lz4 => EncCodec::Lz4(lz4::Encoder::new()),
        };
        TokenEncoder {
            runs: RunCoder::new(),
            codec,
        }
    }

    /// The negotiated protocol version. Below 31 the zlib kind repeats the
    /// first 0xFFFF bytes of a long matched block when feeding its history,
    /// an upstream bug both sides must share.
    pub fn set_protocol(&mut self, protocol: i32) {
        if let EncCodec::Deflate(d) = &mut self.codec {
            d.set_protocol(protocol);
        }
    }

    /// Level for the next file only (`--skip-compress`). Only zlib/zlibx
    /// can honour it, because their stream restarts at every file; zstd
    /// keeps one stream for the session and lz4 has no levels. Upstream
    /// 3.5.0 has this switching compiled out, so callers wanting byte
    /// parity with it simply never call this.
    pub fn set_file_level(&mut self, level: i32) {
        if let EncCodec::Deflate(d) = &mut self.codec {
            d.set_next_file_level(level);
        }
    }

    /// Mirror of upstream send_token(). `literal` precedes the token;
    /// `token` is a block index (>= 0), -1 for end of file, or -2 for
    /// "literal data only, more follows" (upstream's early flush of long
    /// literal runs). `matched` is the matched block's bytes, used only by
    /// the zlib kind. A new file starts after -1.
    pub fn send_token(
        &mut self,
        w: &mut dyn Write,
        literal: &[u8],
        token: i32,
        matched: &[u8],
    ) -> Result<()> {
        if token < -2 {
            return Err(Error::protocol(format!("invalid token {token} to send")));
        }
        if let EncCodec::Plain = self.codec {
            return send_plain(w, literal, token);
        }
        let runs = &mut self.runs;
        if runs.last_token == -1 {
            // First call of a file.
            match &mut self.codec {
                EncCodec::Deflate(d) => d.start_file(),
                // zstd keeps one stream for the whole session (upstream
                // never resets its CCtx); lz4 blocks are independent.
                EncCodec::Zstd(_) | EncCodec::Lz4(_) | EncCodec::Plain => {}
            }
            runs.last_run_end = 0;
            runs.run_start = token;
            runs.flush_pending = false;
        } else if runs.last_token == -2 {
            runs.run_start = token;
        } else if !literal.is_empty()
            || token as i64 != runs.last_token as i64 + 1
            || token as i64 >= runs.run_start as i64 + 65536
        {
            runs.write_run(w)?;
            runs.run_start = token;
        }
        runs.last_token = token;

        if !literal.is_empty() || runs.flush_pending {
            // Flush when a token follows, so the receiver can act on it.
            let flush = token != -2;
            match &mut self.codec {
                EncCodec::Deflate(d) => d.compress(w, literal, flush)?,
                EncCodec::Zstd(z) => z.compress(w, literal, flush)?,
                EncCodec::Lz4(l) => l.compress(w, literal)?,
                EncCodec::Plain => {}
            }
            runs.flush_pending = token == -2;
        }

        if token == -1 {
            w.write_all(&[END_FLAG])?;
        } else if token >= 0 {
            if let EncCodec::Deflate(d) = &mut self.codec {
                d.insert_history(matched)?;
            }
        }
        Ok(())
    }
}

fn send_plain(w: &mut dyn Write, literal: &[u8], token: i32) -> Result<()> {
    for chunk in literal.chunks(CHUNK_SIZE) {
        write_int(w, chunk.len() as i32)?;
        w.write_all(chunk)?;
    }
    if token != -2 {
        write_int(w, -(token + 1))?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RxState {
    /// Before the first flag of a file.
    Init,
    /// Waiting for a flag byte.
    Idle,
    /// Decompressing the data frame held in `cbuf`.
    Inflating,
    /// Handing out the rest of a run of matches.
    Running,
}

enum DecCodec {
    Plain,
    Deflate(deflate::Decoder),
    Zstd(zstd::Decoder),
    Lz4(lz4::Decoder),
}

/// The receiving half: one per transfer direction.
pub struct TokenDecoder {
    codec: DecCodec,
    state: RxState,
    rx_token: i32,
    rx_run: i32,
    /// The current data frame's payload (at most MAX_DATA_COUNT bytes).
    cbuf: Vec<u8>,
    cpos: usize,
}

impl TokenDecoder {
    pub fn new(kind: CompressKind) -> TokenDecoder {
        let codec = match kind {
            CompressKind::None => DecCodec::Plain,
            CompressKind::Zlib => DecCodec::Deflate(deflate::Decoder::new(true)),
            CompressKind::ZlibX => DecCodec::Deflate(deflate::Decoder::new(false)),
            CompressKind::Zstd => DecCodec::Zstd(zstd::Decoder::new()),
            CompressKind::Lz4 => DecCodec::Lz4(lz4::Decoder::new()),
        };
        TokenDecoder {
            codec,
            state: RxState::Init,
            rx_token: 0,
            rx_run: 0,
            cbuf: Vec::new(),
            cpos: 0,
        }
    }

    /// The negotiated protocol version (see [`TokenEncoder::set_protocol`]).
    pub fn set_protocol(&mut self, protocol: i32) {
        if let DecCodec::Deflate(d) = &mut self.codec {
            d.set_protocol(protocol);
        }
    }

    /// Read the next token; literal bytes replace the contents of `buf`.
    /// A literal is never empty.
    pub fn recv_token(&mut self, r: &mut dyn Read, buf: &mut Vec<u8>) -> Result<RecvToken> {
        if let DecCodec::Plain = self.codec {
            return recv_plain(r, buf);
        }
        loop {
            match self.state {
                RxState::Init => {
                    match &mut self.codec {
                        DecCodec::Deflate(d) => d.start_file(),
                        // The zstd stream spans the session; lz4 is stateless.
                        DecCodec::Zstd(_) | DecCodec::Lz4(_) | DecCodec::Plain => {}
                    }
                    self.rx_token = 0;
                    self.state = RxState::Idle;
                }
                RxState::Running => return self.next_in_run(),
                RxState::Inflating => {
                    let input = &self.cbuf[self.cpos..];
                    let step = match &mut self.codec {
                        DecCodec::Deflate(d) => d.inflate(input, buf)?,
                        DecCodec::Zstd(z) => z.inflate(input, buf)?,
                        DecCodec::Lz4(l) => l.inflate(input, buf)?,
                        DecCodec::Plain => unreachable_plain()?,
                    };
                    self.cpos += step.consumed;
                    if step.done {
                        self.state = RxState::Idle;
                    } else if step.consumed == 0 && step.produced == 0 {
                        // Guards against spinning on input the codec will
                        // never take.
                        return Err(Error::stream("decompressor made no progress"));
                    }
                    if step.produced > 0 {
                        buf.truncate(step.produced);
                        return Ok(RecvToken::Literal(step.produced));
                    }
                }
                RxState::Idle => {
                    let flag = read_byte(r)?;
                    if flag & 0xc0 == DEFLATED_DATA {
                        // 14 bits, so never more than MAX_DATA_COUNT.
                        let n = (((flag & 0x3f) as usize) << 8) | read_byte(r)? as usize;
                        self.cbuf.resize(n, 0);
                        r.read_exact(&mut self.cbuf)?;
                        self.cpos = 0;
                        if let DecCodec::Deflate(d) = &mut self.codec {
                            d.data_seen();
                        }
                        self.state = RxState::Inflating;
                        continue;
                    }
                    if let DecCodec::Deflate(d) = &mut self.codec {
                        d.end_of_data()?;
                    }
                    if flag == END_FLAG {
                        self.state = RxState::Init;
                        return Ok(RecvToken::End);
                    }
                    return self.token_num(r, flag);
                }
            }
        }
    }

    /// Upstream see_token(): after a `Match`, pass the basis bytes that were
    /// copied so the zlib kind can put them into the inflater's history.
    pub fn see_token(&mut self, data: &[u8]) -> Result<()> {
        if let DecCodec::Deflate(d) = &mut self.codec {
            d.see_token(data)?;
        }
        Ok(())
    }

    /// Decode a match flag (upstream recv_compressed_token_num()).
    fn token_num(&mut self, r: &mut dyn Read, flag: u8) -> Result<RecvToken> {
        let is_run = if flag & TOKEN_REL != 0 {
            let incr = (flag & 0x3f) as i32;
            if self.rx_token > MAX_TOKEN_INDEX - incr {
                return Err(invalid_token());
            }
            self.rx_token += incr;
            flag & 0x40 != 0
        } else if flag == TOKEN_LONG || flag == TOKENRUN_LONG {
            let t = read_int(r)?;
            if !(0..=MAX_TOKEN_INDEX).contains(&t) {
                return Err(invalid_token());
            }
            self.rx_token = t;
            flag == TOKENRUN_LONG
        } else {
            // Upstream reads any other value below 0x40 as an absolute
            // token; no rsync ever sends one, so treat it as garbage.
            return Err(Error::protocol(format!(
                "invalid flag byte {flag:#04x} in compressed stream"
            )));
        };
        if is_run {
            let mut n = [0u8; 2];
            r.read_exact(&mut n)?;
            let run = u16::from_le_bytes(n) as i32;
            if run == 0 || self.rx_token > MAX_TOKEN_INDEX - run {
                return Err(invalid_token());
            }
            self.rx_run = run;
            self.state = RxState::Running;
        }
        Ok(RecvToken::Match(self.rx_token as u32))
    }

    /// Upstream recv_compressed_token_run().
    fn next_in_run(&mut self) -> Result<RecvToken> {
        if self.rx_run <= 0 || self.rx_token >= MAX_TOKEN_INDEX {
            return Err(invalid_token());
        }
        self.rx_token += 1;
        self.rx_run -= 1;
        if self.rx_run == 0 {
            self.state = RxState::Idle;
        }
        Ok(RecvToken::Match(self.rx_token as u32))
    }
}

fn invalid_token() -> Error {
    Error::protocol("invalid token number in compressed stream")
}

fn unreachable_plain() -> Result<Step> {
    Err(Error::protocol("plain token stream has no data frames"))
}

/// Result of one decompression step over the current data frame.
struct Step {
    /// Input bytes used.
    consumed: usize,
    /// Output bytes placed at the start of the caller's buffer.
    produced: usize,
    /// The frame is used up and nothing is left buffered for it.
    done: bool,
}

fn recv_plain(r: &mut dyn Read, buf: &mut Vec<u8>) -> Result<RecvToken> {
    let n = read_int(r)?;
    if n == 0 {
        return Ok(RecvToken::End);
    }
    if n < 0 {
        return Ok(RecvToken::Match((-(n as i64) - 1) as u32));
    }
    if n > MAX_PLAIN_LITERAL {
        return Err(Error::protocol(format!("invalid literal length {n}")));
    }
    // Grow only as data arrives, so a bogus length costs nothing up front.
    buf.clear();
    let got = r.take(n as u64).read_to_end(buf)?;
    if got < n as usize {
        return Err(Error::stream("connection unexpectedly closed"));
    }
    Ok(RecvToken::Literal(n as usize))
}

/// Write one data frame header + payload (payload <= MAX_DATA_COUNT).
fn write_frame(w: &mut dyn Write, payload: &[u8]) -> Result<()> {
    debug_assert!(payload.len() <= MAX_DATA_COUNT);
    let n = payload.len();
    w.write_all(&[DEFLATED_DATA | (n >> 8) as u8, n as u8])?;
    w.write_all(payload)?;
    Ok(())
}

#[cfg(test)]
mod tests;
