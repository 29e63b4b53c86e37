//! Per-directory merge files while walking a tree (upstream: exclude.c
//! push_local_filters(), pop_local_filters(), setup_merge_file(),
//! set_filter_dir()).
//!
//! Each `:` rule owns a slot whose list is "this directory's rules, then
//! the inherited ones". Entering a directory turns the current list into
//! the inherited part (or drops it for `n`), reads the file in the new
//! directory and puts its rules in front. Leaving restores the saved lists
//! and forgets slots opened by `:` rules read inside the directory.
//!
//! Anchored rules (`/foo`) in a per-directory file are relative to that
//! file's directory: they are stored with the directory's absolute path in
//! front and matched against the absolute path of the name, like upstream.
//! That is why the stack needs the transfer root's absolute path.

use super::parse::{basename, clean_path, Ctx, Target};
use super::rule::{f, xf, Rule};
use super::{Decision, FilterList, Query, Side};
use crate::error::Result;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

struct Frame {
    slot_count: usize,
    saved: Vec<(usize, Vec<Rule>)>,
}

/// A filter list plus the per-directory state of a tree walk.
pub struct FilterStack {
    list: FilterList,
    /// Transfer root, absolute and cleaned (upstream curr_dir).
    root: Vec<u8>,
    /// `root` without its leading `/` ("" for `/`); what absolute-path
    /// rules are matched against, followed by `/` and the name.
    abs_prefix: Vec<u8>,
    frames: Vec<Frame>,
}

impl FilterStack {
    /// `root` is the absolute path names are relative to (the sender's
    /// current directory after changing into the source; for a daemon the
    /// module-relative form, with the module path made to look like `/`).
    pub fn new(list: FilterList, root: &Path) -> FilterStack {
        let root = clean_path(root.as_os_str().as_bytes());
        let abs_prefix = if root.len() > 1 && root[0] == b'/' {
            root[1..].to_vec()
        } else {
            Vec::new()
        };
        FilterStack {
            list,
            root,
            abs_prefix,
            frames: Vec::new(),
        }
    }

    pub fn list(&self) -> &FilterList {
        &self.list
    }

    /// Messages upstream prints without stopping.
    pub fn warnings(&self) -> &[String] {
        &self.list.warnings
    }

    /// Absolute directory with a trailing `/` (upstream set_filter_dir()).
    fn dirbuf_for(&self, rel_dir: &[u8]) -> Vec<u8> {
        let mut b = self.root.clone();
        if !rel_dir.is_empty() {
            b.push(b'/');
            b.extend_from_slice(rel_dir);
        }
        let mut b = clean_path(&b);
        if b.as_slice() != b"/" {
            b.push(b'/');
        }
        b
    }

    /// Entering directory `rel_dir` (relative to the root; "" or "." for
    /// the root itself) whose files are on disk in `disk_dir`: read its
    /// per-directory merge files. Must be paired with [`pop_dir`].
    ///
    /// [`pop_dir`]: FilterStack::pop_dir
    pub fn push_dir(&mut self, rel_dir: &[u8], disk_dir: &Path) -> Result<()> {
        let dirbuf = self.dirbuf_for(rel_dir);
        let frame = Frame {
            slot_count: self.list.slots.len(),
            saved: self
                .list
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.as_ref().map(|s| (i, s.list.clone())))
                .collect(),
        };
        // Pushed before reading, so an error still leaves push/pop paired.
        self.frames.push(frame);
        let mut ctx = Ctx::new(&mut self.list);
        ctx.dirbuf = dirbuf.clone();
        // New slots opened while reading are handled in this same pass.
        let mut i = 0;
        while i < ctx.slots.len() {
            let Some(slot) = ctx.slots[i].as_mut() else {
                i += 1;
                continue;
            };
            let mut inherited = std::mem::take(&mut slot.list);
            if slot.rule.flags & f::NO_INHERIT != 0 {
                inherited.clear();
            }
            if slot.rule.flags & f::FINISH_SETUP != 0 {
                slot.rule.flags &= !f::FINISH_SETUP;
                setup_merge_file(&mut ctx, i, &mut inherited)?;
                ctx.dirbuf = dirbuf.clone();
            }
            let Some(slot) = ctx.slots[i].as_ref() else {
                i += 1;
                continue;
            };
            let template = slot.rule.flags;
            let name = slot.rule.pattern.clone();
            let mut shown = dirbuf.clone();
            shown.extend_from_slice(&name);
            let disk = disk_dir.join(std::ffi::OsStr::from_bytes(&name));
            let mut t = Target::default();
            ctx.parse_file(&mut t, &shown, Some(&disk), template, xf::ANCHORED2ABS)?;
            if !t.cleared {
                t.rules.extend(inherited);
            }
            if let Some(s) = ctx.slots[i].as_mut() {
                s.list = t.rules;
            }
            i += 1;
        }
        Ok(())
    }

    /// Leaving the directory of the matching [`push_dir`](FilterStack::push_dir).
    pub fn pop_dir(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return;
        };
        self.list.slots.truncate(frame.slot_count);
        for (i, saved) in frame.saved {
            if let Some(Some(s)) = self.list.slots.get_mut(i) {
                s.list = saved;
            }
        }
    }

    /// Depth of pushed directories.
    pub fn depth(&self) -> usize {
        self.frames.len()
    }

    pub fn check(&self, rel_path: &[u8], is_dir: bool, side: Side) -> Decision {
        self.check_query(&Query::new(rel_path, is_dir, side))
    }

    pub fn check_query(&self, q: &Query<'_>) -> Decision {
        self.list.check_query(q, &self.abs_prefix)
    }

    /// Upstream name_is_excluded() for the user's rules.
    pub fn is_excluded(&self, rel_path: &[u8], is_dir: bool, side: Side) -> bool {
        self.check(rel_path, is_dir, side) == Decision::Excluded
    }
}

/// A `:` rule whose name has a directory part: keep only the file name
/// and, if that directory is the current one or above it, read the file in
/// every directory from there down to the current directory's parent
/// (upstream setup_merge_file(); e.g. `-F` = `: /.rsync-filter` reads
/// `/.rsync-filter`, `/home/.rsync-filter`, ... before the transfer root's).
fn setup_merge_file(ctx: &mut Ctx<'_>, i: usize, inherited: &mut Vec<Rule>) -> Result<()> {
    let Some(slot) = ctx.slots[i].as_ref() else {
        return Ok(());
    };
    let template = slot.rule.flags;
    let pattern = slot.rule.pattern.clone();
    let Some(x) = ctx.merge_name(template, &pattern)? else {
        return Ok(());
    };
    if x.first() != Some(&b'/') {
        return Ok(());
    }
    let base = basename(&x).to_vec();
    let dir_len = x.len() - base.len();
    if let Some(Some(s)) = ctx.slots.get_mut(i) {
        s.rule.pattern = base.clone();
    }
    let mut start = clean_path(&x[..dir_len.max(1)]);
    if start.as_slice() != b"/" {
        start.push(b'/');
    }
    let dirbuf = ctx.dirbuf.clone();
    if !dirbuf.starts_with(&start) {
        return Ok(());
    }
    // Every ancestor from `start` down to, not including, dirbuf.
    let mut cur = start.len();
    ctx.parent_dirscan = true;
    let mut res = Ok(());
    while cur < dirbuf.len() {
        let dir = dirbuf[..cur].to_vec();
        ctx.dirbuf = dir.clone();
        let mut path = dir;
        path.extend_from_slice(&base);
        let mut t = Target::default();
        res = ctx.parse_file(&mut t, &path, None, template, xf::ANCHORED2ABS);
        if res.is_err() {
            break;
        }
        if template & f::NO_INHERIT == 0 {
            if !t.cleared {
                t.rules.append(inherited);
            }
            *inherited = t.rules;
        }
        // Next component of dirbuf.
        match dirbuf[cur..].iter().position(|&c| c == b'/') {
            Some(n) => cur += n + 1,
            None => break,
        }
    }
    ctx.parent_dirscan = false;
    res
}
