//! Where a transfer lands on the receiving side (upstream: main.c
//! get_local_name()): into a directory (created when needed), or, for a
//! single non-directory, under the name the user gave.

use super::Ctx;
use crate::error::{strerror, Error, ExitCode, Result};
use crate::flist::build::full_fname;
use crate::flist::entry::FileEntry;
use crate::report::LogCode;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Where entries land (upstream: the cwd after get_local_name(), or the
/// single "local name" of a one-file transfer).
#[derive(Debug, Clone)]
pub struct Dest {
    pub base: PathBuf,
    pub solo: Option<PathBuf>,
    /// get_local_name() created the destination directory, so "." is
    /// itemized as new (upstream FLAG_DIR_CREATED).
    pub root_created: bool,
}

impl Dest {
    pub fn path(&self, name: &[u8]) -> PathBuf {
        if let Some(s) = &self.solo {
            return s.clone();
        }
        // A relative name may start with "/" (`-R /abs/path`); it still
        // lands under the destination.
        let mut name = name;
        while let [b'/', rest @ ..] = name {
            name = rest;
        }
        if name == b"." || name.is_empty() {
            return self.base.clone();
        }
        self.base.join(std::ffi::OsStr::from_bytes(name))
    }
}

/// Decide where the transfer lands and create the destination directory
/// (main.c get_local_name()). Returns the Dest and whether the run becomes a
/// "dry run of a missing destination" (upstream dry_run == 2).
pub fn get_local_name(
    ctx: &Ctx,
    first: &[FileEntry],
    file_total: usize,
    dest_arg: &[u8],
) -> Result<(Dest, bool)> {
    let opts = &ctx.opts;
    if opts.list_only {
        return Ok((
            Dest {
                base: PathBuf::from("."),
                solo: None,
                root_created: false,
            },
            true,
        ));
    }
    let dest_arg: &[u8] = if dest_arg.is_empty() { b"." } else { dest_arg };
    let dest_path = PathBuf::from(std::ffi::OsString::from_vec(dest_arg.to_vec()));
    let trailing_slash = dest_arg.ends_with(b"/");
    let has_slash = dest_arg.contains(&b'/');
    let mut st = fs::metadata(&dest_path);
    if opts.mkpath && st.is_err() && (has_slash || file_total > 1) {
        // MKP_DROP_NAME drops what follows the last '/', which for "dir/"
        // is nothing: the whole directory is made.
        let target = if file_total > 1 && !trailing_slash {
            dest_path.clone()
        } else {
            let cut = memchr::memrchr(b'/', dest_arg).unwrap_or(0);
            PathBuf::from(std::ffi::OsString::from_vec(dest_arg[..cut].to_vec()))
        };
        let created = make_path(&target, opts.dry_run).map_err(|e| {
            Error::new(
                ExitCode::FILEIO,
                format!(
                    "{}: mkdir {} failed: {}",
                    ctx.log.prog,
                    full_fname(&target),
                    strerror(&e)
                ),
            )
        })?;
        if created > 0 && (ctx.out.info_name >= 1 || ctx.out.has_i > 0) {
            ctx.log.log(
                LogCode::Info,
                &format!(
                    "created {created} director{} for {}\n",
                    if created == 1 { "y" } else { "ies" },
                    target.display()
                ),
            );
        }
        st = fs::metadata(&dest_path);
    }
    match &st {
        Ok(m) if m.is_dir() => {
            return Ok((
                Dest {
                    base: dest_path,
                    solo: None,
                    root_created: false,
                },
                false,
            ));
        }
        Ok(_) => {
            if file_total > 1 {
                return Err(Error::new(
                    ExitCode::FILESELECT,
                    "ERROR: destination must be a directory when copying more than 1 file",
                ));
            }
            if file_total == 1 && first[0].is_dir() {
                return Err(Error::new(
                    ExitCode::FILESELECT,
                    "ERROR: cannot overwrite non-directory with a directory",
                ));
            }
        }
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(Error::new(
                ExitCode::FILESELECT,
                format!(
                    "{}: ERROR: cannot stat destination {}: {}",
                    ctx.log.prog,
                    full_fname(&dest_path),
                    strerror(e)
                ),
            ));
        }
        Err(_) => {}
    }
    if file_total > 1 || trailing_slash {
        if st.is_ok() {
            return Err(Error::syntax("ERROR: destination path is not a directory"));
        }
        let mkdir_path = if trailing_slash {
            PathBuf::from(std::ffi::OsString::from_vec(
                dest_arg[..dest_arg.len() - 1].to_vec(),
            ))
        } else {
            dest_path.clone()
        };
        if !opts.dry_run {
            if let Err(e) = fs::create_dir(&mkdir_path) {
                return Err(Error::new(
                    ExitCode::FILEIO,
                    format!(
                        "{}: mkdir {} failed: {}",
                        ctx.log.prog,
                        full_fname(&mkdir_path),
                        strerror(&e)
                    ),
                ));
            }
        }
        if ctx.out.info_name >= 1 || ctx.out.has_i > 0 {
            ctx.log.log(
                LogCode::Info,
                &format!(
                    "created directory {}\n",
                    String::from_utf8_lossy(mkdir_path.as_os_str().as_bytes())
                ),
            );
        }
        return Ok((
            Dest {
                base: mkdir_path,
                solo: None,
                root_created: true,
            },
            opts.dry_run,
        ));
    }
    // A single non-directory: it lands under the given name.
    let missing_parent = opts.dry_run
        && dest_path
            .parent()
            .is_some_and(|p| !p.as_os_str().is_empty() && !p.exists());
    Ok((
        Dest {
            base: PathBuf::from("."),
            solo: Some(dest_path),
            root_created: false,
        },
        missing_parent,
    ))
}

/// mkdir -p; returns how many directories were created.
fn make_path(p: &Path, dry_run: bool) -> io::Result<usize> {
    let mut missing = Vec::new();
    let mut cur = Some(p);
    while let Some(c) = cur {
        if c.as_os_str().is_empty() || c.exists() {
            break;
        }
        missing.push(c.to_path_buf());
        cur = c.parent();
    }
    if !dry_run {
        for d in missing.iter().rev() {
            fs::create_dir(d)?;
        }
    }
    Ok(missing.len())
}
