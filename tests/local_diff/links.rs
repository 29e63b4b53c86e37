//! The symlink options against rsync: `-L`, `-k`, `--copy-unsafe-links`,
//! `--safe-links`, `--munge-links`, `-K`, on a tree with safe, unsafe,
//! dangling, absolute, directory and pre-munged links.

use super::{differential, Cfg, Scenario};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

fn stamp(setup: &Path, paths: &[&str]) {
    let t = filetime::FileTime::from_unix_time(1_500_000_000, 0);
    for p in paths {
        let p = setup.join(p);
        if p.exists() {
            filetime::set_file_mtime(&p, t).unwrap();
        }
    }
}

fn src_tree(setup: &Path) {
    for d in ["src/sub/deeper", "outside"] {
        fs::create_dir_all(setup.join(d)).unwrap();
    }
    let put = |p: &str, data: &str| fs::write(setup.join(p), data).unwrap();
    let ln = |target: &str, p: &str| symlink(target, setup.join(p)).unwrap();
    put("src/f", "file\n");
    put("src/sub/in", "inside\n");
    put("src/sub/deeper/g", "deeper\n");
    put("outside/o", "outside the tree\n");
    ln("f", "src/lf");
    ln("sub", "src/ldir");
    ln("../outside/o", "src/unsafe");
    ln("../outside", "src/unsafedir");
    ln("../f", "src/sub/up");
    ln("../../outside/o", "src/sub/esc");
    ln("deeper/../in", "src/sub/mid");
    ln("/rsyncd-munged/f", "src/munged");
    ln("/etc/passwd", "src/abs");
    stamp(
        setup,
        &[
            "src/f",
            "src/sub/in",
            "src/sub/deeper/g",
            "src/sub/deeper",
            "src/sub",
            "src",
        ],
    );
}

fn dangling(setup: &Path) {
    symlink("nowhere", setup.join("src/dang")).unwrap();
    stamp(setup, &["src"]);
}

/// `dst/sub` is a symlink to a real directory (for `-K`).
fn dst_dirlink(setup: &Path) {
    fs::create_dir_all(setup.join("dst/real")).unwrap();
    fs::write(setup.join("dst/real/old"), "old\n").unwrap();
    symlink("real", setup.join("dst/sub")).unwrap();
    stamp(setup, &["dst/real/old", "dst/real", "dst"]);
}

fn tree(name: &str) -> Scenario {
    Scenario::new(name).with(src_tree)
}
fn tree_dangling(name: &str) -> Scenario {
    Scenario::new(name).with(src_tree).with(dangling)
}
fn tree_dirlink(name: &str) -> Scenario {
    Scenario::new(name).with(src_tree).with(dst_dirlink)
}

diff_test!(links_copy_links, tree, "-aLi", "src/", "dst/");
diff_test!(
    links_copy_links_dangling,
    tree_dangling,
    "-aLi",
    "src/",
    "dst/"
);
diff_test!(
    links_copy_links_top,
    tree,
    "-aLi",
    "src/lf",
    "src/ldir",
    "dst/"
);
diff_test!(
    links_copy_links_no_inc,
    tree,
    "-aLi",
    "--no-i-r",
    "src/",
    "dst/"
);
diff_test!(links_copy_dirlinks, tree_dangling, "-aki", "src/", "dst/");
diff_test!(
    links_copy_unsafe,
    tree_dangling,
    "-ai",
    "--copy-unsafe-links",
    "-v",
    "src/",
    "dst/"
);
diff_test!(
    links_copy_unsafe_quiet,
    tree,
    "-ai",
    "--copy-unsafe-links",
    "src/",
    "dst/"
);
diff_test!(
    links_copy_unsafe_nested,
    tree,
    "-ai",
    "--copy-unsafe-links",
    "src",
    "dst/"
);
diff_test!(
    links_safe_links,
    tree,
    "-ai",
    "--safe-links",
    "src/",
    "dst/"
);
diff_test!(
    links_safe_links_verbose,
    tree,
    "-av",
    "--safe-links",
    "src/",
    "dst/"
);
diff_test!(
    links_safe_links_nested,
    tree,
    "-ai",
    "--safe-links",
    "src",
    "dst/"
);
diff_test!(links_munge, tree, "-ai", "--munge-links", "src/", "dst/");
diff_test!(
    links_munge_no,
    tree,
    "-ai",
    "--munge-links",
    "--no-munge-links",
    "src/",
    "dst/"
);
diff_test!(links_keep_dirlinks, tree_dirlink, "-aKi", "src/", "dst/");
diff_test!(links_no_keep_dirlinks, tree_dirlink, "-ai", "src/", "dst/");
diff_test!(
    links_keep_dirlinks_delete,
    tree_dirlink,
    "-aKi",
    "--delete",
    "src/",
    "dst/"
);
diff_test!(links_copy_links_hard, tree, "-aLHi", "src/", "dst/");
