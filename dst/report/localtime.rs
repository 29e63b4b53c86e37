//! The local time zone's UTC offset, read from the TZif database
//! (`$TZ` naming a zone file or `:zone`, else /etc/localtime), so that
//! times print as upstream's localtime()-based timestring() does without
//! any unsafe libc call. A POSIX `TZ=EST5EDT`-style rule string is reduced
//! to its standard offset; an unreadable zone means UTC.

use std::sync::OnceLock;

#[derive(Debug, Default)]
pub struct Zone {
    /// (transition time, offset in seconds east of UTC), ascending.
    transitions: Vec<(i64, i64)>,
    /// Offset before the first transition, or always when there are none.
    default: i64,
}

impl Zone {
    pub fn offset_at(&self, t: i64) -> i64 {
        match self.transitions.binary_search_by(|(tt, _)| tt.cmp(&t)) {
            Ok(i) => self.transitions[i].1,
            Err(0) => self.default,
            Err(i) => self.transitions[i - 1].1,
        }
    }
}

fn be32(b: &[u8], i: usize) -> Option<i64> {
    Some(i32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?) as i64)
}

fn be64(b: &[u8], i: usize) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

/// Parse a TZif file (version 1 data, or the 64-bit block of version 2+).
pub fn parse_tzif(data: &[u8]) -> Option<Zone> {
    if data.get(..4)? != b"TZif" {
        return None;
    }
    let counts = |base: usize| -> Option<[usize; 6]> {
        let mut c = [0usize; 6];
        for (k, slot) in c.iter_mut().enumerate() {
            *slot = be32(data, base + 20 + 4 * k)? as usize;
        }
        Some(c)
    };
    let [isutc, isstd, leap, timecnt, typecnt, charcnt] = counts(0)?;
    let v1_len = 44 + timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isutc;
    let (base, tsize) = if data[4] >= b'2' && data.len() > v1_len + 44 {
        (v1_len, 8)
    } else {
        (0, 4)
    };
    let [_, _, _, timecnt, typecnt, _] = counts(base)?;
    if typecnt == 0 || timecnt > 1 << 20 {
        return None;
    }
    let times_at = base + 44;
    let idx_at = times_at + timecnt * tsize;
    let types_at = idx_at + timecnt;
    let mut offsets = Vec::with_capacity(typecnt);
    for k in 0..typecnt {
        offsets.push(be32(data, types_at + 6 * k)?);
    }
    let mut transitions = Vec::with_capacity(timecnt);
    for k in 0..timecnt {
        let t = if tsize == 8 {
            be64(data, times_at + 8 * k)?
        } else {
            be32(data, times_at + 4 * k)?
        };
        let ty = *data.get(idx_at + k)? as usize;
        transitions.push((t, *offsets.get(ty)?));
    }
    Some(Zone {
        transitions,
        default: offsets[0],
    })
}

fn load() -> Zone {
    let path = match std::env::var("TZ") {
        Ok(tz) if tz.is_empty() => return Zone::default(),
        Ok(tz) => {
            let name = tz.trim_start_matches(':');
            if name.starts_with('/') {
                name.to_string()
            } else if std::path::Path::new("/usr/share/zoneinfo")
                .join(name)
                .exists()
            {
                format!("/usr/share/zoneinfo/{name}")
            } else {
                return Zone {
                    transitions: Vec::new(),
                    default: posix_std_offset(name),
                };
            }
        }
        Err(_) => "/etc/localtime".to_string(),
    };
    std::fs::read(path)
        .ok()
        .and_then(|d| parse_tzif(&d))
        .unwrap_or_default()
}

/// "EST5EDT" -> -5 h: the standard-time part of a POSIX TZ rule.
fn posix_std_offset(s: &str) -> i64 {
    let rest = s.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let (sign, rest) = match rest.as_bytes().first() {
        Some(b'-') => (1, &rest[1..]),
        Some(b'+') => (-1, &rest[1..]),
        _ => (-1, rest),
    };
    let mut parts = rest.split(|c: char| !c.is_ascii_digit() && c != ':');
    let hms = parts.next().unwrap_or("");
    let mut secs = 0i64;
    for (k, p) in hms.split(':').take(3).enumerate() {
        secs += p.parse::<i64>().unwrap_or(0) * [3600, 60, 1][k];
    }
    sign * secs
}

/// Offset east of UTC at time `t` in the process's local zone.
pub fn utc_offset(t: i64) -> i64 {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(load).offset_at(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_system_zones_like_date_does() {
        let Ok(data) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") else {
            return;
        };
        let z = parse_tzif(&data).expect("valid tzif");
        assert_eq!(z.offset_at(1_700_000_000), 3600); // November: CET
        assert_eq!(z.offset_at(1_690_000_000), 7200); // July: CEST
    }

    #[test]
    fn posix_rules_give_standard_offset() {
        assert_eq!(posix_std_offset("EST5EDT"), -5 * 3600);
        assert_eq!(posix_std_offset("JST-9"), 9 * 3600);
        assert_eq!(posix_std_offset("UTC"), 0);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_tzif(b"TZif2 short").is_none());
        assert!(parse_tzif(b"nope").is_none());
    }
}
