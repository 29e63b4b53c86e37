//! File-list order (upstream: flist.c f_name_cmp(), flist_sort_and_clean()).
//! The order is wire-visible: an ndx is a position in the sorted list, so both
//! sides must sort identically. See protocol-notes/file-list.md.
//!
//! Protocol >= 29: at each directory level, non-directory entries sort before
//! directories; directory names compare as if they ended in '/'; "." first.
//! Protocol < 29: plain byte order of the full names.

use super::entry::{FileEntry, FLAG_CLEARED};
use std::cmp::Ordering;

/// Build a byte key whose plain order is f_name_cmp()'s order. Each path
/// component contributes a kind byte (0 = non-directory leaf, 1 = directory)
/// then its bytes, and a '/' after directory names. Names never contain NUL
/// or 0x01 at a component start after a '/', so keys cannot collide wrongly.
pub fn sort_key(name: &[u8], is_dir: bool, protocol: u32) -> Vec<u8> {
    if protocol < 29 {
        return name.to_vec();
    }
    if name == b"." && is_dir {
        return Vec::new();
    }
    let mut key = Vec::with_capacity(name.len() + 8);
    let mut comps = name.split(|&c| c == b'/').peekable();
    while let Some(c) = comps.next() {
        let last = comps.peek().is_none();
        let dir = !last || is_dir;
        key.push(if dir { 1 } else { 0 });
        key.extend_from_slice(c);
        if dir {
            key.push(b'/');
        }
    }
    key
}

pub fn f_name_cmp(a: &FileEntry, b: &FileEntry, protocol: u32) -> Ordering {
    sort_key(&a.name, a.is_dir(), protocol).cmp(&sort_key(&b.name, b.is_dir(), protocol))
}

/// Stable sort (upstream uses a merge sort), then, when `clean`, clear
/// duplicate names the way the receiver does: the slot stays so that
/// indexes match the sender's list.
pub fn sort_and_clean(entries: &mut [FileEntry], protocol: u32, clean: bool) {
    entries.sort_by_cached_key(|e| sort_key(&e.name, e.is_dir(), protocol));
    if !clean {
        return;
    }
    let mut prev: Option<usize> = None;
    for i in 0..entries.len() {
        if let Some(p) = prev {
            if entries[p].name == entries[i].name {
                // Keep a directory over a non-directory; otherwise keep the first.
                if entries[i].is_dir() && !entries[p].is_dir() {
                    entries[p].flags |= FLAG_CLEARED;
                    prev = Some(i);
                } else {
                    let flags = entries[i].flags;
                    entries[i].flags |= FLAG_CLEARED;
                    if entries[i].is_dir() && entries[p].is_dir() {
                        entries[p].flags |=
                            flags & (super::entry::FLAG_TOP_DIR | super::entry::FLAG_CONTENT_DIR);
                        // Implied only if both were (-R sends a name's
                        // parent and the name itself).
                        entries[p].flags &= flags | !super::entry::FLAG_IMPLIED_DIR;
                    }
                }
                continue;
            }
        }
        prev = Some(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flist::entry::{S_IFDIR, S_IFREG};

    fn e(name: &str, dir: bool) -> FileEntry {
        FileEntry {
            name: name.as_bytes().to_vec(),
            mode: if dir {
                S_IFDIR | 0o755
            } else {
                S_IFREG | 0o644
            },
            ..FileEntry::default()
        }
    }

    #[test]
    fn sorts_like_upstream_capture() {
        // Order captured from rsync 3.5.0 (protocol map 5.11).
        let mut v = vec![
            e("sub/deep/c", false),
            e("sub", true),
            e("lnk", false),
            e("sub/deep", true),
            e("a.txt", false),
            e(".", true),
            e("sub/b.bin", false),
            e("h2", false),
            e("cdev", false),
            e("h1", false),
            e("fifo", false),
        ];
        sort_and_clean(&mut v, 32, false);
        let names: Vec<_> = v
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        assert_eq!(
            names,
            [
                ".",
                "a.txt",
                "cdev",
                "fifo",
                "h1",
                "h2",
                "lnk",
                "sub",
                "sub/b.bin",
                "sub/deep",
                "sub/deep/c"
            ]
        );
    }

    #[test]
    fn dir_names_compare_with_trailing_slash() {
        let mut v = vec![
            e("a", true),
            e("a/x", false),
            e("a+b", true),
            e("ab", true),
            e("zz", false),
        ];
        sort_and_clean(&mut v, 32, false);
        let names: Vec<_> = v
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        assert_eq!(names, ["zz", "a+b", "a", "a/x", "ab"]);
    }

    #[test]
    fn old_protocols_sort_bytewise() {
        let mut v = vec![e("b", true), e("a/x", false), e("-x", false), e(".", true)];
        sort_and_clean(&mut v, 28, false);
        let names: Vec<_> = v
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect();
        assert_eq!(names, ["-x", ".", "a/x", "b"]);
    }

    #[test]
    fn duplicates_are_cleared_not_removed() {
        let mut v = vec![e("a", false), e("a", false), e("b", false)];
        sort_and_clean(&mut v, 32, true);
        assert_eq!(v.len(), 3);
        assert_eq!(v.iter().filter(|e| e.flags & FLAG_CLEARED != 0).count(), 1);
    }
}
