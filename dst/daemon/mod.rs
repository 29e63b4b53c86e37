//! The rsync daemon, both ends: rsyncd.conf, host access lists, refused
//! options and authentication (leaf parts without I/O), the client of a
//! daemon connection, and `--daemon` itself.

pub mod access;
pub mod auth;
pub mod client;
pub mod config;
pub mod operand;
pub mod refuse;
pub mod wildmatch;
pub mod lock;
pub mod log;
pub mod server;
