//! The sender's side of the file lists: the first list, and with
//! incremental recursion the per-directory lists that follow while files are
//! being sent (upstream: flist.c send_file_list(), send_extra_file_list(),
//! send1extra(), add_dirs_to_tree()). See protocol-notes/file-list.md.
//!
//! Directory lists go out in depth-first pre-order: a directory's list, then
//! its first subdirectory's, then the next sibling's, as upstream's
//! DIR_FIRST_CHILD / DIR_NEXT_SIBLING walk does.

use super::Ctx;
use crate::error::Result;
use crate::flist::build::Builder;
use crate::flist::entry::{FileEntry, FLAG_CONTENT_DIR};
use crate::flist::files_from::NameReader;
use crate::flist::sort::sort_and_clean;
use crate::flist::FileLists;
use crate::report::stats::Stats;
use crate::wire::flist::{write_id_list, FlistEncoder, FlistShape};
use crate::wire::int::write_int;
use crate::wire::mux::{MsgCode, MuxWriter};
use crate::wire::ndx::{NdxCodec, NDX_FLIST_EOF, NDX_FLIST_OFFSET};
use std::collections::HashSet;
use std::ffi::OsString;
use std::io::Write;

/// Upstream MIN_FILECNT_LOOKAHEAD: keep this many entries queued beyond the
/// list the generator is working on.
pub const MIN_FILECNT_LOOKAHEAD: i64 = 1000;

/// Where the sender's names come from (send_file_list()'s argv or
/// filesfrom_fd).
pub enum Sources<'s> {
    Args(&'s [OsString]),
    /// `--files-from`: names relative to `base`, read from a local file or
    /// from the peer.
    List {
        base: std::path::PathBuf,
        reader: &'s mut dyn std::io::Read,
        eol_nulls: bool,
        dump_comments: bool,
    },
}

pub struct FlistSender<'a> {
    ctx: &'a Ctx,
    pub lists: FileLists,
    builder: Builder<'a>,
    enc: FlistEncoder,
    /// dir_flist indexes still to be sent, next on top.
    stack: Vec<i32>,
    /// Entries in the lists up to and including the generator's current one
    /// (upstream file_old_total).
    pub old_total: i64,
}

pub fn name_of_uid(uid: u32) -> Option<Vec<u8>> {
    users::get_user_by_uid(uid).map(|u| u.name().as_encoded_bytes().to_vec())
}

pub fn name_of_gid(gid: u32) -> Option<Vec<u8>> {
    users::get_group_by_gid(gid).map(|g| g.name().as_encoded_bytes().to_vec())
}

impl<'a> FlistSender<'a> {
    pub fn new(ctx: &'a Ctx, shape: FlistShape) -> Self {
        let mut builder = Builder::new(
            &ctx.opts,
            &ctx.log,
            ctx.opts.checksum.then_some(ctx.neg.file_sum),
        );
        builder.inc = shape.inc_recurse;
        builder.protocol = shape.protocol;
        builder.set_filters(&ctx.filters);
        let mut enc = FlistEncoder::new(shape);
        if shape.inc_recurse && !ctx.opts.numeric_ids {
            enc.set_id_namer(Box::new(|user, id| {
                if user {
                    name_of_uid(id)
                } else {
                    name_of_gid(id)
                }
            }));
        }
        FlistSender {
            ctx,
            lists: FileLists::new(shape.inc_recurse),
            builder,
            enc,
            stack: Vec::new(),
            old_total: 0,
        }
    }

    fn live_total(&self) -> i64 {
        self.lists
            .lists
            .iter()
            .map(|l| l.entries.len() as i64)
            .sum()
    }

    /// Queue the subdirectories of the list just added, first one on top.
    fn queue_dirs(&mut self, first_dir: usize) {
        let new: Vec<i32> = (first_dir..self.lists.dir_flist.len())
            .filter(|&i| self.lists.dir_flist[i].name != b".")
            .map(|i| i as i32)
            .collect();
        self.stack.extend(new.into_iter().rev());
    }

    /// send_file_list(): build, send and sort the first list.
    pub fn send_first<W: Write>(
        &mut self,
        w: &mut MuxWriter<W>,
        wcodec: &mut NdxCodec,
        sources: Sources<'_>,
        stats: &mut Stats,
    ) -> Result<()> {
        let shape = self.enc.shape;
        let start = std::time::Instant::now();
        match sources {
            Sources::Args(args) => self.builder.add_sources(args),
            Sources::List {
                base,
                reader,
                eol_nulls,
                dump_comments,
            } => {
                self.builder.base = Some(base);
                let mut names = NameReader::new(reader, eol_nulls, dump_comments);
                self.builder.add_names_from(&mut names)?;
            }
        }
        if let Some(e) = self.builder.fatal.take() {
            return Err(e);
        }
        let entries = std::mem::take(&mut self.builder.entries);
        stats.flist_buildtime_ms = start.elapsed().as_millis().max(1) as i64;
        self.ctx.shared.add_io_error(self.builder.io_error);
        let written_before = w.total_written;
        self.enc.begin_list(self.lists.next_ndx_start());
        for e in &entries {
            self.enc.write_entry(w, e)?;
        }
        let io_error = self.ctx.shared.io_error();
        self.enc
            .write_end(w, if shape.safe_flist { io_error } else { 0 })?;
        if !self.ctx.opts.numeric_ids && !shape.inc_recurse {
            write_id_lists(w, &entries, &shape)?;
        }
        if shape.protocol < 30 {
            write_int(w, io_error as i32)?;
        } else if !shape.safe_flist && io_error != 0 {
            w.send_msg(MsgCode::IoError, &(io_error as i32).to_le_bytes())?;
        }
        // Upstream counts only what already reached the socket.
        stats.flist_size += (w.total_written - written_before) as i64;
        let mut entries = entries;
        sort_and_clean(&mut entries, shape.protocol, false);
        let parent = self.lists.first_parent(&entries);
        let dirs_before = self.lists.dir_flist.len();
        let n = entries.len() as i64;
        self.lists.add(entries, parent);
        self.old_total = n;
        if shape.inc_recurse {
            self.queue_dirs(dirs_before);
            if self.stack.is_empty() {
                wcodec.write(w, NDX_FLIST_EOF)?;
                self.lists.eof = true;
            } else if n == 1 {
                // A one-entry first list: show at once whether this is a
                // one-file transfer.
                self.send_extra(w, wcodec, 1, stats)?;
            }
        }
        Ok(())
    }

    /// send_extra_file_list(): send directory lists until `at_least`
    /// entries wait beyond the generator's current list.
    pub fn send_extra<W: Write>(
        &mut self,
        w: &mut MuxWriter<W>,
        wcodec: &mut NdxCodec,
        at_least: i64,
        stats: &mut Stats,
    ) -> Result<()> {
        if self.lists.eof {
            return Ok(());
        }
        let shape = self.enc.shape;
        while self.live_total() - self.old_total < at_least {
            let Some(dir_ndx) = self.stack.pop() else {
                wcodec.write(w, NDX_FLIST_EOF)?;
                self.lists.eof = true;
                break;
            };
            let dir = self.lists.dir_flist[dir_ndx as usize].clone();
            let written_before = w.total_written;
            wcodec.write(w, NDX_FLIST_OFFSET - dir_ndx)?;
            let io_before = self.builder.io_error;
            let mut entries = if dir.flags & FLAG_CONTENT_DIR != 0 || !dir.rel_names.is_empty() {
                self.builder.scan_children(&dir)
            } else {
                Vec::new()
            };
            // Directories of the same name that follow (a -R name's
            // implied parent and the name itself, say) share this list,
            // as upstream's send_extra_file_list() sends them.
            let mut prev = dir.clone();
            while let Some(&next) = self.stack.last() {
                if self.lists.dir_flist[next as usize].name != dir.name {
                    break;
                }
                self.stack.pop();
                let mut dup = self.lists.dir_flist[next as usize].clone();
                if prev.flags & FLAG_CONTENT_DIR != 0 && dup.local_path == prev.local_path {
                    dup.flags &= !FLAG_CONTENT_DIR;
                }
                if dup.flags & FLAG_CONTENT_DIR != 0 || !dup.rel_names.is_empty() {
                    entries.extend(self.builder.scan_children(&dup));
                }
                prev = dup;
            }
            if let Some(e) = self.builder.fatal.take() {
                return Err(e);
            }
            self.enc.begin_list(self.lists.next_ndx_start());
            for e in &entries {
                self.enc.write_entry(w, e)?;
            }
            let new_err = self.builder.io_error & !io_before;
            self.ctx.shared.add_io_error(self.builder.io_error);
            let io_error = self.ctx.shared.io_error();
            self.enc.write_end(
                w,
                if new_err != 0 && shape.safe_flist {
                    io_error
                } else {
                    0
                },
            )?;
            if new_err != 0 && !shape.safe_flist && shape.protocol == 30 {
                w.send_msg(MsgCode::IoError, &(io_error as i32).to_le_bytes())?;
            }
            stats.flist_size += (w.total_written - written_before) as i64;
            sort_and_clean(&mut entries, shape.protocol, false);
            let dirs_before = self.lists.dir_flist.len();
            self.lists.add(entries, dir_ndx);
            self.queue_dirs(dirs_before);
        }
        Ok(())
    }

    /// The generator moved to the list holding `ndx` (send_files()).
    pub fn note_current(&mut self, ndx: i32) {
        if let Some(pos) = self.lists.list_pos(ndx) {
            self.old_total = self
                .lists
                .lists
                .iter()
                .take(pos + 1)
                .map(|l| l.entries.len() as i64)
                .sum();
        }
    }

    /// NDX_DONE for the oldest list: free it. Returns true when lists remain.
    pub fn list_done(&mut self) -> bool {
        if let Some(l) = self.lists.free_first() {
            self.old_total -= l.entries.len() as i64;
        }
        if self.lists.lists.len() == 1 {
            self.old_total = self.lists.lists[0].entries.len() as i64;
        }
        !self.lists.lists.is_empty()
    }

    pub fn all_entries(&self) -> impl Iterator<Item = &FileEntry> {
        self.lists.iter()
    }
}

fn write_id_lists<W: Write>(w: &mut W, entries: &[FileEntry], shape: &FlistShape) -> Result<()> {
    let mut seen_u: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut seen_g: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut hu = HashSet::new();
    let mut hg = HashSet::new();
    for e in entries {
        if shape.preserve_uid && hu.insert(e.uid) {
            if let Some(n) = name_of_uid(e.uid) {
                seen_u.insert(0, (e.uid, n));
            }
        }
        if shape.preserve_gid && hg.insert(e.gid) {
            if let Some(n) = name_of_gid(e.gid) {
                seen_g.insert(0, (e.gid, n));
            }
        }
    }
    if shape.preserve_uid {
        write_id_list(w, &seen_u, name_of_uid(0).as_deref(), shape)?;
    }
    if shape.preserve_gid {
        write_id_list(w, &seen_g, name_of_gid(0).as_deref(), shape)?;
    }
    Ok(())
}
