//! Errors and rsync exit codes.
//!
//! Rules for this crate (upstream: errcode.h, log.c rerr_names[]):
//! - A fatal condition is a [`Error`]; it carries the [`ExitCode`] the process
//!   must end with. Every public function that can fail returns `crate::Result`.
//! - Per-file problems are *not* errors: roles report them through
//!   `report::Report` and set [`IoError`] bits, so the run continues and ends
//!   with 23, 24 or 25 as upstream does.
//! - The wire codec returns `Error` built from [`Error::protocol`] /
//!   [`Error::stream`]; a value from the peer never panics.
//! - No `anyhow`: the exit code must survive every conversion.

use std::fmt;
use std::io;

/// Upstream exit codes (errcode.h). Values are part of the command-line interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExitCode(pub i32);

impl ExitCode {
    pub const OK: ExitCode = ExitCode(0);
    pub const SYNTAX: ExitCode = ExitCode(1);
    pub const PROTOCOL: ExitCode = ExitCode(2);
    pub const FILESELECT: ExitCode = ExitCode(3);
    pub const UNSUPPORTED: ExitCode = ExitCode(4);
    pub const STARTCLIENT: ExitCode = ExitCode(5);
    pub const SOCKETIO: ExitCode = ExitCode(10);
    pub const FILEIO: ExitCode = ExitCode(11);
    pub const STREAMIO: ExitCode = ExitCode(12);
    pub const MESSAGEIO: ExitCode = ExitCode(13);
    pub const IPC: ExitCode = ExitCode(14);
    pub const CRASHED: ExitCode = ExitCode(15);
    pub const TERMINATED: ExitCode = ExitCode(16);
    pub const SIGNAL1: ExitCode = ExitCode(19);
    pub const SIGNAL: ExitCode = ExitCode(20);
    pub const WAITCHILD: ExitCode = ExitCode(21);
    pub const MALLOC: ExitCode = ExitCode(22);
    pub const PARTIAL: ExitCode = ExitCode(23);
    pub const VANISHED: ExitCode = ExitCode(24);
    pub const DEL_LIMIT: ExitCode = ExitCode(25);
    pub const TIMEOUT: ExitCode = ExitCode(30);
    pub const CONTIMEOUT: ExitCode = ExitCode(35);
    pub const CMD_FAILED: ExitCode = ExitCode(124);
    pub const CMD_KILLED: ExitCode = ExitCode(125);
    pub const CMD_RUN: ExitCode = ExitCode(126);
    pub const CMD_NOTFOUND: ExitCode = ExitCode(127);

    /// The text upstream prints in "rsync error: TEXT (code N)".
    pub fn text(self) -> &'static str {
        match self.0 {
            1 => "syntax or usage error",
            2 => "protocol incompatibility",
            3 => "errors selecting input/output files, dirs",
            4 => "requested action not supported",
            5 => "error starting client-server protocol",
            10 => "error in socket IO",
            11 => "error in file IO",
            12 => "error in rsync protocol data stream",
            13 => "errors with program diagnostics",
            14 => "error in IPC code",
            15 => "sibling process crashed",
            16 => "sibling process terminated abnormally",
            19 => "received SIGUSR1",
            20 => "received SIGINT, SIGTERM, or SIGHUP",
            21 => "waitpid() failed",
            22 => "error allocating core memory buffers",
            23 => "some files/attrs were not transferred (see previous errors)",
            24 => "some files vanished before they could be transferred",
            25 => "the --max-delete limit stopped deletions",
            30 => "timeout in data send/receive",
            35 => "timeout waiting for daemon connection",
            124 => "remote shell failed",
            125 => "remote shell killed",
            126 => "remote command could not be run",
            127 => "remote command not found",
            _ => "unexplained error",
        }
    }
}

/// io_error bits exchanged on the wire (rsync.h IOERR_*).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoError(pub u32);

impl IoError {
    pub const GENERAL: u32 = 1;
    pub const VANISHED: u32 = 2;
    pub const DEL_LIMIT: u32 = 4;
    pub const VALID_MASK: u32 = 7;

    /// Exit code implied by the bits alone (cleanup.c _exit_cleanup(): the last
    /// match wins, so 23 beats 24 beats 25).
    pub fn exit_code(self, got_xfer_error: bool) -> ExitCode {
        let mut code = ExitCode::OK;
        if self.0 & Self::DEL_LIMIT != 0 {
            code = ExitCode::DEL_LIMIT;
        }
        if self.0 & Self::VANISHED != 0 {
            code = ExitCode::VANISHED;
        }
        if self.0 & Self::GENERAL != 0 || got_xfer_error {
            code = ExitCode::PARTIAL;
        }
        code
    }
}

/// A fatal error: message plus the exit code it maps to.
#[derive(Debug)]
pub struct Error {
    pub code: ExitCode,
    pub msg: String,
    /// Set when the message was already shown (for example it came from the
    /// peer, or the peer ended with MSG_ERROR_EXIT): print no second line.
    pub quiet: bool,
    /// Printed as is, without the "PROG: " prefix (upstream prints some
    /// option errors with a bare rprintf()).
    pub bare: bool,
    /// A local copy's sender failed while the receiving half was running:
    /// upstream's forked receiver is then stopped with SIGUSR1 and says so
    /// after the sender's exit line.
    pub receiver_signalled: bool,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: ExitCode, msg: impl Into<String>) -> Error {
        Error {
            code,
            msg: msg.into(),
            quiet: false,
            bare: false,
            receiver_signalled: false,
        }
    }
    pub fn syntax(msg: impl Into<String>) -> Error {
        Error::new(ExitCode::SYNTAX, msg)
    }
    /// Invalid value from the peer (RERR_PROTOCOL).
    pub fn protocol(msg: impl Into<String>) -> Error {
        Error::new(ExitCode::PROTOCOL, msg)
    }
    /// Broken data stream (RERR_STREAMIO).
    pub fn stream(msg: impl Into<String>) -> Error {
        Error::new(ExitCode::STREAMIO, msg)
    }
    pub fn unsupported(msg: impl Into<String>) -> Error {
        Error::new(ExitCode::UNSUPPORTED, msg)
    }
    pub fn quiet(code: ExitCode) -> Error {
        Error {
            code,
            msg: String::new(),
            quiet: true,
            bare: false,
            receiver_signalled: false,
        }
    }
    /// An error whose text upstream prints without the program prefix.
    pub fn bare(code: ExitCode, msg: impl Into<String>) -> Error {
        Error {
            code,
            msg: msg.into(),
            quiet: false,
            bare: true,
            receiver_signalled: false,
        }
    }
    /// A copy to hand to another thread (io::Error is not Clone).
    pub fn duplicate(&self) -> Error {
        Error {
            code: self.code,
            msg: self.msg.clone(),
            quiet: self.quiet,
            bare: self.bare,
            receiver_signalled: self.receiver_signalled,
        }
    }
    pub fn exit_code(&self) -> ExitCode {
        self.code
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}

/// The message of a peer that went away; the client adds the byte count
/// and the role when it prints it (io.c whine_about_eof()).
pub const CONNECTION_CLOSED: &str = "connection unexpectedly closed";
/// A write to a peer that went away; printed with the role in front.
pub const WRITE_EPIPE: &str = "write error: Broken pipe (32)";

impl From<io::Error> for Error {
    /// An I/O error on a protocol stream. EOF is "connection unexpectedly
    /// closed"; everything else is a stream error too (code 12).
    fn from(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|i| i.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(err) = inner.downcast::<Error>() {
                    return *err;
                }
            }
            return Error::stream("error in rsync protocol data stream");
        }
        // A peer that went away shows up as EOF on a read, or as EPIPE on a
        // write, which upstream reports as a socket error (io.c
        // perform_io(): "write error", code 10).
        if e.kind() == io::ErrorKind::BrokenPipe {
            Error::new(ExitCode::SOCKETIO, WRITE_EPIPE)
        } else if matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ) {
            Error::stream(CONNECTION_CLOSED)
        } else {
            Error::stream(format!("error in rsync protocol data stream: {e}"))
        }
    }
}

/// "STRERROR (ERRNO)" as upstream's rsyserr() prints it.
/// The system's text for an error alone, as C's strerror() (no number).
pub fn strerror_plain(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => format!("{e}"),
    }
}

pub fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let s = nix::errno::Errno::from_raw(n).desc();
            format!("{s} ({n})")
        }
        None => format!("{e}"),
    }
}
