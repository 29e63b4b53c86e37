//! Every option spelling rsync 3.5.0 accepts, one row each (upstream: the
//! popt `long_options[]` table in options.c).
//!
//! The parser looks spellings up here; `options_build` decides what each
//! implemented row does. A row is either implemented or refused: a refused
//! option stops the run with exit code 1 instead of being silently dropped.

/// Whether an option consumes a value, and how popt would convert it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A flag: `--opt=value` is an error.
    None,
    /// A required string value.
    Str,
    /// A required value parsed as a C `int` (strtoll base 0, then range-checked).
    Int,
}

impl ArgKind {
    pub fn takes_arg(self) -> bool {
        self != ArgKind::None
    }
}

/// What gensync does with an option today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Implemented,
    /// Recognised, but the run stops with "option not yet supported".
    Refused,
}

/// The action of a row. Aliases share one action (`--log-format` and
/// `--out-format` are both `OutFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptId {
    Help,
    Version,
    MinSize,
    MaxSize,
    MaxAlloc,
    BwLimit,
    NoBwLimit,
    Backup,
    NoBackup,
    BackupDir,
    Suffix,
    /// `--stop-after` and its older name `--time-limit`.
    StopAfter,
    StopAt,
    EightBit,
    NoEightBit,
    Outbuf,
    Verbose,
    NoVerbose,
    Stderr,
    Msgs2Stderr,
    NoMsgs2Stderr,
    Quiet,
    Stats,
    HumanReadable,
    NoHumanReadable,
    DryRun,
    Archive,
    Recursive,
    NoRecursive,
    Dirs,
    NoDirs,
    Perms,
    NoPerms,
    Times,
    NoTimes,
    OmitDirTimes,
    NoOmitDirTimes,
    ModifyWindow,
    Owner,
    NoOwner,
    Group,
    NoGroup,
    /// `-D`: devices and specials together.
    DevSpecials,
    NoDevSpecials,
    Devices,
    NoDevices,
    Specials,
    NoSpecials,
    Links,
    HardLinks,
    NoHardLinks,
    CopyLinks,
    Chmod,
    Atimes,
    NoAtimes,
    Usermap,
    Groupmap,
    Chown,
    Crtimes,
    Executability,
    OmitLinkTimes,
    NoOmitLinkTimes,
    OpenNoatime,
    NoOpenNoatime,
    Super,
    NoSuper,
    CopyUnsafeLinks,
    SafeLinks,
    MungeLinks,
    NoMungeLinks,
    CopyDirlinks,
    KeepDirlinks,
    NoLinks,
    IgnoreTimes,
    SizeOnly,
    OneFileSystem,
    NoOneFileSystem,
    Update,
    Existing,
    IgnoreExisting,
    Delete,
    DeleteBefore,
    DeleteDuring,
    DeleteDelay,
    DeleteAfter,
    WholeFile,
    NoWholeFile,
    Checksum,
    NoChecksum,
    ChecksumChoice,
    BlockSize,
    /// `-z`: counted, `-zz` means zlibx.
    Compress,
    OldCompress,
    NewCompress,
    NoCompress,
    CompressChoice,
    SkipCompress,
    CompressLevel,
    CompressThreads,
    /// `-P`: --partial --progress.
    PartialProgress,
    Progress,
    NoProgress,
    Partial,
    NoPartial,
    IncRecursive,
    NoIncRecursive,
    OutFormat,
    Itemize,
    NoItemize,
    ListOnly,
    NumericIds,
    NoNumericIds,
    Rsh,
    RsyncPath,
    Mkpath,
    NoMkpath,
    BlockingIo,
    NoBlockingIo,
    OldArgs,
    NoOldArgs,
    DeleteExcluded,
    Force,
    NoForce,
    IgnoreErrors,
    NoIgnoreErrors,
    MaxDelete,
    DashF,
    Filter,
    Exclude,
    Include,
    ExcludeFrom,
    IncludeFrom,
    CvsExclude,
    From0,
    NoFrom0,
    Relative,
    NoRelative,
    ImpliedDirs,
    NoImpliedDirs,
    FilesFrom,
    DeleteMissingArgs,
    IgnoreMissingArgs,
    PruneEmptyDirs,
    NoPruneEmptyDirs,
    SecludedArgs,
    NoSecludedArgs,
    Timeout,
    NoTimeout,
    ConTimeout,
    NoConTimeout,
    RemoteOption,
    Protocol,
    ChecksumSeed,
    Server,
    Sender,
    Daemon,
    Port,
    Address,
    Ipv4,
    Ipv6,
    Sockopts,
    PasswordFile,
    EarlyInput,
    Motd,
    NoMotd,
    Config,
    Dparam,
    Detach,
    NoDetach,
    /// Turns off a feature gensync never turns on (`--no-H`),
    /// so accepting it changes nothing and is still exactly what was asked.
    NoOp,
    Sparse,
    NoSparse,
    Preallocate,
    Inplace,
    NoInplace,
    Append,
    AppendVerify,
    NoAppend,
    RemoveSourceFiles,
    RemoveSentFiles,
    PartialDir,
    DelayUpdates,
    NoDelayUpdates,
    Fsync,
    TempDir,
    /// Every refused row.
    Refused,
}

/// One spelling of one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptRow {
    /// Long name without the leading `--`; `None` for the short-only `-D`, `-F`, `-P`.
    pub long: Option<&'static str>,
    pub short: Option<char>,
    pub arg: ArgKind,
    pub status: Status,
    pub id: OptId,
}

impl OptRow {
    /// How messages name the option: `--long` when it has one, else `-c`.
    pub fn display_name(&self) -> String {
        match (self.long, self.short) {
            (Some(l), _) => format!("--{l}"),
            (None, Some(c)) => format!("-{c}"),
            (None, None) => String::from("--"),
        }
    }
}

const N: ArgKind = ArgKind::None;
const S: ArgKind = ArgKind::Str;
const I: ArgKind = ArgKind::Int;

// "" means no long name and '\0' no short name, which keeps the table one
// line per row.
const fn row(long: &'static str, short: char, arg: ArgKind, status: Status, id: OptId) -> OptRow {
    OptRow {
        long: if long.is_empty() { None } else { Some(long) },
        short: if short == '\0' { None } else { Some(short) },
        arg,
        status,
        id,
    }
}

const fn imp(long: &'static str, short: char, arg: ArgKind, id: OptId) -> OptRow {
    row(long, short, arg, Status::Implemented, id)
}

const fn noop(long: &'static str) -> OptRow {
    row(long, '\0', N, Status::Implemented, OptId::NoOp)
}

const fn no(long: &'static str, short: char, arg: ArgKind) -> OptRow {
    row(long, short, arg, Status::Refused, OptId::Refused)
}

use OptId as O;

/// All rows, in the order of upstream's table.
pub static OPTIONS: &[OptRow] = &[
    imp("help", '\0', N, O::Help),
    imp("version", 'V', N, O::Version),
    imp("verbose", 'v', N, O::Verbose),
    imp("no-verbose", '\0', N, O::NoVerbose),
    imp("no-v", '\0', N, O::NoVerbose),
    no("info", '\0', S),
    no("debug", '\0', S),
    imp("stderr", '\0', S, O::Stderr),
    imp("msgs2stderr", '\0', N, O::Msgs2Stderr),
    imp("no-msgs2stderr", '\0', N, O::NoMsgs2Stderr),
    imp("quiet", 'q', N, O::Quiet),
    imp("motd", '\0', N, O::Motd),
    imp("no-motd", '\0', N, O::NoMotd),
    imp("stats", '\0', N, O::Stats),
    imp("human-readable", 'h', N, O::HumanReadable),
    imp("no-human-readable", '\0', N, O::NoHumanReadable),
    imp("no-h", '\0', N, O::NoHumanReadable),
    imp("dry-run", 'n', N, O::DryRun),
    imp("archive", 'a', N, O::Archive),
    imp("recursive", 'r', N, O::Recursive),
    imp("no-recursive", '\0', N, O::NoRecursive),
    imp("no-r", '\0', N, O::NoRecursive),
    imp("inc-recursive", '\0', N, O::IncRecursive),
    imp("no-inc-recursive", '\0', N, O::NoIncRecursive),
    imp("i-r", '\0', N, O::IncRecursive),
    imp("no-i-r", '\0', N, O::NoIncRecursive),
    imp("dirs", 'd', N, O::Dirs),
    imp("no-dirs", '\0', N, O::NoDirs),
    imp("no-d", '\0', N, O::NoDirs),
    no("old-dirs", '\0', N),
    no("old-d", '\0', N),
    imp("perms", 'p', N, O::Perms),
    imp("no-perms", '\0', N, O::NoPerms),
    imp("no-p", '\0', N, O::NoPerms),
    imp("executability", 'E', N, O::Executability),
    no("acls", 'A', N),
    noop("no-acls"),
    noop("no-A"),
    no("xattrs", 'X', N),
    noop("no-xattrs"),
    noop("no-X"),
    imp("times", 't', N, O::Times),
    imp("no-times", '\0', N, O::NoTimes),
    imp("no-t", '\0', N, O::NoTimes),
    imp("atimes", 'U', N, O::Atimes),
    imp("no-atimes", '\0', N, O::NoAtimes),
    imp("no-U", '\0', N, O::NoAtimes),
    imp("open-noatime", '\0', N, O::OpenNoatime),
    imp("no-open-noatime", '\0', N, O::NoOpenNoatime),
    imp("crtimes", 'N', N, O::Crtimes),
    noop("no-crtimes"),
    noop("no-N"),
    imp("omit-dir-times", 'O', N, O::OmitDirTimes),
    imp("no-omit-dir-times", '\0', N, O::NoOmitDirTimes),
    imp("no-O", '\0', N, O::NoOmitDirTimes),
    imp("omit-link-times", 'J', N, O::OmitLinkTimes),
    imp("no-omit-link-times", '\0', N, O::NoOmitLinkTimes),
    imp("no-J", '\0', N, O::NoOmitLinkTimes),
    imp("modify-window", '@', I, O::ModifyWindow),
    imp("super", '\0', N, O::Super),
    imp("no-super", '\0', N, O::NoSuper),
    no("fake-super", '\0', N),
    imp("owner", 'o', N, O::Owner),
    imp("no-owner", '\0', N, O::NoOwner),
    imp("no-o", '\0', N, O::NoOwner),
    imp("group", 'g', N, O::Group),
    imp("no-group", '\0', N, O::NoGroup),
    imp("no-g", '\0', N, O::NoGroup),
    imp("", 'D', N, O::DevSpecials),
    imp("no-D", '\0', N, O::NoDevSpecials),
    imp("devices", '\0', N, O::Devices),
    imp("no-devices", '\0', N, O::NoDevices),
    no("copy-devices", '\0', N),
    no("write-devices", '\0', N),
    noop("no-write-devices"),
    imp("specials", '\0', N, O::Specials),
    imp("no-specials", '\0', N, O::NoSpecials),
    no("drop-D", '\0', N),
    noop("no-drop-D"),
    no("confine-root", '\0', S),
    imp("links", 'l', N, O::Links),
    imp("no-links", '\0', N, O::NoLinks),
    imp("no-l", '\0', N, O::NoLinks),
    imp("copy-links", 'L', N, O::CopyLinks),
    imp("copy-unsafe-links", '\0', N, O::CopyUnsafeLinks),
    imp("safe-links", '\0', N, O::SafeLinks),
    no("insecure-links", '\0', N),
    // Accepting it would promise upstream's symlink confinement, which gensync
    // does not implement yet.
    no("no-insecure-links", '\0', N),
    imp("munge-links", '\0', N, O::MungeLinks),
    imp("no-munge-links", '\0', N, O::NoMungeLinks),
    imp("copy-dirlinks", 'k', N, O::CopyDirlinks),
    imp("keep-dirlinks", 'K', N, O::KeepDirlinks),
    imp("hard-links", 'H', N, O::HardLinks),
    imp("no-hard-links", '\0', N, O::NoHardLinks),
    imp("no-H", '\0', N, O::NoHardLinks),
    imp("relative", 'R', N, O::Relative),
    imp("no-relative", '\0', N, O::NoRelative),
    imp("no-R", '\0', N, O::NoRelative),
    imp("implied-dirs", '\0', N, O::ImpliedDirs),
    imp("no-implied-dirs", '\0', N, O::NoImpliedDirs),
    imp("i-d", '\0', N, O::ImpliedDirs),
    imp("no-i-d", '\0', N, O::NoImpliedDirs),
    imp("chmod", '\0', S, O::Chmod),
    imp("ignore-times", 'I', N, O::IgnoreTimes),
    imp("size-only", '\0', N, O::SizeOnly),
    imp("one-file-system", 'x', N, O::OneFileSystem),
    imp("no-one-file-system", '\0', N, O::NoOneFileSystem),
    imp("no-x", '\0', N, O::NoOneFileSystem),
    imp("update", 'u', N, O::Update),
    imp("existing", '\0', N, O::Existing),
    imp("ignore-non-existing", '\0', N, O::Existing),
    imp("ignore-existing", '\0', N, O::IgnoreExisting),
    imp("max-size", '\0', S, O::MaxSize),
    imp("min-size", '\0', S, O::MinSize),
    imp("max-alloc", '\0', S, O::MaxAlloc),
    imp("sparse", 'S', N, O::Sparse),
    imp("no-sparse", '\0', N, O::NoSparse),
    imp("no-S", '\0', N, O::NoSparse),
    imp("preallocate", '\0', N, O::Preallocate),
    imp("inplace", '\0', N, O::Inplace),
    imp("no-inplace", '\0', N, O::NoInplace),
    imp("append", '\0', N, O::Append),
    imp("append-verify", '\0', N, O::AppendVerify),
    imp("no-append", '\0', N, O::NoAppend),
    // Upstream's --del is an alias of --delete-during, not of --delete.
    imp("del", '\0', N, O::DeleteDuring),
    imp("delete", '\0', N, O::Delete),
    imp("delete-before", '\0', N, O::DeleteBefore),
    imp("delete-during", '\0', N, O::DeleteDuring),
    imp("delete-delay", '\0', N, O::DeleteDelay),
    imp("delete-after", '\0', N, O::DeleteAfter),
    imp("delete-excluded", '\0', N, O::DeleteExcluded),
    imp("delete-missing-args", '\0', N, O::DeleteMissingArgs),
    imp("ignore-missing-args", '\0', N, O::IgnoreMissingArgs),
    imp("remove-sent-files", '\0', N, O::RemoveSentFiles),
    imp("remove-source-files", '\0', N, O::RemoveSourceFiles),
    imp("force", '\0', N, O::Force),
    imp("no-force", '\0', N, O::NoForce),
    imp("ignore-errors", '\0', N, O::IgnoreErrors),
    imp("no-ignore-errors", '\0', N, O::NoIgnoreErrors),
    imp("max-delete", '\0', I, O::MaxDelete),
    imp("", 'F', N, O::DashF),
    imp("filter", 'f', S, O::Filter),
    imp("exclude", '\0', S, O::Exclude),
    imp("include", '\0', S, O::Include),
    imp("exclude-from", '\0', S, O::ExcludeFrom),
    imp("include-from", '\0', S, O::IncludeFrom),
    imp("cvs-exclude", 'C', N, O::CvsExclude),
    imp("whole-file", 'W', N, O::WholeFile),
    imp("no-whole-file", '\0', N, O::NoWholeFile),
    imp("no-W", '\0', N, O::NoWholeFile),
    imp("checksum", 'c', N, O::Checksum),
    imp("no-checksum", '\0', N, O::NoChecksum),
    imp("no-c", '\0', N, O::NoChecksum),
    imp("checksum-choice", '\0', S, O::ChecksumChoice),
    imp("cc", '\0', S, O::ChecksumChoice),
    imp("block-size", 'B', S, O::BlockSize),
    no("compare-dest", '\0', S),
    no("copy-dest", '\0', S),
    no("link-dest", '\0', S),
    no("fuzzy", 'y', N),
    noop("no-fuzzy"),
    noop("no-y"),
    imp("compress", 'z', N, O::Compress),
    imp("old-compress", '\0', N, O::OldCompress),
    imp("new-compress", '\0', N, O::NewCompress),
    imp("no-compress", '\0', N, O::NoCompress),
    imp("no-z", '\0', N, O::NoCompress),
    imp("compress-choice", '\0', S, O::CompressChoice),
    imp("zc", '\0', S, O::CompressChoice),
    imp("skip-compress", '\0', S, O::SkipCompress),
    imp("compress-level", '\0', I, O::CompressLevel),
    imp("zl", '\0', I, O::CompressLevel),
    imp("compress-threads", '\0', I, O::CompressThreads),
    imp("zt", '\0', I, O::CompressThreads),
    imp("", 'P', N, O::PartialProgress),
    imp("progress", '\0', N, O::Progress),
    imp("no-progress", '\0', N, O::NoProgress),
    imp("partial", '\0', N, O::Partial),
    imp("no-partial", '\0', N, O::NoPartial),
    imp("partial-dir", '\0', S, O::PartialDir),
    imp("delay-updates", '\0', N, O::DelayUpdates),
    imp("no-delay-updates", '\0', N, O::NoDelayUpdates),
    imp("prune-empty-dirs", 'm', N, O::PruneEmptyDirs),
    imp("no-prune-empty-dirs", '\0', N, O::NoPruneEmptyDirs),
    imp("no-m", '\0', N, O::NoPruneEmptyDirs),
    no("log-file", '\0', S),
    no("log-file-format", '\0', S),
    imp("out-format", '\0', S, O::OutFormat),
    imp("log-format", '\0', S, O::OutFormat),
    imp("itemize-changes", 'i', N, O::Itemize),
    imp("no-itemize-changes", '\0', N, O::NoItemize),
    imp("no-i", '\0', N, O::NoItemize),
    imp("bwlimit", '\0', S, O::BwLimit),
    imp("no-bwlimit", '\0', N, O::NoBwLimit),
    imp("backup", 'b', N, O::Backup),
    imp("no-backup", '\0', N, O::NoBackup),
    imp("backup-dir", '\0', S, O::BackupDir),
    imp("suffix", '\0', S, O::Suffix),
    imp("list-only", '\0', N, O::ListOnly),
    no("read-batch", '\0', S),
    no("write-batch", '\0', S),
    no("only-write-batch", '\0', S),
    imp("files-from", '\0', S, O::FilesFrom),
    imp("from0", '0', N, O::From0),
    imp("no-from0", '\0', N, O::NoFrom0),
    imp("old-args", '\0', N, O::OldArgs),
    imp("no-old-args", '\0', N, O::NoOldArgs),
    imp("secluded-args", 's', N, O::SecludedArgs),
    imp("no-secluded-args", '\0', N, O::NoSecludedArgs),
    imp("protect-args", '\0', N, O::SecludedArgs),
    imp("no-protect-args", '\0', N, O::NoSecludedArgs),
    imp("no-s", '\0', N, O::NoSecludedArgs),
    no("trust-sender", '\0', N),
    imp("numeric-ids", '\0', N, O::NumericIds),
    imp("no-numeric-ids", '\0', N, O::NoNumericIds),
    imp("usermap", '\0', S, O::Usermap),
    imp("groupmap", '\0', S, O::Groupmap),
    imp("chown", '\0', S, O::Chown),
    imp("timeout", '\0', I, O::Timeout),
    imp("no-timeout", '\0', N, O::NoTimeout),
    imp("contimeout", '\0', I, O::ConTimeout),
    imp("no-contimeout", '\0', N, O::NoConTimeout),
    imp("fsync", '\0', N, O::Fsync),
    imp("stop-after", '\0', S, O::StopAfter),
    imp("time-limit", '\0', S, O::StopAfter),
    imp("stop-at", '\0', S, O::StopAt),
    imp("rsh", 'e', S, O::Rsh),
    imp("rsync-path", '\0', S, O::RsyncPath),
    imp("temp-dir", 'T', S, O::TempDir),
    no("iconv", '\0', S),
    noop("no-iconv"),
    imp("ipv4", '4', N, O::Ipv4),
    imp("ipv6", '6', N, O::Ipv6),
    imp("8-bit-output", '8', N, O::EightBit),
    imp("no-8-bit-output", '\0', N, O::NoEightBit),
    imp("no-8", '\0', N, O::NoEightBit),
    imp("mkpath", '\0', N, O::Mkpath),
    imp("no-mkpath", '\0', N, O::NoMkpath),
    no("qsort", '\0', N),
    no("copy-as", '\0', S),
    imp("address", '\0', S, O::Address),
    imp("port", '\0', I, O::Port),
    imp("sockopts", '\0', S, O::Sockopts),
    imp("password-file", '\0', S, O::PasswordFile),
    imp("early-input", '\0', S, O::EarlyInput),
    imp("blocking-io", '\0', N, O::BlockingIo),
    imp("no-blocking-io", '\0', N, O::NoBlockingIo),
    imp("outbuf", '\0', S, O::Outbuf),
    imp("remote-option", 'M', S, O::RemoteOption),
    imp("protocol", '\0', I, O::Protocol),
    imp("checksum-seed", '\0', I, O::ChecksumSeed),
    imp("server", '\0', N, O::Server),
    imp("sender", '\0', N, O::Sender),
    // Upstream switches to its daemon option table on these.
    imp("config", '\0', S, O::Config),
    imp("daemon", '\0', N, O::Daemon),
    imp("dparam", '\0', S, O::Dparam),
    imp("detach", '\0', N, O::Detach),
    imp("no-detach", '\0', N, O::NoDetach),
];

/// The row for `--name` (without dashes). popt matches long names exactly:
/// rsync rejects abbreviations such as `--verb`.
pub fn find_long(name: &[u8]) -> Option<&'static OptRow> {
    OPTIONS
        .iter()
        .find(|r| r.long.is_some_and(|l| l.as_bytes() == name))
}

/// The row for the short option `-c`.
pub fn find_short(c: u8) -> Option<&'static OptRow> {
    OPTIONS
        .iter()
        .find(|r| r.short.is_some_and(|s| s as u32 == u32::from(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique() {
        let mut longs = HashSet::new();
        let mut shorts = HashSet::new();
        for r in OPTIONS {
            if let Some(l) = r.long {
                assert!(longs.insert(l), "duplicate --{l}");
            }
            if let Some(s) = r.short {
                assert!(shorts.insert(s), "duplicate -{s}");
            }
            assert!(r.long.is_some() || r.short.is_some());
        }
    }

    #[test]
    fn row_count_matches_upstream() {
        // rsync 3.5.0's long_options[] has 258 entries.
        assert_eq!(OPTIONS.len(), 258);
    }

    #[test]
    fn status_and_action_agree() {
        for r in OPTIONS {
            let refused = r.id == OptId::Refused;
            assert_eq!(refused, r.status == Status::Refused, "{}", r.display_name());
        }
    }

    /// compat/options.md must list every row with its current status.
    #[test]
    fn compat_table_covers_every_row() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/compat/options.md");
        let Ok(doc) = std::fs::read_to_string(path) else {
            return;
        };
        for r in OPTIONS {
            let name = match r.long {
                Some(l) => format!("`--{l}`"),
                None => format!("`-{}`", r.short.unwrap()),
            };
            let line = doc
                .lines()
                .find(|l| l.starts_with(&format!("| {name} |")))
                .unwrap_or_else(|| panic!("{name} missing from compat/options.md"));
            let listed_implemented = line.contains("| implemented");
            assert_eq!(
                listed_implemented,
                r.status == Status::Implemented,
                "{line}"
            );
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(find_long(b"verbose").unwrap().short, Some('v'));
        assert!(find_long(b"verb").is_none());
        assert_eq!(find_short(b'D').unwrap().id, OptId::DevSpecials);
        assert_eq!(find_short(b'@').unwrap().id, OptId::ModifyWindow);
        assert_eq!(find_long(b"log-format").unwrap().id, OptId::OutFormat);
        assert_eq!(find_long(b"del").unwrap().id, OptId::DeleteDuring);
        assert!(find_short(b'Y').is_none());
        assert_eq!(
            find_long(b"hard-links").unwrap().status,
            Status::Implemented
        );
        assert_eq!(find_short(b'F').unwrap().display_name(), "-F");
    }
}
