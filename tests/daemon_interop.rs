//! Differential interop matrix through a daemon on 127.0.0.1. Every cell
//! runs one scenario twice on fresh copies of the same fixture: first a real
//! rsync client against a real `rsync --daemon` (the oracle), then the
//! pairing under test, and requires the same tree, exit code and normalised
//! client output.
//!
//! Axes: pairing (gensync client with an rsync daemon, rsync client with a
//! gensync daemon, gensync on both ends) x direction (push, pull) x option
//! set, one #[test] each, looping over protocols 32..27 (forced with
//! `--protocol` on the client). A daemon is started for each run with a
//! module whose path is that run's copy, on a free port, and is stopped by
//! PID when the run ends.
//!
//! The `Rsh` sets run the daemon protocol over the loopback remote shell
//! (`host::module` with `-e`), the server started as `--server --daemon`.

use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::local_diff::Scenario;
use crate::tree::{self, Profile};
use crate::util::{self, Norm, Output, RunOpts};

const LSH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/compat/tools/lsh");
const PROTOCOLS: [u32; 6] = [32, 31, 30, 29, 28, 27];
const CELL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pairing {
    /// gensync client, rsync daemon.
    Client,
    /// rsync client, gensync daemon.
    Daemon,
    /// gensync on both ends.
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Push,
    Pull,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    Archive,
    Delete,
    NoWholeFile,
    DryRun,
    Stats,
    Checksum,
    Compress,
    Secluded,
    /// `host::module` over the loopback remote shell.
    Rsh,
}

impl Set {
    fn args(self) -> &'static [&'static str] {
        match self {
            Set::Archive | Set::Rsh => &["-a", "-i"],
            Set::Delete => &["-a", "-i", "--delete"],
            Set::NoWholeFile => &["-a", "-i", "--no-whole-file"],
            Set::DryRun => &["-a", "-n", "-i"],
            Set::Stats => &["-av", "--stats"],
            Set::Checksum => &["-a", "-c", "-i"],
            Set::Compress => &["-az", "-i"],
            Set::Secluded => &["-a", "-i", "-s"],
        }
    }

    fn scenario(self) -> Scenario {
        let prof = Profile {
            files: 12,
            max_size: 48 << 10,
            exotic: true,
        };
        let scn = Scenario::new(&format!("daemon_{self:?}")).src_with(&prof);
        match self {
            Set::Archive | Set::Secluded | Set::Rsh => scn,
            Set::Delete | Set::DryRun | Set::Checksum => scn.dst_mutated(),
            Set::NoWholeFile | Set::Stats | Set::Compress => {
                scn.dst_mutated().with(crate::interop::add_big_file)
            }
        }
    }
}

/// A daemon serving `root` as module "m", stopped on drop.
pub struct Daemon {
    child: Child,
    pub port: u16,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The module lines every test daemon uses. As root the module must name
/// root as its user, or the daemon would drop to nobody.
pub fn module_conf(name: &str, path: &Path, extra: &str) -> String {
    let ids = if nix_is_root() {
        "uid = 0\ngid = 0\n"
    } else {
        ""
    };
    format!(
        "[{name}]\npath = {}\nread only = no\n{ids}{extra}\n",
        path.display()
    )
}

fn nix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Start `prog --daemon` with `conf` (globals and modules) on a free port.
pub fn start_daemon(prog: &Path, dir: &Path, conf: &str) -> Daemon {
    let conf_path = dir.join("daemon.conf");
    fs::write(
        &conf_path,
        format!(
            "use chroot = no\nlog file = {}\n{conf}",
            dir.join("daemon.log").display()
        ),
    )
    .unwrap();
    for _ in 0..20 {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut child = Command::new(prog)
            .arg("--daemon")
            .arg("--no-detach")
            .arg(format!("--config={}", conf_path.display()))
            .arg(format!("--port={port}"))
            .arg("--address=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = child.try_wait() {
                break; // could not bind: try another port
            }
            // Another test's daemon may hold the same port: only our own
            // child's "listening" log line (with its pid) proves the port
            // is ours.
            let mine = format!("[{}] rsyncd version", child.id());
            let listening = fs::read_to_string(dir.join("daemon.log")).is_ok_and(|l| {
                l.lines()
                    .any(|x| x.contains(&mine) && x.ends_with(&format!("listening on port {port}")))
            });
            if listening && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Daemon { child, port };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("harness: could not start {} --daemon", prog.display());
}

struct Run {
    cmdline: String,
    out: Output,
    stdout: String,
    stderr: String,
    snap: tree::Snapshot,
}

fn run_copy(
    scn: &Scenario,
    label: &str,
    (client, server): (&Path, &Path),
    set: Set,
    dir: Dir,
    proto: u32,
) -> Run {
    let root = scn.setup().parent().unwrap().join(label);
    fs::create_dir(&root).unwrap();
    util::copy_tree(&scn.setup(), &root);
    let mut args: Vec<String> = set.args().iter().map(|s| s.to_string()).collect();
    if proto != PROTOCOLS[0] {
        args.push(format!("--protocol={proto}"));
    }
    let conf_dir = tempfile::tempdir().unwrap();
    let module = module_conf("m", &root, "");
    let (remote, _daemon) = if set == Set::Rsh {
        let conf = conf_dir.path().join("rsh.conf");
        fs::write(&conf, format!("use chroot = no\n{module}")).unwrap();
        args.push("-e".into());
        args.push(LSH.into());
        args.push(format!(
            "--rsync-path={} --config={}",
            server.display(),
            conf.display()
        ));
        ("localhost::m".to_string(), None)
    } else {
        let d = start_daemon(server, conf_dir.path(), &module);
        (format!("rsync://127.0.0.1:{}/m", d.port), Some(d))
    };
    match dir {
        Dir::Push => args.extend(["src/".into(), format!("{remote}/dst/")]),
        Dir::Pull => args.extend([format!("{remote}/src/"), "dst/".into()]),
    }
    let out = util::run_with_timeout(client, &args, &root, &RunOpts::default(), CELL_TIMEOUT);
    let norm = Norm {
        roots: vec![root.to_string_lossy().into_owned()],
        mask_totals: false,
    };
    Run {
        cmdline: format!(
            "(cd {} && {} {})",
            root.display(),
            client.display(),
            args.join(" ")
        ),
        stdout: util::normalize(&out.stdout, &norm),
        stderr: util::normalize(&out.stderr, &norm),
        snap: tree::snapshot(&root),
        out,
    }
}

/// "File list size" as a receiving client prints it counts the bytes it
/// happened to read inside its list reader (see `interop::masks_flist_size`):
/// hidden when the list comes from a gensync sender.
fn mask_flist_size(text: &str) -> String {
    text.split('\n')
        .map(|l| {
            if l.starts_with("File list size: ") {
                "File list size: N"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn compare(exp: &Run, act: &Run) -> Option<String> {
    let mut msg = String::new();
    if exp.out.code != act.out.code {
        msg += &format!("exit code: rsync {} vs {}\n", exp.out.code, act.out.code);
    }
    let same = |e: &str, a: &str| {
        util::texts_equivalent(e, a) || util::same_interleaving_class(e, a, false)
    };
    if !same(&exp.stdout, &act.stdout) {
        msg += &format!(
            "stdout differs:\n{}",
            util::text_diff(&exp.stdout, &act.stdout)
        );
    }
    if !same(&exp.stderr, &act.stderr) {
        msg += &format!(
            "stderr differs:\n{}",
            util::text_diff(&exp.stderr, &act.stderr)
        );
    }
    let td = tree::diff(&exp.snap, &act.snap);
    for l in td.iter().take(40) {
        msg += &format!("  tree: {l}\n");
    }
    (!msg.is_empty()).then_some(msg)
}

fn cell(
    scn: &Scenario,
    (up, ut): (&Path, &Path),
    pairing: Pairing,
    set: Set,
    dir: Dir,
    proto: u32,
) -> Option<String> {
    let pair = match pairing {
        Pairing::Client => (ut, up),
        Pairing::Daemon => (up, ut),
        Pairing::Both => (ut, ut),
    };
    let mask = set == Set::Stats && dir == Dir::Pull && pairing != Pairing::Client;
    let run = |label: &str, progs: (&Path, &Path)| {
        let mut r = run_copy(scn, label, progs, set, dir, proto);
        if mask {
            r.stdout = mask_flist_size(&r.stdout);
        }
        r
    };
    let exp = run(&format!("p{proto}-rsync"), (up, up));
    assert!(
        exp.out.code == 0 && !exp.out.stdout.is_empty(),
        "harness: oracle run failed: {}\nexit {}\nstdout:\n{}stderr:\n{}",
        exp.cmdline,
        exp.out.code,
        exp.out.stdout,
        exp.out.stderr
    );
    let act = run(&format!("p{proto}-test"), pair);
    let first = compare(&exp, &act)?;
    // Output text (never trees or codes) can vary between rsync runs: give
    // both sides two more chances before calling it a difference.
    for i in 0..2 {
        let again = run(&format!("p{proto}-rsync{i}"), (up, up));
        compare(&again, &act)?;
        let act2 = run(&format!("p{proto}-test{i}"), pair);
        compare(&exp, &act2)?;
        compare(&again, &act2)?;
    }
    Some(format!(
        "protocol {proto}:\n  oracle: {}\n  tested: {}\n{first}--- tested stdout:\n{}stderr:\n{}",
        exp.cmdline, act.cmdline, act.out.stdout, act.out.stderr
    ))
}

fn matrix(name: &str, pairing: Pairing, dir: Dir, set: Set) {
    let up = crate::upstream_or_skip!(name);
    let ut = util::under_test();
    let scn = set.scenario();
    let failures: Vec<String> = PROTOCOLS
        .iter()
        .filter_map(|&p| cell(&scn, (&up, &ut), pairing, set, dir, p))
        .collect();
    assert!(
        failures.is_empty(),
        "{name}: {} of {} protocols failed\n{}",
        failures.len(),
        PROTOCOLS.len(),
        failures.join("\n")
    );
}

macro_rules! daemon_set {
    ($module:ident, $set:ident) => {
        mod $module {
            use super::*;
            #[test]
            fn gensync_client_push() {
                matrix(
                    concat!(stringify!($module), "_client_push"),
                    Pairing::Client,
                    Dir::Push,
                    Set::$set,
                );
            }
            #[test]
            fn gensync_client_pull() {
                matrix(
                    concat!(stringify!($module), "_client_pull"),
                    Pairing::Client,
                    Dir::Pull,
                    Set::$set,
                );
            }
            #[test]
            fn gensync_daemon_push() {
                matrix(
                    concat!(stringify!($module), "_daemon_push"),
                    Pairing::Daemon,
                    Dir::Push,
                    Set::$set,
                );
            }
            #[test]
            fn gensync_daemon_pull() {
                matrix(
                    concat!(stringify!($module), "_daemon_pull"),
                    Pairing::Daemon,
                    Dir::Pull,
                    Set::$set,
                );
            }
            #[test]
            fn gensync_both_push() {
                matrix(
                    concat!(stringify!($module), "_both_push"),
                    Pairing::Both,
                    Dir::Push,
                    Set::$set,
                );
            }
            #[test]
            fn gensync_both_pull() {
                matrix(
                    concat!(stringify!($module), "_both_pull"),
                    Pairing::Both,
                    Dir::Pull,
                    Set::$set,
                );
            }
        }
    };
}

daemon_set!(archive, Archive);
daemon_set!(delete, Delete);
daemon_set!(no_whole_file, NoWholeFile);
daemon_set!(dry_run, DryRun);
daemon_set!(stats, Stats);
daemon_set!(checksum, Checksum);
daemon_set!(compress, Compress);
daemon_set!(secluded, Secluded);
daemon_set!(rsh, Rsh);
