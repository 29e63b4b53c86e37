//! Everything a user or a log file sees (upstream: log.c, progress.c, main.c).
pub mod stats;
