//! Faults on a remote-shell connection, each run with real rsync first (the
//! oracle) and then with the binary under test, on fresh copies of the same
//! fixture:
//!
//! - the remote shell or the remote command cannot run (exit 14, 127, 126,
//!   255) or prints garbage instead of speaking the protocol (exit 2);
//! - the remote side is killed, or its stream turns to garbage, part-way
//!   through a transfer (compat/tools/fault-rsh cuts the link after a given
//!   number of bytes).
//!
//! Exit codes must equal rsync's (up to rsync's own races, see
//! `equivalent`). For a shell or command that cannot run, the error lines
//! must equal rsync's too, once the byte count in "(N bytes received so
//! far)" is hidden. For a link cut mid-transfer the words are not compared:
//! where the stream breaks depends on how each server framed its output.
//! Destination files must be either the complete old or the complete new
//! version, and a receiving client leaves no temporary files.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::tree;
use crate::util::{self, Norm, Output, RunOpts};

const LSH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/compat/tools/lsh");
const FAULT_RSH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/compat/tools/fault-rsh");

/// Four 600 KiB files in `src` and older, different versions in `dst`.
fn fixture(root: &Path) {
    let mut rng = tree::Rng::new(17);
    for d in ["src", "dst"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    for i in 0..4 {
        let name = format!("f{i}");
        fs::write(root.join("src").join(&name), rng.content(600 << 10)).unwrap();
        fs::write(root.join("dst").join(&name), rng.content(600 << 10)).unwrap();
        let old = filetime::FileTime::from_unix_time(1_500_000_000, 0);
        filetime::set_file_mtime(root.join("dst").join(&name), old).unwrap();
    }
}

fn copy_of(base: &Path, label: &str) -> PathBuf {
    let root = base.join(label);
    fs::create_dir_all(&root).unwrap();
    fixture(&root);
    root
}

fn run_in(prog: &Path, args: &[String], root: &Path, env: &[(&str, &str)]) -> Output {
    let opts = RunOpts {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..RunOpts::default()
    };
    util::run_with_timeout(prog, args, root, &opts, Duration::from_secs(60))
}

/// The client's own lines: its program name, normalised, with the byte
/// count of a closed connection hidden.
fn client_lines(stderr: &str, root: &Path) -> Vec<String> {
    let norm = Norm {
        roots: vec![root.to_string_lossy().into_owned()],
        mask_totals: false,
    };
    util::normalize(stderr, &norm)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(" (") {
            Some((head, tail)) if tail.contains("bytes received so far") => {
                let who = tail.rsplit_once(' ').map(|(_, w)| w).unwrap_or("");
                format!("{head} (N bytes received so far) {who}")
            }
            _ => l.to_string(),
        })
        .collect()
}

/// rsync's own races, which the comparison must not mistake for bugs:
/// - it takes the remote shell's exit status only if the shell has already
///   exited when it looks (WNOHANG), so a dead remote command is reported
///   as 12 or as the command's status (127, 126, 255) from run to run;
/// - a write to a peer that already quit fails with EPIPE ("safe_write
///   failed ... Broken pipe" early, "write error: Broken pipe" with code 10
///   later) or a read sees the EOF first ("connection unexpectedly closed",
///   code 12).
///
/// `equivalent` accepts exactly these variations.
fn equivalent(
    exp: &(i32, Vec<String>),
    act: &(i32, Vec<String>),
    remote_status: Option<i32>,
) -> bool {
    let canon = |lines: &[String]| -> Vec<String> {
        lines
            .iter()
            .map(|l| {
                if (l.contains("safe_write failed to write") || l.contains("write error"))
                    && l.contains("Broken pipe")
                {
                    let who = l.split_once("] ").map(|(w, _)| w).unwrap_or("");
                    let who = who.rsplit_once('[').map(|(_, w)| w).unwrap_or("");
                    format!(
                        "PROG: connection unexpectedly closed (N bytes received so far) [{who}]"
                    )
                } else {
                    l.clone()
                }
            })
            .collect()
    };
    let (e, a) = (canon(&exp.1), canon(&act.1));
    if exp.0 == act.0 {
        return e == a;
    }
    // The exit code differs only by the race above: every line but the
    // closing "(code N)" one must agree.
    let racy = |c: i32| c == 12 || c == 10 || Some(c) == remote_status;
    racy(exp.0)
        && racy(act.0)
        && e.len() == a.len()
        && e.iter()
            .zip(&a)
            .all(|(x, y)| x == y || (x.contains("(code ") && y.contains("(code ")))
}

/// Every destination file is the old or the new version, whole.
fn check_dest(root: &Path, allow_temps: bool) -> Vec<String> {
    let base = root.parent().unwrap().join("pristine");
    if !base.exists() {
        fs::create_dir_all(&base).unwrap();
        fixture(&base);
    }
    let mut bad = Vec::new();
    for entry in fs::read_dir(root.join("dst")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            if !allow_temps {
                bad.push(format!("temporary file left behind: {name}"));
            }
            continue;
        }
        let got = fs::read(entry.path()).unwrap();
        let old = fs::read(base.join("dst").join(&name)).unwrap();
        let new = fs::read(base.join("src").join(&name)).unwrap();
        if got != old && got != new {
            bad.push(format!("{name}: neither the old nor the new version"));
        }
    }
    bad
}

#[derive(Clone, Copy, Debug)]
enum Dir {
    Push,
    Pull,
}

fn operands(dir: Dir, root: &Path) -> Vec<String> {
    let r = root.display();
    match dir {
        Dir::Push => vec!["src/".into(), format!("localhost:{r}/dst/")],
        Dir::Pull => vec![format!("localhost:{r}/src/"), "dst/".into()],
    }
}

/// A shell or command that cannot run, for the client pushing and pulling.
#[test]
fn remote_shell_failures_match_rsync() {
    let up = crate::upstream_or_skip!("remote_shell_failures_match_rsync");
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let tools = base.path().join("tools");
    fs::create_dir_all(&tools).unwrap();
    let script = |name: &str, body: &str| {
        let p = tools.join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        let mut perm = fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        fs::set_permissions(&p, perm).unwrap();
        p.to_string_lossy().into_owned()
    };
    let exit255 = script("exit255", "exit 255");
    let garbage = script("garbage", "echo 'Welcome to the machine!'");
    let not_exec = tools.join("not-exec");
    fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    // (what, -e, --rsync-path or None for the program itself, the remote
    // command's exit status)
    let cases: Vec<(&str, String, Option<String>, Option<i32>)> = vec![
        // The forked child that failed to exec exits 14.
        ("shell missing", "/nonexistent/ssh".into(), None, Some(14)),
        (
            "command not found",
            LSH.into(),
            Some("/nonexistent/rsync".into()),
            Some(127),
        ),
        (
            "command not executable",
            LSH.into(),
            Some(not_exec.to_string_lossy().into_owned()),
            Some(126),
        ),
        ("shell exits 255", exit255, None, Some(255)),
        ("shell prints garbage", garbage, None, Some(0)),
    ];
    let mut failures = Vec::new();
    for (what, rsh, path, status) in &cases {
        for dir in [Dir::Push, Dir::Pull] {
            let mut results = Vec::new();
            for (label, prog) in [
                ("rsync", &up),
                ("test", &ut),
                ("rsync2", &up),
                ("rsync3", &up),
            ] {
                let root = copy_of(base.path(), &format!("{what}-{dir:?}-{label}"));
                let mut args: Vec<String> = vec!["-a".into(), "-e".into(), rsh.clone()];
                args.push(format!(
                    "--rsync-path={}",
                    path.clone().unwrap_or_else(|| prog.display().to_string())
                ));
                args.extend(operands(dir, &root));
                let out = run_in(prog, &args, &root, &[]);
                let bad = check_dest(&root, false);
                results.push((out.code, client_lines(&out.stderr, &root), bad));
            }
            // The oracle runs three times; matching any run passes.
            let act = &results[1];
            let key = |r: &(i32, Vec<String>, Vec<String>)| (r.0, r.1.clone());
            let matched = [0, 2, 3]
                .iter()
                .any(|&i| equivalent(&key(&results[i]), &key(act), *status));
            if !matched || !act.2.is_empty() {
                let exp = &results[0];
                failures.push(format!(
                    "{what} ({dir:?}): rsync exit {} {:?}\n  tested exit {} {:?} {:?}",
                    exp.0, exp.1, act.0, act.1, act.2
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The link dies (or turns to garbage) after N bytes from the server.
fn cut_link(name: &str, mode: &str, points: &[usize]) {
    let up = crate::upstream_or_skip!(name);
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for &n in points {
        for dir in [Dir::Push, Dir::Pull] {
            let fault = format!("{mode}:{n}");
            let mut results = Vec::new();
            for (label, prog) in [("rsync", &up), ("test", &ut)] {
                let root = copy_of(base.path(), &format!("{mode}{n}-{dir:?}-{label}"));
                let mut args: Vec<String> = vec![
                    "-a".into(),
                    "--no-whole-file".into(),
                    "-e".into(),
                    FAULT_RSH.into(),
                    format!("--rsync-path={}", prog.display()),
                ];
                args.extend(operands(dir, &root));
                let out = run_in(prog, &args, &root, &[("FAULT", &fault)]);
                // A server killed with SIGKILL cannot remove its temporary
                // file; only a receiving client must leave none.
                let bad = check_dest(&root, matches!(dir, Dir::Push));
                let mine: Vec<String> = client_lines(&out.stderr, &root)
                    .into_iter()
                    .filter(|l| {
                        let who = |w: &str| l.ends_with(&format!("[{w}]"));
                        // The server's own lines name its role; keep the
                        // client's (sender when pushing, the rest pulling).
                        match dir {
                            Dir::Push => !who("receiver") && !who("generator") && !who("Receiver"),
                            Dir::Pull => !who("sender"),
                        }
                    })
                    .collect();
                results.push((out.code, mine, bad));
            }
            // Where garbage is cut in depends on how each server framed its
            // output, so the words of the error differ; the exit code (with
            // the races of `equivalent`) and the destination must not.
            let (exp, act) = (&results[0], &results[1]);
            let codes = |r: &(i32, Vec<String>, Vec<String>)| (r.0, Vec::new());
            if !equivalent(&codes(exp), &codes(act), Some(255))
                || !act.2.is_empty()
                || !exp.2.is_empty()
            {
                failures.push(format!(
                    "{fault} ({dir:?}): rsync exit {} {:?} {:?}\n  tested exit {} {:?} {:?}",
                    exp.0, exp.1, exp.2, act.0, act.1, act.2
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn peer_killed_mid_transfer() {
    cut_link(
        "peer_killed_mid_transfer",
        "kill",
        &[2, 60, 5_000, 300_000, 1_200_000],
    );
}

#[test]
fn peer_sends_garbage_mid_transfer() {
    cut_link(
        "peer_sends_garbage_mid_transfer",
        "garbage",
        &[2, 60, 5_000, 300_000, 1_200_000],
    );
}

/// A remote shell that never answers: `--timeout` ends the run with 30 and
/// rsync's words, pushing and pulling.
#[test]
fn timeout_on_a_silent_peer_matches_rsync() {
    let up = crate::upstream_or_skip!("timeout_on_a_silent_peer_matches_rsync");
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let stall = base.path().join("stall");
    fs::write(&stall, "#!/bin/sh\nexec sleep 20\n").unwrap();
    let mut perm = fs::metadata(&stall).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    fs::set_permissions(&stall, perm).unwrap();
    let mut failures = Vec::new();
    // Both programs race a timer against a blocked read, so a loaded
    // machine can shift either one; a direction passes if one of three
    // attempts agrees, and a failure shows every attempt.
    for dir in [Dir::Push, Dir::Pull] {
        let mut attempts = Vec::new();
        for attempt in 0..3 {
            match timeout_attempt(&up, &ut, &stall, base.path(), dir, attempt) {
                Ok(()) => {
                    attempts.clear();
                    break;
                }
                Err(msg) => attempts.push(msg),
            }
        }
        failures.extend(attempts);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn timeout_attempt(
    up: &Path,
    ut: &Path,
    stall: &Path,
    base: &Path,
    dir: Dir,
    attempt: u32,
) -> Result<(), String> {
    {
        let mut results = Vec::new();
        for (label, prog) in [("rsync", up), ("test", ut)] {
            let root = copy_of(base, &format!("stall-{dir:?}-{label}-{attempt}"));
            let mut args: Vec<String> = vec![
                "-a".into(),
                "--timeout=1".into(),
                "-e".into(),
                stall.display().to_string(),
            ];
            args.extend(operands(dir, &root));
            let start = std::time::Instant::now();
            let out = run_in(prog, &args, &root, &[]);
            // The seconds counted depend on when the check ran (under load
            // either program may say 2 for --timeout=1).
            let lines: Vec<String> = client_lines(&out.stderr, &root)
                .into_iter()
                .map(|l| match l.split_once("io timeout after ") {
                    Some((head, _)) => format!("{head}io timeout after N seconds -- exiting"),
                    None => l,
                })
                .collect();
            results.push((out.code, lines, start.elapsed()));
        }
        let (exp, act) = (&results[0], &results[1]);
        if exp.0 != act.0 || exp.1 != act.1 || act.2 > Duration::from_secs(10) {
            return Err(format!(
                "{dir:?} #{attempt}: rsync {exp:?}\n  tested {act:?}"
            ));
        }
    }
    Ok(())
}
