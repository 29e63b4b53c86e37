//! Transfer statistics (upstream: struct stats in rsync.h, main.c output_summary()).

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

/// Interim: the `--stats` block (replaced by the full formatter).
pub fn format_stats(s: &Stats, _human: u8, protocol: u32) -> String {
    let mut o = String::new();
    o.push_str(&format!("\nNumber of files: {}\n", s.num_files));
    if protocol >= 29 {
        o.push_str(&format!("Number of created files: {}\n", s.created_files));
    }
    if protocol >= 31 {
        o.push_str(&format!("Number of deleted files: {}\n", s.deleted_files));
    }
    o.push_str(&format!(
        "Number of regular files transferred: {}\n",
        s.xferred_files
    ));
    o.push_str(&format!("Total file size: {} bytes\n", s.total_size));
    o.push_str(&format!(
        "Total transferred file size: {} bytes\n",
        s.total_transferred_size
    ));
    o.push_str(&format!(
        "Literal data: {} bytes\nMatched data: {} bytes\n",
        s.literal_data, s.matched_data
    ));
    o.push_str(&format!("File list size: {}\n", s.flist_size));
    o.push_str(&format!(
        "Total bytes sent: {}\nTotal bytes received: {}\n",
        s.total_written, s.total_read
    ));
    o
}

/// Interim: the closing `sent ... received ...` lines.
pub fn format_summary(s: &Stats, _human: u8, elapsed_secs: f64, dry_run: bool) -> String {
    let rate = (s.total_written + s.total_read) as f64 / elapsed_secs.max(0.001);
    let speedup = if s.total_written + s.total_read > 0 {
        s.total_size as f64 / (s.total_written + s.total_read) as f64
    } else {
        0.0
    };
    format!(
        "\nsent {} bytes  received {} bytes  {:.2} bytes/sec\ntotal size is {}  speedup is {:.2}{}\n",
        s.total_written,
        s.total_read,
        rate,
        s.total_size,
        speedup,
        if dry_run { " (DRY RUN)" } else { "" }
    )
}
