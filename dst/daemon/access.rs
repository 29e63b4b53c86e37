//! "hosts allow" / "hosts deny" (upstream access.c).
//!
//! The caller supplies the peer's numeric address and the host name found by
//! reverse lookup (or [`Host::Undetermined`] when "reverse lookup" is off);
//! this module does no DNS itself. Forward lookups of host-name tokens (the
//! "forward lookup" parameter) and netgroups go through a [`Resolver`].
//!
//! Token rules, per token of a list split on space, comma and tab, with the
//! list folded to lower case first:
//! - a host-name pattern (wildmatch, case-insensitive) against the reverse
//!   name; `@group` is a NIS netgroup;
//! - with "forward lookup", a plain host name is resolved (IPv4, as
//!   gethostbyname) and compared with the peer address; an unresolvable name
//!   counts as a match in a *deny* list (fail closed) and not in an allow list;
//! - an address `a.b.c.d`, `a:b::c`, optionally `/bits` or `/netmask`
//!   (`/0` matches every address of that family). Short IPv4 forms such as
//!   `127.1` work, as getaddrinfo() accepts them.
//!
//! Precedence: a match in "hosts allow" admits; with an allow list and no
//! deny list everything else is refused; a match in "hosts deny" refuses;
//! everything else is admitted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::wildmatch::iwildmatch;

/// The name upstream uses when reverse lookup is off.
pub const UNDETERMINED_HOSTNAME: &str = "UNDETERMINED";

/// The peer's host name as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// Reverse lookup was not done. Upstream still matches patterns against
    /// the text "UNDETERMINED" (so `*` matches it).
    Undetermined,
    /// The reverse-lookup result (upstream's client_name(); it is
    /// "UNKNOWN" when the lookup failed).
    Name(String),
}

impl Host {
    pub fn as_str(&self) -> &str {
        match self {
            Host::Undetermined => UNDETERMINED_HOSTNAME,
            Host::Name(n) => n,
        }
    }
}

/// The lookups access checks may need.
pub trait Resolver {
    /// IPv4 addresses of `name` (gethostbyname()); `None` if it does not
    /// resolve.
    fn forward_ipv4(&self, name: &str) -> Option<Vec<Ipv4Addr>>;
    /// innetgr(netgroup, host): is `host` in the NIS netgroup?
    fn in_netgroup(&self, _netgroup: &str, _host: &str) -> bool {
        false
    }
}

/// A resolver that knows no names (tests; "forward lookup = no").
pub struct NoResolver;

impl Resolver for NoResolver {
    fn forward_ipv4(&self, _name: &str) -> Option<Vec<Ipv4Addr>> {
        None
    }
}

/// The peer as access checks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub addr: IpAddr,
    /// IPv6 scope (interface index); 0 when none.
    pub scope_id: u32,
    /// May be replaced by a forward-matched token when undetermined, as
    /// upstream does so later log lines show a name.
    pub host: Host,
}

/// The outcome of [`allow_access`]: the verdict plus upstream's log lines
/// (malformed tokens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessResult {
    pub allowed: bool,
    pub log: Vec<String>,
}

/// Decide access for one module (upstream allow_access()). `allow` and
/// `deny` are the (expanded) parameter values; "" means not set.
pub fn allow_access(
    peer: &mut Peer,
    allow: &str,
    deny: &str,
    forward_lookup: bool,
    resolver: &dyn Resolver,
) -> AccessResult {
    let mut log = Vec::new();
    let mut m = Matcher {
        peer,
        forward_lookup,
        resolver,
        log: &mut log,
    };
    let allowed = if !allow.is_empty() && m.list_matches(allow, false) {
        true
    } else if !allow.is_empty() && deny.is_empty() {
        false
    } else {
        deny.is_empty() || !m.list_matches(deny, true)
    };
    AccessResult { allowed, log }
}

/// Is the peer a trusted PROXY-protocol sender ("proxy protocol hosts")?
/// Forward lookups are never used here.
pub fn allow_proxy_protocol_peer(peer: &mut Peer, list: &str, resolver: &dyn Resolver) -> bool {
    if list.is_empty() {
        return false;
    }
    let mut log = Vec::new();
    Matcher {
        peer,
        forward_lookup: false,
        resolver,
        log: &mut log,
    }
    .list_matches(list, false)
}

struct Matcher<'a> {
    peer: &'a mut Peer,
    forward_lookup: bool,
    resolver: &'a dyn Resolver,
    log: &'a mut Vec<String>,
}

impl Matcher<'_> {
    fn list_matches(&mut self, list: &str, deny: bool) -> bool {
        // strlower(): ASCII letters only (bytes >= 0x80 are left alone).
        let list = list.to_ascii_lowercase();
        list.split([' ', ',', '\t'])
            .filter(|t| !t.is_empty())
            .any(|tok| self.match_hostname(tok, deny) || self.match_address(tok))
    }

    fn match_hostname(&mut self, tok: &str, deny: bool) -> bool {
        let host = self.peer.host.as_str().to_string();
        if host.is_empty() {
            return false;
        }
        if let Some(group) = tok.strip_prefix('@').filter(|g| !g.is_empty()) {
            return self.resolver.in_netgroup(group, &host);
        }
        if iwildmatch(tok, &host) {
            return true;
        }
        if !self.forward_lookup {
            return false;
        }
        // Addresses and patterns are never resolved.
        let all_numeric = tok.bytes().all(|c| c == b'.' || c.is_ascii_digit());
        if all_numeric || tok.bytes().any(|c| b":/*?[".contains(&c)) {
            return false;
        }
        let Some(addrs) = self.resolver.forward_ipv4(tok) else {
            // An unresolvable deny token must deny (fail closed).
            return deny;
        };
        let IpAddr::V4(me) = self.peer.addr else {
            return false;
        };
        if addrs.contains(&me) {
            if self.peer.host == Host::Undetermined {
                self.peer.host = Host::Name(tok.to_string());
            }
            return true;
        }
        false
    }

    fn match_address(&mut self, tok: &str) -> bool {
        let (addr_part, mask_part) = match tok.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (tok, None),
        };
        // A host name, not an address: no match, quietly.
        if addr_part.bytes().any(|c| c != b'.' && !c.is_ascii_digit()) && !addr_part.contains(':') {
            return false;
        }
        let Some((taddr, tscope)) = parse_numeric_host(addr_part) else {
            self.log.push(format!(
                "error matching address {addr_part}: Name or service not known"
            ));
            return false;
        };
        let (a, t): (Vec<u8>, Vec<u8>) = match (self.peer.addr, taddr) {
            (IpAddr::V4(a), IpAddr::V4(t)) => (a.octets().to_vec(), t.octets().to_vec()),
            (IpAddr::V6(a), IpAddr::V6(t)) => {
                if tscope != 0 && tscope != self.peer.scope_id {
                    return false;
                }
                (a.octets().to_vec(), t.octets().to_vec())
            }
            _ => return false,
        };
        let len = a.len();
        let mask: Vec<u8> = match mask_part {
            None => vec![0xff; len],
            Some(m) => {
                // A netmask in address form (inet_pton of the peer's family).
                let as_addr = if len == 4 {
                    m.parse::<Ipv4Addr>().ok().map(|x| x.octets().to_vec())
                } else {
                    m.parse::<Ipv6Addr>().ok().map(|x| x.octets().to_vec())
                };
                match as_addr {
                    Some(v) => v,
                    None => match c_strtol_exact(m) {
                        None => {
                            self.log.push(format!("malformed mask in {tok}"));
                            return false;
                        }
                        Some(0) => return true,
                        Some(bits) if bits < 0 || bits > (len as i64) * 8 => {
                            self.log.push(format!("malformed mask in {tok}"));
                            return false;
                        }
                        Some(bits) => prefix_mask(bits as usize, len),
                    },
                }
            }
        };
        a.iter()
            .zip(&t)
            .zip(&mask)
            .all(|((x, y), m)| (x ^ y) & m == 0)
    }
}

fn prefix_mask(bits: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            let left = bits.saturating_sub(i * 8).min(8);
            if left == 0 {
                0
            } else {
                0xffu8 << (8 - left)
            }
        })
        .collect()
}

/// strtol(s, &end, 10) that must consume the whole non-empty string.
fn c_strtol_exact(s: &str) -> Option<i64> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if s.is_empty() || digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v = digits.parse::<i64>().unwrap_or(i64::MAX);
    Some(if neg { -v } else { v })
}

/// A numeric host as getaddrinfo(AI_NUMERICHOST) reads it: IPv6 (with an
/// optional numeric `%scope`) or IPv4 in inet_aton()'s forms (`a`, `a.b`,
/// `a.b.c`, `a.b.c.d`, each part decimal, octal with a leading 0, or hex).
pub fn parse_numeric_host(s: &str) -> Option<(IpAddr, u32)> {
    if s.contains(':') {
        let (a, scope) = match s.split_once('%') {
            Some((a, sc)) => (a, sc.parse::<u32>().ok()?),
            None => (s, 0),
        };
        return a.parse::<Ipv6Addr>().ok().map(|x| (IpAddr::V6(x), scope));
    }
    inet_aton(s).map(|x| (IpAddr::V4(x), 0))
}

/// glibc inet_aton() without trailing-garbage tolerance (inet_aton_exact).
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let mut parts: Vec<u64> = Vec::new();
    for p in s.split('.') {
        if parts.len() == 4 {
            return None;
        }
        let (digits, radix) = if let Some(h) = p.strip_prefix("0x").or(p.strip_prefix("0X")) {
            (h, 16)
        } else if p.len() > 1 && p.starts_with('0') {
            (&p[1..], 8)
        } else {
            (p, 10)
        };
        if p.is_empty() || (radix != 16 && digits.is_empty() && p != "0") {
            return None;
        }
        // "0x" alone is 0 in glibc.
        let v = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).ok()?
        };
        if v > u64::from(u32::MAX) {
            return None;
        }
        parts.push(v);
    }
    let n = parts.len();
    let (head, last) = parts.split_at(n - 1);
    if head.iter().any(|&v| v > 0xff) {
        return None;
    }
    let last = last[0];
    let room = 32 - 8 * (n as u32 - 1);
    if room < 32 && last >> room != 0 {
        return None;
    }
    let mut v: u32 = 0;
    for (i, &p) in head.iter().enumerate() {
        v |= (p as u32) << (24 - 8 * i as u32);
    }
    v |= last as u32;
    Some(Ipv4Addr::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct MapResolver(HashMap<&'static str, Vec<Ipv4Addr>>);
    impl Resolver for MapResolver {
        fn forward_ipv4(&self, name: &str) -> Option<Vec<Ipv4Addr>> {
            self.0.get(name).cloned()
        }
        fn in_netgroup(&self, g: &str, h: &str) -> bool {
            g == "trusted" && h == "good.example.com"
        }
    }

    fn peer(a: &str, host: Option<&str>) -> Peer {
        Peer {
            addr: a.parse().unwrap(),
            scope_id: 0,
            host: host.map_or(Host::Undetermined, |h| Host::Name(h.into())),
        }
    }

    fn check(a: &str, host: Option<&str>, allow: &str, deny: &str, fwd: bool) -> bool {
        let mut r = HashMap::new();
        r.insert("localhost", vec![Ipv4Addr::new(127, 0, 0, 1)]);
        r.insert("other", vec![Ipv4Addr::new(10, 9, 9, 9)]);
        let res = MapResolver(r);
        allow_access(&mut peer(a, host), allow, deny, fwd, &res).allowed
    }

    #[test]
    fn precedence_and_tokens() {
        // (addr, host, allow, deny, forward lookup, expected)
        type Case = (
            &'static str,
            Option<&'static str>,
            &'static str,
            &'static str,
            bool,
            bool,
        );
        let t: &[Case] = &[
            // (addr, host, allow, deny, forward, expected)
            ("127.0.0.1", None, "", "", true, true),
            ("127.0.0.1", None, "127.0.0.1", "", false, true),
            ("127.0.0.1", None, "10.0.0.1", "", false, false),
            ("127.0.0.1", None, "10.0.0.1", "10.0.0.2", false, true),
            ("127.0.0.1", None, "", "127.0.0.1", false, false),
            ("127.0.0.1", None, "127.0.0.1", "127.0.0.1", false, true),
            ("127.0.0.1", None, "", "*", false, false), // "*" matches UNDETERMINED
            ("127.0.0.1", None, "127.0.0.0/8", "", false, true),
            ("127.0.0.1", None, "127.0.0.0/255.0.0.0", "", false, true),
            ("127.0.0.1", None, "128.0.0.0/1", "", false, false),
            ("127.0.0.1", None, "0.0.0.0/0", "", false, true),
            ("127.0.0.1", None, "10.0.0.0/0", "", false, true),
            ("127.0.0.1", None, "127.0.0.2/31", "", false, false),
            ("127.0.0.1", None, "127.0.0.0/33", "", false, false),
            ("127.0.0.1", None, "127.0.0.0/x", "", false, false),
            ("127.0.0.1", None, "127.1", "", false, true),
            ("127.0.0.1", None, "0177.0.0.1", "", false, true),
            ("127.0.0.1", None, "::1", "", false, false),
            ("127.0.0.1", None, "10.0.0.1, 127.0.0.1", "", false, true),
            ("127.0.0.1", None, "10.0.0.1,,\t127.0.0.1", "", false, true),
            ("::1", None, "::1", "", false, true),
            ("::1", None, "::/0", "", false, true),
            ("::1", None, "127.0.0.1", "", false, false),
            ("2001:db8::5", None, "2001:DB8::/32", "", false, true),
            ("2001:db8::5", None, "2001:db9::/32", "", false, false),
            (
                "2001:db8::5",
                None,
                "2001:db8::/ffff:ffff::",
                "",
                false,
                true,
            ),
            ("::ffff:127.0.0.1", None, "127.0.0.1", "", false, false),
            // host names
            (
                "10.1.1.1",
                Some("a.Example.com"),
                "*.example.COM",
                "",
                false,
                true,
            ),
            (
                "10.1.1.1",
                Some("a.example.com"),
                "b.example.com",
                "",
                false,
                false,
            ),
            (
                "10.1.1.1",
                Some("a.example.com"),
                "?.example.com",
                "",
                false,
                true,
            ),
            (
                "10.1.1.1",
                Some("good.example.com"),
                "@trusted",
                "",
                false,
                true,
            ),
            (
                "10.1.1.1",
                Some("bad.example.com"),
                "@trusted",
                "",
                false,
                false,
            ),
            // forward lookup
            ("127.0.0.1", None, "localhost", "", true, true),
            ("127.0.0.1", None, "localhost", "", false, false),
            ("127.0.0.1", None, "other", "", true, false),
            ("127.0.0.1", None, "", "unresolvable", true, false), // fail closed
            ("127.0.0.1", None, "unresolvable", "", true, false),
            ("127.0.0.1", None, "", "unresolvable", false, true),
            ("127.0.0.1", None, "local*", "", true, false), // patterns never resolved
        ];
        for &(a, h, allow, deny, fwd, want) in t {
            assert_eq!(
                check(a, h, allow, deny, fwd),
                want,
                "{a} {h:?} allow={allow:?} deny={deny:?} fwd={fwd}"
            );
        }
    }

    #[test]
    fn logs_and_host_update() {
        let mut p = peer("127.0.0.1", None);
        let r = allow_access(&mut p, "127.0.0.0/40 1.2.3.4.5", "", false, &NoResolver);
        assert!(!r.allowed);
        assert_eq!(
            r.log,
            vec![
                "malformed mask in 127.0.0.0/40".to_string(),
                "error matching address 1.2.3.4.5: Name or service not known".to_string()
            ]
        );
        let mut m = HashMap::new();
        m.insert("localhost", vec![Ipv4Addr::LOCALHOST]);
        let mut p = peer("127.0.0.1", None);
        assert!(allow_access(&mut p, "LocalHost", "", true, &MapResolver(m)).allowed);
        assert_eq!(p.host, Host::Name("localhost".into()));
    }

    #[test]
    fn aton_forms() {
        let ok = [
            ("1", "0.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("10.1.2", "10.1.0.2"),
            ("2130706433", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("010.0.0.1", "8.0.0.1"),
        ];
        for (i, o) in ok {
            assert_eq!(inet_aton(i), Some(o.parse().unwrap()), "{i}");
        }
        for bad in [
            "",
            "1.",
            "1..2",
            "256.1.1.1",
            "1.2.3.4.5",
            "08.1.1.1",
            "1.2.65536",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad}");
        }
    }
}
