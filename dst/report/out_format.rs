//! `--out-format` / `--log-file-format` expansion (upstream: log.c
//! log_formatted() and log_format_has(); util1.c clean_fname() for `%f`).
//!
//! Escapes: `%a %b %B %c %C %f %G %h %i %l %L %m %M %n %o %p %P %t %u %U
//! %%`. Each may carry modifiers between the `%` and the letter: any number
//! of `'` (digit grouping / units for the numeric escapes `%b %c %l`: one
//! for commas, two for units of 1000, three or more for units of 1024), an
//! optional `-` (left-align), a width (a leading `0` zero-pads the numeric
//! escapes `%U %G %p`), and more `'`. Widths count bytes, as C's printf does.
//!
//! An escape with an unknown letter, or one whose value is unavailable
//! (`%h`, `%a`, `%P`, `%u` outside a daemon), stays in the output as
//! written. Expanded text is never rescanned.

use super::itemize::{itemize, ItemizeOpts, ITEM_TRANSFER};
use super::list::permstring;
use super::numbers::{human_num, timestring};
use crate::flist::entry::FileEntry;

/// Everything the escapes of one log line can refer to.
pub struct LogItem<'a> {
    /// The item: mode, size, mtime and symlink target are used. For a
    /// deletion, an entry with only `mode` set (as upstream's log_delete()).
    pub entry: &'a FileEntry,
    /// Name to print instead of `entry.name` (deletions pass it). When set,
    /// `%L` shows no symlink target.
    pub fname: Option<&'a [u8]>,
    /// ITEM_* bits (`itemize::ITEM_DELETED` for a deletion).
    pub iflags: u32,
    /// `%o`: "send", "recv" or "del.".
    pub op: &'a str,
    /// `%L` for a hard link: the name it is linked to (` => NAME`).
    pub hlink: Option<&'a [u8]>,
    /// `%f`: the directory the name is relative to (the sender's source
    /// dir, or a daemon's module-relative cwd); `None` prints the name alone.
    pub dir: Option<&'a [u8]>,
    /// This process sends file data (decides which counter `%b`/`%c` show).
    pub am_sender: bool,
    /// File-data bytes written and read while handling this item.
    pub data_written: i64,
    pub data_read: i64,
    /// `%C`: the checksum in hex when one applies (regular file, and either
    /// `--checksum` on a non-deletion or a transfer), else `None`, which
    /// prints `2 * checksum_len` spaces.
    pub checksum_hex: Option<&'a str>,
    pub checksum_len: usize,
    /// `%U`: `Some(uid)` when owners are preserved, else `None` (prints 0).
    pub uid: Option<u32>,
    /// `%G`: `Some(gid)` when groups are preserved, else `None` (prints
    /// "DEFAULT").
    pub gid: Option<u32>,
    /// `%p`.
    pub pid: u32,
    /// `%t`: the current time.
    pub now: i64,
    /// Local time zone offset east of UTC at an instant, for `%t` and `%M`.
    pub utc_offset: &'a dyn Fn(i64) -> i64,
    /// `%i`.
    pub itemize: ItemizeOpts,
    /// Daemon only (`None` leaves the escape as written): `%h`, `%a`,
    /// `%P` (module path), `%u` (authenticated user).
    pub host: Option<&'a [u8]>,
    pub addr: Option<&'a [u8]>,
    pub module_path: Option<&'a [u8]>,
    pub auth_user: Option<&'a [u8]>,
    /// `%m`: the module name; empty outside a daemon (as upstream prints).
    pub module: &'a [u8],
}

impl<'a> LogItem<'a> {
    /// An item with everything optional unset.
    pub fn new(
        entry: &'a FileEntry,
        iflags: u32,
        op: &'a str,
        utc_offset: &'a dyn Fn(i64) -> i64,
    ) -> LogItem<'a> {
        LogItem {
            entry,
            fname: None,
            iflags,
            op,
            hlink: None,
            dir: None,
            am_sender: op == "send",
            data_written: 0,
            data_read: 0,
            checksum_hex: None,
            checksum_len: 16,
            uid: None,
            gid: None,
            pid: 0,
            now: 0,
            utc_offset,
            itemize: ItemizeOpts {
                preserve_mtimes: true,
                receiver_symlink_times: true,
                sending: false,
            },
            host: None,
            addr: None,
            module_path: None,
            auth_user: None,
            module: b"",
        }
    }
}

/// The modifiers of one escape.
struct Spec {
    left: bool,
    zero: bool,
    width: usize,
    /// `fmt[1]` in upstream: a '-' or any digit was given.
    has_fmt: bool,
    humanize: u8,
}

// Upstream builds each escape's printf format in a 32-byte buffer and stops
// taking digits when it holds 24 chars, counting the '%' and the '-'.
const FMT_LIMIT: usize = 24;
// Padded values are built in a MAXPATHLEN buffer and silently truncated.
const PAD_LIMIT: usize = 4095;

fn pad(val: &[u8], spec: &Spec, numeric: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(val.len().max(spec.width));
    let fill = spec.width.saturating_sub(val.len());
    if spec.left {
        out.extend_from_slice(val);
        out.resize(out.len() + fill, b' ');
    } else {
        // Zero padding only for numeric conversions (glibc ignores the 0
        // flag for %s).
        let ch = if numeric && spec.zero { b'0' } else { b' ' };
        out.resize(fill, ch);
        out.extend_from_slice(val);
    }
    out.truncate(PAD_LIMIT);
    out
}

/// Expand `format` for one item. Returns the line without its newline; the
/// bytes are raw (escape them for the terminal with
/// `messages::escape_output`).
pub fn format_item(format: &str, item: &LogItem) -> Vec<u8> {
    let f = format.as_bytes();
    let mut out = Vec::with_capacity(f.len() + 64);
    let mut i = 0;
    while i < f.len() {
        let Some(off) = memchr::memchr(b'%', &f[i..]) else {
            out.extend_from_slice(&f[i..]);
            break;
        };
        out.extend_from_slice(&f[i..i + off]);
        let start = i + off;
        let mut p = start + 1;
        let mut humanize: u8 = 0;
        while f.get(p) == Some(&b'\'') {
            humanize = humanize.saturating_add(1);
            p += 1;
        }
        let mut fmt_len = 1;
        let left = f.get(p) == Some(&b'-');
        if left {
            fmt_len += 1;
            p += 1;
        }
        let digits_start = p;
        while p < f.len() && f[p].is_ascii_digit() && fmt_len < FMT_LIMIT {
            fmt_len += 1;
            p += 1;
        }
        let digits = &f[digits_start..p];
        while f.get(p) == Some(&b'\'') {
            humanize = humanize.saturating_add(1);
            p += 1;
        }
        if p >= f.len() {
            // A dangling escape: the rest stays as written.
            out.extend_from_slice(&f[start..]);
            break;
        }
        let nonzero = digits
            .iter()
            .position(|&d| d != b'0')
            .unwrap_or(digits.len());
        let width = digits[nonzero..]
            .iter()
            .try_fold(0usize, |w, &d| {
                w.checked_mul(10)?.checked_add(usize::from(d - b'0'))
            })
            .unwrap_or(usize::MAX);
        let spec = Spec {
            left,
            zero: nonzero > 0,
            width,
            has_fmt: fmt_len > 1,
            humanize,
        };
        match expand(f[p], &spec, item) {
            Some(val) => {
                out.extend_from_slice(&val);
                i = p + 1;
            }
            None => {
                // Unresolved: keep the text up to the letter and rescan from
                // the letter itself.
                out.extend_from_slice(&f[start..p]);
                i = p;
            }
        }
    }
    out
}

/// The value of one escape, already padded; `None` when unresolved.
fn expand(esc: u8, spec: &Spec, item: &LogItem) -> Option<Vec<u8>> {
    let e = item.entry;
    let plain = |v: &[u8]| -> Vec<u8> {
        if spec.has_fmt {
            pad(v, spec, false)
        } else {
            v.to_vec()
        }
    };
    let number = |v: String| pad(v.as_bytes(), spec, true);
    Some(match esc {
        b'h' => plain(item.host?),
        b'a' => plain(item.addr?),
        b'P' => plain(item.module_path?),
        b'u' => plain(item.auth_user?),
        b'm' => plain(item.module),
        b'l' => pad(human_num(e.size, spec.humanize).as_bytes(), spec, false),
        b'b' | b'c' => {
            let n = if item.iflags & ITEM_TRANSFER == 0 {
                0
            } else if item.am_sender ^ (esc == b'c') {
                item.data_written
            } else {
                item.data_read
            };
            pad(human_num(n, spec.humanize).as_bytes(), spec, false)
        }
        b'U' => number(item.uid.unwrap_or(0).to_string()),
        b'G' => match item.gid {
            Some(gid) => number(gid.to_string()),
            None => plain(b"DEFAULT"),
        },
        b'p' => number(item.pid.to_string()),
        b'M' => {
            let t = timestring(e.mtime, (item.utc_offset)(e.mtime)).replace(' ', "-");
            plain(t.as_bytes())
        }
        b't' => plain(timestring(item.now, (item.utc_offset)(item.now)).as_bytes()),
        b'B' => plain(&permstring(e.mode).as_bytes()[1..]),
        b'o' => plain(item.op.as_bytes()),
        b'f' => {
            let name = item.fname.unwrap_or(&e.name);
            let joined = match item.dir {
                Some(dir) => {
                    let mut j = dir.to_vec();
                    if j.last() != Some(&b'/') {
                        j.push(b'/');
                    }
                    j.extend_from_slice(name);
                    j
                }
                None => name.to_vec(),
            };
            let clean = clean_fname(&joined);
            let shown = clean.strip_prefix(b"/").unwrap_or(&clean);
            plain(shown)
        }
        b'n' => {
            let mut n = item.fname.unwrap_or(&e.name).to_vec();
            if e.is_dir() {
                n.push(b'/');
            }
            plain(&n)
        }
        b'L' => {
            let (arrow, target): (&[u8], &[u8]) = match item.hlink {
                Some(h) if !h.is_empty() => (b" => ", h),
                _ if e.is_symlink() && item.fname.is_none() => {
                    (b" -> ", e.link_target.as_deref().unwrap_or(b""))
                }
                _ if !spec.has_fmt => return Some(Vec::new()),
                _ => (b"    ", b""),
            };
            // The width applies to the target, after the 4-char arrow.
            let mut v = arrow.to_vec();
            v.extend_from_slice(&pad(target, spec, false));
            v.truncate(PAD_LIMIT);
            v
        }
        b'C' => match item.checksum_hex {
            Some(hex) if e.is_reg() => plain(hex.as_bytes()),
            _ => plain(&vec![b' '; item.checksum_len * 2]),
        },
        b'i' => plain(itemize(item.iflags, entry_type(e), &item.itemize).as_bytes()),
        b'%' => plain(b"%"),
        _ => return None,
    })
}

fn entry_type(e: &FileEntry) -> crate::flist::entry::FileType {
    e.file_type()
        .unwrap_or(crate::flist::entry::FileType::Regular)
}

/// util1.c clean_fname() with no flags: collapse repeated slashes, drop
/// interior "./" components and a trailing slash; an empty result is ".".
/// ".." is left alone.
pub fn clean_fname(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let anchored = name.first() == Some(&b'/');
    let mut f = 0;
    if anchored {
        out.push(b'/');
        f = 1;
    }
    while f < name.len() {
        if name[f] == b'/' {
            f += 1;
            continue;
        }
        if name[f] == b'.' && name.get(f + 1) == Some(&b'/') {
            f += 2;
            continue;
        }
        // Copy one component and the slash after it.
        while f < name.len() {
            let b = name[f];
            out.push(b);
            f += 1;
            if b == b'/' {
                break;
            }
        }
    }
    if out.len() > usize::from(anchored) && out.last() == Some(&b'/') {
        out.pop();
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// Whether `format` uses the escape `esc` (log.c log_format_has()); the
/// modifiers are skipped exactly as [`format_item`] parses them, and `%%` is
/// a literal percent sign.
pub fn log_format_has(format: &str, esc: u8) -> bool {
    let f = format.as_bytes();
    let mut p = 0;
    while let Some(off) = memchr::memchr(b'%', &f[p..]) {
        p += off + 1;
        while f.get(p) == Some(&b'\'') {
            p += 1;
        }
        let mut fmt_len = 1;
        if f.get(p) == Some(&b'-') {
            p += 1;
            fmt_len += 1;
        }
        while p < f.len() && f[p].is_ascii_digit() && fmt_len < FMT_LIMIT {
            p += 1;
            fmt_len += 1;
        }
        while f.get(p) == Some(&b'\'') {
            p += 1;
        }
        let Some(&c) = f.get(p) else {
            break;
        };
        if c == esc {
            return true;
        }
        if c == b'%' {
            p += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flist::entry::{S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG};
    use crate::report::itemize::*;

    const UTC: &dyn Fn(i64) -> i64 = &|_| 0;

    fn entry(name: &str, mode: u32, size: i64) -> FileEntry {
        FileEntry {
            name: name.as_bytes().to_vec(),
            mode,
            size,
            mtime: 1_700_000_000,
            ..FileEntry::default()
        }
    }

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    // The "out-format all" scenario of report-goldens.sh, recorded from
    // rsync 3.5.0 (`rsync -aH --specials --out-format=... src/ dst9/`, run
    // as root so %U/%G are 0; outside a daemon %h %a %P %u stay literal and
    // %m is empty).
    const ALL: &str = "[%o|%i|%n|%f|%l|%'l|%''l|%'''l|%b|%c|%B|%L|%M|%U|%G|%h|%a|%m|%P|%u|%z|%%\
                       |%-12n|%12n|%5i|%-8o]";

    fn sender_item<'a>(e: &'a FileEntry, iflags: u32) -> LogItem<'a> {
        let mut it = LogItem::new(e, iflags, "send", UTC);
        it.dir = Some(b"src");
        it.uid = Some(0);
        it.gid = Some(0);
        it
    }

    #[test]
    fn recorded_all_escapes() {
        let dot = entry(".", S_IFDIR | 0o755, 4096);
        let it = sender_item(&dot, ITEM_IS_NEW | ITEM_LOCAL_CHANGE);
        assert_eq!(
            s(format_item(ALL, &it)),
            "[send|cd+++++++++|./|src/.|4096|4,096|4.10K|4.00K|0|0|rwxr-xr-x||\
             2023/11/14-22:13:20|0|0|%h|%a||%P|%u|%z|%|./          |          ./|\
             cd+++++++++|send    ]"
        );
        let fifo = entry("fifo", S_IFIFO | 0o644, 0);
        let it = sender_item(&fifo, ITEM_IS_NEW | ITEM_LOCAL_CHANGE);
        assert_eq!(
            s(format_item(ALL, &it)),
            "[send|cS+++++++++|fifo|src/fifo|0|0|0|0|0|0|rw-r--r--||2023/11/14-22:13:20|0|0|\
             %h|%a||%P|%u|%z|%|fifo        |        fifo|cS+++++++++|send    ]"
        );
        let mut link = entry("link", S_IFLNK | 0o777, 5);
        link.link_target = Some(b"a.txt".to_vec());
        let it = sender_item(&link, ITEM_IS_NEW | ITEM_LOCAL_CHANGE);
        assert_eq!(
            s(format_item(ALL, &it)),
            "[send|cL+++++++++|link|src/link|5|5|5|5|0|0|rwxrwxrwx| -> a.txt|\
             2023/11/14-22:13:20|0|0|%h|%a||%P|%u|%z|%|link        |        link|\
             cL+++++++++|send    ]"
        );
        let huge = entry("sub/huge", S_IFREG | 0o644, 1_234_567);
        let mut it = sender_item(&huge, ITEM_IS_NEW | ITEM_TRANSFER);
        it.data_written = 1_234_758;
        it.data_read = 16;
        assert_eq!(
            s(format_item(ALL, &it)),
            "[send|>f+++++++++|sub/huge|src/sub/huge|1234567|1,234,567|1.23M|1.18M|1234758|16|\
             rw-r--r--||2023/11/14-22:13:20|0|0|%h|%a||%P|%u|%z|%|sub/huge    |    sub/huge|\
             >f+++++++++|send    ]"
        );
        let mut a = entry("a.txt", S_IFREG | 0o2640, 12);
        a.mtime = 1_795_318_938; // 2026/11/22 03:42:18
        let mut it = sender_item(&a, ITEM_IS_NEW | ITEM_LOCAL_CHANGE | ITEM_XNAME_FOLLOWS);
        it.hlink = Some(b"hard");
        assert_eq!(
            s(format_item(ALL, &it)),
            "[send|hf+++++++++|a.txt|src/a.txt|12|12|12|12|0|0|rw-r-S---| => hard|\
             2026/11/22-03:42:18|0|0|%h|%a||%P|%u|%z|%|a.txt       |       a.txt|\
             hf+++++++++|send    ]"
        );
    }

    #[test]
    fn recorded_links_and_deletes() {
        // "out-format hlink": `--out-format='%i %n%L|%5L|'`.
        let fmt = "%i %n%L|%5L|";
        let dot = entry(".", S_IFDIR | 0o755, 4096);
        let it = sender_item(&dot, ITEM_IS_NEW | ITEM_LOCAL_CHANGE);
        assert_eq!(s(format_item(fmt, &it)), "cd+++++++++ ./|         |");
        let mut link = entry("link", S_IFLNK | 0o777, 5);
        link.link_target = Some(b"a.txt".to_vec());
        let it = sender_item(&link, ITEM_IS_NEW | ITEM_LOCAL_CHANGE);
        assert_eq!(
            s(format_item(fmt, &it)),
            "cL+++++++++ link -> a.txt| -> a.txt|"
        );
        let a = entry("a.txt", S_IFREG | 0o644, 12);
        let mut it = sender_item(&a, ITEM_IS_NEW | ITEM_LOCAL_CHANGE | ITEM_XNAME_FOLLOWS);
        it.hlink = Some(b"hard");
        assert_eq!(
            s(format_item(fmt, &it)),
            "hf+++++++++ a.txt => hard| =>  hard|"
        );

        // "out-format del": `--out-format='%o %n%L %i'` and the default
        // "deleting %n" / `%i %n%L` forms.
        let gone = FileEntry {
            mode: S_IFREG | 0o644,
            ..FileEntry::default()
        };
        let mut it = LogItem::new(&gone, ITEM_DELETED, "del.", UTC);
        it.fname = Some(b"extra");
        assert_eq!(s(format_item("%o %n%L %i", &it)), "del. extra *deleting  ");
        assert_eq!(s(format_item("%i %n%L", &it)), "*deleting   extra");
        let gone_dir = FileEntry {
            mode: S_IFDIR | 0o755,
            ..FileEntry::default()
        };
        let mut it = LogItem::new(&gone_dir, ITEM_DELETED, "del.", UTC);
        it.fname = Some(b"xdir");
        assert_eq!(s(format_item("%i %n%L", &it)), "*deleting   xdir/");
        assert_eq!(s(format_item("deleting %n", &it)), "deleting xdir/");
        // A deleted symlink shows no target.
        let gone_link = FileEntry {
            mode: S_IFLNK | 0o777,
            ..FileEntry::default()
        };
        let mut it = LogItem::new(&gone_link, ITEM_DELETED, "del.", UTC);
        it.fname = Some(b"xl");
        assert_eq!(s(format_item("%n%L", &it)), "xl");
    }

    #[test]
    fn recorded_modifiers() {
        // `--out-format="[%05n][%05U][%-05p][%0l][%'05l][%'-05i][%-][%5%][%'''][%-'5n]"`
        // on a 3-byte file "f" (pid 10914).
        let f = entry("f", S_IFREG | 0o644, 3);
        let mut it = LogItem::new(&f, ITEM_IS_NEW | ITEM_TRANSFER, "send", UTC);
        it.pid = 10914;
        it.uid = Some(0);
        assert_eq!(
            s(format_item(
                "[%05n][%05U][%-05p][%0l][%'05l][%'-05i][%-][%5%][%'''][%-'5n]",
                &it
            )),
            "[    f][00000][10914][3][    3][>f+++++++++][%-][    %][%'''][%-'5n]"
        );
        let dot = entry(".", S_IFDIR | 0o755, 4096);
        let it = LogItem::new(&dot, ITEM_IS_NEW | ITEM_LOCAL_CHANGE, "send", UTC);
        assert_eq!(
            s(format_item("[%05n][%0l][%'05l]", &it)),
            "[   ./][4096][4,096]"
        );
    }

    #[test]
    fn recorded_checksums_and_counts() {
        // "out-format %C": `--out-format='%C %n'` (md5 transfer sums).
        let dot = entry(".", S_IFDIR | 0o755, 4096);
        let it = LogItem::new(&dot, ITEM_IS_NEW | ITEM_LOCAL_CHANGE, "send", UTC);
        assert_eq!(
            s(format_item("%C %n", &it)),
            "                                 ./"
        );
        let big = entry("big", S_IFREG | 0o644, 4100);
        let mut it = LogItem::new(&big, ITEM_IS_NEW | ITEM_TRANSFER, "send", UTC);
        it.checksum_hex = Some("762da46cf400f8c40c6a368c4e70f25f");
        assert_eq!(
            s(format_item("%C %n", &it)),
            "762da46cf400f8c40c6a368c4e70f25f big"
        );
        // "out-format -n %b": a dry run transfers no data.
        let it = LogItem::new(&big, ITEM_IS_NEW | ITEM_TRANSFER, "send", UTC);
        assert_eq!(s(format_item("%b %c", &it)), "0 0");
        // Without ITEM_TRANSFER the counters are 0; %b/%c swap on the receiver.
        let mut it = LogItem::new(&big, ITEM_IS_NEW, "recv", UTC);
        it.data_written = 5;
        it.data_read = 7;
        assert_eq!(s(format_item("%b %c", &it)), "0 0");
        it.iflags |= ITEM_TRANSFER;
        it.am_sender = false;
        assert_eq!(s(format_item("%b %c %''b", &it)), "7 5 7");
    }

    #[test]
    fn daemon_and_misc() {
        let f = entry("d/f", S_IFREG | 0o600, 1);
        let mut it = LogItem::new(&f, ITEM_TRANSFER, "recv", UTC);
        it.host = Some(b"client.example");
        it.addr = Some(b"192.0.2.1");
        it.module = b"mod";
        it.module_path = Some(b"/srv/mod");
        it.auth_user = Some(b"joe");
        it.now = 0;
        it.gid = None;
        it.dir = Some(b"");
        assert_eq!(
            s(format_item("%h %a %m %P %u %t %G %-9G| %f", &it)),
            "client.example 192.0.2.1 mod /srv/mod joe 1970/01/01 00:00:00 DEFAULT DEFAULT  | d/f"
        );
        // A dangling '%' or modifier at the end stays as written.
        assert_eq!(s(format_item("50% %'-", &it)), "50% %'-");
        assert_eq!(s(format_item("%", &it)), "%");
        // Expanded names are not rescanned.
        let pct = entry("100%n", S_IFREG, 1);
        let it = LogItem::new(&pct, 0, "recv", UTC);
        assert_eq!(s(format_item("%n!", &it)), "100%n!");
    }

    #[test]
    fn clean() {
        assert_eq!(clean_fname(b"src/."), b"src/.");
        assert_eq!(clean_fname(b"src//./a/"), b"src/a");
        assert_eq!(clean_fname(b"/a//b"), b"/a/b");
        assert_eq!(clean_fname(b"./"), b".");
        assert_eq!(clean_fname(b"a/../b"), b"a/../b");
        assert_eq!(clean_fname(b"/"), b"/");
    }

    #[test]
    fn format_has() {
        assert!(log_format_has("%i %n%L", b'i'));
        assert!(log_format_has("%'-10b", b'b'));
        assert!(!log_format_has("100%%i", b'i'));
        assert!(log_format_has("%%%i", b'i'));
        assert!(!log_format_has("%n", b'i'));
        assert!(!log_format_has("%", b'i'));
    }
}
