//! Differential interop matrix over a remote shell. Every cell runs one
//! scenario twice on fresh copies of the same fixture: first real rsync on
//! both ends (the oracle), then the pairing under test, and requires the same
//! resulting tree, exit code and normalised client stdout/stderr (with the
//! tolerance rules of `local_diff`).
//!
//! The remote shell is `compat/tools/lsh`, which runs the "remote" command on
//! this machine, so `localhost:/abs/path` names a directory of the copy.
//!
//! Axes: pairing (gensync client with an rsync server, rsync client with a
//! gensync server, gensync on both ends) x direction (push, pull) x option set
//! make one #[test] each; every test loops over the protocol versions 32..27
//! (forced with `--protocol` on the client, for the oracle too) and reports
//! all failing protocols at once.
//!
//! With `GENSYNC_UNDER_TEST=/usr/bin/rsync` every pairing degenerates to
//! rsync <-> rsync and every cell must pass, expected failures included.

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::local_diff::Scenario;
use crate::tree::{self, Profile};
use crate::util::{self, Norm, Output, RunOpts};

const LSH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/compat/tools/lsh");

/// 32 is the default: it is run without `--protocol` so that the normal
/// version negotiation is exercised too.
const PROTOCOLS: [u32; 6] = [32, 31, 30, 29, 28, 27];

/// Each cell transfers a small tree (one file of a few MiB at most); a run
/// that takes longer than this has hung, and should fail its cell quickly
/// rather than hold up the whole matrix for the default two minutes.
const CELL_TIMEOUT: Duration = Duration::from_secs(30);

/// Cells that fail because gensync lacks a feature, not because of a bug:
/// (test name, protocol, text the failure report must contain, reason).
/// Such a cell must still fail, and fail that way: a cell that starts
/// passing (or fails differently) fails its test, so that this table is
/// kept honest. Not consulted when the binary under test is real rsync.
const EXPECTED_FAILURES: &[(&str, u32, &str, &str)] = &[];

/// The pairing under test, named by the end(s) gensync plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GensyncEnd {
    /// gensync runs the client, rsync is started as the server.
    Client,
    /// rsync runs the client and starts gensync as the server.
    Server,
    /// gensync on both ends.
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// `src/ localhost:/abs/dst/`: the client sends.
    Push,
    /// `localhost:/abs/src/ dst/`: the client receives.
    Pull,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OptSet {
    /// `-a -i` into a missing destination.
    Archive,
    /// `-a -i --delete` over a destination with extra files and directories.
    Delete,
    /// `-a -i --no-whole-file` over an older, edited destination that
    /// includes a few-MiB file with small edits: the delta path on the wire.
    NoWholeFile,
    /// `-a -n -i` over an older destination: itemizing without transfer.
    DryRun,
    /// `-av --stats` over an older destination: totals and the stats block.
    Stats,
    /// `-a -c -i` over an older destination: whole-file checksums in the
    /// file list decide what is sent.
    Checksum,
    /// `-a -i -s` into a missing destination: the arguments travel over the
    /// connection instead of the remote shell's command line.
    Secluded,
    /// `-a -i --timeout=20 -M--omit-dir-times` over an older destination:
    /// the timeout is forwarded (and keep-alives may flow), and a `-M` word
    /// changes what the server does.
    RemoteOpts,
    /// `-az -i` over the `NoWholeFile` fixture: the compressor is negotiated
    /// (zstd between 3.2+ peers at protocol >= 30, zlib below), and matched
    /// blocks flow between compressed literals.
    Compress,
    /// `-az -i --zc=zlib`: deflate with the matched blocks fed into the
    /// history on both sides.
    CompressZlib,
    /// `-az -i --zc=zlibx`: deflate without history feeding.
    CompressZlibx,
    /// `-az -i --zc=zstd`: one zstd stream for the whole session.
    CompressZstd,
    /// `-az -i --zc=lz4`: independent LZ4 blocks.
    CompressLz4,
    /// `-avz --stats --zc=zlib`: literal and matched data count the
    /// uncompressed bytes, the byte totals the compressed stream.
    CompressStats,
    /// `-a -i -R` with a nested name (implied directories on the wire) and,
    /// pushing, a leading `./`; pulling, a `/./` cut.
    Relative,
    /// `-a -i --files-from=LIST` with a local list: read by the pushing
    /// client, forwarded by the pulling one to the remote sender.
    FilesFrom,
    /// `-a -i -0 --files-from=localhost:LIST`: the remote side reads the
    /// list (and forwards it to the pushing client's sender).
    FilesFromRemote,
    /// `-a -i -b --delete` over an older destination: replaced and deleted
    /// files are kept as NAME~ by the receiving end (`-b` travels in the
    /// flag word; the implied protect rule in the filter list).
    Backup,
    /// `-a -i --backup-dir=../bak --suffix=.b --delete`: backups in a tree
    /// of their own, the dir split into two words on the command line.
    BackupDir,
    /// `-a -i --min-size=1k --max-size=40k --max-alloc=2G --bwlimit=50M`:
    /// the limits are forwarded (sizes in bytes, the rate in KiB) and the
    /// receiving end skips files outside the sizes.
    Limits,
    /// `-a -i -H` over a destination holding parts of the link groups:
    /// groups inside one directory and across directories (incremental
    /// sub-lists), abbreviated and full entries, dev/ino pairs below 30.
    HardLinks,
    /// `-a -i -H --no-inc-recursive -n`: one list, and the dry-run path
    /// of the generator's linking.
    HardLinksDryRun,
    /// `-a -i -L` on `src/ln/` (the generated tree has a symlink loop):
    /// the sender copies referents (forwarded as `L` when pulling).
    CopyLinks,
    /// `-a -i -k` on `src/ln/`: links to directories become directories
    /// (`k` when pulling).
    CopyDirlinks,
    /// `-a -i --safe-links --copy-unsafe-links`: long options that travel
    /// both ways.
    SafeLinks,
    /// `-a -i --chown=nobody:nogroup` over an older destination: the maps
    /// travel to a receiving server, a receiving client applies its own.
    Chown,
    /// `-a -i --chmod=go-w,Dg+s -J`: the sending side's chmod (a receiving
    /// client's when pulling), `J` to a receiving server.
    ChmodOmitLinkTimes,
    /// `-a -i -U -H -E`: access times on the wire (XMIT_SAME_ATIME), with
    /// abbreviated hard-link entries taking the leader's.
    AtimesHardLinks,
    /// `-a -i --inplace` over the `NoWholeFile` fixture: the receiver
    /// rewrites the basis, so the sender's matches follow the in-place rules.
    Inplace,
    /// `-a -i --append` over files the destination has a prefix of (one
    /// with a wrong prefix, one longer): only the rest is sent.
    Append,
    /// `-a -i --append-verify` on the same fixture: the wrong prefix fails
    /// the whole-file check and is redone (protocol < 30: `--append` too).
    AppendVerify,
    /// `-a -i --partial-dir=.pd` with a partial file left in `dst/.pd`: it
    /// is the basis (updated in place from protocol 30), then removed.
    PartialDir,
    /// `-a -i --delay-updates` over the `NoWholeFile` fixture.
    DelayUpdates,
    /// `-a -i -S` with files of long zero runs.
    Sparse,
    /// `-a -i -T .tmp`: temp files in a directory of the destination.
    TempDir,
    /// `-a -i --preallocate --fsync` over the `NoWholeFile` fixture.
    PreallocateFsync,
    /// `-a -i --remove-source-files` over an older destination (some files
    /// up to date): the sender removes what the receiver has.
    RemoveSource,
    /// `-a -i --remove-sent-files`: the old name removes only transferred
    /// files (and new symlinks), not up-to-date ones.
    RemoveSent,
}

impl OptSet {
    fn name(self) -> &'static str {
        match self {
            OptSet::Archive => "archive",
            OptSet::Delete => "delete",
            OptSet::NoWholeFile => "no_whole_file",
            OptSet::DryRun => "dry_run",
            OptSet::Stats => "stats",
            OptSet::Checksum => "checksum",
            OptSet::Secluded => "secluded",
            OptSet::RemoteOpts => "remote_opts",
            OptSet::Compress => "compress",
            OptSet::CompressZlib => "compress_zlib",
            OptSet::CompressZlibx => "compress_zlibx",
            OptSet::CompressZstd => "compress_zstd",
            OptSet::CompressLz4 => "compress_lz4",
            OptSet::CompressStats => "compress_stats",
            OptSet::Relative => "relative",
            OptSet::FilesFrom => "files_from",
            OptSet::FilesFromRemote => "files_from_remote",
            OptSet::Backup => "backup",
            OptSet::BackupDir => "backup_dir",
            OptSet::Limits => "limits",
            OptSet::HardLinks => "hard_links",
            OptSet::HardLinksDryRun => "hard_links_dry_run",
            OptSet::CopyLinks => "copy_links",
            OptSet::CopyDirlinks => "copy_dirlinks",
            OptSet::SafeLinks => "safe_links",
            OptSet::Chown => "chown",
            OptSet::ChmodOmitLinkTimes => "chmod_omit_link_times",
            OptSet::AtimesHardLinks => "atimes_hard_links",
            OptSet::Inplace => "inplace",
            OptSet::Append => "append",
            OptSet::AppendVerify => "append_verify",
            OptSet::PartialDir => "partial_dir",
            OptSet::DelayUpdates => "delay_updates",
            OptSet::Sparse => "sparse",
            OptSet::TempDir => "temp_dir",
            OptSet::PreallocateFsync => "preallocate_fsync",
            OptSet::RemoveSource => "remove_source",
            OptSet::RemoveSent => "remove_sent",
        }
    }

    /// The lowest protocol the set runs at: rsync itself breaks `-U` below
    /// 28 (XMIT_SAME_ATIME does not fit the one-byte flags).
    fn min_protocol(self) -> u32 {
        match self {
            OptSet::AtimesHardLinks => 28,
            _ => 0,
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            OptSet::Archive => &["-a", "-i"],
            OptSet::Delete => &["-a", "-i", "--delete"],
            OptSet::NoWholeFile => &["-a", "-i", "--no-whole-file"],
            OptSet::DryRun => &["-a", "-n", "-i"],
            OptSet::Stats => &["-av", "--stats"],
            OptSet::Checksum => &["-a", "-c", "-i"],
            OptSet::Secluded => &["-a", "-i", "-s"],
            OptSet::RemoteOpts => &["-a", "-i", "--timeout=20", "-M--omit-dir-times"],
            OptSet::Compress => &["-az", "-i"],
            OptSet::CompressZlib => &["-az", "-i", "--zc=zlib"],
            OptSet::CompressZlibx => &["-az", "-i", "--zc=zlibx"],
            OptSet::CompressZstd => &["-az", "-i", "--zc=zstd"],
            OptSet::CompressLz4 => &["-az", "-i", "--zc=lz4"],
            OptSet::CompressStats => &["-avz", "--stats", "--zc=zlib"],
            OptSet::Relative => &["-a", "-i", "-R"],
            OptSet::FilesFrom => &["-a", "-i", "--files-from=ff-list"],
            OptSet::FilesFromRemote => &["-a", "-i", "-0", "--files-from=localhost:ff-list0"],
            OptSet::Backup => &["-a", "-i", "-b", "--delete"],
            OptSet::BackupDir => &["-a", "-i", "--backup-dir=../bak", "--suffix=.b", "--delete"],
            OptSet::Limits => &[
                "-a",
                "-i",
                "--min-size=1k",
                "--max-size=40k",
                "--max-alloc=2G",
                "--bwlimit=50M",
            ],
            OptSet::HardLinks => &["-a", "-i", "-H"],
            OptSet::HardLinksDryRun => &["-a", "-i", "-H", "--no-inc-recursive", "-n"],
            OptSet::CopyLinks => &["-a", "-i", "-L"],
            OptSet::CopyDirlinks => &["-a", "-i", "-k"],
            OptSet::SafeLinks => &["-a", "-i", "--safe-links", "--copy-unsafe-links"],
            OptSet::Chown => &["-a", "-i", "--chown=nobody:nogroup"],
            OptSet::ChmodOmitLinkTimes => &["-a", "-i", "--chmod=go-w,Dg+s", "-J"],
            OptSet::AtimesHardLinks => &["-a", "-i", "-U", "-H", "-E"],
            OptSet::Inplace => &["-a", "-i", "--inplace"],
            OptSet::Append => &["-a", "-i", "--append"],
            OptSet::AppendVerify => &["-a", "-i", "--append-verify"],
            OptSet::PartialDir => &["-a", "-i", "--partial-dir=.pd"],
            OptSet::DelayUpdates => &["-a", "-i", "--delay-updates"],
            OptSet::Sparse => &["-a", "-i", "-S"],
            OptSet::TempDir => &["-a", "-i", "-T", ".tmp"],
            OptSet::PreallocateFsync => &["-a", "-i", "--preallocate", "--fsync"],
            OptSet::RemoveSource => &["-a", "-i", "--remove-source-files"],
            OptSet::RemoveSent => &["-a", "-i", "--remove-sent-files"],
        }
    }

    /// The source and destination operands (`r` is the copy's root).
    fn operands(self, dir: Direction, r: &str) -> Vec<String> {
        match (self, dir) {
            (OptSet::Relative, Direction::Push) => vec![
                "src/deep/er/est".into(),
                "./src/".into(),
                format!("localhost:{r}/dst/"),
            ],
            (OptSet::Relative, Direction::Pull) => {
                vec![format!("localhost:{r}/./src/deep/er/est"), "dst/".into()]
            }
            (OptSet::CopyLinks | OptSet::CopyDirlinks, Direction::Push) => {
                vec!["src/ln/".into(), format!("localhost:{r}/dst/")]
            }
            (OptSet::CopyLinks | OptSet::CopyDirlinks, Direction::Pull) => {
                vec![format!("localhost:{r}/src/ln/"), "dst/".into()]
            }
            (_, Direction::Push) => vec!["src/".into(), format!("localhost:{r}/dst/")],
            (_, Direction::Pull) => vec![format!("localhost:{r}/src/"), "dst/".into()],
        }
    }

    /// The fixture, seeded by the option set only, so every pairing and
    /// direction of one option set sees the same tree: a failure that shows
    /// in one pairing only can be compared with the others directly.
    fn scenario(self) -> Scenario {
        // A few dozen entries, every kind (devices, FIFOs, sockets, symlinks,
        // hard links, odd names): small enough that 360 transfers fit the
        // time budget, varied enough to exercise the whole file-list codec.
        let prof = Profile {
            files: 12,
            max_size: 48 << 10,
            exotic: true,
        };
        let scn = Scenario::new(&format!("interop_{}", self.name())).src_with(&prof);
        match self {
            OptSet::Archive | OptSet::Secluded => scn,
            OptSet::Delete
            | OptSet::DryRun
            | OptSet::Checksum
            | OptSet::RemoteOpts
            | OptSet::Backup
            | OptSet::BackupDir
            | OptSet::Limits => scn.dst_mutated(),
            OptSet::NoWholeFile
            | OptSet::Stats
            | OptSet::Compress
            | OptSet::CompressZlib
            | OptSet::CompressZlibx
            | OptSet::CompressZstd
            | OptSet::CompressLz4
            | OptSet::CompressStats => scn.dst_mutated().with(add_big_file),
            OptSet::Relative | OptSet::FilesFrom | OptSet::FilesFromRemote => {
                scn.dst_mutated().with(add_name_lists)
            }
            OptSet::HardLinks | OptSet::HardLinksDryRun | OptSet::AtimesHardLinks => {
                scn.dst_mutated().with(add_link_groups)
            }
            OptSet::Chown | OptSet::ChmodOmitLinkTimes => scn.dst_mutated(),
            OptSet::CopyLinks | OptSet::CopyDirlinks | OptSet::SafeLinks => {
                scn.dst_mutated().with(add_symlinks)
            }
            OptSet::Inplace | OptSet::DelayUpdates | OptSet::PreallocateFsync => {
                scn.dst_mutated().with(add_big_file)
            }
            OptSet::Append | OptSet::AppendVerify => scn.dst_mutated().with(add_append_files),
            OptSet::PartialDir => scn.dst_mutated().with(add_big_file).with(add_partial_file),
            OptSet::Sparse => scn.with(add_sparse_file),
            OptSet::TempDir => scn.dst_mutated().with(|s| {
                fs::create_dir_all(s.join("dst/.tmp")).unwrap();
                filetime::set_file_mtime(
                    s.join("dst"),
                    filetime::FileTime::from_unix_time(1_000_000_000, 0),
                )
                .unwrap();
            }),
            OptSet::RemoveSource | OptSet::RemoveSent => scn.dst_mutated(),
        }
    }
}

/// A 3 MiB file in `src/` and, in `dst/`, an older copy with a few small
/// edits, one insertion (shifting later blocks off their alignment) and a
/// shorter tail, so the delta has matched blocks as well as literal data.
pub(crate) fn add_big_file(setup: &Path) {
    let mut rng = tree::Rng::new(3);
    let mut data = rng.content(3 << 20);
    fs::write(setup.join("src/big.bin"), &data).unwrap();
    for at in [10_000usize, 1 << 20, 2 << 20] {
        data[at..at + 200].copy_from_slice(&rng.bytes(200));
    }
    data.splice(1_500_000..1_500_000, rng.bytes(77));
    data.truncate((3 << 20) - 5000);
    fs::write(setup.join("dst/big.bin"), &data).unwrap();
    let set = |p: &str, secs: i64, nsec: u32| {
        let t = filetime::FileTime::from_unix_time(secs, nsec);
        filetime::set_file_mtime(setup.join(p), t).unwrap();
    };
    set("src/big.bin", 1_300_000_000, 123_456_789);
    set("dst/big.bin", 1_200_000_000, 5);
    // Adding the file stamped both directories with "now"; put fixed times
    // back (the values matter only in being fixed).
    set("src", 1_100_000_000, 0);
    set("dst", 1_000_000_000, 0);
}

/// Hard-link groups in `src/hl/`: three names across directories, a pair
/// in one directory, four names in three directories; in `dst/hl/`, one
/// member up to date, one unlinked copy, a changed pair still linked.
fn add_link_groups(setup: &Path) {
    for d in [
        "src/hl/d1/deep",
        "src/hl/d2",
        "src/hl/d3",
        "dst/hl/d2",
        "dst/hl/d3",
    ] {
        fs::create_dir_all(setup.join(d)).unwrap();
    }
    let put = |p: &str, data: &str| fs::write(setup.join(p), data).unwrap();
    let link = |a: &str, b: &str| fs::hard_link(setup.join(a), setup.join(b)).unwrap();
    put("src/hl/a", "group of three\n");
    link("src/hl/a", "src/hl/d1/b");
    link("src/hl/a", "src/hl/d2/c");
    put("src/hl/x", "pair\n");
    link("src/hl/x", "src/hl/y");
    put("src/hl/d3/p", "group of four\n");
    link("src/hl/d3/p", "src/hl/d3/q");
    link("src/hl/d3/p", "src/hl/d1/deep/r");
    link("src/hl/d3/p", "src/hl/d1/deep/s");
    put("dst/hl/a", "group of three\n");
    put("dst/hl/d2/c", "group of three\n");
    put("dst/hl/x", "older pair\n");
    link("dst/hl/x", "dst/hl/y");
    put("dst/hl/d3/q", "group of four\n");
    let t = filetime::FileTime::from_unix_time(1_100_000_000, 0);
    for p in [
        "src/hl/a",
        "src/hl/x",
        "src/hl/d3/p",
        "dst/hl/a",
        "dst/hl/d2/c",
        "dst/hl/d3/q",
        "src/hl/d1/deep",
        "src/hl/d1",
        "src/hl/d2",
        "src/hl/d3",
        "src/hl",
        "src",
        "dst/hl/d2",
        "dst/hl/d3",
        "dst/hl",
        "dst",
    ] {
        filetime::set_file_mtime(setup.join(p), t).unwrap();
    }
}

/// Symlinks of every kind the link options tell apart: to a file, to a
/// directory, relative ones climbing out of the tree, an absolute one.
fn add_symlinks(setup: &Path) {
    use std::os::unix::fs::symlink;
    fs::create_dir_all(setup.join("src/ln/d")).unwrap();
    fs::create_dir_all(setup.join("outside")).unwrap();
    fs::write(setup.join("src/ln/f"), "file\n").unwrap();
    fs::write(setup.join("src/ln/d/g"), "in d\n").unwrap();
    fs::write(setup.join("outside/o"), "outside\n").unwrap();
    symlink("f", setup.join("src/ln/lf")).unwrap();
    symlink("d", setup.join("src/ln/ld")).unwrap();
    symlink("../../outside/o", setup.join("src/ln/up")).unwrap();
    symlink("../../../outside/o", setup.join("src/ln/d/up2")).unwrap();
    symlink("/etc/passwd", setup.join("src/ln/abs")).unwrap();
    let t = filetime::FileTime::from_unix_time(1_100_000_000, 0);
    for p in ["src/ln/f", "src/ln/d/g", "src/ln/d", "src/ln", "src"] {
        filetime::set_file_mtime(setup.join(p), t).unwrap();
    }
}

/// Files that grew since `dst/` got them (`dst/` holds a prefix), one
/// whose old prefix was since edited, one that shrank, and one unchanged in
/// length but newer.
fn add_append_files(setup: &Path) {
    let mut rng = tree::Rng::new(5);
    let grow = rng.content(200_000);
    let put = |p: &str, d: &[u8]| fs::write(setup.join(p), d).unwrap();
    put("src/grow.log", &grow);
    put("dst/grow.log", &grow[..70_001]);
    let mut edited = grow[..90_000].to_vec();
    edited[100] ^= 0x55;
    put("src/edited.log", &grow);
    put("dst/edited.log", &edited);
    put("src/shrunk.log", &grow[..1000]);
    put("dst/shrunk.log", &grow[..5000]);
    put("src/same.log", &grow[..3000]);
    put("dst/same.log", &grow[..3000]);
    let set = |p: &str, secs: i64| {
        let t = filetime::FileTime::from_unix_time(secs, 0);
        filetime::set_file_mtime(setup.join(p), t).unwrap();
    };
    for f in ["grow.log", "edited.log", "shrunk.log", "same.log"] {
        set(&format!("src/{f}"), 1_300_000_000);
        set(&format!("dst/{f}"), 1_200_000_000);
    }
    set("src", 1_100_000_000);
    set("dst", 1_000_000_000);
}

/// An interrupted earlier run: the first 2 MiB of `src/big.bin` waiting in
/// `dst/.pd/`.
fn add_partial_file(setup: &Path) {
    let data = fs::read(setup.join("src/big.bin")).unwrap();
    fs::create_dir_all(setup.join("dst/.pd")).unwrap();
    fs::write(setup.join("dst/.pd/big.bin"), &data[..2 << 20]).unwrap();
    let t = filetime::FileTime::from_unix_time(1_000_000_000, 0);
    filetime::set_file_mtime(setup.join("dst/.pd"), t).unwrap();
    filetime::set_file_mtime(setup.join("dst"), t).unwrap();
}

/// Files with long runs of zeros (leading, inside and trailing).
fn add_sparse_file(setup: &Path) {
    let mut rng = tree::Rng::new(7);
    let mut data = vec![0u8; 3 << 20];
    data[(1 << 20)..(1 << 20) + 5000].copy_from_slice(&rng.bytes(5000));
    data[(2 << 20) + 77..(2 << 20) + 99].copy_from_slice(&rng.bytes(22));
    fs::write(setup.join("src/holes.bin"), &data).unwrap();
    fs::write(setup.join("src/zeros.bin"), vec![0u8; 100_000]).unwrap();
    let t = filetime::FileTime::from_unix_time(1_300_000_000, 0);
    filetime::set_file_mtime(setup.join("src/holes.bin"), t).unwrap();
    filetime::set_file_mtime(setup.join("src/zeros.bin"), t).unwrap();
    let t = filetime::FileTime::from_unix_time(1_100_000_000, 0);
    filetime::set_file_mtime(setup.join("src"), t).unwrap();
}

/// A nested branch in `src/`, and `--files-from` lists (newline- and
/// NUL-separated) naming some of the generated entries, the nested file,
/// and a directory with a trailing slash (sent with its contents). The
/// harness wants the oracle to succeed, so no missing names.
fn add_name_lists(setup: &Path) {
    let src = setup.join("src");
    fs::create_dir_all(src.join("deep/er/est")).unwrap();
    fs::write(src.join("deep/er/est/f"), "nested\n").unwrap();
    let mut names: Vec<String> = fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "deep" && !n.contains('\n') && !n.contains('\r'))
        .collect();
    names.sort();
    let mut list: Vec<String> = names.iter().step_by(2).cloned().collect();
    list.push("deep/er/est/f".into());
    list.push("deep/er/".into());
    // No comment line: a list forwarded to a remote sender keeps comments
    // as names (upstream's rule), which would fail the oracle run.
    let text = format!("{}\n", list.join("\n"));
    fs::write(setup.join("ff-list"), text).unwrap();
    let mut nul = list.join("\0");
    nul.push('\0');
    fs::write(setup.join("ff-list0"), nul).unwrap();
    let t = filetime::FileTime::from_unix_time(1_100_000_000, 0);
    for d in ["src/deep/er/est", "src/deep/er", "src/deep", "src"] {
        filetime::set_file_mtime(setup.join(d), t).unwrap();
    }
}

/// One run of a cell: the command (for the report), what it printed (raw and
/// normalised), and the resulting tree.
struct Run {
    cmdline: String,
    out: Output,
    norm_stdout: String,
    norm_stderr: String,
    snap: tree::Snapshot,
}

/// How a cell is run: what to pass, and what to hide from the comparison.
#[derive(Clone, Copy)]
struct CellCfg {
    dir: Direction,
    opts: OptSet,
    proto: u32,
    /// Hide the `File list size` stat; see `masks_flist_size`.
    mask_flist_size: bool,
}

/// `File list size` as printed by the receiving client is not a size: it is
/// how many bytes (multiplex headers included) the receiver happened to read
/// from the socket while it was inside its file-list reader, so it depends on
/// how the sender cut its output into frames and writes. In particular, with
/// an incremental list, sub-lists that arrive in one read together with file
/// data are not counted at all. Sender byte totals are still compared (with
/// the usual tolerance); only this stat is hidden, and only in the cells
/// where the receiving client reads a list written by gensync.
fn masks_flist_size(pairing: GensyncEnd, dir: Direction, opts: OptSet) -> bool {
    matches!(opts, OptSet::Stats | OptSet::CompressStats)
        && dir == Direction::Pull
        && matches!(pairing, GensyncEnd::Server | GensyncEnd::Both)
}

fn mask_flist_size(text: &str) -> String {
    text.split('\n')
        .map(|l| {
            if l.starts_with("File list size: ") {
                "File list size: N"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Copy the fixture to `<scenario>/<label>` and run `client` there with
/// `server` as the remote rsync.
fn run_copy(scn: &Scenario, label: &str, (client, server): (&Path, &Path), c: CellCfg) -> Run {
    let CellCfg {
        dir, opts, proto, ..
    } = c;
    let root = scn.setup().parent().unwrap().join(label);
    fs::create_dir(&root).unwrap();
    util::copy_tree(&scn.setup(), &root);
    let mut args: Vec<String> = opts.args().iter().map(|s| s.to_string()).collect();
    if proto != PROTOCOLS[0] {
        args.push(format!("--protocol={proto}"));
    }
    args.push("-e".into());
    args.push(LSH.into());
    args.push(format!("--rsync-path={}", server.display()));
    let r = root.display();
    args.extend(opts.operands(dir, &r.to_string()));
    let out = util::run_with_timeout(client, &args, &root, &RunOpts::default(), CELL_TIMEOUT);
    let mut roots = vec![root.to_string_lossy().into_owned()];
    if let Ok(c) = root.canonicalize() {
        roots.push(c.to_string_lossy().into_owned());
    }
    let norm = Norm {
        roots,
        mask_totals: false,
    };
    let mut norm_stdout = util::normalize(&out.stdout, &norm);
    if c.mask_flist_size {
        norm_stdout = mask_flist_size(&norm_stdout);
    }
    Run {
        cmdline: format!("(cd {r} && {} {})", client.display(), args.join(" ")),
        norm_stdout,
        norm_stderr: util::normalize(&out.stderr, &norm),
        snap: tree::snapshot(&root),
        out,
    }
}

/// Why two runs differ, or `None` when they match; the same rules as
/// `local_diff` (totals tolerance, interleaving classes when `unordered_ok`).
fn compare(exp: &Run, act: &Run, unordered_ok: bool) -> Option<String> {
    let mut msg = String::new();
    if exp.out.code != act.out.code {
        msg += &format!("exit code: rsync {} vs {}\n", exp.out.code, act.out.code);
    }
    let same = |e: &str, a: &str| {
        util::texts_equivalent(e, a) || util::same_interleaving_class(e, a, unordered_ok)
    };
    if !same(&exp.norm_stdout, &act.norm_stdout) {
        msg += &format!(
            "stdout differs (normalised):\n{}",
            util::text_diff(&exp.norm_stdout, &act.norm_stdout)
        );
    }
    if !same(&exp.norm_stderr, &act.norm_stderr) {
        msg += &format!(
            "stderr differs (normalised):\n{}",
            util::text_diff(&exp.norm_stderr, &act.norm_stderr)
        );
    }
    let td = tree::diff(&exp.snap, &act.snap);
    if !td.is_empty() {
        msg += "resulting trees differ:\n";
        for l in td.iter().take(40) {
            msg += &format!("  {l}\n");
        }
        if td.len() > 40 {
            msg += &format!("  ... and {} more\n", td.len() - 40);
        }
    }
    (!msg.is_empty()).then_some(msg)
}

/// One cell: the oracle, the pairing under test, and (only when they differ
/// in output text alone) up to three more oracle runs to tell rsync's own
/// nondeterminism from a bug, exactly as `local_diff::differential` does.
/// Returns the failure report, or `None` when the cell passes.
fn cell(
    scn: &Scenario,
    (up, ut): (&Path, &Path),
    pairing: GensyncEnd,
    c: CellCfg,
) -> Option<String> {
    let proto = c.proto;
    let pair = match pairing {
        GensyncEnd::Client => (ut, up),
        GensyncEnd::Server => (up, ut),
        GensyncEnd::Both => (ut, ut),
    };
    let exp = run_copy(scn, &format!("p{proto}-rsync"), (up, up), c);
    // Every scenario is a successful transfer with itemized or verbose
    // output; an oracle that fails or prints nothing means the harness (the
    // remote shell, a path) is broken, and would let any pairing "match".
    assert!(
        exp.out.code == 0 && !exp.out.stdout.is_empty(),
        "harness: oracle run failed: {}\nexit {}\nstdout:\n{}stderr:\n{}",
        exp.cmdline,
        exp.out.code,
        exp.out.stdout,
        exp.out.stderr
    );
    let act = run_copy(scn, &format!("p{proto}-test"), pair, c);
    let first = compare(&exp, &act, false)?;
    let mut nondeterministic = false;
    // Trees and exit codes of rsync have proven deterministic; only its
    // output text varies, so re-running rsync for anything else is pointless.
    let reruns = if exp.out.code == act.out.code && tree::diff(&exp.snap, &act.snap).is_empty() {
        3
    } else {
        0
    };
    for i in 0..reruns {
        let again = run_copy(scn, &format!("p{proto}-rsync{i}"), (up, up), c);
        // A rerun that matches shows the first difference was rsync's own
        // variation: the cell passes.
        compare(&again, &act, false)?;
        if compare(&exp, &again, false).is_some() {
            nondeterministic = true;
        }
        // The same scheduling race exists on our side, so the pairing under
        // test gets as many chances as the oracle.
        let act_again = run_copy(scn, &format!("p{proto}-test{i}"), pair, c);
        compare(&exp, &act_again, false)?;
        compare(&again, &act_again, false)?;
    }
    if nondeterministic && compare(&exp, &act, true).is_none() {
        return None;
    }
    Some(format!(
        "protocol {proto}: differs from rsync{}\n  oracle: {}\n  tested: {}\n{first}\
         --- rsync (raw) exit {}\nstdout:\n{}stderr:\n{}--- tested (raw) exit {}\nstdout:\n{}\
         stderr:\n{}",
        if nondeterministic {
            " (rsync itself varied between runs)"
        } else {
            ""
        },
        exp.cmdline,
        act.cmdline,
        exp.out.code,
        exp.out.stdout,
        exp.out.stderr,
        act.out.code,
        act.out.stdout,
        act.out.stderr,
    ))
}

/// Run every protocol of one (pairing, direction, option set) and fail with
/// the reports of all cells that did not behave as expected.
fn matrix(name: &str, pairing: GensyncEnd, dir: Direction, opts: OptSet) {
    let up = crate::upstream_or_skip!(name);
    let ut = util::under_test();
    let check_table = util::under_test_is_gensync();
    let scn = opts.scenario();
    let mut failures = Vec::new();
    for proto in PROTOCOLS.into_iter().filter(|&p| p >= opts.min_protocol()) {
        let c = CellCfg {
            dir,
            opts,
            proto,
            mask_flist_size: masks_flist_size(pairing, dir, opts),
        };
        let report = cell(&scn, (&up, &ut), pairing, c);
        let expected = EXPECTED_FAILURES
            .iter()
            .find(|(n, p, _, _)| check_table && *n == name && *p == proto);
        match (report, expected) {
            (None, None) => {}
            (Some(r), None) => failures.push(r),
            (None, Some((_, _, _, why))) => failures.push(format!(
                "protocol {proto}: listed in EXPECTED_FAILURES ({why}) but now passes: \
                 remove it from the table"
            )),
            (Some(r), Some((_, _, symptom, why))) if !r.contains(symptom) => {
                failures.push(format!(
                    "protocol {proto}: listed in EXPECTED_FAILURES ({why}) but fails \
                     without {symptom:?}:\n{r}"
                ))
            }
            (Some(_), Some(_)) => {}
        }
    }
    if failures.is_empty() {
        return;
    }
    // The scenario's directory goes away with the test; keep a copy of the
    // fixture so that the reported commands can be replayed by hand.
    let kept = std::env::temp_dir().join("gensync-interop-kept").join(name);
    let _ = fs::remove_dir_all(&kept);
    fs::create_dir_all(&kept).unwrap();
    util::copy_tree(&scn.setup(), &kept);
    panic!(
        "{name}: {} of {} protocols failed\n\
         To replay a command: copy {} to a new directory, and run it there with that \
         directory in place of the one in the command.\n{}",
        failures.len(),
        PROTOCOLS.len(),
        kept.display(),
        failures.join("\n")
    );
}

/// `interop_test!(name, pairing, direction, option set)`: one #[test].
macro_rules! interop_test {
    ($name:ident, $pairing:ident, $dir:ident, $opts:ident) => {
        #[test]
        fn $name() {
            let path = module_path!();
            let name = match path.rsplit_once("::") {
                Some((_, m)) if m != "interop" => format!("{m}_{}", stringify!($name)),
                _ => stringify!($name).to_string(),
            };
            matrix(&name, GensyncEnd::$pairing, Direction::$dir, OptSet::$opts);
        }
    };
}

/// `interop_set!(module, option set)`: the six tests of one option set,
/// one per (pairing, direction), in a module named after the set.
macro_rules! interop_set {
    ($module:ident, $opts:ident) => {
        mod $module {
            use super::*;
            interop_test!(gensync_client_push, Client, Push, $opts);
            interop_test!(gensync_client_pull, Client, Pull, $opts);
            interop_test!(gensync_server_push, Server, Push, $opts);
            interop_test!(gensync_server_pull, Server, Pull, $opts);
            interop_test!(gensync_both_push, Both, Push, $opts);
            interop_test!(gensync_both_pull, Both, Pull, $opts);
        }
    };
}

interop_set!(checksum, Checksum);
interop_set!(secluded, Secluded);
interop_set!(remote_opts, RemoteOpts);
interop_set!(compress, Compress);
interop_set!(compress_zlib, CompressZlib);
interop_set!(compress_zlibx, CompressZlibx);
interop_set!(compress_zstd, CompressZstd);
interop_set!(compress_lz4, CompressLz4);
interop_set!(compress_stats, CompressStats);
interop_set!(relative, Relative);
interop_set!(files_from, FilesFrom);
interop_set!(files_from_remote, FilesFromRemote);
interop_set!(backup, Backup);
interop_set!(backup_dir, BackupDir);
interop_set!(limits, Limits);
interop_set!(hard_links, HardLinks);
interop_set!(hard_links_dry_run, HardLinksDryRun);
interop_set!(copy_links, CopyLinks);
interop_set!(copy_dirlinks, CopyDirlinks);
interop_set!(chown, Chown);
interop_set!(chmod_omit_link_times, ChmodOmitLinkTimes);
interop_set!(atimes_hard_links, AtimesHardLinks);
interop_set!(safe_links, SafeLinks);
interop_set!(inplace, Inplace);
interop_set!(append, Append);
interop_set!(append_verify, AppendVerify);
interop_set!(partial_dir, PartialDir);
interop_set!(delay_updates, DelayUpdates);
interop_set!(sparse, Sparse);
interop_set!(temp_dir, TempDir);
interop_set!(preallocate_fsync, PreallocateFsync);
interop_set!(remove_source, RemoveSource);
interop_set!(remove_sent, RemoveSent);

interop_test!(interop_gensync_client_push_archive, Client, Push, Archive);
interop_test!(interop_gensync_client_push_delete, Client, Push, Delete);
interop_test!(
    interop_gensync_client_push_no_whole_file,
    Client,
    Push,
    NoWholeFile
);
interop_test!(interop_gensync_client_push_dry_run, Client, Push, DryRun);
interop_test!(interop_gensync_client_push_stats, Client, Push, Stats);
interop_test!(interop_gensync_client_pull_archive, Client, Pull, Archive);
interop_test!(interop_gensync_client_pull_delete, Client, Pull, Delete);
interop_test!(
    interop_gensync_client_pull_no_whole_file,
    Client,
    Pull,
    NoWholeFile
);
interop_test!(interop_gensync_client_pull_dry_run, Client, Pull, DryRun);
interop_test!(interop_gensync_client_pull_stats, Client, Pull, Stats);

interop_test!(interop_gensync_server_push_archive, Server, Push, Archive);
interop_test!(interop_gensync_server_push_delete, Server, Push, Delete);
interop_test!(
    interop_gensync_server_push_no_whole_file,
    Server,
    Push,
    NoWholeFile
);
interop_test!(interop_gensync_server_push_dry_run, Server, Push, DryRun);
interop_test!(interop_gensync_server_push_stats, Server, Push, Stats);
interop_test!(interop_gensync_server_pull_archive, Server, Pull, Archive);
interop_test!(interop_gensync_server_pull_delete, Server, Pull, Delete);
interop_test!(
    interop_gensync_server_pull_no_whole_file,
    Server,
    Pull,
    NoWholeFile
);
interop_test!(interop_gensync_server_pull_dry_run, Server, Pull, DryRun);
interop_test!(interop_gensync_server_pull_stats, Server, Pull, Stats);

interop_test!(interop_gensync_both_push_archive, Both, Push, Archive);
interop_test!(interop_gensync_both_push_delete, Both, Push, Delete);
interop_test!(
    interop_gensync_both_push_no_whole_file,
    Both,
    Push,
    NoWholeFile
);
interop_test!(interop_gensync_both_push_dry_run, Both, Push, DryRun);
interop_test!(interop_gensync_both_push_stats, Both, Push, Stats);
interop_test!(interop_gensync_both_pull_archive, Both, Pull, Archive);
interop_test!(interop_gensync_both_pull_delete, Both, Pull, Delete);
interop_test!(
    interop_gensync_both_pull_no_whole_file,
    Both,
    Pull,
    NoWholeFile
);
interop_test!(interop_gensync_both_pull_dry_run, Both, Pull, DryRun);
interop_test!(interop_gensync_both_pull_stats, Both, Pull, Stats);
