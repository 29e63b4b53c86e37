//! Session setup: protocol version exchange, compat flags, checksum and
//! compression negotiation and the checksum seed (upstream: compat.c
//! setup_protocol(), negotiate_the_strings(), parse_compress_choice()).
//! See protocol-notes/handshake.md and protocol-notes/compression.md.
//!
//! Runs on the raw stream before multiplexing starts. The result,
//! [`Negotiated`], fixes every protocol-visible choice for the roles.

pub mod client;
pub mod filters;
pub mod limits;
pub mod liveness;
pub mod local;
pub mod server;
pub mod server_args;
pub mod signals;
pub mod transfer;

use crate::checksum::ChecksumKind;
use crate::error::{Error, ExitCode, Result};
use crate::options::Options;
use crate::wire::compress::{self, CompressKind};
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
        && (am_sender
            || !(matches!(opts.delete_mode, DeleteMode::Before | DeleteMode::After)
                || opts.prune_empty_dirs
                || opts.delay_updates))
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
    /// The token stream's compressor (`None` = the plain stream), after
    /// negotiation and `--compress-level` (zlib at level 0 is `None`).
    pub compress: CompressKind,
    /// The level the sender compresses at (compress::effective_level()).
    pub compress_level: i32,
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
    // A daemon greeting already agreed the version.
    let protocol = match opts.net.preset_protocol {
        Some(p) => p,
        None => exchange_version(r, w, ours)?,
    };
    if protocol < 29 && opts.prune_empty_dirs {
        return Err(Error::bare(
            ExitCode::PROTOCOL,
            format!("--prune-empty-dirs requires protocol 29 or higher (negotiated {protocol})."),
        ));
    }
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
    // compat.c negotiate_the_strings(): both lists go out before either
    // side reads, checksums first.
    let csum_mine = checksum_list(opts, am_server);
    let comp_mine = opts
        .negotiates_compression()
        .then(|| compress_pref_list(am_server));
    if negotiate {
        if let Some(l) = &csum_mine {
            write_vstring(w, l.join(" ").as_bytes())?;
        }
        if let Some(l) = &comp_mine {
            let names: Vec<&str> = l.iter().map(|k| k.name()).collect();
            write_vstring(w, names.join(" ").as_bytes())?;
        }
        if csum_mine.is_some() || comp_mine.is_some() {
            w.flush()?;
        }
    }
    let (xfer_sum, file_sum) =
        negotiate_checksums(r, opts, csum_mine.as_deref(), negotiate, protocol)?;
    let negotiated_compress = match &comp_mine {
        Some(mine) => Some(negotiate_compress(r, mine, am_server, negotiate)?),
        None => None,
    };
    let (compress, compress_level) = final_compress(opts, negotiated_compress);
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
        compress,
        compress_level,
    })
}

/// compat.c parse_compress_choice(1) + token.c init_compression_level():
/// the negotiated name if there was a negotiation, else the explicit
/// choice, else zlib for plain `-z` (a peer that cannot negotiate).
fn final_compress(opts: &Options, negotiated: Option<CompressKind>) -> (CompressKind, i32) {
    let kind = match (negotiated, opts.compress_choice.as_deref()) {
        (Some(k), _) => k,
        (None, Some(c)) => CompressKind::from_name(c).unwrap_or(CompressKind::None),
        (None, None) if opts.compress != 0 => CompressKind::Zlib,
        (None, None) => CompressKind::None,
    };
    let kind = compress::effective_kind(kind, opts.compress_level);
    (kind, compress::effective_level(kind, opts.compress_level))
}

/// The names listed in RSYNC_COMPRESS_LIST for this side (compat.c
/// getenv_nstr(), parse_nni_str()): the client reads the part before `&`,
/// the server the part after it; unknown and repeated names are dropped.
/// None when the variable is unset.
fn compress_env_list(am_server: bool) -> Option<Vec<CompressKind>> {
    let env = std::env::var_os("RSYNC_COMPRESS_LIST")?;
    let env = env.to_string_lossy().into_owned();
    let part = if am_server {
        env.split_once('&').map(|(_, b)| b).unwrap_or(&env)
    } else {
        &env
    };
    let part = part.split('&').next().unwrap_or("");
    let mut out = Vec::new();
    for name in part.split(|c: char| c.is_ascii_whitespace()) {
        if let Some(k) = CompressKind::from_name(name) {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    Some(out)
}

/// Our compress list, most preferred first: RSYNC_COMPRESS_LIST when it
/// names anything, else rsync 3.5.0's default (a client leaves out "none").
pub fn compress_pref_list(am_server: bool) -> Vec<CompressKind> {
    match compress_env_list(am_server) {
        Some(l) if !l.is_empty() => l,
        _ => compress::default_compress_list()
            .split(' ')
            .filter_map(CompressKind::from_name)
            .filter(|k| am_server || *k != CompressKind::None)
            .collect(),
    }
}

/// compat.c validate_choice_vs_env(): a server refuses an explicit
/// `--compress-choice` that its RSYNC_COMPRESS_LIST does not name.
pub fn compress_choice_allowed(name: &str, am_server: bool) -> bool {
    let Some(kind) = CompressKind::from_name(name) else {
        return false;
    };
    let Some(raw) = std::env::var_os("RSYNC_COMPRESS_LIST") else {
        return true;
    };
    let raw = raw.to_string_lossy().into_owned();
    let part = match raw.split_once('&') {
        Some((_, b)) if am_server => b,
        _ => &raw,
    };
    // An empty (or blank) list allows everything.
    if part.trim_start().is_empty() {
        return true;
    }
    compress_env_list(am_server).is_some_and(|l| l.contains(&kind))
}

/// Read the peer's compress list (or assume "zlib" from a peer that cannot
/// negotiate) and pick our most preferred name it lists.
fn negotiate_compress<R: Read>(
    r: &mut R,
    mine: &[CompressKind],
    am_server: bool,
    negotiate: bool,
) -> Result<CompressKind> {
    let theirs = if negotiate {
        String::from_utf8_lossy(&read_vstring(r, 0x7FFF)?).into_owned()
    } else {
        "zlib".to_string()
    };
    let listed: Vec<CompressKind> = theirs
        .split(' ')
        .filter_map(CompressKind::from_name)
        .collect();
    if let Some(k) = mine.iter().find(|k| listed.contains(k)) {
        // Without negotiation the check above only made sure our list
        // allows zlib; -z then means zlib.
        return Ok(if negotiate { *k } else { CompressKind::Zlib });
    }
    if am_server && negotiate {
        // The client reports it, with both lists.
        return Err(Error::quiet(ExitCode::UNSUPPORTED));
    }
    let ours: String = mine.iter().map(|k| format!(" {}", k.name())).collect();
    let ours = if ours.is_empty() {
        " INVALID".to_string()
    } else {
        ours
    };
    Err(Error::bare(
        ExitCode::UNSUPPORTED,
        format!(
            "Failed to negotiate a compress choice.\n{} list: {theirs}\n{} list:{ours}",
            if am_server { "Client" } else { "Server" },
            if am_server { "Server" } else { "Client" },
        ),
    ))
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

/// Our checksum list, or None when `--checksum-choice` fixed it (then
/// nothing is exchanged). The server also lists "none".
fn checksum_list(opts: &Options, am_server: bool) -> Option<Vec<&'static str>> {
    if opts.checksum_choice.is_some() {
        return None;
    }
    let mut mine: Vec<&str> = CHECKSUM_LIST.to_vec();
    if am_server {
        mine.push("none");
    }
    Some(mine)
}

fn negotiate_checksums<R: Read>(
    r: &mut R,
    opts: &Options,
    mine: Option<&[&str]>,
    negotiate: bool,
    protocol: u32,
) -> Result<(ChecksumKind, ChecksumKind)> {
    let Some(mine) = mine else {
        // An explicit choice is forwarded in argv, so nothing is exchanged.
        return parse_checksum_choice(opts.checksum_choice.as_deref().unwrap_or_default());
    };
    if !negotiate {
        let k = crate::checksum::default_for_protocol(protocol);
        return Ok((k, k));
    }
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

/// Print a fatal error the way upstream words it.
/// A fatal error on a side whose other thread is blocked on the peer:
/// report it and end the process, as upstream's exit_cleanup() does (the
/// peer then sees the connection close).
pub fn exit_now(prog: &str, e: &Error) -> ! {
    liveness::claim_exit();
    crate::fsops::tempfile::cleanup_all();
    print_error(prog, e);
    if !e.quiet {
        eprint!(
            "{}",
            crate::report::messages::exit_line(prog, e.code, liveness::role())
        );
    }
    liveness::kill_children();
    std::process::exit(e.code.0)
}

pub fn print_error(prog: &str, e: &Error) {
    if let Some(text) = error_text(prog, e) {
        let _ = std::io::Write::flush(&mut std::io::stdout());
        eprint!("{text}");
    }
}

/// The line [`print_error`] prints, newline included; `None` for a quiet
/// error.
pub fn error_text(prog: &str, e: &Error) -> Option<String> {
    if e.quiet || e.msg.is_empty() {
        return None;
    }
    Some(if e.bare {
        format!("{}\n", e.msg)
    } else if e.msg == crate::error::CONNECTION_CLOSED {
        // io.c whine_about_eof()
        format!(
            "{prog}: {} ({} bytes received so far) [{}]\n",
            e.msg,
            crate::report::numbers::human_num(liveness::bytes_received() as i64, 1),
            liveness::role().as_str()
        )
    } else if e.msg == crate::error::WRITE_EPIPE {
        format!("{prog}: [{}] {}\n", liveness::role().as_str(), e.msg)
    } else if e.msg.starts_with(prog) || e.msg.starts_with("ERROR") {
        format!("{}\n", e.msg)
    } else {
        format!("{prog}: {}\n", e.msg)
    })
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

    /// Both ends of one handshake, returning (client, server) results.
    fn handshake(client: Options, server: Options) -> (Result<Negotiated>, Result<Negotiated>) {
        let (a, b) = UnixStream::pair().unwrap();
        let srv = std::thread::spawn(move || {
            let (mut r, mut w) = (b.try_clone().unwrap(), b);
            setup_protocol(&mut r, &mut w, &server, true, Some(CLIENT_INFO_LETTERS))
        });
        let (mut r, mut w) = (a.try_clone().unwrap(), a);
        let c = setup_protocol(&mut r, &mut w, &client, false, None);
        drop((r, w));
        (c, srv.join().unwrap())
    }

    #[test]
    fn compression_is_negotiated_after_the_checksums() {
        let z = Options {
            compress: 1,
            ..Options::default()
        };
        let (c, s) = handshake(z.clone(), z.clone());
        let (c, s) = (c.unwrap(), s.unwrap());
        assert_eq!((c.compress, c.compress_level), (CompressKind::Zstd, 3));
        assert_eq!((s.compress, s.compress_level), (CompressKind::Zstd, 3));
        assert_eq!(c.xfer_sum, ChecksumKind::Xxh128);

        // A forced choice is not exchanged; zlib at level 0 is no compression.
        let forced = Options {
            compress: 1,
            compress_choice: Some("zlib".into()),
            compress_level: Some(0),
            ..Options::default()
        };
        let (c, s) = handshake(forced.clone(), forced);
        assert_eq!(c.unwrap().compress, CompressKind::None);
        assert_eq!(s.unwrap().compress, CompressKind::None);
        let lz4 = Options {
            compress: 3,
            compress_choice: Some("LZ4".into()),
            checksum_choice: Some("md5".into()),
            ..Options::default()
        };
        let (c, s) = handshake(lz4.clone(), lz4);
        assert_eq!(c.unwrap().compress, CompressKind::Lz4);
        assert_eq!(s.unwrap().compress, CompressKind::Lz4);

        // Without negotiated strings (protocol 29) -z means zlib.
        let old = Options {
            protocol: Some(29),
            ..z.clone()
        };
        let (c, s) = handshake(old, z);
        assert_eq!(c.unwrap().compress, CompressKind::Zlib);
        assert_eq!(s.unwrap().compress, CompressKind::Zlib);
    }

    #[test]
    fn compress_lists() {
        assert_eq!(
            compress_pref_list(false),
            [
                CompressKind::Zstd,
                CompressKind::Lz4,
                CompressKind::ZlibX,
                CompressKind::Zlib
            ]
        );
        assert_eq!(compress_pref_list(true).last(), Some(&CompressKind::None));
        let mut buf = Vec::new();
        write_vstring(&mut buf, b"lz4 zlib").unwrap();
        let pick = negotiate_compress(
            &mut &buf[..],
            &[CompressKind::Zlib, CompressKind::Lz4],
            false,
            true,
        );
        assert_eq!(pick.unwrap(), CompressKind::Zlib);
        let mut buf = Vec::new();
        write_vstring(&mut buf, b"zstd").unwrap();
        let e = negotiate_compress(&mut &buf[..], &[CompressKind::Lz4], false, true).unwrap_err();
        assert_eq!(e.code, ExitCode::UNSUPPORTED);
        assert_eq!(
            e.msg,
            "Failed to negotiate a compress choice.\nServer list: zstd\nClient list: lz4"
        );
    }

    #[test]
    fn rejects_non_rsync_peer() {
        let mut out = Vec::new();
        let r = exchange_version(&mut &b"HTTP"[..], &mut out, 32);
        assert_eq!(r.unwrap_err().code, ExitCode::PROTOCOL);
    }
}
