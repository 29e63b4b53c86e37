//! The receiver: rebuilds files from the sender's tokens into temporary
//! files, verifies them and moves them into place (upstream: receiver.c
//! recv_files(), receive_data(); rsync.c finish_transfer()).
//! See protocol-notes/sums-and-tokens.md and phases-and-redo.md.
//!
//! Owns the socket reader. Never blocks on the generator: everything it has
//! to say goes into an unbounded channel.

use super::flist_recv::ListReceiver;
use super::generator::{Dest, RecvEvent};
use super::sender::{
    append_mode, append_prefix_len, inplace_partial, FNAMECMP_FNAME, FNAMECMP_PARTIAL_DIR,
};
use super::sender::{count_created, entry_for, read_attrs};
use super::{apply_del_stats, Ctx};
use crate::checksum::FileSum;
use crate::error::{strerror, Error, ExitCode, Result};
use crate::flist::build::full_fname;
use crate::flist::build::open_nofollow;
use crate::flist::entry::FileEntry;
use crate::flist::FileLists;
use crate::fsops::writer::OutFile;
use crate::fsops::{partial, tempfile};
use crate::fsops::{set_file_attrs, AttrOpts};
use crate::report::stats::Stats;
use crate::report::LogCode;
use crate::wire::compress::{RecvToken, TokenDecoder};
use crate::wire::item;
use crate::wire::mux::DemuxReader;
use crate::wire::ndx::{NdxCodec, NDX_DEL_STATS, NDX_DONE, NDX_FLIST_EOF, NDX_FLIST_OFFSET};
use crate::wire::sums::{read_sum_head, SumHead};
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

pub struct Receiver<'a> {
    pub ctx: &'a Ctx,
    pub lists: FileLists,
    pub list_rx: ListReceiver,
    pub dest: &'a Dest,
    pub events: Sender<RecvEvent>,
    pub codec: NdxCodec,
    pub attr: AttrOpts,
    pub stats: Stats,
    sent_once: HashSet<i32>,
    dflt_perms: u32,
    /// One token decoder for the session (zstd's stream spans files).
    tokens: TokenDecoder,
    /// `--delay-updates`: (ndx, destination, file in the partial dir).
    delayed: Vec<(i32, PathBuf, PathBuf)>,
    /// A backup could not be made: the run stops (finish_transfer()).
    backup_failed: std::cell::Cell<bool>,
}

/// How much of an --append-verify prefix is summed at a time.
const CHUNK: usize = 32 * 1024;

impl<'a> Receiver<'a> {
    pub fn new(
        ctx: &'a Ctx,
        lists: FileLists,
        list_rx: ListReceiver,
        codec: NdxCodec,
        dest: &'a Dest,
        events: Sender<RecvEvent>,
    ) -> Self {
        let opts = &ctx.opts;
        let mut tokens = TokenDecoder::new(ctx.neg.compress);
        tokens.set_protocol(ctx.protocol() as i32);
        Receiver {
            ctx,
            lists,
            list_rx,
            dest,
            events,
            codec,
            attr: AttrOpts {
                perms: true,
                times: opts.times,
                owner: opts.owner,
                group: opts.group,
                omit_dir_times: opts.omit_dir_times,
                atimes: opts.atimes > 0,
                am_root: opts.am_root(),
                modify_window: opts.modify_window,
                dry_run: opts.dry_run,
            },
            stats: Stats::default(),
            sent_once: HashSet::new(),
            dflt_perms: 0o777 & !crate::fsops::current_umask(),
            tokens,
            delayed: Vec::new(),
            backup_failed: std::cell::Cell::new(false),
        }
    }

    /// rsync.c read_ndx_and_attrs() head: deletion stats and, with
    /// incremental recursion, new file lists arrive where an ndx is read.
    fn read_ndx<R: Read>(&mut self, r: &mut R) -> Result<i32> {
        loop {
            let ndx = self.codec.read(r)?;
            if ndx >= 0 || ndx == NDX_DONE {
                return Ok(ndx);
            }
            if ndx == NDX_DEL_STATS && self.ctx.protocol() >= 31 {
                let v = super::read_del_stats(r)?;
                apply_del_stats(&mut self.stats, v);
                continue;
            }
            if self.lists.inc && ndx == NDX_FLIST_EOF {
                self.lists.eof = true;
                let _ = self.events.send(RecvEvent::FlistEof);
                continue;
            }
            if self.lists.inc && ndx <= NDX_FLIST_OFFSET {
                let (entries, dir) = self.list_rx.recv_sub(self.ctx, r, &mut self.lists, ndx)?;
                let _ = self.events.send(RecvEvent::NewList(entries, dir));
                continue;
            }
            return Err(Error::protocol(format!(
                "Invalid file index: {ndx} [receiver]"
            )));
        }
    }

    /// receiver.c recv_files().
    pub fn recv_files<R: Read>(&mut self, r: &mut DemuxReader<R>) -> Result<()> {
        let max_phase = self.ctx.max_phase();
        let proto = self.ctx.protocol();
        let mut phase = 0;
        let mut buf = Vec::new();
        loop {
            let ndx = self.read_ndx(r)?;
            if ndx == NDX_DONE {
                // One list finished; only the last one ends the phase.
                if self.lists.inc
                    && self.lists.free_first().is_some()
                    && !self.lists.lists.is_empty()
                {
                    continue;
                }
                phase += 1;
                if phase > max_phase {
                    break;
                }
                if phase == 2 && self.ctx.opts.delay_updates {
                    self.handle_delayed_updates();
                }
                let _ = self.events.send(RecvEvent::Done);
                continue;
            }
            let a = read_attrs(r, ndx, proto)?;
            let file = entry_for(&self.lists, ndx)?.clone();
            let file = &file;
            if a.iflags & item::TRANSFER != 0 && !file.is_reg() {
                return Err(Error::protocol(format!(
                    "received request to transfer non-regular file: {ndx} [receiver]"
                )));
            }
            if a.iflags & item::TRANSFER == 0 {
                self.ctx
                    .out
                    .maybe_log_item(&self.ctx.log, file, a.iflags, &a.xname);
                if a.iflags & item::IS_NEW != 0 {
                    count_created(&mut self.stats, file);
                }
                continue;
            }
            if phase == 2 {
                return Err(Error::protocol(
                    "got transfer request in phase 2 [receiver]",
                ));
            }
            let redoing = !self.sent_once.insert(ndx);
            if !redoing {
                self.stats.xferred_files += 1;
                self.stats.total_transferred_size += file.size;
                if a.iflags & item::IS_NEW != 0 {
                    self.stats.created_files += 1;
                }
            }
            if self.ctx.opts.dry_run {
                self.ctx.out.log_item(&self.ctx.log, file, a.iflags, None);
                continue;
            }
            let csum_length = if redoing { 16 } else { 2 };
            let bytes_before = r.data_bytes;
            let head = read_sum_head(r, proto, self.ctx.neg.xfer_sum.digest_len(), csum_length)?;
            if self.ctx.out.log_before_transfer {
                self.ctx.out.log_item(&self.ctx.log, file, a.iflags, None);
            }
            let fname = self.dest.path(&file.name);
            let inc = self.lists.inc;
            let step =
                self.receive_file(r, file, &fname, &head, &mut buf, a.fnamecmp_type, redoing)?;
            let outcome = match step {
                Step::Discarded => Outcome::Failed,
                Step::Received(rec) => {
                    // The item is logged once the data is in, before it is
                    // moved into place (recv_files() log_item()).
                    if !self.ctx.out.log_before_transfer {
                        let bytes = (r.data_bytes - bytes_before) as i64;
                        self.ctx
                            .out
                            .log_item_bytes(&self.ctx.log, file, a.iflags, None, bytes);
                    }
                    self.finish_received(ndx, &fname, *rec)
                }
            };
            if self.backup_failed.get() {
                return Err(Error::new(ExitCode::FILEIO, ""));
            }
            match outcome {
                Outcome::Done => {
                    // Hard-link followers wait for their leader's data.
                    let hlinked = file.flags & crate::flist::entry::FLAG_HLINKED != 0;
                    if inc || hlinked || self.ctx.opts.remove_source_files > 0 {
                        let _ = self.events.send(RecvEvent::Success(ndx));
                    }
                }
                Outcome::Delayed => {}
                Outcome::Mismatch(kept) => {
                    if redoing {
                        self.ctx.log.log(
                            LogCode::ErrorXfer,
                            &format!(
                                "ERROR: {} failed verification -- update {kept}.\n",
                                String::from_utf8_lossy(&file.name)
                            ),
                        );
                        if inc {
                            let _ = self.events.send(RecvEvent::Finished(ndx));
                        }
                    } else {
                        if self.ctx.out.info_name >= 1 || self.ctx.out.has_i > 0 {
                            self.warn_via_generator(&format!(
                                "WARNING: {} failed verification -- update {kept} (will try again).\n",
                                String::from_utf8_lossy(&file.name)
                            ));
                        }
                        let _ = self.events.send(RecvEvent::Redo(ndx));
                    }
                }
                Outcome::Failed => {
                    if inc {
                        let _ = self.events.send(RecvEvent::Finished(ndx));
                    }
                }
            }
        }
        if phase == 2 && self.ctx.opts.delay_updates && self.ctx.protocol() < 29 {
            self.handle_delayed_updates();
        }
        Ok(())
    }

    fn temp_dir(&self) -> Option<PathBuf> {
        temp_dir(self.ctx, self.dest)
    }

    /// A warning of the receiver travels to the generator and on from
    /// there as MSG_WARNING: unlike the server's own lines it is not turned
    /// into MSG_INFO for a peer below protocol 30 (as rsync 3.5.0 is seen
    /// to do from protocol 29 up; below that it arrives as MSG_INFO).
    fn warn_via_generator(&self, text: &str) {
        match &self.ctx.log.sink {
            // A local receiver shares the client's stderr and writes there
            // itself; nothing crosses the pipe.
            crate::report::LogSink::Wire(..) if self.ctx.out.local_server => {
                crate::report::print_local(LogCode::Warning, text.as_bytes())
            }
            crate::report::LogSink::Wire(tx, _) if self.ctx.protocol() >= 29 => {
                let _ = tx.send((crate::wire::mux::MsgCode::Warning, text.as_bytes().to_vec()));
            }
            _ => self.ctx.log.log(LogCode::Warning, text),
        }
    }

    fn log_syserr(&self, what: &str, path: &Path, e: &io::Error) {
        self.ctx.log.log(
            LogCode::ErrorXfer,
            &format!(
                "{}: [receiver] {what} \"{}\" failed: {}\n",
                self.ctx.log.prog,
                full_fname(path),
                strerror(e)
            ),
        );
    }

    /// receiver.c recv_files() from the basis choice on, receive_data() and
    /// finish_transfer() for one file.
    #[allow(clippy::too_many_arguments)]
    fn receive_file<R: Read>(
        &mut self,
        r: &mut R,
        file: &FileEntry,
        fname: &Path,
        head: &SumHead,
        buf: &mut Vec<u8>,
        fnamecmp_type: Option<u8>,
        redoing: bool,
    ) -> Result<Step> {
        let opts = &self.ctx.opts;
        let proto = self.ctx.protocol();
        let inplace = opts.inplace;
        // A redo is a plain in-place transfer: no append, and no holes.
        let append = if redoing { 0 } else { append_mode(self.ctx) };
        let sparse = opts.sparse && !(redoing && opts.append_mode > 0);
        let partialptr: Option<PathBuf> = opts
            .partial_dir
            .as_deref()
            .map(|pd| partial::partial_dir_fname(fname, pd));
        // The basis: the file itself, or a partial file the generator chose.
        let mut ftype = fnamecmp_type.unwrap_or(FNAMECMP_FNAME);
        let mut fnamecmp: PathBuf = if proto >= 29 {
            match (ftype, &partialptr) {
                (FNAMECMP_PARTIAL_DIR, Some(p)) => p.clone(),
                _ => fname.to_path_buf(),
            }
        } else {
            partialptr.clone().unwrap_or_else(|| fname.to_path_buf())
        };
        let mut basis = open_nofollow(&fnamecmp).ok();
        if basis.is_none() && ftype == FNAMECMP_PARTIAL_DIR {
            fnamecmp = fname.to_path_buf();
            ftype = FNAMECMP_FNAME;
        }
        if basis.is_none() && proto < 29 && fnamecmp != fname {
            fnamecmp = fname.to_path_buf();
            basis = open_nofollow(&fnamecmp).ok();
        }
        let one_inplace =
            inplace_partial(self.ctx) && ftype == FNAMECMP_PARTIAL_DIR && basis.is_some();
        let updating_basis = one_inplace || (inplace && fnamecmp == fname);
        let basis_st = match &basis {
            Some(b) => match b.metadata() {
                Ok(m) => Some(m),
                Err(e) => {
                    self.log_syserr("fstat", &fnamecmp, &e);
                    self.discard(r, head, buf)?;
                    return Ok(Step::Discarded);
                }
            },
            None => None,
        };
        if let Some(m) = &basis_st {
            if m.is_dir() && fnamecmp == fname {
                self.ctx.log.log(
                    LogCode::ErrorXfer,
                    &format!("recv_files: {} is a directory\n", full_fname(&fnamecmp)),
                );
                self.discard(r, head, buf)?;
                return Ok(Step::Discarded);
            }
        }
        let (basis, basis_st) = match basis_st {
            Some(m) if m.is_file() => (basis, Some(m)),
            _ => (None, None),
        };
        let size_r = basis_st.as_ref().map(|m| m.len()).unwrap_or(0);
        // Without -p the mode comes from the basis there, or the umask
        // (receiver.c recv_files() dest_mode()).
        let adjusted;
        let file = if opts.perms {
            file
        } else {
            adjusted = FileEntry {
                mode: crate::fsops::dest_mode(
                    file.mode,
                    basis_st
                        .as_ref()
                        .map(std::os::unix::fs::MetadataExt::mode)
                        .unwrap_or(0),
                    self.dflt_perms,
                    basis_st.is_some(),
                ),
                ..file.clone()
            };
            &adjusted
        };
        // The output: the destination itself in place, else a temp file.
        let (out, fnametmp) = if inplace || one_inplace {
            let target = if one_inplace {
                partialptr.clone().unwrap_or_else(|| fname.to_path_buf())
            } else {
                fname.to_path_buf()
            };
            match open_inplace(&target) {
                Ok(f) => (Some(f), target),
                Err(e) => {
                    self.log_syserr("open", &target, &e);
                    (None, target)
                }
            }
        } else {
            let keep_as = partialptr.clone().unwrap_or_else(|| fname.to_path_buf());
            let tmpdir = self.temp_dir();
            // A relative -T is opened beneath the destination, which a ".."
            // component cannot be (upstream's secure_relative_open()).
            let escapes = opts.temp_dir.as_deref().is_some_and(|t| {
                let t = Path::new(t);
                t.is_relative() && t.components().any(|c| c == std::path::Component::ParentDir)
            });
            let made = if escapes {
                Err(io::Error::from_raw_os_error(nix::libc::EINVAL))
            } else {
                tempfile::create_temp_in(fname, tmpdir.as_deref(), &keep_as)
            };
            match made {
                Ok((f, p)) => (Some(f), p),
                Err(e) => {
                    // The message names the template, as mkstemp() saw it.
                    let shown = match &tmpdir {
                        Some(t) => {
                            let mut n = fname.file_name().unwrap_or_default().to_os_string();
                            n.push(".XXXXXX");
                            t.join(n)
                        }
                        None => fname.to_path_buf(),
                    };
                    self.log_syserr("mkstemp", &shown, &e);
                    (None, PathBuf::new())
                }
            }
        };
        let Some(out) = out else {
            self.discard(r, head, buf)?;
            return Ok(Step::Discarded);
        };
        if !(inplace || one_inplace) {
            tempfile::set_keep_mode(&fnametmp, file.mode);
        }
        let mut out = OutFile::new(out, sparse);
        let total = file.size.max(0) as u64;
        let whole_file = opts.whole_file == Some(true);
        let mut write_err: Option<io::Error> = None;
        if opts.preallocate && total > 0 && (!(inplace || one_inplace) || total > size_r) {
            match out.preallocate(total, !sparse) {
                Ok(n) => out.preallocated_len = n,
                Err(e) => self.ctx.log.log(
                    LogCode::Warning,
                    &format!(
                        "{}: [receiver] do_fallocate \"{}\" failed: {}\n",
                        self.ctx.log.prog,
                        full_fname(fname),
                        strerror(&e)
                    ),
                ),
            }
        } else if inplace || one_inplace {
            // The most compatible way to create a sparse file is to start
            // from nothing.
            out.preallocated_len = if sparse && whole_file && out.f.set_len(0).is_ok() {
                0
            } else {
                size_r
            };
        }
        let mut fsum = FileSum::new(self.ctx.neg.xfer_sum, self.ctx.neg.seed);
        let mut offset: u64 = 0;
        let mut block = Vec::new();
        if append > 0 {
            // What the receiver has is kept; --append-verify checks it too.
            let flength = append_prefix_len(head) as u64;
            if append == 2 {
                if let Some(b) = &basis {
                    let mut at = 0u64;
                    let limit = flength.min(size_r);
                    while at < flength {
                        let n = (flength - at).min(CHUNK as u64) as usize;
                        block.resize(n, 0);
                        if at >= limit || b.read_exact_at(&mut block, at).is_err() {
                            block.iter_mut().for_each(|x| *x = 0);
                        }
                        fsum.update(&block);
                        at += n as u64;
                    }
                }
            }
            offset = flength;
            if let Err(e) = out.f.seek(SeekFrom::Start(offset)) {
                return Err(Error::bare(
                    crate::error::ExitCode::FILEIO,
                    format!("lseek of {} failed: {}", full_fname(fname), strerror(&e)),
                ));
            }
        }
        loop {
            match self.tokens.recv_token(r, buf)? {
                RecvToken::End => break,
                RecvToken::Literal(n) => {
                    fsum.update(&buf[..n]);
                    self.stats.literal_data += n as i64;
                    if write_err.is_none() {
                        if let Err(e) = out.write_at(false, offset, &buf[..n]) {
                            write_err = Some(e);
                        }
                    }
                    offset += n as u64;
                }
                RecvToken::Match(i) => {
                    if i as i64 >= head.count as i64 {
                        return Err(Error::protocol(format!(
                            "Invalid block index {i} (count={}) [receiver]",
                            head.count
                        )));
                    }
                    let Some(b) = &basis else {
                        return Err(Error::protocol("got a block match with no basis file"));
                    };
                    let len = head.block_len(i as i32) as usize;
                    block.resize(len, 0);
                    let off2 = i as u64 * head.blength as u64;
                    if b.read_exact_at(&mut block, off2).is_err() {
                        // A short basis produces wrong data; the checksum
                        // then fails and the file is redone.
                        block.iter_mut().for_each(|x| *x = 0);
                    }
                    // zlib puts the copied bytes into its history.
                    self.tokens.see_token(&block)?;
                    fsum.update(&block);
                    self.stats.matched_data += len as i64;
                    if write_err.is_none() {
                        // In place, data already at its spot is skipped.
                        let same_spot = updating_basis && off2 == offset;
                        if let Err(e) = out.write_at(same_spot, offset, &block) {
                            write_err = Some(e);
                        }
                    }
                    offset += len as u64;
                }
            }
        }
        if write_err.is_none() && offset > 0 {
            if let Err(e) = out.finish_data(offset, updating_basis) {
                write_err = Some(e);
            }
        }
        if write_err.is_none() && (inplace || one_inplace || out.preallocated_len > offset) {
            // New data may be shorter than the old, or the reservation
            // longer than the data.
            if let Err(e) = out.f.set_len(offset) {
                self.log_syserr("ftruncate", fname, &e);
            }
        }
        if write_err.is_none() && opts.fsync {
            if let Err(e) = out.f.sync_all() {
                return Err(Error::bare(
                    crate::error::ExitCode::FILEIO,
                    format!("fsync failed on {}: {}", full_fname(fname), strerror(&e)),
                ));
            }
        }
        let mut mine = [0u8; 32];
        let n = fsum.finish(&mut mine);
        let mut theirs = [0u8; 32];
        crate::wire::int::read_buf(r, &mut theirs[..n])?;
        drop(out);
        Ok(Step::Received(Box::new(Received {
            file: file.clone(),
            fnametmp,
            fnamecmp,
            partialptr,
            one_inplace,
            write_err,
            recv_ok: mine[..n] == theirs[..n],
        })))
    }

    /// The rest of recv_files() for one file: into place, into the partial
    /// dir, kept for --delay-updates, or dropped.
    fn finish_received(&mut self, ndx: i32, fname: &Path, rec: Received) -> Outcome {
        let opts = &self.ctx.opts;
        let inplace = opts.inplace;
        let keep_partial = opts.partial;
        let Received {
            file,
            fnametmp,
            fnamecmp,
            partialptr,
            one_inplace,
            write_err,
            recv_ok,
        } = rec;
        let file = &file;
        if write_err.is_some() {
            if !(inplace || one_inplace) {
                tempfile::discard(&fnametmp);
            }
            return self.write_failed(fname, write_err);
        }
        let delayed_partial = opts.delay_updates && partialptr.is_some();
        let mut partialptr = partialptr;
        // 1 done, 0 mismatch, -1 failed, 2 delayed
        let mut status: i32 = if recv_ok { 1 } else { 0 };
        if (recv_ok && !delayed_partial) || inplace {
            if partialptr.as_deref() == Some(fname) {
                partialptr = None;
            }
            if !self.finish_transfer(fname, &fnametmp, partialptr.as_deref(), file, recv_ok) {
                status = -1;
            } else if partialptr.is_some() && Some(&fnamecmp) == partialptr.as_ref() {
                let pp = partialptr.as_deref().unwrap_or(fname);
                if !one_inplace {
                    let _ = fs::remove_file(pp);
                }
                if let Some(pd) = opts.partial_dir.as_deref() {
                    partial::remove_partial_dir(pp, pd);
                }
            }
        } else if keep_partial && (!one_inplace || opts.delay_updates) {
            let pp = partialptr.clone().unwrap_or_else(|| fname.to_path_buf());
            if !partial::create_partial_dir(&pp) {
                self.ctx.log.log(
                    LogCode::Error,
                    &format!(
                        "Unable to create partial-dir for {} -- discarding {}.\n",
                        String::from_utf8_lossy(&file.name),
                        if recv_ok {
                            "completed file"
                        } else {
                            "partial file"
                        }
                    ),
                );
                tempfile::discard(&fnametmp);
                status = -1;
            } else if !self.finish_transfer(&pp, &fnametmp, None, file, recv_ok) {
                status = -1;
            } else if opts.delay_updates && recv_ok {
                self.delayed.push((ndx, fname.to_path_buf(), pp));
                status = 2;
            } else {
                partialptr = None;
            }
        } else if !one_inplace {
            tempfile::discard(&fnametmp);
        }
        if inplace || one_inplace {
            tempfile::forget(&fnametmp);
        }
        match status {
            2 => Outcome::Delayed,
            1 => Outcome::Done,
            0 => {
                let kept = if !(inplace || keep_partial && partialptr.is_some()) {
                    "discarded"
                } else if opts.partial_dir.is_some() {
                    "put into partial-dir"
                } else {
                    "retained"
                };
                Outcome::Mismatch(kept)
            }
            _ => Outcome::Failed,
        }
    }

    /// rsync.c finish_transfer(): metadata, then the rename into place (in
    /// place only the metadata). A failed check leaves the mtime alone.
    fn finish_transfer(
        &self,
        fname: &Path,
        fnametmp: &Path,
        partialptr: Option<&Path>,
        file: &FileEntry,
        ok_to_set_time: bool,
    ) -> bool {
        let mut attr = self.attr;
        if !ok_to_set_time {
            attr.times = false;
        }
        let set = |p: &Path| {
            if let Err(e) = set_file_attrs(p, file, None, &attr, true) {
                self.ctx.log.log(
                    LogCode::ErrorXfer,
                    &format!(
                        "{}: [receiver] {} \"{}\" failed: {}\n",
                        self.ctx.log.prog,
                        e.what,
                        full_fname(fname),
                        strerror(&e.err)
                    ),
                );
            }
        };
        if self.ctx.opts.inplace {
            set(fname);
            return true;
        }
        set(fnametmp);
        // The old file is kept first; without its backup the run cannot go
        // on.
        if let Some(b) = super::backup::for_dest(self.ctx, self.dest, &self.attr) {
            if super::backup::backup_item(&b, self.dest, &file.name, false)
                == crate::fsops::backup::Backed::Failed
            {
                tempfile::discard(fnametmp);
                self.backup_failed.set(true);
                return false;
            }
        }
        match fs::rename(fnametmp, fname) {
            Ok(()) => {
                tempfile::forget(fnametmp);
                true
            }
            Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => {
                // -T on another filesystem: copy, then drop the temp file.
                let res = copy_into_place(fnametmp, fname, file.mode);
                tempfile::discard(fnametmp);
                match res {
                    Ok(()) => {
                        set(fname);
                        true
                    }
                    Err(e) => {
                        self.rename_failed("copy", fnametmp, fname, &e);
                        false
                    }
                }
            }
            Err(e) => {
                self.rename_failed("rename", fnametmp, fname, &e);
                let kept = partialptr.is_some_and(|pp| fs::rename(fnametmp, pp).is_ok());
                if kept {
                    tempfile::forget(fnametmp);
                } else {
                    tempfile::discard(fnametmp);
                }
                false
            }
        }
    }

    fn rename_failed(&self, what: &str, from: &Path, to: &Path, e: &io::Error) {
        self.ctx.log.log(
            LogCode::ErrorXfer,
            &format!(
                "{}: [receiver] {what} \"{}\" -> \"{}\": {}\n",
                self.ctx.log.prog,
                full_fname(from),
                to.display(),
                strerror(e)
            ),
        );
    }

    /// discard_receive_data(): read a file's tokens and sum, keep nothing.
    fn discard<R: Read>(&mut self, r: &mut R, head: &SumHead, buf: &mut Vec<u8>) -> Result<()> {
        loop {
            match self.tokens.recv_token(r, buf)? {
                RecvToken::End => break,
                RecvToken::Literal(n) => self.stats.literal_data += n as i64,
                RecvToken::Match(i) => {
                    if i as i64 >= head.count as i64 {
                        return Err(Error::protocol(format!(
                            "Invalid block index {i} (count={}) [receiver]",
                            head.count
                        )));
                    }
                    self.stats.matched_data += head.block_len(i as i32) as i64;
                }
            }
        }
        let n = self.ctx.neg.xfer_sum.digest_len();
        let mut theirs = [0u8; 32];
        crate::wire::int::read_buf(r, &mut theirs[..n])?;
        Ok(())
    }

    /// receiver.c handle_delayed_updates(): `--delay-updates` moves the
    /// finished files into place together at the end.
    fn handle_delayed_updates(&mut self) {
        for (ndx, fname, pp) in std::mem::take(&mut self.delayed) {
            match fs::rename(&pp, &fname) {
                Err(e) => self.ctx.log.log(
                    LogCode::ErrorXfer,
                    &format!(
                        "{}: [receiver] rename failed for \"{}\" (from {}): {}\n",
                        self.ctx.log.prog,
                        full_fname(&fname),
                        pp.display(),
                        strerror(&e)
                    ),
                ),
                Ok(()) => {
                    if self.ctx.opts.remove_source_files > 0 {
                        let _ = self.events.send(RecvEvent::Success(ndx));
                    }
                    if let Some(pd) = self.ctx.opts.partial_dir.as_deref() {
                        partial::remove_partial_dir(&pp, pd);
                    }
                }
            }
        }
    }

    fn write_failed(&self, fname: &Path, e: Option<io::Error>) -> Outcome {
        let e = e.unwrap_or_else(|| io::Error::other("write failed"));
        self.ctx.log.log(
            LogCode::ErrorXfer,
            &format!(
                "{}: [receiver] write failed on \"{}\": {}\n",
                self.ctx.log.prog,
                full_fname(fname),
                strerror(&e)
            ),
        );
        Outcome::Failed
    }

    /// After the last phase, until the generator is done: consume the
    /// protocol-31 goodbye echo and report it (main.c read_final_goodbye()).
    pub fn final_goodbye<R: Read>(&mut self, r: &mut R) -> Result<()> {
        let proto = self.ctx.protocol();
        if proto < 29 {
            return Ok(());
        }
        if proto >= 31 {
            let i = self.read_ndx(r)?;
            if i != NDX_DONE {
                return Err(Error::protocol(format!(
                    "Invalid packet at end of run ({i}) [receiver]"
                )));
            }
            let _ = self.events.send(RecvEvent::Done);
        }
        Ok(())
    }
}

/// Where `-T` puts temp files: relative to the destination directory,
/// where upstream's receiver runs.
fn temp_dir(ctx: &Ctx, dest: &Dest) -> Option<PathBuf> {
    let t = ctx.opts.temp_dir.as_deref()?;
    let base = match &dest.solo {
        Some(s) => s.parent().map(Path::to_path_buf).unwrap_or_default(),
        None => dest.base.clone(),
    };
    Some(base.join(t))
}

/// main.c do_recv(), before the generator and receiver split: `-T` must
/// name an existing directory.
pub fn check_temp_dir(ctx: &Ctx, dest: &Dest) -> Result<()> {
    let (Some(dir), Some(shown)) = (temp_dir(ctx, dest), ctx.opts.temp_dir.as_deref()) else {
        return Ok(());
    };
    let shown = shown.to_string_lossy();
    let err = |code, msg: String| {
        crate::session::liveness::set_role(crate::report::messages::Who::PreforkReceiver);
        Err(Error::bare(code, msg))
    };
    match fs::metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => err(
            crate::error::ExitCode::SYNTAX,
            format!("The temp-dir is not a directory: {shown}"),
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => err(
            crate::error::ExitCode::SYNTAX,
            format!("The temp-dir does not exist: {shown}"),
        ),
        Err(e) => err(
            crate::error::ExitCode::FILEIO,
            format!(
                "Failed to stat temp-dir {shown}: {}",
                crate::error::strerror_plain(&e)
            ),
        ),
    }
}

/// What receive_file() leaves for finish_received().
enum Step {
    /// Nothing was written (no basis, no output): the data was read and
    /// dropped, and the item is not logged.
    Discarded,
    Received(Box<Received>),
}

struct Received {
    /// The entry, with the mode the destination gets.
    file: FileEntry,
    fnametmp: PathBuf,
    fnamecmp: PathBuf,
    partialptr: Option<PathBuf>,
    one_inplace: bool,
    write_err: Option<io::Error>,
    recv_ok: bool,
}

enum Outcome {
    Done,
    /// Failed the whole-file check; what became of the data.
    Mismatch(&'static str),
    Failed,
    /// `--delay-updates`: waiting in the partial dir.
    Delayed,
}

/// Open the destination for writing in place (no truncation): created if
/// missing; a read-only file gets owner write just long enough to open it
/// (receiver.c open_readonly_inplace()).
fn open_inplace(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let open = || {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            let m = fs::symlink_metadata(path)?;
            if !m.is_file() {
                return Err(e);
            }
            let mode = m.permissions().mode();
            fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o200))?;
            let f = open();
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
            f
        }
        other => other,
    }
}

/// util1.c copy_file() for a rename across filesystems: a fresh file at
/// `to` with `from`'s data.
fn copy_into_place(from: &Path, to: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut src = File::open(from)?;
    let _ = fs::remove_file(to);
    let mut dst = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode & 0o7777)
        .open(to)?;
    io::copy(&mut src, &mut dst)?;
    Ok(())
}
