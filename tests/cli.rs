//! Command-line behaviour outside of transfers: version/help banners, usage
//! errors and exit codes. Wherever rsync's behaviour is the contract, the
//! expectation comes from running rsync; branding checks are the exception.

use std::path::Path;

use crate::util::{self, Norm, Output, RunOpts};

fn run_in(prog: &Path, args: &[&str], cwd: &Path) -> Output {
    util::run(prog, args, cwd, &RunOpts::default())
}

/// The name the binary under test should call itself: "gensync" for the
/// real thing, "rsync" when the harness is pointed at rsync.
fn own_name() -> &'static str {
    if util::under_test_is_gensync() {
        "gensync"
    } else {
        "rsync"
    }
}

#[test]
fn version_banner() {
    let out = run_in(&util::under_test(), &["--version"], Path::new("/"));
    assert_eq!(out.code, 0, "--version failed: {out:?}");
    let first = out.stdout.lines().next().unwrap_or("");
    let expected_name = if util::under_test()
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains("gensync"))
    {
        "gensync"
    } else {
        own_name()
    };
    assert!(
        first.contains(expected_name),
        "--version first line lacks {expected_name:?}: {first:?}"
    );
    assert!(
        first.contains("protocol version 32"),
        "--version first line lacks the protocol version: {first:?}"
    );
}

#[test]
fn help_has_usage() {
    let out = run_in(&util::under_test(), &["--help"], Path::new("/"));
    assert_eq!(out.code, 0, "--help failed: {out:?}");
    // rsync prints its version banner first, then the usage synopsis.
    assert!(
        out.stdout.lines().any(|l| l.starts_with("Usage: ")),
        "--help has no Usage line:\n{}",
        out.stdout
    );
    assert!(
        out.stderr.is_empty(),
        "--help wrote to stderr: {}",
        out.stderr
    );
}

/// Compare a command-line-only invocation with rsync: exit code exactly,
/// stdout/stderr after normalisation.
fn cli_differential(name: &str, args: &[&str]) {
    let up = crate::upstream_or_skip!(name);
    let dir = tempfile::tempdir().unwrap();
    let exp = run_in(&up, args, dir.path());
    let act = run_in(&util::under_test(), args, dir.path());
    let norm = Norm {
        roots: vec![dir.path().to_string_lossy().into_owned()],
        mask_totals: false,
    };
    assert_eq!(
        exp.code, act.code,
        "{name}: exit code of {args:?}: rsync {exp:?}\nvs {act:?}"
    );
    let (es, as_) = (
        util::normalize(&exp.stderr, &norm),
        util::normalize(&act.stderr, &norm),
    );
    assert!(
        es == as_,
        "{name}: stderr of {args:?} differs:\n{}",
        util::text_diff(&es, &as_)
    );
    let (eo, ao) = (
        util::normalize(&exp.stdout, &norm),
        util::normalize(&act.stdout, &norm),
    );
    assert!(
        eo == ao,
        "{name}: stdout of {args:?} differs:\n{}",
        util::text_diff(&eo, &ao)
    );
}

#[test]
fn unknown_long_option() {
    cli_differential("unknown_long_option", &["--bogus-option", "a", "b"]);
}

#[test]
fn unknown_short_option() {
    cli_differential("unknown_short_option", &["-a", "-Y", "a", "b"]);
}

#[test]
fn invalid_block_size() {
    cli_differential("invalid_block_size", &["--block-size=abc", "a", "b"]);
}

#[test]
fn invalid_modify_window() {
    cli_differential("invalid_modify_window", &["--modify-window=x", "a", "b"]);
}

#[test]
fn unknown_checksum_choice() {
    cli_differential(
        "unknown_checksum_choice",
        &["--checksum-choice=bogus", "a", "b"],
    );
}

/// No arguments: usage on stderr, exit 1. The banner names the program, so
/// only the exit code, the empty stdout and the presence of the synopsis are
/// compared with rsync.
#[test]
fn no_arguments() {
    let up = crate::upstream_or_skip!("no_arguments");
    let dir = tempfile::tempdir().unwrap();
    let exp = run_in(&up, &[] as &[&str], dir.path());
    let act = run_in(&util::under_test(), &[] as &[&str], dir.path());
    assert_eq!(exp.code, act.code, "exit code: rsync {exp:?}\nvs {act:?}");
    assert_eq!(exp.stdout, act.stdout, "stdout");
    assert!(
        act.stderr.lines().any(|l| l.starts_with("Usage: ")),
        "no Usage line on stderr:\n{}",
        act.stderr
    );
}

/// Options gensync deliberately does not implement must be refused up
/// front (exit 1, a message naming the option) rather than half-honoured.
/// rsync accepts them, so this only runs against gensync itself.
#[test]
fn refused_option_is_named() {
    if !util::under_test_is_gensync() {
        eprintln!("SKIP: refused_option_is_named: binary under test is not gensync");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    let out = run_in(
        &util::under_test(),
        &["-a", "--fuzzy", "src/", "dst/"],
        dir.path(),
    );
    assert_eq!(out.code, 1, "--fuzzy: {out:?}");
    let first = out
        .stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(
        first.contains("--fuzzy"),
        "message does not name --fuzzy: {:?}",
        out.stderr
    );
    assert!(
        !dir.path().join("dst").exists(),
        "a refused run must not transfer"
    );
}

/// An interrupted transfer leaves no temporary file and no half-written
/// destination, and ends with rsync's code 20 (SIGINT). The same holds for
/// real rsync, which this test also accepts as the binary under test.
#[test]
fn interrupt_leaves_no_partial_files() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let mut f = std::fs::File::create(src.join("big")).unwrap();
    // Incompressible enough and large enough to still be copying at the signal.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..256 {
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        f.write_all(&block).unwrap();
    }
    drop(f);
    let mut child = std::process::Command::new(util::under_test())
        .args(["-a", "src/", "dst/"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the transfer has started writing, then interrupt it.
    let dst = dir.path().join("dst");
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(20) {
        let writing = std::fs::read_dir(&dst)
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".big"))
            })
            .unwrap_or(false);
        if writing {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let names: Vec<String> = std::fs::read_dir(&dst)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if status.code() == Some(0) {
        // Finished before the signal: then the copy must be complete.
        assert_eq!(std::fs::metadata(dst.join("big")).unwrap().len(), 256 << 20);
        return;
    }
    assert_eq!(status.code(), Some(20), "exit status after SIGINT");
    assert!(
        names.iter().all(|n| !n.starts_with(".big")),
        "temp file left: {names:?}"
    );
    if let Ok(m) = std::fs::metadata(dst.join("big")) {
        assert_eq!(
            m.len(),
            256 << 20,
            "a destination file must never be partial"
        );
    }
}

/// The shape of a `-VV` document: each line with its values replaced by
/// their kind (string, number, true/false) and array items dropped, so
/// that two programs with different capabilities compare equal when they
/// lay the document out alike. Member names are kept.
fn json_shape(doc: &str) -> Vec<String> {
    let mut shape = Vec::new();
    for line in doc.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if t.starts_with("\"") && !t.contains("\": ") {
            // A line of array items.
            shape.push(format!("{indent}:ITEMS"));
            continue;
        }
        let mut members = Vec::new();
        for m in t.split(", \"").filter(|m| !m.is_empty()) {
            let m = m.trim_start_matches('"');
            match m.split_once("\": ") {
                Some((k, v)) => {
                    let v = v.trim_end_matches(',');
                    let kind = match v {
                        "true" | "false" => "BOOL",
                        "{" | "[" => v,
                        _ if v.starts_with('"') => "STR",
                        _ if v.bytes().all(|b| b.is_ascii_digit()) => "NUM",
                        _ => "?",
                    };
                    members.push(format!("{k}={kind}"));
                }
                None => members.push(m.to_string()),
            }
        }
        shape.push(format!("{indent}:{}", members.join(",")));
    }
    shape
}

/// `-VV` prints rsync 3.5.0's JSON capability document with the program's
/// own values: same members in the same order, same wrapping rules.
#[test]
fn version_json_document() {
    let up = crate::upstream_or_skip!("version_json_document");
    let ut = util::under_test();
    let exp = run_in(&up, &["-VV"], Path::new("/"));
    let act = run_in(&ut, &["-VV"], Path::new("/"));
    assert_eq!(exp.code, 0);
    assert_eq!(act.code, 0, "{act:?}");
    assert!(
        act.stdout.starts_with("{\n  \"program\": \""),
        "{}",
        act.stdout
    );
    assert!(act.stdout.ends_with("\"\n}\n"), "{}", act.stdout);
    // Capabilities that only some builds of rsync list, and which values
    // (and so line wrapping) depend on: compare the members line-free.
    let members = |doc: &str| -> Vec<String> {
        json_shape(doc)
            .into_iter()
            .flat_map(|l| {
                let (_, rest) = l.split_once(':').unwrap();
                rest.split(',').map(str::to_string).collect::<Vec<_>>()
            })
            .filter(|m| !m.is_empty() && !m.starts_with("ACL_at="))
            .map(|m| m.split('=').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(members(&exp.stdout), members(&act.stdout));
    // Every line stays within rsync's 75-column buffer and is indented as
    // rsync indents it.
    for line in act.stdout.lines() {
        assert!(line.len() <= 78, "too long: {line:?}");
    }
    let indents = |doc: &str| -> Vec<usize> {
        let mut v: Vec<usize> = doc
            .lines()
            .map(|l| l.len() - l.trim_start().len())
            .collect();
        v.dedup();
        v
    };
    assert_eq!(indents(&exp.stdout), indents(&act.stdout));
    // -V -V is the same as -VV; a single -V is the text banner.
    let twice = run_in(&ut, &["-V", "-V"], Path::new("/"));
    assert_eq!(twice.stdout, act.stdout);
    let once = run_in(&ut, &["-V"], Path::new("/"));
    assert!(!once.stdout.starts_with('{'));
}
