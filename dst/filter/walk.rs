//! A filter stack positioned in a tree walk (upstream:
//! change_local_filter_dir() with push_local_filters()/pop_local_filters()).
//!
//! The sender's list builder and the generator's deletion pass both visit
//! directories, not always in tree order (incremental recursion jumps
//! between sub-lists), and need the merge files of the current directory
//! and all its ancestors in effect. `FilterWalk::enter` pops what is not
//! an ancestor and pushes what is missing.

use super::{Decision, FilterList, FilterStack, Query, Side};
use crate::error::Result;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub struct FilterWalk {
    root: PathBuf,
    stack: FilterStack,
    /// Names (relative to the root) of the directories pushed, outermost
    /// first; "." is the root itself.
    dirs: Vec<Vec<u8>>,
    /// The root is itself a transferred directory (a `src/` argument), so
    /// its merge files are in effect below it.
    root_sent: bool,
}

fn is_ancestor(a: &[u8], d: &[u8]) -> bool {
    a == b"." || a == d || (d.starts_with(a) && d.get(a.len()) == Some(&b'/'))
}

impl FilterWalk {
    /// `root` is where names are relative to; made absolute here, because
    /// anchored rules of per-directory files match absolute paths.
    pub fn new(list: &FilterList, root: &Path) -> FilterWalk {
        let abs = if root.is_absolute() {
            root.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(root)
        };
        FilterWalk {
            stack: FilterStack::new(list.clone(), &abs),
            root: abs,
            dirs: Vec::new(),
            root_sent: false,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Make the merge files of `dir` (relative to the root, "." for the
    /// root) and of its ancestors the ones in effect.
    pub fn enter(&mut self, dir: &[u8]) -> Result<()> {
        while let Some(top) = self.dirs.last() {
            if is_ancestor(top, dir) {
                break;
            }
            self.dirs.pop();
            self.stack.pop_dir();
        }
        let mut chain: Vec<&[u8]> = Vec::new();
        if dir == b"." || self.root_sent {
            self.root_sent = true;
            chain.push(b".");
        }
        if dir != b"." {
            for (i, &c) in dir.iter().enumerate() {
                if c == b'/' {
                    chain.push(&dir[..i]);
                }
            }
            chain.push(dir);
        }
        for d in chain {
            if self.dirs.iter().any(|x| x == d) {
                continue;
            }
            let disk = if d == b"." {
                self.root.clone()
            } else {
                self.root.join(std::ffi::OsStr::from_bytes(d))
            };
            // Recorded first, so a failed read still pairs with a pop.
            self.dirs.push(d.to_vec());
            self.stack.push_dir(d, &disk)?;
        }
        Ok(())
    }

    /// Push exactly `dir`'s merge files, ancestors or not (upstream
    /// push_local_filters() as delete_dir_contents() uses it); undone by
    /// `leave`.
    pub fn push_one(&mut self, dir: &[u8]) -> Result<()> {
        let disk = if dir == b"." {
            self.root.clone()
        } else {
            self.root.join(std::ffi::OsStr::from_bytes(dir))
        };
        self.dirs.push(dir.to_vec());
        self.stack.push_dir(dir, &disk)
    }

    /// Pop every pushed directory.
    pub fn reset(&mut self) {
        while self.dirs.pop().is_some() {
            self.stack.pop_dir();
        }
    }

    /// Undo the innermost `enter` push.
    pub fn leave(&mut self) {
        if self.dirs.pop().is_some() {
            self.stack.pop_dir();
        }
    }

    pub fn excluded(&self, name: &[u8], is_dir: bool, side: Side) -> bool {
        self.stack.is_excluded(name, is_dir, side)
    }

    /// As `excluded`, optionally skipping perishable rules (a directory
    /// being deleted may lose perishable-excluded contents).
    pub fn excluded_q(
        &self,
        name: &[u8],
        is_dir: bool,
        side: Side,
        ignore_perishable: bool,
    ) -> bool {
        let mut q = Query::new(name, is_dir, side);
        q.ignore_perishable = ignore_perishable;
        self.stack.check_query(&q) == Decision::Excluded
    }
}
