//! Transfer statistics (upstream: struct stats in rsync.h, main.c output_summary()).

use super::numbers::{bytes_per_sec, comma_dnum, comma_num, human_num};

/// Counters kept during a run. Names follow upstream's `struct stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub total_size: i64,
    pub total_transferred_size: i64,
    pub total_written: i64,
    pub total_read: i64,
    pub literal_data: i64,
    pub matched_data: i64,
    pub flist_buildtime_ms: i64,
    pub flist_xfertime_ms: i64,
    pub flist_size: i64,
    pub num_files: i64,
    pub num_dirs: i64,
    pub num_symlinks: i64,
    pub num_devices: i64,
    pub num_specials: i64,
    pub created_files: i64,
    pub created_dirs: i64,
    pub created_symlinks: i64,
    pub created_devices: i64,
    pub created_specials: i64,
    pub deleted_files: i64,
    pub deleted_dirs: i64,
    pub deleted_symlinks: i64,
    pub deleted_devices: i64,
    pub deleted_specials: i64,
    pub xferred_files: i64,
}

/// "PREFIX: TOTAL (reg: N, dir: N, ...)" with zero kinds left out (main.c
/// output_itemized_counts()). `counts` is [total, dirs, links, devs,
/// specials]; the regular-file count is what the total leaves over.
fn itemized_counts(out: &mut String, prefix: &str, counts: [i64; 5], human: u8) {
    let [total, dirs, links, devs, specials] = counts;
    out.push_str(prefix);
    out.push_str(": ");
    out.push_str(&comma_num(total, human));
    if total != 0 {
        let reg = total - (dirs + links + devs + specials);
        let kinds = [
            ("reg", reg),
            ("dir", dirs),
            ("link", links),
            ("dev", devs),
            ("special", specials),
        ];
        let mut pre = " (";
        for (label, n) in kinds {
            if n != 0 {
                out.push_str(pre);
                out.push_str(label);
                out.push_str(": ");
                out.push_str(&comma_num(n, human));
                pre = ", ";
            }
        }
        out.push(')');
    }
    out.push('\n');
}

/// The `--stats` block (main.c output_summary(), stats level 2), starting
/// with its leading empty line. `num_files`, `created_files` and
/// `deleted_files` are totals over all kinds, as upstream keeps them.
/// `stats.total_written`/`total_read` are the byte counts as seen by the
/// process that prints (the client).
pub fn format_stats(stats: &Stats, human: u8, protocol: u32) -> String {
    let mut out = String::from("\n");
    let s = stats;
    itemized_counts(
        &mut out,
        "Number of files",
        [
            s.num_files,
            s.num_dirs,
            s.num_symlinks,
            s.num_devices,
            s.num_specials,
        ],
        human,
    );
    if protocol >= 29 {
        itemized_counts(
            &mut out,
            "Number of created files",
            [
                s.created_files,
                s.created_dirs,
                s.created_symlinks,
                s.created_devices,
                s.created_specials,
            ],
            human,
        );
    }
    if protocol >= 31 {
        itemized_counts(
            &mut out,
            "Number of deleted files",
            [
                s.deleted_files,
                s.deleted_dirs,
                s.deleted_symlinks,
                s.deleted_devices,
                s.deleted_specials,
            ],
            human,
        );
    }
    let h = |n: i64| human_num(n, human);
    out += &format!(
        "Number of regular files transferred: {}\n",
        comma_num(s.xferred_files, human)
    );
    out += &format!("Total file size: {} bytes\n", h(s.total_size));
    out += &format!(
        "Total transferred file size: {} bytes\n",
        h(s.total_transferred_size)
    );
    out += &format!("Literal data: {} bytes\n", h(s.literal_data));
    out += &format!("Matched data: {} bytes\n", h(s.matched_data));
    out += &format!("File list size: {}\n", h(s.flist_size));
    // Both time lines appear only when a build time was measured (a zero
    // build time, e.g. from a pre-29 peer, hides the transfer time too).
    if s.flist_buildtime_ms != 0 {
        let secs = |ms: i64| comma_dnum(ms as f64 / 1000.0, human, 3);
        out += &format!(
            "File list generation time: {} seconds\n",
            secs(s.flist_buildtime_ms)
        );
        out += &format!(
            "File list transfer time: {} seconds\n",
            secs(s.flist_xfertime_ms)
        );
    }
    out += &format!("Total bytes sent: {}\n", h(s.total_written));
    out += &format!("Total bytes received: {}\n", h(s.total_read));
    out
}

/// The closing lines printed with `-v` or `--stats` (main.c output_summary(),
/// stats level 1), starting with their leading empty line:
///
/// ```text
///
/// sent N bytes  received N bytes  R bytes/sec
/// total size is N  speedup is S[ (DRY RUN)]
/// ```
///
/// `elapsed_secs` is the whole-second difference between the end and the
/// start time (upstream uses time_t values); `None` when either time is
/// unknown, which prints "UNKNOWN" as the rate. With nothing sent or
/// received the speedup is what upstream's C code produces for a division
/// by zero ("inf", "-nan", or their grouped forms).
pub fn format_summary(
    stats: &Stats,
    human: u8,
    elapsed_secs: Option<i64>,
    dry_run: bool,
) -> String {
    format_summary_ext(
        stats,
        human,
        elapsed_secs,
        if dry_run { " (DRY RUN)" } else { "" },
    )
}

/// Like [`format_summary`] with an explicit suffix: upstream prints
/// " (BATCH ONLY)" for `--only-write-batch`, " (DRY RUN)" for `-n`, else "".
pub fn format_summary_ext(
    stats: &Stats,
    human: u8,
    elapsed_secs: Option<i64>,
    suffix: &str,
) -> String {
    let total = stats.total_written + stats.total_read;
    let rate = match elapsed_secs {
        Some(secs) => bytes_per_sec(total, secs, human),
        None => "UNKNOWN".to_string(),
    };
    let speedup = if total != 0 {
        stats.total_size as f64 / total as f64
    } else if stats.total_size != 0 {
        stats.total_size.signum() as f64 * f64::INFINITY
    } else {
        // 0.0 / 0.0 on x86-64 is a NaN with the sign bit set.
        -f64::NAN
    };
    format!(
        "\nsent {} bytes  received {} bytes  {} bytes/sec\ntotal size is {}  speedup is {}{}\n",
        human_num(stats.total_written, human),
        human_num(stats.total_read, human),
        rate,
        human_num(stats.total_size, human),
        comma_dnum(speedup, human, 2),
        suffix
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counters of the "stats new" scenario of testsuite/report-goldens.sh.
    fn new_run() -> Stats {
        Stats {
            num_files: 8,
            num_dirs: 2,
            num_symlinks: 1,
            num_specials: 1,
            created_files: 8,
            created_dirs: 2,
            created_symlinks: 1,
            created_specials: 1,
            xferred_files: 3,
            total_size: 1_238_696,
            total_transferred_size: 1_238_679,
            literal_data: 1_238_679,
            flist_buildtime_ms: 1,
            total_written: 1_239_300,
            total_read: 106,
            ..Stats::default()
        }
    }

    // Expected text recorded from rsync 3.5.0 (report-goldens.sh "stats new",
    // "stats new -h", "stats new -hh", "stats new --no-h").
    const NEW_STATS: &str = "
Number of files: 8 (reg: 4, dir: 2, link: 1, special: 1)
Number of created files: 8 (reg: 4, dir: 2, link: 1, special: 1)
Number of deleted files: 0
Number of regular files transferred: 3
Total file size: 1,238,696 bytes
Total transferred file size: 1,238,679 bytes
Literal data: 1,238,679 bytes
Matched data: 0 bytes
File list size: 0
File list generation time: 0.001 seconds
File list transfer time: 0.000 seconds
Total bytes sent: 1,239,300
Total bytes received: 106
";

    #[test]
    fn stats_block() {
        assert_eq!(format_stats(&new_run(), 1, 32), NEW_STATS);
        let h = format_stats(&new_run(), 2, 32);
        assert!(h.contains("\nTotal file size: 1.24M bytes\n"), "{h}");
        assert!(
            h.contains("\nTotal bytes sent: 1.24M\nTotal bytes received: 106\n"),
            "{h}"
        );
        assert!(h.contains("\nNumber of files: 8 (reg: 4, dir: 2, link: 1, special: 1)\n"));
        let hh = format_stats(&new_run(), 3, 32);
        assert!(hh.contains("\nLiteral data: 1.18M bytes\n"), "{hh}");
        let plain = format_stats(&new_run(), 0, 32);
        assert!(
            plain.contains("\nTotal file size: 1238696 bytes\n"),
            "{plain}"
        );
    }

    #[test]
    fn stats_counts_and_protocols() {
        // report-goldens.sh "stats delete".
        let s = Stats {
            num_files: 8,
            num_dirs: 2,
            num_symlinks: 1,
            num_specials: 1,
            deleted_files: 3,
            deleted_dirs: 1,
            deleted_symlinks: 1,
            flist_buildtime_ms: 1,
            ..Stats::default()
        };
        let out = format_stats(&s, 1, 32);
        assert!(out.contains("\nNumber of created files: 0\n"), "{out}");
        assert!(out.contains("\nNumber of deleted files: 3 (reg: 1, dir: 1, link: 1)\n"));
        assert!(!format_stats(&s, 1, 30).contains("deleted"));
        assert!(!format_stats(&s, 1, 28).contains("created"));
        let no_time = Stats {
            flist_buildtime_ms: 0,
            flist_xfertime_ms: 5,
            ..s.clone()
        };
        assert!(
            !format_stats(&no_time, 1, 32).contains("File list generation"),
            "time lines hidden"
        );
        let big = Stats {
            num_files: 12_345,
            num_devices: 1_000,
            ..Stats::default()
        };
        assert!(format_stats(&big, 1, 32)
            .starts_with("\nNumber of files: 12,345 (reg: 11,345, dev: 1,000)\n"));
        // comma_num never uses units, even with -h.
        assert!(format_stats(&big, 2, 32).starts_with("\nNumber of files: 12,345 (reg"));
    }

    #[test]
    fn summary() {
        // report-goldens.sh "stats new" (same-second run, so 0.5s elapsed).
        assert_eq!(
            format_summary(&new_run(), 1, Some(0), false),
            "\nsent 1,239,300 bytes  received 106 bytes  2,478,812.00 bytes/sec\n\
             total size is 1,238,696  speedup is 1.00\n"
        );
        assert_eq!(
            format_summary(&new_run(), 2, Some(0), false),
            "\nsent 1.24M bytes  received 106 bytes  2.48M bytes/sec\n\
             total size is 1.24M  speedup is 1.00\n"
        );
        assert_eq!(
            format_summary(&new_run(), 3, Some(0), false),
            "\nsent 1.18M bytes  received 106 bytes  2.36M bytes/sec\n\
             total size is 1.18M  speedup is 1.00\n"
        );
        assert_eq!(
            format_summary(&new_run(), 0, Some(0), false),
            "\nsent 1239300 bytes  received 106 bytes  2478812.00 bytes/sec\n\
             total size is 1238696  speedup is 1.00\n"
        );
        // report-goldens.sh "dry-run stats".
        let dry = Stats {
            total_written: 202,
            total_read: 41,
            total_size: 1_238_696,
            ..Stats::default()
        };
        assert_eq!(
            format_summary(&dry, 1, Some(0), true),
            "\nsent 202 bytes  received 41 bytes  486.00 bytes/sec\n\
             total size is 1,238,696  speedup is 5,097.51 (DRY RUN)\n"
        );
        let dry_h = format_summary(&dry, 2, Some(0), true);
        // The speedup is only ever comma-grouped, never scaled to units.
        assert!(
            dry_h.ends_with("total size is 1.24M  speedup is 5,097.51 (DRY RUN)\n"),
            "{dry_h}"
        );
        assert!(format_summary(&dry, 1, None, false).contains("  UNKNOWN bytes/sec\n"));
        // report-goldens.sh "summary -h, nothing to do" (3,000,000-byte file;
        // the byte counts vary with the temp dir's name, these are one run's).
        let noop = Stats {
            total_written: 67,
            total_read: 12,
            total_size: 3_000_000,
            ..Stats::default()
        };
        assert_eq!(
            format_summary(&noop, 2, Some(0), false),
            "\nsent 67 bytes  received 12 bytes  158.00 bytes/sec\n\
             total size is 3.00M  speedup is 37,974.68\n"
        );
        let later = format_summary(&dry, 1, Some(2), false);
        assert!(later.contains("  97.20 bytes/sec\n"), "{later}");
    }

    #[test]
    fn summary_division_by_zero() {
        let zero = Stats {
            total_size: 5,
            ..Stats::default()
        };
        let s = format_summary(&zero, 0, Some(0), false);
        assert!(s.ends_with("speedup is inf\n"), "{s}");
        let s = format_summary(&zero, 1, Some(0), false);
        assert!(
            s.ends_with("speedup is -9,223,372,036,854,775,808nf\n"),
            "{s}"
        );
        let s = format_summary(&Stats::default(), 0, Some(0), false);
        assert!(s.ends_with("speedup is -nan\n"), "{s}");
        assert!(s.contains("  0.00 bytes/sec\n"), "{s}");
    }
}
