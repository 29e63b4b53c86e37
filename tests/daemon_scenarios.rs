//! Daemon behaviour beyond a plain transfer, each scenario run against a
//! real `rsync --daemon` and a `gensync --daemon` with the same
//! rsyncd.conf (module paths pointing at separate copies), with the same
//! client (real rsync, then gensync). Exit code, the client's normalised
//! output and the resulting tree must match the rsync daemon's.
//!
//! Also: the daemon log's access lines, the pid file and SIGTERM, and a
//! load test of 50 concurrent clients.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::daemon_interop::{module_conf, start_daemon, Daemon};
use crate::tree;
use crate::util::{self, Norm, Output, RunOpts};

/// One side of a scenario: a daemon started from `conf` (with `{ROOT}`
/// replaced by this side's copy) and its copy.
struct Side {
    root: PathBuf,
    daemon: Daemon,
    _conf_dir: tempfile::TempDir,
}

fn side(prog: &Path, base: &Path, label: &str, conf: &str) -> Side {
    let root = base.join(label);
    fs::create_dir_all(root.join("mod/sub")).unwrap();
    fs::create_dir_all(root.join("local")).unwrap();
    fs::write(root.join("mod/a.txt"), "alpha\n").unwrap();
    fs::write(root.join("mod/sub/b.txt"), "beta\n").unwrap();
    fs::write(root.join("local/up.txt"), "upload\n").unwrap();
    let secrets = root.join("secrets");
    fs::write(&secrets, "bob:pw\n@staff:grouppw\n").unwrap();
    let mut perm = fs::metadata(&secrets).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o600);
    fs::set_permissions(&secrets, perm).unwrap();
    fs::write(root.join("motd"), "Hello from the daemon\nsecond line\n").unwrap();
    let conf = conf.replace("{ROOT}", &root.display().to_string());
    let conf_dir = tempfile::tempdir().unwrap();
    let daemon = start_daemon(prog, conf_dir.path(), &conf);
    Side {
        root,
        daemon,
        _conf_dir: conf_dir,
    }
}

struct Result1 {
    out: Output,
    stdout: String,
    stderr: String,
    snap: tree::Snapshot,
}

/// Run `client` with `args` (`{URL}` becomes rsync://127.0.0.1:PORT) in the
/// side's root.
fn run(client: &Path, s: &Side, args: &[&str], env: &[(&str, &str)]) -> Result1 {
    let url = format!("rsync://127.0.0.1:{}", s.daemon.port);
    let args: Vec<String> = args.iter().map(|a| a.replace("{URL}", &url)).collect();
    let opts = RunOpts {
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..RunOpts::default()
    };
    let out = util::run_with_timeout(client, &args, &s.root, &opts, Duration::from_secs(30));
    let norm = Norm {
        roots: vec![s.root.display().to_string(), url.clone()],
        mask_totals: true,
    };
    Result1 {
        stdout: util::normalize(&out.stdout, &norm),
        stderr: util::normalize(&out.stderr, &norm),
        snap: tree::snapshot(&s.root.join("mod")),
        out,
    }
}

/// Lines a client prints after a daemon closed the socket under it: which
/// one (if any) depends on timing for rsync against itself too.
fn racy(line: &str) -> bool {
    line.contains("read error: Connection reset by peer")
        || line.contains("write error: Broken pipe")
        || line.contains("connection unexpectedly closed")
        || line.contains("error in socket IO (code 10)")
        || line.contains("error in rsync protocol data stream (code 12)")
}

fn stable(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !racy(l)).collect()
}

/// A scenario: the config, the client arguments, and the environment.
fn scenario(name: &str, conf: &str, args: &[&str], env: &[(&str, &str)], racy_code: bool) {
    let up = crate::upstream_or_skip!(name);
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (cl_label, client) in [("rsync-client", &up), ("test-client", &ut)] {
        let exp_side = side(&up, base.path(), &format!("{cl_label}-rsyncd"), conf);
        let act_side = side(&ut, base.path(), &format!("{cl_label}-testd"), conf);
        // With a gensync client, the oracle is still rsync <-> rsyncd.
        let exp = run(&up, &exp_side, args, env);
        let act = run(client, &act_side, args, env);
        let mut msg = String::new();
        let codes_ok = exp.out.code == act.out.code
            || (racy_code && [10, 12].contains(&exp.out.code) && [10, 12].contains(&act.out.code));
        if !codes_ok {
            msg += &format!("exit code: rsync {} vs {}\n", exp.out.code, act.out.code);
        }
        if exp.stdout != act.stdout {
            msg += &format!("stdout:\n{}", util::text_diff(&exp.stdout, &act.stdout));
        }
        if stable(&exp.stderr) != stable(&act.stderr) {
            msg += &format!(
                "stderr:\n{}",
                util::text_diff(
                    &stable(&exp.stderr).join("\n"),
                    &stable(&act.stderr).join("\n")
                )
            );
        }
        for l in tree::diff(&exp.snap, &act.snap).iter().take(20) {
            msg += &format!("  tree: {l}\n");
        }
        if !msg.is_empty() {
            failures.push(format!(
                "{cl_label} against gensync --daemon:\n{msg}--- rsync daemon: exit {}\n{}{}--- gensync daemon: exit {}\n{}{}",
                exp.out.code, exp.out.stdout, exp.out.stderr, act.out.code, act.out.stdout, act.out.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

fn modules(extra_global: &str, extra_module: &str) -> String {
    format!(
        "{extra_global}\n{}",
        module_conf(
            "mod",
            Path::new("{ROOT}/mod"),
            &format!("comment = the module\n{extra_module}")
        ) + "[hidden]\npath = {ROOT}/mod\nlist = no\n"
    )
}

#[test]
fn module_listing_with_motd() {
    let conf = modules("motd file = {ROOT}/motd", "");
    scenario("module_listing_with_motd", &conf, &["{URL}/"], &[], false);
}

#[test]
fn module_listing_no_motd() {
    let conf = modules("motd file = {ROOT}/motd", "");
    scenario(
        "module_listing_no_motd",
        &conf,
        &["--no-motd", "{URL}/"],
        &[],
        false,
    );
}

#[test]
fn file_listing_of_a_module() {
    let conf = modules("", "");
    scenario(
        "file_listing_of_a_module",
        &conf,
        &["-r", "{URL}/mod/"],
        &[],
        false,
    );
}

#[test]
fn unknown_module() {
    let conf = modules("", "");
    scenario(
        "unknown_module",
        &conf,
        &["-a", "{URL}/nomod/", "out/"],
        &[],
        false,
    );
}

#[test]
fn path_not_starting_with_module() {
    let conf = modules("", "");
    scenario(
        "path_not_starting_with_module",
        &conf,
        &["-a", "{URL}//etc/", "out/"],
        &[],
        false,
    );
}

#[test]
fn auth_success_and_failure() {
    let conf = modules(
        "",
        "auth users = bob, @nosuchgroup:ro\nsecrets file = {ROOT}/secrets\n",
    );
    scenario(
        "auth_success",
        &conf,
        &["-a", "{URL}/mod/", "out/"],
        &[("RSYNC_PASSWORD", "pw"), ("USER", "bob")],
        false,
    );
    scenario(
        "auth_wrong_password",
        &conf,
        &["-a", "{URL}/mod/", "out/"],
        &[("RSYNC_PASSWORD", "nope"), ("USER", "bob")],
        false,
    );
    scenario(
        "auth_unknown_user",
        &conf,
        &["-a", "{URL}/mod/", "out/"],
        &[("RSYNC_PASSWORD", "pw"), ("USER", "mallory")],
        false,
    );
}

#[test]
fn auth_with_password_file() {
    let conf = modules("", "auth users = bob\nsecrets file = {ROOT}/secrets\n");
    let pw = tempfile::NamedTempFile::new().unwrap();
    fs::write(pw.path(), "pw\n").unwrap();
    let arg = format!("--password-file={}", pw.path().display());
    scenario(
        "auth_with_password_file",
        &conf,
        &["-a", &arg, "{URL}/mod/", "out/"],
        &[("USER", "bob")],
        false,
    );
    // An other-readable password file is refused before connecting.
    let mut perm = fs::metadata(pw.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o644);
    fs::set_permissions(pw.path(), perm).unwrap();
    scenario(
        "auth_password_file_too_open",
        &conf,
        &["-a", &arg, "{URL}/mod/", "out/"],
        &[("USER", "bob")],
        false,
    );
}

#[test]
fn read_only_module_refuses_upload() {
    let conf = modules("", "read only = yes\n");
    scenario(
        "read_only_module_refuses_upload",
        &conf,
        &["-a", "local/", "{URL}/mod/"],
        &[],
        true,
    );
}

#[test]
fn write_only_module_refuses_download() {
    let conf = modules("", "write only = yes\n");
    scenario(
        "write_only_module_refuses_download",
        &conf,
        &["-a", "{URL}/mod/", "out/"],
        &[],
        true,
    );
}

#[test]
fn upload_into_writable_module() {
    let conf = modules("", "");
    scenario(
        "upload_into_writable_module",
        &conf,
        &["-a", "-i", "--delete", "local/", "{URL}/mod/sub/"],
        &[],
        false,
    );
}

#[test]
fn refused_options() {
    let conf = modules("", "refuse options = delete c\n");
    scenario(
        "refused_delete",
        &conf,
        &["-a", "--delete", "local/", "{URL}/mod/"],
        &[],
        true,
    );
    scenario(
        "refused_checksum_pull",
        &conf,
        &["-ac", "{URL}/mod/", "out/"],
        &[],
        true,
    );
    scenario(
        "refused_not_used",
        &conf,
        &["-a", "-i", "{URL}/mod/", "out/"],
        &[],
        false,
    );
}

#[test]
fn hosts_deny_and_allow() {
    let conf = modules("", "hosts deny = 127.0.0.0/8\n");
    scenario(
        "hosts_deny",
        &conf,
        &["-a", "{URL}/mod/", "out/"],
        &[],
        false,
    );
    let conf = modules("", "hosts allow = 10.0.0.1\nlist = no\n");
    scenario(
        "hosts_allow_unlisted",
        &conf,
        &["-a", "{URL}/mod/", "out/"],
        &[],
        false,
    );
    let conf = modules("", "hosts allow = 127.0.0.1\nhosts deny = *\n");
    scenario(
        "hosts_allow_wins",
        &conf,
        &["-a", "-i", "{URL}/mod/", "out/"],
        &[],
        false,
    );
}

#[test]
fn max_connections_reached() {
    // max connections = 1 with a lock file; a second, concurrent client is
    // turned away. Holding the one slot needs a client that stays connected:
    // a raw socket that greets and asks for the module, then waits.
    let up = crate::upstream_or_skip!("max_connections_reached");
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for (label, prog) in [("rsyncd", &up), ("testd", &ut)] {
        let lock = base.path().join(format!("{label}.lock"));
        let conf = modules(
            "",
            &format!("max connections = 1\nlock file = {}\n", lock.display()),
        );
        let s = side(prog, base.path(), label, &conf);
        let mut hold = std::net::TcpStream::connect(("127.0.0.1", s.daemon.port)).unwrap();
        use std::io::{BufRead, Write};
        let mut rd = std::io::BufReader::new(hold.try_clone().unwrap());
        let mut line = String::new();
        rd.read_line(&mut line).unwrap();
        hold.write_all(b"@RSYNCD: 32.0 md5\nmod\n").unwrap();
        line.clear();
        rd.read_line(&mut line).unwrap();
        assert_eq!(
            line, "@RSYNCD: OK\n",
            "{label}: the first client gets the slot"
        );
        let r = run(&up, &s, &["-a", "{URL}/mod/", "out/"], &[]);
        outs.push((r.out.code, r.stderr));
        drop(hold);
    }
    assert_eq!(outs[0], outs[1], "rsync daemon vs gensync daemon");
    assert_eq!(outs[0].0, 5);
}

#[test]
fn pid_file_and_sigterm() {
    let _ = crate::upstream_or_skip!("pid_file_and_sigterm");
    let ut = util::under_test();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("d.pid");
    let conf = format!(
        "pid file = {}\n{}",
        pid_file.display(),
        module_conf("mod", dir.path(), "")
    );
    let d = start_daemon(&ut, dir.path(), &conf);
    let pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid as u32, d.pid());
    // A second daemon with the same pid file refuses to start.
    let conf2 = dir.path().join("daemon.conf");
    let out = util::run_with_timeout(
        &ut,
        &[
            "--daemon".to_string(),
            "--no-detach".to_string(),
            format!("--config={}", conf2.display()),
            "--port=1".to_string(),
        ],
        dir.path(),
        &RunOpts::default(),
        Duration::from_secs(10),
    );
    assert_ne!(out.code, 0, "{}", out.stderr);
    nix_kill(pid, "TERM");
    let start = std::time::Instant::now();
    while pid_file.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!pid_file.exists(), "SIGTERM removes the pid file");
}

fn nix_kill(pid: i32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

#[test]
fn log_file_records_access() {
    let _ = crate::upstream_or_skip!("log_file_records_access");
    let ut = util::under_test();
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("m")).unwrap();
    fs::write(dir.path().join("m/f"), "x").unwrap();
    let d = start_daemon(
        &ut,
        dir.path(),
        &module_conf("mod", &dir.path().join("m"), ""),
    );
    let out = util::run_with_timeout(
        &ut,
        &[
            "-a".to_string(),
            format!("rsync://127.0.0.1:{}/mod/", d.port),
            "out/".into(),
        ],
        dir.path(),
        &RunOpts::default(),
        Duration::from_secs(20),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    for want in [
        "connect from ",
        "rsync allowed access on module mod from ",
        "rsync on mod/ from ",
    ] {
        assert!(log.contains(want), "log lacks {want:?}:\n{log}");
    }
}

/// 50 clients at once pull from one gensync daemon: all succeed with
/// identical trees.
#[test]
fn fifty_concurrent_clients() {
    let up = crate::upstream_or_skip!("fifty_concurrent_clients");
    let ut = util::under_test();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("m");
    for i in 0..20 {
        fs::create_dir_all(src.join(format!("d{}", i % 4))).unwrap();
        fs::write(src.join(format!("d{}/f{i}", i % 4)), vec![b'x'; 1000 * i]).unwrap();
    }
    let d = start_daemon(&ut, dir.path(), &module_conf("mod", &src, ""));
    let url = format!("rsync://127.0.0.1:{}/mod/", d.port);
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let (client, url, out) = (
                if i % 2 == 0 { up.clone() } else { ut.clone() },
                url.clone(),
                dir.path().join(format!("out{i}")),
            );
            std::thread::spawn(move || {
                let o = util::run_with_timeout(
                    &client,
                    &["-a".to_string(), url, format!("{}/", out.display())],
                    Path::new("/"),
                    &RunOpts::default(),
                    Duration::from_secs(120),
                );
                (o, out)
            })
        })
        .collect();
    let want = tree::snapshot(&src);
    for h in handles {
        let (o, out) = h.join().unwrap();
        assert_eq!(o.code, 0, "{}", o.stderr);
        let got = tree::snapshot(&out);
        assert!(
            tree::diff(&want, &got).is_empty(),
            "{:?}",
            tree::diff(&want, &got)
        );
    }
}

/// A client that connects and then says nothing is dropped once the
/// handshake deadline passes (the smaller of 60 s and "timeout"), by the
/// rsync daemon and by ours alike.
#[test]
fn silent_client_is_dropped_at_the_handshake_deadline() {
    let up = crate::upstream_or_skip!("silent_client_is_dropped_at_the_handshake_deadline");
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    for (label, prog) in [("rsyncd", &up), ("testd", &ut)] {
        let conf = format!("timeout = 2\n{}", modules("", ""));
        let s = side(prog, base.path(), label, &conf);
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", s.daemon.port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let start = std::time::Instant::now();
        let mut buf = [0u8; 4096];
        // Read the greeting, then wait for the close.
        loop {
            use std::io::Read;
            match sock.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(12),
            "{label}: connection closed after {took:?}"
        );
    }
}
