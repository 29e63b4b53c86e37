//! Session setup: protocol version exchange, compat flags, checksum
//! negotiation and the checksum seed (upstream: compat.c setup_protocol(),
//! negotiate_the_strings()). See protocol-notes/handshake.md.
//!
//! Runs on the raw stream before multiplexing starts. The result,
//! [`Negotiated`], fixes every protocol-visible choice for the roles.

pub mod client;
pub mod filters;
pub mod liveness;
pub mod local;
pub mod server;
pub mod server_args;
pub mod signals;
pub mod transfer;

use crate::checksum::ChecksumKind;
use crate::error::{Error, ExitCode, Result};
use crate::options::Options;
use crate::wire::int::*;
use crate::wire::*;
use std::io::{Read, Write};

/// Capability letters we send after `-e.` besides `i` (options.c
/// maybe_add_e_option()). No `s`: gensync has no iconv.
pub const CLIENT_INFO_LETTERS: &str = "LfxCIvu";

/// compat.c set_allow_inc_recurse(): recursion without options that need
/// the whole list first on the receiving side.
pub fn allow_inc_recurse(opts: &Options, am_sender: bool) -> bool {
    use crate::options::DeleteMode;
    opts.recursive
        && opts.inc_recursive
        && (am_sender || !matches!(opts.delete_mode, DeleteMode::Before | DeleteMode::After))
}

/// The `-e.` letters for a client in the given role.
pub fn client_info_letters(opts: &Options, am_sender: bool) -> String {
    let mut s = String::new();
    if allow_inc_recurse(opts, am_sender) {
        s.push('i');
    }
    s.push_str(CLIENT_INFO_LETTERS);
    s
}

/// Checksums we implement, strongest first (checksum.c valid_checksums_items).
const CHECKSUM_LIST: &[&str] = &["xxh128", "xxh3", "xxh64", "md5", "md4"];

#[derive(Debug, Clone)]
pub struct Negotiated {
    pub protocol: u32,
    pub compat_flags: u32,
    /// Transfer checksum: block strong sums and the whole-file sum.
    pub xfer_sum: ChecksumKind,
    /// `--checksum` file sum.
    pub file_sum: ChecksumKind,
    pub seed: i32,
    /// CF_CHKSUM_SEED_FIX: seed before data in MD5 block sums.
    pub proper_seed_order: bool,
}

impl Negotiated {
    pub fn varint_flist_flags(&self) -> bool {
        self.compat_flags & CF_VARINT_FLIST_FLAGS != 0
    }
    pub fn safe_flist(&self) -> bool {
        self.compat_flags & CF_SAFE_FLIST != 0 || self.protocol >= 31
    }
    pub fn id0_names(&self) -> bool {
        self.compat_flags & CF_ID0_NAMES != 0
    }
}

/// Exchange protocol versions; both sides write first, then read.
pub fn exchange_version<R: Read, W: Write>(r: &mut R, w: &mut W, ours: u32) -> Result<u32> {
    // Read the peer's word even when ours could not be written: a shell
    // that printed garbage and quit explains itself better than EPIPE.
    let sent = write_int(w, ours as i32).and_then(|()| Ok(w.flush()?));
    let remote = match read_int(r) {
        Ok(v) => v,
        Err(e) => return Err(sent.err().unwrap_or(e)),
    };
    if !(20..=40).contains(&remote) {
        // Usually a login script printing text ahead of the protocol.
        return Err(Error::bare(
            ExitCode::PROTOCOL,
            "protocol version mismatch -- is your shell clean?\n(see the rsync manpage for an explanation)",
        ));
    }
    sent?;
    let remote = remote as u32;
    if remote < MIN_PROTOCOL_VERSION {
        return Err(Error::protocol(format!(
            "protocol version {remote} is too old: gensync speaks {MIN_PROTOCOL_VERSION} to {PROTOCOL_VERSION}"
        )));
    }
    Ok(ours.min(remote))
}

/// Our advertised protocol: `--protocol=N` only lowers it.
pub fn our_protocol(opts: &Options) -> u32 {
    opts.protocol
        .unwrap_or(PROTOCOL_VERSION)
        .min(PROTOCOL_VERSION)
}

/// Compat flags a server grants for the client's `-e.` letters
/// (compat.c setup_protocol()).
pub fn server_compat_flags(client_info: &str, opts: &Options) -> u32 {
    let mut f = CF_SYMLINK_TIMES;
    if client_info.contains('i') && allow_inc_recurse(opts, opts.sender) {
        f |= CF_INC_RECURSE;
    }
    for (letter, flag) in [
        ('f', CF_SAFE_FLIST),
        ('x', CF_AVOID_XATTR_OPTIM),
        ('C', CF_CHKSUM_SEED_FIX),
        ('I', CF_INPLACE_PARTIAL_DIR),
        ('v', CF_VARINT_FLIST_FLAGS),
        ('u', CF_ID0_NAMES),
    ] {
        if client_info.contains(letter) {
            f |= flag;
        }
    }
    f
}

/// The whole startup after the version exchange. `client_info` is the
/// server's view of the client's `-e.` letters (None on the client).
pub fn setup_protocol<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    opts: &Options,
    am_server: bool,
    client_info: Option<&str>,
) -> Result<Negotiated> {
    let ours = our_protocol(opts);
    if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&ours) {
        return Err(Error::protocol(format!(
            "--protocol must be between {MIN_PROTOCOL_VERSION} and {PROTOCOL_VERSION}"
        )));
    }
    let protocol = exchange_version(r, w, ours)?;
    let mut compat_flags = 0;
    if protocol >= 30 {
        if am_server {
            compat_flags = server_compat_flags(client_info.unwrap_or(""), opts);
            write_varint(w, compat_flags as i32)?;
            w.flush()?;
        } else {
            compat_flags = read_varint(r)? as u32;
        }
    }
    let negotiate = compat_flags & CF_VARINT_FLIST_FLAGS != 0;
    let (xfer_sum, file_sum) = negotiate_checksums(r, w, opts, am_server, negotiate, protocol)?;
    let seed = if am_server {
        let mut seed = opts.checksum_seed.unwrap_or(0);
        if seed == 0 {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0) as i32;
            seed = now ^ ((std::process::id() as i32) << 6);
        }
        write_int(w, seed)?;
        w.flush()?;
        seed
    } else {
        read_int(r)?
    };
    Ok(Negotiated {
        protocol,
        compat_flags,
        xfer_sum,
        file_sum,
        seed,
        proper_seed_order: compat_flags & CF_CHKSUM_SEED_FIX != 0,
    })
}

/// `--checksum-choice=A[,B]` parsed into (transfer, file) kinds.
pub fn parse_checksum_choice(s: &str) -> Result<(ChecksumKind, ChecksumKind)> {
    let (a, b) = match s.split_once(',') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let parse = |n: &str| {
        ChecksumKind::from_name(n)
            .filter(|k| !matches!(k, ChecksumKind::Md4Old | ChecksumKind::Md4Busted))
            .ok_or_else(|| Error::syntax(format!("unknown checksum name: {n}")))
    };
    Ok((parse(a)?, parse(b)?))
}

fn negotiate_checksums<R: Read, W: Write>(
    r: &mut R,
    w: &mut W,
    opts: &Options,
    am_server: bool,
    negotiate: bool,
    protocol: u32,
) -> Result<(ChecksumKind, ChecksumKind)> {
    if let Some(choice) = &opts.checksum_choice {
        // An explicit choice is forwarded in argv, so nothing is exchanged.
        return parse_checksum_choice(choice);
    }
    if !negotiate {
        let k = crate::checksum::default_for_protocol(protocol);
        return Ok((k, k));
    }
    // Each side sends its list, then reads the peer's (compat.c
    // negotiate_the_strings()). The server also lists "none".
    let mut mine: Vec<&str> = CHECKSUM_LIST.to_vec();
    if am_server {
        mine.push("none");
    }
    write_vstring(w, mine.join(" ").as_bytes())?;
    w.flush()?;
    let theirs = read_vstring(r, 0x7FFF)?;
    let theirs = String::from_utf8_lossy(&theirs);
    let theirs: Vec<&str> = theirs.split_ascii_whitespace().collect();
    // 3.5.0 rule: each side picks its own most preferred name the peer lists.
    let pick = mine
        .iter()
        .find(|n| theirs.contains(n) || (**n == "xxh64" && theirs.contains(&"xxhash")))
        .ok_or_else(|| {
            Error::new(
                ExitCode::UNSUPPORTED,
                "Failed to negotiate a checksum choice.",
            )
        })?;
    let k = ChecksumKind::from_name(pick).expect("listed names parse");
    Ok((k, k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn handshake_between_client_and_server_agrees() {
        let (a, b) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let opts = Options {
                checksum_seed: Some(7),
                ..Options::default()
            };
            let (mut r, mut w) = (b.try_clone().unwrap(), b);
            setup_protocol(&mut r, &mut w, &opts, true, Some(CLIENT_INFO_LETTERS)).unwrap()
        });
        let (mut r, mut w) = (a.try_clone().unwrap(), a);
        let c = setup_protocol(&mut r, &mut w, &Options::default(), false, None).unwrap();
        let s = server.join().unwrap();
        assert_eq!(c.protocol, 32);
        assert_eq!(c.compat_flags, s.compat_flags);
        assert_eq!(c.xfer_sum, ChecksumKind::Xxh128);
        assert_eq!(s.xfer_sum, ChecksumKind::Xxh128);
        assert_eq!(c.seed, 7);
    }

    #[test]
    fn rejects_non_rsync_peer() {
        let mut out = Vec::new();
        let r = exchange_version(&mut &b"HTTP"[..], &mut out, 32);
        assert_eq!(r.unwrap_err().code, ExitCode::PROTOCOL);
    }
}
