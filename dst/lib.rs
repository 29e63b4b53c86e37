//! gensync: a drop-in, wire-compatible replacement for rsync.
//!
//! Module map (upstream counterpart in brackets):
//! - `cli`     argv -> `Options`, mode dispatch            [options.c, main.c]
//! - `options` the validated configuration of one run
//! - `wire`    bytes <-> typed protocol values              [io.c, compat.c, flist.c codec parts]
//! - `session` transports and the protocol handshake        [main.c, compat.c, pipe.c]
//! - `roles`   sender, generator, receiver as threads        [sender.c, generator.c, receiver.c]
//! - `flist`   building, sorting and holding the file list  [flist.c]
//! - `delta`   rolling checksum, signatures, matcher         [checksum.c, match.c]
//! - `checksum` strong digests and seeding                  [checksum.c, lib/mdfour.c]
//! - `fsops`   metadata, temp files, deletion               [rsync.c, syscall.c, delete.c]
//! - `report`  everything a user sees                       [log.c, progress.c, main.c]
//!
//! Data flow: cli -> Options -> session (transport + handshake) -> roles,
//! which talk through `wire` and emit output through `report`.
#![forbid(unsafe_code)]

pub mod checksum;
pub mod cli;
pub mod daemon;
pub mod delta;
pub mod error;
pub mod filter;
pub mod flist;
pub mod fsops;
pub mod options;
pub mod report;
pub mod roles;
pub mod session;
pub mod wire;

pub use error::{Error, ExitCode, Result};
