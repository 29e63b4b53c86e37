//! Crash consistency: a local sync that rewrites many files (200 of them,
//! some of a few MiB, plus deletions) is killed with SIGKILL at seeded
//! random points spread over the run's duration. After each kill:
//!
//! - every destination name holds the complete old or the complete new
//!   version of its file (with `--inplace` a half-rewritten file is allowed:
//!   that is what writing in place means);
//! - anything else is a leftover of the receiver's own making: a temp file
//!   `.NAME.XXXXXX` beside its destination, or (`--delay-updates`) a
//!   complete new version waiting in `.~tmp~/`. A killed receiver runs no
//!   cleanup, so `--partial` and `--partial-dir` leave temp files too;
//! - a rerun exits 0 and leaves the destination identical to the source
//!   (`--delete` removes the temp leftovers; a partial dir is used up).
//!
//! A caught signal (SIGINT) is different: the receiver cleans up, and with
//! `--partial-dir` what arrived of the current file is moved into the
//! partial dir, where the rerun resumes from it.
//!
//! The kill points are drawn by a seeded generator, so a failure replays.
//! `GENSYNC_CRASH_POINTS` sets the total number of kill points over all
//! modes (default 25; 100 is the full check, well within a minute and a
//! half). With `GENSYNC_UNDER_TEST=/usr/bin/rsync` the same claims are
//! checked against rsync, which validates the test itself.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Relative path -> content.
type Tree = BTreeMap<String, Vec<u8>>;

/// The source (new versions) and the destination before the run (old).
struct Fixture {
    dir: tempfile::TempDir,
    old: Tree,
    new: Tree,
}

const FILES: usize = 200;

fn build(seed: u64) -> Fixture {
    let mut rng = Rng(seed);
    let dir = tempfile::Builder::new()
        .prefix("gensync-crash-")
        .tempdir()
        .unwrap();
    let mut old = Tree::new();
    let mut new = Tree::new();
    for i in 0..FILES {
        let name = format!("d{}/f{i:03}.dat", i % 10);
        // Every 40th file is large, so kills land inside a transfer too.
        let size = if i % 40 == 7 {
            3 << 20
        } else {
            2_000 + rng.below(60_000) as usize
        };
        let data = rng.bytes(size);
        let before = match i % 5 {
            0 => Some(data.clone()),
            1 => {
                let mut d = data.clone();
                let at = rng.below(size as u64) as usize;
                d[at] ^= 0xff;
                Some(d)
            }
            2 => Some(data[..size / 2].to_vec()),
            3 => None,
            _ => Some(rng.bytes(size / 3 + 1)),
        };
        if let Some(b) = before {
            old.insert(name.clone(), b);
        }
        new.insert(name, data);
    }
    for i in 0..20 {
        old.insert(format!("d{}/gone{i:02}.dat", i % 10), rng.bytes(5_000));
    }
    let write = |root: &Path, tree: &Tree, fresh: &Tree| {
        for (name, data) in tree {
            let p = root.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, data).unwrap();
            // Unchanged files keep the source's time, so they are skipped.
            let secs = if fresh.get(name) == Some(data) {
                1_300_000_000
            } else {
                1_200_000_000
            };
            let t = filetime::FileTime::from_unix_time(secs, 0);
            filetime::set_file_mtime(&p, t).unwrap();
        }
    };
    write(&dir.path().join("src"), &new, &new);
    write(&dir.path().join("old"), &old, &new);
    Fixture { dir, old, new }
}

/// The destination as it stood before the run.
fn reset(fx: &Fixture) -> PathBuf {
    let dst = fx.dir.path().join("dst");
    if dst.exists() {
        // A killed in-place run may have left read-only bits: force.
        util::sh("chmod", &["-R".as_ref(), "u+rwx".as_ref(), dst.as_os_str()]);
        fs::remove_dir_all(&dst).unwrap();
    }
    fs::create_dir(&dst).unwrap();
    util::copy_tree(&fx.dir.path().join("old"), &dst);
    dst
}

fn spawn(fx: &Fixture, args: &[&str]) -> std::process::Child {
    Command::new(util::under_test())
        .args(args)
        .args(["src/", "dst/"])
        .current_dir(fx.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: rsync's helper processes die with it.
        .process_group(0)
        .spawn()
        .expect("binary under test starts")
}

fn run_to_end(fx: &Fixture, args: &[&str]) -> (i32, String, Duration) {
    let t0 = Instant::now();
    let out = spawn(fx, args).wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t0.elapsed(),
    )
}

/// Every regular file under `root`, by relative path.
fn walk(root: &Path) -> Vec<(String, PathBuf)> {
    fn go(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                go(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                out.push((rel, p));
            }
        }
    }
    let mut v = Vec::new();
    go(root, root, &mut v);
    v.sort();
    v
}

/// `.NAME.XXXXXX`: a receiver's temp file for NAME.
fn temp_for(base: &str) -> Option<&str> {
    let rest = base.strip_prefix('.')?;
    let (name, suffix) = rest.rsplit_once('.')?;
    (suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric()) && !name.is_empty())
        .then_some(name)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Partial,
    PartialDir,
    Inplace,
    DelayUpdates,
}

impl Mode {
    fn args(self) -> &'static [&'static str] {
        match self {
            Mode::Plain => &["-a", "--delete"],
            Mode::Partial => &["-a", "--delete", "--partial"],
            Mode::PartialDir => &["-a", "--delete", "--partial-dir=.pd"],
            Mode::Inplace => &["-a", "--delete", "--inplace"],
            Mode::DelayUpdates => &["-a", "--delete", "--delay-updates"],
        }
    }
}

/// What is wrong with the destination after a kill (empty: nothing).
fn check_after_kill(fx: &Fixture, dst: &Path, mode: Mode) -> Vec<String> {
    let mut bad = Vec::new();
    for (rel, path) in walk(dst) {
        let (dir, base) = match rel.rsplit_once('/') {
            Some((d, b)) => (Some(d), b),
            None => (None, rel.as_str()),
        };
        let data = fs::read(&path).unwrap_or_default();
        // A partial dir's contents: the new version, complete (delayed),
        // or anything a later run may use as a basis (--partial-dir).
        if let Some(d) = dir {
            if let Some(parent) = d.strip_suffix("/.~tmp~").or((d == ".~tmp~").then_some("")) {
                let target = if parent.is_empty() {
                    base.to_string()
                } else {
                    format!("{parent}/{base}")
                };
                if mode == Mode::DelayUpdates && fx.new.get(&target) == Some(&data) {
                    continue;
                }
                if temp_for(base).is_some() && mode == Mode::DelayUpdates {
                    continue;
                }
                bad.push(format!("{rel}: unexpected content in .~tmp~"));
                continue;
            }
            if mode == Mode::PartialDir && (d.ends_with("/.pd") || d == ".pd") {
                continue;
            }
        }
        if let Some(name) = temp_for(base) {
            let target = match dir {
                Some(d) => format!("{d}/{name}"),
                None => name.to_string(),
            };
            if fx.new.contains_key(&target) {
                continue;
            }
        }
        let (old, new) = (fx.old.get(&rel), fx.new.get(&rel));
        if old.is_none() && new.is_none() {
            bad.push(format!(
                "{rel}: a name that is neither source nor destination"
            ));
            continue;
        }
        if mode == Mode::Inplace {
            continue;
        }
        if old != Some(&data) && new != Some(&data) {
            bad.push(format!(
                "{rel}: {} bytes, neither the old ({:?}) nor the new ({:?}) version",
                data.len(),
                old.map(Vec::len),
                new.map(Vec::len)
            ));
        }
    }
    bad
}

/// What differs between the destination and the source after a rerun.
fn check_identical(fx: &Fixture, dst: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let got = walk(dst);
    for (rel, path) in &got {
        match fx.new.get(rel) {
            None => bad.push(format!("{rel}: left over")),
            Some(want) => {
                if fs::read(path).ok().as_ref() != Some(want) {
                    bad.push(format!("{rel}: content differs from the source"));
                }
            }
        }
    }
    for rel in fx.new.keys() {
        if !got.iter().any(|(r, _)| r == rel) {
            bad.push(format!("{rel}: missing"));
        }
    }
    bad
}

fn total_points() -> usize {
    std::env::var("GENSYNC_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25)
}

fn crash_mode(name: &str, mode: Mode, seed: u64) {
    let points = (total_points() / 5).max(1);
    let fx = build(seed);
    let args = mode.args();
    // How long a whole run takes: the kill points are spread over it.
    reset(&fx);
    let (code, err, full) = run_to_end(&fx, args);
    assert_eq!(code, 0, "{name}: the uninterrupted run failed: {err}");
    let bad = check_identical(&fx, &fx.dir.path().join("dst"));
    assert!(bad.is_empty(), "{name}: uninterrupted run: {bad:?}");
    let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut failures = Vec::new();
    let mut killed_mid_run = 0;
    for k in 0..points {
        // One point in each equal slice of the run, at a random place in it.
        let at = full.mul_f64((k as f64 + rng.unit()) / points as f64);
        let dst = reset(&fx);
        let mut child = spawn(&fx, args);
        std::thread::sleep(at);
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed_mid_run += 1;
        }
        let bad = check_after_kill(&fx, &dst, mode);
        if !bad.is_empty() {
            failures.push(format!("kill at {at:?}: {}", bad.join("; ")));
        }
        let (code, err, _) = run_to_end(&fx, args);
        if code != 0 {
            failures.push(format!("kill at {at:?}: the rerun exited {code}: {err}"));
        }
        let bad = check_identical(&fx, &dst);
        if !bad.is_empty() {
            failures.push(format!(
                "kill at {at:?}: after the rerun: {}",
                bad.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{name} ({} {}; seed {seed}; a whole run takes {full:?}):\n{}",
        util::under_test().display(),
        args.join(" "),
        failures.join("\n")
    );
    // Sanity: the kills were not all after the end.
    assert!(
        killed_mid_run > 0 || points < 3,
        "{name}: no kill landed inside a run"
    );
}

#[test]
fn killed_plain_sync_leaves_old_or_new_files() {
    crash_mode("plain", Mode::Plain, 0x5eed_0001);
}

#[test]
fn killed_partial_sync_leaves_temp_files() {
    crash_mode("partial", Mode::Partial, 0x5eed_0002);
}

#[test]
fn killed_partial_dir_sync_resumes() {
    crash_mode("partial_dir", Mode::PartialDir, 0x5eed_0003);
}

#[test]
fn killed_inplace_sync_is_repaired_by_a_rerun() {
    crash_mode("inplace", Mode::Inplace, 0x5eed_0004);
}

#[test]
fn killed_delay_updates_sync_keeps_complete_files() {
    crash_mode("delay_updates", Mode::DelayUpdates, 0x5eed_0005);
}

/// SIGINT: the receiver's cleanup runs. With `--partial-dir` anything in
/// `.pd/` is a prefix of the new version (the local copy sends whole
/// files); the rerun resumes from it and finishes.
#[test]
fn interrupted_partial_dir_sync_keeps_prefixes_in_the_dir() {
    let seed = 0x5eed_0006;
    let fx = build(seed);
    let args: &[&str] = &["-a", "--delete", "--partial-dir=.pd"];
    reset(&fx);
    let (code, err, full) = run_to_end(&fx, args);
    assert_eq!(code, 0, "the uninterrupted run failed: {err}");
    let mut rng = Rng(seed);
    let points = (total_points() / 5).max(1);
    let mut failures = Vec::new();
    for k in 0..points {
        let at = full.mul_f64((k as f64 + rng.unit()) / points as f64);
        let dst = reset(&fx);
        let mut child = spawn(&fx, args);
        std::thread::sleep(at);
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGINT);
        let _ = child.wait();
        for (rel, path) in walk(&dst) {
            let (dir, base) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
            let data = fs::read(&path).unwrap_or_default();
            if let Some(parent) = dir.strip_suffix("/.pd").or((dir == ".pd").then_some("")) {
                let target = if parent.is_empty() {
                    base.to_string()
                } else {
                    format!("{parent}/{base}")
                };
                match fx.new.get(&target) {
                    Some(n) if n.starts_with(&data) => {}
                    _ => failures.push(format!("at {at:?}: {rel} is no prefix of {target}")),
                }
                continue;
            }
            // rsync too leaves a temp file now and then: the signal can
            // land between a temp file's creation and the receiver
            // registering it for cleanup.
            if temp_for(base).is_some() {
                continue;
            }
            let (old, new) = (fx.old.get(&rel), fx.new.get(&rel));
            if old != Some(&data) && new != Some(&data) {
                failures.push(format!("at {at:?}: {rel} is neither old nor new"));
            }
        }
        let (code, err, _) = run_to_end(&fx, args);
        if code != 0 {
            failures.push(format!("at {at:?}: the rerun exited {code}: {err}"));
        }
        let bad = check_identical(&fx, &dst);
        if !bad.is_empty() {
            failures.push(format!("at {at:?}: after the rerun: {}", bad.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
