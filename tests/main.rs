//! gensync's integration suite: one test binary. The differential modules
//! compare the binary under test (gensync, or whatever `GENSYNC_UNDER_TEST`
//! names) against real rsync (`RSYNC_UPSTREAM` or `rsync` on PATH), which is
//! the only source of expected results.
//!
//! Run: `cargo test --test integration`. To validate the harness itself, run
//! it with `GENSYNC_UNDER_TEST=/usr/bin/rsync`: every test must pass then.

mod cli;
mod crash;
mod daemon_config;
mod daemon_interop;
mod daemon_rsync;
mod daemon_scenarios;
mod faults;
mod filters;
mod golden;
mod interop;
mod layering;
mod limits;
mod local_diff;
mod server_args;
mod tree;
mod util;
mod wildmatch;
