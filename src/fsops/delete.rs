//! Deleting extraneous destination files (upstream: generator.c
//! delete_in_dir(), delete.c delete_item(), delete_dir_contents()).
//!
//! Items are visited in reverse file-list order, as upstream does, so the
//! "deleting" lines come out in the same order.

use crate::filter::walk::FilterWalk;
use crate::filter::Side;
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
    /// Not an error: a line to show in its place among the deletions (the
    /// "backed up" line of `-b -vv`).
    Info(String),
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

/// How a deletion pass runs: dry or not, the rules that protect names,
/// and the `--max-delete` budget.
pub struct DelCtx<'a> {
    pub dry_run: bool,
    pub protocol: u32,
    /// Receiver-side rules (get_dirlist() leaves excluded names out, so
    /// they are never deleted), positioned at the directory being listed.
    pub rules: Option<&'a mut FilterWalk>,
    /// Deletions still allowed; None for no limit.
    pub budget: Option<u64>,
    /// Deletions refused because the budget ran out.
    pub skipped: u64,
    /// Making room for a new item: not limited, not counted.
    pub make_room: bool,
    /// `--delete-delay`: note what to delete (path, name, mode) instead of
    /// deleting it now (generator.c remember_delete()).
    pub defer: Option<Vec<(std::path::PathBuf, Vec<u8>, u32)>>,
    /// `-b`: non-directories are backed up instead of (or before) being
    /// unlinked (delete.c delete_item()).
    pub backup: Option<super::backup::Backup>,
}

impl DelCtx<'_> {
    pub fn plain(dry_run: bool, protocol: u32) -> DelCtx<'static> {
        DelCtx {
            dry_run,
            protocol,
            rules: None,
            budget: None,
            skipped: 0,
            make_room: false,
            defer: None,
            backup: None,
        }
    }

    fn excluded(&self, rel: &[u8], mode: u32, ignore_perishable: bool) -> bool {
        let is_dir = mode & 0o170000 == S_IFDIR;
        self.rules
            .as_ref()
            .is_some_and(|w| w.excluded_q(rel, is_dir, Side::Receiver, ignore_perishable))
    }
}

/// Outcome of delete_item() (upstream enum delret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelRet {
    Success,
    NotEmpty,
    AtLimit,
    Failed,
}

/// Delete everything in `dir` (named `prefix` relative to the root) whose
/// basename is not in `keep` and which the rules do not protect.
/// `on_delete` sees each deleted item; `on_error` each failure.
pub fn delete_in_dir(
    dir: &Path,
    prefix: &[u8],
    keep: &HashSet<&[u8]>,
    dc: &mut DelCtx,
    on_delete: &mut dyn FnMut(Deleted),
    on_error: &mut dyn FnMut(DelError),
) -> io::Result<()> {
    let list = sorted_dirlist(dir, dc.protocol)?;
    for (name, mode) in list.iter().rev() {
        if keep.contains(name.as_slice()) {
            continue;
        }
        let mut rel = prefix.to_vec();
        rel.extend_from_slice(name);
        if dc.excluded(&rel, *mode, false) {
            continue;
        }
        let path = dir.join(std::ffi::OsStr::from_bytes(name));
        if let Some(d) = dc.defer.as_mut() {
            d.push((path, rel, *mode));
            continue;
        }
        delete_item(&path, &rel, *mode, dc, on_delete, on_error);
    }
    Ok(())
}

/// Remove one item, recursing into directories (delete.c delete_item()).
pub fn delete_item(
    path: &Path,
    rel: &[u8],
    mode: u32,
    dc: &mut DelCtx,
    on_delete: &mut dyn FnMut(Deleted),
    on_error: &mut dyn FnMut(DelError),
) -> DelRet {
    if FileType::from_mode(mode) == Some(FileType::Dir) {
        let ret = delete_dir_contents(path, rel, dc, on_delete, on_error);
        if matches!(ret, DelRet::NotEmpty | DelRet::AtLimit) {
            return ret;
        }
    }
    remove_one(path, rel, mode, dc, on_delete, on_error)
}

/// delete.c delete_dir_contents(): empty a directory before it goes.
/// Inside it perishable rules protect nothing; a name the other rules
/// protect keeps the directory. Every child directory is emptied and then
/// removed on its own, so one that could not be emptied is tried (and
/// counted against --max-delete) anyway, and a directory left non-empty is
/// reported, as upstream does.
fn delete_dir_contents(
    path: &Path,
    rel: &[u8],
    dc: &mut DelCtx,
    on_delete: &mut dyn FnMut(Deleted),
    on_error: &mut dyn FnMut(DelError),
) -> DelRet {
    let list = match sorted_dirlist(path, dc.protocol) {
        Ok(list) => list,
        Err(err) => {
            on_error(DelError::Failed {
                what: "opendir",
                name: rel.to_vec(),
                err,
            });
            return DelRet::Failed;
        }
    };
    let entered = match dc.rules.as_deref_mut() {
        Some(w) => {
            // A bad per-directory file here is reported by the walk that
            // reads it for transfers; keep deleting.
            let _ = w.push_one(rel);
            true
        }
        None => false,
    };
    // Only the item being made room for is exempt from --max-delete.
    let make_room = std::mem::replace(&mut dc.make_room, false);
    let mut ret = DelRet::Success;
    let mut todo = Vec::with_capacity(list.len());
    for (name, m) in &list {
        let mut r = rel.to_vec();
        r.push(b'/');
        r.extend_from_slice(name);
        if dc.excluded(&r, *m, true) {
            ret = DelRet::NotEmpty;
        } else {
            todo.push((name, r, *m));
        }
    }
    for (name, r, m) in todo.into_iter().rev() {
        let p = path.join(std::ffi::OsStr::from_bytes(name));
        if FileType::from_mode(m) == Some(FileType::Dir)
            && delete_dir_contents(&p, &r, dc, on_delete, on_error) != DelRet::Success
        {
            ret = DelRet::NotEmpty;
        }
        if remove_one(&p, &r, m, dc, on_delete, on_error) != DelRet::Success {
            ret = DelRet::NotEmpty;
        }
    }
    dc.make_room = make_room;
    if entered {
        if let Some(w) = dc.rules.as_deref_mut() {
            w.leave();
        }
    }
    if ret == DelRet::NotEmpty {
        on_error(DelError::NotEmpty(rel.to_vec()));
    }
    ret
}

const BACKUP_FAILED: &str = "backup failed";

/// A deletion with `-b`: the item is renamed to its backup name; one that
/// was copied instead is unlinked; one that cannot be backed up is left.
fn backup_then_unlink(
    b: &super::backup::Backup,
    path: &Path,
    rel: &[u8],
    on_error: &mut dyn FnMut(DelError),
) -> io::Result<()> {
    use super::backup::Backed;
    let (done, line) = b.make_backup_quiet(rel, true);
    if let Some(line) = line {
        on_error(DelError::Info(line));
    }
    match done {
        Backed::Moved | Backed::Nothing => Ok(()),
        Backed::Duplicated => fs::remove_file(path),
        Backed::Failed => Err(io::Error::other(BACKUP_FAILED)),
    }
}

/// The removal itself, after any emptying: the --max-delete check, then
/// unlink or rmdir.
fn remove_one(
    path: &Path,
    rel: &[u8],
    mode: u32,
    dc: &mut DelCtx,
    on_delete: &mut dyn FnMut(Deleted),
    on_error: &mut dyn FnMut(DelError),
) -> DelRet {
    let is_dir = FileType::from_mode(mode) == Some(FileType::Dir);
    // Upstream compares the deletions done so far with the limit, so only
    // a removal that happens spends the budget.
    if !dc.make_room && dc.budget == Some(0) {
        dc.skipped += 1;
        return DelRet::AtLimit;
    }
    let res = if dc.dry_run {
        if let Some(b) = dc
            .backup
            .as_ref()
            .filter(|b| !is_dir && b.keeps_on_delete(rel))
        {
            if let Some(line) = b.dry_run_line(rel) {
                on_error(DelError::Info(line));
            }
        }
        Ok(())
    } else if is_dir {
        fs::remove_dir(path)
    } else {
        match dc.backup.as_ref().filter(|b| b.keeps_on_delete(rel)) {
            Some(b) => backup_then_unlink(b, path, rel, on_error),
            None => fs::remove_file(path),
        }
    };
    if let Err(e) = &res {
        if e.kind() == io::ErrorKind::Other && e.to_string() == BACKUP_FAILED {
            on_error(DelError::Failed {
                what: "make_backup",
                name: rel.to_vec(),
                err: io::Error::from_raw_os_error(0),
            });
            return DelRet::Failed;
        }
    }
    match res {
        Ok(()) => {
            // The item made room for is replaced, not deleted: neither
            // counted nor logged (upstream DEL_MAKE_ROOM).
            if !dc.make_room {
                if let Some(b) = dc.budget.as_mut() {
                    *b = b.saturating_sub(1);
                }
                on_delete(Deleted { name: rel, mode });
            }
            DelRet::Success
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => DelRet::Success,
        Err(e) if is_dir && e.raw_os_error() == Some(libc::ENOTEMPTY) => {
            on_error(DelError::NotEmpty(rel.to_vec()));
            DelRet::NotEmpty
        }
        Err(err) => {
            on_error(DelError::Failed {
                what: if is_dir { "rmdir" } else { "unlink" },
                name: rel.to_vec(),
                err,
            });
            DelRet::Failed
        }
    }
}
