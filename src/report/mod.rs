//! Everything a user or a log file sees (upstream: log.c, progress.c, main.c).
//!
//! Roles never print: they hand text to a [`Logger`], which either prints it
//! (on the client, as upstream's rwrite() does for `!am_server`) or queues it
//! as a multiplexed message for whichever thread owns the socket writer (on
//! a server). This keeps the rule that exactly one thread writes a stream.
pub mod itemize;
pub mod list;
pub mod localtime;
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
        self.log_bytes(code, text.as_bytes());
    }

    /// A server that reported a per-file error ends with 23, as upstream's
    /// got_xfer_error makes it.
    pub fn server_xfer_error() -> bool {
        SERVER_XFER_ERROR.load(Ordering::Relaxed)
    }

    pub fn log_bytes(&self, code: LogCode, text: &[u8]) {
        match &self.sink {
            LogSink::Local(out) => {
                if code == LogCode::ErrorXfer {
                    out.got_xfer_error.store(true, Ordering::Relaxed);
                }
                print_local(code, text);
            }
            LogSink::Wire(tx, protocol) => {
                if code == LogCode::ErrorXfer {
                    SERVER_XFER_ERROR.store(true, Ordering::Relaxed);
                }
                let _ = tx.send((code.msg_code(*protocol), text.to_vec()));
            }
        }
    }

    /// `PROG: TEXT` error lines (rprintf(FERROR, "%s: ...")).
    pub fn error(&self, code: LogCode, text: &str) {
        self.log(code, &format!("{}: {}\n", self.prog, text));
    }
}

/// Set when this process, as a server, sent an error of the transfer.
static SERVER_XFER_ERROR: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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

/// Expand a per-item format (`--out-format`) for one item into a line,
/// with non-printable bytes escaped as upstream's output filter does.
pub fn format_item(
    fmt: &str,
    op: &str,
    file: &crate::flist::entry::FileEntry,
    iflags: u32,
    hlink: Option<&[u8]>,
    cfg: &crate::roles::OutputCfg,
    bytes: i64,
) -> Vec<u8> {
    let offset = localtime::utc_offset;
    let mut item = out_format::LogItem::new(file, iflags, op, &offset);
    item.hlink = hlink;
    item.am_sender = cfg.am_sender;
    item.data_written = bytes;
    item.data_read = bytes;
    item.pid = std::process::id();
    item.now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    item.itemize = itemize::ItemizeOpts {
        preserve_mtimes: cfg.preserve_times,
        receiver_symlink_times: cfg.receiver_symlink_times,
        sending: !cfg.local_server && op.starts_with('s'),
    };
    let mut line = out_format::format_item(fmt, &item);
    line.push(b'\n');
    // A remote server sends its lines raw and the printing client escapes
    // them (upstream's rwrite() order); an rsync client would otherwise
    // escape our escapes. In-process servers may print themselves.
    if cfg.am_server && !cfg.local_server {
        return line;
    }
    messages::escape_output(&line, output_charset())
}

/// A name as printed in messages: non-printable bytes escaped.
pub fn safe_name(name: &[u8]) -> String {
    String::from_utf8_lossy(&messages::escape_output(name, output_charset())).into_owned()
}

/// `-8`/`--8-bit-output`: bytes >= 0x80 print as they are (upstream then
/// skips its charset check; control bytes are still escaped).
static EIGHT_BIT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn set_eight_bit_output(on: bool) {
    EIGHT_BIT.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Which bytes print as themselves: upstream decides with the C library's
/// locale (setlocale(LC_CTYPE, "")); we read the same environment.
pub fn output_charset() -> messages::OutputCharset {
    if EIGHT_BIT.load(std::sync::atomic::Ordering::Relaxed) {
        return messages::OutputCharset::EightBit;
    }
    static CS: std::sync::OnceLock<messages::OutputCharset> = std::sync::OnceLock::new();
    *CS.get_or_init(|| {
        let loc = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if loc.contains("utf-8") || loc.contains("utf8") {
            messages::OutputCharset::Utf8
        } else {
            messages::OutputCharset::Ascii
        }
    })
}
