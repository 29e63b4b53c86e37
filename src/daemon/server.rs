//! One daemon connection (upstream: clientserver.c start_daemon(),
//! rsync_module(), send_listing(); io.c read_args()). See
//! protocol-notes/daemon.md.
//!
//! Each connection runs in its own process (the listener starts one per
//! accepted socket, see `listen.rs`), so chroot, uid changes and a crash
//! stay with that client.

use super::access::{allow_access, Host, Peer, Resolver};
use super::auth::{self, AuthRequest};
use super::client::{greeting_line, read_line};
use super::config::{Config, ModuleConfig};
use super::log::DaemonLog;
use super::refuse::{refuse_error, RefuseContext, RefuseSet};
use crate::error::{Error, ExitCode};
use crate::options::Options;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Parses the client's argument words (server options, ".", paths) into
/// options; supplied by the command-line layer.
pub type ParseArgs<'a> = &'a dyn Fn(&[OsString]) -> crate::Result<Options>;

/// The absolute bound on the peer-driven handshake (upstream
/// DAEMON_HANDSHAKE_TIMEOUT); a module's smaller positive "timeout" lowers
/// it. A client that trickles its greeting or arguments cannot hold a
/// connection slot longer.
const DAEMON_HANDSHAKE_TIMEOUT: u64 = 60;

/// Armed for the handshake: the generation it was armed with, or 0.
static HANDSHAKE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Arm (secs > 0) or disarm the handshake deadline. A watchdog thread ends
/// the process with code 30 if the deadline passes while still armed.
fn set_handshake_timeout(secs: u64) {
    use std::sync::atomic::Ordering;
    static GEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    if secs == 0 {
        HANDSHAKE.store(0, Ordering::SeqCst);
        return;
    }
    let g = GEN.fetch_add(1, Ordering::SeqCst) + 1;
    HANDSHAKE.store(g, Ordering::SeqCst);
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(secs));
        if HANDSHAKE.load(Ordering::SeqCst) == g {
            crate::session::liveness::claim_exit();
            eprintln!("[server] daemon handshake timeout -- exiting");
            std::process::exit(ExitCode::TIMEOUT.0);
        }
    });
}

fn handshake_timeout(module_timeout: i32) -> u64 {
    if module_timeout <= 0 || module_timeout as u64 > DAEMON_HANDSHAKE_TIMEOUT {
        DAEMON_HANDSHAKE_TIMEOUT
    } else {
        module_timeout as u64
    }
}

/// Longest argument line, and most argument words, a client may send.
const MAX_ARG_LINE: usize = 4096;
const MAX_DAEMON_ARGS: usize = 1000;

/// What the connection knows of its peer.
pub struct PeerInfo {
    pub addr: IpAddr,
    /// The reverse-lookup name, or `None` for "UNDETERMINED".
    pub host: Option<String>,
}

impl PeerInfo {
    pub fn host_str(&self) -> &str {
        self.host
            .as_deref()
            .unwrap_or(super::access::UNDETERMINED_HOSTNAME)
    }
}

/// Names from /etc/hosts: the resolver the access checks use.
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn forward_ipv4(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
        use std::net::ToSocketAddrs;
        let v: Vec<Ipv4Addr> = (name, 0)
            .to_socket_addrs()
            .ok()?
            .filter_map(|a| match a.ip() {
                IpAddr::V4(v) => Some(v),
                IpAddr::V6(_) => None,
            })
            .collect();
        (!v.is_empty()).then_some(v)
    }
}

/// The peer's name (socket.c client_name()): std has no reverse resolver,
/// so /etc/hosts answers; "UNKNOWN" when nothing names the address.
pub fn reverse_name(addr: IpAddr) -> String {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut it = line.split_whitespace();
        let (Some(a), Some(name)) = (it.next(), it.next()) else {
            continue;
        };
        if a.parse::<IpAddr>().ok() == Some(addr) {
            return name.to_string();
        }
    }
    "UNKNOWN".to_string()
}

/// Read one protocol line or fail quietly (the client went away).
fn line_or_eof<R: Read + ?Sized>(r: &mut R) -> Option<String> {
    read_line(r).ok().flatten()
}

/// Serve one connection from greeting to the end of the transfer.
pub fn serve_connection<R: Read + Send, W: Write + Send>(
    cfg: &Config,
    base: &Options,
    mut r: R,
    mut w: W,
    peer: PeerInfo,
    log: &DaemonLog,
    parse: ParseArgs<'_>,
) -> ExitCode {
    let addr = peer.addr.to_string();
    set_handshake_timeout(handshake_timeout(cfg.defaults().timeout()));
    log.line(&format!("connect from {} ({addr})", peer.host_str()));
    // Greeting, MOTD and the client's greeting (exchange_protocols()).
    let mut hello = greeting_line(crate::wire::PROTOCOL_VERSION).into_bytes();
    let motd = cfg.global().motd_file();
    if !motd.is_empty() {
        if let Ok(mut f) = auth::open_trusted(std::path::Path::new(&motd)) {
            let _ = f.read_to_end(&mut hello);
        }
        hello.push(b'\n');
    }
    if w.write_all(&hello).and_then(|()| w.flush()).is_err() {
        return ExitCode::SOCKETIO;
    }
    let Some(line) = line_or_eof(&mut r) else {
        return ExitCode::SOCKETIO;
    };
    let greeting = match auth::parse_client_greeting(&line) {
        Ok(g) => g,
        Err(e) => return send_error(&mut w, &e),
    };
    let protocol = greeting.negotiated.max(0) as u32;
    let Some(mut line) = line_or_eof(&mut r) else {
        return ExitCode::SOCKETIO;
    };
    let mut early_input = None;
    if let Some(n) = line.strip_prefix("#early_input=") {
        let len = super::config::c_atoi(n);
        if len <= 0 || len > 5 * 1024 {
            return send_error(&mut w, "@ERROR: invalid early_input length");
        }
        let mut buf = vec![0u8; len as usize];
        if r.read_exact(&mut buf).is_err() {
            return ExitCode::SOCKETIO;
        }
        early_input = Some(buf);
        match line_or_eof(&mut r) {
            Some(l) => line = l,
            None => return ExitCode::SOCKETIO,
        }
    }
    if line.is_empty() || line == "#list" {
        log.line(&format!(
            "module-list request from {} ({addr})",
            peer.host_str()
        ));
        let mut out = String::new();
        for m in cfg.modules() {
            if m.list() {
                out.push_str(&format!("{:<15}\t{}\n", m.name(), m.comment()));
            }
        }
        if protocol >= 25 {
            out.push_str("@RSYNCD: EXIT\n");
        }
        let _ = w.write_all(out.as_bytes()).and_then(|()| w.flush());
        return ExitCode::OK;
    }
    if line.starts_with('#') {
        return send_error(&mut w, &format!("@ERROR: Unknown command '{line}'"));
    }
    let Some(module) = cfg.find_module(&line) else {
        log.line(&format!(
            "unknown module '{line}' tried from {} ({addr})",
            peer.host_str()
        ));
        return send_error(&mut w, &format!("@ERROR: Unknown module '{line}'"));
    };
    let _ = early_input;
    let session = Session {
        module,
        base,
        peer,
        addr,
        protocol,
        client_digests: greeting.digests,
        log,
    };
    session.run(r, w, parse)
}

fn send_error<W: Write>(w: &mut W, line: &str) -> ExitCode {
    let _ = w
        .write_all(format!("{line}\n").as_bytes())
        .and_then(|()| w.flush());
    ExitCode::STARTCLIENT
}

struct Session<'a> {
    module: ModuleConfig<'a>,
    base: &'a Options,
    peer: PeerInfo,
    addr: String,
    protocol: u32,
    client_digests: Option<String>,
    log: &'a DaemonLog,
}

impl Session<'_> {
    /// rsync_module(): access, authentication, privileges, the argument
    /// list, then the transfer.
    fn run<R: Read + Send, W: Write + Send>(
        self,
        mut r: R,
        mut w: W,
        parse: ParseArgs<'_>,
    ) -> ExitCode {
        let m = &self.module;
        let name = m.name();
        let host = self.peer.host_str().to_string();
        let addr = self.addr.clone();
        std::env::set_var("RSYNC_MODULE_NAME", &name);
        std::env::set_var("RSYNC_HOST_NAME", &host);
        std::env::set_var("RSYNC_HOST_ADDR", &addr);

        let mut p = Peer {
            addr: self.peer.addr,
            scope_id: 0,
            host: match &self.peer.host {
                Some(h) => Host::Name(h.clone()),
                None => Host::Undetermined,
            },
        };
        let access = allow_access(
            &mut p,
            &m.hosts_allow(),
            &m.hosts_deny(),
            m.forward_lookup(),
            &SystemResolver,
        );
        for l in &access.log {
            self.log.line(l);
        }
        if !access.allowed {
            self.log.line(&format!(
                "rsync denied on module {name} from {host} ({addr})"
            ));
            return if m.list() {
                send_error(
                    &mut w,
                    &format!("@ERROR: access denied to {name} from {host} ({addr})"),
                )
            } else {
                send_error(&mut w, &format!("@ERROR: Unknown module '{name}'"))
            };
        }
        self.log.line(&format!(
            "rsync allowed access on module {name} from {host} ({addr})"
        ));
        let _slot = match super::lock::claim_connection(&m.lock_file(), m.max_connections()) {
            Ok(slot) => slot,
            Err(None) => {
                let max = m.max_connections();
                self.log.line(&format!("max connections ({max}) reached"));
                return send_error(
                    &mut w,
                    &format!("@ERROR: max connections ({max}) reached -- try again later"),
                );
            }
            Err(Some(e)) => {
                self.log.line(&format!(
                    "rsync: failed to open lock file {}: {}",
                    m.lock_file(),
                    crate::error::strerror(&e)
                ));
                return send_error(&mut w, "@ERROR: failed to open lock file");
            }
        };
        set_handshake_timeout(handshake_timeout(m.timeout()));
        let mut read_only = m.read_only();
        let mut auth_user = String::new();
        if !m.auth_users().is_empty() {
            match self.authenticate(&mut r, &mut w) {
                Some(ok) => {
                    if let Some(ro) = ok.read_only {
                        read_only = ro;
                    }
                    auth_user = ok.user;
                }
                None => return send_error(&mut w, &auth::auth_failed_line(&name)),
            }
        }
        std::env::set_var("RSYNC_USER_NAME", &auth_user);
        // Local setup does not count against the peer.
        set_handshake_timeout(0);
        if let Err(msg) = self.refuse_unsupported() {
            self.log.line(&msg);
            return send_error(&mut w, &format!("@ERROR: {msg}"));
        }
        let path = m.path();
        if path.is_empty() {
            self.log
                .line(&format!("No path specified for module {name}"));
            return send_error(&mut w, "@ERROR: no path setting.");
        }
        let chrooted = match self.enter_module(&path) {
            Ok(c) => c,
            Err(line) => return send_error(&mut w, &line),
        };
        std::env::set_var("RSYNC_MODULE_PATH", &path);
        if let Err(line) = self.drop_privileges() {
            return send_error(&mut w, &line);
        }
        set_handshake_timeout(handshake_timeout(m.timeout()));
        if w.write_all(b"@RSYNCD: OK\n")
            .and_then(|()| w.flush())
            .is_err()
        {
            return ExitCode::SOCKETIO;
        }
        // The argument list (read_args()): NUL-ended from protocol 30 on.
        let nulls = self.protocol >= 30;
        let Some(mut words) = read_arg_words(&mut r, nulls) else {
            return ExitCode::STREAMIO;
        };
        let refuse = RefuseSet::new(
            &m.refuse_options(),
            RefuseContext {
                has_charset: !m.charset().is_empty(),
                ..RefuseContext::default()
            },
        );
        for l in &refuse.log {
            self.log.line(l);
        }
        let check = |long: Option<&str>, short: Option<char>| -> Option<String> {
            if long == Some("archive") || short == Some('a') {
                if let Some(row) = refuse.archive_part_refused() {
                    return Some(refuse_error(row));
                }
            }
            let hit = long.is_some_and(|l| refuse.refuses_long(l))
                || short.is_some_and(|c| refuse.refuses_short(c));
            if !hit {
                return None;
            }
            let row = refuse.refused_rows().find(|row| {
                long.is_some_and(|l| row.long == l) || short.is_some_and(|c| row.short == c)
            });
            Some(match row {
                Some(row) => refuse_error(row),
                None => format!(
                    "The server is configured to refuse --{}",
                    long.unwrap_or_default()
                ),
            })
        };
        let mut parsed = parse(&words);
        if let Ok(o) = &parsed {
            if o.protect_args {
                // -s: the real list follows, always NUL-separated.
                match read_arg_words(&mut r, true) {
                    Some(more) => {
                        // The first list's operands are not the real ones
                        // (a protocol-29 client even sends its split marker
                        // as "(null)"): keep its options only.
                        let cut = words
                            .iter()
                            .position(|w| w.as_bytes() == b"." || w.as_bytes() == b"(null)")
                            .unwrap_or(words.len());
                        words.truncate(cut);
                        words.extend(more.into_iter().skip(1));
                        parsed = parse(&words);
                    }
                    None => return ExitCode::STREAMIO,
                }
            }
        }
        let parsed =
            parsed.and_then(
                |o| match o.net.given.iter().find_map(|&(l, c)| check(l, c)) {
                    Some(msg) => Err(Error::new(ExitCode::UNSUPPORTED, msg)),
                    None => Ok(o),
                },
            );
        set_handshake_timeout(0);
        let (mut opts, mut refused) = match parsed {
            Ok(o) => (o, None),
            Err(e) => {
                // Upstream still completes the protocol setup so the
                // error can travel to the client.
                let o = Options {
                    sender: words.iter().any(|w| w.as_bytes() == b"--sender"),
                    ..Options::default()
                };
                (o, Some(Error::new(ExitCode::UNSUPPORTED, e.msg)))
            }
        };
        opts.server = true;
        opts.daemon = true;
        opts.program_name = self.base.program_name.clone();
        opts.net.preset_protocol = Some(self.protocol);
        if m.ignore_errors() {
            opts.ignore_errors = true;
        }
        // "munge symlinks" is the module's, never the client's; unset, it
        // is on unless a chroot (without an inner "/./" path) confines
        // the module.
        opts.munge_links = m
            .munge_symlinks()
            .unwrap_or(!chrooted || path.contains("/./"));
        if opts.munge_links && std::path::Path::new("/rsyncd-munged").is_dir() {
            self.log
                .line("Symlink munging is unsafe when a /rsyncd-munged directory exists.");
            return send_error(&mut w, "@ERROR: daemon security issue -- contact admin");
        }
        // The daemon's own --bwlimit caps what a client may ask for.
        let cap = self.base.bwlimit;
        if cap > 0 && (opts.bwlimit == 0 || opts.bwlimit > cap) {
            opts.bwlimit = cap;
        }
        crate::session::limits::set_bwlimit(opts.bwlimit);
        let t = m.timeout();
        if t > 0 && (opts.timeout == 0 || (t as u32) < opts.timeout) {
            opts.timeout = t as u32;
        }
        if refused.is_none() {
            if !opts.sender && read_only {
                refused = Some(Error::new(ExitCode::SYNTAX, "ERROR: module is read only"));
            } else if opts.sender && m.write_only() {
                refused = Some(Error::new(ExitCode::SYNTAX, "ERROR: module is write only"));
            }
        }
        // Paths are the module's: "name/x" becomes "x" (glob_expand_module()),
        // and outside a chroot they may not climb out (sanitize_paths).
        let req = module_paths(&mut opts, &name, !chrooted);
        if !req.is_empty() {
            let dir = if opts.sender { "on" } else { "to" };
            if auth_user.is_empty() {
                self.log
                    .line(&format!("rsync {dir} {req} from {host} ({addr})"));
            } else {
                self.log.line(&format!(
                    "rsync {dir} {req} from {auth_user}@{host} ({addr})"
                ));
            }
        }
        crate::session::server::serve(opts, r, w, refused)
    }

    /// The challenge and the check of the answer (auth_server()).
    fn authenticate<R: Read, W: Write>(&self, r: &mut R, w: &mut W) -> Option<auth::AuthOk> {
        let m = &self.module;
        let name = m.name();
        let digest =
            match auth::negotiate_auth_digest(self.client_digests.as_deref(), self.protocol as i32)
            {
                Ok(d) => d,
                Err(line) => {
                    let _ = w.write_all(format!("{line}\n").as_bytes());
                    return None;
                }
            };
        let challenge = auth::gen_challenge(&self.addr, digest);
        w.write_all(format!("@RSYNCD: AUTHREQD {challenge}\n").as_bytes())
            .ok()?;
        w.flush().ok()?;
        let line = line_or_eof(r);
        let floor = m.auth_digest();
        if !floor.is_empty() {
            if let Err(l) =
                auth::check_digest_floor(&floor, digest, &name, self.peer.host_str(), &self.addr)
            {
                self.log.line(&l);
                return None;
            }
        }
        let req = AuthRequest {
            module: &name,
            host: self.peer.host_str(),
            addr: &self.addr,
            auth_users: &m.auth_users(),
            secrets_file: &m.secrets_file(),
            strict_modes: m.strict_modes(),
            running_as_root: nix::unistd::geteuid().is_root(),
            digest,
            challenge: &challenge,
        };
        match auth::verify_response(&req, line.as_deref(), &mut auth::system_groups) {
            Ok(ok) => Some(ok),
            Err(fail) => {
                for l in &fail.log {
                    self.log.line(l);
                }
                None
            }
        }
    }

    /// Parameters whose behaviour this daemon does not provide: refused
    /// with a message rather than ignored.
    fn refuse_unsupported(&self) -> Result<(), String> {
        let m = &self.module;
        let set = |s: String| !s.is_empty();
        let checks: [(&str, bool); 9] = [
            ("filter", set(m.filter())),
            ("exclude", set(m.exclude())),
            ("include", set(m.include())),
            ("exclude from", set(m.exclude_from())),
            ("include from", set(m.include_from())),
            ("incoming chmod", set(m.incoming_chmod())),
            ("outgoing chmod", set(m.outgoing_chmod())),
            ("temp dir", set(m.temp_dir())),
            ("fake super", m.fake_super()),
        ];
        for (param, on) in checks {
            if on {
                return Err(format!(
                    "module {} sets \"{param}\", which this gensync daemon does not support yet",
                    m.name()
                ));
            }
        }
        let env = super::config::ProcessEnv;
        for (param, v) in [
            ("early exec", m.early_exec(&env)),
            ("pre-xfer exec", m.pre_xfer_exec(&env)),
            ("post-xfer exec", m.post_xfer_exec(&env)),
            ("name converter", m.name_converter(&env)),
        ] {
            if v.map(|s| !s.is_empty()).unwrap_or(true) {
                return Err(format!(
                    "module {} sets \"{param}\", which this gensync daemon does not support yet",
                    m.name()
                ));
            }
        }
        Ok(())
    }

    /// chdir (and chroot when "use chroot" says so and we may) into the
    /// module. Returns whether the process is now chrooted.
    fn enter_module(&self, path: &str) -> Result<bool, String> {
        let m = &self.module;
        let want = m.use_chroot();
        let root = nix::unistd::geteuid().is_root();
        // Unset means "if it works": only root can chroot.
        let chroot = match want {
            Some(true) => true,
            Some(false) => false,
            None => root,
        };
        let (outer, inner) = match path.find("/./") {
            Some(i) if chroot => (&path[..i], &path[i + 2..]),
            _ => (path, "/"),
        };
        if chroot {
            if let Err(e) = nix::unistd::chroot(outer) {
                self.log.line(&format!(
                    "rsync: chroot(\"{outer}\") failed: {}",
                    crate::error::strerror(&std::io::Error::from(e))
                ));
                return Err("@ERROR: chroot failed".into());
            }
        }
        let dir = if chroot { inner } else { path };
        if let Err(e) = std::env::set_current_dir(dir) {
            self.log.line(&format!(
                "rsync: chdir {dir} failed: {}",
                crate::error::strerror(&e)
            ));
            return Err("@ERROR: chdir failed".to_string());
        }
        Ok(chroot)
    }

    /// "uid"/"gid" (default nobody/nogroup when root), applied after the
    /// chroot, gid first.
    fn drop_privileges(&self) -> Result<(), String> {
        use nix::unistd::{setgid, setgroups, setuid, Gid, Group, Uid, User};
        let m = &self.module;
        let root = nix::unistd::geteuid().is_root();
        let uid_s = m.uid();
        let gid_s = m.gid();
        let uid_name = if !uid_s.is_empty() {
            Some(uid_s)
        } else if root {
            Some("nobody".to_string())
        } else {
            None
        };
        let gid_name = if !gid_s.is_empty() {
            Some(gid_s)
        } else if root {
            Some("nogroup".to_string())
        } else {
            None
        };
        if let Some(g) = gid_name {
            let gid = match g.parse::<u32>() {
                Ok(n) => Some(Gid::from_raw(n)),
                Err(_) => Group::from_name(&g)
                    .ok()
                    .flatten()
                    .map(|gr| gr.gid)
                    .or_else(|| {
                        (g == "nogroup")
                            .then(|| Group::from_name("nobody").ok().flatten().map(|gr| gr.gid))
                            .flatten()
                    }),
            };
            let Some(gid) = gid else {
                self.log.line(&format!("Invalid gid {g}"));
                return Err(format!("@ERROR: invalid gid {g}"));
            };
            if setgid(gid).is_err() {
                return Err("@ERROR: setgid failed".into());
            }
            if root && setgroups(&[gid]).is_err() {
                return Err("@ERROR: setgroups failed".into());
            }
        }
        if let Some(u) = uid_name {
            let uid = match u.parse::<u32>() {
                Ok(n) => Some(Uid::from_raw(n)),
                Err(_) => User::from_name(&u).ok().flatten().map(|pw| pw.uid),
            };
            let Some(uid) = uid else {
                self.log.line(&format!("Invalid uid {u}"));
                return Err(format!("@ERROR: invalid uid {u}"));
            };
            if setuid(uid).is_err() {
                return Err("@ERROR: setuid failed".into());
            }
        }
        Ok(())
    }
}

/// Read the client's argument words (io.c read_args()): each ends in NUL
/// (protocol 30+) or newline; an empty one ends the list. Bounded.
fn read_arg_words<R: Read>(r: &mut R, nulls: bool) -> Option<Vec<OsString>> {
    let end = if nulls { 0u8 } else { b'\n' };
    let mut words = Vec::new();
    let mut cur = Vec::new();
    loop {
        let mut b = [0u8];
        match r.read(&mut b) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
        if b[0] == end {
            if cur.is_empty() {
                return Some(words);
            }
            if words.len() >= MAX_DAEMON_ARGS {
                return None;
            }
            words.push(OsString::from_vec(std::mem::take(&mut cur)));
        } else if b[0] != b'\r' || nulls {
            if cur.len() >= MAX_ARG_LINE {
                return None;
            }
            cur.push(b[0]);
        }
    }
}

/// The operands after "." are module paths: strip the module name, split
/// on " name/" (a client's way of sending several), and sanitize when not
/// chrooted. Returns the request text for the log.
fn module_paths(opts: &mut Options, name: &str, sanitize: bool) -> String {
    let mut out = Vec::new();
    let mut request = Vec::new();
    let ops = std::mem::take(&mut opts.operands);
    // operands[0] is the "." placeholder.
    for op in ops.iter().skip(1) {
        let b = op.as_bytes();
        request.push(String::from_utf8_lossy(b).into_owned());
        let sep = format!(" {name}/");
        let text = b.to_vec();
        let mut pieces: Vec<Vec<u8>> = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i + sep.len() <= text.len() {
            if &text[i..i + sep.len()] == sep.as_bytes() {
                pieces.push(text[start..i].to_vec());
                start = i + 1;
                i += sep.len();
            } else {
                i += 1;
            }
        }
        pieces.push(text[start..].to_vec());
        for p in pieces {
            let p = unbracket(&p);
            let rel = strip_module(&p, name);
            out.push(OsString::from_vec(if sanitize {
                sanitize_path(&rel)
            } else {
                rel
            }));
        }
    }
    let mut operands = vec![OsString::from(".")];
    operands.extend(out);
    opts.operands = operands;
    request.join(" ")
}

/// "[ ]" is how a client protects a literal " name/" in a file name.
fn unbracket(p: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(p.len());
    let mut i = 0;
    while i < p.len() {
        if p[i..].starts_with(b"[ ]") {
            v.push(b' ');
            i += 3;
        } else {
            v.push(p[i]);
            i += 1;
        }
    }
    v
}

fn strip_module(p: &[u8], name: &str) -> Vec<u8> {
    let n = name.as_bytes();
    if p == n {
        return b".".to_vec();
    }
    if p.starts_with(n) && p.get(n.len()) == Some(&b'/') {
        let rest = &p[n.len() + 1..];
        return if rest.is_empty() {
            b".".to_vec()
        } else {
            rest.to_vec()
        };
    }
    p.to_vec()
}

/// util1.c sanitize_path(): drop leading slashes and any ".." that would
/// climb above the module; a trailing slash is kept.
pub fn sanitize_path(p: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in p.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = parts.join(&b'/');
    if out.is_empty() {
        out = b".".to_vec();
    }
    if p.ends_with(b"/") && out != b"." {
        out.push(b'/');
    }
    if p.ends_with(b"/") && out == b"." {
        out = b"./".to_vec();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths_strip_split_and_sanitize() {
        let mut o = Options {
            operands: vec![
                ".".into(),
                "mod/a mod/b".into(),
                "mod".into(),
                "mod/../../etc".into(),
            ],
            ..Options::default()
        };
        let req = module_paths(&mut o, "mod", true);
        assert_eq!(req, "mod/a mod/b mod mod/../../etc");
        let ops: Vec<&[u8]> = o.operands.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(ops, vec![&b"."[..], b"a", b"b", b".", b"etc"]);
    }

    #[test]
    fn sanitize_keeps_trailing_slash() {
        assert_eq!(sanitize_path(b"/x/../y/"), b"y/");
        assert_eq!(sanitize_path(b"../../"), b"./");
        assert_eq!(sanitize_path(b"a/./b"), b"a/b");
    }

    #[test]
    fn arg_words_are_bounded() {
        let mut inp: &[u8] = b"--server\0-r\0.\0mod/\0\0rest";
        let w = read_arg_words(&mut inp, true).unwrap();
        assert_eq!(w.len(), 4);
        assert_eq!(inp, b"rest");
        let long = vec![b'x'; MAX_ARG_LINE + 10];
        assert!(read_arg_words(&mut &long[..], true).is_none());
        let mut old: &[u8] = b"--server\n.\n\n";
        assert_eq!(read_arg_words(&mut old, false).unwrap().len(), 2);
    }
}
