//! Deleting extraneous destination files (upstream: generator.c
//! delete_in_dir(), delete.c delete_item(), delete_dir_contents()).
//!
//! Items are visited in reverse file-list order, as upstream does, so the
//! "deleting" lines come out in the same order.

use crate::flist::entry::{FileType, S_IFDIR};
use crate::flist::sort::sort_key;
use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What happened to one deleted item, for logging and statistics.
pub struct Deleted<'a> {
    /// Name relative to the transfer root.
    pub name: &'a [u8],
    pub mode: u32,
}

/// Outcome of a failed removal, for upstream's messages.
pub enum DelError {
    NotEmpty(Vec<u8>),
    Failed {
        what: &'static str,
        name: Vec<u8>,
        err: io::Error,
    },
}

/// A directory's entries sorted as the file list would be (get_dirlist()).
fn sorted_dirlist(dir: &Path, protocol: u32) -> io::Result<Vec<(Vec<u8>, u32)>> {
    let mut v = Vec::new();
    for ent in fs::read_dir(dir)? {
        let ent = ent?;
        let name = ent.file_name().as_bytes().to_vec();
        match fs::symlink_metadata(ent.path()) {
            Ok(m) => v.push((name, m.mode())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    v.sort_by_cached_key(|(n, m)| sort_key(n, m & 0o170000 == S_IFDIR, protocol));
    Ok(v)
}

/// Delete everything in `dir` (named `prefix` relative to the root) whose
/// basename is not in `keep`. `on_delete` sees each deleted item;
/// `on_error` each failure.
pub fn delete_in_dir(
    dir: &Path,
    prefix: &[u8],
    keep: &HashSet<&[u8]>,
    dry_run: bool,
    protocol: u32,
    on_delete: &mut dyn FnMut(Deleted),
    on_error: &mut dyn FnMut(DelError),
) -> io::Result<()> {
    let list = sorted_dirlist(dir, protocol)?;
    for (name, mode) in list.iter().rev() {
        if keep.contains(name.as_slice()) {
            continue;
        }
        let mut rel = prefix.to_vec();
        rel.extend_from_slice(name);
        let path = dir.join(std::ffi::OsStr::from_bytes(name));
        delete_item(&path, &rel, *mode, dry_run, protocol, on_delete, on_error);
    }
    Ok(())
}

/// Remove one item, recursing into directories (delete_item()).
pub fn delete_item(
    path: &Path,
    rel: &[u8],
    mode: u32,
    dry_run: bool,
    protocol: u32,
    on_delete: &mut dyn FnMut(Deleted),
    on_error: &mut dyn FnMut(DelError),
) -> bool {
    let is_dir = FileType::from_mode(mode) == Some(FileType::Dir);
    if is_dir {
        let mut ok = true;
        match sorted_dirlist(path, protocol) {
            Ok(list) => {
                for (name, m) in list.iter().rev() {
                    let mut r = rel.to_vec();
                    r.push(b'/');
                    r.extend_from_slice(name);
                    let p = path.join(std::ffi::OsStr::from_bytes(name));
                    ok &= delete_item(&p, &r, *m, dry_run, protocol, on_delete, on_error);
                }
            }
            Err(err) => {
                on_error(DelError::Failed {
                    what: "opendir",
                    name: rel.to_vec(),
                    err,
                });
                return false;
            }
        }
        if !ok && !dry_run {
            on_error(DelError::NotEmpty(rel.to_vec()));
            return false;
        }
    }
    let res = if dry_run {
        Ok(())
    } else if is_dir {
        fs::remove_dir(path)
    } else {
        fs::remove_file(path)
    };
    match res {
        Ok(()) => {
            on_delete(Deleted { name: rel, mode });
            true
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) if is_dir && e.raw_os_error() == Some(libc::ENOTEMPTY) => {
            on_error(DelError::NotEmpty(rel.to_vec()));
            false
        }
        Err(err) => {
            on_error(DelError::Failed {
                what: if is_dir { "rmdir" } else { "unlink" },
                name: rel.to_vec(),
                err,
            });
            false
        }
    }
}
