//! The filter list on the wire (upstream: exclude.c send_filter_list(),
//! send_rules(), get_rule_prefix(), recv_filter_list()).
//!
//! Format: each rule as int32 length + "PREFIX PATTERN[/]" (no NUL), then
//! int32 0. Only the client sends, right after multiplexing starts; a
//! client sender sends only if the receiver wants a list (deleting or
//! `-m`), and both ends evaluate that same condition.

use super::parse::{Ctx, Target, BIGPATHBUFLEN};
use super::rule::{f, xf, Rule};
use super::FilterList;
use crate::error::{Error, ExitCode, Result};
use crate::wire::int::{read_buf, read_int, write_int};
use std::io::{Read, Write};

/// The options both ends look at.
#[derive(Clone, Copy, Debug)]
pub struct WireOpts {
    pub protocol: i32,
    /// This process is the sender.
    pub am_sender: bool,
    /// Any `--delete*` mode.
    pub delete_mode: bool,
    pub delete_excluded: bool,
    pub prune_empty_dirs: bool,
    /// Local copy: nothing goes on the wire.
    pub local_server: bool,
    /// `-C`.
    pub cvs_exclude: bool,
}

impl WireOpts {
    /// Whether the receiving side reads (and so the client sends) a list.
    pub fn receiver_wants_list(&self) -> bool {
        self.prune_empty_dirs
            || (self.delete_mode && (!self.delete_excluded || self.protocol >= 29))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Elide {
    None,
    /// Only for this process: not sent.
    Local,
    /// Only for the peer: sent, not used here.
    Remote,
}

/// Rule prefix for the wire (upstream get_rule_prefix() with for_xfer):
/// `None` when the peer's protocol cannot express the rule.
pub fn rule_prefix(r: &Rule, o: &WireOpts) -> Option<Vec<u8>> {
    let legal_len: usize = if o.protocol < 29 { 1 } else { 15 };
    let mut out = Vec::with_capacity(8);
    let mut legal = legal_len;
    if r.flags & f::PERDIR_MERGE != 0 {
        if legal_len == 1 {
            return None;
        }
        out.push(b':');
    } else if r.flags & f::INCLUDE != 0 {
        out.push(b'+');
    } else if legal_len != 1
        || ((r.pattern.first() == Some(&b'-') || r.pattern.first() == Some(&b'+'))
            && r.pattern.get(1) == Some(&b' '))
    {
        out.push(b'-');
    } else {
        // Old protocols: a bare pattern is an exclude.
        legal = 0;
    }
    if r.flags & f::ABS_PATH != 0 {
        out.push(b'/');
    }
    if r.flags & f::NEGATE != 0 {
        out.push(b'!');
    }
    if r.flags & f::CVS_IGNORE != 0 {
        out.push(b'C');
    } else {
        if r.flags & f::NO_INHERIT != 0 {
            out.push(b'n');
        }
        if r.flags & f::WORD_SPLIT != 0 {
            out.push(b'w');
        }
        if r.flags & f::NO_PREFIXES != 0 {
            out.push(if r.flags & f::INCLUDE != 0 {
                b'+'
            } else {
                b'-'
            });
        }
    }
    if r.flags & f::EXCLUDE_SELF != 0 {
        out.push(b'e');
    }
    if r.flags & f::XATTR != 0 {
        out.push(b'x');
    }
    if r.flags & f::SENDER_SIDE != 0 && o.protocol >= 29 {
        out.push(b's');
    }
    if r.flags & f::RECEIVER_SIDE != 0 && (o.protocol >= 29 || (o.delete_excluded && o.am_sender)) {
        out.push(b'r');
    }
    if r.flags & f::PERISHABLE != 0 {
        if o.protocol >= 30 {
            out.push(b'p');
        } else if o.am_sender {
            return None;
        }
    }
    if out.len() > legal {
        return None;
    }
    if legal > 0 {
        out.push(b' ');
    }
    Some(out)
}

fn elide_of(r: &Rule, o: &WireOpts) -> Elide {
    let mine = |for_sender: bool| {
        if for_sender == o.am_sender {
            Elide::Local
        } else {
            Elide::Remote
        }
    };
    let mut e = Elide::None;
    if r.flags & f::SENDER_SIDE != 0 {
        e = mine(true);
    }
    if r.flags & f::RECEIVER_SIDE != 0 {
        e = if e != Elide::None {
            Elide::None
        } else {
            mine(false)
        };
    } else if o.delete_excluded
        && e == Elide::None
        && (r.flags & f::PERDIR_MERGE == 0 || r.flags & f::NO_PREFIXES != 0)
    {
        e = mine(true);
    }
    e
}

fn too_modern() -> Error {
    Error::protocol("filter rules are too modern for remote rsync.")
}

/// Upstream send_rules(). `w` is None when nothing goes on the wire
/// (the prefix check still runs, as upstream's does).
fn send_rules(
    w: &mut Option<&mut dyn Write>,
    rules: &[Rule],
    cvs: &[Rule],
    o: &WireOpts,
) -> Result<()> {
    for r in rules {
        if elide_of(r, o) == Elide::Local {
            continue;
        }
        if r.flags & f::CVS_IGNORE != 0 && r.flags & f::MERGE_FILE == 0 {
            if o.am_sender || o.protocol < 29 {
                // The peer cannot (or need not) expand "-C" itself: send the list.
                send_rules(w, cvs, &[], o)?;
                continue;
            }
            send_rules(&mut None, cvs, &[], o)?;
        }
        let prefix = rule_prefix(r, o).ok_or_else(too_modern)?;
        let Some(out) = w.as_mut() else {
            continue;
        };
        let dir = usize::from(r.flags & f::DIRECTORY != 0);
        let len = prefix.len() + r.pattern.len() + dir;
        if len == 0 {
            continue;
        }
        let len = i32::try_from(len).map_err(|_| Error::protocol("filter rule too long"))?;
        write_int(&mut **out, len)?;
        out.write_all(&prefix)?;
        out.write_all(&r.pattern)?;
        if dir == 1 {
            out.write_all(b"/")?;
        }
    }
    Ok(())
}

/// Client side. Writes the list (if the peer reads one) and adds the `-C`
/// rules to `list` where upstream adds them.
pub fn send_filter_list<W: Write>(w: &mut W, list: &mut FilterList, o: &WireOpts) -> Result<()> {
    let send = !(o.local_server || (o.am_sender && !o.receiver_wants_list()));
    if o.cvs_exclude && o.am_sender {
        if o.protocol >= 29 {
            list.add_filter(b":C")?;
        }
        list.add_filter(b"-C")?;
    }
    if o.delete_excluded {
        list.set_delete_excluded();
    }
    {
        let mut out: Option<&mut dyn Write> = if send { Some(w) } else { None };
        send_rules(&mut out, &list.rules, &list.cvs, o)?;
        if let Some(out) = out {
            write_int(out, 0)?;
        }
    }
    if o.cvs_exclude {
        if !o.am_sender || o.protocol < 29 {
            list.add_filter(b":C")?;
        }
        if !o.am_sender {
            list.add_filter(b"-C")?;
        }
    }
    Ok(())
}

/// Server side: read the client's rules into `list` (which holds the
/// server's own config). Every length is checked before reading; a bad
/// rule is an error (syntax, as upstream), never a panic.
pub fn recv_filter_list<R: Read>(r: &mut R, list: &mut FilterList, o: &WireOpts) -> Result<()> {
    let xflags = if o.protocol >= 29 {
        0
    } else {
        xf::OLD_PREFIXES
    };
    if !o.local_server && (o.am_sender || o.receiver_wants_list()) {
        let mut buf = Vec::new();
        loop {
            let len = read_int(r)?;
            if len == 0 {
                break;
            }
            // Negative lengths are huge as unsigned, like upstream's cast.
            let len = len as u32 as usize;
            if len >= BIGPATHBUFLEN {
                return Err(Error::new(
                    ExitCode::MALLOC,
                    "buffer overflow: recv_rules (file=exclude.c, line=1982)",
                ));
            }
            buf.resize(len, 0);
            read_buf(r, &mut buf)?;
            let before = list.rules.len();
            let mut t = Target {
                rules: std::mem::take(&mut list.rules),
                cleared: false,
            };
            let res = Ctx::new(list).parse_str(&mut t, &buf, 0, xflags);
            list.rules = t.rules;
            res?;
            let from = before.min(list.rules.len());
            for rule in &mut list.rules[from..] {
                rule.flags |= f::FROM_PEER;
            }
        }
    }
    if o.cvs_exclude {
        if o.local_server || o.am_sender || o.protocol < 29 {
            list.add_filter(b":C")?;
        }
        if o.local_server || o.am_sender {
            list.add_filter(b"-C")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::ParseConfig;

    fn opts(protocol: i32, am_sender: bool) -> WireOpts {
        WireOpts {
            protocol,
            am_sender,
            delete_mode: false,
            delete_excluded: false,
            prune_empty_dirs: false,
            local_server: false,
            cvs_exclude: false,
        }
    }

    fn frames(rules: &[&str], o: &WireOpts) -> Result<Vec<u8>> {
        let mut l = FilterList::new(ParseConfig::default());
        for r in rules {
            l.add_filter(r.as_bytes())?;
        }
        let mut out = Vec::new();
        send_filter_list(&mut out, &mut l, o)?;
        Ok(out)
    }

    fn texts(mut b: &[u8]) -> Vec<String> {
        let mut v = Vec::new();
        loop {
            let n = i32::from_le_bytes(b[..4].try_into().unwrap()) as usize;
            b = &b[4..];
            if n == 0 {
                assert!(b.is_empty());
                return v;
            }
            v.push(String::from_utf8_lossy(&b[..n]).into_owned());
            b = &b[n..];
        }
    }

    #[test]
    fn pull_sends_everything_for_the_sender() {
        let o = opts(32, false);
        let b = frames(&["- *.tmp"], &o).unwrap();
        assert_eq!(b, b"\x07\0\0\0- *.tmp\0\0\0\0");
        let b = frames(
            &["- a/", "+/! b", "H c", "P d", "-sr e", ":n- .f", "-p g"],
            &o,
        )
        .unwrap();
        assert_eq!(
            texts(&b),
            ["- a/", "+/! b", "-s c", "-sr e", ":n- .f", "-p g"]
        );
    }

    #[test]
    fn push_sends_only_when_receiver_wants() {
        let mut o = opts(32, true);
        assert_eq!(frames(&["- a"], &o).unwrap(), b"");
        o.delete_mode = true;
        assert_eq!(
            texts(&frames(&["- a", "H b", "P c"], &o).unwrap()),
            ["- a", "-r c"]
        );
        o.delete_excluded = true;
        assert_eq!(texts(&frames(&["- a", "P c"], &o).unwrap()), ["-r c"]);
    }

    #[test]
    fn old_protocols() {
        let o = opts(28, false);
        assert_eq!(
            texts(&frames(&["- a", "+ b", "- - c"], &o).unwrap()),
            ["a", "+ b", "- - c"]
        );
        // Sides are dropped, not refused, before 29.
        assert_eq!(texts(&frames(&["H x"], &o).unwrap()), ["x"]);
        let e = frames(&["-! a"], &o).unwrap_err();
        assert_eq!(e.code, ExitCode::PROTOCOL);
        assert!(frames(&[": .f"], &o).is_err());
        // Perishable: silently dropped by a receiver client below 30, fatal for a sender.
        assert_eq!(
            texts(&frames(&["-p a"], &opts(29, false)).unwrap()),
            ["- a"]
        );
        let mut o = opts(29, true);
        o.delete_mode = true;
        assert!(frames(&["-p a"], &o).is_err());
    }

    #[test]
    fn cvs_on_the_wire() {
        let mut o = opts(32, false);
        o.cvs_exclude = true;
        // Receiver client: nothing extra is sent, the rules are added locally.
        let mut l = FilterList::new(ParseConfig::default());
        let mut out = Vec::new();
        send_filter_list(&mut out, &mut l, &o).unwrap();
        assert_eq!(out, b"\0\0\0\0");
        assert_eq!(l.rules.len(), 2);
        // Sender client with --delete: ":C" then the expanded default list.
        o.am_sender = true;
        o.delete_mode = true;
        let mut l = FilterList::new(ParseConfig::default());
        let mut out = Vec::new();
        send_filter_list(&mut out, &mut l, &o).unwrap();
        let t = texts(&out);
        assert_eq!(t[0], ":C .cvsignore");
        assert_eq!(t[1], "-p RCS");
        assert_eq!(t.last().unwrap(), "-p .bzr/");
    }

    #[test]
    fn recv_round_trip() {
        let mut o = opts(32, true);
        let b = frames(
            &["- a/", "+/! b", "-sr e", ":n- .f", "-p g"],
            &opts(32, false),
        )
        .unwrap();
        let mut l = FilterList::new(ParseConfig::default());
        recv_filter_list(&mut &b[..], &mut l, &o).unwrap();
        assert_eq!(l.rules.len(), 5);
        assert!(l
            .rules
            .iter()
            .filter(|r| r.flags & f::PERDIR_MERGE == 0)
            .all(|r| r.flags & f::FROM_PEER != 0));
        // Old protocol parsing: only "+ "/"- " prefixes.
        o.protocol = 28;
        let mut l = FilterList::new(ParseConfig::default());
        recv_filter_list(&mut &b"\x03\0\0\0+ a\x03\0\0\0b c\0\0\0\0"[..], &mut l, &o).unwrap();
        assert_eq!(l.rules[0].flags & f::INCLUDE, f::INCLUDE);
        assert_eq!(l.rules[1].pattern, b"b c");
    }

    #[test]
    fn hostile_input() {
        let o = opts(32, true);
        let cases: &[&[u8]] = &[
            b"",                       // no terminator
            b"\x05\0\0",               // truncated length
            b"\x05\0\0\0- a",          // truncated rule
            b"\x07\0\0\0- *.tmp",      // no terminator after a rule
            b"\x00\x14\0\0",           // 5120: one past the buffer
            b"\xff\xff\xff\x7f",       // huge
            b"\xff\xff\xff\xff",       // negative
            b"\x03\0\0\0foo\0\0\0\0",  // unknown rule
            b"\x04\0\0\0-z a\0\0\0\0", // bad modifier
            b"\x01\0\0\0-\0\0\0\0",    // empty pattern
            b"\x03\0\0\0! x\0\0\0\0",  // clear with text
            b"\x02\0\0\0\0\0\0\0\0\0", // NUL bytes: "unexpected end" or ignored, never panic
        ];
        for (i, c) in cases.iter().enumerate() {
            let mut l = FilterList::new(ParseConfig::default());
            let r = recv_filter_list(&mut &c[..], &mut l, &o);
            if i != cases.len() - 1 {
                assert!(r.is_err(), "case {i} accepted");
            }
        }
        let mut l = FilterList::new(ParseConfig::default());
        let e = recv_filter_list(&mut &b"\x00\x14\0\0"[..], &mut l, &o).unwrap_err();
        assert_eq!(e.code, ExitCode::MALLOC);
        // 5119 bytes is the largest accepted frame.
        let mut b = 5119i32.to_le_bytes().to_vec();
        b.extend_from_slice(b"- ");
        b.extend(std::iter::repeat_n(b'a', 5117));
        b.extend_from_slice(&[0; 4]);
        let mut l = FilterList::new(ParseConfig::default());
        recv_filter_list(&mut &b[..], &mut l, &o).unwrap();
        // ...but a pattern >= 4096 bytes is discarded with a warning.
        assert!(l.rules.is_empty());
        assert_eq!(l.warnings.len(), 1);
    }
}
