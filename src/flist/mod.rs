//! The file list: entries, building (sender), sorting (both sides).
pub mod entry;
