//! What each role prints and when (upstream: options.c info levels and
//! stdout_format setup, log.c log_item(), log_delete(), sender.c
//! maybe_log_item()). The formatting itself is in `report`.

use crate::flist::entry::FileEntry;
use crate::options::Options;
use crate::report::{LogCode, Logger};
use crate::wire::item;

/// Output configuration derived once from the options.
#[derive(Debug, Clone, Default)]
pub struct OutputCfg {
    /// Format for per-item lines (`%i %n%L`, `%n%L`, or `--out-format`).
    pub stdout_format: Option<String>,
    /// stdout_format_has_i (0, 1, 2).
    pub has_i: u8,
    pub has_o_or_i: bool,
    pub log_before_transfer: bool,
    pub info_name: u8,
    pub info_flist: u8,
    pub info_stats: u8,
    pub info_del: u8,
    pub info_misc: u8,
    pub info_skip: u8,
    pub info_nonreg: u8,
    pub info_progress: u8,
    /// --debug=flist / deltasum levels that -vv turns on.
    pub debug_flist: u8,
    pub debug_deltasum: u8,
    pub am_server: bool,
    pub am_sender: bool,
    /// Local copy: transfers always show '>' (log.c local_server).
    pub local_server: bool,
    /// The receiver can set symlink times (compat.c receiver_symlink_times);
    /// a sender learns it from CF_SYMLINK_TIMES, so below protocol 30 a
    /// symlink's time change shows as `T`.
    pub receiver_symlink_times: bool,
    pub preserve_times: bool,
    pub omit_dir_times: bool,
    pub human: u8,
}

fn has_escape(fmt: &str, c: char) -> bool {
    crate::report::out_format::log_format_has(fmt, c as u8)
}

impl OutputCfg {
    pub fn new(opts: &Options, am_server: bool, am_sender: bool) -> OutputCfg {
        let v = if opts.quiet { 0 } else { opts.verbose };
        let mut c = OutputCfg {
            am_server,
            am_sender,
            preserve_times: opts.times,
            omit_dir_times: opts.omit_dir_times,
            human: opts.human_readable,
            info_nonreg: if opts.quiet { 0 } else { 1 },
            receiver_symlink_times: true,
            ..OutputCfg::default()
        };
        if v >= 1 {
            c.info_name = 1;
            c.info_flist = 1;
            c.info_stats = 1;
            c.info_del = 1;
            c.info_misc = 1;
        }
        if v >= 2 {
            c.debug_flist = 1;
            c.debug_deltasum = 1;
            c.info_name = 2;
            c.info_misc = 2;
            c.info_skip = 1;
        }
        if opts.stats {
            c.info_stats = c.info_stats.max(if v > 1 { 3 } else { 2 });
        }
        if let Some(f) = &opts.out_format {
            c.stdout_format = Some(f.clone());
            if has_escape(f, 'i') {
                c.has_i = opts.itemize_changes | 1;
            }
            if !has_escape(f, 'b') && !has_escape(f, 'c') && !has_escape(f, 'C') {
                c.log_before_transfer = !am_server;
            }
        } else if opts.itemize_changes > 0 {
            c.stdout_format = Some("%i %n%L".to_string());
            c.has_i = opts.itemize_changes;
            c.log_before_transfer = !am_server;
        }
        if opts.progress && !am_server {
            if !c.log_before_transfer && c.info_name == 0 {
                c.info_name = 1;
            }
            c.info_flist = c.info_flist.max(2);
            c.info_progress = 1;
        }
        if c.info_name >= 1 && c.stdout_format.is_none() {
            c.stdout_format = Some("%n%L".to_string());
            c.log_before_transfer = !am_server;
        }
        if c.has_i > 0
            || c.stdout_format
                .as_deref()
                .is_some_and(|f| has_escape(f, 'o'))
        {
            c.has_o_or_i = true;
        }
        c
    }

    /// log.c log_item(): one line for an item on the client.
    pub fn log_item(&self, log: &Logger, file: &FileEntry, iflags: u32, hlink: Option<&[u8]>) {
        self.log_item_bytes(log, file, iflags, hlink, 0);
    }

    /// log_item() with the protocol bytes this item cost (`%b`).
    pub fn log_item_bytes(
        &self,
        log: &Logger,
        file: &FileEntry,
        iflags: u32,
        hlink: Option<&[u8]>,
        bytes: i64,
    ) {
        if self.am_server {
            return;
        }
        if let Some(fmt) = &self.stdout_format {
            let op = if self.am_sender { "send" } else { "recv" };
            let line = crate::report::format_item(fmt, op, file, iflags, hlink, self, bytes);
            log.log_bytes(LogCode::Client, &line);
        }
    }

    /// sender.c / log.c maybe_log_item() for non-transfer items.
    pub fn maybe_log_item(&self, log: &Logger, file: &FileEntry, iflags: u32, xname: &[u8]) {
        let significant = iflags & item::SIGNIFICANT;
        let see_item = self.has_i > 0
            && (significant != 0 || !xname.is_empty() || self.has_i > 1 || self.info_name >= 2);
        let local_change = iflags & item::LOCAL_CHANGE != 0 && significant != 0;
        if self.am_server {
            return;
        }
        if see_item || local_change || !xname.is_empty() || (file.is_dir() && significant != 0) {
            let h = if xname.is_empty() { None } else { Some(xname) };
            self.log_item(log, file, iflags, h);
        }
    }

    /// log.c log_delete() on the side that prints.
    pub fn log_delete(&self, log: &Logger, name: &[u8], mode: u32) {
        if self.info_del == 0 && self.stdout_format.is_none() {
            return;
        }
        let fmt = if self.has_o_or_i {
            self.stdout_format.clone().unwrap_or_default()
        } else {
            "deleting %n".to_string()
        };
        let file = FileEntry {
            name: name.to_vec(),
            mode,
            ..FileEntry::default()
        };
        let line = crate::report::format_item(&fmt, "del.", &file, item::DELETED, None, self, 0);
        log.log_bytes(LogCode::Client, &line);
    }
}

/// `--progress` for one file on the client (upstream: progress.c
/// show_progress(), end_progress()).
pub struct FileProgress {
    start: std::time::Instant,
    last: std::time::Instant,
    last_ofs: i64,
    size: i64,
    human: u8,
}

impl FileProgress {
    pub fn new(size: i64, human: u8) -> Self {
        let now = std::time::Instant::now();
        FileProgress {
            start: now,
            last: now,
            last_ofs: 0,
            size,
            human,
        }
    }

    /// An interim `\r` line, at most once a second.
    pub fn update(&mut self, log: &Logger, ofs: i64) {
        let now = std::time::Instant::now();
        if now.duration_since(self.last).as_millis() < 1000 {
            return;
        }
        let p = crate::report::progress::ProgressInput {
            ofs,
            size: self.size,
            delta_bytes: ofs - self.last_ofs,
            diff_ms: now.duration_since(self.last).as_millis() as u64,
            human: self.human,
            end: None,
        };
        self.last = now;
        self.last_ofs = ofs;
        log.log(
            LogCode::Client,
            &crate::report::progress::format_progress(&p),
        );
    }

    /// The closing line with `(xfr#N, to-chk=R/T)`.
    pub fn finish(&self, log: &Logger, xfr: i64, remaining: i64, total: i64, flist_eof: bool) {
        let p = crate::report::progress::ProgressInput {
            ofs: self.size,
            size: self.size,
            delta_bytes: self.size,
            diff_ms: self.start.elapsed().as_millis() as u64,
            human: self.human,
            end: Some(crate::report::progress::ProgressEnd {
                xfr,
                remaining,
                total,
                flist_eof,
            }),
        };
        log.log(
            LogCode::Client,
            &crate::report::progress::format_progress(&p),
        );
    }
}
