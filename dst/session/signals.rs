//! Signals: SIGINT, SIGTERM and SIGHUP remove live temporary files and end
//! the run with code 20 (upstream: main.c sig_int(), cleanup.c).
//!
//! The signals are blocked in every thread and taken synchronously by one
//! watcher thread, so no handler runs in async-signal context.

use crate::error::ExitCode;
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};

/// The name messages use; set once at startup.
static PROG: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The name messages use.
pub fn prog() -> String {
    PROG.get().cloned().unwrap_or_else(|| "gensync".to_string())
}

pub fn install_for(prog: &str) {
    let _ = PROG.set(prog.to_string());
    install();
}

pub fn install() {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    if pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).is_err() {
        return;
    }
    std::thread::spawn(move || {
        if set.wait().is_ok() {
            super::liveness::claim_exit();
            crate::fsops::tempfile::cleanup_all();
            super::liveness::kill_children();
            let prog = PROG.get().map(String::as_str).unwrap_or("gensync");
            eprint!(
                "{}",
                crate::report::messages::exit_line(
                    prog,
                    ExitCode::SIGNAL,
                    crate::report::messages::Who::Client
                )
            );
            std::process::exit(ExitCode::SIGNAL.0);
        }
    });
}
