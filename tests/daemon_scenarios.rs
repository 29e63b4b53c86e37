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
    // Fixed times: the two sides are made a moment apart, and listings
    // show mtimes.
    let t = filetime::FileTime::from_unix_time(1_500_000_000, 0);
    for p in [
        "mod/a.txt",
        "mod/sub/b.txt",
        "mod/sub",
        "mod",
        "local/up.txt",
        "local",
    ] {
        filetime::set_file_mtime(root.join(p), t).unwrap();
    }
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

/// Run `client` with `args` in `dir`, with extra environment.
fn run_env(client: &Path, dir: &Path, args: &[String], env: &[(String, String)]) -> Output {
    let opts = RunOpts {
        env: env.to_vec(),
        ..RunOpts::default()
    };
    util::run_with_timeout(client, args, dir, &opts, Duration::from_secs(30))
}

/// The daemon reached through RSYNC_CONNECT_PROG: the program's stdio is
/// the connection (here a daemon in remote-shell mode). Both clients,
/// against an rsync and a gensync daemon program, must give the same tree
/// and exit code.
#[test]
fn connect_prog() {
    let up = crate::upstream_or_skip!("connect_prog");
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("src");
    fs::create_dir_all(src.join("d")).unwrap();
    fs::write(src.join("d/f"), "through a program\n").unwrap();
    let conf = base.path().join("c.conf");
    fs::write(
        &conf,
        format!("use chroot = no\n{}", module_conf("mod", &src, "")),
    )
    .unwrap();
    for client in [&up, &ut] {
        for server in [&up, &ut] {
            let out_dir = base.path().join("out");
            let _ = fs::remove_dir_all(&out_dir);
            let prog = format!(
                "{} --server --daemon --config={} .",
                server.display(),
                conf.display()
            );
            let o = run_env(
                client,
                base.path(),
                &[
                    "-a".into(),
                    "rsync://ignored.invalid/mod/".into(),
                    "out/".into(),
                ],
                &[("RSYNC_CONNECT_PROG".into(), prog)],
            );
            assert_eq!(
                o.code,
                0,
                "{} via {}: {}",
                client.display(),
                server.display(),
                o.stderr
            );
            assert!(tree::diff(&tree::snapshot(&src), &tree::snapshot(&out_dir)).is_empty());
        }
    }
}

/// A minimal HTTP CONNECT proxy on 127.0.0.1 for RSYNC_PROXY; it records
/// the request lines it was sent.
fn start_proxy() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let seen = seen2.clone();
            std::thread::spawn(move || {
                let mut rd = BufReader::new(c.try_clone().unwrap());
                let mut first = String::new();
                rd.read_line(&mut first).unwrap();
                loop {
                    let mut h = String::new();
                    if rd.read_line(&mut h).unwrap() == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                seen.lock().unwrap().push(first.trim().to_string());
                let target = first.split(' ').nth(1).unwrap_or("").to_string();
                let Ok(up) = std::net::TcpStream::connect(target) else {
                    let _ = c.write_all(b"HTTP/1.0 502 Bad Gateway\r\n\r\n");
                    return;
                };
                c.write_all(b"HTTP/1.0 200 Connection established\r\nX-Test: 1\r\n\r\n")
                    .unwrap();
                let (mut a, mut b) = (up.try_clone().unwrap(), c.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut rd, &mut a);
                    let _ = a.shutdown(std::net::Shutdown::Write);
                });
                let mut up = up;
                let _ = std::io::copy(&mut up, &mut b);
                let _ = b.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, seen)
}

#[test]
fn rsync_proxy() {
    let up = crate::upstream_or_skip!("rsync_proxy");
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "proxied\n").unwrap();
    let d = start_daemon(&ut, base.path(), &module_conf("mod", &src, ""));
    let (pport, seen) = start_proxy();
    for client in [&up, &ut] {
        let out_dir = base.path().join("out");
        let _ = fs::remove_dir_all(&out_dir);
        let o = run_env(
            client,
            base.path(),
            &[
                "-a".into(),
                format!("rsync://127.0.0.1:{}/mod/", d.port),
                "out/".into(),
            ],
            &[("RSYNC_PROXY".into(), format!("127.0.0.1:{pport}"))],
        );
        assert_eq!(o.code, 0, "{}: {}", client.display(), o.stderr);
        assert!(tree::diff(&tree::snapshot(&src), &tree::snapshot(&out_dir)).is_empty());
    }
    let seen = seen.lock().unwrap().clone();
    let want = format!("CONNECT 127.0.0.1:{} HTTP/1.0", d.port);
    assert_eq!(
        seen,
        vec![want.clone(), want],
        "both clients ask the proxy alike"
    );
}

/// inetd mode: the daemon's standard input is the accepted socket.
#[test]
fn inetd_mode() {
    let up = crate::upstream_or_skip!("inetd_mode");
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), "inetd\n").unwrap();
    let conf = base.path().join("c.conf");
    fs::write(
        &conf,
        format!(
            "use chroot = no\nmotd file = {}/motd\n{}",
            base.path().display(),
            module_conf("mod", &src, "")
        ),
    )
    .unwrap();
    fs::write(base.path().join("motd"), "inetd motd\n").unwrap();
    let mut outs = Vec::new();
    for server in [&up, &ut] {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = server.clone();
        let conf = conf.clone();
        let t = std::thread::spawn(move || {
            let (sock, _) = l.accept().unwrap();
            let out = sock.try_clone().unwrap();
            std::process::Command::new(&server)
                .arg("--daemon")
                .arg(format!("--config={}", conf.display()))
                .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(sock)))
                .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(out)))
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
        });
        let out_dir = base.path().join("out");
        let _ = fs::remove_dir_all(&out_dir);
        let o = run_env(
            &up,
            base.path(),
            &[
                "-a".into(),
                format!("rsync://127.0.0.1:{port}/mod/"),
                "out/".into(),
            ],
            &[],
        );
        let st = t.join().unwrap();
        assert!(tree::diff(&tree::snapshot(&src), &tree::snapshot(&out_dir)).is_empty());
        outs.push((o.code, o.stdout, st.code()));
    }
    assert_eq!(
        outs[0], outs[1],
        "rsync --daemon vs gensync --daemon under inetd"
    );
}

/// --early-input reaches a daemon without an early exec harmlessly, and
/// --dparam overrides a parameter of the config file.
#[test]
fn early_input_and_dparam() {
    let conf = modules("", "");
    let input = tempfile::NamedTempFile::new().unwrap();
    fs::write(input.path(), "early bytes\n").unwrap();
    let arg = format!("--early-input={}", input.path().display());
    scenario(
        "early_input",
        &conf,
        &["-a", "-i", &arg, "{URL}/mod/", "out/"],
        &[],
        false,
    );
    // --dparam is a daemon option: compare the listing of a daemon started
    // with "--dparam=motdfile=..." (spelling folded as rsync folds it).
    let up = crate::upstream_or_skip!("dparam");
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let motd = base.path().join("motd");
    fs::write(&motd, "from dparam\n").unwrap();
    let mut listings = Vec::new();
    for prog in [&up, &ut] {
        let dir = tempfile::tempdir().unwrap();
        let conf_path = dir.path().join("d.conf");
        fs::write(
            &conf_path,
            format!("use chroot = no\n{}", module_conf("mod", base.path(), "")),
        )
        .unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut child = std::process::Command::new(prog)
            .args([
                "--daemon".to_string(),
                "--no-detach".into(),
                format!("--config={}", conf_path.display()),
                format!("--dparam=motdfile={}", motd.display()),
                format!("--port={port}"),
                "--address=127.0.0.1".into(),
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut o = None;
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                o = Some(run_env(
                    &up,
                    dir.path(),
                    &[format!("rsync://127.0.0.1:{port}/")],
                    &[],
                ));
                break;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        let _ = child.kill();
        let _ = child.wait();
        let o = o.expect("daemon started");
        listings.push((o.code, o.stdout));
    }
    assert_eq!(listings[0], listings[1]);
    assert!(listings[0].1.contains("from dparam"), "{:?}", listings[0]);
}
