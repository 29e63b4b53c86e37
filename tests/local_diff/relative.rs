//! `-R`, `--files-from`, `-m` and the missing-args options against rsync:
//! each test runs both binaries on copies of one hand-made tree (known
//! names, nested directories, odd names, a symlinked directory) and
//! compares trees, exit codes and output (see `differential`).

use super::{differential, Cfg, Scenario};
use std::fs;
use std::path::Path;

/// `src/` with nested directories, an empty branch, odd names and a
/// symlink to a directory; `dst/` with a few stale entries to delete;
/// name lists for `--files-from` beside them.
fn tree(setup: &Path) {
    let mk = |p: &str| fs::create_dir_all(setup.join(p)).unwrap();
    let put = |p: &str, data: &str| fs::write(setup.join(p), data).unwrap();
    for d in [
        "src/a/b/c",
        "src/a/empty/deeper",
        "src/d",
        "src/sp ace/x y",
        "src/-dash",
        "dst/src/a/b/stale",
        "dst/a/b/gone",
    ] {
        mk(d);
    }
    put("src/a/b/c/f", "f\n");
    put("src/a/b/g", "gg\n");
    put("src/a/top", "top\n");
    put("src/d/h", "hhh\n");
    put("src/sp ace/x y/q\tr", "odd\n");
    put("src/-dash/e", "e\n");
    put("src/caf\u{e9}", "utf8\n");
    put("dst/src/a/b/stale/old", "old\n");
    put("dst/a/b/gone/old", "old\n");
    put("dst/missing-file", "m\n");
    std::os::unix::fs::symlink("d", setup.join("src/ld")).unwrap();
    put(
        "list",
        "a/b/c/f\nd/\n# a comment\n\nsp ace/x y/q\tr\nld\n-dash\n",
    );
    put("list-dirs", "a/b\nd\na/./empty/\n");
    put("list0", "a/./b/c/f\0d/h\0a/top\0");
    put(
        "list-escape",
        "../../etc/passwd\n/a/top\na/../d/h\nnothere\n",
    );
    put("list-missing", "a/top\nmissing-file\na/nothere\n");
    // Fixed times, so directory times compare.
    for p in [
        "src/a/b/c/f",
        "src/a/b/c",
        "src/a/b",
        "src/a/empty/deeper",
        "src/a/empty",
        "src/a",
        "src/d",
        "src",
    ] {
        let t = filetime::FileTime::from_unix_time(1_500_000_000, 0);
        filetime::set_file_mtime(setup.join(p), t).unwrap();
    }
}

fn relative_tree(name: &str) -> Scenario {
    Scenario::new(name).with(tree)
}

/// `rel_test!(name, "arg", ...)`: one #[test] on the hand-made tree.
macro_rules! rel_test {
    ($name:ident, $($arg:expr),+ $(,)?) => {
        #[test]
        fn $name() {
            let scn = relative_tree(stringify!($name));
            differential(stringify!($name), &scn, &[$($arg),+], &Cfg::default());
        }
    };
}

// -R: names keep their path, implied directories, the /./ cut.
rel_test!(relative_file, "-a", "-i", "-R", "src/a/b/c/f", "out/");
rel_test!(
    relative_several,
    "-a",
    "-i",
    "-R",
    "src/a/b/c/f",
    "src/d",
    "src/a/top",
    "out/"
);
rel_test!(relative_dot_cut, "-a", "-i", "-R", "src/./a/b", "out/");
rel_test!(
    relative_dot_cut_slash,
    "-a",
    "-i",
    "-R",
    "src/a/./b/c/",
    "out/"
);
rel_test!(relative_trailing_slash, "-a", "-i", "-R", "src/a/", "out/");
rel_test!(relative_leading_dot, "-a", "-i", "-R", "./src/a/b", "out/");
rel_test!(relative_whole_tree, "-a", "-i", "-R", "src/./", "out/");
rel_test!(
    relative_no_inc,
    "-a",
    "-i",
    "-R",
    "--no-inc-recursive",
    "src/a/b/c/f",
    "src/d",
    "out/"
);
rel_test!(
    relative_dirs_only,
    "-i",
    "-R",
    "-d",
    "-t",
    "src/a",
    "src/d",
    "out/"
);
rel_test!(
    relative_files_only,
    "-i",
    "-R",
    "src/a/top",
    "src/d/h",
    "out/"
);
rel_test!(
    relative_odd_names,
    "-av",
    "-R",
    "src/sp ace",
    "src/caf\u{e9}",
    "out/"
);
rel_test!(
    relative_symlinked_dir,
    "-a",
    "-i",
    "-R",
    "src/ld/",
    "src/ld",
    "out/"
);
rel_test!(
    relative_delete,
    "-a",
    "-i",
    "-R",
    "--delete",
    "src/./a/b",
    "dst/"
);
rel_test!(
    relative_delete_full_path,
    "-a",
    "-i",
    "-R",
    "--delete",
    "src/a",
    "dst/"
);
rel_test!(
    relative_no_implied_dirs,
    "-a",
    "-i",
    "-R",
    "--no-implied-dirs",
    "src/./a/b/c/f",
    "out/"
);
rel_test!(
    relative_no_implied_dirs_tree,
    "-a",
    "-i",
    "-R",
    "--no-implied-dirs",
    "src/a/b",
    "out/"
);
rel_test!(
    relative_dry_run,
    "-a",
    "-n",
    "-i",
    "-R",
    "src/a/b/c/f",
    "out/"
);
rel_test!(
    relative_dry_run_no_implied,
    "-a",
    "-n",
    "-i",
    "-R",
    "--no-implied-dirs",
    "src/a/b/c/f",
    "out/"
);
rel_test!(relative_list_only, "-R", "--list-only", "src/a/b/c/f");
rel_test!(
    relative_protocol_29,
    "-a",
    "-i",
    "-R",
    "--protocol=29",
    "src/a/b/c/f",
    "src/d",
    "out/"
);
rel_test!(
    relative_protocol_30,
    "-a",
    "-i",
    "-R",
    "--protocol=30",
    "src/a/b",
    "src/d",
    "out/"
);
rel_test!(
    relative_dot_dot_refused,
    "-a",
    "-i",
    "-R",
    "src/a/../d",
    "out/"
);
rel_test!(
    relative_missing_parent,
    "-a",
    "-i",
    "-R",
    "src/gone/x",
    "out/"
);
rel_test!(
    relative_verbose,
    "-av",
    "-R",
    "src/a/b/c/f",
    "src/d",
    "out/"
);

// --files-from: local lists, -0, sanitising, recursion rules.
rel_test!(files_from, "-a", "-i", "--files-from=list", "src/", "out/");
rel_test!(
    files_from_dirs,
    "-a",
    "-i",
    "--files-from=list-dirs",
    "src",
    "out/"
);
rel_test!(
    files_from_recursive,
    "-a",
    "-i",
    "-r",
    "--files-from=list-dirs",
    "src",
    "out/"
);
rel_test!(
    files_from_no_inc,
    "-a",
    "-i",
    "-r",
    "--no-inc-recursive",
    "--files-from=list-dirs",
    "src",
    "out/"
);
rel_test!(
    files_from_from0,
    "-a",
    "-i",
    "-0",
    "--files-from=list0",
    "src",
    "out/"
);
rel_test!(
    files_from_no_relative,
    "-a",
    "-i",
    "--no-R",
    "--files-from=list",
    "src",
    "out/"
);
rel_test!(
    files_from_sanitised,
    "-a",
    "-i",
    "--files-from=list-escape",
    "src",
    "out/"
);
rel_test!(
    files_from_delete,
    "-a",
    "-i",
    "-r",
    "--delete",
    "--files-from=list-dirs",
    "src",
    "dst/"
);
rel_test!(
    files_from_verbose,
    "-av",
    "--files-from=list",
    "src",
    "out/"
);
rel_test!(
    files_from_list_missing,
    "-a",
    "-i",
    "--files-from=no-such-list",
    "src",
    "out/"
);
rel_test!(
    files_from_remote_but_local,
    "-a",
    "--files-from=host:list",
    "src",
    "out/"
);

// -m and the missing-args options.
rel_test!(prune_empty_dirs, "-a", "-i", "-m", "src/", "out/");
rel_test!(
    prune_with_filters,
    "-a",
    "-i",
    "-m",
    "--include=*/",
    "--include=f",
    "--exclude=*",
    "src/",
    "out/"
);
rel_test!(prune_delete, "-a", "-i", "-m", "--delete", "src/", "dst/");
rel_test!(
    ignore_missing_args,
    "-a",
    "-i",
    "--ignore-missing-args",
    "src/a",
    "src/nothere",
    "out/"
);
rel_test!(
    delete_missing_args,
    "-a",
    "-i",
    "--delete-missing-args",
    "src/d",
    "src/missing-file",
    "dst/"
);
rel_test!(
    delete_missing_args_files_from,
    "-a",
    "-i",
    "--delete-missing-args",
    "--files-from=list-missing",
    "src",
    "dst/"
);
rel_test!(
    delete_missing_args_list_only,
    "--list-only",
    "--delete-missing-args",
    "src/nothere"
);
