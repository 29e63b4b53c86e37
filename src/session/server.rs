//! `--server` mode: the far end of a remote-shell connection, on stdin and
//! stdout (upstream: main.c start_server(), do_server_sender(),
//! do_server_recv()).

use super::liveness::{self, Clocked};
use super::setup_protocol;
use super::transfer::{run_receiver, run_sender};
use crate::error::{Error, ExitCode};
use crate::options::Options;
use crate::report::messages::Who;
use crate::report::{LogSink, Logger};
use crate::roles::{Ctx, OutputCfg, Shared};
use crate::wire::mux::{DemuxReader, MsgCode, MuxWriter};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::sync::{mpsc, Arc};

pub fn run_server(opts: Options) -> ExitCode {
    // Raw descriptors: the protocol is binary and does its own buffering.
    use std::os::fd::AsFd;
    let (Ok(stdin), Ok(stdout)) = (
        std::io::stdin().as_fd().try_clone_to_owned(),
        std::io::stdout().as_fd().try_clone_to_owned(),
    ) else {
        return ExitCode::IPC;
    };
    // A client may hand us non-blocking descriptors (rsync's own client
    // does); our I/O is blocking, so clear O_NONBLOCK first.
    for fd in [&stdin, &stdout] {
        use nix::fcntl::{fcntl, FcntlArg, OFlag};
        use std::os::fd::AsRawFd;
        if let Ok(fl) = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL) {
            let fl = OFlag::from_bits_truncate(fl) & !OFlag::O_NONBLOCK;
            let _ = fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(fl));
        }
    }
    serve(
        opts,
        std::fs::File::from(stdin),
        std::fs::File::from(stdout),
        None,
    )
}

/// Serve one client on `r`/`w` (stdio for a remote shell, the socket
/// for a daemon module). `refused` is an error the daemon found in the
/// client's arguments: it is reported over the protocol once that is set
/// up, as upstream's rsync_module() does, and the run ends.
pub fn serve<R: std::io::Read + Send, W: std::io::Write + Send>(
    opts: Options,
    r: R,
    w: W,
    refused: Option<Error>,
) -> ExitCode {
    let pre_refused = refused.is_some();
    let prog = opts.program_name.clone();
    let mut stdin = Clocked(r);
    let mut stdout = Clocked(w);
    liveness::set_role(if opts.sender {
        Who::Sender
    } else {
        Who::Receiver
    });
    liveness::start(opts.timeout);
    let client_info = opts
        .rsh
        .clone()
        .filter(|s| s.starts_with('.'))
        .unwrap_or_default();
    let opts = Arc::new(opts);
    let neg = match setup_protocol(&mut stdin, &mut stdout, &opts, true, Some(&client_info)) {
        Ok(n) => n,
        Err(e) => {
            liveness::claim_exit();
            super::print_error(&prog, &e);
            eprint!(
                "{}",
                crate::report::messages::exit_line(&prog, e.code, liveness::role())
            );
            return e.code;
        }
    };
    let (tx, rx) = mpsc::channel();
    let shared = Shared::new();
    let ctx = Ctx {
        out: Arc::new(OutputCfg::new(&opts, true, opts.sender)),
        opts: opts.clone(),
        log: Logger {
            prog: prog.clone(),
            sink: LogSink::Wire(tx, neg.protocol),
        },
        am_server: true,
        shared: shared.clone(),
        filters: Arc::default(),
        neg,
    };
    let mut ctx = ctx;
    let mut w = MuxWriter::new(stdout);
    let mut r = DemuxReader::new(stdin, super::local::server_msg_handler(shared));
    let res = (|| {
        if ctx.protocol() >= 23 {
            w.start_mux()?;
        }
        // A daemon sender reads the client's filter list before it says
        // "module is write only" (upstream's start_server() order), so the
        // client is not cut off mid-write; other refusals come first.
        let mut refused = refused;
        if refused
            .as_ref()
            .is_some_and(|e| !(opts.sender && e.code != ExitCode::UNSUPPORTED))
        {
            return Err(refused.take().expect("checked above"));
        }
        // main.c start_server(): a sender hears the generator's messages
        // from protocol 30, or for --remove-source-files.
        if ctx.protocol() >= 30 || (opts.sender && opts.remove_source_files > 0) {
            r.start_mux();
        }
        let args: Vec<_> = opts.operands.iter().skip(1).cloned().collect();
        let base = super::filters::base_list(&opts, ctx.protocol())?;
        ctx.filters = Arc::new(super::filters::server_rules(
            &mut r,
            base,
            &opts,
            ctx.protocol(),
            false,
        )?);
        if let Some(e) = refused {
            return Err(e);
        }
        if opts.sender {
            run_sender(&ctx, &args, &mut r, &mut w, Some(&rx))?;
        } else {
            let dest = args
                .first()
                .map(|a| a.as_bytes().to_vec())
                .unwrap_or_else(|| b".".to_vec());
            let prog = prog.clone();
            let abort = move |e: &Error| super::exit_now(&prog, e);
            run_receiver(&ctx, &dest, &mut r, &mut w, Some(&rx), Some(&abort))?;
        }
        Ok::<_, Error>(())
    })();
    while let Ok((code, text)) = rx.try_recv() {
        let _ = w.send_msg(code, &text);
    }
    liveness::claim_exit();
    match res {
        Ok(()) => {
            let _ = w.flush();
            crate::error::IoError(ctx.shared.io_error())
                .exit_code(crate::report::Logger::server_xfer_error())
        }
        Err(e) => {
            crate::fsops::tempfile::cleanup_all();
            // A refused option ends a daemon sender without its exit line
            // (upstream's rsync_module() path); read/write-only refusals
            // end like any server error.
            let option_refusal = pre_refused && e.code == ExitCode::UNSUPPORTED;
            if !e.quiet && opts.daemon {
                // A daemon has no stderr the client sees: the error and
                // the exit line travel as MSG_ERROR, a line each. A daemon
                // sender refusing the arguments says only why (upstream's
                // log_exit() line stays in its log).
                let text = super::error_text(&prog, &e).unwrap_or_default();
                let _ = w.send_msg(MsgCode::Error, text.as_bytes());
                if !(option_refusal && opts.sender) {
                    let who = match (pre_refused, opts.sender) {
                        (true, true) => Who::Sender,
                        (true, false) => Who::PreforkReceiver,
                        _ => liveness::role(),
                    };
                    let line = crate::report::messages::exit_line(&prog, e.code, who);
                    let _ = w.send_msg(MsgCode::Error, line.as_bytes());
                }
            } else if !e.quiet {
                // Errors go to our stderr, which the remote shell relays
                // (the --stderr=errors default of 3.2.3+).
                super::print_error(&prog, &e);
                eprint!(
                    "{}",
                    crate::report::messages::exit_line(&prog, e.code, liveness::role())
                );
            }
            if ctx.protocol() >= 31
                && e.code != ExitCode::STREAMIO
                && !(option_refusal && opts.sender)
            {
                let _ = w.send_msg(MsgCode::ErrorExit, &e.code.0.to_le_bytes());
            }
            let _ = w.flush();
            e.code
        }
    }
}
