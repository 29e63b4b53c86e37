//! "max connections" with "lock file" (upstream connection.c
//! claim_connection()): slot N is a 4-byte record lock at offset 4*N of
//! the lock file; a process holds one until it exits, so the count is
//! right across independent connection processes and after crashes.

use std::fs::File;
use std::io;

/// Claim a slot. `Ok(None)` when there is no limit; `Err(None)` when every
/// slot is taken; `Err(Some(e))` when the lock file cannot be used.
pub fn claim_connection(lock_file: &str, max: i32) -> Result<Option<File>, Option<io::Error>> {
    if max <= 0 {
        return Ok(None);
    }
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(lock_file)
        .map_err(Some)?;
    for i in 0..max {
        let lk = nix::libc::flock {
            l_type: nix::libc::F_WRLCK as i16,
            l_whence: nix::libc::SEEK_SET as i16,
            l_start: i64::from(i) * 4,
            l_len: 4,
            l_pid: 0,
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        if nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETLK(&lk)).is_ok() {
            return Ok(Some(f));
        }
    }
    Err(None)
}
