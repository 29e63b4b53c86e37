//! Number and time rendering (upstream: lib/compat.c do_big_num() and
//! do_big_dnum(), inums.h, util1.c timestring()).
//!
//! The `level` argument everywhere is upstream's `human_readable` value:
//! 0 with `--no-h`, 1 by default, 2 with `-h`, 3 with `-hh`.
//!
//! Upstream picks the digit-group separator by probing the locale's decimal
//! point (a ',' decimal point switches the separator to '.'). rsync only sets
//! LC_CTYPE, so numbers always use the C numeric locale: ',' groups and '.'
//! decimal points. We hard-code that.

/// Digit-group separator (see the module comment).
const SEPARATOR: char = ',';

/// Upstream `human_num()` / `do_big_num(n, level, NULL)`.
///
/// - level 0: plain digits (`1234567`)
/// - level 1: comma-grouped (`1,234,567`)
/// - level 2: units of 1000 once |n| >= 1000 (`1.23M`), else plain digits
/// - level 3: units of 1024 once |n| >= 1024 (`1.18M`), else plain digits
pub fn human_num(n: i64, level: u8) -> String {
    big_num_with_fract(n, level, "")
}

/// Upstream `comma_num()`: grouping whenever any `-h` level is active, but
/// never units (used for counts such as "Number of files").
pub fn comma_num(n: i64, level: u8) -> String {
    human_num(n, u8::from(level != 0))
}

/// Upstream `human_dnum(d, digits)`: a fixed-point number with unit scaling
/// at levels >= 2.
pub fn human_dnum(d: f64, level: u8, digits: usize) -> String {
    big_dnum(d, level, digits)
}

/// Upstream `comma_dnum(d, digits)`: a fixed-point number whose integer part
/// is comma-grouped when `level != 0` (used for times and the speedup).
pub fn comma_dnum(d: f64, level: u8, digits: usize) -> String {
    big_dnum(d, u8::from(level != 0), digits)
}

/// `%.Nf` as C's printf renders it, including "inf" and "-nan" (x86 produces
/// a negative NaN for 0.0/0.0, and glibc prints its sign).
pub fn fixed(d: f64, digits: usize) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if d.is_infinite() {
        return if d < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    // Rust's formatter rounds the exact binary value half-to-even, as glibc does.
    format!("{d:.digits$}")
}

/// The integer part + suffix machinery shared by the int and float variants.
/// `fract` is appended only when no unit suffix is used.
fn big_num_with_fract(n: i64, level: u8, fract: &str) -> String {
    if level > 1 {
        let mult: i64 = if level == 2 { 1000 } else { 1024 };
        if n >= mult || n <= -mult {
            let m = mult as f64;
            let mut d = (n as f64 / m).abs();
            let mut unit = 'K';
            for next in ['M', 'G', 'T', 'P'] {
                if d < m {
                    break;
                }
                d /= m;
                unit = next;
            }
            if n < 0 {
                d = -d;
            }
            return format!("{}{unit}", fixed(d, 2));
        }
    }
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() * 4 / 3 + 2 + fract.len());
    if n < 0 {
        out.push('-');
    }
    if level == 0 {
        out.push_str(&digits);
    } else {
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(SEPARATOR);
            }
            out.push(ch);
        }
    }
    out.push_str(fract);
    out
}

/// Upstream do_big_dnum(). The fraction is taken from the `%.Nf` rendering
/// but the integer part is the *truncated* value, so 1234.999 at level 1 is
/// "1,234.00" (upstream's behaviour, kept for byte-identical output).
fn big_dnum(d: f64, level: u8, digits: usize) -> String {
    let text = fixed(d, digits);
    if level == 0 || (d < 1000.0 && d > -1000.0) {
        return text;
    }
    // Upstream skips the first char (a digit or '-') and then all digits;
    // the rest (".dd", or "nf"/"an" for inf/nan) is the fraction.
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let fract = &text[i.min(text.len())..];
    // C's (int64) cast of a non-finite double yields INT64_MIN on x86-64;
    // Rust's `as` saturates instead, so spell the C result out.
    let n = if d.is_finite() { d as i64 } else { i64::MIN };
    big_num_with_fract(n, level, fract)
}

/// Bytes-per-second figure of the summary line (main.c
/// bytes_per_sec_human_dnum()). `elapsed_secs` is the whole-second
/// difference of end and start time; upstream adds half a second to it.
pub fn bytes_per_sec(total_bytes: i64, elapsed_secs: i64, level: u8) -> String {
    human_dnum(total_bytes as f64 / (0.5 + elapsed_secs as f64), level, 2)
}

/// `YYYY/MM/DD HH:MM:SS` for `t` shifted by `utc_offset` seconds (util1.c
/// timestring()). Local time is the caller's business: the crate forbids the
/// unsafe code that `localtime_r()` needs, so callers pass the offset that
/// applies at `t`.
pub fn timestring(t: i64, utc_offset: i64) -> String {
    let local = t.saturating_add(utc_offset);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if i32::try_from(y - 1900).is_err() {
        // localtime_r() fails once tm_year does not fit an int.
        return "(time out of range)".to_string();
    }
    format!(
        "{:4}/{:02}/{:02} {:02}:{:02}:{:02}",
        y,
        m,
        d,
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Proleptic Gregorian date of a day count relative to 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift to a calendar starting 0000-03-01 so leap days end each cycle.
    let z = days as i128 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of 400-year era
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153; // March-based month
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i128::from(m <= 2);
    (y.clamp(i64::MIN as i128, i64::MAX as i128) as i64, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected strings recorded from rsync 3.5.0 (testsuite/report-goldens.sh,
    // "list-only" and "stats" scenarios) unless a comment says otherwise.
    #[test]
    fn levels_from_rsync() {
        assert_eq!(human_num(1_234_567, 0), "1234567");
        assert_eq!(human_num(1_234_567, 1), "1,234,567");
        assert_eq!(human_num(1_234_567, 2), "1.23M");
        assert_eq!(human_num(1_234_567, 3), "1.18M");
        assert_eq!(human_num(4096, 1), "4,096");
        assert_eq!(human_num(4096, 2), "4.10K");
        assert_eq!(human_num(4096, 3), "4.00K");
        assert_eq!(human_num(4100, 2), "4.10K");
        assert_eq!(human_num(106, 2), "106");
        assert_eq!(human_num(0, 1), "0");
        assert_eq!(human_num(6, 3), "6");
    }

    #[test]
    fn unit_thresholds() {
        // Units start at exactly the multiplier; below it digits are grouped.
        // Recorded from rsync 3.5.0 --list-only: 1023 bytes with -hh is
        // "1,023"; 999999 bytes is "1000.00K" with -h and "976.56K" with -hh.
        assert_eq!(human_num(999, 2), "999");
        assert_eq!(human_num(1000, 2), "1.00K");
        assert_eq!(human_num(1023, 3), "1,023");
        assert_eq!(human_num(999_999, 3), "976.56K");
        assert_eq!(human_num(1024, 3), "1.00K");
        assert_eq!(human_num(999_999, 2), "1000.00K");
        assert_eq!(human_num(1_000_000, 2), "1.00M");
        assert_eq!(human_num(1_000_000_000_000_000, 2), "1.00P");
        assert_eq!(human_num(i64::MAX, 2), "9223.37P");
        assert_eq!(human_num(-4096, 2), "-4.10K");
        assert_eq!(human_num(-1_234_567, 1), "-1,234,567");
        assert_eq!(human_num(i64::MIN, 1), "-9,223,372,036,854,775,808");
        assert_eq!(human_num(i64::MIN, 0), "-9223372036854775808");
    }

    #[test]
    fn dnum() {
        // Rates and speedups recorded from rsync 3.5.0.
        assert_eq!(human_dnum(2_478_812.0, 1, 2), "2,478,812.00");
        assert_eq!(human_dnum(2_478_812.0, 0, 2), "2478812.00");
        assert_eq!(human_dnum(2_478_812.0, 2, 2), "2.48M");
        assert_eq!(human_dnum(486.0, 2, 2), "486.00");
        assert_eq!(comma_dnum(5926.78, 1, 2), "5,926.78");
        assert_eq!(comma_dnum(0.001, 1, 3), "0.001");
        // Upstream truncates the integer part but rounds the fraction.
        assert_eq!(comma_dnum(1234.999, 1, 2), "1,234.00");
        assert_eq!(comma_dnum(999.999, 1, 2), "1000.00");
        // Non-finite values follow what the C code does on x86-64 glibc.
        assert_eq!(comma_dnum(f64::INFINITY, 0, 2), "inf");
        assert_eq!(
            comma_dnum(f64::INFINITY, 1, 2),
            "-9,223,372,036,854,775,808nf"
        );
        assert_eq!(comma_dnum(-f64::NAN, 1, 2), "-9,223,372,036,854,775,808nan");
        assert_eq!(human_dnum(f64::INFINITY, 2, 2), "-9223.37P");
        assert_eq!(fixed(-f64::NAN, 2), "-nan");
    }

    #[test]
    fn rate() {
        // "sent 177 bytes  received 32 bytes  418.00 bytes/sec" (same second).
        assert_eq!(bytes_per_sec(209, 0, 1), "418.00");
        assert_eq!(bytes_per_sec(1_239_406, 0, 1), "2,478,812.00");
        assert_eq!(bytes_per_sec(300, 1, 1), "200.00");
    }

    #[test]
    fn times() {
        // 1700000000 is 2023/11/14 22:13:20 UTC; Asia/Kolkata is +05:30.
        assert_eq!(timestring(1_700_000_000, 0), "2023/11/14 22:13:20");
        assert_eq!(timestring(1_700_000_000, 19_800), "2023/11/15 03:43:20");
        assert_eq!(timestring(0, 0), "1970/01/01 00:00:00");
        assert_eq!(timestring(-1, 0), "1969/12/31 23:59:59");
        assert_eq!(timestring(951_782_400, 0), "2000/02/29 00:00:00");
        assert_eq!(timestring(i64::MAX, 0), "(time out of range)");
    }
}
