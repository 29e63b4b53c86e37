//! `-b`/`--backup`, `--backup-dir`, `--suffix` (upstream: backup.c).
//!
//! Before the receiver puts a new file in place, before the generator
//! replaces a symlink or special file, and before a deletion removes a
//! non-directory, the old item is kept: hard-linked (or, where that is not
//! possible or a deletion prefers it, renamed) to NAME+SUFFIX beside it, or
//! to DIR/NAME+SUFFIX under the backup dir, whose missing directories are
//! made with the attributes of the destination's directories.

use crate::flist::entry::{FileEntry, FileType, S_IFDIR, S_IFMT};
use crate::fsops::{set_file_attrs, AttrOpts};
use crate::options::Options;
use crate::report::{safe_name, LogCode, Logger};
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What make_backup() did (upstream's return values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backed {
    /// The backup could not be made; the caller must not go on.
    Failed,
    /// The item was renamed away: nothing is left at its name.
    Moved,
    /// The item was hard-linked or copied: it is still at its name.
    Duplicated,
    /// Nothing to keep (missing, or a kind that is not backed up).
    Nothing,
}

/// The backup settings of one run, bound to the directory the names are
/// relative to (upstream's cwd on the receiving side).
#[derive(Clone)]
pub struct Backup {
    /// `--backup-dir` with a trailing slash, as messages show it; None =
    /// backups beside the files.
    dir_shown: Option<Vec<u8>>,
    /// The backup dir as a path (relative ones are under `base`).
    dir: Option<PathBuf>,
    suffix: Vec<u8>,
    /// Where the names live.
    base: PathBuf,
    attr: AttrOpts,
    links: bool,
    specials: bool,
    devices: bool,
    /// Info BACKUP (`-vv`): "backed up NAME to BACKUP".
    info_backup: bool,
    /// Info NONREG: kinds that cannot be copied are reported.
    info_nonreg: bool,
    log: Logger,
}

impl Backup {
    /// None unless backups were asked for.
    pub fn new(
        opts: &Options,
        base: &Path,
        attr: AttrOpts,
        log: Logger,
        info_backup: bool,
        info_nonreg: bool,
    ) -> Option<Backup> {
        if !opts.make_backups {
            return None;
        }
        let dir_shown = opts.backup_dir.as_ref().map(|d| {
            let mut d = d.clone();
            if !d.ends_with(b"/") {
                d.push(b'/');
            }
            d
        });
        let dir = opts
            .backup_dir
            .as_ref()
            .map(|d| base.join(OsStr::from_bytes(d)));
        Some(Backup {
            dir_shown,
            dir,
            suffix: opts.backup_suffix.clone(),
            base: base.to_path_buf(),
            attr,
            links: opts.links,
            specials: opts.specials,
            devices: opts.devices,
            info_backup,
            info_nonreg,
            log,
        })
    }

    /// The same settings for names relative to another directory (a
    /// one-file transfer names its file relative to its parent).
    pub fn rebased(&self, base: &Path) -> Backup {
        let mut b = self.clone();
        if let (Some(shown), true) = (&self.dir_shown, self.dir.is_some()) {
            b.dir = Some(base.join(OsStr::from_bytes(&shown[..shown.len() - 1])));
        }
        b.base = base.to_path_buf();
        b
    }

    /// delete.c is_backup_file(): without a backup dir, a name ending in
    /// the suffix is an earlier backup, deleted without a new one.
    pub fn keeps_on_delete(&self, name: &[u8]) -> bool {
        self.dir.is_some() || !(name.len() > self.suffix.len() && name.ends_with(&self.suffix))
    }

    fn error(&self, text: String) {
        self.log.log(LogCode::Error, &text);
    }

    fn syserr(&self, what: &str, path: &[u8], e: &io::Error) {
        self.error(format!(
            "{}: {what} {} failed: {}\n",
            self.log.prog,
            safe_name(path),
            crate::error::strerror(e)
        ));
    }

    /// Keep `name` (relative to the base) before it is replaced or deleted.
    /// `prefer_rename`: deletions move the item away; replacements link it.
    pub fn make_backup(&self, name: &[u8], prefer_rename: bool) -> Backed {
        let (done, line) = self.make_backup_quiet(name, prefer_rename);
        if let Some(line) = line {
            self.log.log(LogCode::Info, &line);
        }
        done
    }

    /// make_backup(), handing back the "backed up" line (with `-vv`)
    /// instead of showing it, for a caller that orders its output.
    pub fn make_backup_quiet(&self, name: &[u8], prefer_rename: bool) -> (Backed, Option<String>) {
        let path = self.base.join(OsStr::from_bytes(name));
        let Ok(st) = fs::symlink_metadata(&path) else {
            return (Backed::Nothing, None);
        };
        let Some((bpath, shown)) = self.backup_name(name) else {
            return (Backed::Failed, None);
        };
        let mut ret = link_or_rename(&path, &bpath, prefer_rename, &st);
        if let Err(e) = &ret {
            if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::EISDIR)) {
                // An older backup (of any kind) is in the way: it goes.
                if let Ok(old) = fs::symlink_metadata(&bpath) {
                    let gone = if old.mode() & S_IFMT == S_IFDIR {
                        fs::remove_dir_all(&bpath)
                    } else {
                        fs::remove_file(&bpath)
                    };
                    if let Err(e) = gone {
                        self.syserr("delete", &shown, &e);
                        return (Backed::Failed, None);
                    }
                }
                ret = link_or_rename(&path, &bpath, prefer_rename, &st);
            }
        }
        let done = match ret {
            Ok(b) => b,
            Err(_) => match self.copy_backup(name, &path, &bpath, &shown, &st) {
                Some(b) => b,
                None => return (Backed::Failed, None),
            },
        };
        if done == Backed::Nothing || !self.info_backup {
            return (done, None);
        }
        let line = format!("backed up {} to {}\n", safe_name(name), safe_name(&shown));
        (done, Some(line))
    }

    /// In a dry run upstream's link or rename "succeeds" without doing
    /// anything, so the `-vv` line is still shown for an item that exists.
    pub fn dry_run_line(&self, name: &[u8]) -> Option<String> {
        if !self.info_backup {
            return None;
        }
        fs::symlink_metadata(self.base.join(OsStr::from_bytes(name))).ok()?;
        let mut shown = self.dir_shown.clone().unwrap_or_default();
        shown.extend_from_slice(name);
        shown.extend_from_slice(&self.suffix);
        Some(format!(
            "backed up {} to {}\n",
            safe_name(name),
            safe_name(&shown)
        ))
    }

    /// The fallback when neither a link nor a rename works (say, a backup
    /// dir on another file system): copy what can be copied.
    fn copy_backup(
        &self,
        name: &[u8],
        path: &Path,
        bpath: &Path,
        shown: &[u8],
        st: &fs::Metadata,
    ) -> Option<Backed> {
        let ftype = FileType::from_mode(st.mode());
        let file = entry_from(name, st);
        let made = match ftype {
            Some(FileType::Symlink) if self.links => {
                let target = fs::read_link(path).ok()?;
                if let Err(e) = std::os::unix::fs::symlink(&target, bpath) {
                    self.error(format!(
                        "{}: link {} -> \"{}\" failed: {}\n",
                        self.log.prog,
                        safe_name(shown),
                        safe_name(target.as_os_str().as_bytes()),
                        crate::error::strerror(&e)
                    ));
                }
                return Some(Backed::Duplicated);
            }
            Some(FileType::Regular) => fs::copy(path, bpath).map(|_| ()),
            Some(t) if (t.is_special() && self.specials) || (t.is_device() && self.devices) => {
                // Device nodes and FIFOs are not copied by gensync.
                return Some(Backed::Nothing);
            }
            _ => {
                if self.info_nonreg {
                    self.log.log(
                        LogCode::Info,
                        &format!("make_bak: skipping non-regular file {}\n", safe_name(name)),
                    );
                }
                return Some(Backed::Nothing);
            }
        };
        if let Err(e) = made {
            self.error(format!(
                "{}: keep_backup failed: {} -> \"{}\": {}\n",
                self.log.prog,
                safe_name(name),
                safe_name(shown),
                crate::error::strerror(&e)
            ));
            return None;
        }
        let _ = fs::set_permissions(bpath, fs::Permissions::from_mode(st.mode() & 0o7777));
        let _ = set_file_attrs(bpath, &file, None, &self.attr, true);
        Some(Backed::Duplicated)
    }

    /// get_backup_name(): the backup's path and its name as messages show
    /// it; under a backup dir, the directories on the way are made.
    fn backup_name(&self, name: &[u8]) -> Option<(PathBuf, Vec<u8>)> {
        let mut shown = Vec::new();
        let Some(dir) = &self.dir else {
            shown.extend_from_slice(name);
            shown.extend_from_slice(&self.suffix);
            return Some((self.base.join(OsStr::from_bytes(&shown)), shown));
        };
        shown.extend_from_slice(self.dir_shown.as_deref().unwrap_or_default());
        shown.extend_from_slice(name);
        shown.extend_from_slice(&self.suffix);
        if let Err(e) = fs::create_dir_all(dir) {
            let shown_dir = self.dir_shown.as_deref().unwrap_or_default();
            self.syserr("mkdir", &shown_dir[..shown_dir.len().saturating_sub(1)], &e);
            return None;
        }
        if !self.make_dirs_for(dir, name) {
            return None;
        }
        let mut rel = name.to_vec();
        rel.extend_from_slice(&self.suffix);
        Some((dir.join(OsStr::from_bytes(&rel)), shown))
    }

    /// copy_valid_path(): each directory of `name` must be a directory
    /// under the backup dir; anything else there is removed, and a missing
    /// one is made with the attributes of the destination's directory.
    fn make_dirs_for(&self, dir: &Path, name: &[u8]) -> bool {
        let shown_dir = self.dir_shown.as_deref().unwrap_or_default();
        let mut creating = false;
        for (i, _) in name.iter().enumerate().filter(|(_, &c)| c == b'/') {
            let prefix = &name[..i];
            let bdir = dir.join(OsStr::from_bytes(prefix));
            let mut shown = shown_dir.to_vec();
            shown.extend_from_slice(prefix);
            if !creating {
                match self.validate_dir(&bdir, &shown) {
                    Some(true) => continue,
                    Some(false) => creating = true,
                    None => return false,
                }
            }
            loop {
                let mut b = fs::DirBuilder::new();
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o777);
                match b.create(&bdir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        match self.validate_dir(&bdir, &shown) {
                            Some(true) => break,
                            Some(false) => continue,
                            None => return false,
                        }
                    }
                    Err(e) => {
                        self.syserr("backup mkdir", &shown, &e);
                        return false;
                    }
                }
            }
            // Take over the settings of the directory the file lives in.
            let src = self.base.join(OsStr::from_bytes(prefix));
            match fs::metadata(&src) {
                Ok(st) => {
                    let file = entry_from(prefix, &st);
                    let _ = set_file_attrs(&bdir, &file, None, &self.attr, false);
                }
                Err(e) => {
                    let full = src.as_os_str().as_bytes().to_vec();
                    self.syserr("backup stat", &full, &e);
                }
            }
        }
        true
    }

    /// validate_backup_dir(): Some(true) for a directory, Some(false) when
    /// missing (or just removed for not being one), None on error.
    fn validate_dir(&self, bdir: &Path, shown: &[u8]) -> Option<bool> {
        match fs::symlink_metadata(bdir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Some(false),
            Err(e) => {
                self.syserr("backup lstat", shown, &e);
                None
            }
            Ok(st) if st.mode() & S_IFMT == S_IFDIR => Some(true),
            Ok(_) => match fs::remove_file(bdir) {
                Ok(()) => Some(false),
                Err(e) => {
                    self.syserr("delete", shown, &e);
                    None
                }
            },
        }
    }
}

/// Hard-link the item to its backup name (unless a rename is preferred),
/// falling back to a rename for a regular file; an error means "copy it".
fn link_or_rename(
    from: &Path,
    to: &Path,
    prefer_rename: bool,
    st: &fs::Metadata,
) -> io::Result<Backed> {
    let is_reg = st.mode() & S_IFMT == crate::flist::entry::S_IFREG;
    if !prefer_rename {
        match fs::hard_link(from, to) {
            Ok(()) => return Ok(Backed::Duplicated),
            Err(e) => {
                if !is_reg || matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::EISDIR)) {
                    return Err(e);
                }
            }
        }
    }
    fs::rename(from, to)?;
    // A backup that already was a hard link of the item: rename() did
    // nothing, so the name is removed by hand.
    if st.nlink() > 1 && st.mode() & S_IFMT != S_IFDIR {
        let _ = fs::remove_file(from);
    }
    Ok(Backed::Moved)
}

/// make_file() for a local item: what set_file_attrs() needs.
fn entry_from(name: &[u8], st: &fs::Metadata) -> FileEntry {
    FileEntry {
        name: name.to_vec(),
        mode: st.mode(),
        size: st.size() as i64,
        mtime: st.mtime(),
        mtime_nsec: st.mtime_nsec() as u32,
        uid: st.uid(),
        gid: st.gid(),
        ..FileEntry::default()
    }
}
