//! `--daemon` (upstream: clientserver.c daemon_main(); socket.c
//! start_accept_loop(); main.c become_daemon()).
//!
//! Three ways in:
//! - a remote shell ran `--server --daemon .`: the connection is our stdio;
//! - inetd or systemd passed the socket as standard input;
//! - otherwise we listen. Each accepted socket is served by a fresh
//!   process of this binary with the socket as its standard input, which
//!   is exactly the inetd case, so chroot, uid changes and crashes stay
//!   with one client (upstream forks; gensync has no unsafe code, so it
//!   re-executes itself instead).

use super::config::{Config, LoadOptions};
use super::log::DaemonLog;
use super::server::{reverse_name, serve_connection, ParseArgs, PeerInfo};
use crate::error::ExitCode;
use crate::options::Options;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Set in the environment of the re-executed, detached listener.
const DETACHED_ENV: &str = "GENSYNC_DAEMON_DETACHED";

fn fail(prog: &str, msg: &str, code: ExitCode) -> ExitCode {
    eprint!(
        "{msg}\n{}",
        crate::report::messages::exit_line(prog, code, crate::report::messages::Who::Server)
    );
    code
}

pub fn daemon_main(opts: Options, parse: ParseArgs<'_>) -> ExitCode {
    let prog = opts.program_name.clone();
    let root = nix::unistd::geteuid().is_root();
    let rsh = opts.server;
    let path = PathBuf::from(opts.net.config.clone().unwrap_or_else(|| {
        if rsh && !root {
            "rsyncd.conf".into()
        } else {
            "/etc/rsyncd.conf".into()
        }
    }));
    let load = LoadOptions {
        globals_only: false,
        dparams: opts.net.dparams.clone(),
    };
    let cfg = match Config::load(&path, &load) {
        Ok(c) => c,
        Err(e) => return fail(&prog, &e.msg, ExitCode::SYNTAX),
    };
    let defaults = cfg.defaults();
    let log = DaemonLog::open(
        &defaults.log_file(),
        defaults.syslog_facility(),
        &defaults.syslog_tag(),
    );
    for l in &cfg.log {
        log.line(&l.text);
    }
    let reverse = defaults.reverse_lookup();
    let peer_of = |addr: IpAddr| PeerInfo {
        addr,
        host: reverse.then(|| reverse_name(addr)),
    };
    if rsh {
        // The remote shell's client address, as upstream reads it.
        let addr = std::env::var("SSH_CONNECTION")
            .or_else(|_| std::env::var("SSH_CLIENT"))
            .ok()
            .and_then(|v| v.split(' ').next().and_then(|a| a.parse().ok()))
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let (Ok(i), Ok(o)) = (
            std::io::stdin().as_fd().try_clone_to_owned(),
            std::io::stdout().as_fd().try_clone_to_owned(),
        ) else {
            return ExitCode::IPC;
        };
        return serve_connection(
            &cfg,
            &opts,
            std::fs::File::from(i),
            std::fs::File::from(o),
            peer_of(addr),
            &log,
            parse,
        );
    }
    if stdin_is_socket() {
        let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
            return ExitCode::IPC;
        };
        let sock = TcpStream::from(fd);
        let addr = sock
            .peer_addr()
            .map(|a| a.ip().to_canonical())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let (Ok(r), Ok(linger)) = (sock.try_clone(), sock.try_clone()) else {
            return ExitCode::IPC;
        };
        let code = serve_connection(&cfg, &opts, r, sock, peer_of(addr), &log, parse);
        if code != ExitCode::OK {
            lingering_close(linger);
        }
        return code;
    }
    listen(&opts, &cfg, &path, &log)
}

/// After an error, stop sending and read what the client still had in
/// flight (briefly) before closing: closing a socket with unread data
/// makes the kernel reset the connection, and a reset can destroy the
/// error message the client has not read yet.
fn lingering_close(sock: TcpStream) {
    use std::io::Read;
    let _ = sock.shutdown(std::net::Shutdown::Write);
    let _ = sock.set_read_timeout(Some(std::time::Duration::from_secs(2)));
    let mut sock = sock;
    let mut buf = [0u8; 16384];
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(2) {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

fn stdin_is_socket() -> bool {
    use nix::sys::stat::{fstat, SFlag};
    use std::os::fd::AsRawFd;
    fstat(std::io::stdin().as_raw_fd())
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFSOCK)
        .unwrap_or(false)
}

/// The standalone daemon: detach, bind, write the pid file, accept.
fn listen(
    opts: &Options,
    cfg: &Config,
    config_path: &std::path::Path,
    log: &DaemonLog,
) -> ExitCode {
    let prog = &opts.program_name;
    let g = cfg.global();
    if opts.net.detach && std::env::var_os(DETACHED_ENV).is_none() {
        return detach();
    }
    if std::env::var_os(DETACHED_ENV).is_some() {
        // A new session: no controlling terminal, not killed with ours.
        let _ = nix::unistd::setsid();
    }
    let port = opts
        .net
        .port
        .or_else(|| u16::try_from(g.rsync_port()).ok().filter(|&p| p != 0))
        .unwrap_or(super::client::RSYNC_PORT);
    let address = opts
        .net
        .bind_address
        .clone()
        .unwrap_or_else(|| g.bind_address());
    let listener = match bind(&address, port, opts.net.address_family, g.listen_backlog()) {
        Ok(l) => l,
        Err(e) => {
            let msg = format!(
                "{prog}: unable to bind any inbound sockets on port {port}: {}",
                crate::error::strerror(&e)
            );
            log.line(&msg);
            return fail(prog, &msg, ExitCode::SOCKETIO);
        }
    };
    let pid_file = g.pid_file();
    if !pid_file.is_empty() {
        if let Err(msg) = create_pid_file(&pid_file) {
            log.line(&msg);
            return fail(prog, &msg, ExitCode::FILEIO);
        }
    }
    log.line(&format!(
        "rsyncd version {} starting, listening on port {port}",
        crate::report::messages::VERSION
    ));
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from(prog));
    let config_path = std::fs::canonicalize(config_path).unwrap_or(config_path.to_path_buf());
    let mut child_args: Vec<OsString> = vec![
        "--daemon".into(),
        "--no-detach".into(),
        format!("--config={}", config_path.display()).into(),
    ];
    for d in &opts.net.dparams {
        child_args.push(format!("--dparam={d}").into());
    }
    if opts.bwlimit > 0 {
        child_args.push(format!("--bwlimit={}", opts.bwlimit).into());
    }
    for conn in listener.incoming() {
        let Ok(sock) = conn else { continue };
        // --sockopts wins over "socket options" (upstream: the command
        // line's value replaces the config's).
        let so = opts
            .net
            .sockopts
            .clone()
            .unwrap_or_else(|| g.socket_options());
        super::client::apply_sockopts(
            &sock,
            Some(&so).filter(|s| !s.is_empty()).map(|s| s.as_str()),
        );
        let Ok(out) = sock.try_clone() else { continue };
        let mut cmd = Command::new(&exe);
        // argv[0] decides the name messages use.
        std::os::unix::process::CommandExt::arg0(&mut cmd, prog);
        let spawned = cmd
            .args(&child_args)
            .env_remove(DETACHED_ENV)
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(sock)))
            .stdout(Stdio::from(std::os::fd::OwnedFd::from(out)))
            .spawn();
        match spawned {
            Ok(mut child) => {
                // Reap it when it ends, so no zombies pile up.
                std::thread::spawn(move || {
                    let _ = child.wait();
                });
            }
            Err(e) => log.line(&format!(
                "rsync: fork failed: {}",
                crate::error::strerror(&e)
            )),
        }
    }
    ExitCode::OK
}

/// Start the listener again in the background and return at once, as
/// become_daemon() does; its output goes to /dev/null.
fn detach() -> ExitCode {
    let Ok(exe) = std::env::current_exe() else {
        return ExitCode::IPC;
    };
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let mut cmd = Command::new(exe);
    std::os::unix::process::CommandExt::arg0(&mut cmd, argv0);
    match cmd
        .args(args)
        .env(DETACHED_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(_) => ExitCode::OK,
        Err(_) => ExitCode::IPC,
    }
}

/// Bind the listening socket: the given address, or every address (one
/// dual-stack IPv6 socket, else IPv4) when none is given. SO_REUSEADDR is
/// set and the queue is "listen backlog" long, as upstream does.
fn bind(address: &str, port: u16, family: u8, backlog: i32) -> std::io::Result<TcpListener> {
    use std::net::{SocketAddr, ToSocketAddrs};
    let candidates: Vec<SocketAddr> = if !address.is_empty() {
        (address, port).to_socket_addrs()?.collect()
    } else {
        vec![
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)),
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        ]
    };
    let mut last = None;
    for a in candidates {
        if (family == 4 && !a.is_ipv4()) || (family == 6 && !a.is_ipv6()) {
            continue;
        }
        match listen_on(a, backlog) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::AddrNotAvailable)))
}

fn listen_on(a: std::net::SocketAddr, backlog: i32) -> std::io::Result<TcpListener> {
    use nix::sys::socket::{
        bind, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag, SockType,
        SockaddrIn, SockaddrIn6,
    };
    use std::os::fd::AsRawFd;
    let fam = if a.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(fam, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    match a {
        std::net::SocketAddr::V4(v) => bind(fd.as_raw_fd(), &SockaddrIn::from(v))?,
        std::net::SocketAddr::V6(v) => bind(fd.as_raw_fd(), &SockaddrIn6::from(v))?,
    }
    let backlog = Backlog::new(backlog.max(1)).unwrap_or(Backlog::MAXCONN);
    listen(&fd, backlog)?;
    Ok(TcpListener::from(fd))
}
/// Write our pid, holding a lock on the file for as long as we run, so a
/// second daemon with the same pid file refuses to start while a stale
/// file from a dead one is simply reused (clientserver.c create_pid_file()).
fn create_pid_file(path: &str) -> Result<(), String> {
    use std::io::{Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map_err(|e| {
            format!(
                "failed to create pid file {path}: {}",
                crate::error::strerror(&e)
            )
        })?;
    let lk = nix::libc::flock {
        l_type: nix::libc::F_WRLCK as i16,
        l_whence: nix::libc::SEEK_SET as i16,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
    if let Err(e) = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETLK(&lk)) {
        return Err(format!(
            "failed to lock pid file {path}: {}",
            crate::error::strerror(&std::io::Error::from(e))
        ));
    }
    let _ = f.set_len(0);
    let _ = f.seek(std::io::SeekFrom::Start(0));
    let _ = writeln!(f, "{}", std::process::id());
    crate::session::signals::remove_on_exit(PathBuf::from(path));
    // The lock lives as long as the descriptor: keep it for the process.
    std::mem::forget(f);
    Ok(())
}
