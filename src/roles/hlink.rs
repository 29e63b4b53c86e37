//! `-H` on the receiving side: which names of the file list share an inode,
//! which one of them is transferred, and linking the others to it
//! (upstream: hlink.c match_hard_links(), hard_link_check(),
//! maybe_hard_link(), finish_hard_link(), skip_hard_link(); generator.c
//! handle_skipped_hlink()). See protocol-notes/hard-links.md.
//!
//! A group is the set of entries with one `hl_gnum`, in file-list order.
//! Upstream threads a linked list through the entries; the same decisions
//! fall out of a per-group record:
//! - a member that is new and not the group's last is put off ("deferred"),
//!   so a new group is transferred once, through its last member;
//! - a member that exists and is up to date, or the one transferred,
//!   "finishes" the group: the members put off or waiting are linked to it
//!   (waiting ones in arrival order, then the put-off ones backwards, as
//!   upstream's list walk goes), and later members link to it at once;
//! - a member met while another is being transferred waits for it.
//!
//! This is a child module of the generator (it works on its state).

use super::*;

/// One hard-link group on the receiving side.
#[derive(Debug, Default)]
pub(super) struct Group {
    /// Members (ndx) in file-list order, as lists arrive.
    members: Vec<i32>,
    /// The name of the member that finished the group, once one has (kept
    /// as a name: its list may be freed before later members arrive).
    done: Option<Vec<u8>>,
    /// The member being transferred, and those waiting for it.
    sending: Option<i32>,
    waiting: Vec<i32>,
    /// New members put off until a later member is transferred.
    deferred: Vec<i32>,
}

#[derive(Debug, Default)]
pub(super) struct HlinkState {
    groups: HashMap<i32, Group>,
    /// Members whose fate is decided (linked, sent, put off, finished).
    settled: HashSet<i32>,
    /// Transfers the receiver has finished, to finish their groups.
    pub(super) finished: Vec<i32>,
}

/// What the generator does with a non-first member (hard_link_check()).
enum Check {
    /// Treat it like any file (no finished or transferring member yet).
    Process,
    /// Settled: linked, or waiting for the member being transferred.
    Handled,
}

impl HlinkState {
    /// match_hard_links() for one newly added (sorted) list. Without
    /// incremental recursion a group of one is no group at all.
    pub(super) fn match_list(&mut self, list: &mut crate::flist::SubList, inc: bool) -> Result<()> {
        let start = list.ndx_start;
        let mut touched: Vec<i32> = Vec::new();
        for (k, e) in list.entries.iter().enumerate() {
            if e.flags & FLAG_HLINKED == 0 || e.flags & FLAG_CLEARED != 0 {
                continue;
            }
            let gnum = e.hl_gnum;
            if inc && gnum < start && !self.groups.contains_key(&gnum) {
                return Err(Error::protocol(format!(
                    "hard-link gnum {gnum} precedes flist start {start}"
                )));
            }
            let g = self.groups.entry(gnum).or_default();
            g.members.push(start + k as i32);
            touched.push(gnum);
        }
        if !inc {
            for gnum in touched {
                let lone = match self.groups.get(&gnum) {
                    Some(g) if g.members.len() == 1 => g.members[0],
                    _ => continue,
                };
                self.groups.remove(&gnum);
                if let Some(e) = list.entries.get_mut((lone - start) as usize) {
                    e.flags &= !FLAG_HLINKED;
                }
            }
        }
        Ok(())
    }

    fn group_of(&mut self, gnum: i32) -> &mut Group {
        self.groups.entry(gnum).or_default()
    }
}

impl<'a, W: Write> Generator<'a, W> {
    fn hlinked(&self, ndx: i32) -> Option<i32> {
        self.hlinks.as_ref()?;
        let e = self.lists.get(ndx)?;
        (e.flags & FLAG_HLINKED != 0).then_some(e.hl_gnum)
    }

    /// Is `ndx` the last member of its group seen so far (F_HLINK_NOT_LAST)?
    pub(super) fn hlink_is_last(&mut self, ndx: i32) -> bool {
        match (self.hlinked(ndx), self.hlinks.as_mut()) {
            (Some(gnum), Some(h)) => h.group_of(gnum).members.last() == Some(&ndx),
            _ => true,
        }
    }

    /// Put off a new member that is not its group's last (recv_generator()
    /// `statret != 0 && F_HLINK_NOT_LAST`). True when it was put off.
    pub(super) fn hlink_defer(&mut self, ndx: i32) -> bool {
        let Some(gnum) = self.hlinked(ndx) else {
            return false;
        };
        if self.hlink_is_last(ndx) {
            return false;
        }
        let h = self.hlinks.as_mut().expect("hlinked");
        h.group_of(gnum).deferred.push(ndx);
        h.settled.insert(ndx);
        self.hlink_progress(ndx, 1);
        true
    }

    /// A member is being transferred (FLAG_FILE_SENT).
    pub(super) fn hlink_sending(&mut self, ndx: i32) {
        if let Some(gnum) = self.hlinked(ndx) {
            let h = self.hlinks.as_mut().expect("hlinked");
            h.group_of(gnum).sending = Some(ndx);
            h.settled.insert(ndx);
        }
    }

    fn hlink_progress(&mut self, ndx: i32, delta: i32) {
        if self.lists.inc {
            if let Some(p) = self.lists.list_pos(ndx) {
                self.lists.lists[p].in_progress += delta;
            }
        }
    }

    /// hard_link_check() for a member of a group: link it to the finished
    /// member, or queue it behind the one being transferred.
    fn hlink_check(&mut self, ndx: i32, fname: &Path, st: Option<&fs::Metadata>) -> Result<Check> {
        let Some(gnum) = self.hlinked(ndx) else {
            return Ok(Check::Process);
        };
        let h = self.hlinks.as_mut().expect("hlinked");
        let g = h.group_of(gnum);
        if g.sending == Some(ndx) {
            // A redo of the member being transferred.
            return Ok(Check::Process);
        }
        if let Some(leader) = g.done.clone() {
            h.settled.insert(ndx);
            let lpath = self.dest.path(&leader);
            let lst = match fs::symlink_metadata(&lpath) {
                Ok(m) => Some(m),
                Err(e) if self.ctx.opts.dry_run && e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => {
                    self.log(
                        LogCode::ErrorXfer,
                        &format!(
                            "{}: [generator] stat {} failed: {}\n",
                            self.ctx.log.prog,
                            full_fname(&lpath),
                            strerror(&e)
                        ),
                    );
                    return Ok(Check::Handled);
                }
            };
            self.maybe_hard_link(ndx, fname, st, &lpath, lst.as_ref(), &leader)?;
            return Ok(Check::Handled);
        }
        if g.sending.is_some() {
            g.waiting.push(ndx);
            h.settled.insert(ndx);
            self.hlink_progress(ndx, 1);
            return Ok(Check::Handled);
        }
        Ok(Check::Process)
    }

    /// The generator's entry point before a member is handled by type:
    /// true when the member needs nothing more.
    pub(super) fn hard_link_check(
        &mut self,
        ndx: i32,
        fname: &Path,
        st: Option<&fs::Metadata>,
    ) -> Result<bool> {
        Ok(matches!(self.hlink_check(ndx, fname, st)?, Check::Handled))
    }

    /// maybe_hard_link(): make `fname` a link to `oldname` unless it is one
    /// already, and report it (`hf... NAME => LEADER`).
    fn maybe_hard_link(
        &mut self,
        ndx: i32,
        fname: &Path,
        st: Option<&fs::Metadata>,
        oldname: &Path,
        old_st: Option<&fs::Metadata>,
        realname: &[u8],
    ) -> Result<()> {
        let Some(file) = self.lists.get(ndx).cloned() else {
            return Ok(());
        };
        if let (Some(s), Some(o)) = (st, old_st) {
            if s.dev() == o.dev() && s.ino() == o.ino() {
                self.itemize_x(
                    &file,
                    ndx,
                    Some(s),
                    item::LOCAL_CHANGE | item::XNAME_FOLLOWS,
                    Some(b""),
                )?;
                if self.ctx.out.info_name >= 2 && self.ctx.out.has_i == 0 {
                    self.log(
                        LogCode::Client,
                        &format!("{} is uptodate\n", crate::report::safe_name(&file.name)),
                    );
                }
                return Ok(());
            }
        }
        if !self.ctx.opts.dry_run {
            if let Err(e) = atomic_link(oldname, fname, st) {
                self.log(
                    LogCode::ErrorXfer,
                    &format!(
                        "{}: [generator] link {} => {} failed: {}\n",
                        self.ctx.log.prog,
                        full_fname(fname),
                        String::from_utf8_lossy(realname),
                        strerror(&e)
                    ),
                );
                return Ok(());
            }
        }
        self.itemize_x(
            &file,
            ndx,
            st,
            item::LOCAL_CHANGE | item::XNAME_FOLLOWS,
            Some(realname),
        )?;
        self.name_line(&[&file.name, b" => ", realname, b"\n"]);
        Ok(())
    }

    /// finish_hard_link(): `ndx` is in place; link the members waiting for
    /// it and those put off before it.
    pub(super) fn finish_hard_link(&mut self, ndx: i32) -> Result<()> {
        let Some(gnum) = self.hlinked(ndx) else {
            return Ok(());
        };
        let h = self.hlinks.as_mut().expect("hlinked");
        h.settled.insert(ndx);
        let Some(name) = self.lists.get(ndx).map(|e| e.name.clone()) else {
            return Ok(());
        };
        let g = h.group_of(gnum);
        if g.done.is_some() {
            return Ok(());
        }
        g.done = Some(name.clone());
        g.sending = None;
        let mut todo = std::mem::take(&mut g.waiting);
        let mut put_off = std::mem::take(&mut g.deferred);
        put_off.reverse();
        todo.extend(put_off);
        let path = self.dest.path(&name);
        let st = fs::symlink_metadata(&path).ok();
        for m in todo {
            if let Some(mname) = self.lists.get(m).map(|e| e.name.clone()) {
                let mpath = self.dest.path(&mname);
                let mst = fs::symlink_metadata(&mpath).ok();
                self.maybe_hard_link(m, &mpath, mst.as_ref(), &path, st.as_ref(), &name)?;
            }
            self.hlink_progress(m, -1);
        }
        Ok(())
    }

    /// After recv_generator() for a member: a last member that was skipped
    /// hands the transfer to the member put off before it
    /// (handle_skipped_hlink()).
    pub(super) fn hlink_after(&mut self, ndx: i32) -> Result<()> {
        let Some(gnum) = self.hlinked(ndx) else {
            return Ok(());
        };
        let h = self.hlinks.as_mut().expect("hlinked");
        if h.settled.contains(&ndx) {
            return Ok(());
        }
        h.settled.insert(ndx);
        let g = h.group_of(gnum);
        if g.members.last() != Some(&ndx) || g.done.is_some() || g.sending.is_some() {
            return Ok(());
        }
        let Some(next) = g.deferred.pop() else {
            return Ok(());
        };
        if let Some(pos) = g.members.iter().position(|&m| m == next) {
            g.members.truncate(pos + 1);
        }
        h.settled.remove(&next);
        self.hlink_progress(next, -1);
        self.recv_generator(next, false)?;
        self.hlink_after(next)
    }

    /// Transfers the receiver reported done: finish their groups
    /// (check_for_finished_files()).
    pub(super) fn finish_hlinks(&mut self) -> Result<()> {
        let done = match self.hlinks.as_mut() {
            Some(h) => std::mem::take(&mut h.finished),
            None => return Ok(()),
        };
        for ndx in done {
            self.finish_hard_link(ndx)?;
        }
        Ok(())
    }
}

/// Make `path` a hard link to `old`, replacing what is there through a
/// temporary name (syscall.c do_link() via atomic_create()).
fn atomic_link(old: &Path, path: &Path, existing: Option<&fs::Metadata>) -> io::Result<()> {
    match existing {
        None => fs::hard_link(old, path),
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
            fs::hard_link(old, path)
        }
        Some(_) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let mut n = 0u32;
            loop {
                let tmp = dir.join(format!(".gensync-hlink.{}.{n}", std::process::id()));
                match fs::hard_link(old, &tmp) {
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
