//! Differential tests of local transfers: each scenario is built once, copied
//! twice, and real rsync runs on one copy while the binary under test runs on
//! the other with identical arguments. The resulting trees, exit codes and
//! normalised stdout/stderr must be identical.

use std::fs;
use std::path::{Path, PathBuf};

use crate::tree::{self, Profile};

/// `diff_test!(name, setup, "arg", ...)`: one differential #[test]; the
/// submodules below use it too (textual macro scope).
macro_rules! diff_test {
    ($name:ident, $setup:ident, $($arg:expr),+ $(,)?) => {
        #[test]
        fn $name() {
            let scn = $setup(stringify!($name));
            differential(stringify!($name), &scn, &[$($arg),+], &Cfg::default());
        }
    };
}

mod backup;
mod hardlinks;
mod landing;
mod limits;
mod links;
mod metadata;
mod relative;
use crate::util::{self, Norm, Output, RunOpts};

/// A scenario's fixture: `setup/` holds whatever the arguments refer to
/// (normally `src/` and maybe `dst/`), relative to the working directory.
pub struct Scenario {
    dir: tempfile::TempDir,
    seed: u64,
}

impl Scenario {
    pub fn new(name: &str) -> Scenario {
        // Anchor the "now" threshold of snapshots before anything is made.
        tree::process_start_secs();
        let dir = tempfile::Builder::new()
            .prefix(&format!("gensync-{name}-"))
            .tempdir()
            .unwrap();
        fs::create_dir(dir.path().join("setup")).unwrap();
        // Different tests get different (but fixed) trees.
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        Scenario { dir, seed }
    }
    pub fn setup(&self) -> PathBuf {
        self.dir.path().join("setup")
    }
    /// `src/` from the standard profile.
    pub fn src(self) -> Scenario {
        self.src_with(&Profile::standard())
    }
    pub fn src_with(self, prof: &Profile) -> Scenario {
        tree::generate(&self.setup().join("src"), self.seed, prof);
        self
    }
    /// `dst/` as an older, edited version of `src/`.
    pub fn dst_mutated(self) -> Scenario {
        let dst = self.setup().join("dst");
        fs::create_dir(&dst).unwrap();
        util::copy_tree(&self.setup().join("src"), &dst);
        tree::mutate(&dst, self.seed);
        self
    }
    /// `dst/` identical to `src/`: a re-run must find nothing to do.
    pub fn dst_synced(self) -> Scenario {
        let dst = self.setup().join("dst");
        fs::create_dir(&dst).unwrap();
        util::copy_tree(&self.setup().join("src"), &dst);
        self
    }
    /// Arbitrary extra fixture work.
    pub fn with(self, f: impl FnOnce(&Path)) -> Scenario {
        f(&self.setup());
        self
    }
}

#[derive(Default, Clone)]
pub struct Cfg {
    /// Hide protocol byte counts (only where they legitimately vary).
    pub mask_totals: bool,
    /// Run both binaries as this uid/gid (root only); see `unreadable_file`.
    pub as_user: Option<(u32, u32)>,
    pub env: Vec<(String, String)>,
}

struct Run {
    root: PathBuf,
    out: Output,
    norm_stdout: String,
    norm_stderr: String,
    snap: tree::Snapshot,
}

fn run_copy(scn: &Scenario, label: &str, prog: &Path, args: &[&str], cfg: &Cfg) -> Run {
    let root = scn.dir.path().join(label);
    fs::create_dir(&root).unwrap();
    util::copy_tree(&scn.setup(), &root);
    if let Some((uid, gid)) = cfg.as_user {
        let owner = format!("{uid}:{gid}");
        util::sh("chown", &["-R".as_ref(), owner.as_ref(), root.as_os_str()]);
        // The temp dir itself is 0700: let the unprivileged user in.
        util::sh("chmod", &["755".as_ref(), scn.dir.path().as_os_str()]);
        if let Some(f) = &cfg_unreadable(&root) {
            util::sh("chmod", &["000".as_ref(), f.as_os_str()]);
        }
    }
    let opts = RunOpts {
        as_user: cfg.as_user,
        env: cfg.env.clone(),
    };
    let out = util::run(prog, args, &root, &opts);
    let mut roots = vec![root.to_string_lossy().into_owned()];
    if let Ok(c) = root.canonicalize() {
        roots.push(c.to_string_lossy().into_owned());
    }
    let norm = Norm {
        roots,
        mask_totals: cfg.mask_totals,
    };
    Run {
        norm_stdout: util::normalize(&out.stdout, &norm),
        norm_stderr: util::normalize(&out.stderr, &norm),
        snap: tree::snapshot(&root),
        root,
        out,
    }
}

/// The unreadable-file scenario marks its victim with this name; ownership
/// changes would otherwise leave it readable to its new owner.
const UNREADABLE: &str = "src/alpha/unreadable";

fn cfg_unreadable(root: &Path) -> Option<PathBuf> {
    let p = root.join(UNREADABLE);
    p.exists().then_some(p)
}

/// Why two runs differ, or `None` when they match.
/// `unordered_ok`: rsync has been seen to order its own output differently
/// between runs (see `differential`).
fn compare(exp: &Run, act: &Run, unordered_ok: bool) -> Option<String> {
    let mut msg = String::new();
    if exp.out.code != act.out.code {
        msg += &format!("exit code: rsync {} vs {}\n", exp.out.code, act.out.code);
    }
    let same = |e: &str, a: &str| {
        util::texts_equivalent(e, a) || util::same_interleaving_class(e, a, unordered_ok)
    };
    if !same(&exp.norm_stdout, &act.norm_stdout) {
        msg += &format!(
            "stdout differs (normalised):\n{}",
            util::text_diff(&exp.norm_stdout, &act.norm_stdout)
        );
    }
    if !same(&exp.norm_stderr, &act.norm_stderr) {
        msg += &format!(
            "stderr differs (normalised):\n{}",
            util::text_diff(&exp.norm_stderr, &act.norm_stderr)
        );
    }
    let td = tree::diff(&exp.snap, &act.snap);
    if !td.is_empty() {
        msg += "resulting trees differ:\n";
        for l in td.iter().take(40) {
            msg += &format!("  {l}\n");
        }
        if td.len() > 40 {
            msg += &format!("  ... and {} more\n", td.len() - 40);
        }
    }
    (!msg.is_empty()).then_some(msg)
}

/// Run the scenario under both binaries and fail with a readable report on
/// any difference. When they differ, rsync is re-run on fresh copies: if one
/// of those runs matches the binary under test, the difference was rsync's
/// own nondeterminism, not a bug. The known source is the interleaving of
/// lines printed by the sender (transferred files, progress) with lines the
/// generator forwards through it (directories, skips, deletions), which
/// depends on scheduling; if rsync's runs are seen to differ, outputs are
/// also accepted when only that interleaving differs.
pub fn differential(name: &str, scn: &Scenario, args: &[&str], cfg: &Cfg) {
    let up = crate::upstream_or_skip!(name);
    let ut = util::under_test();
    let exp = run_copy(scn, "a", &up, args, cfg);
    let act = run_copy(scn, "b", &ut, args, cfg);
    let Some(first) = compare(&exp, &act, false) else {
        return;
    };
    let mut nondeterministic = false;
    // rsync's trees and exit codes have proven deterministic; only output
    // text varies, so re-running rsync is pointless for other differences.
    let reruns = if exp.out.code == act.out.code && tree::diff(&exp.snap, &act.snap).is_empty() {
        3
    } else {
        0
    };
    for i in 0..reruns {
        let again = run_copy(scn, &format!("a{i}"), &up, args, cfg);
        if compare(&again, &act, false).is_none() {
            return;
        }
        if compare(&exp, &again, false).is_some() {
            nondeterministic = true;
        }
        // The same scheduling race exists on our side (messages overtaking
        // buffered stream data between threads), so our output gets the
        // same number of chances as rsync's.
        let act_again = run_copy(scn, &format!("b{i}"), &ut, args, cfg);
        if compare(&exp, &act_again, false).is_none()
            || compare(&again, &act_again, false).is_none()
        {
            return;
        }
    }
    if nondeterministic && compare(&exp, &act, true).is_none() {
        return;
    }
    panic!(
        "{name}: `{} {}` differs from rsync{}\n{first}\n--- rsync (raw) exit {} in {}\nstdout:\n{}\
         stderr:\n{}\n--- {} (raw) exit {} in {}\nstdout:\n{}stderr:\n{}",
        ut.display(),
        args.join(" "),
        if nondeterministic {
            " (rsync itself varied between runs)"
        } else {
            ""
        },
        exp.out.code,
        exp.root.display(),
        exp.out.stdout,
        exp.out.stderr,
        ut.display(),
        act.out.code,
        act.root.display(),
        act.out.stdout,
        act.out.stderr,
    );
}

fn fresh(name: &str) -> Scenario {
    Scenario::new(name).src()
}
fn mutated(name: &str) -> Scenario {
    Scenario::new(name).src().dst_mutated()
}
fn synced(name: &str) -> Scenario {
    Scenario::new(name).src().dst_synced()
}

// Transfer modes and trailing-slash semantics.
diff_test!(archive, fresh, "-a", "-i", "src/", "dst/");
diff_test!(archive_no_trailing_slash, fresh, "-a", "-i", "src", "dst/");
diff_test!(
    archive_no_slash_dest_missing,
    fresh,
    "-a",
    "-i",
    "src",
    "dst"
);
diff_test!(archive_into_existing, mutated, "-a", "-i", "src", "dst");
diff_test!(archive_resync_is_noop, synced, "-a", "-i", "src/", "dst/");
diff_test!(
    archive_long_options,
    fresh,
    "--archive",
    "--itemize-changes",
    "src/",
    "dst/"
);
diff_test!(recursive, fresh, "-r", "-i", "src/", "dst/");
diff_test!(recursive_over_mutated, mutated, "-r", "-i", "src/", "dst/");
diff_test!(dirs, fresh, "-d", "-i", "src/", "dst/");
diff_test!(dirs_no_slash, fresh, "-d", "-i", "src", "dst/");
diff_test!(no_recursion_skips_dir, fresh, "-i", "src", "dst/");
diff_test!(links, fresh, "-r", "-l", "-i", "src/", "dst/");
diff_test!(perms, fresh, "-r", "-p", "-i", "src/", "dst/");
diff_test!(
    perms_over_mutated,
    mutated,
    "-r",
    "-p",
    "-i",
    "src/",
    "dst/"
);
diff_test!(times, fresh, "-r", "-t", "-i", "src/", "dst/");
diff_test!(
    times_over_mutated,
    mutated,
    "-r",
    "-t",
    "-i",
    "src/",
    "dst/"
);
diff_test!(owner, fresh, "-r", "-o", "-i", "src/", "dst/");
diff_test!(group, fresh, "-r", "-g", "-i", "src/", "dst/");
diff_test!(
    numeric_ids,
    fresh,
    "-a",
    "--numeric-ids",
    "-i",
    "src/",
    "dst/"
);
diff_test!(
    devices_and_specials,
    fresh,
    "-r",
    "-D",
    "-i",
    "src/",
    "dst/"
);
diff_test!(devices_only, fresh, "-r", "--devices", "-i", "src/", "dst/");
diff_test!(
    specials_only,
    fresh,
    "-r",
    "--specials",
    "-i",
    "src/",
    "dst/"
);
diff_test!(archive_minus_d_combo, fresh, "-rlptD", "-i", "src/", "dst/");

// Verbosity and output formats.
diff_test!(verbose, fresh, "-a", "-v", "src/", "dst/");
diff_test!(verbose_over_mutated, mutated, "-a", "-v", "src/", "dst/");
/// -vv adds one message frame per unchanged file ("X is uptodate"); how the
/// stream bytes around them are framed differs between implementations (and
/// between runs of rsync), so the byte totals are masked here only.
#[test]
fn very_verbose() {
    let scn = mutated("very_verbose");
    let cfg = Cfg {
        mask_totals: true,
        ..Cfg::default()
    };
    differential("very_verbose", &scn, &["-a", "-vv", "src/", "dst/"], &cfg);
}
diff_test!(quiet, mutated, "-a", "-q", "src/", "dst/");
diff_test!(
    recursive_verbose_no_links,
    fresh,
    "-r",
    "-v",
    "src/",
    "dst/"
);
diff_test!(itemize_twice, mutated, "-a", "-ii", "src/", "dst/");
diff_test!(itemize_twice_synced, synced, "-a", "-ii", "src/", "dst/");
diff_test!(
    out_format,
    mutated,
    "-a",
    "--out-format=%i %n %l %b",
    "src/",
    "dst/"
);
diff_test!(
    out_format_with_verbose,
    fresh,
    "-a",
    "-v",
    "--out-format=%n|%l|%i",
    "src/",
    "dst/"
);
diff_test!(stats, mutated, "-a", "--stats", "src/", "dst/");
diff_test!(
    stats_verbose_fresh,
    fresh,
    "-a",
    "-v",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(
    human_readable,
    mutated,
    "-a",
    "-h",
    "-v",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(
    human_readable_twice,
    fresh,
    "-a",
    "-hh",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(progress, mutated, "-a", "--progress", "src/", "dst/");
diff_test!(partial_progress, mutated, "-a", "-P", "-i", "src/", "dst/");
diff_test!(list_only, fresh, "--list-only", "src/");
diff_test!(list_only_recursive, fresh, "-a", "--list-only", "src/");
diff_test!(list_only_no_slash, fresh, "-r", "--list-only", "src");

// Dry run.
diff_test!(dry_run, mutated, "-a", "-n", "-i", "src/", "dst/");
/// A dry run into a missing destination sends one small itemize burst per
/// directory list; how many frames those take depends on thread timing (for
/// rsync on process timing), so the byte totals are masked here only.
#[test]
fn dry_run_fresh_verbose() {
    let scn = fresh("dry_run_fresh_verbose");
    let cfg = Cfg {
        mask_totals: true,
        ..Cfg::default()
    };
    differential(
        "dry_run_fresh_verbose",
        &scn,
        &["-a", "-n", "-v", "src/", "dst/"],
        &cfg,
    );
}
diff_test!(
    dry_run_delete,
    mutated,
    "-a",
    "-n",
    "--delete",
    "-i",
    "src/",
    "dst/"
);

// Quick check and its overrides.
diff_test!(whole_file, mutated, "-a", "-W", "-i", "src/", "dst/");
diff_test!(
    no_whole_file,
    mutated,
    "-a",
    "--no-whole-file",
    "-i",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(checksum, mutated, "-a", "-c", "-i", "src/", "dst/");
diff_test!(
    size_only,
    mutated,
    "-a",
    "--size-only",
    "-i",
    "src/",
    "dst/"
);
diff_test!(ignore_times, mutated, "-a", "-I", "-i", "src/", "dst/");
diff_test!(
    modify_window,
    mutated,
    "-a",
    "--modify-window=1",
    "-i",
    "src/",
    "dst/"
);
diff_test!(update, mutated, "-a", "-u", "-i", "src/", "dst/");
diff_test!(existing, mutated, "-a", "--existing", "-i", "src/", "dst/");
diff_test!(
    ignore_existing,
    mutated,
    "-a",
    "--ignore-existing",
    "-i",
    "src/",
    "dst/"
);
diff_test!(one_file_system, fresh, "-a", "-x", "-i", "src/", "dst/");

// Delta engine knobs.
diff_test!(
    block_size,
    mutated,
    "-a",
    "--no-whole-file",
    "--block-size=1024",
    "-i",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(
    checksum_choice_md5,
    mutated,
    "-a",
    "--no-whole-file",
    "--checksum-choice=md5",
    "-i",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(
    checksum_choice_xxh64,
    mutated,
    "-a",
    "--no-whole-file",
    "--checksum-choice=xxh64",
    "-i",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(
    checksum_choice_md4,
    mutated,
    "-a",
    "--no-whole-file",
    "--checksum-choice=md4",
    "-i",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(
    checksum_choice_md5_with_c,
    mutated,
    "-a",
    "-c",
    "--checksum-choice=md5",
    "-i",
    "src/",
    "dst/"
);
diff_test!(
    checksum_seed,
    mutated,
    "-a",
    "--no-whole-file",
    "--checksum-seed=1",
    "-i",
    "--stats",
    "src/",
    "dst/"
);

// Deletion, directory creation and times.
diff_test!(delete, mutated, "-a", "--delete", "-i", "src/", "dst/");
diff_test!(
    delete_verbose_recursive,
    mutated,
    "-r",
    "--delete",
    "-v",
    "src/",
    "dst/"
);
diff_test!(
    delete_no_slash,
    mutated,
    "-a",
    "--delete",
    "-i",
    "src",
    "dst/"
);
diff_test!(mkpath, fresh, "-a", "--mkpath", "-i", "src/", "a/b/c/dst/");
diff_test!(
    mkpath_single_file,
    fresh,
    "-a",
    "--mkpath",
    "-i",
    "src/hl-x",
    "x/y/z/"
);
diff_test!(
    omit_dir_times,
    mutated,
    "-a",
    "--omit-dir-times",
    "-i",
    "src/",
    "dst/"
);
diff_test!(
    omit_dir_times_short,
    fresh,
    "-a",
    "-O",
    "-i",
    "src/",
    "dst/"
);

// Source shapes.
diff_test!(
    several_sources,
    fresh,
    "-a",
    "-i",
    "src/alpha",
    "src/beta/",
    "src/hl-x",
    "dst/"
);
diff_test!(single_file, fresh, "-a", "-i", "src/hl-x", "dst/");
diff_test!(single_file_rename, fresh, "-a", "-i", "src/hl-x", "renamed");
diff_test!(
    single_file_over_mutated,
    mutated,
    "-a",
    "-i",
    "--no-whole-file",
    "src/alpha/hl-a",
    "dst/alpha/hl-a"
);
diff_test!(
    missing_source,
    fresh,
    "-a",
    "-i",
    "src/no-such-file",
    "dst/"
);
diff_test!(
    missing_and_present_sources,
    fresh,
    "-a",
    "-i",
    "src/nope",
    "src/alpha",
    "dst/"
);
diff_test!(
    odd_names_as_args,
    fresh,
    "-a",
    "-i",
    "src/alpha/with space.txt",
    "src/alpha/-leading-dash",
    "src/dir with space",
    "dst/"
);

/// Names are escaped according to the locale (`\#ooo` for bytes that are not
/// printable); under a UTF-8 locale valid multibyte names print as they are.
#[test]
fn utf8_locale_names() {
    let scn = fresh("utf8_locale_names");
    let cfg = Cfg {
        env: vec![("LC_ALL".into(), "C.UTF-8".into())],
        ..Cfg::default()
    };
    differential(
        "utf8_locale_names",
        &scn,
        &["-a", "-i", "src/", "dst/"],
        &cfg,
    );
}

/// A file the sender cannot read: error message and exit 23, rest of the
/// tree transferred. Root reads everything, so as root (CI) both binaries
/// are run as an unprivileged uid on a tree that uid owns.
#[test]
fn unreadable_file() {
    let scn = Scenario::new("unreadable_file")
        .src_with(&Profile::plain())
        .with(|s| fs::write(s.join(UNREADABLE), b"cannot read me\n").unwrap());
    let mut cfg = Cfg::default();
    if util::is_root() {
        let probe = util::run(
            &util::under_test(),
            &["--version"],
            Path::new("/"),
            &RunOpts {
                as_user: Some((65534, 65534)),
                ..RunOpts::default()
            },
        );
        if probe.code != 0 {
            eprintln!(
                "SKIP: unreadable_file: binary under test not runnable as uid 65534 \
                 (is its directory traversable?)"
            );
            return;
        }
        cfg.as_user = Some((65534, 65534));
    } else {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(
            scn.setup().join(UNREADABLE),
            fs::Permissions::from_mode(0o000),
        )
        .unwrap();
    }
    differential(
        "unreadable_file",
        &scn,
        &["-rt", "-i", "src/", "dst/"],
        &cfg,
    );
}

/// Delete may have to remove whole directories and replace files of another
/// type; with a changing subset of sources, `--delete` only acts inside the
/// transferred directories.
#[test]
fn delete_with_type_changes() {
    let scn = mutated("delete_with_type_changes").with(|s| {
        // A non-empty directory where the source has a file.
        let p = s.join("dst/hl-x");
        fs::remove_file(&p).unwrap();
        fs::create_dir(&p).unwrap();
        fs::write(p.join("inside"), b"in the way\n").unwrap();
    });
    differential(
        "delete_with_type_changes",
        &scn,
        &["-a", "--delete", "-i", "src/", "dst/"],
        &Cfg::default(),
    );
}

/// The one large-file scenario: a ~25 MiB file with scattered edits in the
/// destination, sent with the delta algorithm.
#[test]
fn large_file_delta() {
    let scn = Scenario::new("large_file_delta")
        .src_with(&Profile::plain())
        .with(|s| {
            let mut rng = tree::Rng::new(25);
            let mut data = rng.content(25 << 20);
            fs::write(s.join("src/big.bin"), &data).unwrap();
            fs::create_dir(s.join("dst")).unwrap();
            // Edits at a few places, one insertion shifting everything after
            // it (so matches are found at unaligned offsets), and a cut tail.
            for at in [1000usize, 7 << 20, 13 << 20] {
                data[at..at + 3000].copy_from_slice(&rng.bytes(3000));
            }
            data.splice(9 << 20..9 << 20, rng.bytes(777));
            data.truncate(24 << 20);
            fs::write(s.join("dst/big.bin"), &data).unwrap();
            let t = filetime::FileTime::from_unix_time(1_200_000_000, 5);
            filetime::set_file_mtime(s.join("dst/big.bin"), t).unwrap();
            filetime::set_file_mtime(
                s.join("src/big.bin"),
                filetime::FileTime::from_unix_time(1_300_000_000, 0),
            )
            .unwrap();
        });
    differential(
        "large_file_delta",
        &scn,
        &[
            "-a",
            "--no-whole-file",
            "-i",
            "--stats",
            "src/big.bin",
            "dst/",
        ],
        &Cfg::default(),
    );
}
