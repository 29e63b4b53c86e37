//! The engine's file-list entry (upstream: struct file_struct in rsync.h).
//! One `FileEntry` per transferred name; both sides hold the same sorted
//! `FileList` so that an ndx means the same entry on each end.

/// In-memory entry flags (rsync.h FLAG_*). Only what the engine uses.
pub const FLAG_TOP_DIR: u32 = 1 << 0;
pub const FLAG_CONTENT_DIR: u32 = 1 << 2;
pub const FLAG_IMPLIED_DIR: u32 = 1 << 3;
pub const FLAG_MOUNT_DIR: u32 = 1 << 4;
pub const FLAG_FILE_SENT: u32 = 1 << 5;
pub const FLAG_HLINKED: u32 = 1 << 6;
/// Cleared duplicate slot (flist.c clear_file()): keeps its index, never used.
pub const FLAG_CLEARED: u32 = 1 << 7;
pub const FLAG_MOD_NSEC: u32 = 1 << 8;

pub const S_IFMT: u32 = 0o170000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFIFO: u32 = 0o010000;
pub const S_IFSOCK: u32 = 0o140000;

/// What kind of filesystem object an entry is, derived from `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Regular,
    Dir,
    Symlink,
    CharDev,
    BlockDev,
    Fifo,
    Socket,
}

impl FileType {
    pub fn from_mode(mode: u32) -> Option<FileType> {
        Some(match mode & S_IFMT {
            S_IFREG => FileType::Regular,
            S_IFDIR => FileType::Dir,
            S_IFLNK => FileType::Symlink,
            S_IFCHR => FileType::CharDev,
            S_IFBLK => FileType::BlockDev,
            S_IFIFO => FileType::Fifo,
            S_IFSOCK => FileType::Socket,
            _ => return None,
        })
    }
    pub fn is_device(self) -> bool {
        matches!(self, FileType::CharDev | FileType::BlockDev)
    }
    pub fn is_special(self) -> bool {
        matches!(self, FileType::Fifo | FileType::Socket)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileEntry {
    /// Path relative to the transfer root, '/'-separated, no trailing slash;
    /// the root of a `src/` transfer is ".".
    pub name: Vec<u8>,
    /// st_mode with the type bits in their Unix values.
    pub mode: u32,
    pub size: i64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// `-U`: access time (seconds), non-directories only.
    pub atime: i64,
    pub uid: u32,
    pub gid: u32,
    pub rdev_major: u32,
    pub rdev_minor: u32,
    /// Symlink target (only with `-l`).
    pub link_target: Option<Vec<u8>>,
    /// `--checksum` file sum (only with `-c`, regular files).
    pub checksum: Option<Vec<u8>>,
    /// FLAG_* bits.
    pub flags: u32,
    /// Sender only: the local path to open (the name is relative to the
    /// transfer root; this is absolute or relative to the cwd).
    pub local_path: Option<std::path::PathBuf>,
    /// Sender only: (dev, ino) for hard-link grouping and -x.
    pub dev: u64,
    pub ino: u64,
    /// Sender only: st_nlink, for `-H` (which names join a link group).
    pub nlink: u64,
    /// Receiver only, with FLAG_HLINKED: the hard-link group this entry
    /// belongs to (upstream F_HL_GNUM): the leader's ndx for protocol 30+,
    /// a per-(dev, ino) counter below.
    pub hl_gnum: i32,
    /// Sender only, `-R` with incremental recursion: the rest of each
    /// relative name below this implied directory, sent with its list
    /// (upstream F_DIR_RELNAMES).
    pub rel_names: Vec<(Vec<u8>, NameType)>,
}

/// How a source name was spelled (upstream name_type): a trailing slash or a
/// dot-dir follows a symlink; a missing name is sent as mode 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameType {
    #[default]
    Normal,
    SlashEnding,
    DotDir,
    Missing,
}

impl FileEntry {
    pub fn file_type(&self) -> Option<FileType> {
        FileType::from_mode(self.mode)
    }
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
    pub fn is_reg(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
    pub fn perms(&self) -> u32 {
        self.mode & 0o7777
    }
    /// The last path component.
    pub fn basename(&self) -> &[u8] {
        match memchr::memrchr(b'/', &self.name) {
            Some(i) => &self.name[i + 1..],
            None => &self.name,
        }
    }
}
