//! lz4 data frames (upstream: token.c send_compressed_token(),
//! recv_compressed_token()).
//!
//! Every frame is an independent raw LZ4 block (no frame format, no state
//! between blocks, no levels), made from at most MAX_DATA_COUNT input bytes.

use super::{write_frame, Step, CHUNK_SIZE, MAX_DATA_COUNT};
use crate::error::{Error, Result};
use std::io::Write;

/// LZ4_compressBound(n): the worst-case block size for n input bytes.
const fn compress_bound(n: usize) -> usize {
    n + n / 255 + 16
}

/// The receiver's output buffer (upstream: the larger of
/// LZ4_compressBound(CHUNK_SIZE) and MAX_DATA_COUNT + 2); a block that
/// decodes to more than this is rejected, as upstream does.
const LZ4_OUT: usize = if compress_bound(CHUNK_SIZE) > MAX_DATA_COUNT + 2 {
    compress_bound(CHUNK_SIZE)
} else {
    MAX_DATA_COUNT + 2
};

pub(super) struct Encoder {
    out: Vec<u8>,
}

impl Encoder {
    pub(super) fn new() -> Encoder {
        Encoder {
            out: vec![0; lz4_flex::block::get_maximum_output_size(MAX_DATA_COUNT)],
        }
    }

    /// Unlike upstream we never send an empty block: it has nothing to
    /// flush, and an upstream receiver would read its zero-length output as
    /// the end of the file.
    pub(super) fn compress(&mut self, w: &mut dyn Write, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let mut take = data.len().min(MAX_DATA_COUNT);
            loop {
                let n = lz4_flex::block::compress_into(&data[..take], &mut self.out)
                    .map_err(|e| Error::stream(format!("lz4 compress failed: {e}")))?;
                if n <= MAX_DATA_COUNT {
                    write_frame(w, &self.out[..n])?;
                    break;
                }
                // Incompressible input grows a little; retry with half as
                // much, as upstream does, until the block fits a frame.
                take = (take / 2).max(1);
            }
            data = &data[take..];
        }
        Ok(())
    }
}

pub(super) struct Decoder;

impl Decoder {
    pub(super) fn new() -> Decoder {
        Decoder
    }

    pub(super) fn inflate(&mut self, input: &[u8], buf: &mut Vec<u8>) -> Result<Step> {
        buf.resize(LZ4_OUT, 0);
        let produced = lz4_flex::block::decompress_into(input, &mut buf[..])
            .map_err(|e| Error::stream(format!("lz4 uncompress failed: {e}")))?;
        Ok(Step {
            consumed: input.len(),
            produced,
            done: true,
        })
    }
}
