//! Temporary files beside the destination (upstream: receiver.c
//! get_tmpname(), util1.c robust_rename(); cleanup.c for signals).
//!
//! A received file is written to `.NAME.XXXXXX` in the destination directory,
//! verified, given its metadata, then renamed over NAME. Every live temp file
//! is registered so that a signal or a fatal error removes it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Live temp files and the destination each one stands for.
/// Live temp files: where each goes with `--partial`, and the mode it is
/// given then (finish_transfer() sets the attributes, not the time).
static LIVE: Mutex<Option<HashMap<PathBuf, Keep>>> = Mutex::new(None);

/// Where an interrupted temp file goes, and its permissions then.
type Keep = (PathBuf, Option<u32>);
static COUNTER: AtomicU64 = AtomicU64::new(0);
/// `--partial`: an interrupted file is kept under its destination name
/// instead of being removed (receiver.c / cleanup.c keep_partial).
static KEEP_PARTIAL: AtomicBool = AtomicBool::new(false);

pub fn set_keep_partial(on: bool) {
    KEEP_PARTIAL.store(on, Ordering::Relaxed);
}

/// Our pid, looked up once rather than per file.
fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// Longest temp name we build (NAME_MAX); longer names are shortened.
const NAME_MAX: usize = 255;

/// Create a fresh temp file next to `dest`, registered for cleanup.
pub fn create_temp(dest: &Path) -> io::Result<(File, PathBuf)> {
    create_temp_in(dest, None, dest)
}

/// receiver.c get_tmpname() + mkstemp(): `.NAME.XXXXXX` beside `dest`, or
/// `NAME.XXXXXX` (no dot) in `tmpdir` (`-T`). `keep_as` is where an
/// interrupted file goes with `--partial` (the destination itself, or its
/// name in the partial dir).
pub fn create_temp_in(
    dest: &Path,
    tmpdir: Option<&Path>,
    keep_as: &Path,
) -> io::Result<(File, PathBuf)> {
    let dir = tmpdir.unwrap_or_else(|| dest.parent().unwrap_or(Path::new(".")));
    let mut base = dest
        .file_name()
        .map(|n| n.as_bytes().to_vec())
        .unwrap_or_default();
    let lead: &[u8] = if tmpdir.is_some() {
        b""
    } else {
        // No second leading dot on a dot file.
        if base.first() == Some(&b'.') {
            base.remove(0);
        }
        b"."
    };
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let suffix = format!(".{:06}", (n ^ (pid() as u64 * 7919)) % 1_000_000);
        let mut name = lead.to_vec();
        let room = NAME_MAX - 1 - suffix.len();
        name.extend_from_slice(&base[..base.len().min(room)]);
        name.extend_from_slice(suffix.as_bytes());
        let path = dir.join(std::ffi::OsString::from_vec(name));
        match OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => {
                register(&path, keep_as);
                return Ok((f, path));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn register(p: &Path, dest: &Path) {
    let mut g = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    g.get_or_insert_with(HashMap::new)
        .insert(p.to_path_buf(), (dest.to_path_buf(), None));
}

/// The permissions a kept partial file gets.
pub fn set_keep_mode(p: &Path, mode: u32) {
    let mut g = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = g.as_mut().and_then(|s| s.get_mut(p)) {
        e.1 = Some(mode & 0o7777);
    }
}

/// The temp file was renamed into place or removed: stop tracking it.
pub fn forget(p: &Path) {
    let mut g = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = g.as_mut() {
        s.remove(p);
    }
}

/// Remove a temp file that will not be used.
pub fn discard(p: &Path) {
    let _ = std::fs::remove_file(p);
    forget(p);
}

/// Deal with every live temp file after a signal or a fatal error: remove
/// it, or with `--partial` move what arrived into place (only if anything
/// did, as upstream keeps only a non-empty partial file).
pub fn cleanup_all() {
    let mut g = LIVE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = g.take() {
        let keep = KEEP_PARTIAL.load(Ordering::Relaxed);
        for (tmp, (dest, mode)) in s {
            let has_data = std::fs::metadata(&tmp)
                .map(|m| m.len() > 0)
                .unwrap_or(false);
            if keep && has_data {
                // A partial dir is made on demand (handle_partial_dir()).
                if let Some(m) = mode {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(m));
                }
                if super::partial::create_partial_dir(&dest) && std::fs::rename(&tmp, &dest).is_ok()
                {
                    continue;
                }
            }
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_are_hidden_unique_and_cleaned() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("x".repeat(300));
        let (_f1, p1) = create_temp(&dest).unwrap();
        let (_f2, p2) = create_temp(&dest).unwrap();
        assert_ne!(p1, p2);
        assert!(p1.file_name().unwrap().as_bytes().starts_with(b".x"));
        assert!(p1.file_name().unwrap().len() <= 255);
        cleanup_all();
        assert!(!p1.exists() && !p2.exists());
    }
}
