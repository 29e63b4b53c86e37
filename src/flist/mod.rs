//! The file lists both ends index by ndx (upstream: flist.c flist_new(),
//! flist_for_ndx(), flist_free(), add_dirs_to_tree()).
//! See protocol-notes/file-list.md.
//!
//! Without incremental recursion there is one list starting at ndx 0. With
//! it (CF_INC_RECURSE) the first list starts at 1, each later list starts one
//! past the previous list's end, and the ndx just below a list's start names
//! that list's directory: an entry of `dir_flist`, the list of all
//! directories in the order both sides added them.
pub mod build;
pub mod chmod;
pub mod entry;
pub mod files_from;
pub mod idmap;
pub mod links;
pub mod sort;

use entry::FileEntry;
use std::collections::VecDeque;

/// One file list (upstream struct file_list).
#[derive(Debug, Default, Clone)]
pub struct SubList {
    pub ndx_start: i32,
    /// Sorted entries; ndx = ndx_start + position.
    pub entries: Vec<FileEntry>,
    /// Index into `dir_flist` of the directory this list fills, or -1.
    pub parent: i32,
    /// Transfer requests sent for this list and not yet finished.
    pub in_progress: i32,
}

impl SubList {
    pub fn end(&self) -> i32 {
        self.ndx_start + self.entries.len() as i32
    }
}

/// All live file lists of one side.
#[derive(Debug, Default)]
pub struct FileLists {
    pub lists: VecDeque<SubList>,
    /// Every directory of every list, in the order the lists were added.
    pub dir_flist: Vec<FileEntry>,
    pub inc: bool,
    /// No more lists will come (NDX_FLIST_EOF seen or sent).
    pub eof: bool,
    next_start: i32,
    /// dir_flist slots that already got their list (CVE-2024-12087 check).
    got_list: Vec<bool>,
    /// Entries in all lists ever added.
    pub total_entries: i64,
    /// Sum of regular-file and symlink sizes over all lists ever added.
    pub total_size: i64,
    /// Per-type counts over all lists ever added: dirs, symlinks, devices, specials.
    pub type_counts: [i64; 4],
}

impl FileLists {
    pub fn new(inc: bool) -> Self {
        FileLists {
            inc,
            next_start: if inc { 1 } else { 0 },
            eof: !inc,
            ..FileLists::default()
        }
    }

    /// The ndx_start the next list added will get.
    pub fn next_ndx_start(&self) -> i32 {
        self.next_start
    }

    /// Add a sorted list. `parent` is the dir_flist index it fills (-1 for
    /// the first list unless its first entry is ".").
    pub fn add(&mut self, entries: Vec<FileEntry>, parent: i32) -> &SubList {
        let ndx_start = self.next_start;
        self.next_start += entries.len() as i32 + if self.inc { 1 } else { 0 };
        for e in &entries {
            if e.is_dir() {
                self.dir_flist.push(e.clone());
                self.got_list.push(false);
            }
        }
        if parent >= 0 {
            if let Some(g) = self.got_list.get_mut(parent as usize) {
                *g = true;
            }
        }
        self.total_entries += entries.len() as i64;
        for e in &entries {
            use entry::FileType::*;
            match e.file_type() {
                Some(Regular) => self.total_size += e.size,
                Some(Symlink) => {
                    self.total_size += e.size;
                    self.type_counts[1] += 1;
                }
                Some(Dir) => self.type_counts[0] += 1,
                Some(t) if t.is_device() => self.type_counts[2] += 1,
                Some(_) => self.type_counts[3] += 1,
                None => {}
            }
        }
        self.lists.push_back(SubList {
            ndx_start,
            entries,
            parent,
            in_progress: 0,
        });
        self.lists.back().expect("just pushed")
    }

    /// The parent index a new first list gets (flist.c send_file_list()).
    pub fn first_parent(&self, entries: &[FileEntry]) -> i32 {
        if self.inc
            && entries
                .first()
                .is_some_and(|e| e.name == b"." && e.is_dir())
        {
            self.dir_flist.len() as i32
        } else {
            -1
        }
    }

    /// Whether `dir_ndx` may receive a list now.
    pub fn may_receive_list(&self, dir_ndx: i32) -> bool {
        dir_ndx >= 0
            && (dir_ndx as usize) < self.dir_flist.len()
            && !self.got_list[dir_ndx as usize]
            && self.dir_flist[dir_ndx as usize].name != b"."
            && self.dir_flist[dir_ndx as usize].flags & entry::FLAG_CLEARED == 0
    }

    /// Which live list an ndx belongs to, including its parent slot
    /// (rsync.c flist_for_ndx()).
    pub fn list_pos(&self, ndx: i32) -> Option<usize> {
        self.lists.iter().position(|l| {
            let low = if self.inc {
                l.ndx_start - 1
            } else {
                l.ndx_start
            };
            ndx >= low && ndx < l.end()
        })
    }

    /// The entry an ndx names: a list entry or a list's directory.
    pub fn get(&self, ndx: i32) -> Option<&FileEntry> {
        let l = &self.lists[self.list_pos(ndx)?];
        if ndx >= l.ndx_start {
            l.entries.get((ndx - l.ndx_start) as usize)
        } else if l.parent >= 0 {
            self.dir_flist.get(l.parent as usize)
        } else {
            None
        }
    }

    pub fn get_mut(&mut self, ndx: i32) -> Option<&mut FileEntry> {
        let pos = self.list_pos(ndx)?;
        let l = &mut self.lists[pos];
        if ndx >= l.ndx_start {
            l.entries.get_mut((ndx - l.ndx_start) as usize)
        } else if l.parent >= 0 {
            self.dir_flist.get_mut(l.parent as usize)
        } else {
            None
        }
    }

    /// Drop the oldest list (flist_free(first_flist)).
    pub fn free_first(&mut self) -> Option<SubList> {
        self.lists.pop_front()
    }

    /// Every entry of every live list, in ndx order.
    pub fn iter(&self) -> impl Iterator<Item = &FileEntry> {
        self.lists.iter().flat_map(|l| l.entries.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entry::{S_IFDIR, S_IFREG};

    fn e(n: &str, dir: bool) -> FileEntry {
        FileEntry {
            name: n.as_bytes().to_vec(),
            mode: if dir {
                S_IFDIR | 0o755
            } else {
                S_IFREG | 0o644
            },
            ..FileEntry::default()
        }
    }

    #[test]
    fn incremental_ndx_layout_matches_upstream() {
        // Captured from rsync 3.5.0: lists at 1, 5, 7, 9; dirs at 0, 4, 6, 8.
        let mut fl = FileLists::new(true);
        let first = vec![e(".", true), e("d1", true), e("d2", true)];
        let p = fl.first_parent(&first);
        assert_eq!(p, 0);
        assert_eq!(fl.add(first, p).ndx_start, 1);
        assert_eq!(fl.add(vec![e("d1/x", false)], 1).ndx_start, 5);
        assert_eq!(fl.add(vec![e("d2/y", false)], 2).ndx_start, 7);
        assert_eq!(fl.get(0).unwrap().name, b".");
        assert_eq!(fl.get(4).unwrap().name, b"d1");
        assert_eq!(fl.get(5).unwrap().name, b"d1/x");
        assert!(fl.get(9).is_none());
        assert!(!fl.may_receive_list(1));
        assert!(!fl.may_receive_list(0));
        assert!(!fl.may_receive_list(99));
    }
}
