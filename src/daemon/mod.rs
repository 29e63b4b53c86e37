//! The daemon's leaf parts: rsyncd.conf, host access lists, refused
//! options, and authentication. None of these do network I/O; the listener
//! and module setup (clientserver.c) build on them.

pub mod access;
pub mod auth;
pub mod config;
pub mod refuse;
pub mod wildmatch;
