//! The receiving side's file lists: reading a list, mapping ids by name,
//! sorting and cleaning (upstream: flist.c recv_file_list(),
//! recv_additional_file_list(); uidlist.c recv_id_list(), match_uid()).
//! See protocol-notes/file-list.md.

use super::Ctx;
use crate::error::{Error, ExitCode, IoError, Result};
use crate::flist::entry::{FileEntry, FLAG_CLEARED};
use crate::flist::idmap::{local_id, NameMap};
use crate::flist::sort::sort_and_clean;
use crate::flist::FileLists;
use crate::report::stats::Stats;
use crate::wire::flist::{read_id_list, FlistDecoder, FlistItem};
use crate::wire::int::read_int;
use crate::wire::ndx::{NdxCodec, NDX_FLIST_EOF, NDX_FLIST_OFFSET};
use std::collections::HashMap;
use std::io::Read;

/// Upper bound on one list's entries, so a hostile sender cannot make us
/// allocate without limit.
const MAX_LIST_ENTRIES: usize = 1 << 26;

/// Sender ids -> our ids (uidlist.c recv_add_id(), match_uid(),
/// match_gid()): by `--usermap`/`--groupmap` first, else by the name the
/// sender gave (id lists or inline names), else unchanged.
#[derive(Debug, Default)]
pub struct IdMaps {
    names: HashMap<(bool, u32), Vec<u8>>,
    done: HashMap<(bool, u32), u32>,
    usermap: Option<NameMap>,
    groupmap: Option<NameMap>,
    /// Without CF_ID0_NAMES, id 0 is taken to be "root" (unless
    /// `--numeric-ids`).
    id0_root: bool,
}

impl IdMaps {
    pub fn learn(&mut self, user: bool, id: u32, name: &[u8]) {
        if !name.is_empty() {
            self.names.insert((user, id), name.to_vec());
        }
    }

    fn resolve(&mut self, user: bool, id: u32) -> u32 {
        if let Some(&to) = self.done.get(&(user, id)) {
            return to;
        }
        let name: &[u8] = match self.names.get(&(user, id)) {
            Some(n) => n,
            None if id == 0 && self.id0_root => b"root",
            None => b"",
        };
        let map = if user { &self.usermap } else { &self.groupmap };
        let to = match map.as_ref().and_then(|m| m.lookup(id, name)) {
            Some(to) => to,
            None if !name.is_empty() && id != 0 => local_id(user, name).unwrap_or(id),
            None => id,
        };
        self.done.insert((user, id), to);
        to
    }

    /// Apply the maps to a received list (uidlist.c recv_id_list()).
    pub fn apply(&mut self, entries: &mut [FileEntry], opts: &crate::options::Options) {
        let am_root = opts.am_root();
        let map_uid = am_root && opts.owner && (!opts.numeric_ids || self.usermap.is_some());
        let map_gid = opts.group && (!am_root || !opts.numeric_ids || self.groupmap.is_some());
        for e in entries {
            if map_uid {
                e.uid = self.resolve(true, e.uid);
            }
            if map_gid {
                e.gid = self.resolve(false, e.gid);
            }
        }
    }
}

/// Read one list up to its end marker; returns the entries in wire order.
pub fn read_entries<R: Read>(
    ctx: &Ctx,
    r: &mut R,
    dec: &mut FlistDecoder,
) -> Result<Vec<FileEntry>> {
    let mut entries: Vec<FileEntry> = Vec::new();
    loop {
        match dec.read_entry(r, &entries)? {
            FlistItem::Entry(e) => {
                if entries.len() >= MAX_LIST_ENTRIES {
                    return Err(Error::new(ExitCode::MALLOC, "file list too large"));
                }
                entries.push(e)
            }
            FlistItem::End(err) => {
                ctx.shared.add_io_error(err);
                return Ok(entries);
            }
        }
    }
}

pub struct ListReceiver {
    pub dec: FlistDecoder,
    pub ids: IdMaps,
}

impl ListReceiver {
    pub fn new(dec: FlistDecoder) -> Self {
        ListReceiver {
            dec,
            ids: IdMaps::default(),
        }
    }

    fn finish(&mut self, ctx: &Ctx, mut entries: Vec<FileEntry>) -> Vec<FileEntry> {
        for (user, id, name) in std::mem::take(&mut self.dec.id_names) {
            self.ids.learn(user, id, &name);
        }
        self.ids.apply(&mut entries, &ctx.opts);
        if ctx.opts.munge_links {
            // recv_file_entry(): a munging receiver stores every target
            // behind the prefix.
            for e in entries.iter_mut() {
                if let Some(t) = e.link_target.as_mut() {
                    crate::flist::links::munge(t);
                }
            }
        }
        if let Some(c) = ctx.opts.chmod.as_ref() {
            // A receiving client applies its own --chmod (recv_file_entry()).
            for e in entries.iter_mut() {
                if !e.is_symlink() && e.mode != 0 {
                    e.mode = c.tweak(e.mode);
                }
            }
        }
        sort_and_clean(&mut entries, ctx.protocol(), true);
        if ctx.opts.relative {
            // `-R /abs/path`: the receiver's names lose their leading
            // slashes once sorted (flist_sort_and_clean() strip_root).
            for e in entries.iter_mut() {
                let n = e.name.iter().take_while(|&&c| c == b'/').count();
                if n > 0 {
                    e.name.drain(..n);
                    if e.name.is_empty() {
                        e.name.push(b'.');
                    }
                }
            }
        }
        if ctx.opts.prune_empty_dirs {
            prune_empty_dirs(&mut entries, &|name| {
                ctx.filters.check(name, true, crate::filter::Side::Receiver)
                    == crate::filter::Decision::Excluded
            });
        }
        entries
    }

    /// recv_file_list() for the first list, with the id lists and the old
    /// io_error word that follow it.
    pub fn recv_first<R: Read>(
        &mut self,
        ctx: &Ctx,
        r: &mut R,
        lists: &mut FileLists,
        stats: &mut Stats,
        read_count: &dyn Fn(&R) -> u64,
    ) -> Result<()> {
        // parse_name_map() happens as the first list is read.
        for (user, map) in [(true, &ctx.opts.usermap), (false, &ctx.opts.groupmap)] {
            if let Some(m) = map {
                let parsed = NameMap::parse(m, user, &ctx.log)
                    .map_err(|msg| Error::bare(ExitCode::SYNTAX, msg))?;
                if user {
                    self.ids.usermap = Some(parsed);
                } else {
                    self.ids.groupmap = Some(parsed);
                }
            }
        }
        self.ids.id0_root = !self.dec.shape.id0_names && !ctx.opts.numeric_ids;
        let before = read_count(r);
        self.dec.begin_list(lists.next_ndx_start());
        let entries = read_entries(ctx, r, &mut self.dec)?;
        self.dec.forget_hlink_devs();
        let shape = self.dec.shape;
        if !ctx.opts.numeric_ids && !shape.inc_recurse {
            if shape.preserve_uid {
                for (id, name) in read_id_list(r, &shape)? {
                    self.ids.learn(true, id, &name);
                }
            }
            if shape.preserve_gid {
                for (id, name) in read_id_list(r, &shape)? {
                    self.ids.learn(false, id, &name);
                }
            }
        }
        if ctx.protocol() < 30 {
            let e = read_int(r)? as u32;
            ctx.shared.add_io_error(e & IoError::VALID_MASK);
        }
        stats.flist_size += (read_count(r) - before) as i64;
        let entries = self.finish(ctx, entries);
        let parent = lists.first_parent(&entries);
        lists.add(entries, parent);
        Ok(())
    }

    /// A directory's list announced by `ndx` (read_ndx_and_attrs()).
    pub fn recv_sub<R: Read>(
        &mut self,
        ctx: &Ctx,
        r: &mut R,
        lists: &mut FileLists,
        ndx: i32,
    ) -> Result<(Vec<FileEntry>, i32)> {
        let dir_ndx = NDX_FLIST_OFFSET - ndx;
        if !lists.may_receive_list(dir_ndx) {
            return Err(Error::protocol(format!("Invalid dir index: {dir_ndx}")));
        }
        self.dec.begin_list(lists.next_ndx_start());
        let entries = read_entries(ctx, r, &mut self.dec)?;
        let dir = lists.dir_flist[dir_ndx as usize].name.clone();
        // Every entry must lie directly in the list's directory.
        for e in &entries {
            // A relative name's leading slashes are dropped on this side.
            let name = if ctx.opts.relative {
                let n = e.name.iter().take_while(|&&c| c == b'/').count();
                &e.name[n..]
            } else {
                &e.name[..]
            };
            let parent = match memchr::memrchr(b'/', name) {
                Some(i) => &name[..i],
                None => b".",
            };
            if parent != dir.as_slice() {
                return Err(Error::unsupported(format!(
                    "ABORTING due to invalid path from sender: {}",
                    String::from_utf8_lossy(&e.name)
                )));
            }
        }
        let entries = self.finish(ctx, entries);
        lists.add(entries.clone(), dir_ndx);
        Ok((entries, dir_ndx))
    }

    /// recv_additional_file_list(): after a one-entry first list the sender
    /// at once sends the next list or NDX_FLIST_EOF.
    pub fn recv_additional<R: Read>(
        &mut self,
        ctx: &Ctx,
        r: &mut R,
        codec: &mut NdxCodec,
        lists: &mut FileLists,
    ) -> Result<()> {
        let ndx = codec.read(r)?;
        if ndx == NDX_FLIST_EOF {
            lists.eof = true;
            return Ok(());
        }
        if ndx > NDX_FLIST_OFFSET {
            return Err(Error::protocol(format!("Invalid file index: {ndx}")));
        }
        self.recv_sub(ctx, r, lists, ndx)?;
        Ok(())
    }
}

/// `-m` on the receiving side (flist.c flist_sort_and_clean()): clear every
/// directory of the sorted list with no non-directory below it, unless the
/// rules exclude it (an excluded directory keeps itself and its parents).
/// Cleared entries keep their slot, so indexes stay the same.
pub fn prune_empty_dirs(entries: &mut [FileEntry], excluded: &dyn Fn(&[u8]) -> bool) {
    // Directories that may still be pruned, outermost first: a run of the
    // directories seen last, each inside the one before.
    let mut pending: Vec<usize> = Vec::new();
    let mut prev_depth = 0usize;
    let depth = |e: &FileEntry| -> usize {
        if e.name == b"." {
            0
        } else {
            e.name.iter().filter(|&&c| c == b'/').count() + 1
        }
    };
    for i in 0..entries.len() {
        let e = &entries[i];
        if e.flags & FLAG_CLEARED != 0 {
            continue;
        }
        let d = depth(e);
        if e.is_dir() && d > 0 {
            // Coming back up: what was left open at this depth or deeper
            // held nothing.
            let mut j = prev_depth as isize;
            while j >= d as isize {
                let Some(k) = pending.pop() else { break };
                entries[k].flags |= FLAG_CLEARED;
                j -= 1;
            }
            prev_depth = d;
            if excluded(&entries[i].name) {
                pending.clear();
            } else {
                pending.push(i);
            }
        } else {
            // A file keeps every directory above it.
            pending.clear();
        }
    }
    for k in pending {
        entries[k].flags |= FLAG_CLEARED;
    }
}

#[cfg(test)]
mod prune_tests {
    use super::*;
    use crate::flist::entry::{S_IFDIR, S_IFREG};

    fn list(names: &[&str]) -> Vec<FileEntry> {
        names
            .iter()
            .map(|n| {
                let (name, mode) = match n.strip_suffix('/') {
                    Some(d) => (d, S_IFDIR | 0o755),
                    None => (*n, S_IFREG | 0o644),
                };
                FileEntry {
                    name: name.as_bytes().to_vec(),
                    mode,
                    ..FileEntry::default()
                }
            })
            .collect()
    }

    fn kept(entries: &[FileEntry]) -> Vec<String> {
        entries
            .iter()
            .filter(|e| e.flags & FLAG_CLEARED == 0)
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }

    #[test]
    fn prunes_chains_without_files() {
        // Sorted as protocol 29+ sorts: files before subdirectories.
        let mut l = list(&[
            ".", "top", "a/", "a/b/", "a/b/c/", "a/b/c/f", "e/", "e/x/", "g/",
        ]);
        prune_empty_dirs(&mut l, &|_| false);
        assert_eq!(kept(&l), [".", "top", "a", "a/b", "a/b/c", "a/b/c/f"]);
        // An excluded directory keeps itself and its parents.
        let mut l = list(&[".", "e/", "e/x/", "g/"]);
        prune_empty_dirs(&mut l, &|n| n == b"e/x");
        assert_eq!(kept(&l), [".", "e", "e/x"]);
    }
}
