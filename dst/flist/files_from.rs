//! `--files-from`: reading the list of names, and forwarding a local list to
//! a remote sender (upstream: io.c read_line(), forward_filesfrom_data(),
//! start_filesfrom_forwarding(); util1.c sanitize_path()). See
//! protocol-notes/relative-and-files-from.md.
//!
//! Names are read one at a time, so a list of any length costs memory for
//! one name only (the file list itself grows as usual).

use std::io::{self, Read, Write};

/// Longest name kept; longer lines are cut (read_line() with MAXPATHLEN).
const MAXPATHLEN: usize = 4096;

/// Reads names one by one, as read_line() does.
pub struct NameReader<R: Read> {
    inner: R,
    /// Names end at NUL (`-0`, or any list that comes over the socket)
    /// instead of CR or LF.
    eol_nulls: bool,
    /// A local list: empty lines and lines starting with '#' or ';' are
    /// skipped. Over the socket, an empty name ends the list instead.
    dump_comments: bool,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    eof: bool,
}

impl<R: Read> NameReader<R> {
    pub fn new(inner: R, eol_nulls: bool, dump_comments: bool) -> Self {
        NameReader {
            inner,
            eol_nulls,
            dump_comments,
            buf: vec![0u8; 64 * 1024].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
        }
    }

    /// For a list read from the socket, take only one byte at a time, so no
    /// protocol data after the list is consumed.
    fn byte(&mut self) -> io::Result<Option<u8>> {
        if self.pos == self.end {
            if self.eof {
                return Ok(None);
            }
            let want = if self.dump_comments {
                self.buf.len()
            } else {
                1
            };
            let n = loop {
                match self.inner.read(&mut self.buf[..want]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                self.eof = true;
                return Ok(None);
            }
            self.pos = 0;
            self.end = n;
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(Some(b))
    }

    /// The next name, or None at the end of the list (end of input, or an
    /// empty name when comments are not dumped).
    pub fn next_name(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let mut name = Vec::new();
            while let Some(c) = self.byte()? {
                let eol = if self.eol_nulls {
                    c == 0
                } else {
                    c == b'\r' || c == b'\n'
                };
                if eol {
                    if self.dump_comments && name.is_empty() {
                        continue;
                    }
                    break;
                }
                if name.len() < MAXPATHLEN - 1 {
                    name.push(c);
                }
            }
            if self.dump_comments && matches!(name.first(), Some(b'#' | b';')) {
                continue;
            }
            return Ok((!name.is_empty()).then_some(name));
        }
    }
}

/// Make a name from a list safe to use below the source directory
/// (sanitize_path() with no root): leading and repeated slashes go, ".."
/// never climbs above the start, and "." components go unless
/// `keep_dot_dirs` (`-R`, where "/./" marks the cut). Empty becomes ".".
pub fn sanitize_path(p: &[u8], keep_dot_dirs: bool) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(p.len());
    let mut i = 0;
    if !keep_dot_dirs {
        while p[i..].starts_with(b"./") {
            i += 2;
        }
    }
    while i < p.len() {
        if p[i] == b'/' {
            i += 1;
            continue;
        }
        if !keep_dot_dirs && p[i] == b'.' && matches!(p.get(i + 1), None | Some(b'/')) {
            i += 1;
            continue;
        }
        if p[i] == b'.' && p.get(i + 1) == Some(&b'.') && matches!(p.get(i + 2), None | Some(b'/'))
        {
            i += 2;
            if !out.is_empty() {
                // Back up one component (out ends with '/').
                out.pop();
                while out.last().is_some_and(|&c| c != b'/') {
                    out.pop();
                }
            }
            continue;
        }
        while i < p.len() {
            let c = p[i];
            out.push(c);
            i += 1;
            if c == b'/' {
                break;
            }
        }
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// Send a local list to the remote sender (forward_filesfrom_data()):
/// CR and LF become NUL unless `eol_nulls`, runs of NULs shrink to one, and
/// an empty name ends the list. Comments are not removed: a sender reading
/// names from the socket takes every line as a name.
pub fn forward_names<R: Read, W: Write + ?Sized>(
    mut src: R,
    w: &mut W,
    eol_nulls: bool,
) -> io::Result<()> {
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = Vec::with_capacity(buf.len());
    let mut last = 0u8;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.clear();
        for &c in &buf[..n] {
            let c = if !eol_nulls && (c == b'\n' || c == b'\r') {
                0
            } else {
                c
            };
            if c == 0 && last == 0 {
                continue;
            }
            out.push(c);
            last = c;
        }
        w.write_all(&out)?;
    }
    if last != 0 {
        w.write_all(b"\0\0")?;
    } else {
        w.write_all(b"\0")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(input: &[u8], nulls: bool, comments: bool) -> Vec<String> {
        let mut r = NameReader::new(input, nulls, comments);
        let mut v = Vec::new();
        while let Some(n) = r.next_name().unwrap() {
            v.push(String::from_utf8(n).unwrap());
        }
        v
    }

    #[test]
    fn reads_lines_like_read_line() {
        assert_eq!(
            names(b"a\n\n#c\n;d\nb/c\r\ne", false, true),
            ["a", "b/c", "e"]
        );
        assert_eq!(names(b"a\0#b\0\0c\0", true, true), ["a", "c"]);
        // From the socket an empty name ends the list.
        assert_eq!(names(b"a\0#b\0\0c\0", true, false), ["a", "#b"]);
    }

    #[test]
    fn sanitizes_like_upstream() {
        assert_eq!(sanitize_path(b"/etc/passwd", false), b"etc/passwd");
        assert_eq!(sanitize_path(b"../../x", false), b"x");
        assert_eq!(sanitize_path(b"a/../../b", false), b"b");
        assert_eq!(sanitize_path(b"a/b/../c/", false), b"a/c/");
        assert_eq!(sanitize_path(b"./a/./b", false), b"a/b");
        assert_eq!(sanitize_path(b"a/./b", true), b"a/./b");
        assert_eq!(sanitize_path(b"..", false), b".");
        assert_eq!(sanitize_path(b"//", false), b".");
    }

    #[test]
    fn forwards_with_one_nul_per_name() {
        let mut out = Vec::new();
        forward_names(&b"a\n\nb\r\n"[..], &mut out, false).unwrap();
        assert_eq!(out, b"a\0b\0\0");
        let mut out = Vec::new();
        forward_names(&b"a\0b"[..], &mut out, true).unwrap();
        assert_eq!(out, b"a\0b\0\0");
        let mut out = Vec::new();
        forward_names(&b""[..], &mut out, false).unwrap();
        assert_eq!(out, b"\0");
    }
}
