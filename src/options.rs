//! The validated configuration of one run (upstream: the option globals of
//! options.c). `cli::` fills it from argv; the roles read it. It knows nothing
//! of how it was spelled, so the roles never depend on `cli`.

use std::ffi::OsString;

/// `--max-alloc` when neither the option nor RSYNC_MAX_ALLOC is given.
pub const DEFAULT_MAX_ALLOC: u64 = 1024 * 1024 * 1024;

/// At most this many `--compare-dest`/`--copy-dest`/`--link-dest` dirs.
pub const MAX_BASIS_DIRS: usize = 20;

/// When deletions happen (options.c delete_mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeleteMode {
    #[default]
    Off,
    /// Plain `--delete`: before for protocol < 30, during for >= 30.
    Auto,
    Before,
    During,
    Delay,
    After,
}

/// What `--stderr` selected (options.c msgs2stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StderrMode {
    #[default]
    Errors,
    All,
    Client,
}

/// Validated options. Field names follow upstream's variables where one exists.
#[derive(Debug, Clone)]
pub struct Options {
    // --- what to transfer ---
    pub recursive: bool,
    /// `-d`/`--dirs` (xfer_dirs).
    pub dirs: bool,
    /// `-d` given without `-r` (upstream xfer_dirs == 2).
    pub dirs_explicit: bool,
    pub links: bool,
    /// `-H` count (preserve_hard_links; `-HH` travels as given).
    pub hard_links: u8,
    /// `-L`, `--copy-unsafe-links`, `--safe-links`, `--munge-links`, `-k`,
    /// `-K` (copy_links, copy_unsafe_links, safe_symlinks, munge_symlinks,
    /// copy_dirlinks, keep_dirlinks); see flist/links.rs.
    pub copy_links: bool,
    pub copy_unsafe_links: bool,
    pub safe_links: bool,
    pub munge_links: bool,
    pub copy_dirlinks: bool,
    pub keep_dirlinks: bool,
    /// `--chmod` clauses (chmod_modes), applied by the side that reads or
    /// builds the list.
    pub chmod: Option<crate::flist::chmod::ChmodList>,
    /// `-E` (preserve_executability).
    pub executability: bool,
    /// `-U` count (preserve_atimes; `-UU` also opens with O_NOATIME).
    pub atimes: u8,
    /// `-J` (omit_link_times).
    pub omit_link_times: bool,
    /// `--open-noatime`.
    pub open_noatime: bool,
    /// `--super` (Some(true)) / `--no-super` (Some(false)); None: am_root
    /// is whether we run as root.
    pub super_user: Option<bool>,
    /// `--usermap` / `--groupmap` (`--chown=U:G` becomes `*:U` / `*:G`),
    /// with whether `--chown` made them.
    pub usermap: Option<Vec<u8>>,
    pub groupmap: Option<Vec<u8>>,
    pub usermap_via_chown: bool,
    pub groupmap_via_chown: bool,
    pub perms: bool,
    pub times: bool,
    pub owner: bool,
    pub group: bool,
    pub devices: bool,
    pub specials: bool,
    pub numeric_ids: bool,
    pub omit_dir_times: bool,
    /// `omit_dir_times` was set by `-b` without `--backup-dir` (upstream's
    /// -1), so it is not forwarded as `-O`.
    pub omit_dir_times_implied: bool,
    pub one_file_system: u8,
    pub mkpath: bool,
    /// `--no-inc-recursive` turns incremental recursion off (default on).
    pub inc_recursive: bool,
    /// `-R`: names keep their path (upstream relative_paths; implied by
    /// `--files-from` unless `--no-relative`).
    pub relative: bool,
    /// Send (and create) the directories a relative name implies; off with
    /// `--no-implied-dirs`, and always off without `-R`.
    pub implied_dirs: bool,
    /// `--files-from=FILE`: the file that lists the names to send (`-` is
    /// stdin; `host:FILE` is read by the remote side).
    pub files_from: Option<OsString>,
    /// 0 = a missing argument is an error, 1 = ignored
    /// (`--ignore-missing-args`), 2 = deleted on the receiver
    /// (`--delete-missing-args`); upstream missing_args.
    pub missing_args: u8,
    /// `-m`: the receiver drops directories left empty by the list.
    pub prune_empty_dirs: bool,
    /// `--min-size` / `--max-size` in bytes; -1 = no limit (upstream
    /// min_size, max_size). The generator skips regular files outside them.
    pub min_size: i64,
    pub max_size: i64,

    // --- backups (backup.c) ---
    /// `-b` (also implied by `--backup-dir`).
    pub make_backups: bool,
    /// `--backup-dir=DIR` as given, less leading `./` (what is forwarded);
    /// None = backups sit beside the file.
    pub backup_dir: Option<Vec<u8>>,
    /// `--suffix=SUFFIX` after defaults: `~`, or empty with a backup dir.
    pub backup_suffix: Vec<u8>,

    // --- alternate basis dirs (generator.c try_dests_reg) ---
    /// 0 none, 1 `--compare-dest`, 2 `--copy-dest`, 3 `--link-dest`
    /// (upstream COMPARE_DEST, COPY_DEST, LINK_DEST).
    pub alt_dest_type: u8,
    /// The alt-dest dirs as given (at most 20, MAX_BASIS_DIRS).
    pub basis_dirs: Vec<Vec<u8>>,
    /// `-y` count after settling: 1 = fuzzy in the dest dir, more = also in
    /// each basis dir (upstream fuzzy_basis = basis_dir_cnt + 1).
    pub fuzzy_basis: u8,

    // --- limits ---
    /// `--bwlimit` in KiB per second (0 = none).
    pub bwlimit: u32,
    /// `--max-alloc` as given (or from RSYNC_MAX_ALLOC), forwarded when it
    /// is not the default.
    pub max_alloc_arg: Option<String>,
    /// The allocation ceiling in bytes (default 1 GiB; 0 asked = no limit).
    pub max_alloc: u64,
    /// `--stop-after` / `--stop-at`: the Unix time at which the client stops
    /// with "stopping at requested limit" (0 = never).
    pub stop_at_utime: i64,

    // --- quick check ---
    pub checksum: bool,
    pub size_only: bool,
    pub ignore_times: bool,
    pub modify_window: i64,
    pub update: bool,
    pub existing: bool,
    pub ignore_existing: bool,

    // --- delta ---
    /// `-W` (Some(true)), `--no-whole-file` (Some(false)), or the default
    /// (whole-file for local copies, delta otherwise).
    pub whole_file: Option<bool>,
    pub block_size: Option<u32>,
    /// `--checksum-choice=XFER[,FILE]`.
    pub checksum_choice: Option<String>,
    pub checksum_seed: Option<i32>,

    // --- compression ---
    /// Upstream's do_compression as server_options() sees it: 0 off,
    /// -1 on because only `--compress-level` was given, else the algorithm
    /// number (1 zlib, 2 zlibx, 3 lz4, 4 zstd; see [`compress_num`]). With
    /// no `compress_choice` a non-zero value means "negotiate" (zlib with
    /// a peer that cannot).
    pub compress: i32,
    /// `--compress-choice` / `--old-compress` / `--new-compress` / `-zz`, as
    /// given (a known name; upstream compares them case-insensitively).
    /// None = negotiate. After "none" it stays "none" (and is forwarded).
    pub compress_choice: Option<String>,
    /// `--compress-level=N`, as given (clamped per algorithm later).
    pub compress_level: Option<i32>,
    /// `--skip-compress=LIST`: no effect on the stream in 3.5.0, forwarded
    /// by a receiving client.
    pub skip_compress: Option<String>,
    /// `--compress-threads=N`: gensync always compresses on one thread (a
    /// valid stream either way; upstream does not forward it).
    pub compress_threads: i32,

    // --- deletion ---
    pub delete_mode: DeleteMode,

    // --- output ---
    pub verbose: u8,
    pub quiet: bool,
    pub dry_run: bool,
    pub list_only: bool,
    /// `--list-only` was given (upstream list_only == 2) rather than implied
    /// by a lone operand; only the explicit form is forwarded to a server.
    pub list_only_explicit: bool,
    pub stats: bool,
    pub progress: bool,
    pub partial: bool,
    /// `--partial-dir=DIR` (also from RSYNC_PARTIAL_DIR with `--partial`, and
    /// `.~tmp~` for `--delay-updates`); upstream partial_dir.
    pub partial_dir: Option<OsString>,
    /// `--delay-updates`: finished files wait in the partial dir until the
    /// end of the transfer (upstream delay_updates).
    pub delay_updates: bool,
    /// `--inplace` (implied by `--append`): write into the destination file.
    pub inplace: bool,
    /// 0 off, 1 `--append`, 2 `--append-verify` (upstream append_mode; a
    /// protocol below 30 turns 1 into 2).
    pub append_mode: u8,
    /// `-S`: turn runs of zeros into holes.
    pub sparse: bool,
    /// `--preallocate`: reserve the file's length before writing.
    pub preallocate: bool,
    /// `--fsync`: fsync every written file.
    pub fsync: bool,
    /// `-T DIR`: where the receiver creates its temporary files.
    pub temp_dir: Option<OsString>,
    /// 1 `--remove-source-files`, 2 its old name `--remove-sent-files`.
    pub remove_source_files: u8,
    /// 0 plain digits, 1 (default) digit grouping, 2 units of 1000, 3 of 1024.
    pub human_readable: u8,
    /// Count of `-i`.
    pub itemize_changes: u8,
    pub out_format: Option<String>,
    pub stderr_mode: StderrMode,
    /// `-8`: high-bit bytes in names print as they are.
    pub eight_bit_output: bool,
    /// `--outbuf=N|L|B` (upper-cased first letter; U and F are aliases).
    pub outbuf: Option<u8>,

    // --- protocol / session ---
    /// `--protocol=N`: only lowers what we advertise.
    pub protocol: Option<u32>,
    pub rsh: Option<String>,
    pub rsync_path: Option<String>,
    pub blocking_io: bool,
    /// `--old-args` count (0 = modern quoting; 2+ = no quoting at all).
    pub old_args: u8,
    /// `-s`: the remote arguments travel over the connection, not the shell.
    pub protect_args: bool,
    /// `--timeout`: seconds of silence before giving up (0 = never).
    pub timeout: u32,
    /// `--contimeout`: seconds to wait for a daemon connection.
    pub contimeout: u32,
    /// `-M`: extra words for the remote side's command line.
    pub remote_options: Vec<String>,
    /// Filter options in command-line order (exclude.c parses them so).
    pub filter_args: Vec<FilterArg>,
    /// `-C`.
    pub cvs_exclude: bool,
    /// `-0`: rule and list files are NUL-separated.
    pub from0: bool,
    pub delete_excluded: bool,
    pub force: bool,
    pub ignore_errors: bool,
    /// `--max-delete=N`; a negative value means no limit.
    pub max_delete: Option<i32>,
    pub server: bool,
    pub sender: bool,
    pub daemon: bool,
    /// Daemon-connection and `--daemon` settings.
    pub net: NetOptions,

    /// The name this binary was invoked as ("gensync" or "rsync"); the prefix
    /// of every message.
    pub program_name: String,
    /// Source and destination operands, in order.
    pub operands: Vec<OsString>,
}

impl Options {
    /// upstream am_root: root unless `--no-super`, or `--super` anyway.
    pub fn am_root(&self) -> bool {
        self.super_user
            .unwrap_or_else(|| nix::unistd::geteuid().is_root())
    }
}

impl Default for Options {
    fn default() -> Options {
        Options {
            recursive: false,
            dirs: false,
            dirs_explicit: false,
            links: false,
            hard_links: 0,
            copy_links: false,
            copy_unsafe_links: false,
            safe_links: false,
            munge_links: false,
            copy_dirlinks: false,
            keep_dirlinks: false,
            chmod: None,
            executability: false,
            atimes: 0,
            omit_link_times: false,
            open_noatime: false,
            super_user: None,
            usermap: None,
            groupmap: None,
            usermap_via_chown: false,
            groupmap_via_chown: false,
            perms: false,
            times: false,
            owner: false,
            group: false,
            devices: false,
            specials: false,
            numeric_ids: false,
            omit_dir_times: false,
            omit_dir_times_implied: false,
            one_file_system: 0,
            mkpath: false,
            inc_recursive: true,
            relative: false,
            implied_dirs: true,
            files_from: None,
            missing_args: 0,
            prune_empty_dirs: false,
            min_size: -1,
            max_size: -1,
            make_backups: false,
            backup_dir: None,
            backup_suffix: b"~".to_vec(),
            alt_dest_type: 0,
            basis_dirs: Vec::new(),
            fuzzy_basis: 0,
            bwlimit: 0,
            max_alloc_arg: None,
            max_alloc: DEFAULT_MAX_ALLOC,
            stop_at_utime: 0,
            checksum: false,
            size_only: false,
            ignore_times: false,
            modify_window: 0,
            update: false,
            existing: false,
            ignore_existing: false,
            whole_file: None,
            block_size: None,
            checksum_choice: None,
            checksum_seed: None,
            compress: 0,
            compress_choice: None,
            compress_level: None,
            skip_compress: None,
            compress_threads: 0,
            delete_mode: DeleteMode::Off,
            verbose: 0,
            quiet: false,
            dry_run: false,
            list_only: false,
            list_only_explicit: false,
            stats: false,
            progress: false,
            partial: false,
            partial_dir: None,
            delay_updates: false,
            inplace: false,
            append_mode: 0,
            sparse: false,
            preallocate: false,
            fsync: false,
            temp_dir: None,
            remove_source_files: 0,
            human_readable: 1,
            itemize_changes: 0,
            out_format: None,
            stderr_mode: StderrMode::Errors,
            eight_bit_output: false,
            outbuf: None,
            protocol: None,
            rsh: None,
            rsync_path: None,
            blocking_io: false,
            old_args: 0,
            protect_args: false,
            timeout: 0,
            contimeout: 0,
            remote_options: Vec::new(),
            filter_args: Vec::new(),
            cvs_exclude: false,
            from0: false,
            delete_excluded: false,
            force: false,
            ignore_errors: false,
            max_delete: None,
            server: false,
            sender: false,
            daemon: false,
            net: NetOptions::default(),
            program_name: "gensync".to_string(),
            operands: Vec::new(),
        }
    }
}

impl Options {
    pub fn deleting(&self) -> bool {
        self.delete_mode != DeleteMode::Off
    }

    /// Whether the compress list is exchanged during setup (compat.c
    /// negotiate_the_strings(): compression on and no explicit choice).
    pub fn negotiates_compression(&self) -> bool {
        self.compress != 0 && self.compress_choice.is_none()
    }
}

/// Upstream's CPRES_* number for a compressor name (rsync.h), or None.
/// Case-insensitive, as get_nni_by_name() compares.
pub fn compress_num(name: &str) -> Option<i32> {
    Some(match name.to_ascii_lowercase().as_str() {
        "none" => 0,
        "zlib" => 1,
        "zlibx" => 2,
        "lz4" => 3,
        "zstd" => 4,
        _ => return None,
    })
}

/// One filter option, kept in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterArg {
    /// `-f RULE`.
    Filter(Vec<u8>),
    Exclude(Vec<u8>),
    Include(Vec<u8>),
    /// `--exclude-from=FILE` (`-` is stdin).
    ExcludeFrom(Vec<u8>),
    IncludeFrom(Vec<u8>),
    /// `-F`.
    DashF,
}

/// Options of daemon connections (client side) and of `--daemon` itself.
#[derive(Debug, Clone)]
pub struct NetOptions {
    /// `--port`: the daemon's TCP port (client) or the one to listen on.
    pub port: Option<u16>,
    /// `--address`: bind address for the socket.
    pub bind_address: Option<String>,
    /// `-4` / `-6`: 4 or 6; 0 for either.
    pub address_family: u8,
    /// `--sockopts`.
    pub sockopts: Option<String>,
    pub password_file: Option<String>,
    /// `--early-input=FILE`.
    pub early_input: Option<String>,
    /// `--motd` (the default) / `--no-motd`.
    pub motd: bool,
    /// `--config`.
    pub config: Option<String>,
    /// `--dparam` / `-M` on a daemon: "name=value" overrides.
    pub dparams: Vec<String>,
    /// `--detach` (the default) / `--no-detach`.
    pub detach: bool,
    /// The protocol a daemon greeting already agreed: the binary version
    /// exchange is then skipped (compat.c setup_protocol()).
    pub preset_protocol: Option<u32>,
    /// Every option row the command line used, in order (long name,
    /// short letter): what a daemon's "refuse options" is checked against.
    pub given: Vec<(Option<&'static str>, Option<char>)>,
}

impl Default for NetOptions {
    fn default() -> NetOptions {
        NetOptions {
            port: None,
            bind_address: None,
            address_family: 0,
            sockopts: None,
            password_file: None,
            early_input: None,
            motd: true,
            config: None,
            dparams: Vec::new(),
            detach: true,
            preset_protocol: None,
            given: Vec::new(),
        }
    }
}
