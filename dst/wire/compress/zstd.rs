//! zstd data frames (upstream: token.c send_zstd_token(), recv_zstd_token()).
//!
//! One zstd stream carries the literal data of the whole session: neither
//! side ever resets its context between files and no frame is ever ended.
//! The sender flushes (ZSTD_e_flush) whenever a literal run ends in a token,
//! so the receiver can always decode everything sent so far.

use super::{write_frame, Step, MAX_DATA_COUNT};
use crate::error::{Error, Result};
use std::io::Write;
use zstd::stream::raw::{Decoder as ZDecoder, Encoder as ZEncoder, InBuffer, Operation, OutBuffer};

/// Output space per decompression call (upstream: ZSTD_DStreamOutSize()*2,
/// i.e. two full zstd blocks).
const ZSTD_OUT: usize = 2 * (128 * 1024 + 3);

fn zerr(what: &str, e: std::io::Error) -> Error {
    Error::stream(format!("{what}: {e}"))
}

pub(super) struct Encoder {
    /// `None` if the context could not be created (reported on first use).
    z: Option<ZEncoder<'static>>,
    out: Vec<u8>,
}

impl Encoder {
    pub(super) fn new(level: i32) -> Encoder {
        Encoder {
            z: ZEncoder::new(level).ok(),
            // Upstream hands zstd exactly one frame's worth of space, so
            // every call's output fits one frame.
            out: vec![0; MAX_DATA_COUNT],
        }
    }

    pub(super) fn compress(&mut self, w: &mut dyn Write, data: &[u8], flush: bool) -> Result<()> {
        let z = self
            .z
            .as_mut()
            .ok_or_else(|| Error::protocol("compression init failed"))?;
        let mut input = InBuffer::around(data);
        while input.pos() < data.len() {
            let mut out = OutBuffer::around(&mut self.out[..]);
            z.run(&mut input, &mut out)
                .map_err(|e| zerr("ZSTD_compressStream failed", e))?;
            let n = out.pos();
            if n > 0 {
                write_frame(w, &self.out[..n])?;
            }
        }
        if flush {
            loop {
                let mut out = OutBuffer::around(&mut self.out[..]);
                let left = z
                    .flush(&mut out)
                    .map_err(|e| zerr("ZSTD_flushStream failed", e))?;
                let n = out.pos();
                if n > 0 {
                    write_frame(w, &self.out[..n])?;
                }
                if left == 0 {
                    break;
                }
            }
        }
        Ok(())
    }
}

pub(super) struct Decoder {
    z: Option<ZDecoder<'static>>,
}

impl Decoder {
    pub(super) fn new() -> Decoder {
        // libzstd's default window limit (2^27) bounds what a peer can make
        // us allocate; upstream relies on the same default.
        Decoder {
            z: ZDecoder::new().ok(),
        }
    }

    pub(super) fn inflate(&mut self, input: &[u8], buf: &mut Vec<u8>) -> Result<Step> {
        let z = self
            .z
            .as_mut()
            .ok_or_else(|| Error::protocol("ZSTD_createDStream failed"))?;
        buf.resize(ZSTD_OUT, 0);
        let mut inb = InBuffer::around(input);
        let mut out = OutBuffer::around(&mut buf[..]);
        z.run(&mut inb, &mut out)
            .map_err(|e| zerr("ZSTD decompression failed", e))?;
        let produced = out.pos();
        let consumed = inb.pos();
        Ok(Step {
            consumed,
            produced,
            done: consumed == input.len() && produced < ZSTD_OUT,
        })
    }
}
