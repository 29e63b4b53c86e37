//! rsyncd.conf parsing tables (expected values worked out from params.c /
//! loadparm.c and, where marked, checked against rsync 3.5.0 by the
//! `real_rsync` tests).

use std::collections::HashMap;
use std::fs;

use gensync::daemon::config::{
    check_dparams, expand_vars, parse_bool, Config, LoadOptions, Value, L,
};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parse(text: &str) -> Config {
    let (c, ok) = Config::parse_str(text, &LoadOptions::default(), &env(&[]));
    assert!(ok, "parse failed: {:?}", c.log);
    c
}

fn logs(c: &Config) -> Vec<String> {
    c.log.iter().map(|l| l.text.clone()).collect()
}

#[test]
fn names_case_spaces_and_types() {
    let c = parse(
        "Read Only = false\n  READONLY=yes\n[m]\n\tpath = /srv/x///\n  max   connections = 12abc\n\
         TimeOut = -5\nsyslog facility = LOCAL3\nlist=0\nuse chroot = unset\nnumeric ids = 1\n\
         address = 1.2.3.4\n",
    );
    let m = c.module(0).unwrap();
    assert_eq!(m.name(), "m");
    assert!(m.read_only());
    assert_eq!(m.path(), "/srv/x");
    assert_eq!(m.max_connections(), 12);
    assert_eq!(m.timeout(), -5);
    assert_eq!(m.syslog_facility(), libc::LOG_LOCAL3);
    assert!(!m.list());
    assert_eq!(m.use_chroot(), None);
    assert_eq!(m.numeric_ids(), Some(true));
    // "address" is global-only.
    assert_eq!(
        logs(&c),
        ["Global parameter address found in module section!"]
    );
    assert_eq!(c.global().bind_address(), "");
    let c = parse("path = /\n[a]\n");
    assert_eq!(c.module(0).unwrap().path(), "/");
}

#[test]
fn defaults() {
    let c = parse("[m]\n");
    let m = c.module(0).unwrap();
    assert!(m.read_only() && m.list() && m.strict_modes() && m.forward_lookup());
    assert!(m.reverse_lookup() && !m.write_only() && !m.fake_super());
    assert_eq!(m.max_verbosity(), 1);
    assert_eq!(m.lock_file(), "/var/run/rsyncd.lock");
    assert_eq!(m.log_format(), "%o %h [%a] %m (%u) %f %l");
    assert_eq!(m.syslog_tag(), "rsyncd");
    assert_eq!(m.syslog_facility(), libc::LOG_DAEMON);
    assert!(m.dont_compress().starts_with("*.3g2 *.3gp *.7z "));
    assert!(m.dont_compress().ends_with(" *.zip *.zst"));
    assert_eq!(m.path(), "");
    assert_eq!(c.global().listen_backlog(), 5);
    assert_eq!(c.global().rsync_port(), 0);
    assert!(!c.global().proxy_protocol());
}

#[test]
fn booleans() {
    for (v, want) in [
        ("yes", Some(Some(true))),
        ("YES", Some(Some(true))),
        (" y e s", Some(Some(true))),
        ("true", Some(Some(true))),
        ("1", Some(Some(true))),
        ("no", Some(Some(false))),
        ("False", Some(Some(false))),
        ("0", Some(Some(false))),
        ("on", None),
        ("off", None),
        ("2", None),
        ("", None),
        ("unset", None),
    ] {
        assert_eq!(parse_bool(v, false), want, "{v:?}");
    }
    assert_eq!(parse_bool("unset", true), Some(None));
    assert_eq!(parse_bool("-1", true), Some(None));
    let c = parse("[m]\nread only = no\nread only = maybe\n");
    assert!(
        !c.module(0).unwrap().read_only(),
        "a bad value leaves the old one"
    );
    assert_eq!(
        logs(&c),
        ["Badly formed boolean in configuration file: \"maybe\"."]
    );
}

#[test]
fn lexing() {
    // Checked against rsync 3.5.0 (see real_rsync.rs): continuation keeps
    // the next line's leading blanks; '#' inside a value is literal;
    // trailing blanks and CR are dropped; text after ']' is ignored.
    let c = parse(
        "# comment\n; other comment\n   \n[ mod   one ]  trailing junk\n\
         comment = hello \\\n   world   # not a comment   \r\n\
         \\ stray backslash line\n\
         exclude = a\\\n\\\nb\n\
         include = x \\",
    );
    let m = c.module(0).unwrap();
    assert_eq!(m.name(), "mod one");
    assert_eq!(m.comment(), "hello    world   # not a comment");
    assert_eq!(m.exclude(), "ab");
    // At EOF there is no newline, so no continuation: the backslash stays.
    assert_eq!(m.include(), "x \\");
    // The stray-backslash line is skipped at its backslash, then read as a
    // parameter line without '=' (a badly formed line).
    assert_eq!(
        logs(&c),
        ["params.c:Parameter() - Ignoring badly formed line in config file: stray backslash line"]
    );
    // Name continuation and folded blanks.
    let c = parse("[m]\nread \\\n   only = no\n");
    assert!(!c.module(0).unwrap().read_only());
    // "name = \n" gives an empty value.
    let c = parse("[m]\ncomment =\nlist = no");
    assert_eq!(c.module(0).unwrap().raw_string(L::Comment), Some(""));
    assert!(!c.module(0).unwrap().list());
}

#[test]
fn section_errors() {
    for (text, msg) in [
        (
            "[]\n",
            "params.c:Section() - Empty section name in config file.",
        ),
        (
            "[a/b]\n",
            "Warning: invalid section name in configuration file: a/b",
        ),
        (
            "[abc\n",
            "params.c:Section() - Badly formed line in config file: abc",
        ),
        (
            "[abc",
            "params.c:Section() - Unexpected EOF in the config file: abc",
        ),
        (
            "= x\n",
            "params.c:Parameter() - Invalid parameter name in config file.",
        ),
        ("&bogus x\n", "Unknown directive: &bogus."),
    ] {
        let (c, ok) = Config::parse_str(text, &LoadOptions::default(), &env(&[]));
        assert!(!ok, "{text:?}");
        let l = logs(&c);
        assert_eq!(l[0], msg, "{text:?}");
        assert_eq!(
            l.last().unwrap(),
            "params.c:pm_process() - Failed.  Error returned from params.c:parse()."
        );
    }
    let (c, ok) = Config::parse_str("[a]\npath", &LoadOptions::default(), &env(&[]));
    assert!(ok);
    assert_eq!(
        logs(&c),
        ["params.c:Parameter() - Unexpected end-of-file at: path"]
    );
}

#[test]
fn unknown_parameters() {
    // Text checked against rsync 3.5.0's log.
    let c = parse("bogus thing = 1\n[m]\n-weird = 1\npostxfer exec = y\npost-xfer exec = x\n");
    assert_eq!(
        logs(&c),
        [
            "Unknown Parameter encountered: \"bogus thing\"",
            "IGNORING unknown parameter \"bogus thing\"",
            "IGNORING unknown parameter \"-weird\"",
            "Unknown Parameter encountered: \"postxfer exec\"",
            "IGNORING unknown parameter \"postxfer exec\"",
        ]
    );
    assert_eq!(c.module(0).unwrap().raw_string(L::PostXferExec), Some("x"));
}

#[test]
fn sections_merge_and_fallback() {
    let c = parse(
        "comment = g1\nread only = no\n[Mod One]\npath=/a\n[b]\n[mod  one]\ncomment = again\n\
         [global]\ncomment = g2\nlock file = /late\nread only = yes\n[c]\n",
    );
    assert_eq!(c.num_modules(), 3);
    let a = c.module(0).unwrap();
    assert_eq!(a.name(), "Mod One");
    assert_eq!((a.path().as_str(), a.comment().as_str()), ("/a", "again"));
    // b copied comment=g1 and read only=no when it started.
    let b = c.module(1).unwrap();
    assert_eq!(b.comment(), "g1");
    assert!(!b.read_only());
    // A string set nowhere for the module reads the final default.
    assert_eq!(b.lock_file(), "/var/run/rsyncd.lock"); // default was copied
    assert_eq!(b.raw_string(L::Charset), None);
    let c2 = c.module(2).unwrap();
    assert_eq!(c2.lock_file(), "/late");
    assert!(c2.read_only());
    assert_eq!(c.defaults().comment(), "g2");
    // Lookup by exact (case-sensitive) name.
    assert!(c.find_module("Mod One").is_some());
    assert!(c.find_module("mod one").is_none());
    // A later global string reaches a module whose own value is unset.
    let c = parse("[a]\n[global]\nhosts allow = 10.0.0.1\n");
    assert_eq!(c.module(0).unwrap().hosts_allow(), "10.0.0.1");
}

#[test]
fn var_expansion() {
    let e = env(&[
        ("HOME", "/root"),
        ("RSYNC_USER_NAME", "bob"),
        ("FLAG", "no"),
    ]);
    assert_eq!(
        expand_vars("%HOME% and %nope% and %lower% %NOPE%x% 100%", false, &e).unwrap(),
        "/root and %nope% and %lower% %NOPE%x% 100%"
    );
    assert_eq!(
        expand_vars("/home/%RSYNC_USER_NAME%", false, &e).unwrap(),
        "/home/bob"
    );
    // Hooks: peer values are quoted for their context, or refused.
    assert_eq!(
        expand_vars("echo %RSYNC_USER_NAME%", true, &e).unwrap(),
        "echo 'bob'"
    );
    assert_eq!(
        expand_vars("echo '%RSYNC_USER_NAME%'", true, &e).unwrap(),
        "echo 'bob'"
    );
    assert_eq!(
        expand_vars("echo \"%RSYNC_USER_NAME%\"", true, &e).unwrap(),
        "echo \"'bob'\""
    );
    assert_eq!(expand_vars("echo %HOME%", true, &e).unwrap(), "echo /root");
    let bad = env(&[("RSYNC_USER_NAME", "x;rm")]);
    let err = expand_vars("echo %RSYNC_USER_NAME%", true, &bad).unwrap_err();
    assert_eq!(
        err.to_error("").msg,
        "refusing to run shell hook: %RSYNC_USER_NAME% holds a shell metacharacter"
    );
    assert_eq!(
        expand_vars("%RSYNC_USER_NAME%", false, &bad).unwrap(),
        "x;rm"
    );

    // Booleans are expanded while parsing, strings when read.
    let (c, ok) = Config::parse_str(
        "[m]\nread only = %FLAG%\npost-xfer exec = run %RSYNC_USER_NAME%\n",
        &LoadOptions::default(),
        &e,
    );
    assert!(ok);
    let m = c.module(0).unwrap();
    assert!(!m.read_only());
    assert_eq!(m.raw_string(L::PostXferExec), Some("run %RSYNC_USER_NAME%"));
    assert_eq!(m.post_xfer_exec(&e).unwrap(), "run 'bob'");
    assert_eq!(m.string_with_env(L::PostXferExec, &e), "run bob");
}

#[test]
fn include_and_merge() {
    // The same layout was run through rsync 3.5.0 (real_rsync.rs) and
    // listed the same modules with the same comments.
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n).to_str().unwrap().to_string();
    fs::create_dir(p("inc.d")).unwrap();
    fs::write(p("inc1.conf"), "comment = fromincl\n[i1]\npath = /tmp\n").unwrap();
    fs::write(p("m.inc"), "comment = frommerge\n[m1]\npath = /tmp\n").unwrap();
    fs::write(p("inc.d/b.conf"), "comment = d1\n[x1]\npath=/tmp\n").unwrap();
    fs::write(p("inc.d/a.conf"), "[x0]\npath=/tmp\n").unwrap();
    fs::write(p("inc.d/c.conf"), "comment = zz\n[x2]\npath=/tmp\n").unwrap();
    fs::write(p("inc.d/d.inc"), "comment = inc\n[x3]\npath=/tmp\n").unwrap();
    let main = format!(
        "comment = globalc\n[b]\npath = /tmp\n&include {}\n[c]\npath = /tmp\n&merge {}\n\
         [d]\npath=/tmp\n&include {}\n[e]\npath=/tmp\n&merge = {}\n[f]\n",
        p("inc1.conf"),
        p("m.inc"),
        p("inc.d"),
        p("inc.d"),
    );
    fs::write(p("main.conf"), &main).unwrap();
    let c = Config::load(
        d.path().join("main.conf").as_path(),
        &LoadOptions::default(),
    )
    .unwrap();
    let got: Vec<(String, String)> = c.modules().map(|m| (m.name(), m.comment())).collect();
    let want = [
        ("b", "globalc"),
        ("i1", "fromincl"),
        ("c", "frommerge"),
        ("m1", "globalc"),
        ("d", "globalc"),
        ("x0", "globalc"),
        ("x1", "d1"),
        ("x2", "zz"),
        // &merge of the dir takes *.inc only and continues in [e]... but
        // the merge file starts with "comment = inc" inside [e].
        ("e", "inc"),
        ("x3", "globalc"),
        ("f", "globalc"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want);

    // A missing include fails the load with upstream's lines.
    fs::write(p("bad.conf"), format!("[a]\n&include {}\n", p("nope.conf"))).unwrap();
    let e = Config::load(d.path().join("bad.conf").as_path(), &LoadOptions::default()).unwrap_err();
    assert!(e.msg.contains(&format!(
        "unable to stat config file \"{}\": No such file or directory (2)",
        p("nope.conf")
    )));
    assert!(e
        .msg
        .ends_with("params.c:pm_process() - Failed.  Error returned from params.c:parse()."));
    // After an &include the parent file is back in the global part.
    fs::write(
        p("after.conf"),
        format!("[a]\n&include {}\ncomment = after\n[z]\n", p("inc1.conf")),
    )
    .unwrap();
    let c = Config::load(
        d.path().join("after.conf").as_path(),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(c.find_module("a").unwrap().comment(), "after");
    assert_eq!(c.find_module("z").unwrap().comment(), "after");
}

#[test]
fn dparams() {
    assert!(check_dparams(&["pid file=/x".into(), "readonly = no".into()]).is_ok());
    assert_eq!(
        check_dparams(&["bogus=1".into()]).unwrap_err().msg,
        "Unknown parameter \"bogus\""
    );
    assert_eq!(
        check_dparams(&["bogus".into()]).unwrap_err().msg,
        "--dparam value is missing an '=': bogus"
    );
    let opts = LoadOptions {
        globals_only: false,
        dparams: vec!["read only=  no".into(), "port=9999".into()],
    };
    let text = "read only = yes\nport = 1\n[a]\n[b]\nread only = yes\n";
    let (c, ok) = Config::parse_str(text, &opts, &env(&[]));
    assert!(ok);
    // Applied at the end of the global part: they win over the file's
    // global lines and lose to module lines.
    assert!(!c.module(0).unwrap().read_only());
    assert!(c.module(1).unwrap().read_only());
    assert_eq!(c.global().rsync_port(), 9999);
    // Globals-only: stops at the first section, then applies them.
    let opts = LoadOptions {
        globals_only: true,
        dparams: vec!["pid file=/run/x.pid".into()],
    };
    let (c, ok) = Config::parse_str("port = 5\n[a]\nbogus\n", &opts, &env(&[]));
    assert!(ok);
    assert_eq!(c.num_modules(), 0);
    assert_eq!(c.global().pid_file(), "/run/x.pid");
    assert_eq!(c.global().rsync_port(), 5);
    assert!(c.log.is_empty());
    assert_eq!(
        *c.global().raw(gensync::daemon::config::G::RsyncPort),
        Value::Int(5)
    );
}
