//! How received data lands, against rsync: `--inplace`, `--append`,
//! `--append-verify`, `--partial-dir` (and RSYNC_PARTIAL_DIR), its implied
//! filter rule, `--delay-updates`, `-T`, `-S`, `--preallocate`, `--fsync`,
//! `--remove-source-files` and `--remove-sent-files`. Each test runs both
//! binaries on copies of one hand-made tree (see `differential`); the sparse
//! tests also compare the `stat` block counts, so holes must really be holes.

use super::{differential, Cfg, Scenario};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Deterministic bytes (xorshift), incompressible enough for real deltas.
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn put(setup: &Path, p: &str, data: &[u8]) {
    let p = setup.join(p);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

fn stamp(setup: &Path, p: &str, secs: i64) {
    let t = filetime::FileTime::from_unix_time(secs, 0);
    filetime::set_symlink_file_times(setup.join(p), t, t).unwrap();
}

/// `src/` with files that grew, shrank, were edited in the middle or left
/// alone, a symlink and a new file; `dst/` with the older versions.
fn tree(setup: &Path) {
    let big = noise(600_000, 1);
    put(setup, "src/grow.log", &big);
    put(setup, "dst/grow.log", &big[..250_001]);
    let mut edited = big[..300_000].to_vec();
    edited[1000] ^= 0x55;
    put(setup, "src/edited.log", &big[..400_000]);
    put(setup, "dst/edited.log", &edited);
    put(setup, "src/shrunk.log", &big[..2000]);
    put(setup, "dst/shrunk.log", &big[..9000]);
    put(setup, "src/same.txt", b"unchanged\n");
    put(setup, "dst/same.txt", b"unchanged\n");
    // Block-shuffled: matches at other offsets, the in-place rules' case.
    let mut shuffled = Vec::new();
    for chunk in big[..480_000].chunks(40_000).rev() {
        shuffled.extend_from_slice(chunk);
    }
    put(setup, "src/sub/shuffled.bin", &shuffled);
    put(setup, "dst/sub/shuffled.bin", &big[..480_000]);
    put(setup, "src/sub/new.txt", b"new\n");
    std::os::unix::fs::symlink("same.txt", setup.join("src/link")).unwrap();
    for f in [
        "grow.log",
        "edited.log",
        "shrunk.log",
        "same.txt",
        "sub/shuffled.bin",
    ] {
        stamp(setup, &format!("src/{f}"), 1_300_000_000);
        stamp(setup, &format!("dst/{f}"), 1_200_000_000);
    }
    stamp(setup, "dst/same.txt", 1_300_000_000);
    for d in [
        "src/sub/new.txt",
        "src/link",
        "src/sub",
        "src",
        "dst/sub",
        "dst",
    ] {
        stamp(setup, d, 1_100_000_000);
    }
}

fn landing(name: &str) -> Scenario {
    Scenario::new(name).with(tree)
}

/// The landing tree plus an interrupted earlier run: partial files in the
/// partial dirs `.pd` (one per directory) and a stale file there that
/// `--delete` must leave alone.
fn with_partials(name: &str) -> Scenario {
    landing(name).with(|s| {
        let big = noise(600_000, 1);
        put(s, "dst/.pd/grow.log", &big[..400_000]);
        put(s, "dst/sub/.pd/new.txt", b"ne");
        put(s, "dst/.pd/stale", b"stale\n");
        put(s, "dst/.tmp-partial/edited.log", &big[..100_000]);
        for d in [
            "dst/.pd",
            "dst/sub/.pd",
            "dst/.tmp-partial",
            "dst/sub",
            "dst",
        ] {
            stamp(s, d, 1_000_000_000);
        }
    })
}

/// Files with long zero runs (leading, inside, trailing), plus an older
/// all-data copy of one of them in `dst/` for the in-place case.
fn holes(name: &str) -> Scenario {
    Scenario::new(name).with(|s| {
        let mut data = vec![0u8; 3 << 20];
        data[(1 << 20)..(1 << 20) + 5000].copy_from_slice(&noise(5000, 2));
        data[(2 << 20) + 77..(2 << 20) + 99].copy_from_slice(&noise(22, 3));
        put(s, "src/holes.bin", &data);
        put(s, "src/zeros.bin", &vec![0u8; 200_000]);
        put(s, "src/small.txt", b"small\n");
        put(s, "dst/holes.bin", &noise(3 << 20, 4));
        stamp(s, "src/holes.bin", 1_300_000_000);
        stamp(s, "dst/holes.bin", 1_200_000_000);
        for f in ["src/zeros.bin", "src/small.txt", "src", "dst"] {
            stamp(s, f, 1_100_000_000);
        }
    })
}

// --inplace: the destination file is rewritten where it is.
diff_test!(inplace, landing, "-a", "-i", "--inplace", "src/", "dst/");
diff_test!(
    inplace_delta_stats,
    landing,
    "-a",
    "--inplace",
    "--no-W",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(
    inplace_delta_protocol_28,
    landing,
    "-a",
    "-i",
    "--inplace",
    "--no-W",
    "--protocol=28",
    "src/",
    "dst/"
);
diff_test!(
    inplace_then_no_inplace,
    landing,
    "-a",
    "-i",
    "--inplace",
    "--no-inplace",
    "src/",
    "dst/"
);
diff_test!(
    inplace_with_partial_dir_is_refused,
    landing,
    "-a",
    "--inplace",
    "--partial-dir=.pd",
    "src/",
    "dst/"
);

// --append: only what is past the receiver's length is sent.
diff_test!(append, landing, "-a", "-i", "--append", "src/", "dst/");
diff_test!(
    append_stats,
    landing,
    "-a",
    "--append",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(
    append_verify,
    landing,
    "-a",
    "-i",
    "--append-verify",
    "src/",
    "dst/"
);
diff_test!(
    append_verify_verbose,
    landing,
    "-a",
    "-v",
    "--append-verify",
    "src/",
    "dst/"
);
// Below protocol 30 --append verifies the prefix as --append-verify does.
diff_test!(
    append_protocol_29,
    landing,
    "-a",
    "-i",
    "--append",
    "--protocol=29",
    "src/",
    "dst/"
);
diff_test!(
    append_then_no_append,
    landing,
    "-a",
    "-i",
    "--append",
    "--no-append",
    "src/",
    "dst/"
);
diff_test!(
    append_whole_file_is_refused,
    landing,
    "-a",
    "--append",
    "-W",
    "src/",
    "dst/"
);
diff_test!(
    append_delay_updates_is_refused,
    landing,
    "-a",
    "--append",
    "--delay-updates",
    "src/",
    "dst/"
);

// --partial-dir: a partial file is the basis, then goes; the dir is
// protected from deletion by the implied filter rule.
diff_test!(
    partial_dir_resume,
    with_partials,
    "-a",
    "-i",
    "--partial-dir=.pd",
    "src/",
    "dst/"
);
diff_test!(
    partial_dir_resume_delta,
    with_partials,
    "-a",
    "--no-W",
    "--partial-dir=.pd",
    "--stats",
    "src/",
    "dst/"
);
diff_test!(
    partial_dir_delete,
    with_partials,
    "-a",
    "-i",
    "--delete",
    "--partial-dir=.pd",
    "src/",
    "dst/"
);
diff_test!(
    partial_dir_absolute_is_not_a_rule,
    with_partials,
    "-a",
    "-i",
    "--delete",
    "--partial-dir=/nonexistent-gensync-pd",
    "src/",
    "dst/"
);
diff_test!(
    partial_dir_dot_means_none,
    with_partials,
    "-a",
    "-i",
    "--partial-dir=.",
    "src/",
    "dst/"
);

/// RSYNC_PARTIAL_DIR applies to --partial on the client.
#[test]
fn partial_env_dir() {
    let scn = with_partials("partial_env_dir");
    let cfg = Cfg {
        env: vec![("RSYNC_PARTIAL_DIR".into(), ".tmp-partial".into())],
        ..Cfg::default()
    };
    let args = [
        "-a",
        "-i",
        "--no-W",
        "--partial",
        "--delete",
        "src/",
        "dst/",
    ];
    differential("partial_env_dir", &scn, &args, &cfg);
}

/// RSYNC_PARTIAL_DIR means nothing without --partial.
#[test]
fn partial_env_dir_needs_partial() {
    let scn = with_partials("partial_env_dir_needs_partial");
    let cfg = Cfg {
        env: vec![("RSYNC_PARTIAL_DIR".into(), ".tmp-partial".into())],
        ..Cfg::default()
    };
    let args = ["-a", "-i", "--delete", "src/", "dst/"];
    differential("partial_env_dir_needs_partial", &scn, &args, &cfg);
}

// --delay-updates: everything lands at the end, via .~tmp~.
diff_test!(
    delay_updates,
    landing,
    "-a",
    "-i",
    "--delay-updates",
    "src/",
    "dst/"
);
diff_test!(
    delay_updates_delete,
    landing,
    "-a",
    "-i",
    "--delay-updates",
    "--delete",
    "src/",
    "dst/"
);
diff_test!(
    delay_updates_own_dir,
    with_partials,
    "-a",
    "-i",
    "--delay-updates",
    "--partial-dir=.pd",
    "src/",
    "dst/"
);

// -T: temp files elsewhere; it must exist, relative to the destination.
diff_test!(temp_dir, landing, "-a", "-i", "-T", ".pd", "src/", "dst/");
diff_test!(
    temp_dir_missing,
    landing,
    "-a",
    "-i",
    "-T",
    "nope",
    "src/",
    "dst/"
);
diff_test!(
    temp_dir_outside,
    with_partials,
    "-a",
    "-i",
    "--temp-dir=../dst/.pd",
    "src/",
    "dst/"
);

// --preallocate and --fsync change nothing visible but the allocation.
diff_test!(
    preallocate,
    landing,
    "-a",
    "-i",
    "--preallocate",
    "src/",
    "dst/"
);
diff_test!(
    fsync,
    landing,
    "-a",
    "-i",
    "--fsync",
    "--inplace",
    "src/",
    "dst/"
);

// --remove-source-files: the sender removes what the receiver has.
diff_test!(
    remove_source_files,
    landing,
    "-a",
    "-i",
    "--remove-source-files",
    "src/",
    "dst/"
);
diff_test!(
    remove_sent_files,
    landing,
    "-a",
    "-i",
    "--remove-sent-files",
    "src/",
    "dst/"
);
diff_test!(
    remove_source_files_dry_run,
    landing,
    "-a",
    "-n",
    "-i",
    "--remove-source-files",
    "src/",
    "dst/"
);
diff_test!(
    remove_source_files_delay_updates,
    landing,
    "-a",
    "-i",
    "--remove-source-files",
    "--delay-updates",
    "src/",
    "dst/"
);

/// Run a sparse case, then require rsync's allocation: the same `stat`
/// block count for each file, and real holes where the data has zeros.
fn sparse_case(name: &str, args: &[&str]) {
    let scn = holes(name);
    differential(name, &scn, args, &Cfg::default());
    let a = scn.dir.path().join("a/dst");
    let b = scn.dir.path().join("b/dst");
    if !a.exists() {
        return; // skipped: no rsync
    }
    for f in ["holes.bin", "zeros.bin", "small.txt"] {
        let ma = fs::metadata(a.join(f)).unwrap();
        let mb = fs::metadata(b.join(f)).unwrap();
        assert_eq!(
            ma.blocks(),
            mb.blocks(),
            "{name}: {f} has {} blocks after rsync, {} after the tested binary",
            ma.blocks(),
            mb.blocks()
        );
    }
    let holes = fs::metadata(b.join("holes.bin")).unwrap();
    assert!(
        holes.blocks() * 512 < holes.len() / 2,
        "{name}: holes.bin is not sparse ({} blocks for {} bytes)",
        holes.blocks(),
        holes.len()
    );
}

#[test]
fn sparse() {
    sparse_case("sparse", &["-a", "-i", "-S", "src/", "dst/"]);
}

#[test]
fn sparse_inplace() {
    sparse_case(
        "sparse_inplace",
        &["-a", "-i", "-S", "--inplace", "src/", "dst/"],
    );
}

#[test]
fn sparse_inplace_delta() {
    sparse_case(
        "sparse_inplace_delta",
        &["-a", "-i", "-S", "--inplace", "--no-W", "src/", "dst/"],
    );
}

#[test]
fn sparse_preallocate() {
    sparse_case(
        "sparse_preallocate",
        &["-a", "-i", "-S", "--preallocate", "src/", "dst/"],
    );
}

#[test]
fn sparse_delta() {
    sparse_case(
        "sparse_delta",
        &["-a", "-i", "--sparse", "--no-W", "src/", "dst/"],
    );
}
