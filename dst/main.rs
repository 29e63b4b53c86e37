//! The `gensync` binary: everything lives in the library; this only hands
//! argv to `cli::run` and turns the result into the process exit status.
fn main() {
    let code = gensync::cli::run(std::env::args_os().collect());
    std::process::exit(code.0);
}
