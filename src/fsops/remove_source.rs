//! `--remove-source-files` on the sending side (upstream: sender.c
//! successful_send()).
//!
//! The sender removes a source file only after the receiving side says it
//! has it (MSG_SUCCESS), and only if the file still has the size and mtime
//! the file list announced: a file changed since it was listed is kept.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What the sender knows about a listed file.
#[derive(Debug, Clone)]
pub struct SentFile {
    /// The name as the transfer shows it (f_name()).
    pub name: Vec<u8>,
    /// Where it is on this machine.
    pub path: std::path::PathBuf,
    pub size: i64,
    pub mtime: i64,
    /// The list carried nanoseconds (protocol >= 31): compare them too.
    pub mtime_nsec: Option<u32>,
}

/// What became of one removal, for the caller's messages.
#[derive(Debug)]
pub enum Removal {
    Removed,
    /// The source is the destination file itself: kept.
    IsDestination,
    /// Size or mtime differ from the list: kept.
    Changed,
    AlreadyGone,
    Failed(&'static str, io::Error),
}

/// successful_send() for one file at `path`.
/// `dest_id` is the destination's (dev, ino) when the receiver is on this
/// machine: the source must not be the very file it was copied onto.
pub fn remove_sent_file(path: &Path, f: &SentFile, dest_id: Option<(u64, u64)>) -> Removal {
    let st = match fs::symlink_metadata(path) {
        Ok(st) => st,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Removal::AlreadyGone,
        Err(e) => return Removal::Failed("re-lstat", e),
    };
    if dest_id == Some((st.dev(), st.ino())) {
        return Removal::IsDestination;
    }
    let nsec_differs = f.mtime_nsec.is_some_and(|n| st.mtime_nsec() as u32 != n);
    if st.size() as i64 != f.size || st.mtime() != f.mtime || nsec_differs {
        return Removal::Changed;
    }
    match fs::remove_file(path) {
        Ok(()) => Removal::Removed,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Removal::AlreadyGone,
        Err(e) => Removal::Failed("remove", e),
    }
}
