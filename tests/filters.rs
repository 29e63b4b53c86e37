//! Differential filter suite: seeded random rule lists over generated trees,
//! each transferred by real rsync (the oracle) and by the binary under test
//! on fresh copies of the same fixture. Every combination must give the same
//! resulting tree, `-i` output (the `*deleting` lines included), exit code
//! and (normalised) error text.
//!
//! Rules come from a grammar of patterns (anchors, trailing slashes, `*`,
//! `**`, `***`, `?`, classes, escapes), long and short rule names, modifiers,
//! merge and dir-merge rules, `-F`, `-C`, `--exclude`/`--include`, rule files
//! (`--exclude-from`, `--include-from`) and per-directory files in the trees
//! (`.rsync-filter`, `.cvsignore`, `.rules2`, nested `.inner`), crossed with
//! the delete modes (`--delete`, `-before`, `-during`, `-delay`, `-after`,
//! `--delete-excluded`, `--max-delete`) and `--ignore-errors`.
//!
//! Local runs cover most combinations; the remote-shell tests run a share of
//! them with real rsync as the other end, in both directions.
//!
//! GENSYNC_FILTER_SEED and GENSYNC_FILTER_SETS change the seed and the
//! number of combinations per test.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::tree::{self, Rng};
use crate::util::{self, Norm, RunOpts};

const LSH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/compat/tools/lsh");

fn pick<'a, T>(r: &mut Rng, v: &'a [T]) -> &'a T {
    &v[r.below(v.len() as u64) as usize]
}

fn chance(r: &mut Rng, pct: u64) -> bool {
    r.below(100) < pct
}

const FILE_NAMES: &[&str] = &[
    "a", "b.txt", "c.o", ".hidden", "x[1]", "sp ace", "foo~", "core", "a.c", "b.h", "tags",
    "tmp.tmp", "#x", "9lives", "UP", "keep.o", "d.bak", "q?", "star*", ",z", "e.rules",
];
const DIR_NAMES: &[&str] = &[
    "d1", "sub", "CVS", ".git", "a.d", "x[1]", "deep", "sp ace", "tmp",
];
const WORDS: &[&str] = &[
    "a", "b.txt", "c.o", "x[1]", "foo~", "core", "a.c", "sub", "d1", "deep", "tmp", "sp ace", "UP",
    "keep.o", "9lives", "x\\[1\\]", "star\\*", "CVS", ".git", "e.rules",
];

fn gen_component(r: &mut Rng) -> String {
    let lit = pick(r, WORDS).to_string();
    match r.below(14) {
        0 => "*".into(),
        1 => "*.o".into(),
        2 => "?.*".into(),
        3 => "[abc]*".into(),
        4 => "[!a-c]*".into(),
        5 => "[[:digit:]]*".into(),
        6 => "[[:upper:]]*".into(),
        7 => "*[~]".into(),
        8 => "d?".into(),
        9 => "**".into(),
        10 => "*.[ch]".into(),
        11 => "s*".into(),
        _ => lit,
    }
}

fn gen_pattern(r: &mut Rng) -> String {
    let n = 1 + r.below(3) as usize * usize::from(chance(r, 40));
    let mut parts: Vec<String> = (0..n).map(|_| gen_component(r)).collect();
    if chance(r, 10) {
        parts.push("***".into());
    }
    let mut p = parts.join("/");
    if chance(r, 25) {
        p.insert(0, '/');
    }
    if chance(r, 15) && !p.ends_with('/') {
        p.push('/');
    }
    p
}

fn gen_plain_rule(r: &mut Rng) -> String {
    let kinds = [
        "-", "+", "H", "S", "P", "R", "exclude", "include", "hide", "show", "protect", "risk",
    ];
    let k = pick(r, &kinds).to_string();
    let side_prefix = !matches!(k.as_str(), "-" | "+" | "exclude" | "include");
    let mut mods = String::new();
    for (m, pct) in [('!', 10), ('p', 5), ('s', 8), ('r', 8)] {
        if chance(r, pct) && (!side_prefix || !matches!(m, 's' | 'r')) {
            mods.push(m);
        }
    }
    let pat = gen_pattern(r);
    if mods.is_empty() {
        format!("{k} {pat}")
    } else if k.len() > 1 {
        format!("{k},{mods} {pat}")
    } else {
        format!("{k}{mods} {pat}")
    }
}

fn gen_perdir_file(r: &mut Rng, nested_ok: bool) -> String {
    let mut s = String::new();
    for _ in 0..1 + r.below(4) {
        match r.below(20) {
            0 => s.push_str("# comment\n"),
            1 => s.push('\n'),
            2 if chance(r, 30) => s.push_str("!\n"),
            3 if nested_ok => s.push_str(": .inner\n"),
            4 => s.push_str("- /e.rules\n"),
            _ => {
                s.push_str(&gen_plain_rule(r));
                s.push('\n');
            }
        }
    }
    s
}

/// A random tree; `merge_files` decides whether rule files appear in it.
fn make_tree(r: &mut Rng, root: &Path, depth: usize, merge_files: bool) {
    fs::create_dir_all(root).unwrap();
    for _ in 0..2 + r.below(5) {
        let n = pick(r, FILE_NAMES);
        let len = r.below(40) as usize;
        fs::write(root.join(n), r.bytes(len)).unwrap();
    }
    if merge_files {
        if chance(r, 45) {
            fs::write(root.join(".rsync-filter"), gen_perdir_file(r, true)).unwrap();
        }
        if chance(r, 30) {
            let words: Vec<&str> = (0..1 + r.below(3))
                .map(|_| *pick(r, &["*.h", "b.txt", "a", "!", "tags", "d1", "x[1]"]))
                .collect();
            fs::write(root.join(".cvsignore"), words.join(" ") + "\n").unwrap();
        }
        if chance(r, 25) {
            let text = gen_pattern(r) + "\n" + &gen_pattern(r) + "\n";
            fs::write(root.join(".rules2"), text).unwrap();
        }
        if chance(r, 15) {
            fs::write(root.join(".inner"), gen_perdir_file(r, false)).unwrap();
        }
    }
    if depth < 3 {
        for _ in 0..r.below(4) {
            let p = root.join(pick(r, DIR_NAMES));
            if p.is_file() {
                continue;
            }
            make_tree(r, &p, depth + 1, merge_files);
        }
    }
}

/// Fixed times everywhere, so `-a` itemizes the same on every copy.
fn stamp(root: &Path, secs: i64) {
    let t = filetime::FileTime::from_unix_time(secs, 0);
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p.clone());
            }
            filetime::set_symlink_file_times(&p, t, t).unwrap();
        }
        filetime::set_symlink_file_times(&d, t, t).unwrap();
    }
}

/// One combination: the option words (rules and delete mode).
fn gen_args(r: &mut Rng, setup: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for _ in 0..1 + r.below(5) {
        let a = match r.below(26) {
            0 => "--filter=: .rsync-filter".into(),
            1 => "--filter=:n .rsync-filter".into(),
            2 => "--filter=:e .rsync-filter".into(),
            3 => "--filter=dir-merge,- .rules2".into(),
            4 => "--filter=:+ .rules2".into(),
            5 => "--filter=:C".into(),
            6 => "--filter=-C".into(),
            7 => "-F".into(),
            8 => "-C".into(),
            9 => format!("--filter=merge {}", setup.join("global.rules").display()),
            10 => "--filter=!".into(),
            11 => format!("--exclude-from={}", setup.join("ex.list").display()),
            12 | 13 => format!("--exclude={}", gen_pattern(r)),
            14 => format!("--include={}", gen_pattern(r)),
            15 => "--filter=: /.rsync-filter".into(),
            16 => format!("--include-from={}", setup.join("in.list").display()),
            17 if chance(r, 15) => format!(
                "--filter={}",
                pick(r, &["foo", "-z x", "! x", ":! .f", "+"])
            ),
            _ => format!("--filter={}", gen_plain_rule(r)),
        };
        v.push(a);
    }
    let modes: &[&[&str]] = &[
        &[],
        &["--delete"],
        &["--delete-before"],
        &["--delete-during"],
        &["--delete-delay"],
        &["--delete-after"],
        &["--delete-excluded"],
        &["--delete", "--delete-excluded"],
        &["--delete", "--max-delete=2"],
        &["--delete-after", "--max-delete=0"],
        &["--delete", "--ignore-errors"],
    ];
    v.extend(pick(r, modes).iter().map(|s| s.to_string()));
    v
}

/// A scenario directory: `setup/{src,dst,global.rules,ex.list,in.list}`.
fn make_fixture(seed: u64, base: &Path) -> PathBuf {
    let mut r = Rng::new(seed);
    let setup = base.join("setup");
    make_tree(&mut r, &setup.join("src"), 0, true);
    let dst_rules = chance(&mut r, 50);
    make_tree(&mut r, &setup.join("dst"), 0, dst_rules);
    let text = (0..3)
        .map(|_| gen_plain_rule(&mut r) + "\n")
        .collect::<String>();
    fs::write(setup.join("global.rules"), text).unwrap();
    let text = (0..2)
        .map(|_| gen_pattern(&mut r) + "\n")
        .collect::<String>();
    fs::write(setup.join("ex.list"), format!("# excluded\n{text}")).unwrap();
    let text = (0..2)
        .map(|_| gen_pattern(&mut r) + "\n")
        .collect::<String>();
    fs::write(setup.join("in.list"), text).unwrap();
    stamp(&setup.join("src"), 1_600_000_000);
    stamp(&setup.join("dst"), 1_500_000_000);
    setup
}

#[derive(Clone, Copy)]
enum Mode {
    Local,
    /// The client pushes to a server started through the loopback shell.
    Push,
    /// The client pulls.
    Pull,
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    snap: tree::Snapshot,
}

fn run_one(
    (client, server): (&Path, &Path),
    setup: &Path,
    work: &Path,
    args: &[String],
    mode: Mode,
) -> Outcome {
    let _ = fs::remove_dir_all(work);
    fs::create_dir_all(work).unwrap();
    util::copy_tree(&setup.join("dst"), work);
    let w = work.display();
    let s = setup.join("src");
    let s = s.display();
    let mut all: Vec<String> = vec!["-ai".into()];
    all.extend(args.iter().cloned());
    match mode {
        Mode::Local => all.extend([format!("{s}/"), format!("{w}/")]),
        Mode::Push | Mode::Pull => {
            all.extend([
                "-e".into(),
                LSH.into(),
                format!("--rsync-path={}", server.display()),
            ]);
            match mode {
                Mode::Push => all.extend([format!("{s}/"), format!("localhost:{w}/")]),
                _ => all.extend([format!("localhost:{s}/"), format!("{w}/")]),
            }
        }
    }
    let home = setup.join("home");
    let _ = fs::create_dir_all(&home);
    let opts = RunOpts {
        env: vec![("HOME".into(), home.display().to_string())],
        ..RunOpts::default()
    };
    let out = util::run_with_timeout(client, &all, setup, &opts, Duration::from_secs(30));
    let norm = Norm {
        roots: vec![work.display().to_string(), setup.display().to_string()],
        mask_totals: false,
    };
    Outcome {
        code: out.code,
        stdout: util::normalize(&out.stdout, &norm),
        stderr: util::normalize(&out.stderr, &norm),
        snap: tree::snapshot(work),
    }
}

fn differs(exp: &Outcome, act: &Outcome) -> Option<String> {
    let mut msg = String::new();
    if exp.code != act.code {
        msg += &format!("exit code: rsync {} vs {}\n", exp.code, act.code);
    }
    // The deletion messages and the sender's itemized lines travel on
    // different paths, so their interleaving is timing (the same race
    // exists between rsync's processes); each class keeps its order.
    if !util::texts_equivalent(&exp.stdout, &act.stdout)
        && !util::same_interleaving_class(&exp.stdout, &act.stdout, false)
    {
        msg += &format!("stdout:\n{}", util::text_diff(&exp.stdout, &act.stdout));
    }
    if !util::texts_equivalent(&exp.stderr, &act.stderr) {
        msg += &format!("stderr:\n{}", util::text_diff(&exp.stderr, &act.stderr));
    }
    let td = tree::diff(&exp.snap, &act.snap);
    for l in td.iter().take(20) {
        msg += &format!("tree: {l}\n");
    }
    (!msg.is_empty()).then_some(msg)
}

/// Run `sets` combinations over fixtures derived from `seed`; in remote
/// modes `pairing` says which end is the binary under test.
fn suite(name: &str, seed: u64, sets: u64, mode: Mode, test_is_client: bool) {
    let up = crate::upstream_or_skip!(name);
    let ut = util::under_test();
    let seed = std::env::var("GENSYNC_FILTER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(seed);
    let sets = std::env::var("GENSYNC_FILTER_SETS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(sets);
    let base = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    // A fresh tree every 25 rule sets keeps fixture cost low.
    let mut setup = PathBuf::new();
    let mut r = Rng::new(seed ^ 0x5eed);
    for i in 0..sets {
        if i % 25 == 0 {
            let dir = base.path().join(format!("t{i}"));
            setup = make_fixture(seed.wrapping_add(i), &dir);
        }
        let args = gen_args(&mut r, &setup);
        let pair = match (mode, test_is_client) {
            (Mode::Local, _) => (ut.as_path(), ut.as_path()),
            (_, true) => (ut.as_path(), up.as_path()),
            (_, false) => (up.as_path(), ut.as_path()),
        };
        let work = setup.parent().unwrap().join("work");
        let exp = run_one((&up, &up), &setup, &work, &args, mode);
        let act = run_one(pair, &setup, &work, &args, mode);
        if let Some(d) = differs(&exp, &act) {
            failures.push(format!(
                "set {i} (seed {seed}): {args:?}\n{d}--- rsync stdout:\n{}\n--- rsync stderr:\n{}",
                exp.stdout, exp.stderr
            ));
            if failures.len() >= 5 {
                break;
            }
        }
    }
    if !failures.is_empty() {
        let kept = std::env::temp_dir().join("gensync-filter-kept").join(name);
        let _ = fs::remove_dir_all(&kept);
        fs::create_dir_all(&kept).unwrap();
        util::copy_tree(base.path(), &kept);
        panic!(
            "{name}: {} combination(s) differ from rsync (fixtures kept in {})\n{}",
            failures.len(),
            kept.display(),
            failures.join("\n")
        );
    }
}

#[test]
fn filters_local_a() {
    suite("filters_local_a", 1, 500, Mode::Local, true);
}

#[test]
fn filters_local_b() {
    suite("filters_local_b", 1_000_003, 500, Mode::Local, true);
}

#[test]
fn filters_local_c() {
    suite("filters_local_c", 2_000_003, 500, Mode::Local, true);
}

#[test]
fn filters_gensync_client_push() {
    suite("filters_gensync_client_push", 11, 100, Mode::Push, true);
}

#[test]
fn filters_gensync_client_pull() {
    suite("filters_gensync_client_pull", 12, 100, Mode::Pull, true);
}

#[test]
fn filters_gensync_server_push() {
    suite("filters_gensync_server_push", 13, 100, Mode::Push, false);
}

#[test]
fn filters_gensync_server_pull() {
    suite("filters_gensync_server_pull", 14, 100, Mode::Pull, false);
}
