//! The client side of a daemon connection (upstream: clientserver.c
//! start_socket_client(), start_inband_exchange(); socket.c
//! open_socket_out(); authenticate.c auth_client()). See
//! protocol-notes/daemon.md.
//!
//! Everything up to `@RSYNCD: OK` is line-based text; after it the
//! client sends its server arguments and the binary protocol starts,
//! without the 4-byte version exchange (the greeting agreed the version).

use super::auth::{auth_response, AuthDigest};
use super::operand::DaemonSpec;
use crate::error::{Error, ExitCode, Result};
use crate::options::Options;
use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The daemon's TCP port when neither the URL nor `--port` gives one.
pub const RSYNC_PORT: u16 = 873;

/// Longest greeting/MOTD/listing line we accept from a daemon.
const MAX_LINE: usize = 4096;
/// Most MOTD/listing lines we read before `@RSYNCD: OK`.
const MAX_LINES: usize = 100_000;

/// An open connection to a daemon: a socket, or a program's pipes
/// (RSYNC_CONNECT_PROG, or a remote shell running `--server --daemon`).
pub struct Conn {
    pub r: Box<dyn Read + Send>,
    pub w: Box<dyn Write + Send>,
    pub child: Option<Child>,
}

/// Open the connection the operand asks for.
pub fn connect(opts: &Options, spec: &DaemonSpec, who: &str) -> Result<Conn> {
    if let Some(rsh) = &opts.rsh {
        return over_shell(opts, spec, rsh);
    }
    if let Ok(prog) = std::env::var("RSYNC_CONNECT_PROG") {
        if !prog.is_empty() {
            return connect_prog(&prog, &spec.host);
        }
    }
    let port = spec.port.or(opts.net.port).unwrap_or(RSYNC_PORT);
    let sock = match std::env::var("RSYNC_PROXY").ok().filter(|p| !p.is_empty()) {
        Some(proxy) => via_proxy(&proxy, &spec.host, port, opts, who)?,
        None => tcp_connect(&spec.host, port, opts, who)?,
    };
    let r = sock.try_clone().map_err(Error::from)?;
    Ok(Conn {
        r: Box::new(r),
        w: Box::new(sock),
        child: None,
    })
}

/// `host::module` with `-e`: the shell runs `rsync --server --daemon .`
/// and the daemon protocol runs over its pipes (main.c do_cmd()).
fn over_shell(opts: &Options, spec: &DaemonSpec, rsh: &str) -> Result<Conn> {
    let mut argv = crate::session::client::split_rsh(rsh)?;
    if argv.is_empty() {
        return Err(Error::syntax("empty remote-shell command"));
    }
    if let Some(u) = &spec.user {
        argv.push("-l".into());
        argv.push(u.clone());
    }
    argv.push(spec.host.clone());
    argv.push(opts.rsync_path.clone().unwrap_or_else(|| "rsync".into()));
    argv.extend(["--server", "--daemon", "."].map(String::from));
    spawn_pipes(Command::new(&argv[0]).args(&argv[1..]))
}

/// RSYNC_CONNECT_PROG: `%H` becomes the host, `%%` a percent sign; the
/// command runs under `sh -c` and its stdio is the connection.
fn connect_prog(prog: &str, host: &str) -> Result<Conn> {
    let mut cmd = String::new();
    let mut it = prog.chars().peekable();
    while let Some(c) = it.next() {
        if c == '%' {
            match it.peek() {
                Some('H') => {
                    it.next();
                    cmd.push_str(host);
                    continue;
                }
                Some('%') => {
                    it.next();
                }
                _ => {}
            }
        }
        cmd.push(c);
    }
    spawn_pipes(Command::new("sh").arg("-c").arg(cmd))
}

fn spawn_pipes(cmd: &mut Command) -> Result<Conn> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Error::new(
                ExitCode::IPC,
                format!("Failed to exec: {}", crate::error::strerror(&e)),
            )
        })?;
    crate::session::liveness::set_child(child.id());
    let w = child.stdin.take().expect("piped stdin");
    let r = child.stdout.take().expect("piped stdout");
    Ok(Conn {
        r: Box::new(r),
        w: Box::new(w),
        child: Some(child),
    })
}

/// The addresses to try, in resolver order, filtered by `-4`/`-6`.
fn resolve(host: &str, port: u16, opts: &Options, who: &str) -> Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(a) => a
            .filter(|a| match opts.net.address_family {
                4 => a.is_ipv4(),
                6 => a.is_ipv6(),
                _ => true,
            })
            .collect(),
        Err(e) => {
            let _ = who;
            return Err(Error::new(
                ExitCode::SOCKETIO,
                format!("getaddrinfo: {host} {port}: {}", gai_text(&e)),
            ));
        }
    };
    if addrs.is_empty() {
        return Err(Error::new(
            ExitCode::SOCKETIO,
            format!("getaddrinfo: {host} {port}: Address family for hostname not supported"),
        ));
    }
    Ok(addrs)
}

/// std reports resolver failures as "failed to lookup address
/// information: TEXT"; upstream prints gai_strerror()'s TEXT.
fn gai_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.split_once("information: ") {
        Some((_, t)) => t.to_string(),
        None => s,
    }
}

fn tcp_connect(host: &str, port: u16, opts: &Options, who: &str) -> Result<TcpStream> {
    let addrs = resolve(host, port, opts, who)?;
    let bind = match &opts.net.bind_address {
        Some(a) => Some(
            resolve(a, 0, opts, who)?
                .into_iter()
                .next()
                .expect("resolve returns at least one"),
        ),
        None => None,
    };
    let mut last = None;
    for a in &addrs {
        let res = match bind {
            Some(b) => connect_from(b, *a),
            None if opts.contimeout > 0 => {
                TcpStream::connect_timeout(a, Duration::from_secs(opts.contimeout.into()))
            }
            None => TcpStream::connect(a),
        };
        match res {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                apply_sockopts(&s, opts.net.sockopts.as_deref());
                return Ok(s);
            }
            Err(e) => last = Some((a, e)),
        }
    }
    let (a, e) = last.expect("at least one address was tried");
    if e.kind() == io::ErrorKind::TimedOut && opts.contimeout > 0 {
        return Err(Error::new(
            ExitCode::CONTIMEOUT,
            format!(
                "[{who}] failed to connect to {host} ({}): {}",
                a.ip(),
                crate::error::strerror(&e)
            ),
        ));
    }
    Err(Error::new(
        ExitCode::SOCKETIO,
        format!(
            "[{who}] failed to connect to {host} ({}): {}",
            a.ip(),
            crate::error::strerror(&e)
        ),
    ))
}

/// `--address`: bind the local end before connecting.
fn connect_from(local: SocketAddr, peer: SocketAddr) -> io::Result<TcpStream> {
    use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType};
    let fam = if peer.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(fam, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    use nix::sys::socket::{SockaddrIn, SockaddrIn6};
    use std::os::fd::AsRawFd;
    let raw = fd.as_raw_fd();
    match local {
        SocketAddr::V4(v) => bind(raw, &SockaddrIn::from(v))?,
        SocketAddr::V6(v) => bind(raw, &SockaddrIn6::from(v))?,
    }
    match peer {
        SocketAddr::V4(v) => connect(raw, &SockaddrIn::from(v))?,
        SocketAddr::V6(v) => connect(raw, &SockaddrIn6::from(v))?,
    }
    Ok(TcpStream::from(fd))
}

/// `--sockopts`: the options upstream knows by name; unknown names get its
/// warning. Only the ones std exposes are applied.
pub fn apply_sockopts(s: &TcpStream, list: Option<&str>) {
    let Some(list) = list else { return };
    for item in list.split([' ', '\t', ',']).filter(|t| !t.is_empty()) {
        let (name, val) = match item.split_once('=') {
            Some((n, v)) => (n, v.parse::<u32>().unwrap_or(0)),
            None => (item, 1),
        };
        match name {
            "TCP_NODELAY" => {
                let _ = s.set_nodelay(val != 0);
            }
            "IP_TTL" => {
                let _ = s.set_ttl(val);
            }
            "SO_KEEPALIVE" | "SO_REUSEADDR" | "SO_SNDBUF" | "SO_RCVBUF" | "SO_SNDLOWAT"
            | "SO_RCVLOWAT" | "SO_SNDTIMEO" | "SO_RCVTIMEO" | "IPTOS_LOWDELAY"
            | "IPTOS_THROUGHPUT" => set_named_sockopt(s, name, val),
            _ => eprintln!("Unknown socket option {name}"),
        }
    }
}

fn set_named_sockopt(s: &TcpStream, name: &str, val: u32) {
    use nix::sys::socket::{setsockopt, sockopt};
    let v = val as usize;
    let _ = match name {
        "SO_KEEPALIVE" => setsockopt(s, sockopt::KeepAlive, &(val != 0)),
        "SO_REUSEADDR" => setsockopt(s, sockopt::ReuseAddr, &(val != 0)),
        "SO_SNDBUF" => setsockopt(s, sockopt::SndBuf, &v),
        "SO_RCVBUF" => setsockopt(s, sockopt::RcvBuf, &v),
        _ => Ok(()),
    };
}

/// RSYNC_PROXY=[user:pass@]host:port: an HTTP CONNECT tunnel
/// (socket.c establish_proxy_connection()).
fn via_proxy(proxy: &str, host: &str, port: u16, opts: &Options, who: &str) -> Result<TcpStream> {
    let (auth, hp) = match proxy.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, proxy),
    };
    let Some((phost, pport)) = hp.rsplit_once(':') else {
        return Err(Error::new(
            ExitCode::SOCKETIO,
            "No port specified in RSYNC_PROXY environment variable",
        ));
    };
    let pport: u16 = pport.parse().unwrap_or(0);
    let mut s = tcp_connect(phost, pport, opts, who)?;
    let mut req = format!("CONNECT {host}:{port} HTTP/1.0\r\n");
    if let Some(a) = auth {
        req.push_str(&format!(
            "Proxy-Authorization: Basic {}\r\n",
            super::auth::base64_encode(a.as_bytes(), true)
        ));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    // Read byte by byte: nothing past the header may be consumed.
    let first = read_crlf_line(&mut s)?;
    let ok = first.starts_with("HTTP/") && first.split(' ').nth(1) == Some("200");
    if !ok {
        return Err(Error::new(
            ExitCode::SOCKETIO,
            format!("bad response from proxy -- {first}"),
        ));
    }
    loop {
        if read_crlf_line(&mut s)?.is_empty() {
            return Ok(s);
        }
    }
}

fn read_crlf_line(s: &mut TcpStream) -> Result<String> {
    let mut line = Vec::new();
    loop {
        let mut b = [0u8];
        if s.read(&mut b)? == 0 {
            return Err(Error::new(
                ExitCode::SOCKETIO,
                "proxy server closed the connection",
            ));
        }
        match b[0] {
            b'\n' => break,
            b'\r' => {}
            c if line.len() < MAX_LINE => line.push(c),
            _ => {}
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// Read one `\n`-ended line, a byte at a time so nothing of the binary
/// protocol behind it is consumed (io.c read_line_old()). `None` at EOF.
pub fn read_line<R: Read + ?Sized>(r: &mut R) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    loop {
        let mut b = [0u8];
        match r.read(&mut b) {
            Ok(0) => {
                return Ok(if line.is_empty() {
                    None
                } else {
                    Some(String::from_utf8_lossy(&line).into_owned())
                })
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        match b[0] {
            b'\n' => break,
            b'\r' => {}
            c if line.len() < MAX_LINE => line.push(c),
            _ => {}
        }
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// What the greeting settled.
pub struct Greeted {
    pub protocol: u32,
    /// The daemon's auth digest list; `None` from an old daemon.
    pub auth_choices: Option<String>,
}

/// Our greeting line (compat.c output_daemon_greeting()).
pub fn greeting_line(protocol: u32) -> String {
    let names: Vec<&str> = super::auth::AUTH_DIGESTS.iter().map(|d| d.name()).collect();
    format!("@RSYNCD: {protocol}.0 {}\n", names.join(" "))
}

/// Exchange greetings as the client (exchange_protocols()).
pub fn exchange_greetings<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    w: &mut W,
    ours: u32,
) -> Result<Greeted> {
    w.write_all(greeting_line(ours).as_bytes())?;
    w.flush()?;
    let Some(line) = read_line(r)? else {
        return Err(Error::new(
            ExitCode::STARTCLIENT,
            "did not see server greeting",
        ));
    };
    let Some((remote, sub)) = super::auth::scan_version(&line) else {
        return Err(Error::new(
            ExitCode::STARTCLIENT,
            format!("server sent \"{line}\" rather than greeting"),
        ));
    };
    let remote = remote.max(0) as u32;
    if sub.is_none() && remote >= 30 {
        return Err(Error::new(
            ExitCode::STARTCLIENT,
            format!("the server omitted the subprotocol value: {line}"),
        ));
    }
    let auth_list = line
        .get(9..)
        .and_then(|rest| rest.find(' ').map(|i| rest[i + 1..].to_string()));
    if auth_list.is_none() && remote > 31 {
        return Err(Error::new(
            ExitCode::STARTCLIENT,
            format!("the server omitted the digest name list: {line}"),
        ));
    }
    let sub = sub.unwrap_or(0);
    let mut protocol = ours;
    if ours > remote {
        protocol = remote;
        if sub != 0 {
            protocol -= 1;
        }
    } else if ours == remote && sub != 0 {
        protocol -= 1;
    }
    if protocol < crate::wire::MIN_PROTOCOL_VERSION {
        return Err(Error::protocol(format!(
            "protocol version {protocol} is too old: gensync speaks {} to {}",
            crate::wire::MIN_PROTOCOL_VERSION,
            crate::wire::PROTOCOL_VERSION
        )));
    }
    Ok(Greeted {
        protocol,
        auth_choices: auth_list,
    })
}

/// The password for the daemon's challenge: `--password-file`, then
/// RSYNC_PASSWORD, then a prompt on the terminal (auth_client()).
fn password(opts: &Options) -> Result<Vec<u8>> {
    if let Some(pf) = &opts.net.password_file {
        let data = if pf == "-" {
            let mut l = String::new();
            io::stdin().lock().read_line(&mut l)?;
            l.into_bytes()
        } else {
            let mut f = super::auth::open_trusted(std::path::Path::new(pf)).map_err(|e| {
                Error::syntax(format!(
                    "could not open password file {pf}: {}",
                    crate::error::strerror(&e)
                ))
            })?;
            use std::os::unix::fs::MetadataExt;
            let md = f.metadata()?;
            if md.mode() & 0o6 != 0 {
                return Err(Error::bare(
                    ExitCode::SYNTAX,
                    "ERROR: password file must not be other-accessible",
                ));
            }
            if nix::unistd::getuid().is_root() && md.uid() != 0 {
                return Err(Error::bare(
                    ExitCode::SYNTAX,
                    "ERROR: password file must be owned by root when running as root",
                ));
            }
            let mut buf = vec![0u8; 511];
            let n = f.read(&mut buf)?;
            buf.truncate(n);
            buf
        };
        if let Some(p) = data
            .split(|&c| c == b'\n' || c == b'\r')
            .find(|p| !p.is_empty())
        {
            return Ok(p.to_vec());
        }
    }
    if let Some(p) = std::env::var_os("RSYNC_PASSWORD") {
        return Ok(std::os::unix::ffi::OsStringExt::into_vec(p));
    }
    Ok(prompt_password().unwrap_or_default())
}

/// getpass("Password: ") on the controlling terminal, echo off.
fn prompt_password() -> Option<Vec<u8>> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let saved = tcgetattr(&tty).ok()?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    let _ = tty.write_all(b"Password: ");
    let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, &quiet);
    let mut line = String::new();
    let res = io::BufReader::new(&tty).read_line(&mut line);
    let _ = tcsetattr(&tty, SetArg::TCSAFLUSH, &saved);
    let _ = tty.write_all(b"\n");
    res.ok()?;
    Some(line.trim_end_matches(['\n', '\r']).as_bytes().to_vec())
}

/// The daemon argument list for a module path (start_inband_exchange()):
/// `modname` alone goes as `modname/`; a leading dash gets `./`; and
/// without --old-args, " modname/" inside a name is bracketed so the
/// daemon does not split there.
pub fn daemon_path_arg(arg: &[u8], modname: &[u8], old_args: bool) -> Vec<u8> {
    if arg == modname {
        let mut v = modname.to_vec();
        v.push(b'/');
        return v;
    }
    let mut out = Vec::with_capacity(arg.len() + 4);
    if arg.first() == Some(&b'-') {
        out.extend_from_slice(b"./");
    }
    let mut pat = vec![b' '];
    pat.extend_from_slice(modname);
    pat.push(b'/');
    let mut i = 0;
    while i < arg.len() {
        if !old_args && arg[i] == b' ' && arg[i..].starts_with(&pat) {
            out.extend_from_slice(b"[ ]");
        } else {
            out.push(arg[i]);
        }
        i += 1;
    }
    out
}

/// What the daemon said before the transfer.
pub enum Started {
    /// `@RSYNCD: OK`: the transfer follows.
    Ok,
    /// `@RSYNCD: EXIT`: a module listing ended.
    Exit,
}

/// Module request, MOTD, authentication and the argument list
/// (start_inband_exchange() after the greeting). `args` are the server
/// options and paths; `secluded` the words `-s` sends after them.
#[allow(clippy::too_many_arguments)]
pub fn start_inband<R: Read + ?Sized, W: Write + ?Sized>(
    r: &mut R,
    w: &mut W,
    opts: &Options,
    g: &Greeted,
    user: Option<&str>,
    modname: &[u8],
    args: &[Vec<u8>],
    secluded: Option<&[Vec<u8>]>,
) -> Result<Started> {
    if let Some(path) = &opts.net.early_input {
        send_early_input(w, path)?;
    }
    w.write_all(modname)?;
    w.write_all(b"\n")?;
    w.flush()?;
    let show_motd = opts.net.motd;
    for _ in 0..MAX_LINES {
        let Some(line) = read_line(r)? else {
            return Err(Error::new(
                ExitCode::STARTCLIENT,
                "didn't get server startup line",
            ));
        };
        if let Some(ch) = line.strip_prefix("@RSYNCD: AUTHREQD ") {
            let user = user
                .map(str::to_string)
                .or_else(|| std::env::var("USER").ok())
                .or_else(|| std::env::var("LOGNAME").ok())
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "nobody".into());
            let digest = client_digest(g);
            let pass = password(opts)?;
            let resp = auth_response(&pass, ch, digest);
            w.write_all(format!("{user} {resp}\n").as_bytes())?;
            w.flush()?;
            continue;
        }
        if line == "@RSYNCD: OK" {
            break;
        }
        if line == "@RSYNCD: EXIT" {
            return Ok(Started::Exit);
        }
        if line.starts_with("@ERROR") {
            return Err(Error::bare(ExitCode::STARTCLIENT, line));
        }
        if show_motd {
            crate::report::print_local(
                crate::report::LogCode::Info,
                format!("{line}\n").as_bytes(),
            );
        }
    }
    let mut buf = Vec::new();
    for a in args {
        buf.extend_from_slice(a);
        buf.push(if g.protocol >= 30 { 0 } else { b'\n' });
    }
    buf.push(if g.protocol >= 30 { 0 } else { b'\n' });
    if let Some(words) = secluded {
        for word in words {
            buf.extend_from_slice(word);
            buf.push(0);
        }
        buf.push(0);
    }
    w.write_all(&buf)?;
    w.flush()?;
    Ok(Started::Ok)
}

/// The client takes the first digest in the daemon's list that it knows;
/// without a list, md5 from protocol 30 on and the old md4 before.
fn client_digest(g: &Greeted) -> AuthDigest {
    match &g.auth_choices {
        Some(list) => list
            .split(' ')
            .find_map(AuthDigest::from_name)
            .unwrap_or(AuthDigest::Md5),
        None if g.protocol >= 30 => AuthDigest::Md5,
        None => AuthDigest::Md4Old,
    }
}

/// `--early-input=FILE`: `#early_input=LEN` then the bytes, before
/// the module name (at most 5 KiB, as upstream's buffer).
fn send_early_input<W: Write + ?Sized>(w: &mut W, path: &str) -> Result<()> {
    const LIMIT: usize = 5 * 1024;
    let data = std::fs::read(path).map_err(|e| {
        Error::new(
            ExitCode::STARTCLIENT,
            format!("failed to open {path}: {}", crate::error::strerror(&e)),
        )
    })?;
    if data.len() > LIMIT {
        return Err(Error::new(
            ExitCode::STARTCLIENT,
            format!("{path} is > {LIMIT} bytes."),
        ));
    }
    if !data.is_empty() {
        w.write_all(format!("#early_input={}\n", data.len()).as_bytes())?;
        w.write_all(&data)?;
    }
    Ok(())
}

/// A transfer or listing with a daemon on one side (main.c start_client()
/// for daemon operands, then start_socket_client()).
pub fn run(
    opts: std::sync::Arc<Options>,
    out: std::sync::Arc<crate::report::ClientOut>,
) -> Result<(
    crate::session::transfer::RunResult,
    Option<crate::roles::Ctx>,
    ExitCode,
)> {
    use super::operand::parse_daemon_spec;
    use crate::report::messages::Who;
    use crate::session::liveness::{self, Clocked};
    use std::os::unix::ffi::OsStrExt;
    let ops = &opts.operands;
    let n = ops.len();
    let (am_sender, spec, mut paths, local_args) = match parse_daemon_spec(ops[n - 1].as_bytes()) {
        Some(spec) if n > 1 => {
            let p = spec.path.clone();
            (true, spec, vec![p], ops[..n - 1].to_vec())
        }
        _ => {
            let Some(first) = parse_daemon_spec(ops[0].as_bytes()) else {
                return Err(Error::syntax("no remote operand"));
            };
            let srcs = if n > 1 { &ops[1..n - 1] } else { &ops[0..0] };
            let mut paths = vec![first.path.clone()];
            for a in srcs {
                match parse_daemon_spec(a.as_bytes()) {
                    Some(s) if s.host == first.host => paths.push(s.path),
                    _ if a.as_bytes().starts_with(b"::") => paths.push(a.as_bytes()[2..].to_vec()),
                    _ => {
                        return Err(Error::syntax(
                            "The source and destination cannot both be remote.",
                        ))
                    }
                }
            }
            let local = if n > 1 {
                vec![ops[n - 1].clone()]
            } else {
                Vec::new()
            };
            (false, first, paths, local)
        }
    };
    if local_args.iter().any(|a| {
        parse_daemon_spec(a.as_bytes()).is_some()
            || crate::session::client::parse_hostspec(a.as_bytes()).is_some()
    }) {
        return Err(Error::syntax(
            "The source and destination cannot both be remote.",
        ));
    }
    if paths[0].first() == Some(&b'/') {
        return Err(Error::bare(
            ExitCode::STARTCLIENT,
            "ERROR: The remote path must start with a module name not a /",
        ));
    }
    let who = if am_sender {
        Who::Sender
    } else {
        Who::PreforkReceiver
    };
    liveness::set_role(who);
    let rules = crate::session::filters::base_list(&opts, crate::wire::PROTOCOL_VERSION)?;
    let modname: Vec<u8> = match memchr::memchr(b'/', &paths[0]) {
        Some(i) => paths[0][..i].to_vec(),
        None => paths[0].clone(),
    };
    let listing = modname.is_empty();
    let mut conn = connect(&opts, &spec, who.as_str())?;
    liveness::start(opts.timeout);
    let ours = crate::session::our_protocol(&opts);
    let mut r = Clocked(conn.r);
    let mut w = Clocked(conn.w);
    let g = exchange_greetings(&mut r, &mut w, ours)?;
    let (args, split) = crate::session::server_args::server_options(&opts, am_sender);
    let mut words: Vec<Vec<u8>> = args.into_iter().map(String::into_bytes).collect();
    words.push(b".".to_vec());
    if listing {
        paths.clear();
    }
    for p in &paths {
        words.push(daemon_path_arg(p, &modname, opts.old_args > 0));
    }
    let secluded = split.map(|k| crate::session::client::secluded_tail(&mut words, k));
    let started = start_inband(
        &mut r,
        &mut w,
        &opts,
        &g,
        spec.user.as_deref(),
        &modname,
        &words,
        secluded.as_deref(),
    )?;
    if let Started::Exit = started {
        return Ok((Default::default(), None, ExitCode::OK));
    }
    let mut o = (*opts).clone();
    o.net.preset_protocol = Some(g.protocol);
    let opts = std::sync::Arc::new(o);
    let (run, ctx) =
        crate::session::client::client_transfer(&opts, &out, r, w, am_sender, &local_args, rules)?;
    if let Some(c) = conn.child.as_mut() {
        let _ = c.wait();
    }
    Ok((run?, Some(ctx), ExitCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_args_as_upstream_sends_them() {
        assert_eq!(daemon_path_arg(b"mod", b"mod", false), b"mod/");
        assert_eq!(daemon_path_arg(b"mod/a", b"mod", false), b"mod/a");
        assert_eq!(daemon_path_arg(b"-x", b"mod", false), b"./-x");
        assert_eq!(
            daemon_path_arg(b"mod/a mod/b", b"mod", false),
            b"mod/a[ ]mod/b"
        );
        assert_eq!(
            daemon_path_arg(b"mod/a mod/b", b"mod", true),
            b"mod/a mod/b"
        );
    }

    #[test]
    fn greeting_negotiates_down() {
        let mut out = Vec::new();
        let mut inp: &[u8] = b"@RSYNCD: 29.0\n";
        let g = exchange_greetings(&mut inp, &mut out, 32).unwrap();
        assert_eq!(g.protocol, 29);
        assert!(g.auth_choices.is_none());
        assert_eq!(out, b"@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n");
        let mut inp: &[u8] = b"@RSYNCD: 32.0 md5 md4\n";
        let g = exchange_greetings(&mut inp, &mut Vec::new(), 32).unwrap();
        assert_eq!(g.protocol, 32);
        assert_eq!(client_digest(&g), AuthDigest::Md5);
        let mut inp: &[u8] = b"@RSYNCD: 32\n";
        assert!(exchange_greetings(&mut inp, &mut Vec::new(), 32).is_err());
        let mut inp: &[u8] = b"HTTP/1.0 400\n";
        assert!(exchange_greetings(&mut inp, &mut Vec::new(), 32).is_err());
    }
}
