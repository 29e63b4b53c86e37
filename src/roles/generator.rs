//! The generator: walks the file list against the destination, decides what
//! to transfer, sends requests with block sums, deletes extraneous files and
//! drives the phases (upstream: generator.c generate_files(),
//! recv_generator(), itemize(), quick_check_ok(); main.c get_local_name()).
//! See protocol-notes/phases-and-redo.md.
//!
//! The generator owns the socket writer. It hears from the receiver thread
//! only through `RecvEvent`s, which it drains between entries and while it
//! waits at phase changes.

pub use super::dest::{get_local_name, Dest};
use super::sender::drain_msgs;
use super::Ctx;
use crate::checksum::file_checksum;
use crate::delta::signature::{generate_sums_from_reader, sum_sizes_sqroot};
use crate::error::{strerror, Error, IoError, Result};
use crate::filter::walk::FilterWalk;
use crate::flist::build::{full_fname, open_nofollow};
use crate::flist::entry::*;
use crate::flist::FileLists;
use crate::fsops::delete::{delete_in_dir, delete_item, DelCtx, DelError, DelRet, Deleted};
use crate::fsops::{dest_mode, same_time, set_file_attrs, AttrOpts};
use crate::options::DeleteMode;
use crate::report::LogCode;
use crate::wire::int::*;
use crate::wire::item;
use crate::wire::mux::{MsgCode, MuxWriter};
use crate::wire::ndx::{NdxCodec, NDX_DONE};
use crate::wire::sums::{write_block_sum, write_sum_head, SumHead};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

#[path = "hlink.rs"]
mod hlink;

/// What the receiver thread tells the generator (upstream: the error pipe).
#[derive(Debug)]
pub enum RecvEvent {
    /// An internal NDX_DONE: the receiver finished a phase.
    Done,
    /// Whole-file checksum mismatch: request this ndx again (MSG_REDO).
    Redo(i32),
    /// The receiver failed; the run is over.
    Fatal(Error),
    /// Incremental recursion: a directory's list arrived (entries sorted,
    /// dir_flist index of its directory).
    NewList(Vec<FileEntry>, i32),
    /// Incremental recursion: no more lists.
    FlistEof,
    /// A requested file is finished (MSG_SUCCESS) or will not come (MSG_NO_SEND).
    Finished(i32),
    /// The receiver has the file (MSG_SUCCESS): finished, and with
    /// `--remove-source-files` the sender hears of it.
    Success(i32),
}

/// Deletion counters (sent as NDX_DEL_STATS for protocol >= 31).
#[derive(Debug, Default, Clone, Copy)]
pub struct DelStats {
    pub files: i64,
    pub dirs: i64,
    pub symlinks: i64,
    pub devices: i64,
    pub specials: i64,
}

impl DelStats {
    pub fn as_array(&self) -> [i64; 5] {
        [
            self.files,
            self.dirs,
            self.symlinks,
            self.devices,
            self.specials,
        ]
    }
}

pub struct Generator<'a, W: Write> {
    ctx: &'a Ctx,
    pub lists: FileLists,
    /// ndx_start of the list being walked; None once the walk is over.
    cur: Option<i32>,
    /// Directories created early with mode 0700 (FLAG_DIR_CREATED).
    dir_created: HashSet<Vec<u8>>,
    dest: Dest,
    w: &'a mut MuxWriter<W>,
    events: &'a Receiver<RecvEvent>,
    msgs: Option<&'a Receiver<(MsgCode, Vec<u8>)>>,
    codec: NdxCodec,
    attr: AttrOpts,
    dflt_perms: u32,
    /// Destination is missing in a dry run: everything is "new".
    dry_missing_all: bool,
    dry_missing_dir: Option<Vec<u8>>,
    skip_dir: Option<Vec<u8>>,
    msgdone: u32,
    redo_queue: Vec<i32>,
    pub del_stats: DelStats,
    io_error_warned: bool,
    /// Directories whose permissions were widened to u+rwx while filling
    /// them, with the mode to restore.
    need_perm_fix: HashMap<Vec<u8>, u32>,
    /// Children of each content directory, for deletions.
    children: HashMap<Vec<u8>, HashSet<Vec<u8>>>,
    delete_mode: DeleteMode,
    /// Receiver-side rules for deletion, rooted at the destination.
    del_rules: Option<FilterWalk>,
    /// `--max-delete`: deletions still allowed.
    del_budget: Option<u64>,
    /// Deletions refused by `--max-delete`.
    skipped_deletes: u64,
    /// `--delete-delay`: found during the walk, done at the end.
    delayed: Vec<(PathBuf, Vec<u8>, u32)>,
    /// `-R --no-implied-dirs`: the parent checked last (parent_dirname).
    last_parent: Option<Vec<u8>>,
    /// The directory generated last (prior_dir_file), and every directory
    /// name of the list, built on first need (no incremental recursion).
    prior_dir: Vec<u8>,
    dir_names: Option<HashSet<Vec<u8>>>,
    /// `-H`: hard-link groups (hlink.rs).
    hlinks: Option<hlink::HlinkState>,
}

/// What a deletion pass did, in order.
enum DelEvent {
    Deleted(Vec<u8>, u32),
    Error(DelError),
}

fn parent_of(name: &[u8]) -> &[u8] {
    match memchr::memrchr(b'/', name) {
        Some(i) => &name[..i],
        None => b".",
    }
}

fn is_below(name: &[u8], dir: &[u8]) -> bool {
    dir == b"." && name != b"."
        || (name.len() > dir.len() && name.starts_with(dir) && name[dir.len()] == b'/')
}

impl<'a, W: Write> Generator<'a, W> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ctx: &'a Ctx,
        lists: FileLists,
        dest: Dest,
        dry_missing_all: bool,
        w: &'a mut MuxWriter<W>,
        events: &'a Receiver<RecvEvent>,
        msgs: Option<&'a Receiver<(MsgCode, Vec<u8>)>>,
    ) -> Self {
        let opts = &ctx.opts;
        let am_root = opts.am_root();
        let delete_mode = match opts.delete_mode {
            DeleteMode::Auto if ctx.protocol() < 30 => DeleteMode::Before,
            DeleteMode::Auto => DeleteMode::During,
            m => m,
        };
        let mut dir_created = HashSet::new();
        if dest.root_created {
            dir_created.insert(b".".to_vec());
        }
        let mut lists = lists;
        let hlinks = (opts.hard_links > 0 && !opts.list_only).then(|| {
            let mut h = hlink::HlinkState::default();
            let inc = lists.inc;
            for l in lists.lists.iter_mut() {
                // The first list was checked against its own start already.
                let _ = h.match_list(l, inc);
            }
            h
        });
        Generator {
            ctx,
            cur: lists.lists.front().map(|l| l.ndx_start),
            lists,
            dir_created,
            dest,
            w,
            events,
            msgs,
            codec: NdxCodec::new(ctx.protocol()),
            attr: AttrOpts {
                perms: opts.perms,
                times: opts.times,
                owner: opts.owner,
                group: opts.group,
                omit_dir_times: opts.omit_dir_times,
                atimes: opts.atimes > 0,
                am_root,
                modify_window: opts.modify_window,
                dry_run: opts.dry_run,
            },
            dflt_perms: 0o777 & !crate::fsops::current_umask(),
            dry_missing_all,
            dry_missing_dir: None,
            skip_dir: None,
            msgdone: 0,
            redo_queue: Vec::new(),
            del_stats: DelStats::default(),
            io_error_warned: false,
            need_perm_fix: HashMap::new(),
            children: HashMap::new(),
            del_rules: None,
            del_budget: opts.max_delete.map(|n| n.max(0) as u64),
            skipped_deletes: 0,
            delayed: Vec::new(),
            delete_mode,
            last_parent: None,
            prior_dir: Vec::new(),
            dir_names: None,
            hlinks,
        }
    }

    /// The deletion rules, set up on first use (the destination exists by
    /// then).
    fn del_ctx(&mut self) -> DelCtx<'_> {
        if self.del_rules.is_none() && !self.ctx.filters.is_empty() {
            self.del_rules = Some(FilterWalk::new(&self.ctx.filters, &self.dest.base));
        }
        DelCtx {
            dry_run: self.ctx.opts.dry_run,
            protocol: self.ctx.protocol(),
            rules: self.del_rules.as_mut(),
            budget: self.del_budget,
            skipped: 0,
            make_room: false,
            defer: None,
            backup: super::backup::for_dest(self.ctx, &self.dest, &self.attr),
        }
    }

    fn proto(&self) -> u32 {
        self.ctx.protocol()
    }

    /// generate_files(): `--append` always sends sums (a sum head).
    fn whole_file(&self) -> bool {
        self.ctx.opts.whole_file.unwrap_or(false) && self.ctx.opts.append_mode == 0
    }

    fn log(&self, code: LogCode, text: &str) {
        self.ctx.log.log(code, text);
    }

    /// Drain receiver events without blocking; forward queued messages.
    fn poll_events(&mut self, block: bool) -> Result<()> {
        drain_msgs(self.w, self.msgs)?;
        // Sifting through up-to-date files or waiting on the receiver sends
        // nothing; an empty data frame tells the sender we are alive
        // (io.c maybe_send_keepalive()).
        if crate::session::liveness::keepalive_due() {
            self.w.send_keepalive()?;
        }
        if block {
            // About to wait for the receiver: like upstream's perform_io(),
            // write out what is pending first.
            self.w.flush()?;
        }
        loop {
            let ev = if block {
                match self.events.recv_timeout(Duration::from_millis(20)) {
                    Ok(ev) => ev,
                    Err(RecvTimeoutError::Timeout) => {
                        drain_msgs(self.w, self.msgs)?;
                        self.w.flush()?;
                        return Ok(());
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(Error::stream("receiver thread ended unexpectedly"))
                    }
                }
            } else {
                match self.events.try_recv() {
                    Ok(ev) => ev,
                    Err(_) => return Ok(()),
                }
            };
            match ev {
                RecvEvent::Done => self.msgdone += 1,
                RecvEvent::Redo(ndx) => self.redo_queue.push(ndx),
                RecvEvent::Fatal(e) => return Err(e),
                RecvEvent::NewList(entries, parent) => {
                    if self.delete_mode != DeleteMode::Off {
                        self.index_children(&entries);
                    }
                    self.lists.add(entries, parent);
                    if let Some(h) = self.hlinks.as_mut() {
                        if let Some(l) = self.lists.lists.back_mut() {
                            h.match_list(l, true)?;
                        }
                    }
                }
                RecvEvent::FlistEof => self.lists.eof = true,
                RecvEvent::Finished(ndx) => {
                    if let Some(h) = self.hlinks.as_mut() {
                        h.finished.push(ndx);
                    }
                    if let Some(pos) = self.lists.list_pos(ndx).filter(|_| self.lists.inc) {
                        self.lists.lists[pos].in_progress -= 1;
                    }
                }
                RecvEvent::Success(ndx) => {
                    if let Some(h) = self.hlinks.as_mut() {
                        h.finished.push(ndx);
                    }
                    if self.lists.inc {
                        if let Some(pos) = self.lists.list_pos(ndx) {
                            self.lists.lists[pos].in_progress -= 1;
                        }
                    }
                    self.send_success(ndx, 2)?;
                }
            }
            drain_msgs(self.w, self.msgs)?;
            if block {
                return Ok(());
            }
        }
    }

    /// Wait until the receiver has sent `n` internal NDX_DONEs, serving
    /// redo requests and finishing lists meanwhile.
    fn wait_for_done(&mut self, n: u32, serve_redo: bool) -> Result<()> {
        self.w.flush()?;
        loop {
            self.poll_events(false)?;
            self.check_finished(serve_redo)?;
            if self.msgdone >= n {
                return Ok(());
            }
            self.poll_events(true)?;
        }
    }

    /// generator.c check_for_finished_files(): run queued redos, then send
    /// NDX_DONE for every finished list the walk has left behind.
    fn check_finished(&mut self, check_redo: bool) -> Result<()> {
        loop {
            self.finish_hlinks()?;
            if check_redo {
                if let Some(ndx) = self.redo_queue.pop() {
                    self.recv_generator(ndx, true)?;
                    continue;
                }
            }
            if !self.lists.inc {
                return Ok(());
            }
            let Some(first) = self.lists.lists.front() else {
                return Ok(());
            };
            if Some(first.ndx_start) == self.cur || first.in_progress > 0 {
                return Ok(());
            }
            self.codec.write(self.w, NDX_DONE)?;
            let parent = first.parent;
            self.lists.free_first();
            if parent >= 0 {
                if let Some(d) = self.lists.dir_flist.get(parent as usize).cloned() {
                    self.touch_up_dir(&d);
                }
            }
        }
    }

    /// Remember which names each directory keeps, for deletions.
    fn index_children(&mut self, entries: &[FileEntry]) {
        for e in entries {
            if e.flags & FLAG_CLEARED != 0 || e.name == b"." {
                continue;
            }
            let parent = parent_of(&e.name).to_vec();
            self.children
                .entry(parent)
                .or_default()
                .insert(e.basename().to_vec());
        }
    }

    /// generator.c generate_files(). Returns after the last phase; the caller
    /// writes the goodbye.
    pub fn generate_files(&mut self) -> Result<()> {
        let proto = self.proto();
        let deleting = self.delete_mode != DeleteMode::Off;
        if deleting {
            let all: Vec<FileEntry> = self.lists.iter().cloned().collect();
            self.index_children(&all);
        }
        if self.delete_mode == DeleteMode::Before && self.lists.total_entries > 0 {
            self.do_delete_pass()?;
        }
        if self.ctx.out.debug_flist >= 1 {
            let whole = self.whole_file();
            self.log(
                LogCode::Info,
                if whole {
                    "delta-transmission disabled for local transfer or --whole-file\n"
                } else {
                    "delta-transmission enabled\n"
                },
            );
        }
        let inc = self.lists.inc;
        let mut first_entry = true;
        while let Some(start) = self.cur {
            let Some(pos) = self.lists.lists.iter().position(|l| l.ndx_start == start) else {
                break;
            };
            let (len, parent) = {
                let l = &self.lists.lists[pos];
                (l.entries.len() as i32, l.parent)
            };
            if inc && self.hlinks.is_some() {
                // -H looks ahead so that a group's last member is known
                // before its first is handled (MIN_FILECNT_LOOKAHEAD / 2).
                while !self.lists.eof
                    && self
                        .lists
                        .lists
                        .iter()
                        .map(|l| l.entries.len())
                        .sum::<usize>()
                        < 500
                {
                    self.poll_events(true)?;
                }
            }
            if inc && parent >= 0 {
                // The list's own directory, in full (ndx_start - 1).
                self.recv_generator(start - 1, false)?;
            }
            for k in 0..len {
                self.recv_generator(start + k, false)?;
                self.hlink_after(start + k)?;
                self.poll_events(false)?;
                self.check_finished(false)?;
                // Upstream's first maybe_flush_socket() fires once the
                // file-list EOF is known (its last-output time starts at 0),
                // so without incremental recursion the first entry's itemize
                // goes out at once; later data waits for a full buffer or a
                // wait for input. Messages never wait. Matching this keeps
                // the client's line order identical.
                if first_entry {
                    if self.lists.eof {
                        self.w.flush()?;
                    }
                    first_entry = false;
                }
            }
            if !inc {
                self.codec.write(self.w, NDX_DONE)?;
                self.cur = None;
                break;
            }
            // Wait until the next list is here or none will come.
            let next = loop {
                self.check_finished(true)?;
                let next = self
                    .lists
                    .lists
                    .iter()
                    .find(|l| l.ndx_start > start)
                    .map(|l| l.ndx_start);
                if next.is_some() || self.lists.eof {
                    break next;
                }
                self.poll_events(true)?;
            };
            self.cur = next;
        }
        self.cur = None;
        // Phase 1: redo requests until the receiver reaches phase 1.
        self.wait_for_done(1, true)?;
        let delay_updates = false;
        let early_delay_done = !delay_updates;
        let early_delete_done = !matches!(self.delete_mode, DeleteMode::Delay | DeleteMode::After);
        self.codec.write(self.w, NDX_DONE)?;
        if proto >= 29 && early_delay_done {
            self.codec.write(self.w, NDX_DONE)?;
        }
        if proto >= 31 && early_delete_done {
            if deleting {
                self.write_del_stats()?;
            }
            if early_delay_done {
                self.codec.write(self.w, NDX_DONE)?;
            }
        }
        self.wait_for_done(2, false)?;
        if proto >= 29 {
            if !early_delay_done {
                self.codec.write(self.w, NDX_DONE)?;
                if proto >= 31 && early_delete_done {
                    self.codec.write(self.w, NDX_DONE)?;
                }
            }
            self.wait_for_done(3, false)?;
        }
        if self.delete_mode == DeleteMode::Delay {
            self.do_delayed_deletions()?;
        }
        if self.delete_mode == DeleteMode::After
            && self.lists.total_entries > 0
            && self.dest.solo.is_none()
        {
            self.do_delete_pass()?;
        }
        if self.ctx.opts.max_delete.is_some() && self.skipped_deletes > 0 {
            self.log(
                LogCode::Warning,
                &format!(
                    "Deletions stopped due to --max-delete limit ({} skipped)\n",
                    self.skipped_deletes
                ),
            );
            self.ctx.shared.add_io_error(IoError::DEL_LIMIT);
        }
        if proto >= 31 {
            if !early_delete_done {
                if deleting {
                    self.write_del_stats()?;
                }
                self.codec.write(self.w, NDX_DONE)?;
            }
            self.wait_for_done(4, false)?;
        }
        if !inc {
            self.touch_up_dirs();
        } else if self.delete_mode == DeleteMode::Delay {
            // The delayed deletions touched directories whose times were
            // already set; every directory gets its time again (upstream
            // runs touch_up_dirs() over dir_flist then).
            let dirs: Vec<FileEntry> = self.lists.dir_flist.clone();
            for d in dirs {
                self.touch_up_dir(&d);
            }
        }
        Ok(())
    }

    /// generator.c send_msg_success(): tell the sender it may remove its
    /// file, when `--remove-source-files` is at least `min` (1 = only the
    /// current name, 2 = the old `--remove-sent-files` too).
    fn send_success(&mut self, ndx: i32, min: u8) -> Result<()> {
        let rsf = self.ctx.opts.remove_source_files;
        if rsf == 0 || rsf > min || self.ctx.opts.dry_run {
            return Ok(());
        }
        let mut payload = ndx.to_le_bytes().to_vec();
        if self.ctx.out.local_server {
            // A local sender also gets the destination's dev/ino, so that
            // it never removes the file it was copied onto.
            let (dev, ino) = self
                .lists
                .get(ndx)
                .and_then(|e| fs::metadata(self.dest.path(&e.name)).ok())
                .map(|m| (m.dev(), m.ino()))
                .unwrap_or((0, 0));
            payload.extend_from_slice(&dev.to_le_bytes());
            payload.extend_from_slice(&ino.to_le_bytes());
        }
        self.w.send_msg(MsgCode::Success, &payload)?;
        Ok(())
    }

    /// The final "goodbye" NDX_DONE (main.c do_recv(), protocol >= 24).
    pub fn write_goodbye(&mut self) -> Result<()> {
        if self.proto() >= 24 {
            self.codec.write(self.w, NDX_DONE)?;
        }
        drain_msgs(self.w, self.msgs)?;
        self.w.flush()?;
        Ok(())
    }

    fn write_del_stats(&mut self) -> Result<()> {
        let v = self.del_stats.as_array();
        super::sender::write_del_stats(self.w, &mut self.codec, &v)?;
        Ok(())
    }

    fn do_delete_pass(&mut self) -> Result<()> {
        if self.dry_missing_all {
            return Ok(());
        }
        let dirs: Vec<Vec<u8>> = self
            .lists
            .iter()
            .filter(|e| {
                e.flags & FLAG_CLEARED == 0 && e.flags & FLAG_CONTENT_DIR != 0 && e.is_dir()
            })
            .map(|e| e.name.clone())
            .collect();
        for name in dirs {
            let path = self.dest.path(&name);
            match fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => self.delete_in(&name, &path)?,
                _ => continue,
            }
        }
        Ok(())
    }

    /// Run one deletion with the run's rules and --max-delete budget, then
    /// report what it did in the order it happened, so messages and
    /// "deleting" lines interleave as upstream's do.
    fn deleting<R>(
        &mut self,
        run: impl FnOnce(&mut DelCtx, &mut dyn FnMut(Deleted), &mut dyn FnMut(DelError)) -> R,
    ) -> Result<R> {
        let events: RefCell<Vec<DelEvent>> = RefCell::new(Vec::new());
        let mut dc = self.del_ctx();
        let out = run(
            &mut dc,
            &mut |d: Deleted| {
                events
                    .borrow_mut()
                    .push(DelEvent::Deleted(d.name.to_vec(), d.mode))
            },
            &mut |e| events.borrow_mut().push(DelEvent::Error(e)),
        );
        let (budget, skipped, deferred) = (dc.budget, dc.skipped, dc.defer.take());
        self.del_budget = budget;
        self.skipped_deletes += skipped;
        self.delayed.extend(deferred.unwrap_or_default());
        self.replay_deletions(events.into_inner())?;
        Ok(out)
    }

    fn replay_deletions(&mut self, events: Vec<DelEvent>) -> Result<()> {
        for ev in events {
            match ev {
                DelEvent::Deleted(n, mode) => self.note_deleted(&n, mode)?,
                DelEvent::Error(e) => self.report_del_error(e),
            }
        }
        Ok(())
    }

    /// generator.c do_delayed_deletions(): what `--delete-delay` found
    /// during the walk, in the order it was found.
    fn do_delayed_deletions(&mut self) -> Result<()> {
        let items = std::mem::take(&mut self.delayed);
        self.deleting(|dc, on_delete, on_error| {
            // The walk is over: only the merge files of the directories
            // being emptied are in effect now, as upstream's stack is then.
            if let Some(w) = dc.rules.as_deref_mut() {
                w.reset();
            }
            for (path, rel, mode) in &items {
                delete_item(path, rel, *mode, dc, on_delete, on_error);
            }
        })
    }

    /// generator.c delete_in_dir().
    fn delete_in(&mut self, name: &[u8], path: &Path) -> Result<()> {
        if self.ctx.shared.io_error() & IoError::GENERAL != 0 && !self.ctx.opts.ignore_errors {
            if !self.io_error_warned {
                self.log(
                    LogCode::Info,
                    "IO error encountered -- skipping file deletion\n",
                );
                self.io_error_warned = true;
            }
            return Ok(());
        }
        // Owned: the deletion below borrows the generator.
        let keep_owned = self.children.get(name).cloned().unwrap_or_default();
        let keep: HashSet<&[u8]> = keep_owned.iter().map(Vec::as_slice).collect();
        let prefix = if name == b"." {
            Vec::new()
        } else {
            let mut p = name.to_vec();
            p.push(b'/');
            p
        };
        let delay = self.delete_mode == DeleteMode::Delay;
        let res = self.deleting(|dc, on_delete, on_error| {
            if delay {
                dc.defer = Some(Vec::new());
            }
            if let Some(w) = dc.rules.as_deref_mut() {
                // As for the sender's walk, a bad rule file is fatal.
                w.enter(name)?;
            }
            Ok::<_, Error>(delete_in_dir(path, &prefix, &keep, dc, on_delete, on_error))
        })??;
        if let Err(e) = res {
            self.ctx.shared.add_io_error(IoError::GENERAL);
            self.log(
                LogCode::ErrorXfer,
                &format!(
                    "{}: opendir {} failed: {}\n",
                    self.ctx.log.prog,
                    full_fname(path),
                    strerror(&e)
                ),
            );
        }
        Ok(())
    }

    fn report_del_error(&self, e: DelError) {
        match e {
            DelError::NotEmpty(n) => self.log(
                LogCode::Info,
                &format!(
                    "cannot delete non-empty directory: {}\n",
                    String::from_utf8_lossy(&n)
                ),
            ),
            DelError::Failed { what, name, err } => self.log(
                LogCode::ErrorXfer,
                &format!(
                    "{}: [generator] delete_file: {}({}) failed: {}\n",
                    self.ctx.log.prog,
                    what,
                    String::from_utf8_lossy(&name),
                    strerror(&err)
                ),
            ),
            DelError::Info(text) => self.log(LogCode::Info, &text),
        }
    }

    /// delete.c log_delete() + the counters.
    fn note_deleted(&mut self, name: &[u8], mode: u32) -> Result<()> {
        match FileType::from_mode(mode) {
            Some(FileType::Dir) => self.del_stats.dirs += 1,
            Some(FileType::Symlink) => self.del_stats.symlinks += 1,
            Some(t) if t.is_device() => self.del_stats.devices += 1,
            Some(t) if t.is_special() => self.del_stats.specials += 1,
            _ => self.del_stats.files += 1,
        }
        if self.ctx.am_server && self.proto() >= 29 {
            let mut payload = name.to_vec();
            if mode & S_IFMT == S_IFDIR {
                payload.push(0);
            }
            // Queued messages (a "cannot delete" line) were said first.
            drain_msgs(self.w, self.msgs)?;
            self.w.send_msg(MsgCode::Deleted, &payload)?;
        } else {
            // A client, or an old-protocol server, formats the line itself
            // (log.c log_delete()); a server's line travels as MSG_INFO.
            self.ctx.out.log_delete(&self.ctx.log, name, mode);
        }
        Ok(())
    }

    /// Remove whatever is in the way of a new item (delete_item() with
    /// DEL_MAKE_ROOM). The item itself goes unreported, but what a directory
    /// held is logged and counted like any deletion; without --delete or
    /// --force a non-empty directory is not emptied (no DEL_RECURSE).
    fn make_room(&mut self, path: &Path, name: &[u8], mode: u32, for_what: &str) -> bool {
        let failed = |g: &mut Self| {
            g.log(
                LogCode::ErrorXfer,
                &format!(
                    "could not make way for new {for_what}: {}\n",
                    crate::report::safe_name(name)
                ),
            );
            false
        };
        // generator.c del_opts: --force recurses as --delete does.
        let recurse = self.delete_mode != DeleteMode::Off || self.ctx.opts.force;
        if mode & S_IFMT == S_IFDIR && !recurse {
            let empty = fs::read_dir(path)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty {
                self.report_del_error(DelError::NotEmpty(name.to_vec()));
                return failed(self);
            }
        }
        // The item in the way is neither limited by --max-delete nor
        // logged, but what is inside a directory in the way is both, and
        // the rules protect it as in a deletion pass.
        let ok = self
            .deleting(|dc, on_delete, on_error| {
                dc.make_room = true;
                delete_item(path, name, mode, dc, on_delete, on_error) == DelRet::Success
            })
            .unwrap_or(false);
        if !ok {
            return failed(self);
        }
        ok
    }

    /// generator.c itemize(): compute the change bits and, when worth it,
    /// send ndx + iflags to the sender.
    fn itemize(
        &mut self,
        file: &FileEntry,
        ndx: i32,
        st: Option<&fs::Metadata>,
        iflags: u32,
    ) -> Result<()> {
        self.itemize_x(file, ndx, st, iflags, None)
    }

    /// itemize() with the name that follows ITEM_XNAME_FOLLOWS (a hard
    /// link's leader; empty when the link was already there).
    fn itemize_x(
        &mut self,
        file: &FileEntry,
        ndx: i32,
        st: Option<&fs::Metadata>,
        mut iflags: u32,
        xname: Option<&[u8]>,
    ) -> Result<()> {
        let opts = &self.ctx.opts;
        if let Some(st) = st {
            let ft = file.file_type();
            let keep_time = if !opts.times {
                false
            } else if ft == Some(FileType::Dir) {
                !opts.omit_dir_times
            } else if ft == Some(FileType::Symlink) {
                !opts.omit_link_times
            } else {
                true
            };
            if file.is_reg() && file.size != st.size() as i64 {
                iflags |= item::REPORT_SIZE;
            }
            if opts.atimes > 0
                && !matches!(ft, Some(FileType::Dir | FileType::Symlink))
                && st.atime() != file.atime
            {
                iflags |= item::REPORT_ATIME;
            }
            let differs = !same_time(
                st.mtime(),
                st.mtime_nsec() as u32,
                file.mtime,
                file.mtime_nsec,
                opts.modify_window,
            );
            let xname_ok =
                iflags & item::XNAME_FOLLOWS == 0 || xname.is_some_and(|x| !x.is_empty());
            if keep_time && differs
                || !keep_time && iflags & (item::TRANSFER | item::LOCAL_CHANGE) != 0 && xname_ok
            {
                iflags |= item::REPORT_TIME;
            }
            // `-E` without `-p` reports only a change of executability.
            let perms_differ = if opts.perms {
                st.mode() & 0o7777 != file.mode & 0o7777
            } else {
                opts.executability && (st.mode() & 0o111 != 0) != (file.mode & 0o111 != 0)
            };
            if ft != Some(FileType::Symlink) && perms_differ {
                iflags |= item::REPORT_PERMS;
            }
            if opts.owner && self.attr.am_root && file.uid != st.uid() {
                iflags |= item::REPORT_OWNER;
            }
            if opts.group && file.gid != st.gid() {
                iflags |= item::REPORT_GROUP;
            }
        } else {
            iflags |= item::IS_NEW;
        }
        iflags &= 0xffff;
        let send = iflags & item::SIGNIFICANT != 0
            || self.ctx.out.info_name >= 2
            || self.ctx.out.has_i > 1
            || xname.is_some_and(|x| !x.is_empty());
        if send && self.proto() >= 29 {
            if ndx >= 0 {
                self.codec.write(self.w, ndx)?;
            }
            write_shortint(self.w, iflags as u16)?;
            if iflags & item::XNAME_FOLLOWS != 0 {
                write_vstring(self.w, xname.unwrap_or(b""))?;
            }
        } else if send && ndx >= 0 && !self.ctx.am_server && self.ctx.out.has_i > 0 {
            // Below protocol 29 nothing but transfers travels: a client
            // generator logs its own items (generator.c itemize()).
            let x = xname.filter(|x| !x.is_empty());
            self.ctx.out.log_item(&self.ctx.log, file, iflags, x);
        }
        Ok(())
    }

    /// generator.c recv_generator() for one entry.
    fn recv_generator(&mut self, ndx_i: i32, redo: bool) -> Result<()> {
        let Some(file) = self.lists.get(ndx_i).cloned() else {
            return Err(Error::protocol(format!(
                "Invalid file index {ndx_i} [generator]"
            )));
        };
        if file.flags & FLAG_CLEARED != 0 {
            return Ok(());
        }
        let opts = self.ctx.opts.clone();
        // Incremental recursion: a directory met inside its parent's list
        // is only pre-created; it is handled in full at its own list.
        let parent_slot = self
            .lists
            .list_pos(ndx_i)
            .is_some_and(|p| ndx_i < self.lists.lists[p].ndx_start);
        let dir_early = self.lists.inc && file.is_dir() && !parent_slot;
        if opts.list_only {
            // generator.c list_file_entry(): a listing instead of a transfer.
            if dir_early
                || (file.is_dir() && !opts.implied_dirs && file.flags & FLAG_IMPLIED_DIR != 0)
            {
                return Ok(());
            }
            let line = if file.mode == 0 && opts.missing_args == 2 {
                crate::report::list::missing_line(&file.name, opts.human_readable)
            } else {
                crate::report::list::list_line(
                    &file,
                    opts.human_readable,
                    opts.links,
                    &crate::report::localtime::utc_offset,
                )
            };
            let mut line = line;
            if opts.atimes > 0 && file.mode != 0 {
                // `-U` adds an access-time column after the mtime (blank
                // for directories), as list_file_entry() prints it.
                let p = crate::report::list::size_width(opts.human_readable) + 31;
                let at = if file.is_dir() {
                    String::new()
                } else {
                    let off = crate::report::localtime::utc_offset(file.atime);
                    crate::report::numbers::timestring(file.atime, off)
                };
                let col = format!(" {at:>19}");
                line.splice(p.min(line.len())..p.min(line.len()), col.bytes());
            }
            line.push(b'\n');
            let line =
                crate::report::messages::escape_output(&line, crate::report::output_charset());
            self.ctx.log.log_bytes(LogCode::Info, &line);
            return Ok(());
        }
        if let Some(sd) = &self.skip_dir {
            if is_below(&file.name, sd) {
                return Ok(());
            }
            self.skip_dir = None;
        }
        let fname = self.dest.path(&file.name);
        let is_dir = file.is_dir();
        if let Some(d) = &self.dry_missing_dir {
            if !is_below(&file.name, d) {
                self.dry_missing_dir = None;
            }
        }
        // Without incremental recursion every parent must be in the list
        // (recv_generator()): a sender cannot slip names in below a
        // directory it never sent.
        if !self.lists.inc {
            let dn = parent_of(&file.name);
            if dn != b"." && dn != self.prior_dir.as_slice() {
                let names = self.dir_names.get_or_insert_with(|| {
                    self.lists
                        .iter()
                        .filter(|e| e.is_dir() && e.flags & FLAG_CLEARED == 0)
                        .map(|e| e.name.clone())
                        .collect()
                });
                if !names.contains(dn) {
                    return Err(Error::bare(
                        crate::error::ExitCode::PROTOCOL,
                        format!(
                            "ABORTING due to invalid path from sender: {}/{}",
                            String::from_utf8_lossy(dn),
                            String::from_utf8_lossy(file.basename())
                        ),
                    ));
                }
            }
            if is_dir {
                self.prior_dir = file.name.clone();
            }
        }
        // `-R --no-implied-dirs`: the parent directories the sender left
        // out are made on the way, silently (make_path()).
        if opts.relative
            && !opts.implied_dirs
            && file.mode != 0
            && !(is_dir && file.flags & FLAG_IMPLIED_DIR != 0)
        {
            let parent = parent_of(&file.name).to_vec();
            if self.last_parent.as_deref() != Some(parent.as_slice()) {
                let ppath = self.dest.path(&parent);
                if !self.dry_missing_all && fs::metadata(&ppath).is_err() {
                    if opts.dry_run {
                        self.dry_missing_dir = Some(parent.clone());
                    } else {
                        self.make_parents(&ppath);
                    }
                }
                self.last_parent = Some(parent);
            }
        }
        let st = if self.dry_missing_all || self.dry_missing_dir.is_some() {
            None
        } else {
            // `-K`: a symlink to a directory stands for the directory.
            match fs::symlink_metadata(&fname).map(|m| {
                match m.file_type().is_symlink() && opts.keep_dirlinks && is_dir {
                    true => fs::metadata(&fname)
                        .ok()
                        .filter(|t| t.is_dir())
                        .unwrap_or(m),
                    false => m,
                }
            }) {
                Ok(m) => Some(m),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => {
                    self.log(
                        LogCode::ErrorXfer,
                        &format!(
                            "{}: [generator] recv_generator: failed to stat \"{}\": {}\n",
                            self.ctx.log.prog,
                            full_fname(&fname),
                            strerror(&e)
                        ),
                    );
                    return Ok(());
                }
            }
        };
        let stype = st.as_ref().and_then(|m| FileType::from_mode(m.mode()));
        if opts.missing_args == 2 && file.mode == 0 {
            // `--delete-missing-args`: the sender had no such name.
            if let Some(m) = &st {
                let excluded =
                    self.ctx
                        .filters
                        .check(&file.name, m.is_dir(), crate::filter::Side::Receiver)
                        == crate::filter::Decision::Excluded;
                if !excluded {
                    self.delete_missing(&fname, &file.name, m.mode())?;
                }
            }
            return Ok(());
        }
        if opts.existing && st.is_none() && !redo {
            if is_dir {
                self.skip_dir = Some(file.name.clone());
            }
            if self.ctx.out.info_skip >= 1 {
                self.log(
                    LogCode::Info,
                    &format!(
                        "not creating new {} \"{}\"\n",
                        if is_dir { "directory" } else { "file" },
                        String::from_utf8_lossy(&file.name)
                    ),
                );
            }
            return Ok(());
        }
        if opts.ignore_existing
            && st.is_some()
            && !redo
            && !(is_dir && stype == Some(FileType::Dir))
        {
            if self.ctx.out.info_skip >= 1 {
                self.log(
                    LogCode::Info,
                    &format!("{} exists\n", String::from_utf8_lossy(&file.name)),
                );
            }
            return Ok(());
        }
        if is_dir && !opts.implied_dirs && file.flags & FLAG_IMPLIED_DIR != 0 {
            return Ok(());
        }
        if dir_early {
            return self.gen_dir_early(&file, &fname, st.as_ref());
        }
        if is_dir {
            return self.gen_dir(ndx_i, file, fname, st);
        }
        let mut file = file;
        if !opts.perms {
            let exists = st.is_some() && stype != Some(FileType::Dir);
            let stat_mode = st.as_ref().map(|m| m.mode()).unwrap_or(0);
            file.mode = dest_mode(file.mode, stat_mode, self.dflt_perms, exists);
            if exists && opts.executability && file.is_reg() {
                // `-E`: executable where the sender's file is (rsync.c
                // dest_mode()).
                let sent = self.lists.get(ndx_i).map(|e| e.mode).unwrap_or(0);
                if sent & 0o111 == 0 {
                    file.mode &= !0o111;
                } else if stat_mode & 0o111 == 0 {
                    file.mode |= (file.mode & 0o444) >> 2;
                }
            }
            if let Some(e) = self.lists.get_mut(ndx_i) {
                e.mode = file.mode;
            }
        }
        let hlinked = self.hlinks.is_some() && file.flags & FLAG_HLINKED != 0;
        if hlinked && self.hard_link_check(ndx_i, &fname, st.as_ref())? {
            return Ok(());
        }
        let ftype = file.file_type().unwrap_or(FileType::Regular);
        if ftype == FileType::Symlink && opts.links {
            let target = file.link_target.as_deref().unwrap_or(b"");
            if opts.safe_links && crate::flist::links::unsafe_symlink(target, &file.name) {
                if self.ctx.out.info_name >= 1 {
                    self.log(
                        LogCode::Info,
                        &format!(
                            "ignoring unsafe symlink \"{}\" -> \"{}\"\n",
                            String::from_utf8_lossy(&file.name),
                            String::from_utf8_lossy(target)
                        ),
                    );
                }
                return Ok(());
            }
            // `-J`: symlink times are left alone.
            let times = (self.attr.times, self.attr.atimes);
            self.attr.times &= !opts.omit_link_times;
            self.attr.atimes &= !opts.omit_link_times;
            let r = self.gen_symlink(ndx_i, &file, &fname, st, stype);
            (self.attr.times, self.attr.atimes) = times;
            r?;
            return self.finish_hard_link(ndx_i);
        }
        if (ftype.is_device() && opts.devices && self.attr.am_root)
            || (ftype.is_special() && opts.specials)
        {
            self.gen_special(ndx_i, &file, &fname, st, stype)?;
            return self.finish_hard_link(ndx_i);
        }
        if ftype != FileType::Regular {
            if self.ctx.out.info_nonreg >= 1 {
                let shown = &file.name;
                self.log(
                    LogCode::Info,
                    &format!(
                        "skipping non-regular file \"{}\"\n",
                        String::from_utf8_lossy(shown)
                    ),
                );
            }
            return Ok(());
        }
        if !redo && super::limits::outside_size_limits(self.ctx, &file) {
            return Ok(());
        }
        if opts.update && !redo {
            if let (Some(m), Some(FileType::Regular)) = (&st, stype) {
                if file.mtime - m.mtime() < opts.modify_window {
                    if self.ctx.out.info_skip >= 1 {
                        self.log(
                            LogCode::Info,
                            &format!("{} is newer\n", String::from_utf8_lossy(&file.name)),
                        );
                    }
                    return Ok(());
                }
            }
        }
        let mut st = st;
        if let (Some(m), Some(t)) = (&st, stype) {
            if t != FileType::Regular {
                if !self.make_room(&fname, &file.name, m.mode(), "regular file") {
                    return Ok(());
                }
                st = None;
            }
        }
        // A partial file from an interrupted run is the basis instead.
        let partial = opts
            .partial_dir
            .as_deref()
            .and_then(|pd| crate::fsops::partial::existing_partial(&fname, pd));
        if let Some(m) = &st {
            if !redo && self.quick_check_ok(&file, &fname, m) {
                let mut restat = None;
                let mut extra = 0;
                if let (Some((pp, _)), Some(pd)) = (&partial, opts.partial_dir.as_deref()) {
                    let _ = fs::remove_file(pp);
                    crate::fsops::partial::remove_partial_dir(pp, pd);
                }
                match set_file_attrs(&fname, &file, Some(m), &self.attr, opts.checksum) {
                    Ok(u) => {
                        // rsync.c set_file_attrs() re-stats after a chown of
                        // a setuid/setgid file and itemizes what it saw then:
                        // the new owner, and the bits the chown cleared
                        // (setuid; setgid when group-executable).
                        let owned = crate::fsops::UPDATED_OWNER | crate::fsops::UPDATED_GROUP;
                        if u & owned != 0 && m.mode() & 0o6000 != 0 {
                            restat = fs::symlink_metadata(&fname).ok();
                            let sgid = if m.mode() & 0o010 != 0 { 0o2000 } else { 0 };
                            let cleared = m.mode() & !(0o4000 | sgid);
                            if opts.perms && cleared & 0o7777 != file.mode & 0o7777 {
                                extra = item::REPORT_PERMS;
                            }
                        }
                        self.report_attrs(&file, u)
                    }
                    Err(e) => self.attr_error(&fname, e),
                }
                self.itemize(&file, ndx_i, Some(restat.as_ref().unwrap_or(m)), extra)?;
                self.send_success(ndx_i, 1)?;
                return self.finish_hard_link(ndx_i);
            }
            // --append: what is there already is at least as long.
            let append = if redo {
                0
            } else {
                super::sender::append_mode(self.ctx)
            };
            if append > 0 && m.size() as i64 >= file.size && partial.is_none() {
                return Ok(());
            }
        }
        if st.is_none() && hlinked && self.hlink_defer(ndx_i) {
            return Ok(());
        }
        // Request the file (notify_others). A list is finished only when
        // every file requested from it is (cur_flist->in_progress).
        if self.lists.inc && !opts.dry_run && !redo {
            if let Some(p) = self.lists.list_pos(ndx_i) {
                self.lists.lists[p].in_progress += 1;
            }
        }
        if hlinked {
            self.hlink_sending(ndx_i);
        }
        self.codec.write(self.w, ndx_i)?;
        let mut iflags = item::TRANSFER;
        if opts.checksum {
            iflags |= item::REPORT_CHANGE;
        }
        if partial.is_some() && self.proto() >= 29 {
            iflags |= item::BASIS_TYPE_FOLLOWS;
        }
        self.itemize(&file, -1, st.as_ref(), iflags)?;
        if iflags & item::BASIS_TYPE_FOLLOWS != 0 {
            write_byte(self.w, super::sender::FNAMECMP_PARTIAL_DIR)?;
        }
        if opts.dry_run {
            return self.finish_hard_link(ndx_i);
        }
        let whole_file = self.whole_file();
        let (basis, basis_st) = match &partial {
            Some((p, m)) => (p.clone(), Some(m)),
            None => (fname.clone(), st.as_ref()),
        };
        let basis_len = basis_st.map(|m| m.size() as i64).unwrap_or(0);
        if basis_st.is_none() || whole_file || basis_len <= 0 {
            write_sum_head(self.w, &SumHead::default(), self.proto())?;
            return Ok(());
        }
        self.send_sums(&basis, basis_len, redo)
    }

    /// delete_item() for a `--delete-missing-args` name: recursive only with
    /// `--delete` or `--force`, reported like any deletion.
    fn delete_missing(&mut self, path: &Path, name: &[u8], mode: u32) -> Result<()> {
        if mode & S_IFMT == S_IFDIR && self.delete_mode == DeleteMode::Off && !self.ctx.opts.force {
            let empty = fs::read_dir(path)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !empty {
                self.report_del_error(DelError::NotEmpty(name.to_vec()));
                return Ok(());
            }
        }
        self.deleting(|dc, on_delete, on_error| {
            delete_item(path, name, mode, dc, on_delete, on_error);
        })
    }

    /// util.c make_path(): create every missing directory of `path`.
    fn make_parents(&self, path: &Path) {
        if let Err(e) = fs::create_dir_all(path) {
            self.log(
                LogCode::ErrorXfer,
                &format!(
                    "{}: [generator] recv_generator: mkdir \"{}\" failed: {}\n",
                    self.ctx.log.prog,
                    full_fname(path),
                    strerror(&e)
                ),
            );
        }
    }

    /// generate_and_send_sums() for a basis file, streamed block by block.
    fn send_sums(&mut self, fname: &Path, len: i64, redo: bool) -> Result<()> {
        let neg = self.ctx.neg.clone();
        let basis = match open_nofollow(fname) {
            Ok(f) => f,
            Err(e) => {
                self.log(
                    LogCode::Error,
                    &format!(
                        "{}: [generator] failed to open \"{}\", continuing: {}\n",
                        self.ctx.log.prog,
                        full_fname(fname),
                        strerror(&e)
                    ),
                );
                write_sum_head(self.w, &SumHead::default(), self.proto())?;
                return Ok(());
            }
        };
        let head = sum_sizes_sqroot(
            len,
            self.ctx.opts.block_size,
            self.proto(),
            neg.xfer_sum.digest_len(),
            redo,
        );
        if head.count < 0 {
            self.log(
                LogCode::Warning,
                &format!(
                    "WARNING: file is too large for checksum sending: {}\n",
                    fname.display()
                ),
            );
            write_sum_head(self.w, &SumHead::default(), self.proto())?;
            return Ok(());
        }
        write_sum_head(self.w, &head, self.proto())?;
        // --append: the head alone says how much the receiver has.
        if !redo && super::sender::append_mode(self.ctx) > 0 {
            return Ok(());
        }
        let proto_w = &mut *self.w;
        generate_sums_from_reader(
            std::io::BufReader::with_capacity(256 * 1024, basis),
            &head,
            neg.xfer_sum,
            neg.seed,
            neg.proper_seed_order,
            &mut |s| write_block_sum(proto_w, s, head.s2length).map_err(crate::wire::mux::to_io),
        )
        .map_err(Error::from)?;
        Ok(())
    }

    /// generator.c quick_check_ok() for regular files.
    fn quick_check_ok(&self, file: &FileEntry, fname: &Path, st: &fs::Metadata) -> bool {
        let opts = &self.ctx.opts;
        if st.size() as i64 != file.size {
            return false;
        }
        if opts.checksum {
            let sum = open_nofollow(fname).and_then(|f| file_checksum(self.ctx.neg.file_sum, f));
            return match (sum, &file.checksum) {
                (Ok(s), Some(theirs)) => s[..] == theirs[..s.len().min(theirs.len())],
                _ => false,
            };
        }
        if opts.size_only {
            return true;
        }
        if opts.ignore_times {
            return false;
        }
        same_time(
            st.mtime(),
            st.mtime_nsec() as u32,
            file.mtime,
            file.mtime_nsec,
            opts.modify_window,
        )
    }

    /// Below protocol 29 no itemize notices travel, so the generator names
    /// what it creates itself (recv_generator() `rprintf(code, ...)`), when
    /// it is a server or a client that is not itemizing.
    fn name_line(&self, parts: &[&[u8]]) {
        if self.proto() < 29
            && self.ctx.out.info_name >= 1
            && (self.ctx.am_server || self.ctx.out.has_i == 0)
        {
            // A remote server sends names raw: the printing client
            // escapes them (see report::format_item()).
            let raw = self.ctx.am_server && !self.ctx.out.local_server;
            let mut line = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                // Parts alternate: a name, then literal text.
                if i % 2 == 0 && !raw {
                    line.extend_from_slice(&crate::report::messages::escape_output(
                        p,
                        crate::report::output_charset(),
                    ));
                } else {
                    line.extend_from_slice(p);
                }
            }
            self.ctx.log.log_bytes(LogCode::Info, &line);
        }
    }

    /// rsync.c set_file_attrs() with ATTRS_REPORT: at -vv, when not
    /// itemizing, say whether an unchanged item was touched.
    fn report_attrs(&self, file: &FileEntry, updated: u32) {
        if self.ctx.out.info_name < 2 || self.ctx.out.has_i > 0 {
            return;
        }
        let name = crate::report::safe_name(&file.name);
        let line = if updated != 0 {
            format!("{name}\n")
        } else {
            format!("{name} is uptodate\n")
        };
        self.log(LogCode::Client, &line);
    }

    fn attr_error(&self, fname: &Path, e: crate::fsops::AttrError) {
        let what = match e.what {
            "utimensat" => "failed to set times on".to_string(),
            "chmod" => "failed to set permissions on".to_string(),
            w => w.to_string(),
        };
        self.log(
            LogCode::ErrorXfer,
            &format!(
                "{}: [generator] {} \"{}\": {}\n",
                self.ctx.log.prog,
                what,
                full_fname(fname),
                strerror(&e.err)
            ),
        );
    }

    /// A directory inside its parent's list (incremental recursion): create
    /// it early, private, so the parent's time can be set (recv_generator()
    /// with is_dir < 0).
    fn gen_dir_early(
        &mut self,
        file: &FileEntry,
        fname: &Path,
        st: Option<&fs::Metadata>,
    ) -> Result<()> {
        let opts = &self.ctx.opts;
        if !opts.times || opts.omit_dir_times {
            return Ok(());
        }
        if let Some(m) = st {
            if m.is_dir() || !self.make_room(fname, &file.name, m.mode(), "directory") {
                return Ok(());
            }
        }
        if self.dry_missing_all || self.dry_missing_dir.is_some() {
            return Ok(());
        }
        if opts.dry_run || fs::create_dir(fname).is_ok() {
            if !opts.dry_run {
                let _ = fs::set_permissions(fname, fs::Permissions::from_mode(0o700));
            }
            self.dir_created.insert(file.name.clone());
        }
        Ok(())
    }

    fn gen_dir(
        &mut self,
        ndx: i32,
        file: FileEntry,
        fname: PathBuf,
        st: Option<fs::Metadata>,
    ) -> Result<()> {
        let opts = self.ctx.opts.clone();
        let mut st = st;
        if let Some(m) = &st {
            if !m.is_dir() {
                if !self.make_room(&fname, &file.name, m.mode(), "directory") {
                    self.log(
                        LogCode::Error,
                        "*** Skipping any contents from this failed directory ***\n",
                    );
                    self.skip_dir = Some(file.name.clone());
                    return Ok(());
                }
                st = None;
            }
        }
        if opts.dry_run && st.is_none() && self.dry_missing_dir.is_none() && !self.dry_missing_all {
            self.dry_missing_dir = Some(file.name.clone());
        }
        let mut file = file;
        let created_early = self.dir_created.contains(&file.name);
        if !opts.perms {
            file.mode = dest_mode(
                file.mode,
                st.as_ref().map(|m| m.mode()).unwrap_or(0),
                self.dflt_perms,
                st.is_some() && !created_early,
            );
            if let Some(e) = self.lists.get_mut(ndx) {
                e.mode = file.mode;
            }
        }
        let item_st = if created_early { None } else { st.as_ref() };
        self.itemize(
            &file,
            ndx,
            item_st,
            if item_st.is_none() {
                item::LOCAL_CHANGE
            } else {
                0
            },
        )?;
        if st.is_none() && !opts.dry_run {
            let mut made = fs::create_dir(&fname);
            if opts.relative && matches!(&made, Err(e) if e.kind() == io::ErrorKind::NotFound) {
                if let Some(parent) = fname.parent() {
                    if fs::create_dir_all(parent).is_ok() {
                        made = fs::create_dir(&fname);
                    }
                }
            }
            if let Err(e) = made {
                if e.kind() != io::ErrorKind::AlreadyExists {
                    self.log(
                        LogCode::ErrorXfer,
                        &format!(
                            "{}: [generator] recv_generator: mkdir \"{}\" failed: {}\n",
                            self.ctx.log.prog,
                            full_fname(&fname),
                            strerror(&e)
                        ),
                    );
                    self.log(
                        LogCode::Error,
                        "*** Skipping any contents from this failed directory ***\n",
                    );
                    self.skip_dir = Some(file.name.clone());
                    return Ok(());
                }
            }
        }
        let attrs = if opts.dry_run {
            Ok(1)
        } else {
            set_file_attrs(
                &fname,
                &file,
                if created_early { None } else { st.as_ref() },
                &self.attr,
                false,
            )
        };
        match attrs {
            Ok(u) if u != 0 => self.name_line(&[&file.name, b"/\n"]),
            Ok(_) => {}
            Err(e) => self.attr_error(&fname, e),
        }
        if !opts.dry_run {
            // Keep the directory writable while filling it; touch_up_dirs()
            // restores the real mode at the end.
            if !self.attr.am_root && file.mode & 0o700 != 0o700 {
                let _ = fs::set_permissions(
                    &fname,
                    fs::Permissions::from_mode((file.mode | 0o700) & 0o7777),
                );
                self.need_perm_fix.insert(file.name.clone(), file.mode);
            }
        }
        if matches!(self.delete_mode, DeleteMode::During | DeleteMode::Delay)
            && file.flags & FLAG_CONTENT_DIR != 0
            && st.is_some()
        {
            let name = file.name.clone();
            self.delete_in(&name, &fname)?;
        }
        Ok(())
    }

    fn gen_symlink(
        &mut self,
        ndx: i32,
        file: &FileEntry,
        fname: &Path,
        st: Option<fs::Metadata>,
        stype: Option<FileType>,
    ) -> Result<()> {
        let target = file.link_target.clone().unwrap_or_default();
        if let (Some(m), Some(FileType::Symlink)) = (&st, stype) {
            if fs::read_link(fname)
                .map(|t| t.as_os_str().as_bytes() == &target[..])
                .unwrap_or(false)
            {
                match set_file_attrs(fname, file, Some(m), &self.attr, false) {
                    Ok(u) => self.report_attrs(file, u),
                    Err(e) => self.attr_error(fname, e),
                }
                self.itemize(file, ndx, Some(m), 0)?;
                return self.send_success(ndx, 1);
            }
        }
        // A directory in the way goes as in any make-room deletion (also in
        // a dry run, which only reports): only with --delete/--force when it
        // is not empty, its contents logged (and backed up with -b).
        let mut existing = st.clone();
        if let Some(m) = existing.as_ref().filter(|m| m.is_dir()) {
            if !self.make_room(fname, &file.name, m.mode(), "symlink") {
                return Ok(());
            }
            existing = None;
        }
        if !super::backup::before_replace(self.ctx, &self.dest, &self.attr, &file.name, &existing) {
            return Ok(());
        }
        if !self.ctx.opts.dry_run {
            if let Err(e) = atomic_symlink(&target, fname, existing.as_ref()) {
                self.log(
                    LogCode::ErrorXfer,
                    &format!(
                        "{}: [generator] symlink \"{}\" -> \"{}\" failed: {}\n",
                        self.ctx.log.prog,
                        full_fname(fname),
                        String::from_utf8_lossy(&target),
                        strerror(&e)
                    ),
                );
                return Ok(());
            }
            if let Err(e) = set_file_attrs(fname, file, None, &self.attr, false) {
                self.attr_error(fname, e);
            }
        }
        let st_for_item = if stype == Some(FileType::Symlink) {
            st.as_ref()
        } else {
            None
        };
        self.name_line(&[&file.name, b" -> ", &target, b"\n"]);
        self.itemize(
            file,
            ndx,
            st_for_item,
            item::LOCAL_CHANGE | item::REPORT_CHANGE,
        )?;
        // One of the items the old --remove-sent-files removed as well.
        self.send_success(ndx, 2)
    }

    fn gen_special(
        &mut self,
        ndx: i32,
        file: &FileEntry,
        fname: &Path,
        st: Option<fs::Metadata>,
        stype: Option<FileType>,
    ) -> Result<()> {
        let ftype = file.file_type();
        if let Some(m) = &st {
            if stype == ftype {
                let same = if ftype.is_some_and(|t| t.is_device()) {
                    let rdev = m.rdev();
                    nix::sys::stat::major(rdev) as u32 == file.rdev_major
                        && nix::sys::stat::minor(rdev) as u32 == file.rdev_minor
                } else {
                    true
                };
                if same {
                    match set_file_attrs(fname, file, Some(m), &self.attr, false) {
                        Ok(u) => self.report_attrs(file, u),
                        Err(e) => self.attr_error(fname, e),
                    }
                    self.itemize(file, ndx, Some(m), 0)?;
                    return self.send_success(ndx, 1);
                }
            }
        }
        // Making room also in a dry run, which only reports (atomic_create()
        // runs in a dry run too).
        if let Some(m) = &st {
            if !self.make_room(
                fname,
                &file.name,
                m.mode(),
                if ftype.is_some_and(|t| t.is_device()) {
                    "device file"
                } else {
                    "special file"
                },
            ) {
                return Ok(());
            }
        }
        if !self.ctx.opts.dry_run {
            let kind = nix::sys::stat::SFlag::from_bits_truncate(file.mode & S_IFMT);
            let perm = nix::sys::stat::Mode::from_bits_truncate(file.mode & 0o7777);
            let dev = nix::sys::stat::makedev(file.rdev_major as u64, file.rdev_minor as u64);
            if let Err(e) = nix::sys::stat::mknod(fname, kind, perm, dev) {
                self.log(
                    LogCode::ErrorXfer,
                    &format!(
                        "{}: [generator] mknod \"{}\" failed: {}\n",
                        self.ctx.log.prog,
                        full_fname(fname),
                        strerror(&io::Error::from(e))
                    ),
                );
                return Ok(());
            }
            if let Err(e) = set_file_attrs(fname, file, None, &self.attr, false) {
                self.attr_error(fname, e);
            }
        }
        let st_for_item = if stype == ftype { st.as_ref() } else { None };
        self.name_line(&[&file.name, b"\n"]);
        self.itemize(
            file,
            ndx,
            st_for_item,
            item::LOCAL_CHANGE | item::REPORT_CHANGE,
        )?;
        self.send_success(ndx, 1)
    }

    /// generator.c touch_up_dirs() for one directory: its real mode and
    /// time, after its contents were written.
    fn touch_up_dir(&mut self, e: &FileEntry) {
        if self.ctx.opts.dry_run || e.flags & FLAG_CLEARED != 0 || !e.is_dir() {
            return;
        }
        if !self.ctx.opts.implied_dirs && e.flags & FLAG_IMPLIED_DIR != 0 {
            return;
        }
        let p = self.dest.path(&e.name);
        if let Some(mode) = self.need_perm_fix.remove(&e.name) {
            let _ = fs::set_permissions(&p, fs::Permissions::from_mode(mode & 0o7777));
        }
        if !self.ctx.opts.times || self.ctx.opts.omit_dir_times {
            return;
        }
        if let Ok(m) = fs::symlink_metadata(&p) {
            // generator.c touch_up_dirs() uses mtime_differs(): the
            // --modify-window comparison, so a peer that sends no
            // nanoseconds (protocol < 31) leaves an equal-second time alone.
            let differs = !same_time(
                m.mtime(),
                m.mtime_nsec() as u32,
                e.mtime,
                e.mtime_nsec,
                self.ctx.opts.modify_window,
            );
            // `-K`: a kept symlink gets the directory's time itself, as
            // upstream's non-following stat and set-times do.
            let kept = self.ctx.opts.keep_dirlinks && m.file_type().is_symlink();
            if (m.is_dir() || kept) && differs {
                let _ = set_file_attrs(&p, e, Some(&m), &self.attr, true);
            }
        }
    }

    /// touch_up_dirs() over every directory (without incremental recursion).
    fn touch_up_dirs(&mut self) {
        let dirs: Vec<FileEntry> = self.lists.iter().filter(|e| e.is_dir()).cloned().collect();
        for d in dirs {
            self.touch_up_dir(&d);
        }
    }
}

/// Create a symlink, replacing whatever is there through a rename so the
/// name is never missing (syscall.c atomic_create()).
fn atomic_symlink(target: &[u8], path: &Path, existing: Option<&fs::Metadata>) -> io::Result<()> {
    let t = std::ffi::OsStr::from_bytes(target);
    match existing {
        None => std::os::unix::fs::symlink(t, path),
        Some(m) if m.is_dir() => {
            let mut errs = Vec::new();
            delete_item(
                path,
                b"",
                m.mode(),
                &mut DelCtx::plain(false, 32),
                &mut |_| {},
                &mut |e| errs.push(e),
            );
            std::os::unix::fs::symlink(t, path)
        }
        Some(_) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let mut n = 0u32;
            loop {
                let tmp = dir.join(format!(".gensync-link.{}.{n}", std::process::id()));
                match std::os::unix::fs::symlink(t, &tmp) {
                    Ok(()) => {
                        return fs::rename(&tmp, path).inspect_err(|_| {
                            let _ = fs::remove_file(&tmp);
                        })
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}
