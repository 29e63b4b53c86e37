//! The argument list a client sends to the remote `--server` must be the one
//! rsync sends for the same command line (options.c server_options()). Both
//! clients run with a fake remote shell (compat/tools/argv-rsh) that records
//! its argv and exits, so nothing is transferred.
//!
//! One difference is normalised, and documented in
//! compat/known-differences.md: gensync has no iconv, so its capability
//! letters lack `s`.

use crate::util;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn argv_of(prog: &Path, opts: &[&str], operands: &[&str], dir: &Path, tag: &str) -> Vec<String> {
    let out = dir.join(format!("argv-{tag}.txt"));
    let _ = std::fs::remove_file(&out);
    let rsh: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/tools/argv-rsh");
    let status = Command::new(prog)
        .args(opts)
        .arg("-e")
        .arg(&rsh)
        .args(operands)
        .current_dir(dir)
        .env("ARGV_OUT", &out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("client runs");
    // The fake shell exits non-zero on purpose; only its record matters.
    let _ = status;
    std::fs::read_to_string(&out)
        .unwrap_or_else(|_| {
            panic!(
                "{} {opts:?}: the remote shell was not started",
                prog.display()
            )
        })
        .lines()
        .map(|l| {
            l.replace("iLsfxCIvu", "iLfxCIvu")
                .replace(".LsfxCIvu", ".LfxCIvu")
        })
        .collect()
}

#[test]
fn server_argv_matches_rsync() {
    let up = crate::upstream_or_skip!("server_argv_matches_rsync");
    let ours = util::under_test();
    let dir = tempfile::tempdir().unwrap();
    let cases: &[&[&str]] = &[
        &["-a"],
        &["-av"],
        &["-ai", "--delete"],
        &["-rlt", "--no-whole-file", "-B", "2048"],
        &["-a", "--checksum-seed=5", "--numeric-ids"],
        &["-ani", "--size-only"],
        &["-a", "-u", "--existing", "--ignore-existing"],
        &["-r", "--modify-window=2", "-c"],
        &["-a", "-x", "-O", "--mkpath"],
        &["-avv", "--stats"],
        &["-a", "--no-i-r"],
        &["--protocol=29", "-a"],
        &["--protocol=30", "-a", "--delete-after"],
        &["-d", "--delete"],
        &["-lptd"],
        &["--list-only"],
        &["-a", "--out-format=%n %b"],
        &["-a", "--checksum-choice=xxh64"],
    ];
    let mut failures = Vec::new();
    for opts in cases {
        for (dirn, operands) in [
            ("push", ["src/", "host:dst/"]),
            ("pull", ["host:src/", "dst/"]),
        ] {
            let want = argv_of(&up, opts, &operands, dir.path(), "rsync");
            let got = argv_of(&ours, opts, &operands, dir.path(), "ours");
            if want != got {
                failures.push(format!(
                    "{dirn} {opts:?}:\n  rsync: {want:?}\n  ours:  {got:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "server argv differs:\n{}",
        failures.join("\n")
    );
}
