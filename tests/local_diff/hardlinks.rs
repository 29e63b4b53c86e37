//! `-H` against rsync: hard-link groups inside one directory and across
//! directories (so that, with incremental recursion, a group spans several
//! sub-lists), a lone name with one link, groups whose destination already
//! holds some members (linked, unlinked, up to date, changed), at every
//! protocol the file-list codec distinguishes.

use super::{differential, Cfg, Scenario};
use std::fs;
use std::path::Path;

/// Fixed times everywhere, so the trees compare.
fn stamp(setup: &Path, paths: &[&str]) {
    let t = filetime::FileTime::from_unix_time(1_500_000_000, 0);
    for p in paths {
        let p = setup.join(p);
        if p.exists() {
            filetime::set_file_mtime(&p, t).unwrap();
        }
    }
}

const DIRS: &[&str] = &["src/d1/deep", "src/d2", "src/d3"];

/// `src/` with: a three-name group across `.`, `d1` and `d2`; a pair in
/// one directory; a group of four with two names deep; a symlink with two
/// names; a file with one link.
fn src_tree(setup: &Path) {
    for d in DIRS {
        fs::create_dir_all(setup.join(d)).unwrap();
    }
    let put = |p: &str, data: &str| fs::write(setup.join(p), data).unwrap();
    let link = |a: &str, b: &str| fs::hard_link(setup.join(a), setup.join(b)).unwrap();
    put("src/a", "group of three\n");
    link("src/a", "src/d1/b");
    link("src/a", "src/d2/c");
    put("src/x", "pair\n");
    link("src/x", "src/y");
    put("src/d3/p", "group of four\n");
    link("src/d3/p", "src/d3/q");
    link("src/d3/p", "src/d1/deep/r");
    link("src/d3/p", "src/d1/deep/s");
    put("src/solo", "one link\n");
    put("src/d2/solo2", "one link too\n");
    std::os::unix::fs::symlink("a", setup.join("src/sl")).unwrap();
    link("src/sl", "src/d2/sl2");
    stamp(
        setup,
        &[
            "src/a",
            "src/x",
            "src/d3/p",
            "src/solo",
            "src/d2/solo2",
            "src/d1/deep",
            "src/d1",
            "src/d2",
            "src/d3",
            "src",
        ],
    );
}

/// `dst/` holding part of the groups: `a` up to date, `d2/c` a separate
/// copy, `x` changed with `y` linked to it, one member of the group of
/// four, an extra name that will be gone.
fn dst_tree(setup: &Path) {
    for d in ["dst/d1", "dst/d2", "dst/d3"] {
        fs::create_dir_all(setup.join(d)).unwrap();
    }
    let put = |p: &str, data: &str| fs::write(setup.join(p), data).unwrap();
    put("dst/a", "group of three\n");
    put("dst/d2/c", "group of three\n");
    put("dst/x", "older pair\n");
    fs::hard_link(setup.join("dst/x"), setup.join("dst/y")).unwrap();
    put("dst/d3/q", "group of four\n");
    put("dst/extra", "extra\n");
    stamp(
        setup,
        &[
            "dst/a", "dst/d2/c", "dst/d3/q", "dst/d1", "dst/d2", "dst/d3", "dst",
        ],
    );
}

fn fresh(name: &str) -> Scenario {
    Scenario::new(name).with(src_tree)
}

fn existing(name: &str) -> Scenario {
    Scenario::new(name).with(src_tree).with(dst_tree)
}

diff_test!(hardlinks_fresh, fresh, "-aHi", "src/", "dst/");
diff_test!(
    hardlinks_fresh_no_inc,
    fresh,
    "-aHi",
    "--no-inc-recursive",
    "src/",
    "dst/"
);
diff_test!(hardlinks_existing, existing, "-aHi", "src/", "dst/");
diff_test!(hardlinks_existing_ii, existing, "-aHii", "src/", "dst/");
diff_test!(
    hardlinks_existing_no_inc,
    existing,
    "-aHii",
    "--no-inc-recursive",
    "src/",
    "dst/"
);
diff_test!(hardlinks_verbose, existing, "-aHv", "src/", "dst/");
diff_test!(hardlinks_dry_run, existing, "-aHin", "src/", "dst/");
diff_test!(hardlinks_dry_run_fresh, fresh, "-aHvn", "src/", "dst/");
diff_test!(
    hardlinks_delete,
    existing,
    "-aHi",
    "--delete",
    "src/",
    "dst/"
);
diff_test!(hardlinks_checksum, existing, "-aHic", "src/", "dst/");
diff_test!(hardlinks_no_perms, existing, "-rtlHi", "src/", "dst/");
diff_test!(
    hardlinks_proto30,
    existing,
    "-aHi",
    "--protocol=30",
    "src/",
    "dst/"
);
diff_test!(
    hardlinks_proto29,
    existing,
    "-aHi",
    "--protocol=29",
    "src/",
    "dst/"
);
diff_test!(
    hardlinks_proto28,
    existing,
    "-aHi",
    "--protocol=28",
    "src/",
    "dst/"
);
diff_test!(
    hardlinks_proto27,
    existing,
    "-aHi",
    "--protocol=27",
    "src/",
    "dst/"
);
diff_test!(
    hardlinks_proto28_verbose,
    existing,
    "-aHv",
    "--protocol=28",
    "src/",
    "dst/"
);
diff_test!(
    hardlinks_proto27_fresh,
    fresh,
    "-aHv",
    "--protocol=27",
    "src/",
    "dst/"
);
diff_test!(hardlinks_double_h, fresh, "-aHHi", "src/", "dst/");
diff_test!(hardlinks_no_h, fresh, "-aHi", "--no-H", "src/", "dst/");
diff_test!(
    hardlinks_files_only,
    fresh,
    "-Hi",
    "src/a",
    "src/x",
    "src/y",
    "src/solo",
    "dst/"
);

// The generated trees (a pair and a triple across directories among many
// other entries, an edited destination).
fn generated(name: &str) -> Scenario {
    super::fresh(name)
}
fn generated_mutated(name: &str) -> Scenario {
    super::mutated(name)
}
fn generated_synced(name: &str) -> Scenario {
    super::synced(name)
}

diff_test!(hardlinks_generated, generated, "-aHi", "src/", "dst/");
diff_test!(
    hardlinks_generated_mutated,
    generated_mutated,
    "-aHi",
    "--delete",
    "src/",
    "dst/"
);
diff_test!(
    hardlinks_generated_synced,
    generated_synced,
    "-aHii",
    "src/",
    "dst/"
);
diff_test!(
    hardlinks_generated_proto29,
    generated_mutated,
    "-aHi",
    "--protocol=29",
    "src/",
    "dst/"
);
diff_test!(
    hardlinks_generated_stats,
    generated_mutated,
    "-aH",
    "--stats",
    "src/",
    "dst/"
);
