//! `--list-only` lines (upstream: generator.c list_file_entry(),
//! lib/permstring.c permstring()).

use super::numbers::{human_num, timestring};
use crate::flist::entry::{
    FileEntry, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFSOCK,
};

/// The 10-char `ls -l` style mode string, e.g. `drwxrwxrwt`, `-rwsr-xr-x`.
pub fn permstring(mode: u32) -> String {
    let mut p = *b"----------";
    for (i, ch) in b"rwxrwxrwx".iter().enumerate() {
        if mode & (0o400 >> i) != 0 {
            p[1 + i] = *ch;
        }
    }
    // Set-id and sticky bits replace the x of their class: lower case when
    // x is also set, upper case when it is not.
    let special = |x: bool, lower: u8| if x { lower } else { lower.to_ascii_uppercase() };
    if mode & 0o4000 != 0 {
        p[3] = special(mode & 0o100 != 0, b's');
    }
    if mode & 0o2000 != 0 {
        p[6] = special(mode & 0o010 != 0, b's');
    }
    if mode & 0o1000 != 0 {
        p[9] = special(mode & 0o001 != 0, b't');
    }
    p[0] = match mode & S_IFMT {
        S_IFDIR => b'd',
        S_IFLNK => b'l',
        S_IFBLK => b'b',
        S_IFCHR => b'c',
        S_IFSOCK => b's',
        S_IFIFO => b'p',
        _ => b'-',
    };
    p.iter().map(|&b| b as char).collect()
}

/// Width of the size column: 14 whenever any human level is on (the
/// default), 11 with `--no-h`.
pub fn size_width(human: u8) -> usize {
    if human != 0 {
        14
    } else {
        11
    }
}

/// One `--list-only` line without its newline:
/// `PERMS SIZE YYYY/MM/DD HH:MM:SS NAME[ -> TARGET]`.
///
/// `utc_offset(t)` gives the local time zone's offset east of UTC in
/// seconds at instant `t` (see [`timestring`]). The ` -> target` part needs
/// `-l` (`preserve_links`) and a known target. The bytes are raw: the output
/// layer escapes unprintable ones (see `messages::escape_output`).
pub fn list_line(
    entry: &FileEntry,
    human: u8,
    preserve_links: bool,
    utc_offset: &dyn Fn(i64) -> i64,
) -> Vec<u8> {
    let mut out = format!(
        "{} {:>width$} {} ",
        permstring(entry.mode),
        human_num(entry.size, human),
        timestring(entry.mtime, utc_offset(entry.mtime)),
        width = size_width(human)
    )
    .into_bytes();
    out.extend_from_slice(&entry.name);
    if preserve_links && entry.is_symlink() {
        if let Some(target) = &entry.link_target {
            out.extend_from_slice(b" -> ");
            out.extend_from_slice(target);
        }
    }
    out
}

/// The line for a `--missing-args=delete`d argument that does not exist:
/// `*missing` padded to where the name column starts, then the name.
pub fn missing_line(name: &[u8], human: u8) -> Vec<u8> {
    // Perms (10) + space + size column + space + a 19-char time.
    let width = 10 + 1 + size_width(human) + 1 + 19;
    let mut out = format!("{:<width$} ", "*missing").into_bytes();
    out.extend_from_slice(name);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flist::entry::S_IFREG;

    fn entry(name: &str, mode: u32, size: i64) -> FileEntry {
        FileEntry {
            name: name.as_bytes().to_vec(),
            mode,
            size,
            mtime: 1_700_000_000,
            ..FileEntry::default()
        }
    }

    fn line(e: &FileEntry, human: u8, links: bool) -> String {
        String::from_utf8(list_line(e, human, links, &|_| 0)).unwrap()
    }

    #[test]
    fn perms() {
        assert_eq!(permstring(S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(permstring(S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(permstring(S_IFDIR | 0o1776), "drwxrwxrwT");
        assert_eq!(permstring(S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(permstring(S_IFREG | 0o4644), "-rwSr--r--");
        assert_eq!(permstring(S_IFREG | 0o2640), "-rw-r-S---");
        assert_eq!(permstring(S_IFREG | 0o2650), "-rw-r-s---");
        assert_eq!(permstring(S_IFLNK | 0o777), "lrwxrwxrwx");
        assert_eq!(permstring(S_IFIFO | 0o644), "prw-r--r--");
        assert_eq!(permstring(S_IFCHR | 0o666), "crw-rw-rw-");
        assert_eq!(permstring(S_IFBLK | 0o660), "brw-rw----");
        assert_eq!(permstring(S_IFSOCK | 0o755), "srwxr-xr-x");
    }

    // Expected lines recorded from rsync 3.5.0 with TZ=UTC
    // (report-goldens.sh "list-only default", "--no-h", "-h", "-hh", "-l").
    #[test]
    fn recorded_lines() {
        let dot = entry(".", S_IFDIR | 0o755, 4096);
        let a = entry("a.txt", S_IFREG | 0o2640, 6);
        let big = entry("sub/big", S_IFREG | 0o4755, 4100);
        let huge = entry("sub/huge", S_IFREG | 0o644, 1_234_567);
        let mut link = entry("link", S_IFLNK | 0o777, 5);
        link.link_target = Some(b"a.txt".to_vec());
        let fifo = entry("fifo", S_IFIFO | 0o644, 0);

        assert_eq!(
            line(&dot, 1, false),
            "drwxr-xr-x          4,096 2023/11/14 22:13:20 ."
        );
        assert_eq!(
            line(&a, 1, false),
            "-rw-r-S---              6 2023/11/14 22:13:20 a.txt"
        );
        assert_eq!(
            line(&fifo, 1, false),
            "prw-r--r--              0 2023/11/14 22:13:20 fifo"
        );
        assert_eq!(
            line(&link, 1, false),
            "lrwxrwxrwx              5 2023/11/14 22:13:20 link"
        );
        assert_eq!(
            line(&link, 1, true),
            "lrwxrwxrwx              5 2023/11/14 22:13:20 link -> a.txt"
        );
        assert_eq!(
            line(&huge, 1, false),
            "-rw-r--r--      1,234,567 2023/11/14 22:13:20 sub/huge"
        );
        assert_eq!(
            line(&huge, 0, false),
            "-rw-r--r--     1234567 2023/11/14 22:13:20 sub/huge"
        );
        assert_eq!(
            line(&dot, 0, false),
            "drwxr-xr-x        4096 2023/11/14 22:13:20 ."
        );
        assert_eq!(
            line(&big, 2, false),
            "-rwsr-xr-x          4.10K 2023/11/14 22:13:20 sub/big"
        );
        assert_eq!(
            line(&huge, 2, false),
            "-rw-r--r--          1.23M 2023/11/14 22:13:20 sub/huge"
        );
        assert_eq!(
            line(&big, 3, false),
            "-rwsr-xr-x          4.00K 2023/11/14 22:13:20 sub/big"
        );
        assert_eq!(
            line(&huge, 3, false),
            "-rw-r--r--          1.18M 2023/11/14 22:13:20 sub/huge"
        );
    }

    #[test]
    fn local_time_and_raw_names() {
        // TZ=Asia/Kolkata (+05:30) run of the same tree.
        let a = entry("a.txt", S_IFREG | 0o2640, 6);
        let got = String::from_utf8(list_line(&a, 1, false, &|_| 19_800)).unwrap();
        assert_eq!(got, "-rw-r-S---              6 2023/11/15 03:43:20 a.txt");
        let odd = entry("lat\u{e9}", S_IFREG | 0o644, 1);
        let mut odd = odd;
        odd.name = b"lat\xe9".to_vec();
        assert!(list_line(&odd, 1, false, &|_| 0).ends_with(b" lat\xe9"));
    }

    #[test]
    fn missing() {
        // Recorded from rsync 3.5.0 `--list-only --delete-missing-args nothere`:
        // the name starts at column 47 (default) and 44 (--no-h).
        let m = String::from_utf8(missing_line(b"gone", 1)).unwrap();
        assert_eq!(m, format!("{:<45} gone", "*missing"));
        assert_eq!(missing_line(b"x", 0).len(), 10 + 1 + 11 + 1 + 19 + 1 + 1);
    }
}
