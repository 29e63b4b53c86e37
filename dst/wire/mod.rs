//! The protocol codec: typed values <-> bytes. It knows the protocol version
//! and negotiated stream shape, nothing of options, files or threads.
//! See protocol-notes/README.md for the page per topic.
pub mod compress;
pub mod flist;
pub mod int;
pub mod mux;
pub mod ndx;
pub mod sums;
pub mod tokens;

/// The newest protocol we speak, and the oldest.
pub const PROTOCOL_VERSION: u32 = 32;
pub const MIN_PROTOCOL_VERSION: u32 = 27;

/// Compatibility flags (compat.c CF_*), protocol >= 30.
pub const CF_INC_RECURSE: u32 = 1 << 0;
pub const CF_SYMLINK_TIMES: u32 = 1 << 1;
pub const CF_SYMLINK_ICONV: u32 = 1 << 2;
pub const CF_SAFE_FLIST: u32 = 1 << 3;
pub const CF_AVOID_XATTR_OPTIM: u32 = 1 << 4;
pub const CF_CHKSUM_SEED_FIX: u32 = 1 << 5;
pub const CF_INPLACE_PARTIAL_DIR: u32 = 1 << 6;
pub const CF_VARINT_FLIST_FLAGS: u32 = 1 << 7;
pub const CF_ID0_NAMES: u32 = 1 << 8;

/// ITEM_* bits carried after an ndx (rsync.h).
pub mod item {
    pub const REPORT_ATIME: u32 = 1 << 0;
    pub const REPORT_CHANGE: u32 = 1 << 1;
    pub const REPORT_SIZE: u32 = 1 << 2;
    pub const REPORT_TIMEFAIL: u32 = 1 << 2;
    pub const REPORT_TIME: u32 = 1 << 3;
    pub const REPORT_PERMS: u32 = 1 << 4;
    pub const REPORT_OWNER: u32 = 1 << 5;
    pub const REPORT_GROUP: u32 = 1 << 6;
    pub const REPORT_ACL: u32 = 1 << 7;
    pub const REPORT_XATTR: u32 = 1 << 8;
    pub const REPORT_CRTIME: u32 = 1 << 10;
    pub const BASIS_TYPE_FOLLOWS: u32 = 1 << 11;
    pub const XNAME_FOLLOWS: u32 = 1 << 12;
    pub const IS_NEW: u32 = 1 << 13;
    pub const LOCAL_CHANGE: u32 = 1 << 14;
    pub const TRANSFER: u32 = 1 << 15;
    pub const MISSING_DATA: u32 = 1 << 16;
    pub const DELETED: u32 = 1 << 17;
    pub const MATCHED: u32 = 1 << 18;
    /// Bits that make an itemize notice worth sending (SIGNIFICANT_ITEM_FLAGS).
    pub const SIGNIFICANT: u32 = !(BASIS_TYPE_FOLLOWS | XNAME_FOLLOWS | LOCAL_CHANGE);
}
