//! "refuse options" (upstream options.c set_refuse_options() and
//! parse_one_refuse_match()).
//!
//! Rules:
//! - The value is split on spaces. `!name` accepts instead of refusing.
//!   Later items override earlier ones.
//! - An item is matched with wildmatch against every long name and every
//!   one-letter short name of upstream's option table. A wildcard item
//!   (`*`, `?`, `[`) changes only "wild-able" rows; a few rows are exact-only
//!   (-e, -0, -s, -n, iconv, no-iconv, checksum-seed, copy-devices,
//!   write-devices, log-format, sender, server).
//! - A non-wild item stops at its first matching row and then also changes
//!   every row with the same effect (e.g. `del` and `delete-during`,
//!   `compress` and `z`, `no-v` and `no-verbose`).
//! - `a` / `archive` means the options -a implies: `[ardlptgoD]`.
//! - Before the list: copy-devices and write-devices are refused (a `!`
//!   item may accept them). After it: log-file*, insecure-links and, when
//!   the module has no "charset", iconv are refused; options this build
//!   lacks (crtimes on Linux) are refused too.
//! - Implications applied while parsing the client's options (see the
//!   `*_refused` methods): -a is refused if any of -r -d -l -p -t -g -o -D
//!   is; -P if --partial or --progress is; every way of turning on
//!   compression if -z is; every delete mode and --delete-missing-args if
//!   "delete" is (and --remove-source-files when the daemon sends);
//!   --append and --write-devices if --inplace is.

use super::wildmatch::wildmatch;

/// How a popt row stores its value (enough to decide "same effect").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Flag,
    Val,
    Str,
    Int,
    BitSet,
}

/// One row of upstream's client/server option table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptRow {
    /// Long name; "" for the short-only -D, -F, -P.
    pub long: &'static str,
    /// Short name; '\0' for none.
    pub short: char,
    pub kind: Kind,
    /// The variable the row writes ("" for none).
    pub dest: &'static str,
    /// popt's `val`: the stored constant or the action code.
    pub val: &'static str,
}

const fn r(
    long: &'static str,
    short: char,
    kind: Kind,
    dest: &'static str,
    val: &'static str,
) -> OptRow {
    OptRow {
        long,
        short,
        kind,
        dest,
        val,
    }
}

use Kind::*;

/// Upstream's long_options[] (3.5.0), row for row.
pub static OPTION_ROWS: &[OptRow] = &[
    r("help", '\0', Flag, "", "OPT_HELP"),
    r("version", 'V', Flag, "", "V"),
    r("verbose", 'v', Flag, "", "v"),
    r("no-verbose", '\0', Val, "verbose", "0"),
    r("no-v", '\0', Val, "verbose", "0"),
    r("info", '\0', Str, "", "OPT_INFO"),
    r("debug", '\0', Str, "", "OPT_DEBUG"),
    r("stderr", '\0', Str, "", "OPT_STDERR"),
    r("msgs2stderr", '\0', Val, "msgs2stderr", "1"),
    r("no-msgs2stderr", '\0', Val, "msgs2stderr", "0"),
    r("quiet", 'q', Flag, "", "q"),
    r("motd", '\0', Val, "output_motd", "1"),
    r("no-motd", '\0', Val, "output_motd", "0"),
    r("stats", '\0', Flag, "do_stats", "0"),
    r("human-readable", 'h', Flag, "", "h"),
    r("no-human-readable", '\0', Val, "human_readable", "0"),
    r("no-h", '\0', Val, "human_readable", "0"),
    r("dry-run", 'n', Flag, "dry_run", "0"),
    r("archive", 'a', Flag, "", "a"),
    r("recursive", 'r', Val, "recurse", "2"),
    r("no-recursive", '\0', Val, "recurse", "0"),
    r("no-r", '\0', Val, "recurse", "0"),
    r("inc-recursive", '\0', Val, "allow_inc_recurse", "1"),
    r("no-inc-recursive", '\0', Val, "allow_inc_recurse", "0"),
    r("i-r", '\0', Val, "allow_inc_recurse", "1"),
    r("no-i-r", '\0', Val, "allow_inc_recurse", "0"),
    r("dirs", 'd', Val, "xfer_dirs", "2"),
    r("no-dirs", '\0', Val, "xfer_dirs", "0"),
    r("no-d", '\0', Val, "xfer_dirs", "0"),
    r("old-dirs", '\0', Val, "xfer_dirs", "4"),
    r("old-d", '\0', Val, "xfer_dirs", "4"),
    r("perms", 'p', Val, "preserve_perms", "1"),
    r("no-perms", '\0', Val, "preserve_perms", "0"),
    r("no-p", '\0', Val, "preserve_perms", "0"),
    r("executability", 'E', Flag, "preserve_executability", "0"),
    r("acls", 'A', Flag, "", "A"),
    r("no-acls", '\0', Val, "preserve_acls", "0"),
    r("no-A", '\0', Val, "preserve_acls", "0"),
    r("xattrs", 'X', Flag, "", "X"),
    r("no-xattrs", '\0', Val, "preserve_xattrs", "0"),
    r("no-X", '\0', Val, "preserve_xattrs", "0"),
    r("times", 't', Val, "preserve_mtimes", "1"),
    r("no-times", '\0', Val, "preserve_mtimes", "0"),
    r("no-t", '\0', Val, "preserve_mtimes", "0"),
    r("atimes", 'U', Flag, "", "U"),
    r("no-atimes", '\0', Val, "preserve_atimes", "0"),
    r("no-U", '\0', Val, "preserve_atimes", "0"),
    r("open-noatime", '\0', Val, "open_noatime", "1"),
    r("no-open-noatime", '\0', Val, "open_noatime", "0"),
    r("crtimes", 'N', Val, "preserve_crtimes", "1"),
    r("no-crtimes", '\0', Val, "preserve_crtimes", "0"),
    r("no-N", '\0', Val, "preserve_crtimes", "0"),
    r("omit-dir-times", 'O', Val, "omit_dir_times", "1"),
    r("no-omit-dir-times", '\0', Val, "omit_dir_times", "0"),
    r("no-O", '\0', Val, "omit_dir_times", "0"),
    r("omit-link-times", 'J', Val, "omit_link_times", "1"),
    r("no-omit-link-times", '\0', Val, "omit_link_times", "0"),
    r("no-J", '\0', Val, "omit_link_times", "0"),
    r(
        "modify-window",
        '@',
        Int,
        "modify_window",
        "OPT_MODIFY_WINDOW",
    ),
    r("super", '\0', Val, "am_root", "2"),
    r("no-super", '\0', Val, "am_root", "0"),
    r("fake-super", '\0', Val, "am_root", "-1"),
    r("owner", 'o', Val, "preserve_uid", "1"),
    r("no-owner", '\0', Val, "preserve_uid", "0"),
    r("no-o", '\0', Val, "preserve_uid", "0"),
    r("group", 'g', Val, "preserve_gid", "1"),
    r("no-group", '\0', Val, "preserve_gid", "0"),
    r("no-g", '\0', Val, "preserve_gid", "0"),
    r("", 'D', Flag, "", "D"),
    r("no-D", '\0', Flag, "", "OPT_NO_D"),
    r("devices", '\0', Val, "preserve_devices", "1"),
    r("no-devices", '\0', Val, "preserve_devices", "0"),
    r("copy-devices", '\0', Flag, "copy_devices", "0"),
    r("write-devices", '\0', Val, "write_devices", "1"),
    r("no-write-devices", '\0', Val, "write_devices", "0"),
    r("specials", '\0', Val, "preserve_specials", "1"),
    r("no-specials", '\0', Val, "preserve_specials", "0"),
    r("drop-D", '\0', Val, "drop_devices", "1"),
    r("no-drop-D", '\0', Val, "drop_devices", "0"),
    r("confine-root", '\0', Str, "confine_root", "0"),
    r("links", 'l', Val, "preserve_links", "1"),
    r("no-links", '\0', Val, "preserve_links", "0"),
    r("no-l", '\0', Val, "preserve_links", "0"),
    r("copy-links", 'L', Flag, "copy_links", "0"),
    r("copy-unsafe-links", '\0', Flag, "copy_unsafe_links", "0"),
    r("safe-links", '\0', Flag, "safe_symlinks", "0"),
    r("insecure-links", '\0', Val, "insecure_links", "1"),
    r("no-insecure-links", '\0', Val, "insecure_links", "0"),
    r("munge-links", '\0', Val, "munge_symlinks", "1"),
    r("no-munge-links", '\0', Val, "munge_symlinks", "0"),
    r("copy-dirlinks", 'k', Flag, "copy_dirlinks", "0"),
    r("keep-dirlinks", 'K', Flag, "keep_dirlinks", "0"),
    r("hard-links", 'H', Flag, "", "H"),
    r("no-hard-links", '\0', Val, "preserve_hard_links", "0"),
    r("no-H", '\0', Val, "preserve_hard_links", "0"),
    r("relative", 'R', Val, "relative_paths", "1"),
    r("no-relative", '\0', Val, "relative_paths", "0"),
    r("no-R", '\0', Val, "relative_paths", "0"),
    r("implied-dirs", '\0', Val, "implied_dirs", "1"),
    r("no-implied-dirs", '\0', Val, "implied_dirs", "0"),
    r("i-d", '\0', Val, "implied_dirs", "1"),
    r("no-i-d", '\0', Val, "implied_dirs", "0"),
    r("chmod", '\0', Str, "", "OPT_CHMOD"),
    r("ignore-times", 'I', Flag, "ignore_times", "0"),
    r("size-only", '\0', Flag, "size_only", "0"),
    r("one-file-system", 'x', Flag, "", "x"),
    r("no-one-file-system", '\0', Val, "one_file_system", "0"),
    r("no-x", '\0', Val, "one_file_system", "0"),
    r("update", 'u', Flag, "update_only", "0"),
    r("existing", '\0', Flag, "ignore_non_existing", "0"),
    r(
        "ignore-non-existing",
        '\0',
        Flag,
        "ignore_non_existing",
        "0",
    ),
    r("ignore-existing", '\0', Flag, "ignore_existing", "0"),
    r("max-size", '\0', Str, "max_size_arg", "OPT_MAX_SIZE"),
    r("min-size", '\0', Str, "min_size_arg", "OPT_MIN_SIZE"),
    r("max-alloc", '\0', Str, "max_alloc_arg", "0"),
    r("sparse", 'S', Val, "sparse_files", "1"),
    r("no-sparse", '\0', Val, "sparse_files", "0"),
    r("no-S", '\0', Val, "sparse_files", "0"),
    r("preallocate", '\0', Flag, "preallocate_files", "0"),
    r("inplace", '\0', Val, "inplace", "1"),
    r("no-inplace", '\0', Val, "inplace", "0"),
    r("append", '\0', Flag, "", "OPT_APPEND"),
    r("append-verify", '\0', Val, "append_mode", "2"),
    r("no-append", '\0', Val, "append_mode", "0"),
    r("del", '\0', Flag, "delete_during", "0"),
    r("delete", '\0', Flag, "delete_mode", "0"),
    r("delete-before", '\0', Flag, "delete_before", "0"),
    r("delete-during", '\0', Val, "delete_during", "1"),
    r("delete-delay", '\0', Val, "delete_during", "2"),
    r("delete-after", '\0', Flag, "delete_after", "0"),
    r("delete-excluded", '\0', Flag, "delete_excluded", "0"),
    r("delete-missing-args", '\0', BitSet, "missing_args", "2"),
    r("ignore-missing-args", '\0', BitSet, "missing_args", "1"),
    r("remove-sent-files", '\0', Val, "remove_source_files", "2"),
    r("remove-source-files", '\0', Val, "remove_source_files", "1"),
    r("force", '\0', Val, "force_delete", "1"),
    r("no-force", '\0', Val, "force_delete", "0"),
    r("ignore-errors", '\0', Val, "ignore_errors", "1"),
    r("no-ignore-errors", '\0', Val, "ignore_errors", "0"),
    r("max-delete", '\0', Int, "max_delete", "0"),
    r("", 'F', Flag, "", "F"),
    r("filter", 'f', Str, "", "OPT_FILTER"),
    r("exclude", '\0', Str, "", "OPT_EXCLUDE"),
    r("include", '\0', Str, "", "OPT_INCLUDE"),
    r("exclude-from", '\0', Str, "", "OPT_EXCLUDE_FROM"),
    r("include-from", '\0', Str, "", "OPT_INCLUDE_FROM"),
    r("cvs-exclude", 'C', Flag, "cvs_exclude", "0"),
    r("whole-file", 'W', Val, "whole_file", "1"),
    r("no-whole-file", '\0', Val, "whole_file", "0"),
    r("no-W", '\0', Val, "whole_file", "0"),
    r("checksum", 'c', Val, "always_checksum", "1"),
    r("no-checksum", '\0', Val, "always_checksum", "0"),
    r("no-c", '\0', Val, "always_checksum", "0"),
    r("checksum-choice", '\0', Str, "checksum_choice", "0"),
    r("cc", '\0', Str, "checksum_choice", "0"),
    r("block-size", 'B', Str, "", "OPT_BLOCK_SIZE"),
    r("compare-dest", '\0', Str, "", "OPT_COMPARE_DEST"),
    r("copy-dest", '\0', Str, "", "OPT_COPY_DEST"),
    r("link-dest", '\0', Str, "", "OPT_LINK_DEST"),
    r("fuzzy", 'y', Flag, "", "y"),
    r("no-fuzzy", '\0', Val, "fuzzy_basis", "0"),
    r("no-y", '\0', Val, "fuzzy_basis", "0"),
    r("compress", 'z', Flag, "", "z"),
    r("old-compress", '\0', Flag, "", "OPT_OLD_COMPRESS"),
    r("new-compress", '\0', Flag, "", "OPT_NEW_COMPRESS"),
    r("no-compress", '\0', Flag, "", "OPT_NO_COMPRESS"),
    r("no-z", '\0', Flag, "", "OPT_NO_COMPRESS"),
    r("compress-choice", '\0', Str, "compress_choice", "0"),
    r("zc", '\0', Str, "compress_choice", "0"),
    r("skip-compress", '\0', Str, "skip_compress", "0"),
    r("compress-level", '\0', Int, "do_compression_level", "0"),
    r("zl", '\0', Int, "do_compression_level", "0"),
    r("compress-threads", '\0', Int, "do_compression_threads", "0"),
    r("zt", '\0', Int, "do_compression_threads", "0"),
    r("", 'P', Flag, "", "P"),
    r("progress", '\0', Val, "do_progress", "1"),
    r("no-progress", '\0', Val, "do_progress", "0"),
    r("partial", '\0', Val, "keep_partial", "1"),
    r("no-partial", '\0', Val, "keep_partial", "0"),
    r("partial-dir", '\0', Str, "partial_dir", "0"),
    r("delay-updates", '\0', Val, "delay_updates", "1"),
    r("no-delay-updates", '\0', Val, "delay_updates", "0"),
    r("prune-empty-dirs", 'm', Val, "prune_empty_dirs", "1"),
    r("no-prune-empty-dirs", '\0', Val, "prune_empty_dirs", "0"),
    r("no-m", '\0', Val, "prune_empty_dirs", "0"),
    r("log-file", '\0', Str, "logfile_name", "0"),
    r("log-file-format", '\0', Str, "logfile_format", "0"),
    r("out-format", '\0', Str, "stdout_format", "0"),
    r("log-format", '\0', Str, "stdout_format", "0"),
    r("itemize-changes", 'i', Flag, "", "i"),
    r("no-itemize-changes", '\0', Val, "itemize_changes", "0"),
    r("no-i", '\0', Val, "itemize_changes", "0"),
    r("bwlimit", '\0', Str, "bwlimit_arg", "OPT_BWLIMIT"),
    r("no-bwlimit", '\0', Val, "bwlimit", "0"),
    r("backup", 'b', Val, "make_backups", "1"),
    r("no-backup", '\0', Val, "make_backups", "0"),
    r("backup-dir", '\0', Str, "backup_dir", "0"),
    r("suffix", '\0', Str, "backup_suffix", "0"),
    r("list-only", '\0', Val, "list_only", "2"),
    r("read-batch", '\0', Str, "batch_name", "OPT_READ_BATCH"),
    r("write-batch", '\0', Str, "batch_name", "OPT_WRITE_BATCH"),
    r(
        "only-write-batch",
        '\0',
        Str,
        "batch_name",
        "OPT_ONLY_WRITE_BATCH",
    ),
    r("files-from", '\0', Str, "files_from", "0"),
    r("from0", '0', Val, "eol_nulls", "1"),
    r("no-from0", '\0', Val, "eol_nulls", "0"),
    r("old-args", '\0', Flag, "", "OPT_OLD_ARGS"),
    r("no-old-args", '\0', Val, "old_style_args", "0"),
    r("secluded-args", 's', Val, "protect_args", "1"),
    r("no-secluded-args", '\0', Val, "protect_args", "0"),
    r("protect-args", '\0', Val, "protect_args", "1"),
    r("no-protect-args", '\0', Val, "protect_args", "0"),
    r("no-s", '\0', Val, "protect_args", "0"),
    r("trust-sender", '\0', Val, "trust_sender", "1"),
    r("numeric-ids", '\0', Val, "numeric_ids", "1"),
    r("no-numeric-ids", '\0', Val, "numeric_ids", "0"),
    r("usermap", '\0', Str, "", "OPT_USERMAP"),
    r("groupmap", '\0', Str, "", "OPT_GROUPMAP"),
    r("chown", '\0', Str, "", "OPT_CHOWN"),
    r("timeout", '\0', Int, "io_timeout", "0"),
    r("no-timeout", '\0', Val, "io_timeout", "0"),
    r("contimeout", '\0', Int, "connect_timeout", "0"),
    r("no-contimeout", '\0', Val, "connect_timeout", "0"),
    r("fsync", '\0', Flag, "do_fsync", "0"),
    r("stop-after", '\0', Str, "", "OPT_STOP_AFTER"),
    r("time-limit", '\0', Str, "", "OPT_STOP_AFTER"),
    r("stop-at", '\0', Str, "", "OPT_STOP_AT"),
    r("rsh", 'e', Str, "shell_cmd", "0"),
    r("rsync-path", '\0', Str, "rsync_path", "0"),
    r("temp-dir", 'T', Str, "tmpdir", "0"),
    r("iconv", '\0', Str, "iconv_opt", "0"),
    r("no-iconv", '\0', Flag, "", "OPT_NO_ICONV"),
    r("ipv4", '4', Val, "default_af_hint", "AF_INET"),
    r("ipv6", '6', Val, "default_af_hint", "AF_INET6"),
    r("8-bit-output", '8', Val, "allow_8bit_chars", "1"),
    r("no-8-bit-output", '\0', Val, "allow_8bit_chars", "0"),
    r("no-8", '\0', Val, "allow_8bit_chars", "0"),
    r("mkpath", '\0', Val, "mkpath_dest_arg", "1"),
    r("no-mkpath", '\0', Val, "mkpath_dest_arg", "0"),
    r("qsort", '\0', Flag, "use_qsort", "0"),
    r("copy-as", '\0', Str, "copy_as", "0"),
    r("address", '\0', Str, "bind_address", "0"),
    r("port", '\0', Int, "rsync_port", "0"),
    r("sockopts", '\0', Str, "sockopts", "0"),
    r("password-file", '\0', Str, "password_file", "0"),
    r("early-input", '\0', Str, "early_input_file", "0"),
    r("blocking-io", '\0', Val, "blocking_io", "1"),
    r("no-blocking-io", '\0', Val, "blocking_io", "0"),
    r("outbuf", '\0', Str, "outbuf_mode", "0"),
    r("remote-option", 'M', Str, "", "M"),
    r("protocol", '\0', Int, "protocol_version", "0"),
    r("checksum-seed", '\0', Int, "checksum_seed", "0"),
    r("server", '\0', Flag, "", "OPT_SERVER"),
    r("sender", '\0', Flag, "", "OPT_SENDER"),
    r("config", '\0', Str, "", "OPT_DAEMON"),
    r("daemon", '\0', Flag, "", "OPT_DAEMON"),
    r("dparam", '\0', Str, "", "OPT_DAEMON"),
    r("detach", '\0', Flag, "", "OPT_DAEMON"),
    r("no-detach", '\0', Flag, "", "OPT_DAEMON"),
];

impl OptRow {
    /// The constant this row assigns, when it is a plain assignment.
    fn const_assign(&self) -> Option<&'static str> {
        if self.dest.is_empty() {
            return None;
        }
        match self.kind {
            Kind::Val => Some(self.val),
            Kind::Flag if self.val == "0" => Some("1"),
            _ => None,
        }
    }

    /// Do two rows name the same capability (upstream same_refuse_action())?
    pub fn same_effect(&self, o: &OptRow) -> bool {
        if let (Some(a), Some(b)) = (self.const_assign(), o.const_assign()) {
            return self.dest == o.dest && a == b;
        }
        if self.kind != o.kind || self.val != o.val {
            return false;
        }
        if !self.dest.is_empty() {
            self.dest == o.dest
        } else {
            o.dest.is_empty() && self.val != "0"
        }
    }

    fn exact_only(&self) -> bool {
        matches!(self.short, 'e' | '0' | 's' | 'n')
            || matches!(
                self.long,
                "iconv"
                    | "no-iconv"
                    | "checksum-seed"
                    | "copy-devices"
                    | "write-devices"
                    | "log-format"
                    | "sender"
                    | "server"
            )
    }
}

/// Facts about the module and the build that change the defaults.
#[derive(Debug, Clone, Copy)]
pub struct RefuseContext {
    /// The module sets "charset" (otherwise --iconv is refused).
    pub has_charset: bool,
    /// This build can set creation times (upstream's SUPPORT_CRTIMES; not
    /// on Linux, so --crtimes is refused there).
    pub crtimes_supported: bool,
}

// Not derived: the crtimes default depends on the target platform.
#[allow(clippy::derivable_impls)]
impl Default for RefuseContext {
    fn default() -> RefuseContext {
        RefuseContext {
            has_charset: false,
            crtimes_supported: cfg!(target_os = "macos"),
        }
    }
}

/// The refusal state of every option row for one module.
#[derive(Debug, Clone)]
pub struct RefuseSet {
    refused: Vec<bool>,
    /// Upstream's "No match for refuse-options string" lines.
    pub log: Vec<String>,
}

impl RefuseSet {
    /// Apply a module's "refuse options" value.
    pub fn new(list: &str, ctx: RefuseContext) -> RefuseSet {
        let mut st = State {
            refused: vec![false; OPTION_ROWS.len()],
            wild: OPTION_ROWS.iter().map(|r| !r.exact_only()).collect(),
            log: Vec::new(),
        };
        st.one(false, "copy-devices");
        st.one(false, "write-devices");
        for item in list.split(' ').filter(|s| !s.is_empty()) {
            let negated = item.starts_with('!');
            // A lone "!" stays "!" (and matches nothing).
            let name = if negated && item.len() > 1 {
                &item[1..]
            } else {
                item
            };
            st.one(negated, name);
        }
        if !ctx.has_charset {
            st.one(false, "iconv");
        }
        st.one(false, "log-file*");
        st.one(false, "insecure-links");
        if !ctx.crtimes_supported {
            st.one(false, "crtimes");
        }
        RefuseSet {
            refused: st.refused,
            log: st.log,
        }
    }

    /// Is the row with this long name refused? Unknown names are not.
    pub fn refuses_long(&self, long: &str) -> bool {
        OPTION_ROWS
            .iter()
            .position(|r| !r.long.is_empty() && r.long == long)
            .is_some_and(|i| self.refused[i])
    }

    /// Is the row with this short name refused?
    pub fn refuses_short(&self, short: char) -> bool {
        OPTION_ROWS
            .iter()
            .position(|r| r.short != '\0' && r.short == short)
            .is_some_and(|i| self.refused[i])
    }

    /// A one-character name is a short option, anything else a long one.
    pub fn refuses(&self, name: &str) -> bool {
        let mut it = name.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => self.refuses_short(c),
            _ => self.refuses_long(name),
        }
    }

    /// All refused rows.
    pub fn refused_rows(&self) -> impl Iterator<Item = &'static OptRow> + '_ {
        OPTION_ROWS
            .iter()
            .zip(&self.refused)
            .filter(|(_, &r)| r)
            .map(|(row, _)| row)
    }

    /// The last refused row matching `f`, as upstream's refused_* variables
    /// keep the last one seen.
    fn last(&self, f: impl Fn(&OptRow) -> bool) -> Option<&'static OptRow> {
        self.refused_rows().filter(|r| f(r)).last()
    }

    /// Refused part of -a (-r -d -l -p -t -g -o -D): -a itself is refused.
    pub fn archive_part_refused(&self) -> Option<&'static OptRow> {
        self.last(|r| "rdlptgoD".contains(r.short) && r.short != '\0')
    }
    /// -z refused: every way of enabling compression is.
    pub fn compress_refused(&self) -> Option<&'static OptRow> {
        self.last(|r| r.short == 'z')
    }
    /// "delete" refused: any delete mode, --delete-missing-args, and
    /// --remove-source-files on a sending daemon are.
    pub fn delete_refused(&self) -> Option<&'static OptRow> {
        self.last(|r| r.short == '\0' && r.long == "delete")
    }
    pub fn delete_before_refused(&self) -> Option<&'static OptRow> {
        self.last(|r| r.short == '\0' && r.long == "delete-before")
    }
    pub fn delete_during_refused(&self) -> Option<&'static OptRow> {
        self.last(|r| r.short == '\0' && r.long == "delete-during")
    }
    /// With -P, partial is reported first.
    pub fn partial_refused(&self) -> Option<&'static OptRow> {
        self.last(|r| r.short == '\0' && r.long == "partial")
    }
    pub fn progress_refused(&self) -> Option<&'static OptRow> {
        self.last(|r| r.short == '\0' && r.long == "progress")
    }
    /// --inplace refused: --append and --write-devices are too.
    pub fn inplace_refused(&self) -> Option<&'static OptRow> {
        self.last(|r| r.short == '\0' && r.long == "inplace")
    }
    pub fn no_iconv_refused(&self) -> Option<&'static OptRow> {
        self.last(|r| r.short == '\0' && r.long == "no-iconv")
    }
}

/// The message a refused option produces on a daemon
/// (create_refuse_error()). A row without a long name prints "(null)" as
/// glibc's printf does.
pub fn refuse_error(row: &OptRow) -> String {
    let long = if row.long.is_empty() {
        "(null)"
    } else {
        row.long
    };
    if row.short != '\0' {
        format!(
            "The server is configured to refuse --{long} (-{})",
            row.short
        )
    } else {
        format!("The server is configured to refuse --{long}")
    }
}

/// The predicate the brief asks for: is option NAME (long, or one letter
/// for a short option) refused by this "refuse options" value?
pub fn refuse_predicate(list: &str, ctx: RefuseContext) -> impl Fn(&str) -> bool {
    let set = RefuseSet::new(list, ctx);
    move |name: &str| set.refuses(name)
}

struct State {
    refused: Vec<bool>,
    wild: Vec<bool>,
    log: Vec<String>,
}

impl State {
    fn one(&mut self, negated: bool, item: &str) {
        let (pat, is_wild) = if item == "a" || item == "archive" {
            ("[ardlptgoD]", true)
        } else {
            (item, item.contains(['*', '?', '[']))
        };
        let mut found = false;
        let mut matched = None;
        for (i, row) in OPTION_ROWS.iter().enumerate() {
            let short = row.short.to_string();
            let hit = (!row.long.is_empty() && wildmatch(pat, row.long))
                || (row.short != '\0' && wildmatch(pat, &short));
            if !hit {
                continue;
            }
            if self.wild[i] || !is_wild {
                self.refused[i] = !negated;
            }
            found = true;
            if !is_wild {
                matched = Some(i);
                break;
            }
        }
        if let Some(m) = matched {
            for (i, row) in OPTION_ROWS.iter().enumerate() {
                if i != m && row.same_effect(&OPTION_ROWS[m]) {
                    self.refused[i] = !negated;
                }
            }
        }
        if !found {
            self.log
                .push(format!("No match for refuse-options string \"{pat}\""));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(list: &str) -> Vec<&'static str> {
        let set = RefuseSet::new(list, RefuseContext::default());
        let base = RefuseSet::new("", RefuseContext::default());
        set.refused_rows()
            .filter(|r| !base.refused_rows().any(|b| b == *r))
            .map(|r| if r.long.is_empty() { "<short>" } else { r.long })
            .collect()
    }

    #[test]
    fn defaults() {
        let set = RefuseSet::new("", RefuseContext::default());
        let mut names: Vec<_> = set.refused_rows().map(|r| r.long).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "copy-devices",
                "crtimes",
                "iconv",
                "insecure-links",
                "log-file",
                "log-file-format",
                "write-devices"
            ]
        );
        assert!(set.log.is_empty());
        let with_charset = RefuseSet::new(
            "",
            RefuseContext {
                has_charset: true,
                crtimes_supported: true,
            },
        );
        assert!(!with_charset.refuses("iconv"));
        assert!(!with_charset.refuses("crtimes"));
    }

    #[test]
    fn table() {
        let t: &[(&str, &[&str])] = &[
            ("compress", &["compress"]),
            ("z", &["compress"]),
            ("delete", &["delete"]),
            ("del", &["del", "delete-during"]),
            ("delete-during", &["del", "delete-during"]),
            (
                "delete-*",
                &[
                    "delete-before",
                    "delete-during",
                    "delete-delay",
                    "delete-after",
                    "delete-excluded",
                    "delete-missing-args",
                ],
            ),
            ("no-v", &["no-verbose", "no-v"]),
            ("v", &["verbose"]),
            ("e", &["rsh"]),
            (
                "?",
                &[
                // every one-letter short name that is wild-able
            ],
            ),
            ("!copy-devices", &[]),
            ("checksum-seed", &["checksum-seed"]),
            ("checksum*", &["checksum", "checksum-choice"]),
            ("log-format", &["out-format", "log-format"]),
            ("out-format", &["out-format", "log-format"]),
            ("remove-*", &["remove-sent-files", "remove-source-files"]),
            ("partial progress", &["progress", "partial"]),
            ("* !partial", &[]),
        ];
        for &(list, want) in t {
            if list == "?" || list == "* !partial" {
                continue;
            }
            assert_eq!(refused(list), want, "refuse options = {list}");
        }
        // "?" refuses every short option except the exact-only ones.
        let set = RefuseSet::new("?", RefuseContext::default());
        assert!(set.refuses("v") && set.refuses("verbose") && set.refuses("D"));
        assert!(!set.refuses("e") && !set.refuses("n") && !set.refuses("s") && !set.refuses("0"));
        // "*" then "!partial": everything wild-able except --partial.
        let set = RefuseSet::new("* !partial", RefuseContext::default());
        assert!(set.refuses("recursive") && set.refuses("delete") && !set.refuses("partial"));
        assert!(!set.refuses("server") && !set.refuses("sender") && !set.refuses("dry-run"));
        assert!(set.refuses("copy-devices")); // exact-only: "*" cannot accept it either
                                              // Negation overrides the default refusal of write-devices.
        let set = RefuseSet::new("!write-devices", RefuseContext::default());
        assert!(!set.refuses("write-devices"));
        // log-file* and insecure-links are refused after the list.
        let set = RefuseSet::new("!log-file !insecure-links", RefuseContext::default());
        assert!(set.refuses("log-file") && set.refuses("insecure-links"));
    }

    #[test]
    fn archive_and_implications() {
        let set = RefuseSet::new("a", RefuseContext::default());
        for s in [
            "archive",
            "recursive",
            "dirs",
            "links",
            "perms",
            "times",
            "group",
            "owner",
            "D",
        ] {
            assert!(set.refuses(s), "{s}");
        }
        assert!(!set.refuses("no-recursive"));
        let set = RefuseSet::new("t", RefuseContext::default());
        assert_eq!(set.archive_part_refused().unwrap().long, "times");
        assert!(!set.refuses("archive"));
        let set = RefuseSet::new("compress", RefuseContext::default());
        assert_eq!(
            refuse_error(set.compress_refused().unwrap()),
            "The server is configured to refuse --compress (-z)"
        );
        assert!(!set.refuses("old-compress"));
        let set = RefuseSet::new("delete", RefuseContext::default());
        assert_eq!(
            refuse_error(set.delete_refused().unwrap()),
            "The server is configured to refuse --delete"
        );
        let set = RefuseSet::new("D", RefuseContext::default());
        assert_eq!(
            refuse_error(set.archive_part_refused().unwrap()),
            "The server is configured to refuse --(null) (-D)"
        );
        let set = RefuseSet::new("nonesuch !", RefuseContext::default());
        assert_eq!(
            set.log,
            [
                "No match for refuse-options string \"nonesuch\"",
                "No match for refuse-options string \"!\""
            ]
        );
        let p = refuse_predicate("partial", RefuseContext::default());
        assert!(p("partial") && !p("P") && !p("progress"));
    }
}
