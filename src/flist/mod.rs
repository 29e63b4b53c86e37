//! The file list: building it (sender), sorting it (both sides), and the
//! list both ends index by ndx (upstream: flist.c). See protocol-notes/file-list.md.
pub mod build;
pub mod entry;
pub mod sort;

use entry::FileEntry;

/// One sorted file list. Index = ndx (no incremental recursion: ndx_start 0).
#[derive(Debug, Default)]
pub struct FileList {
    pub entries: Vec<FileEntry>,
}

impl FileList {
    pub fn get(&self, ndx: i32) -> Option<&FileEntry> {
        if ndx < 0 {
            return None;
        }
        self.entries.get(ndx as usize)
    }
}
