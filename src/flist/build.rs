//! Building the sender's file list from the command-line sources (upstream:
//! flist.c send_file_list(), send_directory(), send_if_directory(),
//! make_file()). See protocol-notes/file-list.md.
//!
//! Entries come out in upstream's traversal order (argument order, then each
//! directory's readdir order, then its subdirectories), which is the order
//! they go on the wire; both sides sort afterwards.

use super::entry::*;
use super::links;
use crate::checksum::{file_checksum, ChecksumKind};
use crate::error::{strerror, Error, IoError};
use crate::filter::walk::FilterWalk;
use crate::filter::{FilterList, Side};
use crate::options::Options;
use crate::report::{LogCode, Logger};
use std::ffi::{OsStr, OsString};
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
    /// The protocol in use (implied directories depend on it).
    pub protocol: u32,
    /// The run's rules, when there are any.
    filters: Option<&'a FilterList>,
    /// The rules as they stand in the directory being scanned.
    walk: Option<FilterWalk>,
    /// A fatal error met while walking (a bad rule in a merge file).
    pub fatal: Option<Error>,
    /// `-R`: the last run of implied directories sent without incremental
    /// recursion (upstream's lastpath in send_implied_dirs()).
    last_implied: Vec<u8>,
    /// `-R` with incremental recursion: the implied directory sent last,
    /// as (source root, name, index in `entries` when it is a directory).
    last_inc_implied: Option<(PathBuf, Vec<u8>, Option<usize>)>,
    /// A leading `./` in a relative name: 0 unseen, 1 "." already sent.
    implied_dot_dir: bool,
    /// `--files-from`: the source directory the names are relative to
    /// (upstream changes into it).
    pub base: Option<PathBuf>,
}

/// clean_fname() flags (util1.c).
pub const CFN_KEEP_TRAILING_SLASH: u32 = 1 << 1;
pub const CFN_DROP_TRAILING_DOT_DIR: u32 = 1 << 2;

/// Tidy a path as upstream's clean_fname() does without its dot-dot modes:
/// extra slashes and interior "." components go, a leading "/" stays, an
/// empty result becomes ".".
pub fn clean_fname(name: &[u8], flags: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let anchored = name.first() == Some(&b'/');
    let mut i = 0;
    if anchored {
        out.push(b'/');
        i = 1;
    }
    while i < name.len() {
        if name[i] == b'/' {
            i += 1;
            continue;
        }
        if name[i] == b'.' {
            if name.get(i + 1) == Some(&b'/') {
                i += 2;
                continue;
            }
            if i + 1 == name.len() && flags & CFN_DROP_TRAILING_DOT_DIR != 0 {
                break;
            }
        }
        while i < name.len() {
            let c = name[i];
            out.push(c);
            i += 1;
            if c == b'/' {
                break;
            }
        }
    }
    if out.len() > usize::from(anchored)
        && out.last() == Some(&b'/')
        && flags & CFN_KEEP_TRAILING_SLASH == 0
    {
        out.pop();
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// Whether a name has a ".." component.
pub fn has_dot_dot(name: &[u8]) -> bool {
    name.split(|&c| c == b'/').any(|c| c == b"..")
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
            protocol: 32,
            filters: None,
            walk: None,
            fatal: None,
            last_implied: Vec::new(),
            last_inc_implied: None,
            implied_dot_dir: false,
            base: None,
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
            if self.fatal.is_some() {
                return;
            }
            self.add_name(src.as_bytes());
        }
    }

    /// Every name of a `--files-from` list, read one at a time.
    pub fn add_names_from<R: io::Read>(
        &mut self,
        names: &mut super::files_from::NameReader<R>,
    ) -> crate::error::Result<()> {
        while let Some(name) = names.next_name()? {
            let name = super::files_from::sanitize_path(&name, self.opts.relative);
            self.add_name(&name);
            if self.fatal.is_some() {
                break;
            }
        }
        Ok(())
    }

    /// A directory named by a source, below `--files-from`'s base.
    fn based(&self, dir: PathBuf) -> PathBuf {
        match &self.base {
            Some(b) if dir.as_os_str() == "." => b.clone(),
            Some(b) => b.join(dir),
            None => dir,
        }
    }

    /// One source name, from the command line or a `--files-from` list.
    pub fn add_name(&mut self, arg: &[u8]) {
        if self.opts.relative {
            self.add_source_relative(arg);
        } else {
            self.add_source(arg);
        }
    }

    /// Base flags of the walk (upstream send_file_list()'s `flags`).
    fn base_flags(&self) -> u32 {
        if self.opts.recursive {
            FLAG_CONTENT_DIR
        } else {
            0
        }
    }

    /// Whether implied directories go on the wire: always with protocol 30
    /// and later (flagged, so the receiver can skip them), else only
    /// without `--no-implied-dirs`.
    fn sends_implied_dirs(&self) -> bool {
        self.opts.relative && (self.protocol >= 30 || self.opts.implied_dirs)
    }

    /// A `-R` name (send_file_list() with relative_paths): "dir/./name"
    /// sends "name" from "dir", anything else keeps its whole path.
    fn add_source_relative(&mut self, arg: &[u8]) {
        let cut = memchr::memmem::find(arg, b"/./");
        let (dir, mut rest): (PathBuf, &[u8]) = match cut {
            Some(0) => (PathBuf::from("/"), &arg[3..]),
            Some(p) => (
                PathBuf::from(OsString::from_vec(clean_fname(&arg[..p], 0))),
                &arg[p + 3..],
            ),
            None => (PathBuf::from("."), arg),
        };
        let dir = self.based(dir);
        if cut.is_some() {
            while rest.first() == Some(&b'/') {
                rest = &rest[1..];
            }
        }
        // A leading "./" puts "." itself in the list, once.
        let dot_first = rest.len() > 2 && rest.starts_with(b"./") && !self.implied_dot_dir;
        let mut name = clean_fname(rest, CFN_KEEP_TRAILING_SLASH | CFN_DROP_TRAILING_DOT_DIR);
        let mut name_type = NameType::Normal;
        if name.len() == 1 {
            if name == b"/" {
                name = b"/.".to_vec();
                name_type = NameType::DotDir;
            } else if name == b"." {
                name_type = NameType::DotDir;
            }
        } else if name.last() == Some(&b'/') {
            name.pop();
            name_type = if name == b"." {
                NameType::DotDir
            } else {
                NameType::SlashEnding
            };
        }
        if has_dot_dot(&name) {
            self.fatal.get_or_insert(Error::bare(
                crate::error::ExitCode::SYNTAX,
                format!(
                    "found \"..\" dir in relative path: {}",
                    String::from_utf8_lossy(&name)
                ),
            ));
            return;
        }
        self.set_root(&dir);
        if dot_first {
            self.implied_dot_dir = true;
            if let Ok(st) = fs::symlink_metadata(&dir) {
                let flags = (self.base_flags() | FLAG_IMPLIED_DIR) & !FLAG_CONTENT_DIR;
                self.push_entry(b".".to_vec(), dir.clone(), &st, flags);
            }
        }
        let local = if name == b"." {
            dir.clone()
        } else {
            join_name(&dir, &name)
        };
        let follow = name_type != NameType::Normal;
        let st = match links::top_stat(self.opts, &local, &name, follow, &mut |m| self.symsafe(m)) {
            Ok(st) => Some(st),
            Err(e) => {
                if !self.missing_arg(&local, &e) {
                    return;
                }
                None
            }
        };
        let is_dir = st.as_ref().is_some_and(|m| m.is_dir());
        if name_type != NameType::DotDir && st.is_some() && self.excluded(&name, is_dir) {
            return;
        }
        let opts = self.opts;
        let xfer_dirs = opts.dirs || opts.recursive;
        if is_dir && !xfer_dirs {
            self.log.log(
                LogCode::Info,
                &format!("skipping directory {}\n", String::from_utf8_lossy(&name)),
            );
            return;
        }
        if self.inc {
            if let Some(p) = memchr::memchr(b'/', &name[1.min(name.len())..]).map(|p| p + 1) {
                let nt = if st.is_none() {
                    NameType::Missing
                } else {
                    name_type
                };
                self.implied_dirs_inc(&dir, &name, p, nt);
                return;
            }
        } else if self.sends_implied_dirs() {
            if let Some(p) = memchr::memrchr(b'/', &name).filter(|&p| p != 0) {
                self.implied_dirs_flat(&dir, &name, p);
            }
        }
        let Some(st) = st else {
            self.push_missing(name, local);
            return;
        };
        self.filesystem_dev = st.dev();
        let dot_dir = name_type != NameType::Normal;
        if opts.recursive || (xfer_dirs && dot_dir) {
            let flags = FLAG_TOP_DIR | FLAG_CONTENT_DIR | self.base_flags();
            let Some(idx) = self.push_entry(name, local, &st, flags) else {
                return;
            };
            if st.is_dir() && (!self.inc || name_type == NameType::DotDir) {
                let dir_name = self.entries[idx].name.clone();
                self.enter_filter_dir(&dir_name);
                self.send_directory(idx);
                self.leave_filter_dir();
            }
        } else {
            self.push_entry(name, local, &st, self.base_flags());
        }
    }

    /// A source that could not be stat()ed: an error, or with
    /// `--ignore-missing-args`/`--delete-missing-args` (ENOENT only) not.
    /// Returns true when the name goes on as a missing entry.
    fn missing_arg(&mut self, local: &Path, e: &io::Error) -> bool {
        let enoent = e.kind() == io::ErrorKind::NotFound;
        if enoent && self.opts.missing_args == 1 {
            return false;
        }
        if enoent && self.opts.missing_args == 2 {
            return true;
        }
        // Upstream inhibits deletions only for errors other than ENOENT
        // but still ends with 23; gensync's exit code follows io_error.
        self.io_error |= IoError::GENERAL;
        self.log.log(
            LogCode::ErrorXfer,
            &format!(
                "{}: [sender] link_stat \"{}\" failed: {}\n",
                self.log.prog,
                full_fname(local),
                strerror(e)
            ),
        );
        false
    }

    /// `--delete-missing-args`: a name sent with mode 0.
    fn push_missing(&mut self, name: Vec<u8>, local: PathBuf) {
        self.entries.push(FileEntry {
            name,
            local_path: Some(local),
            ..FileEntry::default()
        });
    }

    /// An implied directory of a relative name: stat()ed through symlinks,
    /// never filtered, flagged FLAG_IMPLIED_DIR.
    fn push_implied(&mut self, dir: &Path, name: &[u8]) -> Option<usize> {
        let local = join_name(dir, name);
        let st = match fs::metadata(&local) {
            Ok(st) => st,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.io_error |= IoError::VANISHED;
                self.log.log(
                    LogCode::Warning,
                    &format!("file has vanished: \"{}\"\n", full_fname(&local)),
                );
                return None;
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    self.io_error |= IoError::GENERAL;
                }
                self.log.log(
                    LogCode::ErrorXfer,
                    &format!(
                        "{}: [sender] link_stat \"{}\" failed: {}\n",
                        self.log.prog,
                        full_fname(&local),
                        strerror(&e)
                    ),
                );
                return None;
            }
        };
        let flags = (self.base_flags() | FLAG_IMPLIED_DIR) & !(FLAG_TOP_DIR | FLAG_CONTENT_DIR);
        self.push_entry(name.to_vec(), local, &st, flags)
    }

    /// send_implied_dirs() without incremental recursion: every directory
    /// above `name[..limit]` that the previous name did not already send.
    fn implied_dirs_flat(&mut self, dir: &Path, name: &[u8], limit: usize) {
        let last = std::mem::take(&mut self.last_implied);
        let mut start = 0;
        let mut i = 0;
        let mut all_sent = false;
        loop {
            if i == limit {
                all_sent = matches!(last.get(i), None | Some(b'/'));
                break;
            }
            if last.get(i) != Some(&name[i]) {
                break;
            }
            if name[i] == b'/' {
                start = i;
            }
            i += 1;
        }
        if all_sent {
            self.last_implied = last;
            return;
        }
        let mut from = start + 1;
        while let Some(s) = memchr::memchr(b'/', &name[from.min(limit)..limit]) {
            let s = from + s;
            self.push_implied(dir, &name[..s]);
            from = s + 1;
        }
        self.push_implied(dir, &name[..limit]);
        self.last_implied = name[..limit].to_vec();
    }

    /// send_implied_dirs() with incremental recursion: send the directory
    /// `name[..limit]` (unless it was just sent) and leave the rest of the
    /// name with it, for its own list.
    fn implied_dirs_inc(&mut self, dir: &Path, name: &[u8], limit: usize, name_type: NameType) {
        let same = self
            .last_inc_implied
            .as_ref()
            .is_some_and(|(d, n, _)| d == dir && n.as_slice() == &name[..limit]);
        if !same {
            let idx = self
                .push_implied(dir, &name[..limit])
                .filter(|&i| self.entries[i].is_dir());
            self.last_inc_implied = Some((dir.to_path_buf(), name[..limit].to_vec(), idx));
        }
        if let Some((_, _, Some(idx))) = self.last_inc_implied {
            self.entries[idx]
                .rel_names
                .push((name[limit + 1..].to_vec(), name_type));
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
        let dir = self.based(dir);
        let name = if name.is_empty() { b".".to_vec() } else { name };
        self.set_root(&dir);
        // "dir/." is the directory itself; keep "." out of local paths so
        // messages name files the way upstream prints them.
        let local = if name == b"." {
            dir.clone()
        } else {
            dir.join(OsString::from_vec(name.clone()))
        };
        // A dot-dir argument follows a symlink to a directory.
        let st = match links::top_stat(opts, &local, &name, dot_dir, &mut |m| self.symsafe(m)) {
            Ok(st) => st,
            Err(e) => {
                if self.missing_arg(&local, &e) {
                    self.push_missing(name, local);
                }
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
        // `--chmod` on the sending side (make_file()).
        let mode = match &opts.chmod {
            Some(c) if ftype != FileType::Symlink => c.tweak(mode),
            _ => mode,
        };
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
            nlink: st.nlink(),
            atime: if opts.atimes > 0 && ftype != FileType::Dir {
                st.atime()
            } else {
                0
            },
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
                Ok(t) => {
                    let mut t = t.into_os_string().into_vec();
                    links::unmunge(opts, &mut t);
                    e.link_target = Some(t);
                }
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
            match links::open_source(opts, &local).and_then(|f| file_checksum(kind, f)) {
                Ok(sum) => e.checksum = Some(sum),
                Err(_) => e.checksum = Some(vec![0u8; kind.digest_len()]),
            }
        }
        e.local_path = Some(local);
        self.entries.push(e);
        Some(self.entries.len() - 1)
    }

    /// `--copy-unsafe-links` names the links it follows with `-v`.
    fn symsafe(&self, msg: String) {
        if self.opts.verbose >= 1 && !self.opts.quiet {
            self.log.log(LogCode::Info, &msg);
        }
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
        let mut me = dir.clone();
        me.rel_names = Vec::new();
        self.entries.push(me);
        self.last_inc_implied = None;
        if dir.flags & FLAG_CONTENT_DIR != 0 {
            self.send_directory(0);
        }
        if !dir.rel_names.is_empty() {
            self.send_rel_names(dir);
        }
        self.last_inc_implied = None;
        let mut out = std::mem::replace(&mut self.entries, saved);
        out.remove(0);
        out
    }

    /// The relative names left with an implied directory (send1extra()).
    fn send_rel_names(&mut self, dir: &FileEntry) {
        let Some(dir_local) = dir.local_path.clone() else {
            return;
        };
        let Some(root) = source_root(dir) else {
            return;
        };
        for (rel, name_type) in &dir.rel_names {
            let mut name = dir.name.clone();
            name.push(b'/');
            let dlen = name.len();
            name.extend_from_slice(rel);
            if let Some(s) = memchr::memchr(b'/', rel) {
                self.implied_dirs_inc(&root, &name, dlen + s, *name_type);
                continue;
            }
            let local = dir_local.join(OsStr::from_bytes(rel));
            let flags = FLAG_TOP_DIR | FLAG_CONTENT_DIR;
            if *name_type == NameType::Missing {
                self.push_missing(name, local);
                continue;
            }
            let st = if *name_type != NameType::Normal {
                fs::metadata(&local)
            } else {
                fs::symlink_metadata(&local)
            };
            match st {
                Ok(st) => {
                    self.push_entry(name, local, &st, flags);
                }
                Err(e) => {
                    self.missing_arg(&local, &e);
                }
            }
        }
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
            let mut said = None;
            let st = links::readlink_stat(opts, &local, &name, &mut |m| said = Some(m));
            if let Some(m) = said {
                if !self.excluded(&name, false) {
                    self.symsafe(m);
                }
            }
            match st {
                Ok(st) => {
                    if self.excluded(&name, st.is_dir()) {
                        continue;
                    }
                    self.push_entry(name, local, &st, child_flags);
                }
                // An excluded name is not worth an error (make_file()).
                Err(_) if self.excluded(&name, false) || self.excluded(&name, true) => {}
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound && links::is_dangling(opts, &local) =>
                {
                    self.io_error |= IoError::GENERAL;
                    self.log.log(
                        LogCode::ErrorXfer,
                        &format!(
                            "symlink has no referent: \"{}\"\n",
                            full_fname(local.strip_prefix("./").unwrap_or(&local))
                        ),
                    );
                }
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

/// `dir/name`, without a leading "./" when `dir` is the cwd (messages name
/// files as upstream does after changing into the directory).
fn join_name(dir: &Path, name: &[u8]) -> PathBuf {
    if dir.as_os_str() == "." {
        PathBuf::from(OsStr::from_bytes(name))
    } else {
        dir.join(OsStr::from_bytes(name))
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
    let name = dir.name.strip_prefix(b"/").unwrap_or(&dir.name);
    for _ in name.split(|&c| c == b'/') {
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
