//! Building the sender's file list from the command-line sources (upstream:
//! flist.c send_file_list(), send_directory(), send_if_directory(),
//! make_file()). See protocol-notes/file-list.md.
//!
//! Entries come out in upstream's traversal order (argument order, then each
//! directory's readdir order, then its subdirectories), which is the order
//! they go on the wire; both sides sort afterwards.

use super::entry::*;
use crate::checksum::{file_checksum, ChecksumKind};
use crate::error::{strerror, Error, IoError};
use crate::filter::walk::FilterWalk;
use crate::filter::{FilterList, Side};
use crate::options::Options;
use crate::report::{LogCode, Logger};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub struct Builder<'a> {
    opts: &'a Options,
    log: &'a Logger,
    /// Algorithm for `--checksum` sums, when `-c` is on.
    file_sum: Option<ChecksumKind>,
    pub entries: Vec<FileEntry>,
    pub io_error: u32,
    filesystem_dev: u64,
    /// Incremental recursion: scan one directory level at a time.
    pub inc: bool,
    /// The run's rules, when there are any.
    filters: Option<&'a FilterList>,
    /// The rules as they stand in the directory being scanned.
    walk: Option<FilterWalk>,
    /// A fatal error met while walking (a bad rule in a merge file).
    pub fatal: Option<Error>,
}

/// Absolute form of a path for messages (upstream full_fname()).
pub fn full_fname(p: &Path) -> String {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let s = abs.to_string_lossy().into_owned();
    s.strip_suffix("/.").map(str::to_string).unwrap_or(s)
}

impl<'a> Builder<'a> {
    pub fn new(opts: &'a Options, log: &'a Logger, file_sum: Option<ChecksumKind>) -> Self {
        Builder {
            opts,
            log,
            file_sum,
            entries: Vec::new(),
            io_error: 0,
            filesystem_dev: 0,
            inc: false,
            filters: None,
            walk: None,
            fatal: None,
        }
    }

    /// Apply these rules while walking (only when there are any).
    pub fn set_filters(&mut self, list: &'a FilterList) {
        if !list.is_empty() {
            self.filters = Some(list);
        }
    }

    /// Names are matched relative to the source's directory part, where
    /// anchored rules start (upstream changes into it).
    fn set_root(&mut self, dir: &Path) {
        let Some(list) = self.filters else {
            return;
        };
        let abs = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(dir)
        };
        if self.walk.as_ref().is_some_and(|w| w.root() == abs) {
            return;
        }
        self.walk = Some(FilterWalk::new(list, &abs));
    }

    /// Whether the sender's rules exclude `name`.
    fn excluded(&self, name: &[u8], is_dir: bool) -> bool {
        self.walk
            .as_ref()
            .is_some_and(|w| w.excluded(name, is_dir, Side::Sender))
    }

    fn enter_filter_dir(&mut self, dir: &[u8]) {
        if let Some(w) = self.walk.as_mut() {
            if let Err(e) = w.enter(dir) {
                self.fatal.get_or_insert(e);
            }
        }
    }

    fn leave_filter_dir(&mut self) {
        if let Some(w) = self.walk.as_mut() {
            w.leave();
        }
    }

    /// Add every source argument (send_file_list()).
    pub fn add_sources(&mut self, sources: &[OsString]) {
        for src in sources {
            self.add_source(src.as_bytes());
        }
    }

    fn add_source(&mut self, arg: &[u8]) {
        let opts = self.opts;
        // Trailing-slash rules: "dir/" sends the contents as ".", "dir" sends
        // "dir" itself; ".." and "." also mean "the contents".
        let mut buf = arg.to_vec();
        let dot_dir;
        if buf.is_empty() || buf.ends_with(b"/") {
            if buf == b"./" {
                buf.pop();
            } else {
                buf.push(b'.');
            }
            dot_dir = true;
        } else if buf.ends_with(b"..") && (buf.len() == 2 || buf[buf.len() - 3] == b'/') {
            buf.extend_from_slice(b"/.");
            dot_dir = true;
        } else {
            dot_dir = buf.ends_with(b".") && (buf.len() == 1 || buf[buf.len() - 2] == b'/');
        }
        let (dir, name): (PathBuf, Vec<u8>) = match memchr::memrchr(b'/', &buf) {
            Some(0) => (PathBuf::from("/"), buf[1..].to_vec()),
            Some(i) => (
                PathBuf::from(OsString::from_vec(buf[..i].to_vec())),
                buf[i + 1..].to_vec(),
            ),
            None => (PathBuf::from("."), buf.clone()),
        };
        let name = if name.is_empty() { b".".to_vec() } else { name };
        self.set_root(&dir);
        // "dir/." is the directory itself; keep "." out of local paths so
        // messages name files the way upstream prints them.
        let local = if name == b"." {
            dir.clone()
        } else {
            dir.join(OsString::from_vec(name.clone()))
        };
        let st = match fs::symlink_metadata(&local).and_then(|m| {
            // A dot-dir argument follows a symlink to a directory.
            if dot_dir && m.file_type().is_symlink() {
                fs::metadata(&local)
            } else {
                Ok(m)
            }
        }) {
            Ok(st) => st,
            Err(e) => {
                // A missing argument suppresses deletions only if it might
                // hide an existing file (any error but ENOENT).
                self.io_error |= IoError::GENERAL;
                self.log.log(
                    LogCode::ErrorXfer,
                    &format!(
                        "{}: [sender] link_stat \"{}\" failed: {}\n",
                        self.log.prog,
                        full_fname(&local),
                        strerror(&e)
                    ),
                );
                return;
            }
        };
        // A dot-dir is never excluded.
        if !dot_dir && self.excluded(&name, st.is_dir()) {
            return;
        }
        let xfer_dirs = opts.dirs || opts.recursive;
        if st.is_dir() && !xfer_dirs {
            self.log.log(
                LogCode::Info,
                &format!("skipping directory {}\n", String::from_utf8_lossy(&name)),
            );
            return;
        }
        self.filesystem_dev = st.dev();
        if opts.recursive || (xfer_dirs && dot_dir) {
            let flags = FLAG_TOP_DIR | FLAG_CONTENT_DIR;
            let Some(idx) = self.push_entry(name, local, &st, flags) else {
                return;
            };
            // In incremental mode only a dot-dir's contents join the first
            // list; every other directory gets a list of its own later.
            if st.is_dir() && (!self.inc || dot_dir) {
                let dir_name = self.entries[idx].name.clone();
                self.enter_filter_dir(&dir_name);
                self.send_directory(idx);
                self.leave_filter_dir();
            }
        } else {
            self.push_entry(name, local, &st, 0);
        }
    }

    /// make_file() + the flag bookkeeping of send_file_name().
    fn push_entry(
        &mut self,
        name: Vec<u8>,
        local: PathBuf,
        st: &fs::Metadata,
        mut flags: u32,
    ) -> Option<usize> {
        let opts = self.opts;
        let mode = st.mode();
        let ftype = FileType::from_mode(mode)?;
        if ftype == FileType::Dir
            && opts.one_file_system > 0
            && st.dev() != self.filesystem_dev
            && flags & FLAG_CONTENT_DIR != 0
            && flags & FLAG_TOP_DIR == 0
        {
            if opts.one_file_system > 1 {
                return None;
            }
            flags |= FLAG_MOUNT_DIR;
            flags &= !FLAG_CONTENT_DIR;
        }
        if ftype != FileType::Dir {
            flags &= !(FLAG_CONTENT_DIR | FLAG_TOP_DIR);
        }
        let mut e = FileEntry {
            name,
            mode,
            size: st.size() as i64,
            mtime: st.mtime(),
            mtime_nsec: st.mtime_nsec() as u32,
            uid: st.uid(),
            gid: st.gid(),
            flags,
            dev: st.dev(),
            ino: st.ino(),
            ..FileEntry::default()
        };
        if e.mtime_nsec != 0 {
            e.flags |= FLAG_MOD_NSEC;
        }
        if ftype.is_device() {
            let rdev = st.rdev();
            e.rdev_major = nix::sys::stat::major(rdev) as u32;
            e.rdev_minor = nix::sys::stat::minor(rdev) as u32;
            e.size = 0;
        } else if ftype.is_special() {
            e.size = 0;
        }
        if ftype == FileType::Symlink && opts.links {
            match fs::read_link(&local) {
                Ok(t) => e.link_target = Some(t.into_os_string().into_vec()),
                Err(err) => {
                    self.io_error |= IoError::GENERAL;
                    self.log.log(
                        LogCode::ErrorXfer,
                        &format!(
                            "{}: [sender] readlink \"{}\" failed: {}\n",
                            self.log.prog,
                            full_fname(&local),
                            strerror(&err)
                        ),
                    );
                    return None;
                }
            }
        }
        if let (Some(kind), FileType::Regular) = (self.file_sum, ftype) {
            match open_nofollow(&local).and_then(|f| file_checksum(kind, f)) {
                Ok(sum) => e.checksum = Some(sum),
                Err(_) => e.checksum = Some(vec![0u8; kind.digest_len()]),
            }
        }
        e.local_path = Some(local);
        self.entries.push(e);
        Some(self.entries.len() - 1)
    }

    /// The entries directly inside `dir`, in readdir order (send1extra()).
    pub fn scan_children(&mut self, dir: &FileEntry) -> Vec<FileEntry> {
        if self.filters.is_some() {
            if let Some(root) = source_root(dir) {
                self.set_root(&root);
            }
            self.enter_filter_dir(&dir.name);
        }
        let saved = std::mem::take(&mut self.entries);
        self.entries.push(dir.clone());
        self.send_directory(0);
        let mut out = std::mem::replace(&mut self.entries, saved);
        out.remove(0);
        out
    }

    /// Scan one directory, then recurse into its subdirectories (non-incremental
    /// order of send_directory() + send_if_directory()).
    fn send_directory(&mut self, idx: usize) {
        let opts = self.opts;
        let dir_entry = &self.entries[idx];
        if dir_entry.flags & FLAG_MOUNT_DIR != 0 {
            return;
        }
        let dir_path = dir_entry.local_path.clone().unwrap_or_default();
        let prefix: Vec<u8> = if dir_entry.name == b"." {
            Vec::new()
        } else {
            let mut p = dir_entry.name.clone();
            p.push(b'/');
            p
        };
        let rd = match fs::read_dir(&dir_path) {
            Ok(rd) => rd,
            Err(e) => {
                self.io_error |= IoError::GENERAL;
                self.log.log(
                    LogCode::ErrorXfer,
                    &format!(
                        "{}: [sender] opendir \"{}\" failed: {}\n",
                        self.log.prog,
                        full_fname(&dir_path),
                        strerror(&e)
                    ),
                );
                return;
            }
        };
        let child_flags = if opts.recursive { FLAG_CONTENT_DIR } else { 0 };
        let start = self.entries.len();
        for ent in rd {
            let ent = match ent {
                Ok(ent) => ent,
                Err(e) => {
                    self.io_error |= IoError::GENERAL;
                    self.log.log(
                        LogCode::ErrorXfer,
                        &format!(
                            "{}: [sender] readdir(\"{}\"): {}\n",
                            self.log.prog,
                            full_fname(&dir_path),
                            strerror(&e)
                        ),
                    );
                    break;
                }
            };
            let fname = ent.file_name();
            let local = dir_path.join(&fname);
            let mut name = prefix.clone();
            name.extend_from_slice(fname.as_bytes());
            match fs::symlink_metadata(&local) {
                Ok(st) => {
                    if self.excluded(&name, st.is_dir()) {
                        continue;
                    }
                    self.push_entry(name, local, &st, child_flags);
                }
                // An excluded name is not worth an error (make_file()).
                Err(_) if self.excluded(&name, false) || self.excluded(&name, true) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    self.io_error |= IoError::VANISHED;
                    self.log.log(
                        LogCode::Warning,
                        &format!("file has vanished: \"{}\"\n", full_fname(&local)),
                    );
                }
                Err(e) => {
                    self.io_error |= IoError::GENERAL;
                    self.log.log(
                        LogCode::ErrorXfer,
                        &format!(
                            "{}: [sender] readlink_stat(\"{}\") failed: {}\n",
                            self.log.prog,
                            full_fname(&local),
                            strerror(&e)
                        ),
                    );
                }
            }
        }
        if opts.recursive && !self.inc {
            let end = self.entries.len();
            for i in start..end {
                if self.entries[i].is_dir() && self.entries[i].flags & FLAG_MOUNT_DIR == 0 {
                    let dir_name = self.entries[i].name.clone();
                    self.enter_filter_dir(&dir_name);
                    self.send_directory(i);
                    self.leave_filter_dir();
                }
            }
        }
    }
}

/// The directory a source argument named `dir` from: its local path with
/// the name's components taken off ("." names the root itself).
fn source_root(dir: &FileEntry) -> Option<PathBuf> {
    let local = dir.local_path.as_ref()?;
    if dir.name == b"." {
        return Some(local.clone());
    }
    let mut root = local.as_path();
    for _ in dir.name.split(|&c| c == b'/') {
        root = root.parent()?;
    }
    Some(if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root.to_path_buf()
    })
}

/// Open a regular file without following a symlink swapped in after the scan
/// (the CVE-2024-12747 rule).
pub fn open_nofollow(p: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(p)
}
