//! Where the roles make backups (upstream: main.c do_recv() checks the
//! backup dir; rsync.c finish_transfer(), generator.c atomic_create() and
//! delete.c delete_item() call make_backup()). The work itself is in
//! `fsops::backup`.

use super::dest::Dest;
use super::Ctx;
use crate::error::{Error, ExitCode, Result};
use crate::fsops::backup::{Backed, Backup};
use crate::fsops::AttrOpts;
use crate::report::LogCode;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The directory names are relative to (upstream's cwd): the destination,
/// or the parent of a one-file destination, with the name there.
fn base_and_name<'a>(dest: &'a Dest, name: &'a [u8]) -> (&'a Path, &'a [u8]) {
    if let Some(solo) = &dest.solo {
        let parent = solo.parent().filter(|p| !p.as_os_str().is_empty());
        let leaf = solo.file_name().map(|f| f.as_bytes()).unwrap_or(name);
        return (parent.unwrap_or(Path::new(".")), leaf);
    }
    let mut name = name;
    while let [b'/', rest @ ..] = name {
        name = rest;
    }
    (&dest.base, name)
}

/// The backup settings for this run's destination, or None without `-b`.
pub fn for_dest(ctx: &Ctx, dest: &Dest, attr: &AttrOpts) -> Option<Backup> {
    let (base, _) = base_and_name(dest, b"");
    // Backup directories take the destination directories' attributes only
    // as far as they are preserved.
    let attr = AttrOpts {
        perms: ctx.opts.perms,
        ..*attr
    };
    // Info BACKUP comes with -vv, as SKIP does.
    Backup::new(
        &ctx.opts,
        base,
        attr,
        ctx.log.clone(),
        ctx.out.info_skip >= 1,
        ctx.out.info_nonreg >= 1,
    )
}

/// Back up the destination item `name` before it is replaced.
pub fn backup_item(b: &Backup, dest: &Dest, name: &[u8], prefer_rename: bool) -> Backed {
    let (base, leaf) = base_and_name(dest, name);
    if dest.solo.is_some() {
        return b.rebased(base).make_backup(leaf, prefer_rename);
    }
    b.make_backup(leaf, prefer_rename)
}

/// do_recv(): before any transfer, the backup dir must be a directory or
/// missing (then it is made on first use); `-vv` says which.
pub fn check_backup_dir(ctx: &Ctx, dest: &Dest) -> Result<()> {
    let Some(dir) = ctx
        .opts
        .backup_dir
        .as_deref()
        .filter(|_| ctx.opts.make_backups)
    else {
        return Ok(());
    };
    let (base, _) = base_and_name(dest, b"");
    let mut shown = dir.to_vec();
    if !shown.ends_with(b"/") {
        shown.push(b'/');
    }
    // Shown without its slash, except for "/" itself.
    if shown.len() > 1 {
        shown.pop();
    }
    let shown = crate::report::safe_name(&shown);
    let path = base.join(std::ffi::OsStr::from_bytes(dir));
    let new = match std::fs::metadata(&path) {
        Ok(st) if st.mode() & crate::flist::entry::S_IFMT == crate::flist::entry::S_IFDIR => false,
        Ok(_) => {
            return Err(Error::bare(
                ExitCode::SYNTAX,
                format!("The backup-dir is not a directory: {shown}"),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            return Err(Error::bare(
                ExitCode::FILEIO,
                format!(
                    "Failed to stat {shown}: {}",
                    crate::error::strerror_plain(&e)
                ),
            ))
        }
    };
    if ctx.out.info_skip >= 1 {
        let what = if new {
            "(new) backup_dir"
        } else {
            "backup_dir"
        };
        ctx.log.log(LogCode::Info, &format!("{what} is {shown}\n"));
    }
    Ok(())
}

/// atomic_create(): an item (not a directory) that a new symlink replaces
/// is backed up first, by a hard link. False when that failed.
pub fn before_replace(
    ctx: &Ctx,
    dest: &Dest,
    attr: &AttrOpts,
    name: &[u8],
    st: &Option<std::fs::Metadata>,
) -> bool {
    let Some(st) = st.as_ref().filter(|m| !m.is_dir()) else {
        return true;
    };
    let _ = st;
    match for_dest(ctx, dest, attr) {
        // A dry run only says what it would keep.
        Some(b) if ctx.opts.dry_run => {
            let (base, leaf) = base_and_name(dest, name);
            if let Some(line) = b.rebased(base).dry_run_line(leaf) {
                ctx.log.log(LogCode::Info, &line);
            }
            true
        }
        Some(b) => backup_item(&b, dest, name, false) != Backed::Failed,
        None => true,
    }
}
