//! Error and warning lines and the escaping of everything printed
//! (upstream: log.c rwrite(), filtered_fwrite(), rsyserr(), log_exit();
//! rsync.c who_am_i()).
//!
//! Conventions of this crate, shared with `cli::exit_line()`:
//! - `prog` is the program name messages start with (the basename of
//!   argv[0]; upstream always writes "rsync").
//! - The exit line's `FILE(LINE)` cannot match upstream's source positions;
//!   we always print `main.rs(0)`, which keeps the `at NAME(DIGITS)` shape
//!   that log scrapers match.
//! - `VERSION` in `[WHO=VERSION]` is this crate's package version, so the
//!   line tells which implementation failed.

use crate::error::ExitCode;

/// Which process a message comes from (upstream who_am_i()).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Sender,
    Receiver,
    Generator,
    /// Before the roles are set up, on the client side.
    Client,
    /// Before the roles are set up, on the server side.
    Server,
    /// A receiver before the generator/receiver split (upstream's
    /// capitalised "Receiver").
    PreforkReceiver,
}

impl Who {
    pub fn as_str(self) -> &'static str {
        match self {
            Who::Sender => "sender",
            Who::Receiver => "receiver",
            Who::Generator => "generator",
            Who::Client => "client",
            Who::Server => "server",
            Who::PreforkReceiver => "Receiver",
        }
    }
}

/// The version shown in `[WHO=VERSION]`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `PROG: TEXT\n`, the common error/info line (upstream's
/// `rprintf(FERROR, "rsync: ...")`).
pub fn error_line(prog: &str, text: &str) -> String {
    format!("{prog}: {text}\n")
}

/// `PROG: [WHO] TEXT: STRERROR (ERRNO)\n` (upstream rsyserr()). `errno_text`
/// is "STRERROR (ERRNO)" as `crate::error::strerror()` makes it.
pub fn syserr_line(prog: &str, who: Who, text: &str, errno_text: &str) -> String {
    format!("{prog}: [{}] {text}: {errno_text}\n", who.as_str())
}

/// The closing line of a failed run (log.c log_exit()):
/// `PROG error: TEXT (code N) at main.rs(0) [WHO=VERSION]\n`, or
/// `PROG warning: ...` for code 24 (vanished files are only a warning).
/// Upstream prints it to stderr; for code 24 through the warning channel.
pub fn exit_line(prog: &str, code: ExitCode, who: Who) -> String {
    let kind = if code == ExitCode::VANISHED {
        "warning"
    } else {
        "error"
    };
    format!(
        "{prog} {kind}: {} (code {}) at main.rs(0) [{}={VERSION}]\n",
        code.text(),
        code.0,
        who.as_str()
    )
}

/// The line the log file gets at exit (log.c log_exit(), FLOG): plain
/// digits, no grouping. Upstream writes it when the run succeeded or on the
/// sender.
pub fn exit_log_line(total_written: i64, total_read: i64, total_size: i64) -> String {
    format!("sent {total_written} bytes  received {total_read} bytes  total size {total_size}\n")
}

/// What the terminal can show, which decides what gets escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputCharset {
    /// A UTF-8 locale: valid UTF-8 passes, every byte of an invalid or
    /// truncated sequence is escaped.
    Utf8,
    /// The C/POSIX locale (ASCII): every byte >= 0x80 is escaped.
    Ascii,
    /// `-8` / `--8-bit-output`: high bytes pass untouched.
    EightBit,
}

/// Escape one message for the terminal as upstream's rwrite() does: the
/// trailing '\n' or '\r' and a leading '\r' are kept as they are; in
/// between, control bytes other than TAB and bytes the charset cannot show
/// become `\#ooo` (three octal digits), and so does the backslash of a
/// literal `\#` followed by three digits, so escaped output stays
/// unambiguous. DEL (0x7f) passes.
pub fn escape_output(text: &[u8], charset: OutputCharset) -> Vec<u8> {
    escape_with(text, charset, true)
}

/// [`escape_output`] for text a peer sent. A gensync peer escapes its lines
/// before sending them, an rsync peer does not; escaping again everything
/// but an existing `\#ooo` makes both print the same. (A name that really
/// holds `\#ooo` from an rsync peer keeps its backslash unescaped.)
pub fn escape_remote(text: &[u8], charset: OutputCharset) -> Vec<u8> {
    escape_with(text, charset, false)
}

fn escape_with(text: &[u8], charset: OutputCharset, escape_literal: bool) -> Vec<u8> {
    let mut body = text;
    let mut trailing = None;
    if let Some((&last, rest)) = body.split_last() {
        if last == b'\n' || last == b'\r' {
            trailing = Some(last);
            body = rest;
        }
    }
    let mut out = Vec::with_capacity(text.len() + 8);
    if let Some((&b'\r', rest)) = body.split_first() {
        out.push(b'\r');
        body = rest;
    }
    let push_esc = |out: &mut Vec<u8>, b: u8| {
        out.extend_from_slice(format!("\\#{b:03o}").as_bytes());
    };
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        let escaped_literal = escape_literal
            && b == b'\\'
            && i + 4 < body.len()
            && body[i + 1] == b'#'
            && body[i + 2..i + 5].iter().all(u8::is_ascii_digit);
        if escaped_literal || (b < b' ' && b != b'\t') {
            push_esc(&mut out, b);
            i += 1;
            continue;
        }
        if b < 0x80 || charset == OutputCharset::EightBit {
            out.push(b);
            i += 1;
            continue;
        }
        if charset == OutputCharset::Utf8 {
            let n = utf8_char_len(&body[i..]);
            if n > 0 {
                out.extend_from_slice(&body[i..i + n]);
                i += n;
                continue;
            }
        }
        push_esc(&mut out, b);
        i += 1;
    }
    if let Some(t) = trailing {
        out.push(t);
    }
    out
}

/// Length of the valid UTF-8 sequence starting `s` (0 when invalid or
/// truncated).
fn utf8_char_len(s: &[u8]) -> usize {
    let n = match s[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return 0,
    };
    match s.get(..n) {
        Some(seq) if std::str::from_utf8(seq).is_ok() => n,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_lines() {
        // Upstream, recorded from rsync 3.5.0 (report-goldens.sh
        // "vanished/error"): "rsync error: some files/attrs were not
        // transferred (see previous errors) (code 23) at main.c(1394)
        // [sender=3.5.0]". Ours differs only in FILE(LINE) and VERSION.
        assert_eq!(
            exit_line("rsync", ExitCode::PARTIAL, Who::Sender),
            format!(
                "rsync error: some files/attrs were not transferred (see previous errors) \
                 (code 23) at main.rs(0) [sender={VERSION}]\n"
            )
        );
        assert_eq!(
            exit_line("gensync", ExitCode::VANISHED, Who::Generator),
            format!(
                "gensync warning: some files vanished before they could be transferred \
                 (code 24) at main.rs(0) [generator={VERSION}]\n"
            )
        );
        assert_eq!(
            exit_line("rsync", ExitCode::SYNTAX, Who::Client),
            format!(
                "rsync error: syntax or usage error (code 1) at main.rs(0) [client={VERSION}]\n"
            )
        );
        assert!(exit_line("x", ExitCode(99), Who::PreforkReceiver)
            .starts_with("x error: unexplained error (code 99) at main.rs(0) [Receiver="));
        assert_eq!(Who::Server.as_str(), "server");
        assert_eq!(Who::Receiver.as_str(), "receiver");
    }

    #[test]
    fn error_lines() {
        // rsync 3.5.0: "rsync: [sender] change_dir "/tmp/x/nonexistent-src"
        // failed: No such file or directory (2)".
        assert_eq!(
            syserr_line(
                "rsync",
                Who::Sender,
                "change_dir \"/tmp/x/nonexistent-src\" failed",
                "No such file or directory (2)"
            ),
            "rsync: [sender] change_dir \"/tmp/x/nonexistent-src\" failed: \
             No such file or directory (2)\n"
        );
        assert_eq!(error_line("rsync", "oops"), "rsync: oops\n");
        assert_eq!(
            exit_log_line(1234, 5, 67890),
            "sent 1234 bytes  received 5 bytes  total size 67890\n"
        );
    }

    // Recorded from rsync 3.5.0 (report-goldens.sh "escapes ..."): names
    // "ctl\001\tname\#123", "lat\351" and "utf\303\251\177".
    #[test]
    fn escapes_recorded() {
        let ctl = b">f+++++++++ ctl\x01\tname\\#123\n";
        assert_eq!(
            escape_output(ctl, OutputCharset::Utf8),
            b">f+++++++++ ctl\\#001\tname\\#134#123\n".to_vec()
        );
        assert_eq!(
            escape_output(b"lat\xe9\n", OutputCharset::Utf8),
            b"lat\\#351\n".to_vec()
        );
        assert_eq!(
            escape_output(b"utf\xc3\xa9\x7f\n", OutputCharset::Utf8),
            b"utf\xc3\xa9\x7f\n".to_vec()
        );
        // LC_ALL=C
        assert_eq!(
            escape_output(b"utf\xc3\xa9\x7f\n", OutputCharset::Ascii),
            b"utf\\#303\\#251\x7f\n".to_vec()
        );
        assert_eq!(
            escape_output(b"lat\xe9\n", OutputCharset::Ascii),
            b"lat\\#351\n".to_vec()
        );
        // -8
        assert_eq!(
            escape_output(b"lat\xe9\n", OutputCharset::EightBit),
            b"lat\xe9\n".to_vec()
        );
        assert_eq!(
            escape_output(ctl, OutputCharset::EightBit),
            b">f+++++++++ ctl\\#001\tname\\#134#123\n".to_vec()
        );
    }

    #[test]
    fn escape_edges() {
        // Progress lines keep their leading CR; a final CR is kept too.
        assert_eq!(
            escape_output(b"\r  12 100%\r", OutputCharset::Utf8),
            b"\r  12 100%\r".to_vec()
        );
        // Interior CR/LF are control bytes.
        assert_eq!(
            escape_output(b"a\nb\n", OutputCharset::Utf8),
            b"a\\#012b\n".to_vec()
        );
        // "\#12" (two digits) and "\#" at the end are not escape-like.
        assert_eq!(
            escape_output(b"\\#12", OutputCharset::Utf8),
            b"\\#12".to_vec()
        );
        assert_eq!(
            escape_output(b"\\#123", OutputCharset::Utf8),
            b"\\#134#123".to_vec()
        );
        // Truncated and invalid UTF-8: each bad byte is escaped.
        assert_eq!(
            escape_output(b"\xe2\x82x", OutputCharset::Utf8),
            b"\\#342\\#202x".to_vec()
        );
        assert_eq!(
            escape_output(b"\xed\xa0\x80", OutputCharset::Utf8),
            b"\\#355\\#240\\#200".to_vec()
        );
        assert_eq!(
            escape_output("\u{20ac}\u{1f600}".as_bytes(), OutputCharset::Utf8),
            "\u{20ac}\u{1f600}".as_bytes().to_vec()
        );
        assert_eq!(escape_output(b"", OutputCharset::Utf8), b"".to_vec());
    }
}
