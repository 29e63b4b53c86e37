//! Shared plumbing: locating the two binaries, running them with captured
//! output and a timeout, and normalising their output so that only the
//! differences that matter to users survive a comparison.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A single run must never hang the whole suite: a deadlocked transfer is a
/// failure of its own test, reported with whatever output it produced.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// The binary under test: `GENSYNC_UNDER_TEST` lets the harness be checked
/// against real rsync (every test must then pass), otherwise the gensync
/// binary cargo built for this test run.
pub fn under_test() -> PathBuf {
    match std::env::var_os("GENSYNC_UNDER_TEST") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_gensync")),
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|cand| is_executable(cand))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The oracle: `RSYNC_UPSTREAM` or `rsync` on PATH. Returns `None` after
/// printing a loud SKIP line when it is missing, unless `REQUIRE_UPSTREAM=1`
/// makes a missing oracle a hard failure (CI sets it so that a broken install
/// cannot turn the whole suite green by skipping).
pub fn upstream(test: &str) -> Option<PathBuf> {
    let found = match std::env::var_os("RSYNC_UPSTREAM") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)).filter(|p| is_executable(p)),
        _ => find_on_path("rsync"),
    };
    if found.is_none() {
        let required = std::env::var("REQUIRE_UPSTREAM").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{test}: real rsync not found (RSYNC_UPSTREAM / PATH) and REQUIRE_UPSTREAM=1"
        );
        eprintln!("SKIP: real rsync not found (set RSYNC_UPSTREAM or put rsync on PATH): {test}");
    }
    found
}

/// Early-return from a test when the oracle is missing.
#[macro_export]
macro_rules! upstream_or_skip {
    ($name:expr) => {
        match $crate::util::upstream($name) {
            Some(p) => p,
            None => return,
        }
    };
}

/// Whether the binary under test is real rsync rather than gensync; tests of
/// gensync-only behaviour (refused options, branding) are skipped then.
pub fn under_test_is_gensync() -> bool {
    let out = run(
        &under_test(),
        &["--version"],
        Path::new("/"),
        &RunOpts::default(),
    );
    out.stdout.contains("gensync")
}

#[derive(Debug, Clone)]
pub struct Output {
    /// Exit status; a death by signal is reported as 128 + signal, and a
    /// timeout as -1, so both can be compared like ordinary codes.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug, Default, Clone)]
pub struct RunOpts {
    /// Run as this uid/gid (needs root); used to make permission errors
    /// reproducible on a CI that runs as root.
    pub as_user: Option<(u32, u32)>,
    /// Extra environment variables for the child.
    pub env: Vec<(String, String)>,
}

/// Run `prog args...` in `cwd`, capturing everything. Output is decoded
/// lossily: names in the trees are mostly UTF-8 and rsync escapes the rest.
pub fn run<S: AsRef<OsStr>>(prog: &Path, args: &[S], cwd: &Path, opts: &RunOpts) -> Output {
    run_with_timeout(prog, args, cwd, opts, RUN_TIMEOUT)
}

/// `run` with a caller-chosen timeout: suites with many short runs use a
/// tighter one so that a hang costs seconds, not minutes, per cell.
pub fn run_with_timeout<S: AsRef<OsStr>>(
    prog: &Path,
    args: &[S],
    cwd: &Path,
    opts: &RunOpts,
    timeout: Duration,
) -> Output {
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Both binaries must see the same environment; rsync reads a few RSYNC_*
    // variables (and gensync mirrors them), so drop any inherited ones, and
    // pin the locale because it decides how non-ASCII names are escaped.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("RSYNC_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("LC_ALL", "C");
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    if let Some((uid, gid)) = opts.as_user {
        cmd.uid(uid).gid(gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot spawn {}: {e}", prog.display()),
    };
    // Drain both pipes on threads so a chatty child cannot block on a full
    // pipe while we wait for it.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = so.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = se.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let code = loop {
        match child.try_wait().expect("wait failed") {
            Some(st) => {
                use std::os::unix::process::ExitStatusExt;
                break st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0));
            }
            None if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break -1;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let stdout = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    Output {
        code,
        stdout,
        stderr,
    }
}

/// Run an auxiliary system command (cp, chown...) and panic if it fails:
/// these only build fixtures, so a failure is a harness problem.
pub fn sh(prog: &str, args: &[&OsStr]) {
    let st = Command::new(prog)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e}"));
    assert!(st.success(), "{prog} {args:?} failed: {st}");
}

/// Copy a fixture tree preserving everything rsync could look at (modes,
/// owners, nanosecond times, hard links, devices, FIFOs, sockets, symlinks).
pub fn copy_tree(from: &Path, to: &Path) {
    let mut src = OsString::from(from.as_os_str());
    src.push("/.");
    sh("cp", &[OsStr::new("-a"), &src, to.as_os_str()]);
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// What to hide from a comparison of two outputs.
#[derive(Debug, Clone, Default)]
pub struct Norm {
    /// Absolute directories that differ between the two runs (each run has
    /// its own copy of the scenario); occurrences become `<ROOT>`.
    pub roots: Vec<String>,
    /// Hide protocol byte counts (`sent N bytes received M bytes`,
    /// `Total bytes sent/received`, `File list size`). Off by default:
    /// gensync speaks the same protocol, so these must match exactly.
    pub mask_totals: bool,
}

const PROG_NAMES: &[&str] = &["rsync", "gensync"];

/// Normalise one program's output for comparison; see `Norm`. Line order is
/// kept: itemized output order is part of the contract.
pub fn normalize(text: &str, norm: &Norm) -> String {
    let mut roots: Vec<&String> = norm.roots.iter().collect();
    // Longest first, so a root that is a prefix of another cannot win.
    roots.sort_by_key(|r| std::cmp::Reverse(r.len()));
    let mut out = String::with_capacity(text.len());
    for (i, raw) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut line = last_cr_segment(raw).to_string();
        for r in &roots {
            line = line.replace(r.as_str(), "<ROOT>");
        }
        line = normalize_prog_prefix(&line);
        line = strip_error_tail(&line);
        line = mask_timing(&line, norm.mask_totals);
        out.push_str(&line);
    }
    out
}

/// Progress meters redraw with `\r` at a time-dependent rate; only the final
/// redraw of each line is meaningful.
fn last_cr_segment(line: &str) -> &str {
    if !line.contains('\r') {
        return line;
    }
    line.rsplit('\r')
        .find(|s| !s.trim().is_empty())
        .unwrap_or("")
}

fn normalize_prog_prefix(line: &str) -> String {
    for p in PROG_NAMES {
        if let Some(rest) = line.strip_prefix(p) {
            if rest.starts_with(": ")
                || rest.starts_with(" error: ")
                || rest.starts_with(" warning: ")
                || rest.starts_with(" info: ")
            {
                return format!("PROG{rest}");
            }
        }
    }
    line.to_string()
}

/// `... (code 23) at main.c(1338) [sender=3.5.0]`: the source location and
/// version are implementation details, the role is not reliably either.
fn strip_error_tail(line: &str) -> String {
    if !line.ends_with(']') {
        return line.to_string();
    }
    let Some(at) = line.rfind(" at ") else {
        return line.to_string();
    };
    let tail = &line[at + 4..];
    let ok = (|| {
        let (loc, rest) = tail.split_once(' ')?;
        let (_, num) = loc.strip_suffix(')')?.rsplit_once('(')?;
        if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let inner = rest.strip_prefix('[')?.strip_suffix(']')?;
        inner.contains('=').then_some(())
    })();
    match ok {
        Some(()) => line[..at].to_string(),
        None => line.to_string(),
    }
}

fn mask_timing(line: &str, mask_totals: bool) -> String {
    // "sent 1,234 bytes  received 56 bytes  7,890.00 bytes/sec"
    if line.starts_with("sent ") && line.ends_with(" bytes/sec") {
        let words: Vec<&str> = line.split(' ').collect();
        let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let n = out.len();
        out[n - 2] = "RATE".into();
        if mask_totals {
            if let Some(i) = words.iter().position(|w| *w == "sent") {
                out[i + 1] = "N".into();
            }
            if let Some(i) = words.iter().position(|w| *w == "received") {
                out[i + 1] = "N".into();
            }
        }
        return out.join(" ");
    }
    for key in ["File list generation time: ", "File list transfer time: "] {
        if line.starts_with(key) {
            return format!("{key}T");
        }
    }
    if mask_totals {
        for key in [
            "Total bytes sent: ",
            "Total bytes received: ",
            "File list size: ",
        ] {
            if line.starts_with(key) {
                return format!("{key}N");
            }
        }
    }
    if is_progress_line(line) {
        return mask_progress(line);
    }
    line.to_string()
}

/// `      3,000,000 100%  471.63MB/s    0:00:00 (xfr#1, to-chk=2/4)`
fn is_progress_line(line: &str) -> bool {
    let mut it = line.split_whitespace();
    let (Some(a), Some(b)) = (it.next(), it.next()) else {
        return false;
    };
    !a.is_empty()
        && a.bytes()
            .all(|c| c.is_ascii_digit() || c == b',' || c == b'.')
        && b.ends_with('%')
}

fn mask_progress(line: &str) -> String {
    let mut words = Vec::new();
    for w in line.split_whitespace() {
        let masked = if w.ends_with("B/s") {
            "RATE".to_string()
        } else if w.split(':').count() == 3
            && w.split(':')
                .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
        {
            "TIME".to_string()
        } else if let Some(pos) = w.find("-chk=") {
            // to-chk vs ir-chk and the counts depend on how far the
            // incremental file list has got, which is a matter of timing.
            let close = if w.ends_with(')') { ")" } else { "" };
            format!("{}chk=*{close}", &w[..pos.saturating_sub(2)])
        } else {
            w.to_string()
        };
        words.push(masked);
    }
    words.join(" ")
}

/// Lines carrying protocol byte totals. rsync's own totals vary by a few
/// bytes from run to run (how many multiplexed frames, 4-byte headers each,
/// a flush happens to cut), so these are compared with a small tolerance.
fn is_totals_line(line: &str) -> bool {
    (line.starts_with("sent ") && line.ends_with(" bytes/sec"))
        || line.starts_with("total size is ")
        || line.starts_with("Total bytes sent: ")
        || line.starts_with("Total bytes received: ")
}

/// Parse `1,234`, `12.34`, `3.00M` (from -h) into a number.
fn parse_num(tok: &str) -> Option<f64> {
    let (digits, mult) = match tok.chars().last()? {
        'K' => (&tok[..tok.len() - 1], 1e3),
        'M' => (&tok[..tok.len() - 1], 1e6),
        'G' => (&tok[..tok.len() - 1], 1e9),
        'T' => (&tok[..tok.len() - 1], 1e12),
        _ => (tok, 1.0),
    };
    let clean: String = digits.chars().filter(|c| *c != ',').collect();
    if clean.is_empty() || !clean.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    clean.parse::<f64>().ok().map(|v| v * mult)
}

fn near(a: f64, b: f64) -> bool {
    let big = a.abs().max(b.abs());
    // 64 bytes absolute (16 frame headers), 0.5% relative (rounding of -h
    // output and of the speedup ratio).
    (a - b).abs() <= 64.0_f64.max(big * 0.005)
}

/// Whether two normalised lines are the same, allowing the run-to-run slack
/// of totals lines (see `is_totals_line`).
pub fn lines_equivalent(expected: &str, actual: &str) -> bool {
    if expected == actual {
        return true;
    }
    if !is_totals_line(expected) || !is_totals_line(actual) {
        return false;
    }
    let (e, a): (Vec<&str>, Vec<&str>) =
        (expected.split(' ').collect(), actual.split(' ').collect());
    e.len() == a.len()
        && e.iter().zip(&a).all(|(x, y)| {
            x == y
                || match (parse_num(x), parse_num(y)) {
                    (Some(p), Some(q)) => near(p, q),
                    _ => false,
                }
        })
}

/// Whole normalised outputs compared with `lines_equivalent`.
pub fn texts_equivalent(expected: &str, actual: &str) -> bool {
    let (e, a): (Vec<&str>, Vec<&str>) =
        (expected.split('\n').collect(), actual.split('\n').collect());
    e.len() == a.len() && e.iter().zip(&a).all(|(x, y)| lines_equivalent(x, y))
}

/// Lines printed by the sending process itself in a local transfer: the
/// itemized transfers (`>f...`/`<f...`) and progress meters. Everything else
/// (and everything when there is no itemizing) comes from the generator.
fn sender_line(line: &str) -> bool {
    line.starts_with('>') || line.starts_with('<') || is_progress_line(line.trim_start())
}

/// Lines the receiving side sends as out-of-band messages. Upstream queues
/// those apart from the protocol stream and writes them whenever it does
/// I/O, so their position relative to itemized stream lines varies between
/// runs of rsync itself; their own order does not.
fn message_line(line: &str) -> bool {
    line.starts_with("skipping non-regular file")
        || line.starts_with("*deleting ")
        || line.starts_with("deleting ")
        || line.starts_with("created director")
        || line.starts_with("cannot delete")
        || line.starts_with("IO error encountered")
        || line.ends_with(" is uptodate")
        || line.ends_with(" is under min-size")
        || line.ends_with(" is over max-size")
        || line.starts_with("delta-transmission ")
}

/// `backed up NAME to BACKUP` (`-b` at `-vv`).
fn backup_line(line: &str) -> bool {
    line.starts_with("backed up ")
}

/// Same lines, same order within each class (the sender's lines, the
/// receiving side's messages, everything else), but possibly interleaved
/// differently. Totals lines keep their tolerance.
/// Without itemizing, transferred names cannot be told apart from the
/// generator's lines: then the lines are compared as a multiset, and only if
/// `unordered_ok` (rsync has been seen to vary its own order).
pub fn same_interleaving_class(expected: &str, actual: &str, unordered_ok: bool) -> bool {
    // `-b -vv` "backed up" lines come from two processes (the receiver for
    // transferred files, the generator for deletions and replaced links),
    // so even their own order varies: they are compared as a multiset.
    fn backups(t: &str) -> Vec<&str> {
        let mut v: Vec<&str> = t.split('\n').filter(|l| backup_line(l)).collect();
        v.sort_unstable();
        v
    }
    if backups(expected) != backups(actual) {
        return false;
    }
    let split = |t: &str| -> (Vec<String>, Vec<String>, Vec<String>) {
        let (mut s, mut m, mut o) = (Vec::new(), Vec::new(), Vec::new());
        for l in t.split('\n').filter(|l| !backup_line(l)) {
            if sender_line(l) {
                s.push(l.to_string());
            } else if message_line(l) {
                m.push(l.to_string());
            } else {
                o.push(l.to_string());
            }
        }
        (s, m, o)
    };
    let ((es, em, eo), (as_, am, ao)) = (split(expected), split(actual));
    let seq_eq = |x: &[String], y: &[String]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| lines_equivalent(p, q))
    };
    if !seq_eq(&em, &am) {
        return false;
    }
    if !es.is_empty() || !em.is_empty() {
        return seq_eq(&es, &as_) && seq_eq(&eo, &ao);
    }
    if !unordered_ok || !as_.is_empty() {
        return false;
    }
    let (mut eo_sorted, mut ao_sorted) = (eo, ao);
    eo_sorted.sort();
    ao_sorted.sort();
    seq_eq(&eo_sorted, &ao_sorted)
}

/// A readable line-by-line diff of two texts (no external crate): prints the
/// common prefix length and the differing lines with their numbers.
pub fn text_diff(expected: &str, actual: &str) -> String {
    let e: Vec<&str> = expected.split('\n').collect();
    let a: Vec<&str> = actual.split('\n').collect();
    let mut out = String::new();
    let n = e.len().max(a.len());
    let mut shown = 0;
    for i in 0..n {
        let (x, y) = (e.get(i), a.get(i));
        let same = match (x, y) {
            (Some(x), Some(y)) => lines_equivalent(x, y),
            _ => false,
        };
        if !same {
            out.push_str(&format!(
                "  line {}:\n    rsync:   {:?}\n    gensync: {:?}\n",
                i + 1,
                x.copied().unwrap_or("<missing>"),
                y.copied().unwrap_or("<missing>")
            ));
            shown += 1;
            if shown >= 30 {
                out.push_str("  ... (more differences)\n");
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_tolerance() {
        assert!(lines_equivalent(
            "sent 876,868 bytes  received 23,408 bytes  RATE bytes/sec",
            "sent 876,868 bytes  received 23,412 bytes  RATE bytes/sec"
        ));
        assert!(!lines_equivalent(
            "sent 876,868 bytes  received 23,408 bytes  RATE bytes/sec",
            "sent 976,868 bytes  received 23,408 bytes  RATE bytes/sec"
        ));
        assert!(lines_equivalent(
            "total size is 3.00M  speedup is 37.25",
            "total size is 3.00M  speedup is 37.24"
        ));
        assert!(!lines_equivalent(
            "Literal data: 1,000 bytes",
            "Literal data: 1,004 bytes"
        ));
    }

    #[test]
    fn normalize_error_line() {
        let n = Norm {
            roots: vec!["/tmp/x/a".into()],
            mask_totals: false,
        };
        let got = normalize(
            "rsync: [sender] link_stat \"/tmp/x/a/nope\" failed: No such file or directory (2)\n\
             rsync error: some files/attrs were not transferred (see previous errors) (code 23) \
             at main.c(1338) [sender=3.5.0]",
            &n,
        );
        assert_eq!(
            got,
            "PROG: [sender] link_stat \"<ROOT>/nope\" failed: No such file or directory (2)\n\
             PROG error: some files/attrs were not transferred (see previous errors) (code 23)"
        );
    }

    #[test]
    fn normalize_progress_and_rates() {
        let n = Norm::default();
        let got = normalize(
            "\r         32,768   1%    0.00kB/s    0:00:00  \r      3,000,000 100%  471.63MB/s    \
             0:00:00 (xfr#1, to-chk=2/4)\nsent 3,000,943 bytes  received 91 bytes  6,002,068.00 \
             bytes/sec\nFile list generation time: 0.001 seconds",
            &n,
        );
        assert_eq!(
            got,
            "3,000,000 100% RATE TIME (xfr#1, chk=*)\nsent 3,000,943 bytes  received 91 bytes  \
             RATE bytes/sec\nFile list generation time: T"
        );
        let m = Norm {
            mask_totals: true,
            ..Norm::default()
        };
        assert_eq!(
            normalize("sent 3.00M bytes  received 92 bytes  6.00M bytes/sec", &m),
            "sent N bytes  received N bytes  RATE bytes/sec"
        );
    }
}
