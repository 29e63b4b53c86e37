//! Local copies: the client is the sender, and a server thread plays the
//! receiving side, joined by an in-process socketpair that carries the real
//! protocol (upstream: pipe.c local_child(), main.c do_cmd()).
//!
//! There is one engine: this is the remote-shell pipeline with the remote
//! process replaced by a thread.

use super::filters::{base_list, client_rules, server_rules};
use super::transfer::{run_receiver, run_sender, RunResult};
use super::{client_info_letters, setup_protocol};
use crate::error::{Error, ExitCode, Result};
use crate::filter::FilterList;
use crate::options::Options;
use crate::report::{ClientOut, LogCode, LogSink, Logger};
use crate::roles::{client_msg_handler, Ctx, OutputCfg, Shared};
use crate::wire::mux::{DemuxReader, MsgCode, MsgHandler, MuxWriter};
use std::net::Shutdown;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::sync::Arc;

/// Handler for what the client sends to a server-side reader.
pub fn server_msg_handler(shared: Arc<Shared>) -> MsgHandler {
    Box::new(move |code, payload| {
        match code {
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
            MsgCode::Info | MsgCode::Error | MsgCode::ErrorXfer | MsgCode::Warning => {
                crate::report::print_local(LogCode::Error, &payload)
            }
            _ => {}
        }
        Ok(())
    })
}

/// The server half of a local copy: generator + receiver.
fn local_server(
    opts: Arc<Options>,
    sock: UnixStream,
    dest: Vec<u8>,
    rules: FilterList,
) -> Result<(RunResult, u32)> {
    let mut rsock = sock.try_clone()?;
    let mut wsock = sock;
    let neg = setup_protocol(
        &mut rsock,
        &mut wsock,
        &opts,
        true,
        Some(&client_info_letters(&opts, false)),
    )?;
    let (tx, rx) = mpsc::channel();
    let shared = Shared::new();
    let mut out = OutputCfg::new(&opts, true, false);
    out.local_server = true;
    let ctx = Ctx {
        out: Arc::new(out),
        opts,
        log: Logger {
            prog: String::new(),
            sink: LogSink::Wire(tx, neg.protocol),
        },
        am_server: true,
        shared: shared.clone(),
        filters: Arc::default(),
        neg,
    };
    let mut ctx = ctx;
    ctx.log.prog = ctx.opts.program_name.clone();
    let mut w = MuxWriter::new(wsock);
    w.start_mux()?;
    let mut r = DemuxReader::new(rsock, server_msg_handler(shared));
    if ctx.protocol() >= 30 {
        r.start_mux();
    }
    ctx.filters = Arc::new(server_rules(
        &mut r,
        rules,
        &ctx.opts,
        ctx.protocol(),
        true,
    )?);
    let abort_sock = w.get_mut().try_clone()?;
    let abort = move |_: &Error| {
        let _ = abort_sock.shutdown(Shutdown::Both);
    };
    let res = run_receiver(&ctx, &dest, &mut r, &mut w, Some(&rx), Some(&abort));
    if let Err(e) = &res {
        // The client prints the returned error itself; just end the
        // exchange as upstream's server would, then close the stream.
        if ctx.protocol() >= 31 {
            let _ = w.send_msg(MsgCode::ErrorExit, &e.code.0.to_le_bytes());
        }
        let _ = std::io::Write::flush(&mut w);
    }
    let _ = w.get_mut().shutdown(Shutdown::Both);
    // Like a forked child's exit status, the server half's io_error
    // (a --max-delete stop, say) counts for the run's exit code.
    res.map(|r| (r, ctx.shared.io_error()))
}

/// Run `gensync [opts] SRC... DEST` on this machine.
pub fn run_local(opts: Arc<Options>, out: Arc<ClientOut>) -> Result<(RunResult, Ctx)> {
    let mut opts_l = (*opts).clone();
    if opts_l.whole_file.is_none() {
        opts_l.whole_file = Some(true);
    }
    let opts = Arc::new(opts_l);
    // The client of a local copy is the sender, as upstream's is.
    super::liveness::set_role(crate::report::messages::Who::Sender);
    super::liveness::start(opts.timeout);
    let n = opts.operands.len();
    // A lone source is a listing (options.c: list_only |= 1).
    let (sources, dest) = if n == 1 {
        (opts.operands.clone(), Vec::new())
    } else {
        (
            opts.operands[..n - 1].to_vec(),
            opts.operands[n - 1].as_bytes().to_vec(),
        )
    };
    // Parsed once: `--exclude-from=-` reads stdin only once, and both
    // halves start from the same rules, as upstream's forked child does.
    let rules = base_list(
        &opts,
        opts.protocol.unwrap_or(crate::wire::PROTOCOL_VERSION),
    )?;
    let (a, b) = UnixStream::pair()?;
    // The receiving half never sees the names list: the sender reads it
    // (pipe.c local_child() drops filesfrom_fd in the child).
    // `--munge-links` is each side's own: the receiving half has none.
    // `--chmod` is applied by the sending half only.
    let server_opts = if opts.files_from.is_some() || opts.munge_links || opts.chmod.is_some() {
        Arc::new(Options {
            files_from: None,
            munge_links: false,
            chmod: None,
            ..(*opts).clone()
        })
    } else {
        opts.clone()
    };
    let server_rules_copy = rules.clone();
    let server = std::thread::spawn(move || local_server(server_opts, b, dest, server_rules_copy));

    let client = (|| {
        let mut rsock = a.try_clone()?;
        let mut wsock = a.try_clone()?;
        let neg = setup_protocol(&mut rsock, &mut wsock, &opts, false, None)?;
        let mut ctx = Ctx::client(opts.clone(), neg, out.clone(), true, true);
        let mut w = MuxWriter::new(super::limits::Throttled(wsock));
        if ctx.protocol() >= 30 {
            w.start_mux()?;
        }
        ctx.filters = Arc::new(client_rules(
            &mut w,
            rules,
            &opts,
            ctx.protocol(),
            true,
            true,
        )?);
        let mut r = DemuxReader::new(rsock, client_msg_handler(&ctx));
        r.start_mux();
        let res = run_sender(&ctx, &sources, &mut r, &mut w, None);
        Ok::<_, Error>((res, ctx))
    })();
    let _ = a.shutdown(Shutdown::Both);
    let server_res = server
        .join()
        .map_err(|_| Error::new(ExitCode::CRASHED, "server thread panicked"))?;
    let (client_res, ctx) = client?;
    match (client_res, server_res) {
        (Ok(r), Ok((_, io_error))) => {
            ctx.shared.add_io_error(io_error);
            Ok((r, ctx))
        }
        // The server's own error explains a client-side EOF best.
        (Err(ce), Err(se)) => {
            // A broken pipe on the client is the server's exit.
            if ce.quiet || ce.code == ExitCode::STREAMIO || ce.code == ExitCode::SOCKETIO {
                Err(se)
            } else {
                let mut ce = ce;
                ce.receiver_signalled = true;
                Err(ce)
            }
        }
        (Err(mut e), Ok(_)) => {
            e.receiver_signalled = !e.quiet && e.code != ExitCode::STREAMIO;
            Err(e)
        }
        (Ok(_), Err(e)) => Err(e),
    }
}
