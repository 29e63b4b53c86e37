//! Daemon operands: `rsync://[user@]host[:port][/path]` and
//! `[user@]host::path` (upstream: main.c check_for_hostspec(),
//! parse_hostspec()).

/// One daemon operand, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSpec {
    pub user: Option<String>,
    pub host: String,
    /// `Some` only for an `rsync://host:port` URL; otherwise `--port` or 873.
    pub port: Option<u16>,
    /// `module[/path]`; empty asks for the module listing.
    pub path: Vec<u8>,
}

/// Parse a daemon operand; `None` when `arg` is not one.
pub fn parse_daemon_spec(arg: &[u8]) -> Option<DaemonSpec> {
    if let Some(rest) = arg.strip_prefix(b"rsync://") {
        // Host part ends at the first '/'; the path follows it.
        let (hostport, path) = match memchr::memchr(b'/', rest) {
            Some(i) => (&rest[..i], rest[i + 1..].to_vec()),
            None => (rest, Vec::new()),
        };
        let (user, hostport) = split_user(hostport);
        let (host, port) = if hostport.first() == Some(&b'[') {
            let end = memchr::memchr(b']', hostport)?;
            let host = &hostport[1..end];
            let port = match hostport.get(end + 1) {
                Some(b':') => Some(parse_port(&hostport[end + 2..])),
                _ => None,
            };
            (host, port)
        } else {
            match memchr::memrchr(b':', hostport) {
                Some(i) => (&hostport[..i], Some(parse_port(&hostport[i + 1..]))),
                None => (hostport, None),
            }
        };
        return Some(DaemonSpec {
            user,
            host: String::from_utf8_lossy(host).into_owned(),
            port: port.filter(|&p| p != 0),
            path,
        });
    }
    let (host_part, rest) = if arg.first() == Some(&b'[') {
        let end = memchr::memchr(b']', arg)?;
        (&arg[1..end], arg.get(end + 1..)?)
    } else {
        let colon = memchr::memchr(b':', arg)?;
        if memchr::memchr(b'/', &arg[..colon]).is_some() {
            return None;
        }
        (&arg[..colon], &arg[colon..])
    };
    let path = rest.strip_prefix(b"::")?;
    let (user, host) = if arg.first() == Some(&b'[') {
        (None, host_part)
    } else {
        split_user(host_part)
    };
    if host.is_empty() {
        return None;
    }
    Some(DaemonSpec {
        user,
        host: String::from_utf8_lossy(host).into_owned(),
        port: None,
        path: path.to_vec(),
    })
}

fn split_user(s: &[u8]) -> (Option<String>, &[u8]) {
    match memchr::memrchr(b'@', s) {
        Some(i) => (
            Some(String::from_utf8_lossy(&s[..i]).into_owned()),
            &s[i + 1..],
        ),
        None => (None, s),
    }
}

/// atoi(), as upstream reads the URL's port (garbage gives 0: the default).
fn parse_port(s: &[u8]) -> u16 {
    let digits: Vec<u8> = s
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(user: Option<&str>, host: &str, port: Option<u16>, path: &str) -> DaemonSpec {
        DaemonSpec {
            user: user.map(str::to_string),
            host: host.into(),
            port,
            path: path.as_bytes().to_vec(),
        }
    }

    #[test]
    fn url_forms() {
        assert_eq!(
            parse_daemon_spec(b"rsync://h/mod/a/b"),
            Some(spec(None, "h", None, "mod/a/b"))
        );
        assert_eq!(
            parse_daemon_spec(b"rsync://u@h:8873/mod"),
            Some(spec(Some("u"), "h", Some(8873), "mod"))
        );
        assert_eq!(
            parse_daemon_spec(b"rsync://[::1]:99/m/"),
            Some(spec(None, "::1", Some(99), "m/"))
        );
        assert_eq!(
            parse_daemon_spec(b"rsync://h"),
            Some(spec(None, "h", None, ""))
        );
    }

    #[test]
    fn double_colon_forms() {
        assert_eq!(
            parse_daemon_spec(b"u@h::mod/x"),
            Some(spec(Some("u"), "h", None, "mod/x"))
        );
        assert_eq!(parse_daemon_spec(b"h::"), Some(spec(None, "h", None, "")));
        assert_eq!(
            parse_daemon_spec(b"[::1]::m"),
            Some(spec(None, "::1", None, "m"))
        );
        assert_eq!(parse_daemon_spec(b"h:path"), None);
        assert_eq!(parse_daemon_spec(b"./a::b"), None);
        assert_eq!(parse_daemon_spec(b"plain"), None);
    }
}
