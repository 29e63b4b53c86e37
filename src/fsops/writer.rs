//! Writing a received file's data (upstream: fileio.c write_file(),
//! write_sparse(), sparse_end(), skip_matched(); syscall.c do_fallocate(),
//! do_punch_hole()).
//!
//! Data arrives in file order. Without `-S` it is buffered and written in
//! large pieces; with `-S` runs of zeros become holes: a leading or trailing
//! run is deferred (it may join the next write's run) and an interior run of
//! at least [`SPARSE_WRITE_SIZE`] bytes is skipped with a seek, or punched out
//! when the blocks underneath are already allocated (in-place or
//! preallocated). The same syscalls as upstream are made, so the resulting
//! allocation (the `stat` block count) matches.

use nix::fcntl::{fallocate, FallocateFlags};
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;

/// Shortest interior run of zeros worth a hole.
pub const SPARSE_WRITE_SIZE: usize = 1024;
/// Size of the write buffer without `-S` (WRITE_SIZE * 8).
const WRITE_BUF: usize = 32 * 1024 * 8;

/// The receiver's output file and its write position state.
pub struct OutFile {
    pub f: File,
    sparse: bool,
    buf: Vec<u8>,
    /// Zeros deferred as a hole, not yet skipped over.
    sparse_seek: u64,
    /// Where the last real write ended (a hole before it must be punched
    /// when the blocks are allocated).
    sparse_past_write: u64,
    /// Bytes reserved by preallocation (or the basis length in place).
    pub preallocated_len: u64,
}

impl OutFile {
    pub fn new(f: File, sparse: bool) -> OutFile {
        OutFile {
            f,
            sparse,
            buf: Vec::new(),
            sparse_seek: 0,
            sparse_past_write: 0,
            preallocated_len: 0,
        }
    }

    /// syscall.c do_fallocate(): reserve `total` bytes. With holes to punch
    /// later the file takes the full size at once (a punch beyond EOF would
    /// do nothing); otherwise the size stays. The length is deliberately one
    /// off so the final truncate always runs. Returns the reserved length.
    pub fn preallocate(&mut self, total: u64, keep_size: bool) -> io::Result<u64> {
        let length = if total & 1 != 0 { total + 1 } else { total - 1 };
        let flags = if keep_size {
            FallocateFlags::FALLOC_FL_KEEP_SIZE
        } else {
            FallocateFlags::empty()
        };
        fallocate(self.f.as_raw_fd(), flags, 0, length as i64).map_err(io::Error::from)?;
        if keep_size {
            return Ok(length);
        }
        Ok(match self.f.metadata() {
            Ok(m) => m.blocks() * 512,
            Err(_) => length,
        })
    }

    /// Write `data`, which belongs at `offset` (the current position).
    /// `use_seek`: the bytes are already there (an in-place match at its own
    /// offset) and only need to be passed, or punched if they are zeros.
    pub fn write_at(&mut self, use_seek: bool, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.sparse {
            return self.write_sparse(use_seek, offset, data);
        }
        if use_seek {
            self.flush()?;
            self.f.seek(SeekFrom::Current(data.len() as i64))?;
            return Ok(());
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(WRITE_BUF);
        }
        let mut data = data;
        while !data.is_empty() {
            let n = data.len().min(WRITE_BUF - self.buf.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == WRITE_BUF {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Write out the buffer (flush_write_file()).
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.f.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn flush_hole(&mut self) -> io::Result<()> {
        if self.sparse_seek == 0 {
            return Ok(());
        }
        let n = std::mem::take(&mut self.sparse_seek);
        if self.sparse_past_write >= self.preallocated_len {
            self.f.seek(SeekFrom::Current(n as i64))?;
        } else {
            self.punch_hole(self.sparse_past_write, n)?;
        }
        Ok(())
    }

    /// syscall.c do_punch_hole(): the position must be at `pos` and ends at
    /// `pos + len`; zeros are written where punching is not possible.
    fn punch_hole(&mut self, pos: u64, len: u64) -> io::Result<()> {
        let fd = self.f.as_raw_fd();
        let punch = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
        if fallocate(fd, punch, pos as i64, len as i64).is_ok()
            || fallocate(
                fd,
                FallocateFlags::FALLOC_FL_ZERO_RANGE,
                pos as i64,
                len as i64,
            )
            .is_ok()
        {
            self.f.seek(SeekFrom::Current(len as i64))?;
            return Ok(());
        }
        let zeros = [0u8; 4096];
        let mut left = len as usize;
        while left > 0 {
            let n = left.min(zeros.len());
            self.f.write_all(&zeros[..n])?;
            left -= n;
        }
        Ok(())
    }

    fn emit_span(&mut self, use_seek: bool, data: &[u8]) -> io::Result<()> {
        self.flush_hole()?;
        if use_seek {
            self.f.seek(SeekFrom::Current(data.len() as i64))?;
            return Ok(());
        }
        self.f.write_all(data)
    }

    /// fileio.c write_sparse().
    fn write_sparse(&mut self, use_seek: bool, offset: u64, buf: &[u8]) -> io::Result<()> {
        let len = buf.len();
        let l1 = buf.iter().take_while(|&&b| b == 0).count();
        if l1 == len {
            self.sparse_seek += len as u64;
            return Ok(());
        }
        let l2 = buf[l1..].iter().rev().take_while(|&&b| b == 0).count();
        self.sparse_seek += l1 as u64;
        let (mut start, end) = (l1, len - l2);
        let mut i = l1;
        while i < end {
            if buf[i] != 0 {
                i += 1;
                continue;
            }
            let z = buf[i..end].iter().take_while(|&&b| b == 0).count();
            if z < SPARSE_WRITE_SIZE {
                i += z;
                continue;
            }
            if i > start {
                self.emit_span(use_seek, &buf[start..i])?;
                self.sparse_past_write = offset + i as u64;
            }
            self.sparse_seek += z as u64;
            i += z;
            start = i;
        }
        if end > start {
            self.emit_span(use_seek, &buf[start..end])?;
        }
        self.sparse_seek = l2 as u64;
        self.sparse_past_write = offset + (len - l2) as u64;
        Ok(())
    }

    /// The end of the data at `size` (sparse_end() or the final flush). In
    /// place, a deferred hole over old data is punched and the file cut to
    /// size; otherwise a trailing hole is made by setting the length.
    pub fn finish_data(&mut self, size: u64, updating_basis: bool) -> io::Result<()> {
        if !self.sparse {
            return self.flush();
        }
        let res = if updating_basis {
            // The old file may have been longer: cut it after any punch.
            let (pos, n) = (self.sparse_past_write, self.sparse_seek);
            let punched = if n > 0 {
                self.punch_hole(pos, n)
            } else {
                Ok(())
            };
            punched.and_then(|_| self.f.set_len(size))
        } else if self.sparse_seek > 0 {
            self.f.set_len(size)
        } else {
            Ok(())
        };
        self.sparse_past_write = 0;
        self.sparse_seek = 0;
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn roundtrip(sparse: bool, pieces: &[Vec<u8>]) -> (Vec<u8>, u64) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        let f = File::create(&p).unwrap();
        let mut o = OutFile::new(f, sparse);
        let mut off = 0u64;
        for piece in pieces {
            o.write_at(false, off, piece).unwrap();
            off += piece.len() as u64;
        }
        o.finish_data(off, false).unwrap();
        drop(o);
        let mut data = Vec::new();
        File::open(&p).unwrap().read_to_end(&mut data).unwrap();
        let blocks = std::fs::metadata(&p).unwrap().blocks();
        (data, blocks)
    }

    #[test]
    fn sparse_output_has_the_same_bytes_and_fewer_blocks() {
        let mut pieces = Vec::new();
        for i in 0..8u8 {
            let mut v = vec![0u8; 256 * 1024];
            v[100] = i + 1;
            pieces.push(v);
        }
        pieces.push(vec![0u8; 300_000]);
        let (plain, plain_blocks) = roundtrip(false, &pieces);
        let (sparse, sparse_blocks) = roundtrip(true, &pieces);
        assert_eq!(plain, sparse);
        assert_eq!(plain.len(), pieces.iter().map(Vec::len).sum::<usize>());
        assert!(
            sparse_blocks < plain_blocks / 4,
            "{sparse_blocks} vs {plain_blocks}"
        );
    }
}
