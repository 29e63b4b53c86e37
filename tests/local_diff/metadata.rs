//! Metadata options against rsync: `-E`, `--chmod` (D/F prefixes, comma
//! lists, octal, copies between classes, X), `-J`, `--open-noatime`,
//! `--super`/`--no-super`, and `-N`, which rsync 3.5.0 on Linux refuses.

use super::{differential, Cfg, Scenario};
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;

fn set_mode(setup: &Path, p: &str, mode: u32) {
    fs::set_permissions(setup.join(p), fs::Permissions::from_mode(mode)).unwrap();
}

fn stamp(setup: &Path, paths: &[&str]) {
    let t = filetime::FileTime::from_unix_time(1_500_000_000, 0);
    for p in paths {
        let p = setup.join(p);
        filetime::set_symlink_file_times(&p, t, t).unwrap();
    }
}

/// Files with assorted modes (executable, not, setgid dir), a symlink.
fn src_tree(setup: &Path) {
    fs::create_dir_all(setup.join("src/sub")).unwrap();
    let put = |p: &str, data: &str, mode: u32| {
        fs::write(setup.join(p), data).unwrap();
        set_mode(setup, p, mode);
    };
    put("src/exe", "#!/bin/sh\n", 0o755);
    put("src/plain", "plain\n", 0o644);
    put("src/private", "private\n", 0o600);
    put("src/odd", "odd\n", 0o741);
    put("src/sub/inner", "inner\n", 0o664);
    set_mode(setup, "src/sub", 0o2775);
    symlink("plain", setup.join("src/link")).unwrap();
    stamp(
        setup,
        &[
            "src/exe",
            "src/plain",
            "src/private",
            "src/odd",
            "src/sub/inner",
            "src/link",
            "src/sub",
            "src",
        ],
    );
}

/// `dst/` with the same files, modes flipped: executables that are not,
/// plain files that are; a symlink with another time.
fn dst_tree(setup: &Path) {
    fs::create_dir_all(setup.join("dst/sub")).unwrap();
    let put = |p: &str, data: &str, mode: u32| {
        fs::write(setup.join(p), data).unwrap();
        set_mode(setup, p, mode);
    };
    put("dst/exe", "#!/bin/sh\n", 0o644);
    put("dst/plain", "plain\n", 0o755);
    put("dst/private", "private\n", 0o600);
    put("dst/odd", "odd\n", 0o640);
    put("dst/sub/inner", "inner\n", 0o600);
    symlink("plain", setup.join("dst/link")).unwrap();
    let t = filetime::FileTime::from_unix_time(1_400_000_000, 0);
    filetime::set_symlink_file_times(setup.join("dst/link"), t, t).unwrap();
    stamp(
        setup,
        &[
            "dst/exe",
            "dst/plain",
            "dst/private",
            "dst/odd",
            "dst/sub/inner",
            "dst/sub",
            "dst",
        ],
    );
}

fn fresh(name: &str) -> Scenario {
    Scenario::new(name).with(src_tree)
}
fn existing(name: &str) -> Scenario {
    Scenario::new(name).with(src_tree).with(dst_tree)
}

diff_test!(meta_executability, existing, "-rtlEi", "src/", "dst/");
diff_test!(meta_executability_fresh, fresh, "-rtlEi", "src/", "dst/");
diff_test!(
    meta_executability_perms,
    existing,
    "-rtlpEi",
    "src/",
    "dst/"
);
diff_test!(meta_no_executability, existing, "-rtli", "src/", "dst/");
diff_test!(
    meta_chmod_symbolic,
    fresh,
    "-ai",
    "--chmod=go-w,u+x",
    "src/",
    "dst/"
);
diff_test!(
    meta_chmod_dirs_files,
    fresh,
    "-ai",
    "--chmod=Dg-s,D755,Fo-r",
    "src/",
    "dst/"
);
diff_test!(
    meta_chmod_octal,
    existing,
    "-ai",
    "--chmod=D2770,F640",
    "src/",
    "dst/"
);
diff_test!(
    meta_chmod_x_keep,
    fresh,
    "-ai",
    "--chmod=a+X,g=u",
    "src/",
    "dst/"
);
diff_test!(
    meta_chmod_no_who,
    fresh,
    "-ai",
    "--chmod=+w,o=",
    "src/",
    "dst/"
);
diff_test!(
    meta_chmod_twice,
    fresh,
    "-ai",
    "--chmod=a-rwx",
    "--chmod=u+rw",
    "src/",
    "dst/"
);
diff_test!(
    meta_chmod_setuid,
    fresh,
    "-ai",
    "--chmod=Fu+s,Dg+s,Fo+t",
    "src/",
    "dst/"
);
diff_test!(
    meta_chmod_no_perms,
    existing,
    "-rti",
    "--chmod=F600",
    "src/",
    "dst/"
);
diff_test!(
    meta_chmod_invalid,
    fresh,
    "-ai",
    "--chmod=u+q",
    "src/",
    "dst/"
);
diff_test!(
    meta_chmod_invalid_df,
    fresh,
    "-ai",
    "--chmod=DF644",
    "src/",
    "dst/"
);
diff_test!(meta_omit_link_times, existing, "-aJi", "src/", "dst/");
diff_test!(meta_omit_link_times_fresh, fresh, "-aJi", "src/", "dst/");
diff_test!(
    meta_omit_link_times_no,
    existing,
    "-aJi",
    "--no-J",
    "src/",
    "dst/"
);
diff_test!(
    meta_open_noatime,
    fresh,
    "-ai",
    "--open-noatime",
    "src/",
    "dst/"
);
diff_test!(meta_no_super, fresh, "-ai", "--no-super", "src/", "dst/");
diff_test!(meta_super, fresh, "-ai", "--super", "src/", "dst/");
diff_test!(meta_crtimes_refused, fresh, "-aN", "src/", "dst/");
diff_test!(
    meta_crtimes_then_no,
    fresh,
    "-a",
    "-N",
    "--no-crtimes",
    "src/",
    "dst/"
);
diff_test!(meta_no_crtimes, fresh, "-ai", "--no-N", "src/", "dst/");

/// Files owned by a few different users and groups, for the maps.
fn owned(setup: &Path) {
    let chown = |p: &str, u: u32, g: u32| {
        std::os::unix::fs::lchown(setup.join(p), Some(u), Some(g)).unwrap();
    };
    chown("src/exe", 1, 1);
    chown("src/plain", 2, 2);
    chown("src/private", 0, 0);
    chown("src/odd", 1, 2);
    chown("src/link", 2, 1);
}

fn owned_tree(name: &str) -> Scenario {
    Scenario::new(name).with(src_tree).with(owned)
}

diff_test!(
    meta_chown,
    owned_tree,
    "-ai",
    "--chown=nobody:nogroup",
    "src/",
    "dst/"
);
diff_test!(
    meta_chown_user_only,
    owned_tree,
    "-ai",
    "--chown=bin",
    "src/",
    "dst/"
);
diff_test!(
    meta_chown_group_only,
    owned_tree,
    "-ai",
    "--chown=:daemon",
    "src/",
    "dst/"
);
diff_test!(
    meta_chown_implies_og,
    owned_tree,
    "-rti",
    "--chown=daemon:bin",
    "src/",
    "dst/"
);
diff_test!(
    meta_usermap_names,
    owned_tree,
    "-ai",
    "--usermap=daemon:bin,bin:daemon",
    "src/",
    "dst/"
);
diff_test!(
    meta_usermap_wild,
    owned_tree,
    "-ai",
    "--usermap=d*:nobody,*:65534",
    "src/",
    "dst/"
);
diff_test!(
    meta_usermap_range,
    owned_tree,
    "-ai",
    "--usermap=1-2:3,0:bin",
    "src/",
    "dst/"
);
diff_test!(
    meta_groupmap_numeric,
    owned_tree,
    "-ai",
    "--numeric-ids",
    "--groupmap=1:2,2-5:nogroup",
    "src/",
    "dst/"
);
diff_test!(
    meta_usermap_twice,
    owned_tree,
    "-ai",
    "--usermap=a:b",
    "--usermap=c:d",
    "src/",
    "dst/"
);
diff_test!(
    meta_chown_then_usermap,
    owned_tree,
    "-ai",
    "--chown=bin",
    "--usermap=a:b",
    "src/",
    "dst/"
);
diff_test!(
    meta_usermap_no_colon,
    owned_tree,
    "-ai",
    "--usermap=bin",
    "src/",
    "dst/"
);
diff_test!(
    meta_usermap_bad_number,
    owned_tree,
    "-ai",
    "--usermap=1-:bin",
    "src/",
    "dst/"
);
diff_test!(
    meta_usermap_unknown,
    owned_tree,
    "-ai",
    "--usermap=bin:no-such-user-x",
    "src/",
    "dst/"
);
diff_test!(
    meta_chown_no_inc,
    owned_tree,
    "-ai",
    "--no-i-r",
    "--chown=nobody:nogroup",
    "src/",
    "dst/"
);

/// `dst/` atimes older than the source's, for `-U`'s `u` column.
fn old_atimes(setup: &Path) {
    let t = filetime::FileTime::from_unix_time(1_300_000_000, 0);
    for p in ["dst/exe", "dst/plain", "dst/sub/inner"] {
        filetime::set_file_atime(setup.join(p), t).unwrap();
    }
}
fn existing_atimes(name: &str) -> Scenario {
    Scenario::new(name)
        .with(src_tree)
        .with(dst_tree)
        .with(old_atimes)
}

diff_test!(meta_atimes_fresh, fresh, "-aUi", "src/", "dst/");
diff_test!(
    meta_atimes_existing,
    existing_atimes,
    "-aUi",
    "src/",
    "dst/"
);
diff_test!(meta_atimes_twice, existing_atimes, "-aUUi", "src/", "dst/");
diff_test!(
    meta_atimes_no,
    existing_atimes,
    "-aUi",
    "--no-U",
    "src/",
    "dst/"
);
diff_test!(
    meta_atimes_proto29,
    existing_atimes,
    "-aUi",
    "--protocol=29",
    "src/",
    "dst/"
);
diff_test!(meta_atimes_hard_links, fresh, "-aUHi", "src/", "dst/");
diff_test!(meta_atimes_list, fresh, "-aU", "--list-only", "src/");
diff_test!(
    meta_atimes_omit_link_times,
    existing_atimes,
    "-aUJi",
    "src/",
    "dst/"
);
