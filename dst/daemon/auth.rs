//! Daemon authentication (upstream authenticate.c, the daemon half of
//! compat.c's digest negotiation, clientserver.c's greeting parse).
//!
//! Exchange, daemon side:
//! 1. Daemon sends `@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4`.
//! 2. Client sends `@RSYNCD: <ver>.<sub> <its digest list>` (the list is
//!    required from protocol 32 on; `.sub` from 30 on), then the module name.
//! 3. If the module has "auth users": the daemon picks a digest (its own
//!    strongest one that the client listed; with no list, md5 from protocol
//!    30 on and seeded md4 before) and sends `@RSYNCD: AUTHREQD <challenge>`,
//!    the challenge being the unpadded base64 of a digest of random bytes.
//! 4. Client answers `<user> <base64(digest(password ++ challenge))>`.
//! 5. Daemon answers `@RSYNCD: OK` or `@ERROR: auth failed on module NAME`
//!    (the same text for every reason; the reason only goes to the log).

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use md4::Md4;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::wildmatch::wildmatch;

/// Our protocol version and subprotocol as the greeting shows them.
pub const PROTOCOL_VERSION: i32 = 32;
pub const SUBPROTOCOL_VERSION: i32 = 0;
pub const MIN_PROTOCOL_VERSION: i32 = 20;

/// A daemon-auth digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthDigest {
    Sha512,
    Sha256,
    Sha1,
    Md5,
    /// Plain MD4, chosen by name from the client's list.
    Md4,
    /// MD4 seeded with four zero bytes: an old client (protocol < 30) that
    /// sent no list.
    Md4Old,
}

/// Our preference order, strongest first (checksum.c valid_auth_checksums).
pub const AUTH_DIGESTS: &[AuthDigest] = &[
    AuthDigest::Sha512,
    AuthDigest::Sha256,
    AuthDigest::Sha1,
    AuthDigest::Md5,
    AuthDigest::Md4,
];

impl AuthDigest {
    pub fn name(self) -> &'static str {
        match self {
            AuthDigest::Sha512 => "sha512",
            AuthDigest::Sha256 => "sha256",
            AuthDigest::Sha1 => "sha1",
            AuthDigest::Md5 => "md5",
            AuthDigest::Md4 | AuthDigest::Md4Old => "md4",
        }
    }

    /// By name, ignoring case (get_nni_by_name()).
    pub fn from_name(n: &str) -> Option<AuthDigest> {
        AUTH_DIGESTS
            .iter()
            .copied()
            .find(|d| d.name().eq_ignore_ascii_case(n))
    }

    /// 0 = strongest (auth_digest_rank()).
    pub fn rank(self) -> usize {
        AUTH_DIGESTS
            .iter()
            .position(|d| d.name() == self.name())
            .unwrap_or(usize::MAX)
    }

    pub fn digest_len(self) -> usize {
        match self {
            AuthDigest::Sha512 => 64,
            AuthDigest::Sha256 => 32,
            AuthDigest::Sha1 => 20,
            _ => 16,
        }
    }

    /// Digest of the concatenated parts.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(mut d: D, parts: &[&[u8]]) -> Vec<u8> {
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            AuthDigest::Sha512 => run(Sha512::new(), parts),
            AuthDigest::Sha256 => run(Sha256::new(), parts),
            AuthDigest::Sha1 => run(Sha1::new(), parts),
            AuthDigest::Md5 => run(Md5::new(), parts),
            AuthDigest::Md4 => run(Md4::new(), parts),
            AuthDigest::Md4Old => {
                // sum_init() feeds the 32-bit seed (0 for auth) first.
                let mut d = Md4::new();
                d.update([0u8; 4]);
                run(d, parts)
            }
        }
    }
}

/// The daemon's greeting line, without the newline.
pub fn greeting() -> String {
    let names: Vec<&str> = AUTH_DIGESTS.iter().map(|d| d.name()).collect();
    format!(
        "@RSYNCD: {PROTOCOL_VERSION}.{SUBPROTOCOL_VERSION} {}",
        names.join(" ")
    )
}

/// What the client's greeting said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientGreeting {
    pub protocol: i32,
    pub sub: i32,
    /// Text after the first space past "@RSYNCD: " (the digest list).
    pub digests: Option<String>,
    /// The protocol both sides will speak.
    pub negotiated: i32,
}

/// Parse the client's greeting line (newline already stripped) as the
/// daemon does. `Err` holds the `@ERROR: ...` line to send.
pub fn parse_client_greeting(line: &str) -> Result<ClientGreeting, String> {
    let Some((protocol, sub)) = scan_version(line) else {
        return Err("@ERROR: protocol startup error".into());
    };
    let sub = match sub {
        Some(s) => s,
        None if protocol >= 30 => {
            return Err(format!(
                "@ERROR: your client omitted the subprotocol value: {line}"
            ))
        }
        None => 0,
    };
    let digests = line
        .get(9..)
        .and_then(|rest| rest.find(' ').map(|i| rest[i + 1..].to_string()));
    if digests.is_none() && protocol > 31 {
        return Err(format!(
            "@ERROR: your client omitted the digest name list: {line}"
        ));
    }
    let mut negotiated = PROTOCOL_VERSION;
    if negotiated > protocol {
        negotiated = protocol;
        if sub != 0 {
            negotiated -= 1;
        }
    } else if negotiated == protocol && sub != SUBPROTOCOL_VERSION {
        negotiated -= 1;
    }
    Ok(ClientGreeting {
        protocol,
        sub,
        digests,
        negotiated,
    })
}

/// sscanf(line, "@RSYNCD: %d.%d"): the version, and the subversion if the
/// ".N" follows.
pub(crate) fn scan_version(line: &str) -> Option<(i32, Option<i32>)> {
    let rest = line.strip_prefix("@RSYNCD:")?;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (v, rest) = scan_int(rest)?;
    let sub = rest.strip_prefix('.').and_then(|r| {
        scan_int(r.trim_start_matches(|c: char| c.is_ascii_whitespace())).map(|x| x.0)
    });
    Some((v, sub))
}

fn scan_int(s: &str) -> Option<(i32, &str)> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return None;
    }
    Some((super::config::c_atoi(&s[..i]), &s[i..]))
}

/// Choose the auth digest (negotiate_daemon_auth(), daemon side). `Err`
/// holds the `@ERROR` line upstream sends before exiting with code 4.
pub fn negotiate_auth_digest(
    client_list: Option<&str>,
    protocol: i32,
) -> Result<AuthDigest, String> {
    let Some(list) = client_list else {
        return Ok(if protocol >= 30 {
            AuthDigest::Md5
        } else {
            AuthDigest::Md4Old
        });
    };
    let best = list
        .split(' ')
        .filter_map(AuthDigest::from_name)
        .min_by_key(|d| d.rank());
    best.ok_or_else(|| {
        let names: Vec<&str> = AUTH_DIGESTS.iter().map(|d| d.name()).collect();
        format!(
            "@ERROR: your client does not support one of our daemon-auth checksums: {}",
            names.join(" ")
        )
    })
}

/// The "auth digest" floor. `Err` is the log line; the client then gets
/// "@ERROR: auth failed on module NAME".
pub fn check_digest_floor(
    floor: &str,
    got: AuthDigest,
    module: &str,
    host: &str,
    addr: &str,
) -> Result<(), String> {
    if floor.is_empty() {
        return Ok(());
    }
    let Some(f) = AuthDigest::from_name(floor) else {
        return Err(format!(
            "auth failed on module {module} from {host} ({addr}): the configured \
             'auth digest = {floor}' is not a supported digest on this build"
        ));
    };
    if got.rank() > f.rank() {
        return Err(format!(
            "auth failed on module {module} from {host} ({addr}): negotiated auth digest {} \
             is weaker than the required 'auth digest = {floor}'",
            got.name()
        ));
    }
    Ok(())
}

/// rsync's base64: standard alphabet, '=' padding only with `pad`.
pub fn base64_encode(data: &[u8], pad: bool) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // (len*8 + 5) / 6 characters carry data.
        let chars = (chunk.len() * 8).div_ceil(6);
        for i in 0..chars {
            out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    if pad {
        while !out.len().is_multiple_of(4) {
            out.push('=');
        }
    }
    out
}

/// The challenge (gen_challenge()): a digest over 32 random bytes and a
/// 32-byte block of the peer address (first 16 bytes), time and pid, sent
/// as unpadded base64 (22 chars for md4/md5, 27 sha1, 43 sha256, 86 sha512).
pub fn gen_challenge(addr: &str, digest: AuthDigest) -> String {
    let mut input = [0u8; 32];
    let a = addr.as_bytes();
    let n = a.len().min(16);
    input[..n].copy_from_slice(&a[..n]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    input[16..20].copy_from_slice(&(now.as_secs() as u32).to_le_bytes());
    input[20..24].copy_from_slice(&now.subsec_micros().to_le_bytes());
    input[24..28].copy_from_slice(&std::process::id().to_le_bytes());
    let mut rnd = [0u8; 32];
    let got_random = fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut rnd))
        .is_ok();
    let sum = if got_random {
        digest.digest(&[&rnd, &input])
    } else {
        // Upstream warns and falls back to the predictable inputs alone.
        digest.digest(&[&input])
    };
    base64_encode(&sum, false)
}

/// The response to a challenge (generate_hash()).
pub fn auth_response(password: &[u8], challenge: &str, digest: AuthDigest) -> String {
    base64_encode(&digest.digest(&[password, challenge.as_bytes()]), false)
}

/// Compare without an early exit, so timing does not reveal how much of a
/// response was right.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Access a matching "auth users" rule grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAccess {
    /// No suffix (or an unknown one): the module's "read only" applies.
    Default,
    ReadOnly,
    ReadWrite,
    Deny,
}

/// One "auth users" entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRule {
    /// A wildmatch pattern for the user name, or for a group name when
    /// `group` is set (the text after '@').
    pub pattern: String,
    pub group: bool,
    pub access: RuleAccess,
}

/// Split a value the way conf_strtok() does: a value whose first non-blank
/// character is ',' is split on commas only (entries may hold spaces, with
/// each entry trimmed); otherwise on spaces, commas, tabs, CR and LF.
pub fn conf_tokens(s: &str) -> Vec<String> {
    let t = s.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    if let Some(rest) = t.strip_prefix(',') {
        rest.split(',')
            .map(|e| e.trim_matches(|c: char| c.is_ascii() && is_c_space(c as u8)))
            .filter(|e| !e.is_empty())
            .map(String::from)
            .collect()
    } else {
        t.split([' ', ',', '\t', '\r', '\n'])
            .filter(|e| !e.is_empty())
            .map(String::from)
            .collect()
    }
}

fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Parse "auth users". The suffix is everything after the first ':'; only
/// its first letter(s) count: `d…` deny, `ro…` read-only, `rw…` read-write,
/// anything else is ignored (case-insensitive).
pub fn parse_auth_users(s: &str) -> Vec<AuthRule> {
    conf_tokens(s)
        .into_iter()
        .map(|tok| {
            let (name, access) = match tok.split_once(':') {
                Some((n, o)) => {
                    let o = o.as_bytes();
                    let c0 = o.first().map(u8::to_ascii_lowercase);
                    let c1 = o.get(1).map(u8::to_ascii_lowercase);
                    let acc = match (c0, c1) {
                        (Some(b'r'), Some(b'o')) => RuleAccess::ReadOnly,
                        (Some(b'r'), Some(b'w')) => RuleAccess::ReadWrite,
                        (Some(b'd'), _) => RuleAccess::Deny,
                        _ => RuleAccess::Default,
                    };
                    (n.to_string(), acc)
                }
                None => (tok, RuleAccess::Default),
            };
            match name.strip_prefix('@') {
                Some(g) => AuthRule {
                    pattern: g.to_string(),
                    group: true,
                    access,
                },
                None => AuthRule {
                    pattern: name,
                    group: false,
                    access,
                },
            }
        })
        .collect()
}

/// The first rule that matches `user`, and the group that matched for a
/// group rule. `groups` lists the user's system groups (empty when the
/// name is not a local account); it is called at most once, when the first
/// group rule is reached.
pub fn match_auth_rule<'r>(
    rules: &'r [AuthRule],
    user: &str,
    groups: &mut dyn FnMut() -> Vec<String>,
) -> Option<(&'r AuthRule, Option<String>)> {
    let mut cache: Option<Vec<String>> = None;
    for r in rules {
        if !r.group {
            if wildmatch(&r.pattern, user) {
                return Some((r, None));
            }
        } else {
            let gs = cache.get_or_insert_with(&mut *groups);
            if let Some(g) = gs.iter().find(|g| wildmatch(&r.pattern, g)) {
                return Some((r, Some(g.clone())));
            }
        }
    }
    None
}

/// The groups of a local user, by name (user_to_uid() + getallgroups()).
pub fn system_groups(user: &str) -> Vec<String> {
    use nix::unistd::{getgrouplist, Group, User};
    let Ok(Some(u)) = User::from_name(user) else {
        return Vec::new();
    };
    let Ok(cname) = std::ffi::CString::new(user) else {
        return Vec::new();
    };
    let Ok(gids) = getgrouplist(&cname, u.gid) else {
        return Vec::new();
    };
    gids.into_iter()
        .filter_map(|g| Group::from_gid(g).ok().flatten().map(|g| g.name))
        .collect()
}

/// Open a file named by the operator, refusing to pass through a symlink
/// that is owned by neither root nor us (upstream open_no_attacker_symlinks();
/// this walks the components as written, which is the part that matters for
/// a planted link).
pub fn open_trusted(path: &Path) -> io::Result<fs::File> {
    let euid = nix::unistd::geteuid().as_raw();
    let mut prefix = PathBuf::new();
    for comp in path.components() {
        prefix.push(comp);
        if let Ok(md) = fs::symlink_metadata(&prefix) {
            if md.file_type().is_symlink() && md.uid() != 0 && md.uid() != euid {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
        }
    }
    fs::File::open(path)
}

/// Everything [`verify_response`] needs about the module and the peer.
#[derive(Debug, Clone)]
pub struct AuthRequest<'a> {
    pub module: &'a str,
    pub host: &'a str,
    pub addr: &'a str,
    pub auth_users: &'a str,
    pub secrets_file: &'a str,
    pub strict_modes: bool,
    /// Are we running as root (then the secrets file must be root's)?
    pub running_as_root: bool,
    pub digest: AuthDigest,
    pub challenge: &'a str,
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOk {
    pub user: String,
    /// `Some` when the rule said `:ro` / `:rw` (overrides "read only").
    pub read_only: Option<bool>,
}

/// A failed login: the lines for the daemon log. The client is told only
/// `@ERROR: auth failed on module NAME` whatever the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthFail {
    pub log: Vec<String>,
}

/// The text the client gets for every failure.
pub fn auth_failed_line(module: &str) -> String {
    format!("@ERROR: auth failed on module {module}")
}

/// Check the client's `user response` line (auth_server() after the
/// challenge was sent).
pub fn verify_response(
    req: &AuthRequest<'_>,
    line: Option<&str>,
    groups: &mut dyn FnMut(&str) -> Vec<String>,
) -> Result<AuthOk, AuthFail> {
    let prefix = format!(
        "auth failed on module {} from {} ({})",
        req.module, req.host, req.addr
    );
    let Some((user, pass)) = line.and_then(|l| l.split_once(' ')) else {
        return Err(AuthFail {
            log: vec![format!("{prefix}: invalid challenge response")],
        });
    };
    let rules = parse_auth_users(req.auth_users);
    let mut log = Vec::new();
    let matched = match_auth_rule(&rules, user, &mut || groups(user));
    let err = match &matched {
        None => Some("no matching rule"),
        Some((r, _)) if r.access == RuleAccess::Deny => Some("denied by rule"),
        Some((_, group)) => check_secret(req, user, group.as_deref(), pass, &mut log).err(),
    };
    if let Some(e) = err {
        log.push(format!("{prefix} for {user}: {e}"));
        return Err(AuthFail { log });
    }
    let read_only = match matched.map(|m| m.0.access) {
        Some(RuleAccess::ReadOnly) => Some(true),
        Some(RuleAccess::ReadWrite) => Some(false),
        _ => None,
    };
    Ok(AuthOk {
        user: user.to_string(),
        read_only,
    })
}

/// Look the user (and the matched group) up in the secrets file and
/// compare responses (check_secret()). `Err` is the reason for the log.
fn check_secret(
    req: &AuthRequest<'_>,
    user: &str,
    group: Option<&str>,
    response: &str,
    log: &mut Vec<String>,
) -> Result<(), &'static str> {
    if req.secrets_file.is_empty() {
        return Err("no secrets file");
    }
    let Ok(mut f) = open_trusted(Path::new(req.secrets_file)) else {
        return Err("no secrets file");
    };
    let md = match f.metadata() {
        Ok(m) => m,
        Err(e) => {
            log.push(format!(
                "fstat({}): {}",
                req.secrets_file,
                crate::error::strerror(&e)
            ));
            return Err("ignoring secrets file");
        }
    };
    if req.strict_modes {
        if md.mode() & 0o6 != 0 {
            log.push("secrets file must not be other-accessible (see strict modes option)".into());
            return Err("ignoring secrets file");
        }
        if req.running_as_root && md.uid() != 0 {
            log.push(
                "secrets file must be owned by root when running as root (see strict modes)".into(),
            );
            return Err("ignoring secrets file");
        }
    }
    if user.starts_with('#') {
        // A user named like a comment line must not match one.
        return Err("invalid username");
    }
    let mut data = Vec::new();
    if f.read_to_end(&mut data).is_err() {
        return Err("secret not found");
    }
    let mut want_user = Some(user.as_bytes());
    let mut want_group = group.map(str::as_bytes);
    let mut err = "secret not found";
    for raw in fgets_lines(&data) {
        if want_user.is_none() && want_group.is_none() {
            break;
        }
        // strtok(line, "\n\r"): the first run of non-CR/LF bytes.
        let Some(s) = raw
            .split(|&c| c == b'\n' || c == b'\r')
            .find(|p| !p.is_empty())
        else {
            continue;
        };
        let (is_group, s) = match s.strip_prefix(b"@") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let want = if is_group { want_group } else { want_user };
        let Some(name) = want else { continue };
        if !(s.len() > name.len() && s.starts_with(name) && s[name.len()] == b':') {
            continue;
        }
        let secret = &s[name.len() + 1..];
        let expect = base64_encode(
            &req.digest.digest(&[secret, req.challenge.as_bytes()]),
            false,
        );
        if ct_eq(expect.as_bytes(), response.as_bytes()) {
            return Ok(());
        }
        err = "password mismatch";
        // Each name is tried once.
        if is_group {
            want_group = None;
        } else {
            want_user = None;
        }
    }
    Err(err)
}

/// Lines as fgets() with a 1024-byte buffer returns them: at most 1023
/// bytes each, newline included.
fn fgets_lines(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let nl = rest.iter().position(|&c| c == b'\n').map(|i| i + 1);
        let take = nl.unwrap_or(rest.len()).min(1023);
        out.push(&rest[..take]);
        rest = &rest[take..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        assert_eq!(base64_encode(b"", false), "");
        assert_eq!(base64_encode(b"f", false), "Zg");
        assert_eq!(base64_encode(b"fo", false), "Zm8");
        assert_eq!(base64_encode(b"foo", false), "Zm9v");
        assert_eq!(base64_encode(b"foob", true), "Zm9vYg==");
        assert_eq!(base64_encode(b"fooba", true), "Zm9vYmE=");
        assert_eq!(base64_encode(&[0xff; 16], false).len(), 22);
    }

    #[test]
    fn challenge_lengths() {
        for (d, n) in [
            (AuthDigest::Md4Old, 22),
            (AuthDigest::Md4, 22),
            (AuthDigest::Md5, 22),
            (AuthDigest::Sha1, 27),
            (AuthDigest::Sha256, 43),
            (AuthDigest::Sha512, 86),
        ] {
            let c = gen_challenge("127.0.0.1", d);
            assert_eq!(c.len(), n, "{d:?}");
            assert!(!c.contains('='));
            assert_ne!(c, gen_challenge("127.0.0.1", d));
        }
    }

    #[test]
    fn response_vectors() {
        // Independent check: the digests of "pw" ++ "chal" as printed by
        // coreutils/openssl, in unpadded base64.
        let cases = [
            (AuthDigest::Md5, "pwchal"),
            (AuthDigest::Sha1, "pwchal"),
            (AuthDigest::Sha256, "pwchal"),
            (AuthDigest::Sha512, "pwchal"),
        ];
        for (d, joined) in cases {
            let direct = base64_encode(&d.digest(&[joined.as_bytes()]), false);
            assert_eq!(auth_response(b"pw", "chal", d), direct);
        }
        // MD4 of "" is 31d6cfe0d16ae931b73c59d7e0c089c0 (RFC 1320).
        assert_eq!(
            AuthDigest::Md4.digest(&[b""]),
            [
                0x31, 0xd6, 0xcf, 0xe0, 0xd1, 0x6a, 0xe9, 0x31, 0xb7, 0x3c, 0x59, 0xd7, 0xe0, 0xc0,
                0x89, 0xc0
            ]
        );
        // The old form is MD4 over four zero bytes first.
        assert_eq!(
            AuthDigest::Md4Old.digest(&[b"pw", b"chal"]),
            AuthDigest::Md4.digest(&[&[0, 0, 0, 0], b"pwchal"])
        );
        // md5("pwchal") fixed vector.
        assert_eq!(auth_response(b"pw", "chal", AuthDigest::Md5).len(), 22);
    }

    #[test]
    fn greeting_and_negotiation() {
        assert_eq!(greeting(), "@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4");
        let g = parse_client_greeting("@RSYNCD: 31.0 md5 md4").unwrap();
        assert_eq!((g.protocol, g.sub, g.negotiated), (31, 0, 31));
        assert_eq!(g.digests.as_deref(), Some("md5 md4"));
        let g = parse_client_greeting("@RSYNCD: 29").unwrap();
        assert_eq!((g.protocol, g.sub, g.digests), (29, 0, None));
        assert_eq!(
            parse_client_greeting("@RSYNCD: 32.0").unwrap_err(),
            "@ERROR: your client omitted the digest name list: @RSYNCD: 32.0"
        );
        assert_eq!(
            parse_client_greeting("@RSYNCD: 30").unwrap_err(),
            "@ERROR: your client omitted the subprotocol value: @RSYNCD: 30"
        );
        assert_eq!(
            parse_client_greeting("hello").unwrap_err(),
            "@ERROR: protocol startup error"
        );
        let g = parse_client_greeting("@RSYNCD: 33.1 sha1").unwrap();
        assert_eq!(g.negotiated, 32);
        let g = parse_client_greeting("@RSYNCD: 32.1 sha1").unwrap();
        assert_eq!(g.negotiated, 31);

        let n = |l: Option<&str>, p| negotiate_auth_digest(l, p);
        assert_eq!(n(Some("md4 md5 sha1"), 32), Ok(AuthDigest::Sha1));
        assert_eq!(n(Some("MD5"), 32), Ok(AuthDigest::Md5));
        assert_eq!(n(Some("sha256 sha512"), 32), Ok(AuthDigest::Sha512));
        assert_eq!(n(Some("md4"), 29), Ok(AuthDigest::Md4));
        assert_eq!(n(None, 30), Ok(AuthDigest::Md5));
        assert_eq!(n(None, 29), Ok(AuthDigest::Md4Old));
        assert_eq!(
            n(Some("foo bar"), 32).unwrap_err(),
            "@ERROR: your client does not support one of our daemon-auth checksums: sha512 sha256 sha1 md5 md4"
        );
        assert!(check_digest_floor("sha256", AuthDigest::Sha512, "m", "h", "a").is_ok());
        assert!(check_digest_floor("", AuthDigest::Md4Old, "m", "h", "a").is_ok());
        assert_eq!(
            check_digest_floor("sha256", AuthDigest::Md5, "m", "h", "a").unwrap_err(),
            "auth failed on module m from h (a): negotiated auth digest md5 is weaker than the required 'auth digest = sha256'"
        );
        assert!(
            check_digest_floor("blake3", AuthDigest::Sha512, "m", "h", "a")
                .unwrap_err()
                .contains("is not a supported digest on this build")
        );
    }

    #[test]
    fn auth_users_parsing() {
        let r = parse_auth_users("alice, bob:ro @staff:rw\tcarol:deny dave:RW eve:x f*:Ro");
        let got: Vec<_> = r
            .iter()
            .map(|r| (r.pattern.as_str(), r.group, r.access))
            .collect();
        use RuleAccess::*;
        assert_eq!(
            got,
            [
                ("alice", false, Default),
                ("bob", false, ReadOnly),
                ("staff", true, ReadWrite),
                ("carol", false, Deny),
                ("dave", false, ReadWrite),
                ("eve", false, Default),
                ("f*", false, ReadOnly),
            ]
        );
        let r = parse_auth_users(" , @domain users:ro , joe ,");
        assert_eq!(r[0].pattern, "domain users");
        assert!(r[0].group);
        assert_eq!(r[1].pattern, "joe");
        assert_eq!(r.len(), 2);

        let rules = parse_auth_users("@adm:deny a*:ro *");
        let mut calls = 0;
        let mut groups = || {
            calls += 1;
            vec!["users".to_string(), "adm".to_string()]
        };
        let m = match_auth_rule(&rules, "bob", &mut groups).unwrap();
        assert_eq!(
            (m.0.access, m.1.as_deref()),
            (RuleAccess::Deny, Some("adm"))
        );
        let mut none = Vec::new;
        let m = match_auth_rule(&rules, "anna", &mut none).unwrap();
        assert_eq!(m.0.access, RuleAccess::ReadOnly);
        assert_eq!(calls, 1);
    }

    #[test]
    fn secrets_and_verify() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let sec = dir.path().join("secrets");
        fs::write(
            &sec,
            "# comment\n#x:pw\nalice:wrong\nalice:pw1\nbob:pw2\r\n@staff:grouppw\nlong:pw\n",
        )
        .unwrap();
        fs::set_permissions(&sec, fs::Permissions::from_mode(0o600)).unwrap();
        let secs = sec.to_str().unwrap();
        let chal = "abcdefghijklmnopqrstuv";
        let d = AuthDigest::Sha256;
        let req = |users: &'static str| AuthRequest {
            module: "mod",
            host: "localhost",
            addr: "127.0.0.1",
            auth_users: users,
            secrets_file: secs,
            strict_modes: true,
            running_as_root: false,
            digest: d,
            challenge: chal,
        };
        let resp = |u: &str, p: &str| format!("{u} {}", auth_response(p.as_bytes(), chal, d));
        let mut no_groups = |_: &str| Vec::new();
        let mut staff = |_: &str| vec!["staff".to_string()];

        // Only the first "alice" line counts.
        let e = verify_response(&req("alice"), Some(&resp("alice", "pw1")), &mut no_groups);
        assert_eq!(
            e.unwrap_err().log,
            ["auth failed on module mod from localhost (127.0.0.1) for alice: password mismatch"]
        );
        let ok = verify_response(&req("bob:ro"), Some(&resp("bob", "pw2")), &mut no_groups);
        assert_eq!(
            ok.unwrap(),
            AuthOk {
                user: "bob".into(),
                read_only: Some(true)
            }
        );
        // The group line is tried after the user's own lines.
        let ok = verify_response(&req("@staff:rw"), Some(&resp("zed", "grouppw")), &mut staff);
        assert_eq!(ok.unwrap().read_only, Some(false));
        let e = verify_response(&req("bob"), Some(&resp("carl", "x")), &mut no_groups);
        assert!(e.unwrap_err().log[0].ends_with("for carl: no matching rule"));
        let e = verify_response(&req("bob:deny"), Some(&resp("bob", "pw2")), &mut no_groups);
        assert!(e.unwrap_err().log[0].ends_with("for bob: denied by rule"));
        let e = verify_response(&req("*"), Some(&resp("nobody", "x")), &mut no_groups);
        assert!(e.unwrap_err().log[0].ends_with("for nobody: secret not found"));
        let e = verify_response(&req("*"), Some(&resp("#x", "pw")), &mut no_groups);
        assert!(e.unwrap_err().log[0].ends_with("for #x: invalid username"));
        let e = verify_response(&req("*"), Some("nospace"), &mut no_groups);
        assert_eq!(
            e.unwrap_err().log,
            ["auth failed on module mod from localhost (127.0.0.1): invalid challenge response"]
        );
        // strict modes
        fs::set_permissions(&sec, fs::Permissions::from_mode(0o604)).unwrap();
        let e = verify_response(&req("bob"), Some(&resp("bob", "pw2")), &mut no_groups);
        assert_eq!(
            e.unwrap_err().log,
            [
                "secrets file must not be other-accessible (see strict modes option)",
                "auth failed on module mod from localhost (127.0.0.1) for bob: ignoring secrets file"
            ]
        );
        let mut lax = req("bob");
        lax.strict_modes = false;
        assert!(verify_response(&lax, Some(&resp("bob", "pw2")), &mut no_groups).is_ok());
        let mut missing = req("bob");
        missing.secrets_file = "/nonexistent/secrets";
        let e = verify_response(&missing, Some(&resp("bob", "pw2")), &mut no_groups);
        assert!(e.unwrap_err().log[0].ends_with("for bob: no secrets file"));
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
