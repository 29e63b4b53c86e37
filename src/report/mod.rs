//! Everything a user or a log file sees (upstream: log.c, progress.c, main.c).
//!
//! Roles never print: they hand text to a [`Logger`], which either prints it
//! (on the client, as upstream's rwrite() does for `!am_server`) or queues it
//! as a multiplexed message for whichever thread owns the socket writer (on
//! a server). This keeps the rule that exactly one thread writes a stream.
pub mod itemize;
pub mod list;
pub mod messages;
pub mod numbers;
pub mod out_format;
pub mod progress;
pub mod stats;

use crate::wire::mux::MsgCode;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// Where a line goes (upstream enum logcode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogCode {
    /// Informational, sent to the client when on a server.
    Info,
    /// Client-only output (never leaves a server).
    Client,
    /// An error about one transfer item: the run ends with code 23.
    ErrorXfer,
    Error,
    Warning,
}

impl LogCode {
    pub fn msg_code(self, protocol: u32) -> MsgCode {
        // Servers talking to pre-30 peers downgrade the codes (log.c rwrite()).
        match self {
            LogCode::Info | LogCode::Client => MsgCode::Info,
            LogCode::ErrorXfer => MsgCode::ErrorXfer,
            LogCode::Error if protocol < 30 => MsgCode::ErrorXfer,
            LogCode::Error => MsgCode::Error,
            LogCode::Warning if protocol < 30 => MsgCode::Info,
            LogCode::Warning => MsgCode::Warning,
        }
    }
}

/// Shared state of the client's output.
#[derive(Debug, Default)]
pub struct ClientOut {
    pub got_xfer_error: AtomicBool,
}

#[derive(Clone)]
pub enum LogSink {
    /// Print to our stdout/stderr (client side).
    Local(Arc<ClientOut>),
    /// Queue as a message for the socket writer (server side).
    Wire(Sender<(MsgCode, Vec<u8>)>, u32),
}

#[derive(Clone)]
pub struct Logger {
    pub prog: String,
    pub sink: LogSink,
}

impl Logger {
    pub fn is_client(&self) -> bool {
        matches!(self.sink, LogSink::Local(_))
    }

    /// Emit one line (the text must end in '\n' where upstream's does).
    pub fn log(&self, code: LogCode, text: &str) {
        match &self.sink {
            LogSink::Local(out) => {
                if code == LogCode::ErrorXfer {
                    out.got_xfer_error.store(true, Ordering::Relaxed);
                }
                print_local(code, text.as_bytes());
            }
            LogSink::Wire(tx, protocol) => {
                if code == LogCode::Client {
                    return;
                }
                let _ = tx.send((code.msg_code(*protocol), text.as_bytes().to_vec()));
            }
        }
    }

    /// `PROG: TEXT` error lines (rprintf(FERROR, "%s: ...")).
    pub fn error(&self, code: LogCode, text: &str) {
        self.log(code, &format!("{}: {}\n", self.prog, text));
    }
}

/// Print text that arrived from the peer or was produced locally.
pub fn print_local(code: LogCode, text: &[u8]) {
    match code {
        LogCode::Info | LogCode::Client => {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(text);
            let _ = o.flush();
        }
        _ => {
            // Keep stdout ahead of stderr, as upstream flushes before errors.
            let _ = std::io::stdout().flush();
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(text);
        }
    }
}

/// Expand a per-item format (`--out-format`) for one item.
/// Interim: %i %n %f %L %o %l %t-less subset; the full escape set lives in
/// `out_format` once integrated.
pub fn format_item(
    fmt: &str,
    op: &str,
    file: &crate::flist::entry::FileEntry,
    iflags: u32,
    hlink: Option<&[u8]>,
    cfg: &crate::roles::OutputCfg,
) -> Option<String> {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('i') => out.push_str(&itemize_str(iflags, file, op, cfg)),
            Some('n') => {
                out.push_str(&safe_name(&file.name));
                if file.is_dir() {
                    out.push('/');
                }
            }
            Some('f') => out.push_str(&safe_name(&file.name)),
            Some('L') => {
                if let Some(h) = hlink {
                    out.push_str(" => ");
                    out.push_str(&safe_name(h));
                } else if let Some(t) = &file.link_target {
                    out.push_str(" -> ");
                    out.push_str(&safe_name(t));
                }
            }
            Some('o') => out.push_str(op),
            Some('l') => out.push_str(&file.size.to_string()),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out.push('\n');
    Some(out)
}

/// Non-printable bytes as `\#ooo` (log.c filtered_fwrite()).
pub fn safe_name(name: &[u8]) -> String {
    let mut s = String::new();
    let text = String::from_utf8_lossy(name);
    for ch in text.chars() {
        if (ch as u32) < 0x20 || ch as u32 == 0x7f {
            s.push_str(&format!("\\#{:03o}", ch as u32));
        } else {
            s.push(ch);
        }
    }
    s
}

fn itemize_str(
    iflags: u32,
    file: &crate::flist::entry::FileEntry,
    op: &str,
    cfg: &crate::roles::OutputCfg,
) -> String {
    use crate::flist::entry::FileType;
    use crate::wire::item::*;
    if iflags & DELETED != 0 {
        return "*deleting  ".to_string();
    }
    let mut c = [b'.'; 11];
    c[0] = if iflags & LOCAL_CHANGE != 0 {
        if iflags & XNAME_FOLLOWS != 0 {
            b'h'
        } else {
            b'c'
        }
    } else if iflags & TRANSFER == 0 {
        b'.'
    } else if !cfg.local_server && op.starts_with('s') {
        b'<'
    } else {
        b'>'
    };
    let ft = file.file_type();
    if ft == Some(FileType::Symlink) {
        c[1] = b'L';
        c[3] = b'.';
        c[4] = if iflags & REPORT_TIME == 0 {
            b'.'
        } else if !cfg.preserve_times || iflags & REPORT_TIMEFAIL != 0 {
            b'T'
        } else {
            b't'
        };
    } else {
        c[1] = match ft {
            Some(FileType::Dir) => b'd',
            Some(FileType::Fifo) | Some(FileType::Socket) => b'S',
            Some(FileType::CharDev) | Some(FileType::BlockDev) => b'D',
            _ => b'f',
        };
        c[3] = if iflags & REPORT_SIZE != 0 {
            b's'
        } else {
            b'.'
        };
        c[4] = if iflags & REPORT_TIME == 0 {
            b'.'
        } else if !cfg.preserve_times {
            b'T'
        } else {
            b't'
        };
    }
    c[2] = if iflags & REPORT_CHANGE != 0 {
        b'c'
    } else {
        b'.'
    };
    c[5] = if iflags & REPORT_PERMS != 0 {
        b'p'
    } else {
        b'.'
    };
    c[6] = if iflags & REPORT_OWNER != 0 {
        b'o'
    } else {
        b'.'
    };
    c[7] = if iflags & REPORT_GROUP != 0 {
        b'g'
    } else {
        b'.'
    };
    c[8] = match (iflags & REPORT_ATIME != 0, iflags & REPORT_CRTIME != 0) {
        (true, true) => b'b',
        (true, false) => b'u',
        (false, true) => b'n',
        _ => b'.',
    };
    c[9] = if iflags & REPORT_ACL != 0 { b'a' } else { b'.' };
    c[10] = if iflags & REPORT_XATTR != 0 {
        b'x'
    } else {
        b'.'
    };
    if iflags & (IS_NEW | MISSING_DATA) != 0 {
        let ch = if iflags & IS_NEW != 0 { b'+' } else { b'?' };
        for x in c.iter_mut().skip(2) {
            *x = ch;
        }
    } else if matches!(c[0], b'.' | b'h' | b'c') && c[2..].iter().all(|&x| x == b'.') {
        for x in c.iter_mut().skip(2) {
            *x = b' ';
        }
    }
    String::from_utf8_lossy(&c).into_owned()
}
