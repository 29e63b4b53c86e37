//! What each option does to `Options`, and the checks rsync makes once the
//! whole line is read (upstream: the switch in parse_arguments() and the code
//! after it in options.c, plus parse_checksum_choice() in checksum.c).
//!
//! The parser feeds options here one at a time and in order, so `-a --no-o`
//! and `--no-o -a` differ exactly as they do upstream.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::cli::option_table::{OptId, OptRow, Status};
use crate::cli::parse::{Action, OptValue};
use crate::error::{Error, ExitCode};
use crate::options::{DeleteMode, FilterArg, Options, StderrMode};

/// Newest protocol gensync speaks and oldest it accepts (rsync.h).
const PROTOCOL_VERSION: i32 = 32;
const MIN_PROTOCOL_VERSION: i32 = 20;
/// Block-size ceilings for protocol >= 30 and below it (rsync.h).
const MAX_BLOCK_SIZE: i64 = 1 << 17;
const OLD_MAX_BLOCK_SIZE: i64 = 1 << 29;

/// Checksum names `--checksum-choice` accepts (case-insensitive). "xxhash"
/// is upstream's older name for xxh64. sha1 is missing on purpose: upstream
/// only offers it when built with OpenSSL, and gensync has no SHA-1.
const CHECKSUM_NAMES: &[&str] = &["xxh128", "xxh3", "xxh64", "xxhash", "md5", "md4", "none"];

/// Whether parsing goes on after an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// `--help` was seen: stop and show help, ignoring the rest.
    Help,
}

/// Options being assembled, plus the upstream state that only matters until
/// the line is fully read.
pub(crate) struct Builder {
    o: Options,
    /// `-d` (Some(true)), `--no-d` (Some(false)) or not given.
    xfer_dirs: Option<bool>,
    delete_plain: bool,
    delete_before: bool,
    /// 0, 1 for --delete-during/--del, 2 for --delete-delay: one variable
    /// upstream, so the later of the two wins.
    delete_during: u8,
    delete_after: bool,
    /// Raw `--protocol` value; range-checked in `finish` the way the handshake
    /// would, but used as given by `-B` to pick its ceiling.
    protocol: Option<i32>,
    version_count: u32,
    /// `--old-args` / `--no-old-args`; None = decided by RSYNC_OLD_ARGS.
    old_args: Option<u8>,
    /// `-s` / `--no-s`; None = decided by RSYNC_PROTECT_ARGS.
    protect_args: Option<bool>,
    /// `-R` / `--no-R`; None = on exactly when `--files-from` is given.
    relative: Option<bool>,
    /// Upstream's recurse value: 1 from `-a`, 2 from an explicit `-r`
    /// (only a 1 is undone by `--files-from`).
    recurse: u8,
    /// `--suffix` as given; its default depends on `--backup-dir`.
    backup_suffix: Option<Vec<u8>>,
}

impl Builder {
    pub(crate) fn new(program_name: &str) -> Builder {
        let o = Options {
            program_name: program_name.to_string(),
            ..Options::default()
        };
        Builder {
            o,
            xfer_dirs: None,
            delete_plain: false,
            delete_before: false,
            delete_during: 0,
            delete_after: false,
            protocol: None,
            version_count: 0,
            old_args: None,
            protect_args: None,
            relative: None,
            recurse: 0,
            backup_suffix: None,
        }
    }

    /// True once `--server` was seen: errors then say "on remote machine".
    pub(crate) fn is_server(&self) -> bool {
        self.o.server
    }

    /// Applies one option.
    pub(crate) fn apply(&mut self, row: &OptRow, value: OptValue) -> crate::Result<Flow> {
        // A daemon checks each given option against "refuse options".
        self.o.net.given.push((row.long, row.short));
        if row.status == Status::Refused {
            let prefix = if self.o.server {
                "on remote machine: "
            } else {
                ""
            };
            return Err(Error::syntax(format!(
                "{prefix}{}: option not yet supported by gensync",
                row.display_name()
            )));
        }
        let o = &mut self.o;
        match row.id {
            OptId::Help => return Ok(Flow::Help),
            OptId::MinSize | OptId::MaxSize | OptId::BwLimit | OptId::StopAfter | OptId::StopAt => {
                let arg = string_value(row, value)?;
                crate::cli::limits::apply(o, row.id, &arg)?;
            }
            OptId::MaxAlloc => o.max_alloc_arg = Some(string_value(row, value)?),
            OptId::NoBwLimit => o.bwlimit = 0,
            OptId::Backup => o.make_backups = true,
            OptId::NoBackup => o.make_backups = false,
            OptId::BackupDir => o.backup_dir = Some(bytes_value(value)),
            OptId::Suffix => self.backup_suffix = Some(bytes_value(value)),
            OptId::EightBit => o.eight_bit_output = true,
            OptId::NoEightBit => o.eight_bit_output = false,
            OptId::Outbuf => {
                o.outbuf = Some(crate::cli::limits::outbuf_mode(&string_value(row, value)?))
            }
            OptId::Version => self.version_count += 1,
            OptId::Verbose => o.verbose = o.verbose.saturating_add(1),
            OptId::NoVerbose => o.verbose = 0,
            OptId::Stderr => o.stderr_mode = stderr_mode(&string_value(row, value)?)?,
            OptId::Msgs2Stderr => o.stderr_mode = StderrMode::All,
            OptId::NoMsgs2Stderr => o.stderr_mode = StderrMode::Client,
            OptId::Quiet => o.quiet = true,
            OptId::Stats => o.stats = true,
            // Levels above 3 print the same as 3 (units of 1024).
            OptId::HumanReadable => o.human_readable = (o.human_readable + 1).min(3),
            OptId::NoHumanReadable => o.human_readable = 0,
            OptId::DryRun => o.dry_run = true,
            OptId::Archive => {
                // -a is -rlptgoD; -H, -A, -X are not part of it.
                o.recursive = true;
                if self.recurse == 0 {
                    self.recurse = 1;
                }
                o.links = true;
                o.perms = true;
                o.times = true;
                o.group = true;
                o.owner = true;
                o.devices = true;
                o.specials = true;
            }
            OptId::Recursive => {
                o.recursive = true;
                self.recurse = 2;
            }
            OptId::NoRecursive => {
                o.recursive = false;
                self.recurse = 0;
            }
            OptId::Dirs => self.xfer_dirs = Some(true),
            OptId::NoDirs => self.xfer_dirs = Some(false),
            OptId::Perms => o.perms = true,
            OptId::NoPerms => o.perms = false,
            OptId::Times => o.times = true,
            OptId::NoTimes => o.times = false,
            OptId::OmitDirTimes => o.omit_dir_times = true,
            OptId::NoOmitDirTimes => o.omit_dir_times = false,
            OptId::ModifyWindow => o.modify_window = i64::from(int_value(value)),
            OptId::Owner => o.owner = true,
            OptId::NoOwner => o.owner = false,
            OptId::Group => o.group = true,
            OptId::NoGroup => o.group = false,
            OptId::DevSpecials => (o.devices, o.specials) = (true, true),
            OptId::NoDevSpecials => (o.devices, o.specials) = (false, false),
            OptId::Devices => o.devices = true,
            OptId::NoDevices => o.devices = false,
            OptId::Specials => o.specials = true,
            OptId::NoSpecials => o.specials = false,
            OptId::Links => o.links = true,
            OptId::NoLinks => o.links = false,
            OptId::CopyLinks => o.copy_links = true,
            OptId::CopyUnsafeLinks => o.copy_unsafe_links = true,
            OptId::SafeLinks => o.safe_links = true,
            OptId::MungeLinks => o.munge_links = true,
            OptId::NoMungeLinks => o.munge_links = false,
            OptId::CopyDirlinks => o.copy_dirlinks = true,
            OptId::KeepDirlinks => o.keep_dirlinks = true,
            OptId::Chmod => {
                let v = bytes_value(value);
                let umask = crate::fsops::current_umask();
                let list = o.chmod.get_or_insert_with(Default::default);
                if list.parse_append(&v, umask).is_none() {
                    return Err(Error::syntax(format!(
                        "Invalid argument passed to --chmod ({})",
                        String::from_utf8_lossy(&v)
                    )));
                }
            }
            OptId::Crtimes => {
                let who = if o.server {
                    "The server does not support"
                } else {
                    "This rsync does not support"
                };
                return Err(Error::syntax(format!("{who} --crtimes (-N)")));
            }
            OptId::Usermap | OptId::Groupmap => {
                let user = row.id == OptId::Usermap;
                let (map, via, what) = if user {
                    (&mut o.usermap, &mut o.usermap_via_chown, "usermap")
                } else {
                    (&mut o.groupmap, &mut o.groupmap_via_chown, "groupmap")
                };
                if map.is_some() {
                    return Err(Error::syntax(if *via {
                        format!("--{what} conflicts with prior --chown.")
                    } else {
                        format!("You can only specify --{what} once.")
                    }));
                }
                let v = bytes_value(value);
                if !self.o.server {
                    crate::flist::idmap::NameMap::check(&v, user)
                        .map_err(|m| Error::bare(crate::error::ExitCode::SYNTAX, m))?;
                }
                let o = &mut self.o;
                let (map, via) = if user {
                    (&mut o.usermap, &mut o.usermap_via_chown)
                } else {
                    (&mut o.groupmap, &mut o.groupmap_via_chown)
                };
                *map = Some(v);
                *via = false;
                if user {
                    o.owner = true;
                } else {
                    o.group = true;
                }
            }
            OptId::Chown => {
                let v = bytes_value(value);
                let (u, g) = match memchr::memchr(b':', &v) {
                    Some(i) => (&v[..i], Some(&v[i + 1..])),
                    None => (&v[..], None),
                };
                if !u.is_empty() {
                    if o.usermap.is_some() {
                        return Err(Error::syntax(if o.usermap_via_chown {
                            "You can only specify a user-affecting --chown once."
                        } else {
                            "--chown conflicts with prior --usermap."
                        }));
                    }
                    let mut m = b"*:".to_vec();
                    m.extend_from_slice(u);
                    o.usermap = Some(m);
                    o.usermap_via_chown = true;
                    o.owner = true;
                }
                if let Some(g) = g.filter(|g| !g.is_empty()) {
                    if o.groupmap.is_some() {
                        return Err(Error::syntax(if o.groupmap_via_chown {
                            "You can only specify a group-affecting --chown once."
                        } else {
                            "--chown conflicts with prior --groupmap."
                        }));
                    }
                    let mut m = b"*:".to_vec();
                    m.extend_from_slice(g);
                    o.groupmap = Some(m);
                    o.groupmap_via_chown = true;
                    o.group = true;
                }
            }
            OptId::Executability => o.executability = true,
            OptId::Atimes => {
                o.atimes = o.atimes.saturating_add(1);
                if o.atimes > 1 {
                    o.open_noatime = true;
                }
            }
            OptId::NoAtimes => o.atimes = 0,
            OptId::OmitLinkTimes => o.omit_link_times = true,
            OptId::NoOmitLinkTimes => o.omit_link_times = false,
            OptId::OpenNoatime => o.open_noatime = true,
            OptId::NoOpenNoatime => o.open_noatime = false,
            OptId::Super => o.super_user = Some(true),
            OptId::NoSuper => o.super_user = Some(false),
            OptId::HardLinks => o.hard_links = o.hard_links.saturating_add(1),
            OptId::NoHardLinks => o.hard_links = 0,
            OptId::IgnoreTimes => o.ignore_times = true,
            OptId::SizeOnly => o.size_only = true,
            OptId::OneFileSystem => o.one_file_system = o.one_file_system.saturating_add(1),
            OptId::NoOneFileSystem => o.one_file_system = 0,
            OptId::Update => o.update = true,
            OptId::Existing => o.existing = true,
            OptId::IgnoreExisting => o.ignore_existing = true,
            OptId::Delete => self.delete_plain = true,
            OptId::DeleteBefore => self.delete_before = true,
            OptId::DeleteDuring => self.delete_during = 1,
            OptId::DeleteDelay => self.delete_during = 2,
            OptId::DeleteAfter => self.delete_after = true,
            OptId::WholeFile => o.whole_file = Some(true),
            OptId::NoWholeFile => o.whole_file = Some(false),
            OptId::Checksum => o.checksum = true,
            OptId::NoChecksum => o.checksum = false,
            OptId::ChecksumChoice => o.checksum_choice = Some(string_value(row, value)?),
            OptId::BlockSize => {
                let arg = string_value(row, value)?;
                // Upstream checks against the protocol known at this point,
                // so `--protocol=29 -B 1M` works and `-B 1M --protocol=29` not.
                let max = match self.protocol {
                    Some(p) if p < 30 => OLD_MAX_BLOCK_SIZE,
                    _ => MAX_BLOCK_SIZE,
                };
                let size = parse_size_arg(&arg, b'b', "block-size", 0, max, false)
                    .map_err(Error::syntax)?;
                // 0 means "choose per file", the same as not giving -B.
                o.block_size = if size == 0 { None } else { Some(size as u32) };
            }
            OptId::Compress => o.compress = o.compress.saturating_add(1),
            OptId::OldCompress => o.compress_choice = Some("zlib".into()),
            OptId::NewCompress => o.compress_choice = Some("zlibx".into()),
            OptId::NoCompress => (o.compress, o.compress_choice) = (0, None),
            OptId::CompressChoice => o.compress_choice = Some(string_value(row, value)?),
            OptId::SkipCompress => o.skip_compress = Some(string_value(row, value)?),
            OptId::CompressLevel => o.compress_level = Some(int_value(value)),
            OptId::CompressThreads => o.compress_threads = int_value(value),
            OptId::PartialProgress => (o.partial, o.progress) = (true, true),
            OptId::Progress => o.progress = true,
            OptId::NoProgress => o.progress = false,
            OptId::IncRecursive => o.inc_recursive = true,
            OptId::NoIncRecursive => o.inc_recursive = false,
            OptId::Partial => o.partial = true,
            OptId::NoPartial => o.partial = false,
            OptId::OutFormat => o.out_format = Some(string_value(row, value)?),
            OptId::Itemize => o.itemize_changes = o.itemize_changes.saturating_add(1),
            OptId::NoItemize => o.itemize_changes = 0,
            OptId::ListOnly => (o.list_only, o.list_only_explicit) = (true, true),
            OptId::NumericIds => o.numeric_ids = true,
            OptId::NoNumericIds => o.numeric_ids = false,
            OptId::Rsh => o.rsh = Some(string_value(row, value)?),
            OptId::RsyncPath => o.rsync_path = Some(string_value(row, value)?),
            OptId::Mkpath => o.mkpath = true,
            OptId::NoMkpath => o.mkpath = false,
            OptId::BlockingIo => o.blocking_io = true,
            OptId::NoBlockingIo => o.blocking_io = false,
            OptId::DeleteExcluded => o.delete_excluded = true,
            OptId::Force => o.force = true,
            OptId::NoForce => o.force = false,
            OptId::IgnoreErrors => o.ignore_errors = true,
            OptId::NoIgnoreErrors => o.ignore_errors = false,
            OptId::MaxDelete => o.max_delete = Some(int_value(value)),
            OptId::DashF => o.filter_args.push(FilterArg::DashF),
            OptId::Filter => o.filter_args.push(FilterArg::Filter(bytes_value(value))),
            OptId::Exclude => o.filter_args.push(FilterArg::Exclude(bytes_value(value))),
            OptId::Include => o.filter_args.push(FilterArg::Include(bytes_value(value))),
            OptId::ExcludeFrom => o
                .filter_args
                .push(FilterArg::ExcludeFrom(bytes_value(value))),
            OptId::IncludeFrom => o
                .filter_args
                .push(FilterArg::IncludeFrom(bytes_value(value))),
            OptId::CvsExclude => o.cvs_exclude = true,
            OptId::Relative => self.relative = Some(true),
            OptId::NoRelative => self.relative = Some(false),
            OptId::ImpliedDirs => o.implied_dirs = true,
            OptId::NoImpliedDirs => o.implied_dirs = false,
            OptId::FilesFrom => o.files_from = Some(OsString::from_vec(bytes_value(value))),
            OptId::DeleteMissingArgs => o.missing_args |= 2,
            OptId::IgnoreMissingArgs => o.missing_args |= 1,
            OptId::PruneEmptyDirs => o.prune_empty_dirs = true,
            OptId::NoPruneEmptyDirs => o.prune_empty_dirs = false,
            OptId::From0 => o.from0 = true,
            OptId::NoFrom0 => o.from0 = false,
            OptId::OldArgs => self.old_args = Some(self.old_args.unwrap_or(0).saturating_add(1)),
            OptId::NoOldArgs => self.old_args = Some(0),
            OptId::SecludedArgs => self.protect_args = Some(true),
            OptId::NoSecludedArgs => self.protect_args = Some(false),
            // A negative timeout means none (io.c set_io_timeout()).
            OptId::Timeout => o.timeout = int_value(value).max(0) as u32,
            OptId::NoTimeout => o.timeout = 0,
            OptId::ConTimeout => o.contimeout = int_value(value).max(0) as u32,
            OptId::NoConTimeout => o.contimeout = 0,
            // After --daemon, upstream parses with its daemon table, where
            // -M is --dparam.
            OptId::RemoteOption if o.daemon && !o.server => {
                o.net.dparams.push(string_value(row, value)?)
            }
            OptId::RemoteOption => {
                let arg = string_value(row, value)?;
                if !arg.starts_with('-') {
                    return Err(Error::syntax(format!(
                        "Remote option must start with a dash: {arg}"
                    )));
                }
                o.remote_options.push(arg);
            }
            OptId::Protocol => self.protocol = Some(int_value(value)),
            OptId::ChecksumSeed => {
                // A seed of 0 asks for the default time-based seed.
                let seed = int_value(value);
                o.checksum_seed = if seed == 0 { None } else { Some(seed) };
            }
            OptId::Server => o.server = true,
            OptId::Sender => {
                // Upstream prints its usage here: --sender only makes sense
                // on a command line that already said --server.
                if !o.server {
                    return Err(Error::syntax("--sender may only be used with --server"));
                }
                o.sender = true;
            }
            OptId::Daemon => o.daemon = true,
            OptId::Port => {
                let n = int_value(value);
                o.net.port = u16::try_from(n).ok().filter(|&p| p != 0);
            }
            OptId::Address => o.net.bind_address = Some(string_value(row, value)?),
            OptId::Ipv4 => o.net.address_family = 4,
            OptId::Ipv6 => o.net.address_family = 6,
            OptId::Sockopts => o.net.sockopts = Some(string_value(row, value)?),
            OptId::PasswordFile => o.net.password_file = Some(string_value(row, value)?),
            OptId::EarlyInput => o.net.early_input = Some(string_value(row, value)?),
            OptId::Motd => o.net.motd = true,
            OptId::NoMotd => o.net.motd = false,
            OptId::Config => o.net.config = Some(string_value(row, value)?),
            OptId::Dparam => o.net.dparams.push(string_value(row, value)?),
            OptId::Detach => o.net.detach = true,
            OptId::NoDetach => o.net.detach = false,
            OptId::Sparse => o.sparse = true,
            OptId::NoSparse => o.sparse = false,
            OptId::Preallocate => o.preallocate = true,
            OptId::Inplace => o.inplace = true,
            OptId::NoInplace => o.inplace = false,
            // A server counts its --append words: rsync sends
            // `--append --append` for --append-verify (options.c OPT_APPEND).
            OptId::Append if o.server => o.append_mode = o.append_mode.saturating_add(1).min(2),
            OptId::Append => o.append_mode = 1,
            OptId::AppendVerify => o.append_mode = 2,
            OptId::NoAppend => o.append_mode = 0,
            OptId::RemoveSourceFiles => o.remove_source_files = 1,
            OptId::RemoveSentFiles => o.remove_source_files = 2,
            OptId::PartialDir => o.partial_dir = Some(OsString::from_vec(bytes_value(value))),
            OptId::DelayUpdates => o.delay_updates = true,
            OptId::NoDelayUpdates => o.delay_updates = false,
            OptId::Fsync => o.fsync = true,
            OptId::TempDir => o.temp_dir = Some(OsString::from_vec(bytes_value(value))),
            OptId::NoOp => {}
            OptId::Refused => unreachable!("refused rows are handled above"),
        }
        Ok(Flow::Continue)
    }

    /// The checks upstream makes after its popt loop, in upstream's order.
    /// `nargs` is the number of command-line words (argv without argv[0]).
    pub(crate) fn finish(mut self, operands: Vec<OsString>, nargs: usize) -> crate::Result<Action> {
        if self.version_count > 0 {
            // -VV asks for the JSON document, except on a server.
            return Ok(if self.version_count > 1 && !self.o.server {
                Action::VersionJson
            } else {
                Action::Version
            });
        }
        crate::cli::limits::settle_max_alloc(&mut self.o)?;
        self.check_checksum_choice()?;
        self.settle_arg_style()?;
        // The old meaning of -h survives when it is the only word.
        if self.o.human_readable > 1 && nargs == 1 && !self.o.server {
            return Ok(Action::Help);
        }
        self.settle_compression()?;
        // Only the last --outbuf counts, so it is checked once the line is
        // read; a server never looks at it (options.c).
        if self.o.outbuf == Some(0) && !self.o.server {
            return Err(Error::syntax(
                "Invalid --outbuf setting -- specify N, L, or B.",
            ));
        }
        let backup_suffix = self.backup_suffix.take();
        let mut o = self.o;
        o.operands = operands;

        if o.daemon {
            // Upstream parses a daemon line with its own, smaller table and
            // never reaches the transfer checks below.
            return Ok(Action::Run(Box::new(o)));
        }
        // --files-from undoes the recursion -a implies (an explicit -r
        // stays) and implies -d.
        let files_from = o.files_from.is_some();
        if files_from && self.recurse == 1 {
            o.recursive = false;
        }
        if o.operands.len() < 2 && !o.server {
            o.list_only = true;
        }
        o.dirs = o.recursive || self.xfer_dirs.unwrap_or(o.list_only || files_from);
        // options.c keeps xfer_dirs == 2 for an explicit -d without -r, and
        // then always forwards `d` to the server.
        o.dirs_explicit = !o.recursive && self.xfer_dirs == Some(true);
        o.relative = self.relative.unwrap_or(files_from);
        if !o.relative {
            o.implied_dirs = false;
        }
        if o.missing_args == 3 {
            o.missing_args = 2;
        }

        let whens = usize::from(self.delete_before)
            + usize::from(self.delete_during > 0)
            + usize::from(self.delete_after);
        if whens > 1 {
            return Err(Error::syntax(
                "You may not combine multiple --delete-WHEN options.",
            ));
        }
        o.delete_mode = if self.delete_before {
            DeleteMode::Before
        } else if self.delete_during == 1 {
            DeleteMode::During
        } else if self.delete_during == 2 {
            DeleteMode::Delay
        } else if self.delete_after {
            DeleteMode::After
        } else if self.delete_plain || o.delete_excluded {
            DeleteMode::Auto
        } else {
            DeleteMode::Off
        };
        // Negative numbers mean "no deletions" (options.c).
        if let Some(n) = o.max_delete {
            o.max_delete = Some(n.max(0));
        }
        if o.deleting() && !o.dirs {
            return Err(Error::syntax(
                "--delete does not work without --recursive (-r) or --dirs (-d).",
            ));
        }
        crate::cli::limits::settle_backups(&mut o, backup_suffix)?;

        settle_update_style(&mut o)?;

        // Upstream only notices a bad --protocol in the handshake, with exit
        // code 2; checking here gives the same text and code earlier.
        if let Some(p) = self.protocol {
            let side = if o.server { "Server" } else { "Client" };
            if p < MIN_PROTOCOL_VERSION {
                return Err(Error::bare(
                    ExitCode::PROTOCOL,
                    format!("--protocol must be at least {MIN_PROTOCOL_VERSION} on the {side}."),
                ));
            }
            if p > PROTOCOL_VERSION {
                return Err(Error::bare(
                    ExitCode::PROTOCOL,
                    format!("--protocol must be no more than {PROTOCOL_VERSION} on the {side}."),
                ));
            }
            o.protocol = Some(p as u32);
        }
        Ok(Action::Run(Box::new(o)))
    }

    /// options.c: `--old-args` and `-s` exclude each other; without either,
    /// RSYNC_OLD_ARGS and then RSYNC_PROTECT_ARGS decide (client side only).
    fn settle_arg_style(&mut self) -> crate::Result<()> {
        let env_num = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| atoi(&v))
        };
        let server = self.o.server;
        let mut protect = self.protect_args;
        let old = match self.old_args {
            None => match env_num("RSYNC_OLD_ARGS") {
                Some(n) if !server && protect != Some(true) => {
                    protect = Some(false);
                    n.clamp(0, 255) as u8
                }
                _ => 0,
            },
            Some(n) => {
                if n > 0 {
                    if protect == Some(true) {
                        return Err(Error::syntax("--secluded-args conflicts with --old-args."));
                    }
                    protect = Some(false);
                }
                n
            }
        };
        let protect = match protect {
            Some(p) => p,
            None if server => false,
            None => env_num("RSYNC_PROTECT_ARGS").is_some_and(|n| n != 0),
        };
        self.o.old_args = old;
        self.o.protect_args = protect;
        Ok(())
    }

    /// options.c after the popt loop, with compat.c parse_compress_choice(0):
    /// `-zz` means zlibx; an explicit name must be known and sets the
    /// algorithm ("auto" = negotiate); a level alone turns compression on.
    /// `compress` ends as upstream's do_compression, which server_options()
    /// reads (so `-z` is 1 = zlib there, even though it will negotiate).
    fn settle_compression(&mut self) -> crate::Result<()> {
        let o = &mut self.o;
        if o.compress_choice.is_none() && o.compress > 1 {
            o.compress_choice = Some("zlibx".into());
        }
        match o.compress_choice.as_deref() {
            Some(c) if !c.eq_ignore_ascii_case("auto") => {
                let Some(num) = crate::options::compress_num(c) else {
                    return Err(Error::bare(
                        ExitCode::UNSUPPORTED,
                        format!("unknown compress name: {c}"),
                    ));
                };
                if o.server && !crate::session::compress_choice_allowed(c, true) {
                    return Err(Error::bare(
                        ExitCode::UNSUPPORTED,
                        format!("Your --compress-choice value ({c}) was refused by the server."),
                    ));
                }
                o.compress = num;
            }
            _ => o.compress_choice = None,
        }
        if o.compress == 0 && o.compress_level.is_some() {
            // CPRES_AUTO: negotiate, as plain -z would.
            o.compress = -1;
        }
        // Both ends spawn no compression threads (see Options).
        o.compress_threads = o.compress_threads.max(0);
        Ok(())
    }

    /// `--checksum-choice=XFER[,FILE]`: every name must be known; "auto" (or
    /// "auto,auto") is the same as not giving the option; a transfer checksum
    /// of "none" forces whole-file copies.
    fn check_checksum_choice(&mut self) -> crate::Result<()> {
        let Some(choice) = self.o.checksum_choice.as_deref() else {
            return Ok(());
        };
        if choice.eq_ignore_ascii_case("auto") || choice.eq_ignore_ascii_case("auto,auto") {
            self.o.checksum_choice = None;
            return Ok(());
        }
        let (xfer, file) = match choice.find(',') {
            Some(p) => (&choice[..p], &choice[p + 1..]),
            None => (choice, choice),
        };
        // Upstream's message shows the text from the bad name to the end of
        // the whole value, so a bad first name shows the full string.
        if !checksum_name_ok(xfer) {
            return Err(Error::bare(
                crate::ExitCode::UNSUPPORTED,
                format!("unknown checksum name: {choice}"),
            ));
        }
        if !checksum_name_ok(file) {
            return Err(Error::bare(
                crate::ExitCode::UNSUPPORTED,
                format!("unknown checksum name: {file}"),
            ));
        }
        if xfer.eq_ignore_ascii_case("none") {
            self.o.whole_file = Some(true);
        }
        Ok(())
    }
}

fn checksum_name_ok(name: &str) -> bool {
    name.eq_ignore_ascii_case("auto") || CHECKSUM_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// A string-valued option's value. `Options` stores these as `String`, so a
/// value that is not UTF-8 is refused rather than silently altered.
fn string_value(row: &OptRow, value: OptValue) -> crate::Result<String> {
    match value {
        OptValue::Str(s) => s.into_string().map_err(|_| {
            Error::syntax(format!(
                "{}: the value is not valid UTF-8",
                row.display_name()
            ))
        }),
        other => unreachable!("string option given {other:?}"),
    }
}

/// A string option's raw bytes (rules and file names need not be UTF-8).
fn bytes_value(value: OptValue) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt;
    match value {
        OptValue::Str(s) => s.into_vec(),
        other => unreachable!("string option given {other:?}"),
    }
}

/// C's atoi(): optional sign and leading digits; anything else is 0.
fn atoi(s: &str) -> i32 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = (n * 10 + i64::from(b - b'0')).min(i64::from(i32::MAX) + 1);
    }
    let n = if neg { -n } else { n };
    n.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

fn int_value(value: OptValue) -> i32 {
    match value {
        OptValue::Int(n) => n,
        other => unreachable!("numeric option given {other:?}"),
    }
}

/// `--stderr=MODE`: any non-empty prefix of errors, all or client.
fn stderr_mode(arg: &str) -> crate::Result<StderrMode> {
    let is_prefix = |word: &str| !arg.is_empty() && word.starts_with(arg);
    if is_prefix("errors") {
        Ok(StderrMode::Errors)
    } else if is_prefix("all") {
        Ok(StderrMode::All)
    } else if is_prefix("client") {
        Ok(StderrMode::Client)
    } else {
        Err(Error::syntax(format!(
            "--stderr mode \"{arg}\" is not one of errors, all, or client"
        )))
    }
}

/// A size with an optional unit, as rsync reads `--block-size`, `--max-size`
/// and friends: digits with an optional fraction, then an optional unit letter
/// (b k m g t p, any case; `def_suffix` when absent), then "b" for powers of
/// 1000 or "ib"/nothing for powers of 1024, then an optional "+1" or "-1".
/// `max` < 0 means no upper limit. The error text is upstream's.
pub(crate) fn parse_size_arg(
    arg: &str,
    def_suffix: u8,
    opt_name: &str,
    min: i64,
    max: i64,
    unlimited_0: bool,
) -> Result<i64, String> {
    let s = arg.as_bytes();
    let size_max: i64 = if max >= 0 { max } else { i64::MAX / 2 };
    let fail = |what: &str, limit: Option<(&str, i64)>| -> String {
        let mut msg = format!("--{opt_name}={arg} is {what}");
        if let Some((label, lim)) = limit {
            if lim >= 0 {
                let extra = if unlimited_0 && label == "min" {
                    " or 0 for unlimited"
                } else {
                    ""
                };
                msg.push_str(&format!(" ({label}: {}{extra})", big_num_1024(lim)));
            }
        }
        msg
    };
    let too_large = || fail("too large", Some(("max", max)));

    let mut p = 0;
    while p < s.len() && s[p].is_ascii_digit() {
        p += 1;
    }
    if p < s.len() && s[p] == b'.' {
        p += 1;
        while p < s.len() && s[p].is_ascii_digit() {
            p += 1;
        }
    }
    let unit = match s.get(p) {
        Some(&c) if c != b'+' && c != b'-' => {
            p += 1;
            c
        }
        _ => def_suffix,
    };
    let reps = match unit.to_ascii_lowercase() {
        b'b' => 0,
        b'k' => 1,
        b'm' => 2,
        b'g' => 3,
        b't' => 4,
        b'p' => 5,
        _ => return Err(fail("invalid", None)),
    };
    let mult: i64 = match s.get(p) {
        Some(b'b' | b'B') => {
            p += 1;
            1000
        }
        None | Some(b'+' | b'-') => 1024,
        Some(_) if s.len() >= p + 2 && s[p..p + 2].eq_ignore_ascii_case(b"ib") => {
            p += 2;
            1024
        }
        Some(_) => return Err(fail("invalid", None)),
    };
    let mut size: i64 = 1;
    for _ in 0..reps {
        if size > size_max / mult {
            return Err(too_large());
        }
        size *= mult;
    }
    // Upstream hands the whole string to strtod; given the checks above that
    // reads an optional sign (only possible with no leading digits), digits
    // and a fraction.
    let dsize = leading_float(s);
    let limit = size_max as f64 / size as f64;
    if dsize < 0.0 || dsize > limit || (max < 0 && dsize >= limit) {
        return Err(too_large());
    }
    let mut size = (dsize * size as f64) as i64;
    if p + 1 < s.len() && (s[p] == b'+' || s[p] == b'-') && s[p + 1] == b'1' && p != 0 {
        if s[p] == b'+' {
            if size == size_max {
                return Err(too_large());
            }
            size += 1;
        } else {
            size -= 1;
        }
        p += 2;
    }
    if p != s.len() {
        return Err(fail("invalid", None));
    }
    if size < 0 || (max >= 0 && size > max) {
        return Err(too_large());
    }
    if size < min && !(unlimited_0 && size == 0) {
        return Err(fail("too small", Some(("min", min))));
    }
    Ok(size)
}

/// The number strtod would read from the start of `s`, limited to the forms
/// `parse_size_arg` lets through: `[+-]digits[.digits]`. No digits reads 0.
fn leading_float(s: &[u8]) -> f64 {
    let mut end = 0;
    if end < s.len() && (s[end] == b'+' || s[end] == b'-') {
        end += 1;
    }
    let digits_start = end;
    while end < s.len() && s[end].is_ascii_digit() {
        end += 1;
    }
    if end < s.len() && s[end] == b'.' {
        end += 1;
        while end < s.len() && s[end].is_ascii_digit() {
            end += 1;
        }
    }
    if !s[digits_start..end].iter().any(u8::is_ascii_digit) {
        return 0.0;
    }
    // Rust's float grammar accepts "1." and ".5" just as strtod does.
    std::str::from_utf8(&s[..end])
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.0)
}

/// A count in units of 1024 with two decimals ("128.00K"), as upstream shows
/// size limits in its error messages.
fn big_num_1024(num: i64) -> String {
    const MULT: f64 = 1024.0;
    if num.unsigned_abs() < 1024 {
        return num.to_string();
    }
    let negative = num < 0;
    let mut d = (num as f64).abs() / MULT;
    let mut unit = 'K';
    for u in ['M', 'G', 'T', 'P'] {
        if d < MULT {
            break;
        }
        d /= MULT;
        unit = u;
    }
    if negative {
        d = -d;
    }
    format!("{d:.2}{unit}")
}

/// options.c after the popt loop: how received files reach their name.
/// `--append` implies `--inplace`; `--delay-updates` uses `.~tmp~` unless a
/// partial dir was given; in-place writing excludes a partial dir; with
/// `--partial` a client takes RSYNC_PARTIAL_DIR; "" and "." mean none.
fn settle_update_style(o: &mut Options) -> crate::Result<()> {
    if o.append_mode > 0 {
        if o.whole_file == Some(true) {
            return Err(Error::syntax("--append cannot be used with --whole-file"));
        }
        o.inplace = true;
    }
    if o.delay_updates && o.partial_dir.is_none() {
        o.partial_dir = Some(OsString::from(".~tmp~"));
    }
    if o.inplace {
        if o.partial_dir.is_some() {
            return Err(Error::syntax(format!(
                "--{} cannot be used with --{}",
                if o.append_mode > 0 {
                    "append"
                } else {
                    "inplace"
                },
                if o.delay_updates {
                    "delay-updates"
                } else {
                    "partial-dir"
                }
            )));
        }
        o.partial = false;
        return Ok(());
    }
    if o.partial && o.partial_dir.is_none() && !o.server {
        if let Some(v) = std::env::var_os("RSYNC_PARTIAL_DIR").filter(|v| !v.is_empty()) {
            o.partial_dir = Some(v);
        }
    }
    if let Some(d) = o.partial_dir.take() {
        let clean = crate::flist::build::clean_fname(d.as_bytes(), 0);
        if !clean.is_empty() && clean != b"." {
            o.partial_dir = Some(OsString::from_vec(clean));
        }
        if o.partial_dir.is_some() {
            o.partial = true;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(arg: &str) -> Result<i64, String> {
        parse_size_arg(arg, b'b', "block-size", 0, MAX_BLOCK_SIZE, false)
    }

    #[test]
    fn size_units() {
        assert_eq!(size("0"), Ok(0));
        assert_eq!(size(""), Ok(0));
        assert_eq!(size("."), Ok(0));
        assert_eq!(size("700"), Ok(700));
        assert_eq!(size("700b"), Ok(700));
        assert_eq!(size("2k"), Ok(2048));
        assert_eq!(size("2K"), Ok(2048));
        assert_eq!(size("2kb"), Ok(2000));
        assert_eq!(size("2KiB"), Ok(2048));
        assert_eq!(size("0.5k"), Ok(512));
        assert_eq!(size(".5k"), Ok(512));
        assert_eq!(size("3.k"), Ok(3072));
        assert_eq!(size("1k+1"), Ok(1025));
        assert_eq!(size("1k-1"), Ok(1023));
        assert_eq!(size("128k"), Ok(131072));
        // Like upstream, the unit alone must fit: 0.125m is refused.
        assert!(size("0.125m").is_err());
    }

    #[test]
    fn size_errors() {
        assert_eq!(size("x").unwrap_err(), "--block-size=x is invalid");
        assert_eq!(size("1kx").unwrap_err(), "--block-size=1kx is invalid");
        assert_eq!(size("1k+2").unwrap_err(), "--block-size=1k+2 is invalid");
        assert_eq!(size("+1").unwrap_err(), "--block-size=+1 is invalid");
        assert_eq!(size("-").unwrap_err(), "--block-size=- is invalid");
        assert_eq!(size("1e3").unwrap_err(), "--block-size=1e3 is invalid");
        assert_eq!(
            size("-1").unwrap_err(),
            "--block-size=-1 is too large (max: 128.00K)"
        );
        assert_eq!(
            size("129k").unwrap_err(),
            "--block-size=129k is too large (max: 128.00K)"
        );
        assert_eq!(
            size("1p").unwrap_err(),
            "--block-size=1p is too large (max: 128.00K)"
        );
        assert_eq!(
            size("128k+1").unwrap_err(),
            "--block-size=128k+1 is too large (max: 128.00K)"
        );
        assert_eq!(
            parse_size_arg("0.1", b'K', "bwlimit", 512, -1, true).unwrap_err(),
            "--bwlimit=0.1 is too small (min: 512 or 0 for unlimited)"
        );
        assert_eq!(parse_size_arg("0", b'K', "bwlimit", 512, -1, true), Ok(0));
    }

    #[test]
    fn big_numbers() {
        assert_eq!(big_num_1024(131072), "128.00K");
        assert_eq!(big_num_1024(1 << 29), "512.00M");
        assert_eq!(big_num_1024(1024 * 1024), "1.00M");
        assert_eq!(big_num_1024(512), "512");
    }
}
