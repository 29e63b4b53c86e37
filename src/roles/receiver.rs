//! The receiver: rebuilds files from the sender's tokens into temporary
//! files, verifies them and moves them into place (upstream: receiver.c
//! recv_files(), receive_data(); rsync.c finish_transfer()).
//! See protocol-notes/sums-and-tokens.md and phases-and-redo.md.
//!
//! Owns the socket reader. Never blocks on the generator: everything it has
//! to say goes into an unbounded channel.

use super::flist_recv::ListReceiver;
use super::generator::{Dest, RecvEvent};
use super::sender::{count_created, entry_for, read_attrs};
use super::{apply_del_stats, Ctx};
use crate::checksum::FileSum;
use crate::error::{strerror, Error, ExitCode, Result};
use crate::flist::build::full_fname;
use crate::flist::entry::FileEntry;
use crate::flist::FileLists;
use crate::fsops::tempfile;
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
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
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
}

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
            match self.receive_file(r, file, &fname, &head, &mut buf)? {
                Outcome::Done if inc || file.flags & crate::flist::entry::FLAG_HLINKED != 0 => {
                    let _ = self.events.send(RecvEvent::Finished(ndx));
                }
                Outcome::Done => {}
                Outcome::Mismatch => {
                    if redoing {
                        self.ctx.log.log(
                            LogCode::ErrorXfer,
                            &format!(
                                "ERROR: {} failed verification -- update discarded.\n",
                                String::from_utf8_lossy(&file.name)
                            ),
                        );
                        if inc {
                            let _ = self.events.send(RecvEvent::Finished(ndx));
                        }
                    } else {
                        if self.ctx.out.info_name >= 1 || self.ctx.out.has_i > 0 {
                            self.ctx.log.log(
                                LogCode::Warning,
                                &format!(
                                    "WARNING: {} failed verification -- update discarded (will try again).\n",
                                    String::from_utf8_lossy(&file.name)
                                ),
                            );
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
            if !self.ctx.out.log_before_transfer {
                let bytes = (r.data_bytes - bytes_before) as i64;
                self.ctx
                    .out
                    .log_item_bytes(&self.ctx.log, file, a.iflags, None, bytes);
            }
        }
        Ok(())
    }

    /// receive_data() + finish_transfer() for one file.
    fn receive_file<R: Read>(
        &mut self,
        r: &mut R,
        file: &FileEntry,
        fname: &Path,
        head: &SumHead,
        buf: &mut Vec<u8>,
    ) -> Result<Outcome> {
        // Without -p the new mode depends on what is there now.
        let dest_st = if self.ctx.opts.perms {
            None
        } else {
            fs::symlink_metadata(fname).ok().filter(|m| m.is_file())
        };
        let basis = if head.count > 0 {
            File::open(fname).ok()
        } else {
            None
        };
        let (tmp, tmp_path) = match tempfile::create_temp(fname) {
            Ok(t) => (Some(t.0), Some(t.1)),
            Err(e) => {
                self.ctx.log.log(
                    LogCode::ErrorXfer,
                    &format!(
                        "{}: [receiver] mkstemp \"{}\" failed: {}\n",
                        self.ctx.log.prog,
                        full_fname(fname),
                        strerror(&e)
                    ),
                );
                (None, None)
            }
        };
        let mut out = tmp.map(|f| BufWriter::with_capacity(256 * 1024, f));
        let mut fsum = FileSum::new(self.ctx.neg.xfer_sum, self.ctx.neg.seed);
        let mut write_err: Option<io::Error> = None;
        let mut block = Vec::new();
        loop {
            match self.tokens.recv_token(r, buf)? {
                RecvToken::End => break,
                RecvToken::Literal(n) => {
                    fsum.update(&buf[..n]);
                    self.stats.literal_data += n as i64;
                    if let (Some(o), None) = (out.as_mut(), &write_err) {
                        if let Err(e) = o.write_all(&buf[..n]) {
                            write_err = Some(e);
                        }
                    }
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
                    let off = i as u64 * head.blength as u64;
                    if let Err(e) = b.read_exact_at(&mut block, off) {
                        // A short basis produces wrong data; the checksum
                        // then fails and the file is redone.
                        block.iter_mut().for_each(|x| *x = 0);
                        let _ = e;
                    }
                    // zlib puts the copied bytes into its history.
                    self.tokens.see_token(&block)?;
                    fsum.update(&block);
                    self.stats.matched_data += len as i64;
                    if let (Some(o), None) = (out.as_mut(), &write_err) {
                        if let Err(e) = o.write_all(&block) {
                            write_err = Some(e);
                        }
                    }
                }
            }
        }
        let mut mine = [0u8; 32];
        let n = fsum.finish(&mut mine);
        let mut theirs = [0u8; 32];
        crate::wire::int::read_buf(r, &mut theirs[..n])?;
        let (Some(out), Some(tmp_path)) = (out, tmp_path) else {
            return Ok(Outcome::Failed);
        };
        let f = match out.into_inner() {
            Ok(f) => f,
            Err(e) => {
                write_err.get_or_insert(e.into_error());
                tempfile::discard(&tmp_path);
                return Ok(self.write_failed(fname, write_err));
            }
        };
        if write_err.is_some() {
            tempfile::discard(&tmp_path);
            return Ok(self.write_failed(fname, write_err));
        }
        drop(f);
        if mine[..n] != theirs[..n] {
            tempfile::discard(&tmp_path);
            return Ok(Outcome::Mismatch);
        }
        // finish_transfer(): metadata on the temp file, then the rename.
        // Without -p the mode comes from what is there, or the umask
        // (receiver.c recv_files() dest_mode()).
        let adjusted;
        let file = if self.ctx.opts.perms {
            file
        } else {
            adjusted = FileEntry {
                mode: crate::fsops::dest_mode(
                    file.mode,
                    dest_st
                        .as_ref()
                        .map(std::os::unix::fs::MetadataExt::mode)
                        .unwrap_or(0),
                    self.dflt_perms,
                    dest_st.is_some(),
                ),
                ..file.clone()
            };
            &adjusted
        };
        if let Err(e) = set_file_attrs(&tmp_path, file, None, &self.attr, true) {
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
        // finish_transfer(): the old file is kept first; without its backup
        // the run cannot go on.
        if let Some(b) = super::backup::for_dest(self.ctx, self.dest, &self.attr) {
            if super::backup::backup_item(&b, self.dest, &file.name, false)
                == crate::fsops::backup::Backed::Failed
            {
                tempfile::discard(&tmp_path);
                return Err(Error::new(ExitCode::FILEIO, ""));
            }
        }
        if let Err(e) = fs::rename(&tmp_path, fname) {
            self.ctx.log.log(
                LogCode::ErrorXfer,
                &format!(
                    "{}: [receiver] rename \"{}\" -> \"{}\": {}\n",
                    self.ctx.log.prog,
                    full_fname(&tmp_path),
                    String::from_utf8_lossy(&file.name),
                    strerror(&e)
                ),
            );
            tempfile::discard(&tmp_path);
            return Ok(Outcome::Failed);
        }
        tempfile::forget(&tmp_path);
        Ok(Outcome::Done)
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

enum Outcome {
    Done,
    Mismatch,
    Failed,
}
