//! Multiplexed I/O (upstream: io.c send_msg(), perform_io(), read_a_msg()).
//! See protocol-notes/multiplex.md.
//!
//! A frame is a 4-byte little-endian header, `(MPLEX_BASE + code) << 24 | len`,
//! then `len` payload bytes. MSG_DATA frames carry the protocol stream and
//! their boundaries mean nothing; other codes are out-of-band messages.
//! [`MuxWriter`] buffers stream bytes and only writes a message between whole
//! data frames; [`DemuxReader`] hands stream bytes to `Read` callers and every
//! other message to a handler, in arrival order.

use crate::error::{Error, Result};
use std::io::{self, Read, Write};

const MPLEX_BASE: u8 = 7;
/// Largest payload a header can describe.
pub const MAX_FRAME: usize = 0xFF_FFFF;
/// Text messages longer than this are refused (BIGPATHBUFLEN: MAXPATHLEN + 1024).
pub const MAX_TEXT_MSG: usize = 4096 + 1024;
/// Data is framed once this much is buffered (upstream's output buffer size).
const FLUSH_AT: usize = 32 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgCode {
    Data = 0,
    ErrorXfer = 1,
    Info = 2,
    Error = 3,
    Warning = 4,
    ErrorSocket = 5,
    Log = 6,
    Client = 7,
    ErrorUtf8 = 8,
    Redo = 9,
    Stats = 10,
    IoError = 22,
    IoTimeout = 33,
    Noop = 42,
    ErrorExit = 86,
    Success = 100,
    Deleted = 101,
    NoSend = 102,
}

impl MsgCode {
    pub fn from_u8(v: u8) -> Option<MsgCode> {
        use MsgCode::*;
        Some(match v {
            0 => Data,
            1 => ErrorXfer,
            2 => Info,
            3 => Error,
            4 => Warning,
            5 => ErrorSocket,
            6 => Log,
            7 => Client,
            8 => ErrorUtf8,
            9 => Redo,
            10 => Stats,
            22 => IoError,
            33 => IoTimeout,
            42 => Noop,
            86 => ErrorExit,
            100 => Success,
            101 => Deleted,
            102 => NoSend,
            _ => return None,
        })
    }

    /// Payload length this code requires, if it is fixed.
    fn fixed_len(self) -> Option<&'static [usize]> {
        use MsgCode::*;
        match self {
            IoError | IoTimeout | NoSend | Redo => Some(&[4]),
            Noop => Some(&[0]),
            ErrorExit => Some(&[0, 4]),
            Success => Some(&[4, 20]),
            Stats => Some(&[8]),
            _ => None,
        }
    }
}

/// Writes the protocol stream, multiplexed or raw.
pub struct MuxWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    muxed: bool,
    /// Bytes written to `inner`, headers included (stats.total_written).
    pub total_written: u64,
    /// Stream bytes handed to this writer, frames excluded (what `%b`
    /// counts per file).
    pub data_bytes: u64,
}

impl<W: Write> MuxWriter<W> {
    pub fn new(inner: W) -> Self {
        MuxWriter {
            inner,
            buf: Vec::with_capacity(FLUSH_AT + 8),
            muxed: false,
            total_written: 0,
            data_bytes: 0,
        }
    }

    pub fn is_muxed(&self) -> bool {
        self.muxed
    }

    /// Start multiplexing (io_start_multiplex_out()): pending raw bytes go out
    /// raw first.
    pub fn start_mux(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.muxed = true;
        Ok(())
    }

    /// Stop multiplexing for a while (io_end_multiplex_out()): what is
    /// buffered goes out framed first. `--files-from` names travel raw below
    /// protocol 31.
    pub fn stop_mux(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.muxed = false;
        Ok(())
    }

    /// Send an out-of-band message. Like upstream's separate message buffer,
    /// it goes out ahead of stream bytes that are still buffered (those are
    /// not framed yet, so no frame is split). Without multiplexing there is
    /// no way to send one, so it is dropped, as upstream does.
    pub fn send_msg(&mut self, code: MsgCode, payload: &[u8]) -> io::Result<()> {
        if !self.muxed {
            return Ok(());
        }
        let len = payload.len().min(MAX_FRAME);
        let hdr = ((((MPLEX_BASE + code as u8) as u32) << 24) | len as u32).to_le_bytes();
        self.inner.write_all(&hdr)?;
        self.inner.write_all(&payload[..len])?;
        self.total_written += 4 + len as u64;
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.muxed {
            for chunk in self.buf.chunks(MAX_FRAME) {
                let hdr = (((MPLEX_BASE as u32) << 24) | chunk.len() as u32).to_le_bytes();
                self.inner.write_all(&hdr)?;
                self.inner.write_all(chunk)?;
                self.total_written += 4 + chunk.len() as u64;
            }
        } else {
            self.inner.write_all(&self.buf)?;
            self.total_written += self.buf.len() as u64;
        }
        self.buf.clear();
        Ok(())
    }

    /// An empty MSG_DATA frame: the keep-alive of protocol 31 peers.
    pub fn send_keepalive(&mut self) -> io::Result<()> {
        if self.muxed {
            self.flush_buf()?;
            self.inner
                .write_all(&((MPLEX_BASE as u32) << 24).to_le_bytes())?;
            self.total_written += 4;
            self.inner.flush()?;
        }
        Ok(())
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<W: Write> Write for MuxWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        self.data_bytes += data.len() as u64;
        while !data.is_empty() {
            let room = FLUSH_AT - self.buf.len();
            let n = room.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() >= FLUSH_AT {
                self.flush_buf()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_buf()?;
        self.inner.flush()
    }
}

/// Handler for out-of-band messages. Returning an error aborts the read.
pub type MsgHandler = Box<dyn FnMut(MsgCode, Vec<u8>) -> Result<()> + Send>;

/// Reads the protocol stream, demultiplexing when enabled.
pub struct DemuxReader<R: Read> {
    inner: R,
    muxed: bool,
    /// Bytes left in the current MSG_DATA frame.
    remaining: usize,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    handler: MsgHandler,
    /// Bytes read from `inner`, headers included (stats.total_read).
    pub total_read: u64,
    /// Stream bytes handed out, frames excluded.
    pub data_bytes: u64,
}

impl<R: Read> DemuxReader<R> {
    pub fn new(inner: R, handler: MsgHandler) -> Self {
        DemuxReader {
            inner,
            muxed: false,
            remaining: 0,
            buf: vec![0u8; 256 * 1024].into_boxed_slice(),
            pos: 0,
            end: 0,
            handler,
            total_read: 0,
            data_bytes: 0,
        }
    }

    pub fn start_mux(&mut self) {
        self.muxed = true;
    }

    pub fn is_muxed(&self) -> bool {
        self.muxed
    }

    /// Read the stream raw for a while (io_end_multiplex_in()); only valid
    /// between frames, which is where upstream switches.
    pub fn stop_mux(&mut self) {
        self.muxed = false;
    }

    pub fn set_handler(&mut self, handler: MsgHandler) {
        self.handler = handler;
    }

    /// Take the current handler out, leaving one that accepts nothing.
    pub fn take_handler(&mut self) -> MsgHandler {
        std::mem::replace(
            &mut self.handler,
            Box::new(|c, _| {
                Err(crate::error::Error::stream(format!(
                    "unexpected tag {}",
                    c as u8
                )))
            }),
        )
    }

    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.end {
            return Ok(true);
        }
        let n = loop {
            match self.inner.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.total_read += n as u64;
        self.pos = 0;
        self.end = n;
        Ok(n > 0)
    }

    fn raw_read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.fill()? {
            return Ok(0);
        }
        let n = out.len().min(self.end - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }

    fn raw_read_exact(&mut self, mut out: &mut [u8]) -> io::Result<()> {
        while !out.is_empty() {
            let n = self.raw_read(out)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            out = &mut out[n..];
        }
        Ok(())
    }

    /// Read frame headers until a non-empty MSG_DATA frame starts, handing
    /// every other message to the handler (read_a_msg()).
    fn next_data_frame(&mut self) -> io::Result<bool> {
        loop {
            let mut hdr = [0u8; 4];
            // A clean EOF between frames is reported as end of stream.
            let first = self.raw_read(&mut hdr[..1])?;
            if first == 0 {
                return Ok(false);
            }
            self.raw_read_exact(&mut hdr[1..])?;
            let word = u32::from_le_bytes(hdr);
            let tag = (word >> 24) as u8;
            let len = (word & 0xFF_FFFF) as usize;
            if tag < MPLEX_BASE {
                return Err(to_io(Error::stream(format!(
                    "unexpected tag {}",
                    tag as i32 - 7
                ))));
            }
            let code = MsgCode::from_u8(tag - MPLEX_BASE).ok_or_else(|| {
                to_io(Error::stream(format!(
                    "unexpected tag {}",
                    tag - MPLEX_BASE
                )))
            })?;
            if code == MsgCode::Data {
                if len == 0 {
                    continue; // keep-alive
                }
                self.remaining = len;
                return Ok(true);
            }
            match code.fixed_len() {
                Some(lens) if !lens.contains(&len) => {
                    return Err(to_io(Error::stream(format!(
                        "invalid multi-message {}:{len}",
                        code as u8
                    ))));
                }
                None if len >= MAX_TEXT_MSG => {
                    return Err(to_io(Error::stream(format!(
                        "multiplexing overflow {}:{len}",
                        code as u8
                    ))));
                }
                _ => {}
            }
            let mut payload = vec![0u8; len];
            self.raw_read_exact(&mut payload)?;
            (self.handler)(code, payload).map_err(to_io)?;
        }
    }

    /// Whether a read could be answered without touching the socket. Writers
    /// flush only before they would block on input, as upstream's
    /// perform_io() does; this keeps frame counts (and byte totals) alike.
    ///
    /// Only stream data counts: buffered message frames, or a frame cut
    /// short by the read, cannot answer a read, and treating them as if
    /// they could would skip the flush the peer is waiting for.
    pub fn has_buffered(&self) -> bool {
        if self.pos >= self.end {
            return false;
        }
        if !self.muxed || self.remaining > 0 {
            return true;
        }
        let mut p = self.pos;
        while p + 4 <= self.end {
            let hdr = u32::from_le_bytes([
                self.buf[p],
                self.buf[p + 1],
                self.buf[p + 2],
                self.buf[p + 3],
            ]);
            let tag = (hdr >> 24) as u8;
            let len = (hdr & 0x00ff_ffff) as usize;
            if tag == MPLEX_BASE && len > 0 {
                return p + 4 < self.end;
            }
            p += 4 + len;
        }
        false
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

impl<R: Read> Read for DemuxReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if !self.muxed {
            let n = self.raw_read(out)?;
            self.data_bytes += n as u64;
            return Ok(n);
        }
        if self.remaining == 0 && !self.next_data_frame()? {
            return Ok(0);
        }
        let want = out.len().min(self.remaining);
        let n = self.raw_read(&mut out[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.remaining -= n;
        self.data_bytes += n as u64;
        Ok(n)
    }
}

/// Carry a crate error through `io::Error`; `Error::from(io::Error)` unwraps it.
pub fn to_io(e: Error) -> io::Error {
    io::Error::other(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn decodes_upstream_frame_headers() {
        // MSG_DATA with 25 bytes and MSG_ERROR_EXIT(86) with 4 bytes, as
        // captured from rsync 3.5.0 (protocol map 3.1).
        let mut w = MuxWriter::new(Vec::new());
        w.start_mux().unwrap();
        w.write_all(&[1u8; 25]).unwrap();
        w.flush().unwrap();
        w.send_msg(MsgCode::ErrorExit, &[1, 0, 0, 0]).unwrap();
        let out = w.get_mut().clone();
        assert_eq!(&out[..4], &[0x19, 0, 0, 0x07]);
        assert_eq!(&out[29..33], &[4, 0, 0, 0x5d]);
    }

    #[test]
    fn messages_overtake_buffered_data() {
        // Upstream keeps messages in their own buffer and writes them before
        // pending stream data; the stream bytes themselves stay in order.
        let mut w = MuxWriter::new(Vec::new());
        w.start_mux().unwrap();
        w.write_all(b"abc").unwrap();
        w.send_msg(MsgCode::Info, b"hi\n").unwrap();
        w.flush().unwrap();
        let out = w.get_mut().clone();
        assert_eq!(&out[..4], &[3, 0, 0, 7 + 2]);
        assert_eq!(&out[7..11], &[3, 0, 0, 7]);
    }

    #[test]
    fn roundtrip_data_and_messages_in_order() {
        let mut w = MuxWriter::new(Vec::new());
        w.start_mux().unwrap();
        w.write_all(b"hello ").unwrap();
        w.send_msg(MsgCode::Info, b"note\n").unwrap();
        w.send_keepalive().unwrap();
        w.write_all(&vec![7u8; 100_000]).unwrap();
        w.flush().unwrap();
        let bytes = w.get_mut().clone();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let mut r = DemuxReader::new(
            &bytes[..],
            Box::new(move |c, p| {
                s2.lock().unwrap().push((c, p));
                Ok(())
            }),
        );
        r.start_mux();
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(&all[..6], b"hello ");
        assert_eq!(all.len(), 100_006);
        assert_eq!(
            seen.lock().unwrap().as_slice(),
            &[(MsgCode::Info, b"note\n".to_vec())]
        );
    }

    #[test]
    fn rejects_bad_tags_and_lengths() {
        let cases: Vec<Vec<u8>> = vec![
            vec![0, 0, 0, 0x06],            // tag below MPLEX_BASE
            vec![0, 0, 0, 7 + 50],          // unknown code
            vec![3, 0, 0, 7 + 22, 1, 2, 3], // MSG_IO_ERROR must be 4 bytes
            vec![0xff, 0xff, 0x00, 7 + 2],  // text too long
            vec![10, 0, 0, 7, 1, 2],        // truncated data frame
        ];
        for c in cases {
            let mut r = DemuxReader::new(&c[..], Box::new(|_, _| Ok(())));
            r.start_mux();
            let mut out = Vec::new();
            assert!(r.read_to_end(&mut out).is_err(), "{c:?}");
        }
    }
}
