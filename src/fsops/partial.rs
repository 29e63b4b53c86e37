//! The partial dir (`--partial-dir`, `--delay-updates`): where an
//! interrupted file waits as the basis of the next run, and where
//! `--delay-updates` holds finished files until the end (upstream: util1.c
//! partial_dir_fname(), handle_partial_dir()).
//!
//! A relative partial dir lives beside each file (`dir/PD/name`); an
//! absolute one holds every file by its base name and is never removed.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Where `fname` (a destination path) has its partial file.
pub fn partial_dir_fname(fname: &Path, partial_dir: &OsStr) -> PathBuf {
    let base = fname.file_name().unwrap_or(fname.as_os_str());
    let pd = Path::new(partial_dir);
    if pd.is_absolute() {
        return pd.join(base);
    }
    match fname.parent() {
        Some(p) => p.join(pd).join(base),
        None => pd.join(base),
    }
}

/// handle_partial_dir() with PDIR_CREATE: make the directory of a partial
/// file (mode 0700), replacing a non-directory in the way. False when that
/// fails.
pub fn create_partial_dir(partialptr: &Path) -> bool {
    let Some(dir) = partialptr.parent() else {
        return true;
    };
    let exists = match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => true,
        Ok(_) => {
            if fs::remove_file(dir).is_err() {
                return false;
            }
            false
        }
        Err(_) => false,
    };
    exists || fs::DirBuilder::new().mode(0o700).create(dir).is_ok()
}

/// handle_partial_dir() with PDIR_DELETE: remove a relative partial dir
/// once it is empty.
pub fn remove_partial_dir(partialptr: &Path, partial_dir: &OsStr) {
    if partial_dir.as_bytes().first() == Some(&b'/') {
        return;
    }
    if let Some(dir) = partialptr.parent() {
        let _ = fs::remove_dir(dir);
    }
}

/// The partial file for `fname`, if one is there as a regular file.
pub fn existing_partial(fname: &Path, partial_dir: &OsStr) -> Option<(PathBuf, fs::Metadata)> {
    let p = partial_dir_fname(fname, partial_dir);
    match fs::symlink_metadata(&p) {
        Ok(m) if m.is_file() && m.mode() & 0o170000 == 0o100000 => Some((p, m)),
        _ => None,
    }
}
