//! rsyncd.conf, read the way rsync 3.5.0 reads it (upstream: params.c for
//! the lexer, loadparm.c for the meaning, daemon-parm.txt for the table).
//!
//! Model, kept deliberately close to upstream because the order of lines
//! changes results:
//! - There is one "current" set of values ([`Vars`]): globals plus the
//!   module defaults. Lines in the global part (before the first `[module]`,
//!   or after `[global]`) change it.
//! - A module section starts as a *copy* of the current module defaults and is
//!   changed by its own lines. A repeated `[name]` (compared ignoring case and
//!   white space) continues the earlier section.
//! - When a module's string value is unset, the *final* module default is used
//!   (upstream's accessors fall back to `Vars.l` at lookup time); booleans
//!   and integers never fall back, they were copied at section start.
//! - Strings and paths keep `%VAR%` unexpanded until they are read (so that
//!   `path = /home/%RSYNC_USER_NAME%` sees the variable set after auth);
//!   every other type is expanded while parsing.
//! - `&include FILE|DIR` parses the file(s) (`*.conf` in a directory, sorted)
//!   with the globals saved before and restored after, starting in the global
//!   part; `&merge FILE|DIR` (`*.inc`) parses as if the text were inline.
//! - `--dparam` values apply at the end of the global part (the first time a
//!   module section starts), or after a globals-only load.
//!
//! Diagnostics go to [`Config::log`] with upstream's wording; the daemon
//! writes them to its log (upstream's FLOG).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Error, ExitCode};

/// Upstream's default "dont compress" list (generated from rsync.1.md's
/// --skip-compress section at build time upstream).
pub const DEFAULT_DONT_COMPRESS: &str = "*.3g2 *.3gp *.7z *.aac *.ace *.apk *.avi *.bz2 *.deb \
*.dmg *.ear *.f4v *.flac *.flv *.gpg *.gz *.iso *.jar *.jpeg *.jpg *.lrz *.lz *.lz4 *.lzma *.lzo \
*.m1a *.m1v *.m2a *.m2ts *.m2v *.m4a *.m4b *.m4p *.m4r *.m4v *.mka *.mkv *.mov *.mp1 *.mp2 *.mp3 \
*.mp4 *.mpa *.mpeg *.mpg *.mpv *.mts *.odb *.odf *.odg *.odi *.odm *.odp *.ods *.odt *.oga *.ogg \
*.ogm *.ogv *.ogx *.opus *.otg *.oth *.otp *.ots *.ott *.oxt *.png *.qt *.rar *.rpm *.rz *.rzip \
*.spx *.squashfs *.sxc *.sxd *.sxg *.sxm *.sxw *.sz *.tbz *.tbz2 *.tgz *.tlz *.ts *.txz *.tzo \
*.vob *.war *.webm *.webp *.xz *.z *.zip *.zst";

/// rsync.h DEFAULT_LOCK_FILE.
pub const DEFAULT_LOCK_FILE: &str = "/var/run/rsyncd.lock";
/// Where the daemon looks without --config (root, or not run by rsh).
pub const RSYNCD_SYSCONF: &str = "/etc/rsyncd.conf";
/// Without --config when run over rsh by a non-root user.
pub const RSYNCD_USERCONF: &str = "rsyncd.conf";

/// The type of a parameter; it decides how the value text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParmType {
    /// yes/no/true/false/1/0.
    Bool,
    /// Like `Bool`, plus unset/-1 ("not given": the daemon decides).
    Bool3,
    /// C `atoi()`.
    Int,
    /// Kept verbatim; `%VAR%` expanded on use.
    Str,
    /// A string with trailing slashes removed (but never to empty).
    Path,
    /// A name from a fixed list, or a positive number (syslog facility).
    Enum,
}

/// Whether a parameter may appear in a module section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Local,
}

/// One row of upstream's parameter table.
#[derive(Debug, Clone, Copy)]
pub struct ParmDef {
    /// The name as written in rsyncd.conf (matched ignoring case and spaces).
    pub label: &'static str,
    pub scope: Scope,
    pub ty: ParmType,
    /// Index into the global or the local value array.
    pub slot: usize,
}

/// Global-only parameters (daemon-parm.txt "Globals").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G {
    BindAddress,
    DaemonChroot,
    DaemonGid,
    DaemonUid,
    MotdFile,
    PidFile,
    ProxyProtocolHosts,
    SocketOptions,
    ListenBacklog,
    RsyncPort,
    ProxyProtocol,
}

/// Module parameters (daemon-parm.txt "Locals").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L {
    AuthDigest,
    AuthUsers,
    Charset,
    Comment,
    DontCompress,
    EarlyExec,
    Exclude,
    ExcludeFrom,
    Filter,
    Gid,
    HostsAllow,
    HostsDeny,
    Include,
    IncludeFrom,
    IncomingChmod,
    LockFile,
    LogFile,
    LogFormat,
    Name,
    NameConverter,
    OutgoingChmod,
    PostXferExec,
    PreXferExec,
    RefuseOptions,
    SecretsFile,
    SyslogTag,
    Uid,
    Path,
    TempDir,
    MaxConnections,
    MaxVerbosity,
    Timeout,
    SyslogFacility,
    FakeSuper,
    ForwardLookup,
    IgnoreErrors,
    IgnoreNonreadable,
    InsecureLinks,
    List,
    ReadOnly,
    ReverseLookup,
    StrictModes,
    TransferLogging,
    WriteOnly,
    MungeSymlinks,
    NumericIds,
    OpenNoatime,
    UseChroot,
}

const fn g(label: &'static str, ty: ParmType, p: G) -> ParmDef {
    ParmDef {
        label,
        scope: Scope::Global,
        ty,
        slot: p as usize,
    }
}
const fn l(label: &'static str, ty: ParmType, p: L) -> ParmDef {
    ParmDef {
        label,
        scope: Scope::Local,
        ty,
        slot: p as usize,
    }
}

use ParmType as T;

/// Every parameter name upstream accepts, in upstream's table order (the
/// first match wins, which only matters for "include" vs "include from":
/// names compare whole, so it does not). Upstream generates one name per
/// parameter: the part after `|` in daemon-parm.txt with `_` turned into a
/// space; "address" and "port" are the names, not "bind address"/"rsync port".
pub static PARMS: &[ParmDef] = &[
    g("address", T::Str, G::BindAddress),
    g("daemon chroot", T::Str, G::DaemonChroot),
    g("daemon gid", T::Str, G::DaemonGid),
    g("daemon uid", T::Str, G::DaemonUid),
    g("motd file", T::Str, G::MotdFile),
    g("pid file", T::Str, G::PidFile),
    g("proxy protocol hosts", T::Str, G::ProxyProtocolHosts),
    g("socket options", T::Str, G::SocketOptions),
    g("listen backlog", T::Int, G::ListenBacklog),
    g("port", T::Int, G::RsyncPort),
    g("proxy protocol", T::Bool, G::ProxyProtocol),
    l("auth digest", T::Str, L::AuthDigest),
    l("auth users", T::Str, L::AuthUsers),
    l("charset", T::Str, L::Charset),
    l("comment", T::Str, L::Comment),
    l("dont compress", T::Str, L::DontCompress),
    l("early exec", T::Str, L::EarlyExec),
    l("exclude", T::Str, L::Exclude),
    l("exclude from", T::Str, L::ExcludeFrom),
    l("filter", T::Str, L::Filter),
    l("gid", T::Str, L::Gid),
    l("hosts allow", T::Str, L::HostsAllow),
    l("hosts deny", T::Str, L::HostsDeny),
    l("include", T::Str, L::Include),
    l("include from", T::Str, L::IncludeFrom),
    l("incoming chmod", T::Str, L::IncomingChmod),
    l("lock file", T::Str, L::LockFile),
    l("log file", T::Str, L::LogFile),
    l("log format", T::Str, L::LogFormat),
    l("name", T::Str, L::Name),
    l("name converter", T::Str, L::NameConverter),
    l("outgoing chmod", T::Str, L::OutgoingChmod),
    l("post-xfer exec", T::Str, L::PostXferExec),
    l("pre-xfer exec", T::Str, L::PreXferExec),
    l("refuse options", T::Str, L::RefuseOptions),
    l("secrets file", T::Str, L::SecretsFile),
    l("syslog tag", T::Str, L::SyslogTag),
    l("uid", T::Str, L::Uid),
    l("path", T::Path, L::Path),
    l("temp dir", T::Path, L::TempDir),
    l("max connections", T::Int, L::MaxConnections),
    l("max verbosity", T::Int, L::MaxVerbosity),
    l("timeout", T::Int, L::Timeout),
    l("syslog facility", T::Enum, L::SyslogFacility),
    l("fake super", T::Bool, L::FakeSuper),
    l("forward lookup", T::Bool, L::ForwardLookup),
    l("ignore errors", T::Bool, L::IgnoreErrors),
    l("ignore nonreadable", T::Bool, L::IgnoreNonreadable),
    l("insecure links", T::Bool, L::InsecureLinks),
    l("list", T::Bool, L::List),
    l("read only", T::Bool, L::ReadOnly),
    l("reverse lookup", T::Bool, L::ReverseLookup),
    l("strict modes", T::Bool, L::StrictModes),
    l("transfer logging", T::Bool, L::TransferLogging),
    l("write only", T::Bool, L::WriteOnly),
    l("munge symlinks", T::Bool3, L::MungeSymlinks),
    l("numeric ids", T::Bool3, L::NumericIds),
    l("open noatime", T::Bool3, L::OpenNoatime),
    l("use chroot", T::Bool3, L::UseChroot),
];

const N_GLOBAL: usize = G::ProxyProtocol as usize + 1;
const N_LOCAL: usize = L::UseChroot as usize + 1;

/// Syslog facility names (loadparm.c enum_syslog_facility); "security" is
/// an alias of "auth".
pub static SYSLOG_FACILITIES: &[(&str, i32)] = &[
    ("auth", libc::LOG_AUTH),
    ("authpriv", libc::LOG_AUTHPRIV),
    ("cron", libc::LOG_CRON),
    ("daemon", libc::LOG_DAEMON),
    ("ftp", libc::LOG_FTP),
    ("kern", libc::LOG_KERN),
    ("lpr", libc::LOG_LPR),
    ("mail", libc::LOG_MAIL),
    ("news", libc::LOG_NEWS),
    ("security", libc::LOG_AUTH),
    ("syslog", libc::LOG_SYSLOG),
    ("user", libc::LOG_USER),
    ("uucp", libc::LOG_UUCP),
    ("local0", libc::LOG_LOCAL0),
    ("local1", libc::LOG_LOCAL1),
    ("local2", libc::LOG_LOCAL2),
    ("local3", libc::LOG_LOCAL3),
    ("local4", libc::LOG_LOCAL4),
    ("local5", libc::LOG_LOCAL5),
    ("local6", libc::LOG_LOCAL6),
    ("local7", libc::LOG_LOCAL7),
];

/// A stored parameter value. Strings stay raw (unexpanded) until read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(Option<String>),
    Int(i32),
    Bool(bool),
    /// `None` is upstream's "Unset".
    Bool3(Option<bool>),
}

/// The current globals and module defaults (upstream `all_vars Vars`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vars {
    pub g: Vec<Value>,
    pub l: Vec<Value>,
}

impl Default for Vars {
    /// Upstream's `Defaults` (daemon-parm.txt third column).
    fn default() -> Vars {
        let s = |v: Option<&str>| Value::Str(v.map(String::from));
        let mut g = vec![Value::Str(None); N_GLOBAL];
        g[G::ListenBacklog as usize] = Value::Int(5);
        g[G::RsyncPort as usize] = Value::Int(0);
        g[G::ProxyProtocol as usize] = Value::Bool(false);
        let mut l = vec![Value::Str(None); N_LOCAL];
        l[L::DontCompress as usize] = s(Some(DEFAULT_DONT_COMPRESS));
        l[L::LockFile as usize] = s(Some(DEFAULT_LOCK_FILE));
        l[L::LogFormat as usize] = s(Some("%o %h [%a] %m (%u) %f %l"));
        l[L::SyslogTag as usize] = s(Some("rsyncd"));
        l[L::MaxConnections as usize] = Value::Int(0);
        l[L::MaxVerbosity as usize] = Value::Int(1);
        l[L::Timeout as usize] = Value::Int(0);
        l[L::SyslogFacility as usize] = Value::Int(libc::LOG_DAEMON);
        for p in [
            L::FakeSuper,
            L::IgnoreErrors,
            L::IgnoreNonreadable,
            L::InsecureLinks,
            L::TransferLogging,
            L::WriteOnly,
        ] {
            l[p as usize] = Value::Bool(false);
        }
        for p in [
            L::ForwardLookup,
            L::List,
            L::ReadOnly,
            L::ReverseLookup,
            L::StrictModes,
        ] {
            l[p as usize] = Value::Bool(true);
        }
        for p in [
            L::MungeSymlinks,
            L::NumericIds,
            L::OpenNoatime,
            L::UseChroot,
        ] {
            l[p as usize] = Value::Bool3(None);
        }
        Vars { g, l }
    }
}

/// One module section: its raw name and its own copy of the module values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub l: Vec<Value>,
}

/// A message for the daemon log. `syserr` lines carry an errno text and are
/// printed by upstream with rsyserr(), i.e. behind an "rsync: [ROLE] "
/// prefix that the logger adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub syserr: bool,
    pub text: String,
}

/// How to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Stop at the first module section (the listener's first pass).
    pub globals_only: bool,
    /// `--dparam NAME=VALUE` items, in command-line order.
    pub dparams: Vec<String>,
}

/// A parsed rsyncd.conf.
#[derive(Debug, Clone)]
pub struct Config {
    vars: Vars,
    sections: Vec<Section>,
    /// Diagnostics in upstream's words, in order.
    pub log: Vec<LogLine>,
}

// ---------------------------------------------------------------------------
// Small C-compatible helpers.

/// C `isspace()` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Upstream `strwiEQ()`: equal ignoring ASCII case and all white space.
pub fn strwi_eq(a: &str, b: &str) -> bool {
    let mut x = a.bytes().filter(|&c| !is_space(c));
    let mut y = b.bytes().filter(|&c| !is_space(c));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(&q) => {}
            _ => return false,
        }
    }
}

/// C `atoi()` as glibc does it (strtol, then truncation to int).
pub fn c_atoi(s: &str) -> i32 {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && is_space(b[i]) {
        i += 1;
    }
    let neg = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(i).filter(|c| c.is_ascii_digit()) {
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add(i64::from(d - b'0')))
        {
            Some(n) => v = n,
            None => overflow = true,
        }
        i += 1;
    }
    // strtol saturates at LONG_MIN/LONG_MAX; the int conversion then keeps
    // the low 32 bits.
    let v = if overflow {
        if neg {
            i64::MIN
        } else {
            i64::MAX
        }
    } else if neg {
        -v
    } else {
        v
    };
    v as i32
}

/// Parse a boolean as upstream's set_boolean(). `Some(None)` is "unset"
/// (only when `allow_unset`); `None` means badly formed.
pub fn parse_bool(v: &str, allow_unset: bool) -> Option<Option<bool>> {
    if ["yes", "true", "1"].iter().any(|w| strwi_eq(v, w)) {
        Some(Some(true))
    } else if ["no", "false", "0"].iter().any(|w| strwi_eq(v, w)) {
        Some(Some(false))
    } else if allow_unset && (strwi_eq(v, "unset") || strwi_eq(v, "-1")) {
        Some(None)
    } else {
        None
    }
}

/// Where `%VAR%` values come from. The daemon uses the process environment;
/// tests pass a map.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// Characters that make a peer-supplied value unsafe in a shell hook
/// (loadparm.c shell_unsafe_value()). Such a value is refused, not quoted,
/// because hooks often re-parse their words in a second shell.
fn shell_unsafe(v: &str) -> bool {
    v.bytes()
        .any(|c| b"'\"`$\\;&|<>()*?[]# !~{}".contains(&c) || c < 0x20 || c == 0x7f)
}

/// Quote a value for the shell context it lands in. Outside single quotes
/// the value is wrapped in single quotes; inside double quotes it is also
/// backslash-escaped (see upstream for why both).
fn shell_quote(v: &str, q: Quote) -> String {
    let mut out = String::new();
    if q != Quote::Single {
        out.push('\'');
    }
    for c in v.chars() {
        if q == Quote::Double && matches!(c, '\\' | '"' | '`' | '$') {
            out.push('\\');
            out.push(c);
        } else if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    if q != Quote::Single {
        out.push('\'');
    }
    out
}

/// Why an expansion was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// A `%RSYNC_*%` value held a shell metacharacter in a hook command.
    ShellUnsafe(String),
    /// The result grew past the input length + 2048 bytes.
    Overflow,
}

impl ExpandError {
    /// The log line and exit code upstream uses.
    pub fn to_error(&self, input: &str) -> Error {
        match self {
            ExpandError::ShellUnsafe(var) => Error::unsupported(format!(
                "refusing to run shell hook: %{var}% holds a shell metacharacter"
            )),
            ExpandError::Overflow => Error::new(
                ExitCode::MALLOC,
                format!("Overflowed buf in expand_vars() trying to expand: {input}"),
            ),
        }
    }
}

/// Expand `%VAR%` references (loadparm.c expand_vars()).
///
/// `%` followed by an upper-case ASCII letter starts a reference that ends
/// at the next `%`; a set variable replaces it, anything else is left as is
/// and scanning resumes after that first `%`. With `shell`, values of
/// `RSYNC_*` variables (they come from the peer) are refused if unsafe and
/// otherwise quoted for the quoting context the template is in.
pub fn expand_vars(s: &str, shell: bool, env: &dyn Env) -> Result<String, ExpandError> {
    if !s.contains('%') {
        return Ok(s.to_string());
    }
    let b = s.as_bytes();
    let mut budget = b.len() + 2048;
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut q = Quote::None;
    let mut escaped = false;
    let mut i = 0;
    while i < b.len() {
        if budget == 0 {
            return Err(ExpandError::Overflow);
        }
        if b[i] == b'%' && b.get(i + 1).is_some_and(|c| c.is_ascii_uppercase()) {
            if let Some(rel) = b[i + 1..].iter().position(|&c| c == b'%') {
                let name = String::from_utf8_lossy(&b[i + 1..i + 1 + rel]).into_owned();
                if rel + 1 < budget {
                    if let Some(mut val) = env.get(&name) {
                        if shell && name.starts_with("RSYNC_") {
                            if shell_unsafe(&val) {
                                return Err(ExpandError::ShellUnsafe(name));
                            }
                            val = shell_quote(&val, q);
                        }
                        if val.len() > budget {
                            return Err(ExpandError::Overflow);
                        }
                        budget -= val.len();
                        out.extend_from_slice(val.as_bytes());
                        i += rel + 2;
                        continue;
                    }
                }
            }
        }
        let c = b[i];
        if shell {
            // Track the template's own quoting so a value is quoted for
            // the context it is substituted into.
            match q {
                Quote::Single => {
                    if c == b'\'' {
                        q = Quote::None;
                    }
                }
                _ if escaped => escaped = false,
                _ if c == b'\\' => escaped = true,
                Quote::Double => {
                    if c == b'"' {
                        q = Quote::None;
                    }
                }
                Quote::None => {
                    if c == b'\'' {
                        q = Quote::Single;
                    } else if c == b'"' {
                        q = Quote::Double;
                    }
                }
            }
        }
        out.push(c);
        budget -= 1;
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

// ---------------------------------------------------------------------------
// The lexer (params.c). It works on bytes with C's getc() conventions: -1 is
// EOF and a NUL byte also ends the input where upstream tests `c > 0`.

const EOF: i32 = -1;

struct Input {
    data: Vec<u8>,
    pos: usize,
}

impl Input {
    fn getc(&mut self) -> i32 {
        match self.data.get(self.pos) {
            Some(&c) => {
                self.pos += 1;
                i32::from(c)
            }
            None => EOF,
        }
    }
    /// Skip white space other than newline; return the next character.
    fn eat_white(&mut self) -> i32 {
        loop {
            let c = self.getc();
            if c == EOF || c == i32::from(b'\n') || !is_space(c as u8) {
                return c;
            }
        }
    }
    /// Skip to the end of the line; return the newline (or EOF/NUL).
    fn eat_comment(&mut self) -> i32 {
        loop {
            let c = self.getc();
            if c == i32::from(b'\n') || c <= 0 {
                return c;
            }
        }
    }
}

fn ch(c: i32) -> u8 {
    c as u8
}

/// Offset of a line-continuation backslash ending `buf[..pos]`, ignoring
/// trailing white space.
fn continuation(buf: &[u8], pos: usize) -> Option<usize> {
    let mut p = pos;
    while p > 0 && is_space(buf[p - 1]) {
        p -= 1;
    }
    if p > 0 && buf[p - 1] == b'\\' {
        Some(p - 1)
    } else {
        None
    }
}

/// Put `c` at `buf[i]`, growing the buffer as needed.
fn put(buf: &mut Vec<u8>, i: usize, c: u8) {
    if buf.len() <= i {
        buf.resize(i + 1, 0);
    }
    buf[i] = c;
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Result of parsing one file, as upstream's pm_process() returns it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Parsed {
    Failed,
    Done,
    /// Stopped at a section header in a globals-only load.
    StoppedAtSection,
}

/// What scanning one `name = value` line produced.
enum Scan {
    Param(String, String),
    /// Upstream logs and goes on without calling the handler.
    Skip,
    /// Upstream fails the whole file.
    Fail,
}

struct Loader<'a> {
    vars: Vars,
    sections: Vec<Section>,
    log: Vec<LogLine>,
    in_global: bool,
    cur: Option<usize>,
    stack: Vec<Vars>,
    globals_only: bool,
    dparams: &'a [String],
    env: &'a dyn Env,
}

impl Loader<'_> {
    fn log(&mut self, t: impl Into<String>) {
        self.log.push(LogLine {
            syserr: false,
            text: t.into(),
        });
    }
    fn syserr(&mut self, what: String, e: &io::Error) {
        self.log.push(LogLine {
            syserr: true,
            text: format!("{what}: {}", crate::error::strerror(e)),
        });
    }

    fn pm_process(&mut self, path: &Path) -> Parsed {
        let data = match fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                self.syserr(
                    format!("unable to open config file \"{}\"", path.display()),
                    &e,
                );
                return Parsed::Failed;
            }
        };
        self.parse_bytes(data)
    }

    fn parse_bytes(&mut self, data: Vec<u8>) -> Parsed {
        let mut inp = Input { data, pos: 0 };
        let r = self.parse(&mut inp);
        if r == Parsed::Failed {
            self.log("params.c:pm_process() - Failed.  Error returned from params.c:parse().");
        }
        r
    }

    fn parse(&mut self, inp: &mut Input) -> Parsed {
        let mut c = inp.eat_white();
        while c > 0 {
            match ch(c) {
                b'\n' => c = inp.eat_white(),
                b';' | b'#' => c = inp.eat_comment(),
                b'[' => {
                    if self.globals_only {
                        return Parsed::StoppedAtSection;
                    }
                    if !self.section(inp) {
                        return Parsed::Failed;
                    }
                    c = inp.eat_white();
                }
                // A stray backslash at the start of a line is skipped.
                b'\\' => c = inp.eat_white(),
                b'&' => {
                    let r = match self.parameter(inp, c) {
                        Scan::Param(name, val) => self.directive(&name, &val),
                        Scan::Skip => Parsed::Done,
                        Scan::Fail => Parsed::Failed,
                    };
                    if r != Parsed::Done {
                        return r;
                    }
                    c = inp.eat_white();
                }
                _ => {
                    match self.parameter(inp, c) {
                        Scan::Param(name, val) => self.do_parameter(&name, &val),
                        Scan::Skip => {}
                        Scan::Fail => return Parsed::Failed,
                    }
                    c = inp.eat_white();
                }
            }
        }
        Parsed::Done
    }

    /// Scan `[ name ]` (the '[' is consumed). White-space runs inside the
    /// name become one space; leading and trailing white space is dropped;
    /// the rest of the line after ']' is ignored.
    fn section(&mut self, inp: &mut Input) -> bool {
        const F: &str = "params.c:Section() -";
        let mut buf: Vec<u8> = Vec::new();
        let mut i = 0usize;
        let mut end = 0usize;
        let mut c = inp.eat_white();
        while c > 0 {
            match ch(c) {
                b']' => {
                    if end == 0 {
                        self.log(format!("{F} Empty section name in config file."));
                        return false;
                    }
                    let name = text(&buf[..end]);
                    if !self.do_section(&name) {
                        return false;
                    }
                    inp.eat_comment();
                    return true;
                }
                b'\n' => match continuation(&buf[..i], i) {
                    None => {
                        self.log(format!(
                            "{F} Badly formed line in config file: {}",
                            text(&buf[..end])
                        ));
                        return false;
                    }
                    Some(p) => {
                        i = p;
                        end = if i > 0 && buf[i - 1] == b' ' {
                            i - 1
                        } else {
                            i
                        };
                        c = inp.getc();
                    }
                },
                x if is_space(x) => {
                    put(&mut buf, end, b' ');
                    i = end + 1;
                    c = inp.eat_white();
                }
                x => {
                    put(&mut buf, i, x);
                    i += 1;
                    end = i;
                    c = inp.getc();
                }
            }
        }
        self.log(format!(
            "{F} Unexpected EOF in the config file: {}",
            text(&buf[..i.min(buf.len())])
        ));
        false
    }

    /// Scan `name = value` starting with character `c`. Returns `None` when
    /// upstream skips the line (with a log message) without calling the
    /// handler. The name has white-space runs folded to one space; the value
    /// keeps inner white space, loses trailing white space and '\r', and
    /// joins lines ending in '\\' (the next line's leading white space is
    /// kept). A directive (`&name`) ends its name at the first blank.
    fn parameter(&mut self, inp: &mut Input, mut c: i32) -> Scan {
        const F: &str = "params.c:Parameter() -";
        let mut buf: Vec<u8> = Vec::new();
        let mut i = 0usize;
        let mut end = 0usize;
        let mut vstart = 0usize;
        while vstart == 0 {
            if c == EOF || c == 0 {
                self.log(format!(
                    "{F} Unexpected end-of-file at: {}",
                    text(&buf[..i.min(buf.len())])
                ));
                return Scan::Skip;
            }
            let x = ch(c);
            match x {
                b'=' => {
                    if end == 0 {
                        self.log(format!("{F} Invalid parameter name in config file."));
                        return Scan::Fail;
                    }
                    put(&mut buf, end, 0);
                    end += 1;
                    i = end;
                    vstart = end;
                    c = inp.eat_white();
                }
                b'\n' => match continuation(&buf[..i], i) {
                    None => {
                        self.log(format!(
                            "{F} Ignoring badly formed line in config file: {}",
                            text(&buf[..end])
                        ));
                        return Scan::Skip;
                    }
                    Some(p) => {
                        i = p;
                        end = if i > 0 && buf[i - 1] == b' ' {
                            i - 1
                        } else {
                            i
                        };
                        c = inp.getc();
                    }
                },
                b' ' | b'\t' if buf.first() == Some(&b'&') => {
                    put(&mut buf, end, 0);
                    end += 1;
                    i = end;
                    vstart = end;
                    c = inp.eat_white();
                    if c == i32::from(b'=') {
                        c = inp.eat_white();
                    }
                }
                x if is_space(x) => {
                    put(&mut buf, end, b' ');
                    i = end + 1;
                    c = inp.eat_white();
                }
                x => {
                    put(&mut buf, i, x);
                    i += 1;
                    end = i;
                    c = inp.getc();
                }
            }
            buf.truncate(i.max(end));
        }
        let name = text(&buf[..vstart - 1]);
        while c > 0 {
            match ch(c) {
                b'\r' => c = inp.getc(),
                b'\n' => match continuation(&buf[..i], i) {
                    // Scanning back stops at the name's NUL, so a value
                    // never joins onto the name.
                    Some(p) if p >= vstart => {
                        i = p;
                        end = i;
                        buf.truncate(i);
                        c = inp.getc();
                    }
                    _ => c = 0,
                },
                x => {
                    put(&mut buf, i, x);
                    i += 1;
                    if !is_space(x) {
                        end = i;
                    }
                    c = inp.getc();
                }
            }
        }
        let value = text(&buf[vstart..end.max(vstart)]);
        Scan::Param(name, value)
    }

    fn directive(&mut self, name: &str, val: &str) -> Parsed {
        if name.eq_ignore_ascii_case("&include") {
            self.include(val, true)
        } else if name.eq_ignore_ascii_case("&merge") {
            self.include(val, false)
        } else {
            self.log(format!("Unknown directive: {name}."));
            Parsed::Failed
        }
    }

    /// `&include` (manage_globals) or `&merge` of a file or a directory.
    fn include(&mut self, path: &str, manage_globals: bool) -> Parsed {
        let p = PathBuf::from(path);
        let md = match fs::metadata(&p) {
            Ok(m) => m,
            Err(e) => {
                self.syserr(format!("unable to stat config file \"{path}\""), &e);
                return Parsed::Failed;
            }
        };
        // In a globals-only load upstream has no section handler, so the
        // save/restore of the globals does not happen either.
        let manage = manage_globals && !self.globals_only;
        if md.is_file() {
            if manage {
                self.special("push");
            }
            let r = self.pm_process(&p);
            if manage {
                self.special("pop");
            }
            return r;
        }
        if !md.is_dir() {
            return Parsed::Failed;
        }
        let pattern = if manage_globals { "*.conf" } else { "*.inc" };
        let rd = match fs::read_dir(&p) {
            Ok(rd) => rd,
            Err(e) => {
                self.syserr(format!("unable to open config dir \"{path}\""), &e);
                return Parsed::Failed;
            }
        };
        let mut files: Vec<Vec<u8>> = Vec::new();
        for ent in rd.flatten() {
            let n = ent.file_name();
            let n = n.to_string_lossy();
            if super::wildmatch::wildmatch(pattern, &n) {
                // pathjoin(): one '/' unless the dir already ends in one.
                let joined = if path.ends_with('/') {
                    format!("{path}{n}")
                } else {
                    format!("{path}/{n}")
                };
                files.push(joined.into_bytes());
            }
        }
        if files.is_empty() {
            return Parsed::Done;
        }
        // strcmp() order of the joined names.
        files.sort();
        let mut r = Parsed::Done;
        for (j, f) in files.iter().enumerate() {
            if manage {
                self.special(if j == 0 { "push" } else { "reset" });
            }
            r = self.pm_process(Path::new(&text(f)));
            if r != Parsed::Done {
                break;
            }
        }
        if manage {
            self.special("pop");
        }
        r
    }

    /// loadparm.c's "]push", "]pop" and "]reset" pseudo sections.
    fn special(&mut self, what: &str) {
        self.in_global = true;
        match what {
            "push" => self.stack.push(self.vars.clone()),
            "pop" => {
                if let Some(v) = self.stack.pop() {
                    self.vars = v;
                }
            }
            _ => {
                if let Some(v) = self.stack.last() {
                    self.vars = v.clone();
                }
            }
        }
    }

    fn do_section(&mut self, name: &str) -> bool {
        let is_global = strwi_eq(name, "global");
        if self.in_global && !is_global && self.sections.is_empty() {
            self.apply_dparams();
        }
        self.in_global = is_global;
        if is_global {
            return true;
        }
        if name.contains('/') {
            self.log(format!(
                "Warning: invalid section name in configuration file: {name}"
            ));
            return false;
        }
        let idx = match self.sections.iter().rposition(|s| strwi_eq(&s.name, name)) {
            Some(i) => i,
            None => {
                self.sections.push(Section {
                    name: name.to_string(),
                    l: self.vars.l.clone(),
                });
                self.sections.len() - 1
            }
        };
        self.cur = Some(idx);
        true
    }

    fn apply_dparams(&mut self) {
        for d in self.dparams {
            if let Some((n, v)) = d.split_once('=') {
                let v = v.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8));
                self.do_parameter(n, v);
            }
        }
    }

    fn do_parameter(&mut self, name: &str, value: &str) {
        let Some(def) = map_parameter(name, &mut self.log) else {
            self.log(format!("IGNORING unknown parameter \"{name}\""));
            return;
        };
        if !self.in_global && def.scope == Scope::Global {
            self.log(format!("Global parameter {name} found in module section!"));
            return;
        }
        let expanded;
        let value = match def.ty {
            ParmType::Str | ParmType::Path => value,
            // Non-string types are expanded now, against the environment
            // of the loading process; a refusal cannot happen (no shell).
            _ => {
                expanded = expand_vars(value, false, self.env).unwrap_or_else(|_| value.into());
                &expanded
            }
        };
        let slot: &mut Value = match (self.in_global, def.scope, self.cur) {
            (true, Scope::Global, _) => &mut self.vars.g[def.slot],
            (true, Scope::Local, _) => &mut self.vars.l[def.slot],
            (false, _, Some(i)) => &mut self.sections[i].l[def.slot],
            // Not reachable: leaving the global part always selects a section.
            (false, _, None) => return,
        };
        let mut bad_bool = false;
        match def.ty {
            ParmType::Bool => match parse_bool(value, false) {
                Some(Some(b)) => *slot = Value::Bool(b),
                _ => bad_bool = true,
            },
            ParmType::Bool3 => match parse_bool(value, true) {
                Some(b) => *slot = Value::Bool3(b),
                None => bad_bool = true,
            },
            ParmType::Int => *slot = Value::Int(c_atoi(value)),
            ParmType::Str => *slot = Value::Str(Some(value.to_string())),
            ParmType::Path => {
                let mut v = value;
                while v.len() > 1 && v.ends_with('/') {
                    v = &v[..v.len() - 1];
                }
                *slot = Value::Str(Some(v.to_string()));
            }
            ParmType::Enum => {
                if let Some(&(_, n)) = SYSLOG_FACILITIES
                    .iter()
                    .find(|(f, _)| f.eq_ignore_ascii_case(value))
                {
                    *slot = Value::Int(n);
                } else if c_atoi(value) > 0 {
                    *slot = Value::Int(c_atoi(value));
                }
            }
        }
        if bad_bool {
            self.log(format!(
                "Badly formed boolean in configuration file: \"{value}\"."
            ));
        }
    }
}

/// Find a parameter by name (upstream map_parameter()). A name starting
/// with '-' is rejected without the "Unknown Parameter" line.
fn map_parameter(name: &str, log: &mut Vec<LogLine>) -> Option<&'static ParmDef> {
    if name.starts_with('-') {
        return None;
    }
    let found = PARMS.iter().find(|p| strwi_eq(p.label, name));
    if found.is_none() {
        log.push(LogLine {
            syserr: false,
            text: format!("Unknown Parameter encountered: \"{name}\""),
        });
    }
    found
}

/// Look up a parameter by name as rsyncd.conf and --dparam spell it.
pub fn find_parameter(name: &str) -> Option<&'static ParmDef> {
    if name.starts_with('-') {
        return None;
    }
    PARMS.iter().find(|p| strwi_eq(p.label, name))
}

/// Check `--dparam` items before anything is loaded (options.c with
/// set_dparams(1)): every item needs an '=' and a known name.
pub fn check_dparams(items: &[String]) -> crate::Result<()> {
    for d in items {
        let Some((n, _)) = d.split_once('=') else {
            return Err(Error::syntax(format!(
                "--dparam value is missing an '=': {d}"
            )));
        };
        if find_parameter(n).is_none() {
            return Err(Error::syntax(format!("Unknown parameter \"{n}\"")));
        }
    }
    Ok(())
}

impl Config {
    /// Load `path` as the daemon does (lp_load()). On failure the error
    /// carries RERR_SYNTAX; the log lines gathered so far are in its text.
    pub fn load(path: &Path, opts: &LoadOptions) -> crate::Result<Config> {
        Self::load_with_env(path, opts, &ProcessEnv)
    }

    /// [`Config::load`] with an explicit `%VAR%` source for the values
    /// expanded while parsing (booleans, numbers, the facility).
    pub fn load_with_env(path: &Path, opts: &LoadOptions, env: &dyn Env) -> crate::Result<Config> {
        let (cfg, ok) = Self::run(opts, env, |ld| ld.pm_process(path));
        if ok {
            Ok(cfg)
        } else {
            let mut msg = String::new();
            for l in &cfg.log {
                msg.push_str(&l.text);
                msg.push('\n');
            }
            Err(Error::syntax(msg.trim_end().to_string()))
        }
    }

    /// Parse text as if it were a config file (includes are still read from
    /// disk, relative to the current directory as upstream does). Returns
    /// the config and whether upstream would have called the load a success.
    pub fn parse_str(text: &str, opts: &LoadOptions, env: &dyn Env) -> (Config, bool) {
        let data = text.as_bytes().to_vec();
        Self::run(opts, env, move |ld| ld.parse_bytes(data))
    }

    fn run(
        opts: &LoadOptions,
        env: &dyn Env,
        f: impl FnOnce(&mut Loader<'_>) -> Parsed,
    ) -> (Config, bool) {
        let mut ld = Loader {
            vars: Vars::default(),
            sections: Vec::new(),
            log: Vec::new(),
            in_global: true,
            cur: None,
            stack: Vec::new(),
            globals_only: opts.globals_only,
            dparams: &opts.dparams,
            env,
        };
        let r = f(&mut ld);
        // The listener loads the globals only and then applies --dparam
        // (daemon_main(): load_config(1); set_dparams(0)).
        if opts.globals_only {
            ld.in_global = true;
            ld.apply_dparams();
        }
        let cfg = Config {
            vars: ld.vars,
            sections: ld.sections,
            log: ld.log,
        };
        (cfg, r != Parsed::Failed)
    }

    /// The global part (globals plus module defaults), upstream's module -1.
    pub fn global(&self) -> GlobalConfig<'_> {
        GlobalConfig { cfg: self }
    }

    /// Number of module sections, in file order.
    pub fn num_modules(&self) -> usize {
        self.sections.len()
    }

    /// Module by index.
    pub fn module(&self, i: usize) -> Option<ModuleConfig<'_>> {
        (i < self.sections.len()).then_some(ModuleConfig {
            cfg: self,
            idx: Some(i),
        })
    }

    /// All modules in file order.
    pub fn modules(&self) -> impl DoubleEndedIterator<Item = ModuleConfig<'_>> {
        (0..self.sections.len()).map(move |i| ModuleConfig {
            cfg: self,
            idx: Some(i),
        })
    }

    /// The module a client asked for (lp_number()): an exact, case-sensitive
    /// comparison with the expanded name; the last match wins.
    pub fn find_module(&self, name: &str) -> Option<ModuleConfig<'_>> {
        self.modules().rev().find(|m| m.name() == name)
    }

    /// The module defaults as a module view (for lookups before a module is
    /// chosen, e.g. "reverse lookup" and "log file").
    pub fn defaults(&self) -> ModuleConfig<'_> {
        ModuleConfig {
            cfg: self,
            idx: None,
        }
    }

    /// The raw values (for tests and debugging).
    pub fn vars(&self) -> &Vars {
        &self.vars
    }
}

/// The global-only parameters.
#[derive(Clone, Copy)]
pub struct GlobalConfig<'a> {
    cfg: &'a Config,
}

impl<'a> GlobalConfig<'a> {
    /// A global string, `%VAR%`-expanded from the process environment;
    /// "" when unset (upstream returns "" for NULL).
    pub fn string(&self, p: G) -> String {
        self.string_with_env(p, &ProcessEnv)
    }
    pub fn string_with_env(&self, p: G, env: &dyn Env) -> String {
        match &self.cfg.vars.g[p as usize] {
            Value::Str(Some(s)) => expand_vars(s, false, env).unwrap_or_else(|_| s.clone()),
            _ => String::new(),
        }
    }
    pub fn raw(&self, p: G) -> &'a Value {
        &self.cfg.vars.g[p as usize]
    }
    fn int(&self, p: G) -> i32 {
        match self.cfg.vars.g[p as usize] {
            Value::Int(n) => n,
            _ => 0,
        }
    }
    pub fn bind_address(&self) -> String {
        self.string(G::BindAddress)
    }
    pub fn daemon_chroot(&self) -> String {
        self.string(G::DaemonChroot)
    }
    pub fn daemon_gid(&self) -> String {
        self.string(G::DaemonGid)
    }
    pub fn daemon_uid(&self) -> String {
        self.string(G::DaemonUid)
    }
    pub fn motd_file(&self) -> String {
        self.string(G::MotdFile)
    }
    pub fn pid_file(&self) -> String {
        self.string(G::PidFile)
    }
    pub fn proxy_protocol_hosts(&self) -> String {
        self.string(G::ProxyProtocolHosts)
    }
    pub fn socket_options(&self) -> String {
        self.string(G::SocketOptions)
    }
    pub fn listen_backlog(&self) -> i32 {
        self.int(G::ListenBacklog)
    }
    /// "port"; 0 means "not set" (the command line or 873 decides).
    pub fn rsync_port(&self) -> i32 {
        self.int(G::RsyncPort)
    }
    pub fn proxy_protocol(&self) -> bool {
        matches!(
            self.cfg.vars.g[G::ProxyProtocol as usize],
            Value::Bool(true)
        )
    }
}

/// A module's values (or, with no index, the module defaults).
#[derive(Clone, Copy)]
pub struct ModuleConfig<'a> {
    cfg: &'a Config,
    idx: Option<usize>,
}

macro_rules! str_accessors {
    ($($fname:ident => $p:ident),* $(,)?) => {$(
        pub fn $fname(&self) -> String { self.string(L::$p) }
    )*};
}
macro_rules! bool_accessors {
    ($($fname:ident => $p:ident),* $(,)?) => {$(
        pub fn $fname(&self) -> bool { self.boolean(L::$p) }
    )*};
}
macro_rules! bool3_accessors {
    ($($fname:ident => $p:ident),* $(,)?) => {$(
        /// `None` is "unset": the daemon picks the value.
        pub fn $fname(&self) -> Option<bool> { self.bool3(L::$p) }
    )*};
}
macro_rules! int_accessors {
    ($($fname:ident => $p:ident),* $(,)?) => {$(
        pub fn $fname(&self) -> i32 { self.int(L::$p) }
    )*};
}

impl<'a> ModuleConfig<'a> {
    /// Index among the modules (`None` for the defaults view).
    pub fn index(&self) -> Option<usize> {
        self.idx
    }

    /// The stored value, with upstream's fallback: a module string that is
    /// unset reads the final module default.
    pub fn raw(&self, p: L) -> &'a Value {
        let dflt = &self.cfg.vars.l[p as usize];
        match self.idx {
            Some(i) => {
                let v = &self.cfg.sections[i].l[p as usize];
                match v {
                    Value::Str(None) => dflt,
                    _ => v,
                }
            }
            None => dflt,
        }
    }

    /// The unexpanded string, `None` when unset everywhere.
    pub fn raw_string(&self, p: L) -> Option<&'a str> {
        match self.raw(p) {
            Value::Str(Some(s)) => Some(s),
            _ => None,
        }
    }

    /// A string, `%VAR%`-expanded from the process environment at the time
    /// of the call; "" when unset.
    pub fn string(&self, p: L) -> String {
        self.string_with_env(p, &ProcessEnv)
    }

    pub fn string_with_env(&self, p: L, env: &dyn Env) -> String {
        match self.raw_string(p) {
            Some(s) => expand_vars(s, false, env).unwrap_or_else(|_| s.to_string()),
            None => String::new(),
        }
    }

    /// A hook command ("early exec", "pre-xfer exec", "post-xfer exec",
    /// "name converter"): `%RSYNC_*%` values are shell-quoted, or refused
    /// when they hold shell metacharacters (exit code 4 upstream).
    pub fn shell_command(&self, p: L, env: &dyn Env) -> crate::Result<String> {
        match self.raw_string(p) {
            Some(s) => expand_vars(s, true, env).map_err(|e| e.to_error(s)),
            None => Ok(String::new()),
        }
    }

    fn boolean(&self, p: L) -> bool {
        matches!(self.raw(p), Value::Bool(true))
    }
    fn bool3(&self, p: L) -> Option<bool> {
        match self.raw(p) {
            Value::Bool3(b) => *b,
            _ => None,
        }
    }
    fn int(&self, p: L) -> i32 {
        match self.raw(p) {
            Value::Int(n) => *n,
            _ => 0,
        }
    }

    /// The module name (expanded, as lp_name() returns it).
    pub fn name(&self) -> String {
        match self.idx {
            Some(i) => {
                let raw = &self.cfg.sections[i].name;
                expand_vars(raw, false, &ProcessEnv).unwrap_or_else(|_| raw.clone())
            }
            None => String::new(),
        }
    }

    str_accessors! {
        auth_digest => AuthDigest, auth_users => AuthUsers, charset => Charset,
        comment => Comment, dont_compress => DontCompress, exclude => Exclude,
        exclude_from => ExcludeFrom, filter => Filter, gid => Gid,
        hosts_allow => HostsAllow, hosts_deny => HostsDeny, include => Include,
        include_from => IncludeFrom, incoming_chmod => IncomingChmod,
        lock_file => LockFile, log_file => LogFile, log_format => LogFormat,
        outgoing_chmod => OutgoingChmod, refuse_options => RefuseOptions,
        secrets_file => SecretsFile, syslog_tag => SyslogTag, uid => Uid,
        path => Path, temp_dir => TempDir,
    }
    bool_accessors! {
        fake_super => FakeSuper, forward_lookup => ForwardLookup,
        ignore_errors => IgnoreErrors, ignore_nonreadable => IgnoreNonreadable,
        insecure_links => InsecureLinks, list => List, read_only => ReadOnly,
        reverse_lookup => ReverseLookup, strict_modes => StrictModes,
        transfer_logging => TransferLogging, write_only => WriteOnly,
    }
    bool3_accessors! {
        munge_symlinks => MungeSymlinks, numeric_ids => NumericIds,
        open_noatime => OpenNoatime, use_chroot => UseChroot,
    }
    int_accessors! {
        max_connections => MaxConnections, max_verbosity => MaxVerbosity,
        timeout => Timeout, syslog_facility => SyslogFacility,
    }

    pub fn early_exec(&self, env: &dyn Env) -> crate::Result<String> {
        self.shell_command(L::EarlyExec, env)
    }
    pub fn pre_xfer_exec(&self, env: &dyn Env) -> crate::Result<String> {
        self.shell_command(L::PreXferExec, env)
    }
    pub fn post_xfer_exec(&self, env: &dyn Env) -> crate::Result<String> {
        self.shell_command(L::PostXferExec, env)
    }
    pub fn name_converter(&self, env: &dyn Env) -> crate::Result<String> {
        self.shell_command(L::NameConverter, env)
    }
}
