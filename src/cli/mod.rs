//! Command line: argv -> Options -> mode dispatch (upstream: options.c, main.c).
use crate::ExitCode;
use std::ffi::OsString;

pub fn run(_args: Vec<OsString>) -> ExitCode {
    ExitCode::OK
}
