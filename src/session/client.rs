//! The client over a remote shell: operands -> remote command -> handshake
//! -> roles (upstream: main.c start_client(), do_cmd(), client_run();
//! pipe.c piped_child()).

use super::liveness::{self, Clocked};
use super::server_args::{safe_arg, server_options, ArgKind};
use super::setup_protocol;
use super::transfer::{run_receiver, run_sender, RunResult};
use crate::error::{Error, ExitCode, Result};
use crate::options::Options;
use crate::report::messages::Who;
use crate::report::ClientOut;
use crate::roles::{client_msg_handler, Ctx};
use crate::wire::mux::{DemuxReader, MuxWriter};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// A `[user@]host:path` operand (main.c check_for_hostspec()).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    pub user: Option<String>,
    pub host: String,
    pub path: Vec<u8>,
}

/// Parse `[user@]host:path`; `host::module` and `rsync://` are daemon forms
/// and are reported as such.
pub fn parse_hostspec(arg: &[u8]) -> Option<std::result::Result<RemoteSpec, &'static str>> {
    if arg.starts_with(b"rsync://") {
        return Some(Err("daemon"));
    }
    let (host_part, rest) = if arg.first() == Some(&b'[') {
        let end = memchr::memchr(b']', arg)?;
        if arg.get(end + 1) != Some(&b':') {
            return None;
        }
        (&arg[1..end], &arg[end + 2..])
    } else {
        let colon = memchr::memchr(b':', arg)?;
        let slash = memchr::memchr(b'/', arg);
        if slash.is_some_and(|s| s < colon) || colon == 0 {
            return None;
        }
        (&arg[..colon], &arg[colon + 1..])
    };
    if rest.first() == Some(&b':') {
        return Some(Err("daemon"));
    }
    let hp = String::from_utf8_lossy(host_part).into_owned();
    let (user, host) = match hp.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h.to_string()),
        None => (None, hp),
    };
    Some(Ok(RemoteSpec {
        user,
        host,
        path: rest.to_vec(),
    }))
}

/// Split the `-e` command as do_cmd() does: spaces separate words, single
/// or double quotes group, a doubled quote inside quotes is literal.
pub fn split_rsh(cmd: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let b: Vec<char> = cmd.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == ' ' {
            i += 1;
            continue;
        }
        let mut w = String::new();
        let mut q: Option<char> = None;
        while i < b.len() && (b[i] != ' ' || q.is_some()) {
            let c = b[i];
            if c == '\'' || c == '"' {
                match q {
                    None => {
                        q = Some(c);
                        i += 1;
                        continue;
                    }
                    Some(qc) if qc == c => {
                        if b.get(i + 1) == Some(&c) {
                            w.push(c);
                            i += 2;
                            continue;
                        }
                        q = None;
                        i += 1;
                        continue;
                    }
                    _ => {}
                }
            }
            w.push(c);
            i += 1;
        }
        if let Some(qc) = q {
            return Err(Error::syntax(format!(
                "Missing trailing-{qc} in remote-shell command."
            )));
        }
        words.push(w);
    }
    Ok(words)
}

/// The remote-shell command, and with `-s` the words that travel over the
/// connection instead (main.c do_cmd(), rsync.c send_protected_args()).
pub struct RemoteCommand {
    pub argv: Vec<OsString>,
    /// NUL-terminated on the wire, "rsync" first, then a lone NUL.
    pub secluded: Option<Vec<Vec<u8>>>,
}

/// Build the full remote-shell argv (do_cmd()).
pub fn remote_argv(
    o: &Options,
    spec: &RemoteSpec,
    am_sender: bool,
    paths: &[Vec<u8>],
) -> Result<RemoteCommand> {
    let rsh = o
        .rsh
        .clone()
        .or_else(|| std::env::var("RSYNC_RSH").ok())
        .unwrap_or_else(|| "ssh".to_string());
    let mut argv: Vec<OsString> = split_rsh(&rsh)?.into_iter().map(OsString::from).collect();
    if argv.is_empty() {
        return Err(Error::syntax("empty remote-shell command"));
    }
    if let Some(u) = &spec.user {
        argv.push("-l".into());
        argv.push(u.into());
    }
    argv.push(spec.host.clone().into());
    argv.push(
        o.rsync_path
            .clone()
            .unwrap_or_else(|| "rsync".to_string())
            .into(),
    );
    let (args, split) = server_options(o, am_sender);
    let mut words: Vec<Vec<u8>> = args.into_iter().map(String::into_bytes).collect();
    words.push(b".".to_vec());
    for p in paths {
        words.push(safe_arg(ArgKind::File, p, o, am_sender));
    }
    let secluded = split.map(|k| secluded_tail(&mut words, k));
    argv.extend(words.into_iter().map(OsString::from_vec));
    Ok(RemoteCommand { argv, secluded })
}

/// `-s`: the words from `k` on travel over the connection instead, after a
/// new argv[0] (rsync.c send_protected_args()). An empty word would end
/// the list early; upstream sends "." for it.
pub(crate) fn secluded_tail(words: &mut Vec<Vec<u8>>, k: usize) -> Vec<Vec<u8>> {
    let mut tail = vec![b"rsync".to_vec()];
    tail.extend(
        words
            .drain(k..)
            .map(|w| if w.is_empty() { b".".to_vec() } else { w }),
    );
    tail
}

/// Send the secluded arguments ahead of the protocol.
fn send_secluded_args<W: std::io::Write>(w: &mut W, words: &[Vec<u8>]) -> std::io::Result<()> {
    let mut buf = Vec::new();
    for word in words {
        buf.extend_from_slice(word);
        buf.push(0);
    }
    buf.push(0);
    w.write_all(&buf)?;
    w.flush()
}

/// Wait for the remote shell; its status (main.c wait_process_with_flush()).
fn child_status(child: &mut Child) -> ExitCode {
    match child.wait() {
        Ok(st) => {
            if let Some(c) = st.code() {
                ExitCode(c)
            } else if st.core_dumped() {
                ExitCode::CRASHED
            } else {
                ExitCode::TERMINATED
            }
        }
        Err(_) => ExitCode::WAITCHILD,
    }
}

/// The client's part once a server is listening on the other end of
/// `rsock`/`wsock` (main.c client_run()): protocol setup, filter rules,
/// then the sender or the receiver. Shared by remote-shell and daemon
/// connections. Returns the run's own result (a failed transfer still has
/// a context) or a setup error.
pub(crate) fn client_transfer<R: std::io::Read + Send, W: std::io::Write + Send>(
    opts: &Arc<Options>,
    out: &Arc<ClientOut>,
    mut rsock: R,
    mut wsock: W,
    am_sender: bool,
    local_args: &[OsString],
    rules: crate::filter::FilterList,
) -> Result<(Result<RunResult>, Ctx)> {
    let neg = setup_protocol(&mut rsock, &mut wsock, opts, false, None)?;
    let mut ctx = Ctx::client(opts.clone(), neg, out.clone(), am_sender, false);
    let mut w = MuxWriter::new(wsock);
    // main.c client_run(): a receiving client's generator talks to the
    // sender in messages from protocol 30, or for --remove-source-files
    // (need_messages_from_generator).
    if ctx.protocol() >= 30 || (!am_sender && opts.remove_source_files > 0) {
        w.start_mux()?;
    }
    let mut r = DemuxReader::new(rsock, client_msg_handler(&ctx));
    r.start_mux();
    let mut rules = rules;
    rules.cfg.protocol = ctx.protocol() as i32;
    let filters =
        super::filters::client_rules(&mut w, rules, opts, ctx.protocol(), am_sender, false);
    let run = match filters {
        Ok(f) => {
            ctx.filters = Arc::new(f);
            if am_sender {
                run_sender(&ctx, local_args, &mut r, &mut w, None)
            } else {
                std::io::Write::flush(&mut w)
                    .map_err(Error::from)
                    .and_then(|()| {
                        let dest = local_args
                            .first()
                            .map(|a| a.as_bytes().to_vec())
                            .unwrap_or_else(|| b".".to_vec());
                        let prog = opts.program_name.clone();
                        let abort = move |e: &Error| super::exit_now(&prog, e);
                        run_receiver(&ctx, &dest, &mut r, &mut w, None, Some(&abort))
                    })
            }
        }
        Err(e) => Err(e),
    };
    // A server that refused us closes while we are still writing; what it
    // said is already on its way to us. Upstream reads it (its I/O loop
    // reads while it writes); we read it now, and its exit code wins.
    let run = match run {
        Err(e) if e.msg == crate::error::WRITE_EPIPE => {
            Err(drain_after_write_error(&mut r).unwrap_or(e))
        }
        other => other,
    };
    drop(w);
    drop(r);
    Ok((run, ctx))
}

/// Read what the peer still sends (its messages get printed by the
/// handler); `Some` when it ended with MSG_ERROR_EXIT.
fn drain_after_write_error<R: std::io::Read>(r: &mut DemuxReader<R>) -> Option<Error> {
    let mut buf = [0u8; 8192];
    loop {
        match std::io::Read::read(r, &mut buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                let e = Error::from(e);
                return e.quiet.then_some(e);
            }
        }
    }
}

/// Run a transfer with one remote side. Returns the result, the context,
/// and the remote shell's exit status.
pub fn run_remote(opts: Arc<Options>, out: Arc<ClientOut>) -> Result<(RunResult, Ctx, ExitCode)> {
    let ops = &opts.operands;
    let n = ops.len();
    let dest = ops[n - 1].as_bytes();
    let (am_sender, spec, remote_paths, local_args): (
        bool,
        RemoteSpec,
        Vec<Vec<u8>>,
        Vec<OsString>,
    ) = match parse_hostspec(dest) {
        Some(Ok(spec)) => {
            let p = spec.path.clone();
            (true, spec, vec![p], ops[..n - 1].to_vec())
        }
        Some(Err(_)) => {
            return Err(Error::unsupported(
                "rsync daemon connections are not supported yet",
            ))
        }
        None => {
            let first = match parse_hostspec(ops[0].as_bytes()) {
                Some(Ok(s)) => s,
                Some(Err(_)) => {
                    return Err(Error::unsupported(
                        "rsync daemon connections are not supported yet",
                    ))
                }
                None => return Err(Error::syntax("no remote operand")),
            };
            let mut paths = vec![first.path.clone()];
            for a in &ops[1..n - 1] {
                match parse_hostspec(a.as_bytes()) {
                    Some(Ok(s)) if s.host == first.host => paths.push(s.path),
                    _ if a.as_bytes().first() == Some(&b':') => {
                        paths.push(a.as_bytes()[1..].to_vec())
                    }
                    _ => {
                        return Err(Error::syntax(
                            "The source and destination cannot both be remote.",
                        ))
                    }
                }
            }
            (false, first, paths, vec![ops[n - 1].clone()])
        }
    };
    if local_args
        .iter()
        .any(|a| parse_hostspec(a.as_bytes()).is_some())
    {
        return Err(Error::syntax(
            "The source and destination cannot both be remote.",
        ));
    }
    // Rules are parsed before connecting, as upstream parses them with
    // the options: a bad rule never reaches the server.
    let rules = super::filters::base_list(&opts, crate::wire::PROTOCOL_VERSION)?;
    let RemoteCommand { argv, secluded } = remote_argv(&opts, &spec, am_sender, &remote_paths)?;
    let who = if am_sender {
        Who::Sender
    } else {
        Who::PreforkReceiver
    };
    liveness::set_role(who);
    let mut child = match Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            // Upstream's forked child reports the exec failure and exits
            // 14; the parent then sees its pipe close and says so too.
            let prog = super::signals::prog();
            eprint!(
                "{prog}: [{}] Failed to exec {}: {}\n{}",
                who.as_str(),
                argv[0].to_string_lossy(),
                crate::error::strerror(&e),
                crate::report::messages::exit_line(&prog, ExitCode::IPC, who)
            );
            return Err(Error::new(ExitCode::IPC, crate::error::CONNECTION_CLOSED));
        }
    };
    liveness::set_child(child.id());
    let mut wsock = Clocked(child.stdin.take().expect("piped stdin"));
    let rsock = Clocked(child.stdout.take().expect("piped stdout"));
    liveness::start(opts.timeout);
    let res = (|| {
        if let Some(words) = &secluded {
            send_secluded_args(&mut wsock, words)?;
        }
        client_transfer(&opts, &out, rsock, wsock, am_sender, &local_args, rules)
    })();
    match res {
        Ok((Ok(r), ctx)) => Ok((r, ctx, child_status(&mut child))),
        Ok((Err(e), _)) | Err(e) => {
            // A remote command that could not run explains the EOF best,
            // but only if it has already exited: upstream's exit_cleanup()
            // asks with WNOHANG and does not wait for a remote shell that
            // is still going.
            // The shell closes its output a moment before it can be
            // reaped, so allow it that moment.
            let mut status = ExitCode::OK;
            for _ in 0..10 {
                if let Ok(Some(_)) = child.try_wait() {
                    status = child_status(&mut child);
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if status.0 > e.code.0 && e.code == ExitCode::STREAMIO {
                return Err(Error::new(status, e.msg));
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostspecs() {
        let s = parse_hostspec(b"user@host:/a/b").unwrap().unwrap();
        assert_eq!(
            (s.user.as_deref(), s.host.as_str(), &s.path[..]),
            (Some("user"), "host", &b"/a/b"[..])
        );
        assert!(parse_hostspec(b"./a:b").is_none());
        assert!(parse_hostspec(b"/x/y").is_none());
        assert!(parse_hostspec(b"host::mod").unwrap().is_err());
        assert!(parse_hostspec(b"rsync://h/m").unwrap().is_err());
        let s = parse_hostspec(b"[::1]:p").unwrap().unwrap();
        assert_eq!(s.host, "::1");
    }

    #[test]
    fn rsh_quoting() {
        assert_eq!(split_rsh("ssh -p 2222").unwrap(), ["ssh", "-p", "2222"]);
        assert_eq!(
            split_rsh("sh -c 'a b' \"c\"\"d\"").unwrap(),
            ["sh", "-c", "a b", "c\"d"]
        );
        assert!(split_rsh("ssh 'x").is_err());
    }
}
