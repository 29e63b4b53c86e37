//! The `%i` itemize string `YXcstpoguax` (upstream: log.c log_formatted(),
//! case 'i'; flag values from rsync.h ITEM_*).

use crate::flist::entry::FileType;
use crate::wire::item;

pub const ITEM_REPORT_ATIME: u32 = item::REPORT_ATIME;
pub const ITEM_REPORT_CHANGE: u32 = item::REPORT_CHANGE;
/// Regular files: the size differs.
pub const ITEM_REPORT_SIZE: u32 = item::REPORT_SIZE;
/// Symlinks: the receiver could not set the time (same bit as SIZE).
pub const ITEM_REPORT_TIMEFAIL: u32 = item::REPORT_TIMEFAIL;
pub const ITEM_REPORT_TIME: u32 = item::REPORT_TIME;
pub const ITEM_REPORT_PERMS: u32 = item::REPORT_PERMS;
pub const ITEM_REPORT_OWNER: u32 = item::REPORT_OWNER;
pub const ITEM_REPORT_GROUP: u32 = item::REPORT_GROUP;
pub const ITEM_REPORT_ACL: u32 = item::REPORT_ACL;
pub const ITEM_REPORT_XATTR: u32 = item::REPORT_XATTR;
pub const ITEM_REPORT_CRTIME: u32 = item::REPORT_CRTIME;
pub const ITEM_BASIS_TYPE_FOLLOWS: u32 = item::BASIS_TYPE_FOLLOWS;
pub const ITEM_XNAME_FOLLOWS: u32 = item::XNAME_FOLLOWS;
pub const ITEM_IS_NEW: u32 = item::IS_NEW;
pub const ITEM_LOCAL_CHANGE: u32 = item::LOCAL_CHANGE;
pub const ITEM_TRANSFER: u32 = item::TRANSFER;
/// Local only: pre-29 peers send no iflags, so everything is unknown.
pub const ITEM_MISSING_DATA: u32 = item::MISSING_DATA;
/// Local only: the item is a deletion.
pub const ITEM_DELETED: u32 = item::DELETED;
/// Local only (generator's itemize()).
pub const ITEM_MATCHED: u32 = item::MATCHED;

/// Bits that make an item worth showing with a single `-i`.
pub const SIGNIFICANT_ITEM_FLAGS: u32 = item::SIGNIFICANT;

/// The run-wide facts the itemize string depends on besides the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemizeOpts {
    /// `-t` is in effect; without it a time difference shows as 'T'.
    pub preserve_mtimes: bool,
    /// The receiver can set symlink times; without it symlinks show 'T'.
    pub receiver_symlink_times: bool,
    /// The line describes data we send to a remote peer: transfers show '<'
    /// instead of '>' (upstream: `!local_server && *op == 's'`).
    pub sending: bool,
}

/// The 11-char itemize string, or `"*deleting  "` for a deletion.
pub fn itemize(iflags: u32, ftype: FileType, opts: &ItemizeOpts) -> String {
    if iflags & ITEM_DELETED != 0 {
        return "*deleting  ".to_string();
    }
    let bit = |flag: u32, ch: u8| if iflags & flag != 0 { ch } else { b'.' };
    let mut c = [b'.'; 11];
    c[0] = if iflags & ITEM_LOCAL_CHANGE != 0 {
        if iflags & ITEM_XNAME_FOLLOWS != 0 {
            b'h'
        } else {
            b'c'
        }
    } else if iflags & ITEM_TRANSFER == 0 {
        b'.'
    } else if opts.sending {
        b'<'
    } else {
        b'>'
    };
    let time_char = |t_ok: bool| {
        if iflags & ITEM_REPORT_TIME == 0 {
            b'.'
        } else if t_ok {
            b't'
        } else {
            b'T'
        }
    };
    if ftype == FileType::Symlink {
        c[1] = b'L';
        // The size column never applies to symlinks; the bit means TIMEFAIL.
        c[4] = time_char(
            opts.preserve_mtimes
                && opts.receiver_symlink_times
                && iflags & ITEM_REPORT_TIMEFAIL == 0,
        );
    } else {
        c[1] = match ftype {
            FileType::Dir => b'd',
            FileType::Fifo | FileType::Socket => b'S',
            FileType::CharDev | FileType::BlockDev => b'D',
            _ => b'f',
        };
        c[3] = bit(ITEM_REPORT_SIZE, b's');
        c[4] = time_char(opts.preserve_mtimes);
    }
    c[2] = bit(ITEM_REPORT_CHANGE, b'c');
    c[5] = bit(ITEM_REPORT_PERMS, b'p');
    c[6] = bit(ITEM_REPORT_OWNER, b'o');
    c[7] = bit(ITEM_REPORT_GROUP, b'g');
    let times = iflags & (ITEM_REPORT_ATIME | ITEM_REPORT_CRTIME);
    c[8] = if times == 0 {
        b'.'
    } else if times == ITEM_REPORT_ATIME | ITEM_REPORT_CRTIME {
        b'b'
    } else if times == ITEM_REPORT_ATIME {
        b'u'
    } else {
        b'n'
    };
    c[9] = bit(ITEM_REPORT_ACL, b'a');
    c[10] = bit(ITEM_REPORT_XATTR, b'x');

    if iflags & (ITEM_IS_NEW | ITEM_MISSING_DATA) != 0 {
        let fill = if iflags & ITEM_IS_NEW != 0 {
            b'+'
        } else {
            b'?'
        };
        c[2..].fill(fill);
    } else if matches!(c[0], b'.' | b'h' | b'c') && c[2..].iter().all(|&ch| ch == b'.') {
        // Nothing changed: blank the attribute columns (seen with -ii).
        c[2..].fill(b' ');
    }
    c.iter().map(|&b| b as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use FileType::*;

    const A: ItemizeOpts = ItemizeOpts {
        preserve_mtimes: true,
        receiver_symlink_times: true,
        sending: false,
    };

    fn it(iflags: u32, ft: FileType) -> String {
        itemize(iflags, ft, &A)
    }

    // Expected strings recorded from rsync 3.5.0 (testsuite/report-goldens.sh
    // and local runs with -ai, -aii, -aiU, --protocol=28, -rli).
    #[test]
    fn new_items() {
        let new = ITEM_IS_NEW | ITEM_LOCAL_CHANGE;
        assert_eq!(it(new, Dir), "cd+++++++++");
        assert_eq!(it(new, Fifo), "cS+++++++++");
        assert_eq!(it(new, Socket), "cS+++++++++");
        assert_eq!(it(new, CharDev), "cD+++++++++");
        assert_eq!(it(new, Symlink), "cL+++++++++");
        assert_eq!(it(ITEM_IS_NEW | ITEM_TRANSFER, Regular), ">f+++++++++");
        assert_eq!(
            it(
                ITEM_IS_NEW | ITEM_LOCAL_CHANGE | ITEM_XNAME_FOLLOWS,
                Regular
            ),
            "hf+++++++++"
        );
        let push = ItemizeOpts { sending: true, ..A };
        assert_eq!(
            itemize(ITEM_IS_NEW | ITEM_TRANSFER, Regular, &push),
            "<f+++++++++"
        );
    }

    #[test]
    fn unchanged_items() {
        assert_eq!(it(0, Dir), ".d         ");
        assert_eq!(it(0, Regular), ".f         ");
        assert_eq!(it(0, Fifo), ".S         ");
        assert_eq!(it(0, Symlink), ".L         ");
        assert_eq!(
            it(ITEM_LOCAL_CHANGE | ITEM_XNAME_FOLLOWS, Regular),
            "hf         "
        );
        // A transfer with no attribute change keeps its dots.
        assert_eq!(it(ITEM_TRANSFER, Regular), ">f.........");
    }

    #[test]
    fn changes() {
        assert_eq!(it(ITEM_TRANSFER | ITEM_REPORT_TIME, Regular), ">f..t......");
        assert_eq!(it(ITEM_REPORT_PERMS, Regular), ".f...p.....");
        assert_eq!(it(ITEM_REPORT_TIME, Dir), ".d..t......");
        assert_eq!(it(ITEM_TRANSFER | ITEM_REPORT_SIZE, Regular), ">f.s.......");
        assert_eq!(
            it(
                ITEM_LOCAL_CHANGE | ITEM_XNAME_FOLLOWS | ITEM_REPORT_SIZE,
                Regular
            ),
            "hf.s......."
        );
        assert_eq!(it(ITEM_REPORT_TIME, CharDev), ".D..t......");
        assert_eq!(it(ITEM_REPORT_TIME, Symlink), ".L..t......");
        assert_eq!(it(ITEM_REPORT_TIME, Fifo), ".S..t......");
        assert_eq!(
            it(ITEM_REPORT_OWNER | ITEM_REPORT_GROUP, Regular),
            ".f....og..."
        );
        assert_eq!(it(ITEM_REPORT_GROUP, Regular), ".f.....g...");
        assert_eq!(it(ITEM_REPORT_ATIME, Regular), ".f......u..");
        assert_eq!(it(ITEM_REPORT_ATIME, CharDev), ".D......u..");
        // Not recordable here (no --crtimes on Linux); from the upstream rule.
        assert_eq!(it(ITEM_REPORT_CRTIME, Regular), ".f......n..");
        assert_eq!(
            it(ITEM_REPORT_CRTIME | ITEM_REPORT_ATIME, Regular),
            ".f......b.."
        );
        assert_eq!(
            it(
                ITEM_REPORT_CHANGE | ITEM_REPORT_ACL | ITEM_REPORT_XATTR,
                Regular
            ),
            ".fc......ax"
        );
    }

    #[test]
    fn capital_t() {
        let no_t = ItemizeOpts {
            preserve_mtimes: false,
            ..A
        };
        // rsync -rli after a touch: ">f..T...... a.txt", "hf..T...... hard".
        assert_eq!(
            itemize(ITEM_TRANSFER | ITEM_REPORT_TIME, Regular, &no_t),
            ">f..T......"
        );
        assert_eq!(
            itemize(
                ITEM_LOCAL_CHANGE | ITEM_XNAME_FOLLOWS | ITEM_REPORT_TIME,
                Regular,
                &no_t
            ),
            "hf..T......"
        );
        // Symlinks: 'T' also when the receiver cannot set their times or
        // setting them failed.
        let no_lt = ItemizeOpts {
            receiver_symlink_times: false,
            ..A
        };
        assert_eq!(itemize(ITEM_REPORT_TIME, Symlink, &no_lt), ".L..T......");
        assert_eq!(
            it(ITEM_REPORT_TIME | ITEM_REPORT_TIMEFAIL, Symlink),
            ".L..T......"
        );
        // TIMEFAIL alone shows nothing (the column it would use is the time).
        assert_eq!(it(ITEM_REPORT_TIMEFAIL, Symlink), ".L         ");
    }

    #[test]
    fn missing_and_deleted() {
        // rsync -ai --protocol=28: ">f????????? f".
        assert_eq!(
            it(ITEM_TRANSFER | ITEM_MISSING_DATA, Regular),
            ">f?????????"
        );
        // "*deleting   extra" is this string plus the separating space.
        assert_eq!(it(ITEM_DELETED, Regular), "*deleting  ");
        assert_eq!(it(ITEM_DELETED, Dir), "*deleting  ");
    }
}
