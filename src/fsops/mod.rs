//! Filesystem operations of the receiving side (upstream: rsync.c
//! set_file_attrs(), dest_mode(); util1.c same_time(); syscall.c).
//!
//! Invariant: metadata is set on a temporary file before it is renamed into
//! place, so a destination name always holds a complete file.

pub mod backup;
pub mod delete;
pub mod partial;
pub mod remove_source;
pub mod tempfile;
pub mod writer;

use crate::flist::entry::{FileEntry, FileType};
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub const CHMOD_BITS: u32 = 0o7777;

/// Which attributes the receiving side preserves.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttrOpts {
    pub perms: bool,
    pub times: bool,
    pub owner: bool,
    pub group: bool,
    pub omit_dir_times: bool,
    /// `-U`: set access times of non-directories.
    pub atimes: bool,
    pub am_root: bool,
    pub modify_window: i64,
    pub dry_run: bool,
}

/// util1.c same_time(): with a zero window only seconds count; a negative
/// window compares nanoseconds too.
pub fn same_time(s1: i64, ns1: u32, s2: i64, ns2: u32, window: i64) -> bool {
    if window == 0 {
        s1 == s2
    } else if window < 0 {
        s1 == s2 && ns1 == ns2
    } else {
        (s1 - s2).abs() <= window
    }
}

/// The mode a file gets when permissions are not preserved (rsync.c dest_mode()).
pub fn dest_mode(flist_mode: u32, stat_mode: u32, dflt_perms: u32, exists: bool) -> u32 {
    if exists {
        (flist_mode & !CHMOD_BITS) | (stat_mode & CHMOD_BITS)
    } else {
        flist_mode & (!CHMOD_BITS | dflt_perms)
    }
}

/// The process umask, read without changing it for longer than a moment.
pub fn current_umask() -> u32 {
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    nix::sys::stat::umask(old);
    old.bits()
}

/// Bits of what set_file_attrs() changed (rsync.c UPDATED_*).
pub const UPDATED_OWNER: u32 = 1;
pub const UPDATED_GROUP: u32 = 2;
pub const UPDATED_MTIME: u32 = 4;
pub const UPDATED_MODE: u32 = 8;
pub const UPDATED_ATIME: u32 = 16;

/// A failed metadata call: which operation, for upstream's message.
#[derive(Debug)]
pub struct AttrError {
    pub what: &'static str,
    pub err: io::Error,
}

/// Bring `path`'s metadata in line with `file` (rsync.c set_file_attrs()).
/// `st` is the current metadata if known; `accurate` compares mtimes to the
/// nanosecond (after a transfer). Returns the UPDATED_* bits.
pub fn set_file_attrs(
    path: &Path,
    file: &FileEntry,
    st: Option<&fs::Metadata>,
    o: &AttrOpts,
    accurate: bool,
) -> Result<u32, AttrError> {
    if o.dry_run && st.is_none() {
        return Ok(1);
    }
    let owned;
    let st = match st {
        Some(st) => st,
        None => {
            owned = fs::symlink_metadata(path).map_err(|err| AttrError { what: "stat", err })?;
            &owned
        }
    };
    if o.dry_run {
        return Ok(0);
    }
    let mut updated = 0;
    let ftype = file.file_type();
    let is_link = ftype == Some(FileType::Symlink);
    let mut cur_mode = st.mode();
    let change_uid = o.am_root && o.owner && st.uid() != file.uid;
    let change_gid = o.group && st.gid() != file.gid;
    if change_uid || change_gid {
        let uid = if change_uid { file.uid } else { st.uid() };
        let gid = if change_gid { file.gid } else { st.gid() };
        std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(|err| AttrError {
            what: if change_uid { "chown" } else { "chgrp" },
            err,
        })?;
        if cur_mode & 0o6000 != 0 {
            // chown clears setuid/setgid: re-read what is there now.
            if let Ok(m) = fs::symlink_metadata(path) {
                cur_mode = m.mode();
            }
        }
        if change_uid {
            updated |= UPDATED_OWNER;
        }
        if change_gid {
            updated |= UPDATED_GROUP;
        }
    }
    let skip_mtime = !o.times || (o.omit_dir_times && ftype == Some(FileType::Dir));
    // `-U`: rsync.c set_file_attrs() sets the access time of everything
    // but directories, always after a transfer.
    let set_atime =
        o.atimes && ftype != Some(FileType::Dir) && (accurate || st.atime() != file.atime);
    if skip_mtime && set_atime {
        let atime = TimeSpec::new(file.atime, 0);
        utimensat(
            None,
            path,
            &atime,
            &TimeSpec::UTIME_OMIT,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| AttrError {
            what: "utimensat",
            err: e.into(),
        })?;
        updated |= UPDATED_ATIME;
    }
    if !skip_mtime {
        let same = if accurate {
            st.mtime() == file.mtime && st.mtime_nsec() as u32 == file.mtime_nsec
        } else {
            same_time(
                file.mtime,
                file.mtime_nsec,
                st.mtime(),
                st.mtime_nsec() as u32,
                o.modify_window,
            )
        };
        if !same || set_atime {
            let atime = if set_atime {
                updated |= UPDATED_ATIME;
                TimeSpec::new(file.atime, 0)
            } else {
                TimeSpec::UTIME_OMIT
            };
            let mtime = if same {
                TimeSpec::UTIME_OMIT
            } else {
                TimeSpec::new(file.mtime, file.mtime_nsec as i64)
            };
            utimensat(None, path, &atime, &mtime, UtimensatFlags::NoFollowSymlink).map_err(
                |e| AttrError {
                    what: "utimensat",
                    err: e.into(),
                },
            )?;
            if !same {
                updated |= UPDATED_MTIME;
            }
        }
    }
    if !is_link && cur_mode & CHMOD_BITS != file.mode & CHMOD_BITS {
        fs::set_permissions(path, fs::Permissions::from_mode(file.mode & CHMOD_BITS))
            .map_err(|err| AttrError { what: "chmod", err })?;
        updated |= UPDATED_MODE;
    }
    Ok(updated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_windows() {
        assert!(same_time(10, 1, 10, 2, 0));
        assert!(!same_time(10, 1, 10, 2, -1));
        assert!(same_time(10, 0, 12, 0, 2));
        assert!(!same_time(10, 0, 13, 0, 2));
    }

    #[test]
    fn dest_mode_rules() {
        assert_eq!(dest_mode(0o104755, 0o100600, 0o755, true), 0o100600);
        assert_eq!(dest_mode(0o104777, 0, 0o755, false), 0o100755);
    }
}
