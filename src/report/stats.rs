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
