//! The daemon's leaf parts (src/daemon: rsyncd.conf, hosts allow/deny,
//! authentication) checked against a real rsync 3.5.0 daemon on 127.0.0.1.
//! Each test starts its own daemon on a free port (killed by PID when the
//! test ends).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gensync::daemon::access::{allow_access, Host, NoResolver, Peer};
use gensync::daemon::auth::{
    auth_response, check_digest_floor, negotiate_auth_digest, parse_client_greeting, AuthDigest,
};
use gensync::daemon::config::{Config, LoadOptions};

/// Real rsync, found the way every suite finds it (a missing one fails
/// under REQUIRE_UPSTREAM=1, and skips loudly otherwise).
fn rsync_bin() -> Option<PathBuf> {
    crate::util::upstream("daemon_rsync")
}

/// Serialises the tests here: each picks a free port by binding and
/// releasing it, and two daemons racing for one port would mix results.
static ONE_DAEMON: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A daemon we started; killed by its own PID on drop.
struct Daemon {
    child: Child,
    port: u16,
    _guard: std::sync::MutexGuard<'static, ()>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(rsync: &Path, conf: &Path, log: &Path) -> Daemon {
    let guard = ONE_DAEMON.lock().unwrap_or_else(|e| e.into_inner());
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = Command::new(rsync)
        .arg("--daemon")
        .arg("--no-detach")
        .arg(format!("--port={port}"))
        .arg("--address=127.0.0.1")
        .arg(format!("--config={}", conf.display()))
        .arg(format!("--log-file={}", log.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut d = Daemon {
        child,
        port,
        _guard: guard,
    };
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "daemon did not start"
        );
        assert!(
            d.child.try_wait().unwrap().is_none(),
            "daemon exited at startup"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The probe above was a connection too; let the daemon finish with it.
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        d.child.try_wait().unwrap().is_none(),
        "daemon exited at startup"
    );
    d
}

/// Speak the greeting and ask for `module` ("" lists modules). Optionally
/// answers an AUTHREQD challenge with `auth(challenge)`. Returns the lines
/// the daemon sent after its greeting, up to OK / EXIT / ERROR / EOF.
fn session(
    port: u16,
    greeting: &str,
    module: &str,
    auth: Option<&dyn Fn(&str) -> String>,
) -> (String, Vec<String>) {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut server_greeting = String::new();
    r.read_line(&mut server_greeting).unwrap();
    write!(w, "{greeting}\n{module}\n").unwrap();
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).unwrap_or(0) == 0 {
            break;
        }
        let l = l.trim_end_matches('\n').to_string();
        if let (Some(chal), Some(f)) = (l.strip_prefix("@RSYNCD: AUTHREQD "), auth) {
            writeln!(w, "{}", f(chal)).unwrap();
        }
        let done = l == "@RSYNCD: OK" || l == "@RSYNCD: EXIT" || l.starts_with("@ERROR");
        lines.push(l);
        if done {
            break;
        }
    }
    (server_greeting.trim_end().to_string(), lines)
}

fn write_conf(dir: &Path, body: &str) -> PathBuf {
    let p = dir.join("rsyncd.conf");
    fs::write(&p, body).unwrap();
    p
}

/// Log lines without the "YYYY/MM/DD HH:MM:SS [pid] " prefix.
fn log_lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| match l.find("] ") {
            Some(i) if l.starts_with(|c: char| c.is_ascii_digit()) => l[i + 2..].to_string(),
            _ => l.to_string(),
        })
        .collect()
}

#[test]
fn module_listing_matches_parser() {
    let Some(rsync) = rsync_bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).to_str().unwrap().to_string();
    fs::create_dir(p("inc.d")).unwrap();
    fs::write(p("inc1.conf"), "comment = fromincl\n[i1]\npath = /tmp\n").unwrap();
    fs::write(p("m.inc"), "comment = frommerge\n[m1]\npath = /tmp\n").unwrap();
    fs::write(p("inc.d/b.conf"), "comment = d1\n[x1]\npath=/tmp\n").unwrap();
    fs::write(p("inc.d/a.conf"), "[x0]\npath=/tmp\nlist = no\n").unwrap();
    fs::write(p("inc.d/c.conf"), "comment = zz\n[x2]\npath=/tmp\n").unwrap();
    fs::write(p("inc.d/d.inc"), "comment = inc\n[x3]\npath=/tmp\n").unwrap();
    std::env::set_var("GENSYNC_TEST_VAR", "expanded");
    let conf = write_conf(
        d.path(),
        &format!(
            "use chroot = no\nreverse lookup = no\ncomment = globalc\nbogus thing = 1\n\
             [ mod   one ]   trailing junk\n\tpath = /tmp\n\tcomment = hello \\\n   world   # not a comment   \n\
             [m2]\npath=/tmp\ncomment = %GENSYNC_TEST_VAR% %nope% %lower%\nlist = maybe\n\
             [cont]\npath = /tmp\ncomment = a \\\n   b  # c  \r\n\
             [hidden]\npath = /tmp\nlist = NO\n[Mod One]\ncomment = replaced\n\
             [b]\npath = /tmp\n&include {}\n[c]\npath = /tmp\n&merge {}\n\
             [d]\npath=/tmp\n&include {}\n[e]\npath=/tmp\n&merge = {}\n[f]\npath=/tmp\n\
             [global]\ncomment = late\nlist = off\n[g]\npath=/tmp\n[h]\npath=/tmp\nlist = 1\n",
            p("inc1.conf"),
            p("m.inc"),
            p("inc.d"),
            p("inc.d"),
        ),
    );
    let daemon = start(&rsync, &conf, &d.path().join("log"));
    // The real daemon's listing (with the real client, which prints it).
    let out = Command::new(&rsync)
        .arg(format!("rsync://127.0.0.1:{}/", daemon.port))
        .env("GENSYNC_TEST_VAR", "expanded")
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&out.stdout).to_string();

    let cfg = Config::load(&conf, &LoadOptions::default()).unwrap();
    let mut ours = String::new();
    for m in cfg.modules().filter(|m| m.list()) {
        ours.push_str(&format!("{:<15}\t{}\n", m.name(), m.comment()));
    }
    assert_eq!(real, ours);
    // [Mod One] continued [ mod   one ] and replaced its comment.
    assert!(real.contains("cont           \ta    b  # c\n"), "{real}");
    assert!(real.contains("mod one        \treplaced\n"), "{real}");

    // Our log lines appear, in the same words, in the daemon's log.
    drop(daemon);
    let theirs = log_lines(&d.path().join("log"));
    for l in &cfg.log {
        assert!(theirs.contains(&l.text), "{:?} not in {theirs:#?}", l.text);
    }
    assert!(cfg
        .log
        .iter()
        .any(|l| l.text == "Badly formed boolean in configuration file: \"maybe\"."));
    assert!(cfg
        .log
        .iter()
        .any(|l| l.text == "Badly formed boolean in configuration file: \"off\"."));
}

#[test]
fn hosts_allow_deny_match_real_daemon() {
    let Some(rsync) = rsync_bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str)] = &[
        ("127.0.0.1", ""),
        ("10.0.0.0/8", ""),
        ("127.0.0.0/255.0.0.0", ""),
        ("", "127.0.0.1/32"),
        ("10.1.1.1", "10.2.2.2"),
        ("10.1.1.1", "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("", "*"),
        ("*", ""),
        ("127.1", ""),
        ("0177.0.0.1", ""),
        ("::1", ""),
        ("::/0", ""),
        ("10.0.0.0/0", ""),
        ("", "0.0.0.0/0"),
        ("127.0.0.1/33", ""),
        ("127.0.0.2/31", ""),
        ("127.0.0.0/31", ""),
        ("1?7.0.0.1", ""),
        ("UNDETERMINED", ""),
        ("10.0.0.1, 127.0.0.1", ""),
        ("10.0.0.1,\t127.0.0.1", ""),
        ("", "10.0.0.1 127.0.0.0/24"),
        ("", "nonesuch.invalid"),
    ];
    let mut conf = String::from("use chroot = no\nreverse lookup = no\nforward lookup = no\n");
    for (i, (allow, deny)) in cases.iter().enumerate() {
        conf.push_str(&format!(
            "[h{i}]\npath = {}\nhosts allow = {allow}\nhosts deny = {deny}\nuid = 0\ngid = 0\n",
            d.path().display()
        ));
    }
    let conf = write_conf(d.path(), &conf);
    let daemon = start(&rsync, &conf, &d.path().join("log"));
    for (i, (allow, deny)) in cases.iter().enumerate() {
        let (_, lines) = session(daemon.port, "@RSYNCD: 32.0 md5", &format!("h{i}"), None);
        let last = lines.last().cloned().unwrap_or_default();
        let real_allowed = last == "@RSYNCD: OK";
        if !real_allowed {
            assert_eq!(
                last,
                format!("@ERROR: access denied to h{i} from UNDETERMINED (127.0.0.1)"),
                "case {i}"
            );
        }
        let mut peer = Peer {
            addr: "127.0.0.1".parse().unwrap(),
            scope_id: 0,
            host: Host::Undetermined,
        };
        let ours = allow_access(&mut peer, allow, deny, false, &NoResolver).allowed;
        assert_eq!(ours, real_allowed, "allow={allow:?} deny={deny:?}");
    }
}

#[test]
fn auth_responses_accepted_for_each_digest() {
    let Some(rsync) = rsync_bin() else { return };
    let d = tempfile::tempdir().unwrap();
    let sec = d.path().join("secrets");
    fs::write(&sec, "# users\nalice:pw1\n@wheel:grouppw\n").unwrap();
    fs::set_permissions(&sec, fs::Permissions::from_mode(0o600)).unwrap();
    let conf = write_conf(
        d.path(),
        &format!(
            "use chroot = no\nreverse lookup = no\nuid = 0\ngid = 0\n\
             [sec]\npath = {0}\nauth users = alice, bob:deny\nsecrets file = {1}\n\
             [floor]\npath = {0}\nauth users = alice\nsecrets file = {1}\nauth digest = sha256\n",
            d.path().display(),
            sec.display()
        ),
    );
    let daemon = start(&rsync, &conf, &d.path().join("log"));
    let greetings = [
        (
            "@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4",
            AuthDigest::Sha512,
        ),
        ("@RSYNCD: 32.0 sha256", AuthDigest::Sha256),
        ("@RSYNCD: 32.0 md4 md5 sha1", AuthDigest::Sha1),
        ("@RSYNCD: 31.0 md5", AuthDigest::Md5),
        ("@RSYNCD: 31.0 md4", AuthDigest::Md4),
        ("@RSYNCD: 31.0 MD5", AuthDigest::Md5),
        ("@RSYNCD: 31.0", AuthDigest::Md5),
        ("@RSYNCD: 30.0", AuthDigest::Md5),
        ("@RSYNCD: 29", AuthDigest::Md4Old),
        ("@RSYNCD: 27", AuthDigest::Md4Old),
    ];
    for (g, want) in greetings {
        let cg = parse_client_greeting(g).unwrap();
        let digest = negotiate_auth_digest(cg.digests.as_deref(), cg.negotiated).unwrap();
        assert_eq!(digest, want, "{g}");
        for (pass, ok) in [("pw1", true), ("wrong", false)] {
            let seen = std::cell::RefCell::new(String::new());
            let answer = |chal: &str| {
                *seen.borrow_mut() = chal.to_string();
                format!("alice {}", auth_response(pass.as_bytes(), chal, digest))
            };
            let (server_greeting, lines) = session(daemon.port, g, "sec", Some(&answer));
            assert_eq!(server_greeting, "@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4");
            let chal = seen.borrow().clone();
            assert_eq!(
                chal.len(),
                (digest.digest_len() * 8).div_ceil(6),
                "{g}: challenge length shows the digest"
            );
            let last = lines.last().unwrap();
            if ok {
                assert_eq!(last, "@RSYNCD: OK", "{g}");
            } else {
                assert_eq!(last, "@ERROR: auth failed on module sec", "{g}");
            }
        }
    }
    // Denied user, unknown user: the same client text.
    for user in ["bob", "mallory"] {
        let answer =
            |chal: &str| format!("{user} {}", auth_response(b"pw1", chal, AuthDigest::Sha512));
        let (_, lines) = session(daemon.port, "@RSYNCD: 32.0 sha512", "sec", Some(&answer));
        assert_eq!(lines.last().unwrap(), "@ERROR: auth failed on module sec");
    }
    // The "auth digest" floor.
    for (g, d, ok) in [
        ("@RSYNCD: 32.0 md5", AuthDigest::Md5, false),
        ("@RSYNCD: 32.0 sha256", AuthDigest::Sha256, true),
        ("@RSYNCD: 32.0 sha512", AuthDigest::Sha512, true),
    ] {
        assert_eq!(
            check_digest_floor("sha256", d, "floor", "h", "a").is_ok(),
            ok
        );
        let answer = |chal: &str| format!("alice {}", auth_response(b"pw1", chal, d));
        let (_, lines) = session(daemon.port, g, "floor", Some(&answer));
        let want = if ok {
            "@RSYNCD: OK"
        } else {
            "@ERROR: auth failed on module floor"
        };
        assert_eq!(lines.last().unwrap(), want, "{g}");
    }
    // Greeting errors are worded as ours.
    for g in [
        "@RSYNCD: 32.0",
        "@RSYNCD: 30",
        "@RSYNCD: 32.0 foo bar",
        "garbage",
    ] {
        let (_, lines) = session(daemon.port, g, "sec", None);
        let ours = match parse_client_greeting(g) {
            Err(e) => e,
            Ok(cg) => negotiate_auth_digest(cg.digests.as_deref(), cg.negotiated).unwrap_err(),
        };
        assert_eq!(lines.last().unwrap(), &ours, "{g}");
    }
    drop(daemon);
    let log = log_lines(&d.path().join("log"));
    assert!(log.iter().any(|l| l
        == "auth failed on module sec from UNDETERMINED (127.0.0.1) for alice: password mismatch"));
    assert!(log
        .iter()
        .any(|l| l
            == "auth failed on module sec from UNDETERMINED (127.0.0.1) for bob: denied by rule"));
    assert!(log.iter().any(|l| {
        l == "auth failed on module sec from UNDETERMINED (127.0.0.1) for mallory: no matching rule"
    }));
}
