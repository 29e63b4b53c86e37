//! Command line: argv -> Options -> mode dispatch (upstream: options.c,
//! main.c main(), start_client(), client_run()).
pub mod help;
pub mod limits;
pub mod option_table;
pub mod options_build;
pub mod parse;

use crate::error::{Error, ExitCode, IoError};
use crate::options::Options;
use crate::report::{ClientOut, LogCode};
use crate::session;
use parse::{parse_args, Action};
use std::ffi::OsString;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The name messages use as their prefix: the basename of argv[0].
fn program_name(argv0: Option<&OsString>) -> String {
    argv0
        .and_then(|a| {
            std::path::Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "gensync".to_string())
}

/// The closing "PROG error: TEXT (code N) at FILE(LINE) [WHO=VERSION]" line.
pub fn exit_line(prog: &str, code: ExitCode, who: &str) -> String {
    use crate::report::messages::{exit_line, Who};
    let who = match who {
        "sender" => Who::Sender,
        "receiver" => Who::Receiver,
        "Receiver" => Who::PreforkReceiver,
        "generator" => Who::Generator,
        "server" => Who::Server,
        _ => Who::Client,
    };
    exit_line(prog, code, who)
}

pub fn run(args: Vec<OsString>) -> ExitCode {
    let prog = program_name(args.first());
    crate::session::signals::install_for(&prog);
    let action = match parse_args(args.get(1..).unwrap_or(&[]), &prog) {
        Ok(a) => a,
        Err(e) => {
            if e.bare {
                eprint!("{}\n{}", e.msg, exit_line(&prog, e.code, "client"));
            } else {
                eprint!("{prog}: {}\n{}", e.msg, exit_line(&prog, e.code, "client"));
            }
            return e.code;
        }
    };
    let action = match action {
        Action::Run(opts) if opts.server && opts.protect_args => {
            match read_secluded_args().and_then(|words| {
                let mut all: Vec<OsString> = args.get(1..).unwrap_or(&[]).to_vec();
                all.extend(words.into_iter().skip(1));
                parse_args(&all, &prog)
            }) {
                Ok(a) => a,
                Err(e) => {
                    eprint!("{prog}: {}\n{}", e.msg, exit_line(&prog, e.code, "server"));
                    return e.code;
                }
            }
        }
        other => other,
    };
    match action {
        Action::Help => {
            print!("{}", help::help_text(&prog));
            ExitCode::OK
        }
        Action::Version => {
            print!("{}", help::version_text());
            ExitCode::OK
        }
        Action::VersionJson => {
            print!("{}", help::version_json());
            ExitCode::OK
        }
        Action::Run(opts) => run_client(*opts),
    }
}

/// `-s` on a server: the rest of the arguments arrive on stdin, each ended
/// by a NUL, the list by an empty one (io.c read_args()). Read a byte at a
/// time so no protocol data after the list is consumed.
fn read_secluded_args() -> crate::Result<Vec<OsString>> {
    use std::os::unix::ffi::OsStringExt;
    const MAX_WORD: usize = 4096;
    const MAX_WORDS: usize = 100_000;
    use std::os::fd::AsFd;
    // Not std's Stdin: its buffer would swallow the protocol bytes behind
    // the list.
    let mut stdin = std::fs::File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let mut words = Vec::new();
    let mut word = Vec::new();
    loop {
        let mut b = [0u8; 1];
        match std::io::Read::read(&mut stdin, &mut b) {
            Ok(0) => return Err(Error::stream(crate::error::CONNECTION_CLOSED)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
        if b[0] != 0 {
            if word.len() >= MAX_WORD {
                return Err(Error::protocol("secluded argument too long"));
            }
            word.push(b[0]);
            continue;
        }
        if word.is_empty() {
            return Ok(words);
        }
        if words.len() >= MAX_WORDS {
            return Err(Error::protocol("too many secluded arguments"));
        }
        words.push(OsString::from_vec(std::mem::take(&mut word)));
    }
}

/// The client's `--files-from` checks (options.c parse_arguments(), main.c
/// start_client()): exactly a source and a destination, a local list that
/// opens, a remote list only on the transfer's remote host.
fn check_files_from(opts: &Options, prog: &str) -> Option<ExitCode> {
    use std::os::unix::ffi::OsStrExt;
    let ff = opts.files_from.as_ref()?;
    let fail = |msg: String, who: &str| {
        eprint!("{msg}\n{}", exit_line(prog, ExitCode::SYNTAX, who));
        Some(ExitCode::SYNTAX)
    };
    if opts.operands.len() != 2 {
        eprint!("{}", help::help_text(prog));
        eprint!("{}", exit_line(prog, ExitCode::SYNTAX, "client"));
        return Some(ExitCode::SYNTAX);
    }
    let host_of = |a: &OsString| match session::client::parse_hostspec(a.as_bytes()) {
        Some(Ok(spec)) => Some(match spec.user {
            Some(u) => format!("{u}@{}", spec.host).into_bytes(),
            None => spec.host.into_bytes(),
        }),
        Some(Err(_)) => Some(Vec::new()),
        None => None,
    };
    let remote_host = host_of(&opts.operands[0]).or_else(|| host_of(&opts.operands[1]));
    match session::server_args::files_from_host(ff.as_bytes()) {
        Some((host, _)) => match remote_host {
            None => {
                return fail(
                    "--files-from cannot be remote when the transfer is local".into(),
                    "sender",
                )
            }
            Some(h) if !host.is_empty() && h.as_slice() != host => {
                return fail(
                    "--files-from hostname is not the same as the transfer hostname".into(),
                    "client",
                )
            }
            Some(_) => {}
        },
        None if ff.as_bytes() != b"-" => {
            if let Err(e) = std::fs::File::open(ff) {
                return fail(
                    format!(
                        "{prog}: failed to open files-from file {}: {}",
                        ff.to_string_lossy(),
                        crate::error::strerror_plain(&e)
                    ),
                    "client",
                );
            }
        }
        None => {}
    }
    None
}

fn run_client(opts: Options) -> ExitCode {
    let prog = opts.program_name.clone();
    session::limits::set_bwlimit(opts.bwlimit);
    if opts.daemon {
        // A daemon parses each client's arguments as a server command line.
        let p = prog.clone();
        let parse = move |words: &[OsString]| -> crate::Result<Options> {
            let mut all: Vec<OsString> = Vec::with_capacity(words.len());
            all.extend(words.iter().cloned());
            match parse_args(&all, &p)? {
                Action::Run(o) => Ok(*o),
                _ => Err(crate::error::Error::syntax("unexpected daemon arguments")),
            }
        };
        return crate::daemon::listen::daemon_main(opts, &parse);
    }
    if opts.server {
        return session::server::run_server(opts);
    }
    if opts.operands.is_empty() || (opts.operands.len() < 2 && !opts.list_only) {
        eprint!("{}", help::help_text(&prog));
        eprint!("{}", exit_line(&prog, ExitCode::SYNTAX, "client"));
        return ExitCode::SYNTAX;
    }
    if let Some(code) = check_files_from(&opts, &prog) {
        return code;
    }
    let start = now_secs();
    crate::fsops::tempfile::set_keep_partial(opts.partial);
    crate::report::set_eight_bit_output(opts.eight_bit_output);
    let out = Arc::new(ClientOut::default());
    let opts = Arc::new(opts);
    let remote = opts.operands.iter().any(|a| {
        session::client::parse_hostspec(std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str()))
            .is_some()
    });
    // Only the client watches the clock (--stop-at is not forwarded).
    let side = if !remote {
        session::limits::StopSide::Local
    } else if session::client::parse_hostspec(std::os::unix::ffi::OsStrExt::as_bytes(
        opts.operands[0].as_os_str(),
    ))
    .is_some()
    {
        session::limits::StopSide::Pull
    } else {
        session::limits::StopSide::Push
    };
    session::limits::arm_stop_at(opts.stop_at_utime, side);
    let daemon = opts.operands.iter().any(|a| {
        crate::daemon::operand::parse_daemon_spec(std::os::unix::ffi::OsStrExt::as_bytes(
            a.as_os_str(),
        ))
        .is_some()
    });
    let res = if daemon {
        match crate::daemon::client::run(opts.clone(), out.clone()) {
            Ok((r, Some(ctx), status)) => Ok((r, ctx, status)),
            // A module listing: nothing more to report.
            Ok((_, None, _)) => return ExitCode::OK,
            Err(e) => Err(e),
        }
    } else if remote {
        session::client::run_remote(opts.clone(), out.clone())
    } else {
        session::local::run_local(opts.clone(), out.clone()).map(|(r, c)| (r, c, ExitCode::OK))
    };
    // From here this thread reports how the run ended; a watchdog or
    // signal that already claimed the exit wins instead.
    session::liveness::claim_exit();
    let (code, who) = match res {
        Ok((r, ctx, remote_status)) => {
            let s = &r.stats;
            if ctx.out.info_stats >= 2 {
                crate::report::print_local(
                    LogCode::Info,
                    crate::report::stats::format_stats(s, opts.human_readable, ctx.protocol())
                        .as_bytes(),
                );
            }
            if ctx.out.info_stats >= 1 {
                crate::report::print_local(
                    LogCode::Info,
                    crate::report::stats::format_summary(
                        s,
                        opts.human_readable,
                        Some(now_secs() - start),
                        opts.dry_run,
                    )
                    .as_bytes(),
                );
            }
            let io = IoError(ctx.shared.io_error());
            let local = io.exit_code(out.got_xfer_error.load(Ordering::Relaxed));
            (
                local.max(remote_status),
                // A pulling client ends in its generator (the receiver is
                // upstream's forked child).
                if ctx.out.am_sender {
                    "sender"
                } else if remote {
                    "generator"
                } else {
                    "Receiver"
                },
            )
        }
        Err(e) => {
            // A fatal error leaves no temp files behind (or, with
            // --partial, keeps what arrived), as upstream's exit_cleanup().
            crate::fsops::tempfile::cleanup_all();
            session::print_error(&prog, &e);
            if e.quiet {
                session::liveness::kill_children();
                return e.code;
            }
            if e.receiver_signalled {
                session::liveness::kill_children();
                let _ = std::io::stdout().flush();
                eprint!(
                    "{}{}",
                    exit_line(&prog, e.code, session::liveness::role().as_str()),
                    exit_line(&prog, ExitCode::SIGNAL1, "Receiver")
                );
                return e.code;
            }
            (e.code, session::liveness::role().as_str())
        }
    };
    if code != ExitCode::OK {
        session::liveness::kill_children();
        let _ = std::io::stdout().flush();
        eprint!("{}", exit_line(&prog, code, who));
    }
    code
}

/// Wall-clock seconds: upstream measures the summary rate in whole seconds.
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
