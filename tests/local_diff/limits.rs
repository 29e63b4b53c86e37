//! Size limits, `--max-alloc`, the time-limit options' checks, `--outbuf`
//! and `-8` against rsync.

use super::{differential, Cfg, Scenario};
use std::fs;
use std::path::Path;

/// Files of known sizes around the limits used below (1000, 1024, 1536,
/// 2000, 2048 and 4096 bytes, plus an empty one), in two directories.
fn sizes(setup: &Path) {
    for (p, n) in [
        ("src/empty", 0usize),
        ("src/k1000", 1000),
        ("src/k1023", 1023),
        ("src/k1024", 1024),
        ("src/k1025", 1025),
        ("src/sub/k1536", 1536),
        ("src/sub/k2000", 2000),
        ("src/sub/k2048", 2048),
        ("src/sub/k4096", 4096),
    ] {
        let path = setup.join(p);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, vec![b'x'; n]).unwrap();
    }
    std::os::unix::fs::symlink("k1000", setup.join("src/link")).unwrap();
    let t = filetime::FileTime::from_unix_time(1_500_000_000, 0);
    for d in ["src/sub", "src"] {
        filetime::set_file_mtime(setup.join(d), t).unwrap();
    }
}

fn sized(name: &str) -> Scenario {
    Scenario::new(name).with(sizes)
}

/// Names with bytes >= 0x80 (Latin-1 and UTF-8) and a control character.
fn high_bit_names(setup: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let src = setup.join("src");
    fs::create_dir_all(&src).unwrap();
    for name in [
        &b"caf\xe9"[..],
        b"na\xc3\xafve",
        b"tab\there",
        b"bell\x07",
        b"plain",
    ] {
        fs::write(src.join(std::ffi::OsStr::from_bytes(name)), b"x").unwrap();
    }
    let t = filetime::FileTime::from_unix_time(1_500_000_000, 0);
    filetime::set_file_mtime(&src, t).unwrap();
}

fn high_bit(name: &str) -> Scenario {
    Scenario::new(name).with(high_bit_names)
}

macro_rules! lim_test {
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

lim_test!(min_size_1k, sized, "-a", "-i", "--min-size=1k");
lim_test!(max_size_2k, sized, "-a", "-i", "--max-size=2K");
lim_test!(max_size_kb_is_1000, sized, "-a", "-i", "--max-size=2kb");
lim_test!(max_size_kib, sized, "-a", "-i", "--max-size=2KiB");
lim_test!(
    size_window_plus_minus_one,
    sized,
    "-a",
    "-i",
    "--min-size=1k+1",
    "--max-size=2k-1"
);
lim_test!(size_fraction, sized, "-a", "-i", "--max-size=1.5k");
lim_test!(
    size_bytes_unit,
    sized,
    "-a",
    "-i",
    "--min-size=1024b",
    "--max-size=0.004m"
);
lim_test!(
    size_reasons_vv,
    sized,
    "-r",
    "-vv",
    "--min-size=1025",
    "--max-size=2000"
);
lim_test!(
    size_later_value_wins,
    sized,
    "-a",
    "-i",
    "--max-size=1",
    "--max-size=3k"
);
lim_test!(size_zero_max, sized, "-a", "-i", "--max-size=0");
lim_test!(max_size_invalid, sized, "-a", "--max-size=x");
lim_test!(min_size_bad_unit, sized, "-a", "--min-size=1q");
lim_test!(max_size_negative, sized, "-a", "--max-size=-1");
lim_test!(max_size_bad_adjust, sized, "-a", "--max-size=1k+2");
lim_test!(max_size_huge, sized, "-a", "--max-size=99999999P");

lim_test!(max_alloc_ok, sized, "-a", "-i", "--max-alloc=64M");
lim_test!(max_alloc_zero_unlimited, sized, "-a", "-i", "--max-alloc=0");
lim_test!(max_alloc_too_small, sized, "-a", "--max-alloc=1k");
lim_test!(max_alloc_invalid, sized, "-a", "--max-alloc=lots");

#[test]
fn max_alloc_from_env() {
    for (name, val) in [("max_alloc_env_small", "5"), ("max_alloc_env_ok", "8M")] {
        let scn = sized(name);
        let cfg = Cfg {
            env: vec![("RSYNC_MAX_ALLOC".into(), val.into())],
            ..Cfg::default()
        };
        differential(name, &scn, &["-a", "-i", "src/", "dst/"], &cfg);
    }
}

lim_test!(bwlimit_invalid, sized, "-a", "--bwlimit=x");
lim_test!(bwlimit_too_small, sized, "-a", "--bwlimit=0.1");
lim_test!(bwlimit_unlimited_zero, sized, "-a", "-i", "--bwlimit=0");
lim_test!(bwlimit_fast_enough, sized, "-a", "-i", "--bwlimit=10M");
lim_test!(stop_after_zero, sized, "-a", "--stop-after=0");
lim_test!(stop_after_garbage, sized, "-a", "--time-limit=soon");
lim_test!(stop_after_far, sized, "-a", "-i", "--stop-after=600");
lim_test!(stop_at_garbage, sized, "-a", "--stop-at=noon");
lim_test!(stop_at_bad_time, sized, "-a", "--stop-at=24:00");
lim_test!(stop_at_past, sized, "-a", "--stop-at=2001-01-01T00:00");
lim_test!(
    stop_at_future_date,
    sized,
    "-a",
    "-i",
    "--stop-at=2099-12-31"
);
lim_test!(stop_at_next_midnight, sized, "-a", "-i", "--stop-at=T00:00");

lim_test!(outbuf_line, sized, "-a", "-i", "--outbuf=L");
lim_test!(outbuf_none, sized, "-a", "-v", "--outbuf=n");
lim_test!(outbuf_block, sized, "-a", "-i", "--outbuf=Block");
lim_test!(outbuf_invalid, sized, "-a", "--outbuf=x");

/// `-8` leaves high-bit bytes alone; without it they are escaped as
/// `\#ooo` in the C locale and only invalid UTF-8 is in a UTF-8 one.
/// Control characters are escaped either way.
#[test]
fn eight_bit_output() {
    for (name, args, locale) in [
        ("eight_bit_c_locale", &["-r", "-i", "-8"][..], "C"),
        ("eight_bit_off_c_locale", &["-r", "-i"][..], "C"),
        ("eight_bit_utf8_locale", &["-r", "-v", "-8"][..], "C.UTF-8"),
        (
            "eight_bit_off_utf8_locale",
            &["-r", "-v", "--no-8"][..],
            "C.UTF-8",
        ),
    ] {
        let scn = high_bit(name);
        let cfg = Cfg {
            env: vec![("LC_ALL".into(), locale.into())],
            ..Cfg::default()
        };
        let mut a = args.to_vec();
        a.extend(["src/", "dst/"]);
        differential(name, &scn, &a, &cfg);
    }
}
