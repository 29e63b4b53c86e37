//! `--min-size` / `--max-size` on the generator (upstream: the checks in
//! generator.c recv_generator() just after non-regular files are skipped).
//! The sender lists every file; only the generator declines to request the
//! ones outside the limits, and a redo ignores the limits.

use super::Ctx;
use crate::flist::entry::FileEntry;
use crate::report::LogCode;

/// True when a regular file is too big or too small to be requested; with
/// `-vv` (info SKIP) the reason is shown as rsync shows it.
pub fn outside_size_limits(ctx: &Ctx, file: &FileEntry) -> bool {
    let o = &ctx.opts;
    let why = if o.max_size >= 0 && file.size > o.max_size {
        "over max-size"
    } else if o.min_size >= 0 && file.size < o.min_size {
        "under min-size"
    } else {
        return false;
    };
    if ctx.out.info_skip >= 1 {
        ctx.log.log(
            LogCode::Info,
            &format!("{} is {why}\n", String::from_utf8_lossy(&file.name)),
        );
    }
    true
}
