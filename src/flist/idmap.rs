//! `--usermap`, `--groupmap` and `--chown` on the receiving side (upstream:
//! uidlist.c parse_name_map(), recv_add_id()).
//!
//! A map is a comma-separated list of `FROM:TO` clauses. FROM is a name, a
//! wildcard pattern (`*`, `?`, `[`), a number or a range `LOW-HIGH`; TO is a
//! local name or number. The first clause that matches a sender's id (or
//! its name) decides; an id no clause matches keeps the usual name-based
//! mapping.

use crate::report::{LogCode, Logger};

#[derive(Debug, Clone)]
enum From {
    Wild(Vec<u8>),
    Name(Vec<u8>),
    Range(u32, u32),
    Id(u32),
}

#[derive(Debug, Clone)]
pub struct NameMap {
    clauses: Vec<(From, u32)>,
}

/// A local user or group by name or number (uidlist.c user_to_uid()).
pub fn local_id(user: bool, name: &[u8]) -> Option<u32> {
    if !name.is_empty() && name.iter().all(|c| c.is_ascii_digit()) {
        return std::str::from_utf8(name).ok()?.parse().ok();
    }
    let n = std::str::from_utf8(name).ok()?;
    if user {
        users::get_user_by_name(n).map(|u| u.uid())
    } else {
        users::get_group_by_name(n).map(|g| g.gid())
    }
}

fn id_parse(s: &[u8]) -> u32 {
    // Digits only here; an overlong number wraps as upstream's id_parse()
    // would not matter for real ids.
    s.iter()
        .fold(0u64, |n, &c| {
            n.saturating_mul(10).saturating_add((c - b'0') as u64)
        })
        .min(u32::MAX as u64) as u32
}

impl NameMap {
    /// Only the fatal syntax errors of [`NameMap::parse`] (a client checks
    /// its own maps before it starts, so a local copy stops at once).
    pub fn check(map: &[u8], user: bool) -> Result<(), String> {
        Self::parse_with(map, user, &mut |_| {}).map(|_| ())
    }

    /// parse_name_map(): clauses are read last to first, so that errors
    /// come in upstream's order. A fatal error (exit code 1) is returned
    /// as its message; an unknown TO name is only reported.
    pub fn parse(map: &[u8], user: bool, log: &Logger) -> Result<NameMap, String> {
        Self::parse_with(map, user, &mut |m| log.log(LogCode::Error, &m))
    }

    fn parse_with(
        map: &[u8],
        user: bool,
        report: &mut dyn FnMut(String),
    ) -> Result<NameMap, String> {
        let what = if user { "user" } else { "group" };
        let mut clauses = Vec::new();
        for part in map.rsplit(|&c| c == b',') {
            let text = String::from_utf8_lossy(part);
            let Some(colon) = memchr::memchr(b':', part) else {
                return Err(format!("No colon found in --{what}map: {text}"));
            };
            let (from, to) = (&part[..colon], &part[colon + 1..]);
            if to.is_empty() {
                return Err(format!("No name found after colon --{what}map: {text}"));
            }
            let from_text = String::from_utf8_lossy(from);
            let m = if from.first().is_some_and(|c| c.is_ascii_digit()) {
                let ok = from.iter().all(|&c| c.is_ascii_digit() || c == b'-');
                let dash = memchr::memchr(b'-', from);
                let bad_dash = dash.is_some_and(|d| {
                    d + 1 >= from.len() || memchr::memchr(b'-', &from[d + 1..]).is_some()
                });
                if !ok || bad_dash {
                    return Err(format!("Invalid number in --{what}map: {from_text}"));
                }
                match dash {
                    Some(d) => {
                        let hi = id_parse(&from[d + 1..]);
                        if hi == 0 {
                            From::Id(id_parse(&from[..d]))
                        } else {
                            From::Range(id_parse(&from[..d]), hi)
                        }
                    }
                    None => From::Id(id_parse(from)),
                }
            } else if from.iter().any(|c| b"*[?".contains(c)) {
                From::Wild(from.to_vec())
            } else {
                From::Name(from.to_vec())
            };
            match local_id(user, to) {
                Some(id) => clauses.push((m, id)),
                None => report(format!(
                    "Unknown --{what}map name on receiver: {}\n",
                    String::from_utf8_lossy(to)
                )),
            }
        }
        clauses.reverse();
        Ok(NameMap { clauses })
    }

    /// The clause deciding a sender's id and name, if any.
    pub fn lookup(&self, id: u32, name: &[u8]) -> Option<u32> {
        self.clauses.iter().find_map(|(m, to)| {
            let hit = match m {
                From::Wild(p) => crate::filter::wildmatch::wildmatch(p, name),
                From::Name(n) => n == name,
                From::Range(lo, hi) => id >= *lo && id <= *hi,
                From::Id(i) => *i == id,
            };
            hit.then_some(*to)
        })
    }
}
