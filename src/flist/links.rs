//! Symlink handling options on both sides (upstream: flist.c
//! readlink_stat() and link_stat(), util1.c unsafe_symlink(), rsync.h
//! SYMLINK_PREFIX; generator.c for `--safe-links` and `-K`).
//!
//! - `-L`: the sender stats through every symlink.
//! - `-k`: the sender follows a symlink that points at a directory.
//! - `--copy-unsafe-links`: the sender follows only "unsafe" links (absolute,
//!   or climbing above the transfer root).
//! - `--safe-links`: the receiver skips unsafe links.
//! - `--munge-links`: a receiver prefixes every target with
//!   [`SYMLINK_PREFIX`], a sender strips it (each side acts on its own
//!   option; it never travels to the peer).
//! - `-K`: the receiver treats a symlink to a directory as that directory.

use crate::options::Options;
use std::fs;
use std::io;
use std::path::Path;

/// The prefix that makes a munged symlink point nowhere useful.
pub const SYMLINK_PREFIX: &[u8] = b"/rsyncd-munged/";

/// Any option that makes the sender follow symlinks.
pub fn follows_links(opts: &Options) -> bool {
    opts.copy_links || opts.copy_unsafe_links || opts.copy_dirlinks
}

/// link_stat(): lstat, or stat with `-L`; with `follow_dirlinks` a symlink to
/// a directory is replaced by the directory.
pub fn link_stat(opts: &Options, path: &Path, follow_dirlinks: bool) -> io::Result<fs::Metadata> {
    if opts.copy_links {
        return fs::metadata(path);
    }
    let st = fs::symlink_metadata(path)?;
    if follow_dirlinks && st.file_type().is_symlink() {
        if let Ok(t) = fs::metadata(path) {
            if t.is_dir() {
                return Ok(t);
            }
        }
    }
    Ok(st)
}

/// readlink_stat() for the sender's entries: `name` is the entry's name
/// below the transfer root (the base for `--copy-unsafe-links`). `say`
/// gets the "copying unsafe symlink" line (shown with `-v`), before the
/// referent is looked at.
pub fn readlink_stat(
    opts: &Options,
    path: &Path,
    name: &[u8],
    say: &mut dyn FnMut(String),
) -> io::Result<fs::Metadata> {
    let st = link_stat(opts, path, opts.copy_dirlinks)?;
    if st.file_type().is_symlink() && opts.copy_unsafe_links {
        use std::os::unix::ffi::OsStrExt;
        let target = fs::read_link(path)?;
        let target = target.as_os_str().as_bytes();
        if unsafe_symlink(target, name) {
            say(format!(
                "copying unsafe symlink \"{}\" -> \"{}\"\n",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(target)
            ));
            return fs::metadata(path);
        }
    }
    Ok(st)
}

/// The stat of a top-level name (send_file_list()'s link_stat(), then
/// make_file()'s readlink_stat()): `follow` for a name spelled with a
/// trailing slash or as a dot-dir.
pub fn top_stat(
    opts: &Options,
    path: &Path,
    name: &[u8],
    follow: bool,
    say: &mut dyn FnMut(String),
) -> io::Result<fs::Metadata> {
    if follow {
        return fs::metadata(path);
    }
    let st = link_stat(opts, path, opts.copy_dirlinks)?;
    if st.file_type().is_symlink() {
        return readlink_stat(opts, path, name, say);
    }
    Ok(st)
}

/// Open a file the sender is about to read: a symlink-following option
/// follows a leaf link (the list recorded its referent), otherwise a link
/// raced in at the leaf is refused.
/// `--open-noatime` adds O_NOATIME, so reading leaves the atime alone.
pub fn open_source(opts: &Options, path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut flags = 0;
    if !follows_links(opts) {
        flags |= libc::O_NOFOLLOW;
    }
    if opts.open_noatime {
        flags |= libc::O_NOATIME;
    }
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
}

/// Why a sender entry could not be stat()ed: with a link-following option,
/// a dangling symlink is reported as such rather than as vanished.
pub fn is_dangling(opts: &Options, path: &Path) -> bool {
    follows_links(opts)
        && fs::symlink_metadata(path)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false)
}

/// A sender with `--munge-links` sends a munged target without its prefix.
pub fn unmunge(opts: &Options, target: &mut Vec<u8>) {
    if opts.munge_links && target.len() > SYMLINK_PREFIX.len() && target.starts_with(SYMLINK_PREFIX)
    {
        target.drain(..SYMLINK_PREFIX.len());
    }
}

/// A receiver with `--munge-links` stores every target behind the prefix.
pub fn munge(target: &mut Vec<u8>) {
    let mut t = SYMLINK_PREFIX.to_vec();
    t.append(target);
    *target = t;
}

/// unsafe_symlink(): does `dest`, the target of a link named `src` (below
/// the transfer root), lead outside the tree? Absolute and empty targets
/// do; so does a ".." that climbs above the link's depth, and a ".." in
/// the middle or at the end of the target.
pub fn unsafe_symlink(dest: &[u8], src: &[u8]) -> bool {
    if dest.is_empty() || dest[0] == b'/' {
        return true;
    }
    // Leading "../" runs are weighed below; one anywhere else is unsafe.
    let mut rest = dest;
    while rest.starts_with(b"../") {
        rest = &rest[3..];
        while rest.first() == Some(&b'/') {
            rest = &rest[1..];
        }
    }
    if memchr::memmem::find(rest, b"/../").is_some() {
        return true;
    }
    if dest.len() > 3 && dest.ends_with(b"/..") {
        return true;
    }
    // The link's own depth: its directory components ("." ignored, ".."
    // starting the count over).
    let mut depth: i32 = 0;
    let src_parts: Vec<&[u8]> = src.split(|&c| c == b'/').collect();
    let (src_dirs, src_last) = src_parts.split_at(src_parts.len() - 1);
    for c in src_dirs {
        match *c {
            b"" => {}
            b"." => {}
            b".." => depth = 0,
            _ => depth += 1,
        }
    }
    if src_last[0] == b".." {
        depth = 0;
    }
    let parts: Vec<&[u8]> = dest.split(|&c| c == b'/').collect();
    let (dirs, last) = parts.split_at(parts.len() - 1);
    for c in dirs {
        match *c {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            _ => depth += 1,
        }
    }
    if last[0] == b".." {
        depth -= 1;
    }
    depth < 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_links() {
        assert!(unsafe_symlink(b"/etc", b"a"));
        assert!(unsafe_symlink(b"", b"a"));
        assert!(unsafe_symlink(b"..", b"a"));
        assert!(unsafe_symlink(b"../x", b"a"));
        assert!(!unsafe_symlink(b"../x", b"d/a"));
        assert!(unsafe_symlink(b"../../x", b"d/a"));
        assert!(!unsafe_symlink(b"x/y", b"a"));
        assert!(unsafe_symlink(b"x/../y", b"d/a"));
        assert!(unsafe_symlink(b"x/..", b"d/a"));
        assert!(!unsafe_symlink(b"./x", b"a"));
        assert!(!unsafe_symlink(b"..//x", b"d/a"));
    }

    #[test]
    fn munging() {
        let o = Options {
            munge_links: true,
            ..Options::default()
        };
        let mut t = b"/rsyncd-munged/etc".to_vec();
        unmunge(&o, &mut t);
        assert_eq!(t, b"etc");
        munge(&mut t);
        assert_eq!(t, b"/rsyncd-munged/etc");
    }
}
