//! Upstream's three roles as threads: the sender, and on the receiving side
//! the generator (owns the socket writer) and the receiver (owns the socket
//! reader). See README "Architecture" and protocol-notes/phases-and-redo.md.
//!
//! Deadlock rule, upheld here: exactly one thread writes each stream, and the
//! receiver never blocks on anything but its socket and the disk; it talks to
//! the generator through an unbounded channel.

pub mod backup;
pub mod dest;
pub mod flist_recv;
pub mod flist_send;
pub mod generator;
pub mod limits;
pub mod logging;
pub mod receiver;
pub mod sender;

use crate::error::{Error, ExitCode, IoError, Result};
use crate::options::Options;
use crate::report::stats::Stats;
use crate::report::{print_local, LogCode, Logger};
use crate::session::Negotiated;
use crate::wire::int::read_varint_bounded;
use crate::wire::mux::{MsgCode, MsgHandler};
use crate::wire::ndx::{NdxCodec, NDX_DEL_STATS, NDX_DONE};
use std::io::Read;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

pub use logging::OutputCfg;

/// State shared by the threads of one side.
#[derive(Debug, Default)]
pub struct Shared {
    /// io_error bits (IOERR_*) seen so far.
    pub io_error: AtomicU32,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared::default())
    }
    pub fn add_io_error(&self, bits: u32) {
        self.io_error
            .fetch_or(bits & IoError::VALID_MASK, Ordering::Relaxed);
    }
    pub fn io_error(&self) -> u32 {
        self.io_error.load(Ordering::Relaxed)
    }
}

/// Everything a role needs besides its streams.
#[derive(Clone)]
pub struct Ctx {
    pub opts: Arc<Options>,
    pub neg: Negotiated,
    pub log: Logger,
    pub am_server: bool,
    pub out: Arc<OutputCfg>,
    pub shared: Arc<Shared>,
    /// This side's filter rules, after the exchange.
    pub filters: Arc<crate::filter::FilterList>,
}

impl Ctx {
    /// The client's context once the handshake is done (local copy or
    /// remote shell alike).
    pub fn client(
        opts: Arc<Options>,
        neg: Negotiated,
        out: Arc<crate::report::ClientOut>,
        am_sender: bool,
        local_server: bool,
    ) -> Ctx {
        let mut cfg = OutputCfg::new(&opts, false, am_sender);
        cfg.local_server = local_server;
        // A sender learns whether the receiver sets symlink times from
        // CF_SYMLINK_TIMES (protocol >= 30); a receiving client shows `t`
        // from protocol 29 up and `T` below, as rsync 3.5.0 does.
        cfg.receiver_symlink_times = if am_sender {
            neg.compat_flags & crate::wire::CF_SYMLINK_TIMES != 0
        } else {
            neg.protocol >= 29
        };
        Ctx {
            out: Arc::new(cfg),
            log: Logger {
                prog: opts.program_name.clone(),
                sink: crate::report::LogSink::Local(out),
            },
            opts,
            am_server: false,
            shared: Shared::new(),
            filters: Arc::default(),
            neg,
        }
    }

    pub fn protocol(&self) -> u32 {
        self.neg.protocol
    }
    pub fn max_phase(&self) -> i32 {
        if self.protocol() >= 29 {
            2
        } else {
            1
        }
    }
}

/// Handler for messages arriving on a client's input stream: print text,
/// collect io_error, honour MSG_ERROR_EXIT (io.c read_a_msg()).
fn remote_text(payload: &[u8]) -> Vec<u8> {
    crate::report::messages::escape_remote(payload, crate::report::output_charset())
}

pub fn client_msg_handler(ctx: &Ctx) -> MsgHandler {
    let shared = ctx.shared.clone();
    let out = ctx.out.clone();
    let log = ctx.log.clone();
    Box::new(move |code, payload| {
        match code {
            // The peer sends its text raw; like upstream's rwrite(), the
            // printing side escapes what the terminal should not see (a
            // newline inside a name, say), keeping the line's own end.
            MsgCode::Info => print_local(LogCode::Info, &remote_text(&payload)),
            MsgCode::ErrorXfer => {
                if let crate::report::LogSink::Local(o) = &log.sink {
                    o.got_xfer_error.store(true, Ordering::Relaxed);
                }
                print_local(LogCode::ErrorXfer, &remote_text(&payload))
            }
            MsgCode::Error | MsgCode::Warning => {
                print_local(LogCode::Error, &remote_text(&payload))
            }
            MsgCode::Deleted => {
                let (name, is_dir) = match payload.split_last() {
                    Some((0, rest)) => (rest.to_vec(), true),
                    _ => (payload.clone(), false),
                };
                let mode = if is_dir { 0o040000 } else { 0o100000 };
                out.log_delete(&log, &name, mode);
            }
            MsgCode::IoError => {
                let v = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
                shared.add_io_error(v);
            }
            MsgCode::ErrorExit => {
                let c = if payload.len() == 4 {
                    i32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]])
                } else {
                    0
                };
                return Err(Error::quiet(ExitCode(c)));
            }
            MsgCode::IoTimeout => {
                // Length checked by the demuxer (4 bytes).
                let v = i32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
                crate::session::liveness::peer_timeout(v);
            }
            MsgCode::Noop | MsgCode::Success | MsgCode::NoSend => {}
            other => {
                return Err(Error::stream(format!(
                    "unexpected tag {} [{}]",
                    other as u8,
                    if log.is_client() { "client" } else { "server" }
                )))
            }
        }
        Ok(())
    })
}

/// Read an ndx, consuming NDX_DEL_STATS records inline (rsync.c
/// read_ndx_and_attrs() head). Returns the ndx and, when one was read, the
/// deletion counts.
pub fn read_ndx_skip_del_stats<R: Read + ?Sized>(
    r: &mut R,
    codec: &mut NdxCodec,
    mut on_del_stats: impl FnMut([i64; 5]) -> Result<()>,
) -> Result<i32> {
    loop {
        let ndx = codec.read(r)?;
        if ndx == NDX_DEL_STATS {
            on_del_stats(read_del_stats(r)?)?;
            continue;
        }
        if ndx < 0 && ndx != NDX_DONE {
            return Err(Error::protocol(format!("Invalid file index: {ndx}")));
        }
        return Ok(ndx);
    }
}

/// The five counts after NDX_DEL_STATS (main.c read_del_stats()), each
/// bounded as 3.5.0 bounds them.
pub fn read_del_stats<R: Read + ?Sized>(r: &mut R) -> Result<[i64; 5]> {
    let mut v = [0i64; 5];
    for slot in v.iter_mut() {
        *slot = read_varint_bounded(r, 0, 1 << 28, "deleted-file count")? as i64;
    }
    Ok(v)
}

/// Add deletion counts to the totals.
pub fn apply_del_stats(stats: &mut Stats, v: [i64; 5]) {
    stats.deleted_files = v.iter().sum();
    stats.deleted_dirs = v[1];
    stats.deleted_symlinks = v[2];
    stats.deleted_devices = v[3];
    stats.deleted_specials = v[4];
}
