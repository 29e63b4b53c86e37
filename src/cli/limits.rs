//! The option values that limit a run or shape backups, as rsync 3.5.0
//! reads them (upstream: the OPT_MAX_SIZE/OPT_MIN_SIZE/OPT_BWLIMIT/
//! OPT_STOP_AFTER/OPT_STOP_AT cases of parse_arguments(), parse_time(), and
//! the --max-alloc, --outbuf and backup checks after the popt loop).

use crate::cli::option_table::OptId;
use crate::cli::options_build::parse_size_arg;
use crate::error::Error;
use crate::options::{FilterArg, Options};

/// One of the size or time options, in command-line order (a later one
/// replaces an earlier one, and each is checked when it is seen).
pub(crate) fn apply(o: &mut Options, id: OptId, arg: &str) -> crate::Result<()> {
    match id {
        OptId::MinSize => {
            o.min_size =
                parse_size_arg(arg, b'b', "min-size", 0, -1, false).map_err(Error::syntax)?
        }
        OptId::MaxSize => {
            o.max_size =
                parse_size_arg(arg, b'b', "max-size", 0, -1, false).map_err(Error::syntax)?
        }
        OptId::BwLimit => {
            // A size in bytes per second (KiB when no unit is given), kept
            // as whole KiB, rounded to the nearest.
            let size =
                parse_size_arg(arg, b'K', "bwlimit", 512, -1, true).map_err(Error::syntax)?;
            o.bwlimit = u32::try_from((size + 512) / 1024).unwrap_or(u32::MAX);
        }
        OptId::StopAfter => {
            // atol() minutes: leading digits only, and it must be positive.
            let now = now_secs();
            let mins = atol(arg);
            let secs = mins
                .checked_mul(60)
                .filter(|&s| s > 0 && s <= i64::MAX - now);
            let Some(secs) = secs else {
                return Err(Error::syntax(format!("invalid --stop-after value: {arg}")));
            };
            o.stop_at_utime = now + secs;
        }
        OptId::StopAt => {
            let now = now_secs();
            let Some(t) = parse_time(arg, now) else {
                return Err(Error::syntax(format!("invalid --stop-at format: {arg}")));
            };
            if t <= now {
                return Err(Error::syntax(format!(
                    "--stop-at time is not in the future: {arg}"
                )));
            }
            o.stop_at_utime = t;
        }
        _ => unreachable!("not a limit option"),
    }
    Ok(())
}

/// `--outbuf=MODE`: the first letter decides, in any case (N or U for no
/// buffering, L for lines, B or F for blocks). 0 marks a bad mode, which is
/// only reported once the whole line is read.
pub(crate) fn outbuf_mode(arg: &str) -> u8 {
    match arg.bytes().next().map(|c| c.to_ascii_uppercase()) {
        Some(b'N' | b'U') => b'N',
        Some(b'L') => b'L',
        Some(b'B' | b'F') => b'B',
        _ => 0,
    }
}

/// `--max-alloc`, or RSYNC_MAX_ALLOC when the option is absent (an empty
/// variable counts as absent). At least 1 MiB; 0 means no limit.
pub(crate) fn settle_max_alloc(o: &mut Options) -> crate::Result<()> {
    if o.max_alloc_arg.is_none() {
        o.max_alloc_arg = std::env::var("RSYNC_MAX_ALLOC")
            .ok()
            .filter(|v| !v.is_empty());
    }
    if let Some(arg) = &o.max_alloc_arg {
        let size =
            parse_size_arg(arg, b'B', "max-alloc", 1024 * 1024, -1, true).map_err(Error::syntax)?;
        o.max_alloc = if size == 0 { u64::MAX } else { size as u64 };
    }
    Ok(())
}

/// The backup settings after the popt loop: the suffix's default (`~`, or
/// nothing with a backup dir), its checks, `--backup-dir` implying `-b`, and
/// the protect rule that keeps `--delete` from removing earlier backups.
pub(crate) fn settle_backups(o: &mut Options, suffix: Option<Vec<u8>>) -> crate::Result<()> {
    let suffix = suffix.unwrap_or_else(|| {
        if o.backup_dir.is_some() {
            Vec::new()
        } else {
            b"~".to_vec()
        }
    });
    if suffix.contains(&b'/') {
        return Err(Error::syntax(format!(
            "--suffix cannot contain slashes: {}",
            String::from_utf8_lossy(&suffix)
        )));
    }
    // A backup dir of "." (after dropping "./" prefixes) is the dest dir
    // itself: then it is as if none was given, but the suffix must not be
    // empty.
    let mut same_as_dest = false;
    if let Some(dir) = o.backup_dir.take() {
        o.make_backups = true;
        let mut d: &[u8] = &dir;
        while d.starts_with(b"./") {
            d = &d[2..];
        }
        if d == b"." {
            d = b"";
        }
        if d.len() > 4096 - 128 {
            return Err(Error::syntax("the --backup-dir path is WAY too long."));
        }
        if d.is_empty() {
            same_as_dest = true;
        } else {
            o.backup_dir = Some(d.to_vec());
        }
    }
    if o.backup_dir.is_none() {
        if suffix.is_empty() && (!o.server || !o.sender) {
            return Err(Error::syntax(if same_as_dest {
                "--suffix cannot be empty when --backup-dir is the same as the dest dir"
            } else {
                "--suffix cannot be empty without a --backup-dir"
            }));
        }
        if o.make_backups && o.deleting() && !o.delete_excluded && !o.server {
            let mut rule = b"P *".to_vec();
            rule.extend_from_slice(&suffix);
            o.filter_args.push(FilterArg::Filter(rule));
        }
        // Backups beside the files leave directory times alone (upstream
        // sets omit_dir_times to -1, which is not forwarded as -O).
        if o.make_backups {
            o.omit_dir_times = true;
            o.omit_dir_times_implied = true;
        }
    }
    o.backup_suffix = suffix;
    Ok(())
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// C's atol(): optional blanks and sign, then leading digits.
fn atol(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// A broken-down local time, with mktime()'s freedom to hold out-of-range
/// days (normalised by [`mktime`]).
#[derive(Debug, Clone, Copy)]
struct Tm {
    /// Years since 1900.
    year: i64,
    /// 0..=11.
    mon: i64,
    mday: i64,
    hour: i64,
    min: i64,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day count since 1970-01-01: (year, month 1..=12, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The local broken-down time of `t` (localtime_r()).
fn localtime(t: i64) -> Tm {
    let local = t + crate::report::localtime::utc_offset(t);
    let (y, m, d) = civil_from_days(local.div_euclid(86400));
    let secs = local.rem_euclid(86400);
    Tm {
        year: y - 1900,
        mon: m - 1,
        mday: d,
        hour: secs / 3600,
        min: secs % 3600 / 60,
    }
}

/// mktime(): the Unix time of a local time, normalising an out-of-range
/// month or day into the following ones as the C library does.
fn mktime(tm: &mut Tm) -> i64 {
    let y = 1900 + tm.year + tm.mon.div_euclid(12);
    let m = tm.mon.rem_euclid(12) + 1;
    let days = days_from_civil(y, m, 1) + tm.mday - 1;
    let local = days * 86400 + tm.hour * 3600 + tm.min * 60;
    // Find the UTC instant whose local reading is `local` (twice, so a
    // guess across a zone change settles).
    let off = crate::report::localtime::utc_offset;
    let guess = local - off(local);
    let t = local - off(guess);
    let n = localtime(t);
    tm.year = n.year;
    tm.mon = n.mon;
    tm.mday = n.mday;
    t
}

/// `--stop-at` values: `[[[YY]YY-]MM-DD][T|t][hh:mm]` in local time, as
/// upstream's parse_time() reads them. A missing date part picks the next
/// time in the future that matches; a lone `:mm` means that minute of the
/// current (or next) hour. None for a malformed or impossible value.
fn parse_time(arg: &str, now: i64) -> Option<i64> {
    let today = localtime(now);
    let s = arg.as_bytes();
    let (mut year, mut mon, mut mday) = (-1i64, -1i64, -1i64);
    let (mut hour, mut min) = (-1i64, -1i64);
    let mut p = 0;
    // 1 = reading a date, 0 = reading a time, -1 = a time must follow.
    let mut in_date: i32 = match s.first() {
        Some(b'T' | b't') => {
            p = 1;
            -1
        }
        Some(b':') => {
            p = 1;
            0
        }
        _ => 1,
    };
    loop {
        if !s.get(p).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        let mut n: i64 = 0;
        while let Some(&c) = s.get(p).filter(|c| c.is_ascii_digit()) {
            n = n.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            p += 1;
        }
        if s.get(p) == Some(&b':') {
            in_date = 0;
        }
        if in_date > 0 {
            // Date fields shift in from the right: D, then M-D, then Y-M-D.
            if year != -1 {
                return None;
            }
            year = mon;
            mon = mday;
            mday = n;
            match s.get(p) {
                None => break,
                Some(b'T' | b't') => {
                    if p + 1 == s.len() {
                        break;
                    }
                    in_date = -1;
                }
                Some(b'-' | b'/') => {}
                Some(_) => return None,
            }
            p += 1;
            continue;
        }
        if hour != -1 {
            return None;
        }
        hour = min;
        min = n;
        match s.get(p) {
            None => {
                if in_date < 0 {
                    return None;
                }
                break;
            }
            Some(b':') => {}
            Some(_) => return None,
        }
        in_date = 0;
        p += 1;
    }

    // Which field may be bumped to reach the future: 1 year, 2 month,
    // 3 day, 0 none.
    let mut bump = 0;
    if year < 0 {
        year = today.year;
        bump = 1;
    } else if year < 100 {
        while year < today.year {
            year += 100;
        }
    } else {
        year -= 1900;
    }
    if mon < 0 {
        mon = today.mon;
        bump = 2;
    } else {
        mon -= 1;
    }
    if mday < 0 {
        mday = today.mday;
        bump = 3;
    }
    let mut hour_step = false;
    if min < 0 {
        hour = 0;
        min = 0;
    } else if hour < 0 {
        if bump != 3 {
            return None;
        }
        bump = 0;
        hour = today.hour;
        hour_step = true;
    }
    let mut old_mday = mday;
    if hour > 23 || min > 59 || !(0..12).contains(&mon) || !(1..=31).contains(&mday) {
        return None;
    }
    let mut tm = Tm {
        year,
        mon,
        mday,
        hour,
        min,
    };
    let mut val = mktime(&mut tm);
    // A ":mm" that already passed this hour means the next hour.
    while hour_step && val <= now {
        val += 3600;
    }
    let mut guard = 0;
    while bump != 0 && (val <= now || tm.mday < old_mday) {
        guard += 1;
        if guard > 1000 {
            return None;
        }
        match bump {
            3 => {
                tm.mday += 1;
                old_mday = tm.mday;
            }
            2 => {
                if tm.mday < old_mday {
                    // mktime already moved into the next month.
                    tm.mday = old_mday;
                } else {
                    tm.mon += 1;
                    if tm.mon == 12 {
                        tm.mon = 0;
                        tm.year += 1;
                    }
                }
            }
            _ => {
                if tm.mday < old_mday {
                    // Only Feb 29 may roll over into March.
                    if tm.mon != 2 || old_mday != 29 {
                        return None;
                    }
                    tm.mon = 1;
                    tm.mday = 29;
                }
                tm.year += 1;
            }
        }
        val = mktime(&mut tm);
    }
    Some(val)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for d in [-1000, 0, 59, 60, 365, 11016, 20000] {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
    }

    #[test]
    fn stop_at_forms() {
        let now = 1_700_000_000;
        for ok in [
            "23:59",
            "T23:59",
            "t0:00",
            ":30",
            "12-31",
            "12-31T10:00",
            "2099-01-01",
            "2099-01-01T00:00",
            "99-1-1",
            "2099/1/1t5:05",
            "2099-01-01T",
            "30",
        ] {
            let t = parse_time(ok, now).unwrap_or_else(|| panic!("{ok}"));
            assert!(t > now, "{ok}");
        }
        for bad in [
            "", "x", "T", "12:", "1:2:3", "24:00", "12:60", "13-01", "T5", "1-2-3-4", "12-32",
            "T12:00x",
        ] {
            assert!(parse_time(bad, now).is_none(), "{bad}");
        }
        // A past date with a year stays in the past.
        assert!(parse_time("2000-01-01", now).unwrap() < now);
    }

    #[test]
    fn outbuf_letters() {
        assert_eq!(outbuf_mode("n"), b'N');
        assert_eq!(outbuf_mode("Unbuffered"), b'N');
        assert_eq!(outbuf_mode("line"), b'L');
        assert_eq!(outbuf_mode("full"), b'B');
        assert_eq!(outbuf_mode("x"), 0);
        assert_eq!(outbuf_mode(""), 0);
    }
}
