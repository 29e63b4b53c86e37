//! The argument list a client sends to the remote `--server` must be the one
//! rsync sends for the same command line (options.c server_options(), main.c
//! do_cmd(), and with `-s` rsync.c send_protected_args()). Clients run with a
//! fake remote shell (compat/tools/argv-rsh) that records its argv, and the
//! secluded words it reads from stdin, and exits, so nothing is transferred.
//!
//! The cases are compat/server-args/cases.txt. Two tests use them: one
//! against the goldens recorded from real rsync in compat/server-args/ (no
//! rsync needed), one against a live rsync.
//!
//! One difference is normalised, and documented in
//! compat/known-differences.md: gensync has no iconv, so its capability
//! letters lack `s`.

use crate::util;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/server-args")
}

/// What a client handed its remote shell: argv lines and secluded lines.
#[derive(Debug, PartialEq, Eq)]
struct Record {
    argv: Vec<String>,
    secluded: Vec<String>,
}

fn normalise(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.replace("iLsfxCIvu", "iLfxCIvu")
                .replace(".LsfxCIvu", ".LfxCIvu")
        })
        .collect()
}

fn record_of(prog: &Path, words: &[String], dir: &Path, tag: &str) -> Record {
    let out = dir.join(format!("argv-{tag}.txt"));
    let sin = dir.join(format!("stdin-{tag}.txt"));
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&sin);
    let rsh = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/tools/argv-rsh");
    // The fake shell exits non-zero on purpose; only its record matters.
    let _ = Command::new(prog)
        .arg("-e")
        .arg(&rsh)
        .args(words)
        .current_dir(dir)
        .env("ARGV_OUT", &out)
        .env("ARGV_STDIN_OUT", &sin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("client runs");
    let argv = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        panic!(
            "{} {words:?}: the remote shell was not started",
            prog.display()
        )
    });
    Record {
        argv: normalise(&argv),
        secluded: normalise(&std::fs::read_to_string(&sin).unwrap_or_default()),
    }
}

/// Split a case line the way the recording script does (bash arrays).
fn shell_words(text: &str) -> Vec<String> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!("a=({text}); printf '%s\\0' \"${{a[@]}}\""))
        .output()
        .expect("bash runs");
    String::from_utf8(out.stdout)
        .unwrap()
        .split('\0')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// (id-direction, full client words) for every recorded run.
fn cases() -> Vec<(String, Vec<String>)> {
    let text = std::fs::read_to_string(compat_dir().join("cases.txt")).unwrap();
    let mut all = Vec::new();
    let mut n = 0;
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        n += 1;
        if let Some((opts, ops)) = line.split_once(" -- ") {
            let mut w = shell_words(opts);
            w.extend(shell_words(ops));
            all.push((format!("{n:03}-own"), w));
        } else {
            for (dirn, ops) in [
                ("push", ["src/", "host:dst/"]),
                ("pull", ["host:src/", "dst/"]),
            ] {
                let mut w = shell_words(line);
                w.extend(ops.iter().map(|s| s.to_string()));
                all.push((format!("{n:03}-{dirn}"), w));
            }
        }
    }
    assert!(all.len() > 40, "cases.txt lost its cases");
    all
}

/// Compare the binary under test with `expected` for every case.
fn check_all(what: &str, mut expected: impl FnMut(&str, &[String], &Path) -> Record) {
    let ours = util::under_test();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (id, words) in cases() {
        let want = expected(&id, &words, dir.path());
        let got = record_of(&ours, &words, dir.path(), "ours");
        if want != got {
            failures.push(format!(
                "{id} {words:?}:\n  rsync: {want:?}\n  ours:  {got:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "server argv differs from {what}:\n{}",
        failures.join("\n")
    );
}

#[test]
fn server_argv_matches_recorded_goldens() {
    check_all("the goldens", |id, _, _| {
        let argv = std::fs::read_to_string(compat_dir().join(format!("{id}.argv")))
            .unwrap_or_else(|_| panic!("golden {id}.argv missing: run record-server-args.sh"));
        let secluded =
            std::fs::read_to_string(compat_dir().join(format!("{id}.stdin"))).unwrap_or_default();
        Record {
            argv: normalise(&argv),
            secluded: normalise(&secluded),
        }
    });
}

#[test]
fn server_argv_matches_live_rsync() {
    let up = crate::upstream_or_skip!("server_argv_matches_live_rsync");
    check_all("live rsync", |_, words, dir| {
        record_of(&up, words, dir, "rsync")
    });
}
