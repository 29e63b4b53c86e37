//! `-b`, `--backup-dir`, `--suffix` against rsync: a hand-made tree whose
//! destination has changed files, extra files and directories (deleted
//! with backups under `--delete`), a symlink with another target, items of
//! another type in the way, and an earlier backup (`a~`) that the implied
//! protect rule keeps.

use super::{differential, Cfg, Scenario};
use std::fs;
use std::path::Path;

fn put(setup: &Path, p: &str, data: &str) {
    let path = setup.join(p);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

fn stamp(setup: &Path, p: &str, secs: i64) {
    let t = filetime::FileTime::from_unix_time(secs, 0);
    filetime::set_symlink_file_times(setup.join(p), t, t).unwrap();
}

/// The tree; `old_backups` adds earlier backups to the destination.
fn tree(setup: &Path, old_backups: bool) {
    put(setup, "src/a", "new a\n");
    put(setup, "src/d/c", "new c, longer\n");
    put(setup, "src/d/same", "same\n");
    put(setup, "src/k", "k is a file now\n");
    put(setup, "src/m", "m is a file now\n");
    put(setup, "src/deep/er/f", "deep new\n");
    std::os::unix::fs::symlink("x", setup.join("src/l")).unwrap();
    put(setup, "dst/a", "old a\n");
    put(setup, "dst/d/c", "old c\n");
    put(setup, "dst/d/same", "same\n");
    put(setup, "dst/d/sub/z", "extra in a dir\n");
    put(setup, "dst/gone", "extra file\n");
    put(setup, "dst/m/inner", "a dir in the way\n");
    put(setup, "dst/deep/er/f", "deep old\n");
    put(setup, "dst/deep/er/extra", "deep extra\n");
    std::os::unix::fs::symlink("y", setup.join("dst/l")).unwrap();
    std::os::unix::fs::symlink("a", setup.join("dst/k")).unwrap();
    if old_backups {
        put(setup, "dst/a~", "an older backup\n");
        put(setup, "dst/d/c.old", "an older .old backup\n");
    }
    for (p, t) in [
        ("src/a", 1_500_000_000),
        ("src/d/c", 1_500_000_000),
        ("src/d/same", 1_400_000_000),
        ("src/k", 1_500_000_000),
        ("src/m", 1_500_000_000),
        ("src/deep/er/f", 1_500_000_000),
        ("src/l", 1_500_000_000),
        ("dst/a", 1_300_000_000),
        ("dst/d/c", 1_300_000_000),
        ("dst/d/same", 1_400_000_000),
        ("dst/deep/er/f", 1_300_000_000),
        ("dst/l", 1_300_000_000),
        ("dst/k", 1_300_000_000),
    ] {
        stamp(setup, p, t);
    }
    for d in [
        "src/d",
        "src/deep/er",
        "src/deep",
        "src",
        "dst/d/sub",
        "dst/d",
        "dst/m",
        "dst/deep/er",
        "dst/deep",
        "dst",
    ] {
        stamp(setup, d, 1_200_000_000);
    }
}

fn with_old(name: &str) -> Scenario {
    Scenario::new(name).with(|s| tree(s, true))
}

fn without_old(name: &str) -> Scenario {
    Scenario::new(name).with(|s| tree(s, false))
}

/// A file where the backup dir should be.
fn dir_in_the_way(name: &str) -> Scenario {
    Scenario::new(name).with(|s| {
        tree(s, false);
        put(s, "bak", "not a dir\n");
    })
}

/// `bak_test!(name, setup_fn, "arg", ...)`: one #[test]; `src/ dst/` are
/// appended.
macro_rules! bak_test {
    ($name:ident, $setup:ident, $($arg:expr),+ $(,)?) => {
        #[test]
        fn $name() {
            let scn = $setup(stringify!($name));
            differential(
                stringify!($name),
                &scn,
                &[$($arg,)+ "src/", "dst/"],
                &Cfg::default(),
            );
        }
    };
}

bak_test!(backup_replaced_files, with_old, "-a", "-i", "-b");
bak_test!(backup_with_delete, with_old, "-a", "-i", "-b", "--delete");
bak_test!(
    backup_delete_excluded_drops_protect_rule,
    with_old,
    "-a",
    "-i",
    "-b",
    "--delete",
    "--delete-excluded"
);
bak_test!(
    backup_suffix,
    with_old,
    "-a",
    "-i",
    "--suffix=.old",
    "--delete"
);
bak_test!(
    backup_delete_after,
    with_old,
    "-a",
    "-i",
    "-b",
    "--delete-after"
);
bak_test!(
    backup_no_perms_times,
    with_old,
    "-r",
    "-l",
    "-i",
    "-b",
    "--delete"
);
bak_test!(
    backup_dir_outside,
    with_old,
    "-a",
    "-i",
    "--backup-dir=../bak",
    "--delete"
);
bak_test!(
    backup_dir_inside_with_suffix,
    with_old,
    "-a",
    "-i",
    "--backup-dir=./bak",
    "--suffix=.b",
    "--delete"
);
bak_test!(
    backup_dir_nested_trailing_slash,
    with_old,
    "-a",
    "-i",
    "--backup-dir=../bak/nested/",
    "-b",
    "--delete"
);
bak_test!(backup_dry_run, with_old, "-a", "-i", "-n", "-b", "--delete");
bak_test!(
    backup_verbose_lines,
    without_old,
    "-a",
    "-i",
    "-vv",
    "-b",
    "--delete"
);
bak_test!(
    backup_dir_verbose_lines,
    without_old,
    "-a",
    "-vv",
    "--backup-dir=../bak",
    "--delete"
);
bak_test!(
    backup_dir_not_a_dir,
    dir_in_the_way,
    "-a",
    "-i",
    "--backup-dir=../bak"
);
bak_test!(
    no_backup_undoes_b,
    with_old,
    "-a",
    "-i",
    "-b",
    "--no-backup"
);
bak_test!(
    backup_dir_implies_b_despite_no_backup,
    with_old,
    "-a",
    "-i",
    "--backup-dir=../bak",
    "--no-backup"
);

// Option errors, with rsync's texts.
bak_test!(suffix_with_slash, with_old, "-a", "--suffix=a/b");
bak_test!(suffix_empty_without_dir, with_old, "-a", "-b", "--suffix=");
bak_test!(
    suffix_empty_dir_is_dest,
    with_old,
    "-a",
    "--backup-dir=./.",
    "--suffix="
);
bak_test!(
    suffix_empty_with_dir_is_fine,
    with_old,
    "-a",
    "-i",
    "--backup-dir=../bak",
    "--suffix="
);

/// A destination directory (with contents) where the source has a symlink.
fn dir_for_link(name: &str) -> Scenario {
    Scenario::new(name).with(|s| {
        fs::create_dir_all(s.join("src")).unwrap();
        std::os::unix::fs::symlink("x", s.join("src/l")).unwrap();
        put(s, "dst/l/a", "1\n");
        put(s, "dst/l/sub/b", "2\n");
        for d in ["dst/l/sub", "dst/l", "dst", "src"] {
            stamp(s, d, 1_200_000_000);
        }
    })
}

bak_test!(link_over_dir_refused, dir_for_link, "-a", "-i");
bak_test!(link_over_dir_force, dir_for_link, "-a", "-i", "--force");
bak_test!(link_over_dir_delete, dir_for_link, "-a", "-i", "--delete");
bak_test!(
    link_over_dir_backup,
    dir_for_link,
    "-a",
    "-i",
    "-b",
    "--delete"
);
bak_test!(
    link_over_dir_dry_run,
    dir_for_link,
    "-a",
    "-i",
    "-n",
    "--delete"
);
bak_test!(
    backup_dry_run_verbose,
    without_old,
    "-a",
    "-i",
    "-n",
    "-vv",
    "-b",
    "--delete"
);
bak_test!(
    backup_dir_dry_run_verbose,
    without_old,
    "-a",
    "-n",
    "-vv",
    "--backup-dir=../bak",
    "--delete"
);

/// A FIFO in the source where the destination has a directory with
/// contents (`f`) and a regular file (`g`).
fn fifo_over_things(name: &str) -> Scenario {
    Scenario::new(name).with(|s| {
        fs::create_dir_all(s.join("src")).unwrap();
        for f in ["src/f", "src/g"] {
            nix::unistd::mkfifo(&s.join(f), nix::sys::stat::Mode::from_bits_truncate(0o644))
                .unwrap();
        }
        put(s, "dst/f/a", "1\n");
        put(s, "dst/f/sub/b", "2\n");
        put(s, "dst/g", "z\n");
        for d in ["dst/f/sub", "dst/f", "dst", "src"] {
            stamp(s, d, 1_200_000_000);
        }
    })
}

bak_test!(special_over_dir_refused, fifo_over_things, "-a", "-i");
bak_test!(special_over_dir_dry_run, fifo_over_things, "-a", "-i", "-n");
bak_test!(
    special_over_dir_delete_dry_run,
    fifo_over_things,
    "-a",
    "-i",
    "-n",
    "--delete"
);
bak_test!(
    special_over_dir_backup,
    fifo_over_things,
    "-a",
    "-i",
    "-b",
    "--delete"
);
bak_test!(
    special_over_dir_backup_dry_run_verbose,
    fifo_over_things,
    "-a",
    "-i",
    "-n",
    "-vv",
    "-b",
    "--delete"
);
