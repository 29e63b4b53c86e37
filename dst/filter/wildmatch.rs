//! rsync's shell-style matcher (upstream: lib/wildmatch.c), written anew.
//!
//! Semantics that differ from fnmatch and that filter rules depend on:
//! - `?`, `*` and character classes never match `/`; `**` (two or more
//!   stars) does.
//! - A trailing `*` matches only if no `/` is left in the text; a trailing
//!   `**` matches anything.
//! - `[...]` accepts `!` or `^` for negation, ranges `a-z`, backslash escapes
//!   and the POSIX classes `[:alpha:]` etc.; an unknown class name or an
//!   unterminated class makes the whole match fail (not just this position).
//! - A failed sub-match reports *how* it failed so that `*` can stop early:
//!   `AbortAll` (the text ran out; no later start can do better) and
//!   `AbortToStarStar` (a single `*` hit a `/`; only an enclosing `**` may
//!   retry). This also bounds the otherwise exponential backtracking.
//!
//! Character classes use the C locale on single bytes: bytes >= 0x80 are in
//! no class, which is what glibc does for single bytes in UTF-8 locales too.
//!
//! Upstream matches against a list of strings that it treats as one joined
//! string; here the caller joins them into one buffer, which is equivalent
//! because path names never contain NUL.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum M {
    False,
    True,
    AbortAll,
    AbortToStarStar,
}

/// Pattern byte at `i`, or 0 past the end (upstream patterns are C strings,
/// so "end of pattern" and NUL are the same thing).
fn at(p: &[u8], i: usize) -> u8 {
    p.get(i).copied().unwrap_or(0)
}

fn class_matches(name: &[u8], c: u8) -> Option<bool> {
    Some(match name {
        b"alnum" => c.is_ascii_alphanumeric(),
        b"alpha" => c.is_ascii_alphabetic(),
        b"blank" => c == b' ' || c == b'\t',
        b"cntrl" => c.is_ascii_control(),
        b"digit" => c.is_ascii_digit(),
        b"graph" => c.is_ascii_graphic(),
        b"lower" => c.is_ascii_lowercase(),
        b"print" => c.is_ascii_graphic() || c == b' ',
        b"punct" => c.is_ascii_punctuation(),
        // C isspace(): space, \t \n \v \f \r (Rust's is_ascii_whitespace lacks \v).
        b"space" => matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'),
        b"upper" => c.is_ascii_uppercase(),
        b"xdigit" => c.is_ascii_hexdigit(),
        _ => return None,
    })
}

fn dowild(p: &[u8], mut pi: usize, t: &[u8], mut ti: usize) -> M {
    while at(p, pi) != 0 {
        let p_ch = p[pi];
        if ti >= t.len() && p_ch != b'*' {
            return M::AbortAll;
        }
        let t_ch = at(t, ti);
        match p_ch {
            b'\\' => {
                // Escaped byte: literal. A trailing lone backslash matches nothing.
                pi += 1;
                let c = at(p, pi);
                if c == 0 || t_ch != c {
                    return M::False;
                }
            }
            b'?' => {
                if t_ch == b'/' {
                    return M::False;
                }
            }
            b'*' => {
                pi += 1;
                let special = at(p, pi) == b'*';
                while at(p, pi) == b'*' {
                    pi += 1;
                }
                if at(p, pi) == 0 {
                    if !special && t[ti..].contains(&b'/') {
                        return M::False;
                    }
                    return M::True;
                }
                while ti < t.len() {
                    let m = dowild(p, pi, t, ti);
                    if m != M::False {
                        if !special || m != M::AbortToStarStar {
                            return m;
                        }
                    } else if !special && t[ti] == b'/' {
                        return M::AbortToStarStar;
                    }
                    ti += 1;
                }
                return M::AbortAll;
            }
            b'[' => {
                pi += 1;
                let mut c = at(p, pi);
                if c == b'^' {
                    c = b'!';
                }
                let negated = c == b'!';
                if negated {
                    pi += 1;
                    c = at(p, pi);
                }
                let mut prev: u8 = 0;
                let mut matched = false;
                loop {
                    if c == 0 {
                        return M::AbortAll;
                    }
                    if c == b'\\' {
                        pi += 1;
                        c = at(p, pi);
                        if c == 0 {
                            return M::AbortAll;
                        }
                        if t_ch == c {
                            matched = true;
                        }
                    } else if c == b'-' && prev != 0 && at(p, pi + 1) != 0 && at(p, pi + 1) != b']'
                    {
                        pi += 1;
                        c = at(p, pi);
                        if c == b'\\' {
                            pi += 1;
                            c = at(p, pi);
                            if c == 0 {
                                return M::AbortAll;
                            }
                        }
                        if t_ch <= c && t_ch >= prev {
                            matched = true;
                        }
                        // A range end cannot start another range.
                        c = 0;
                    } else if c == b'[' && at(p, pi + 1) == b':' {
                        let s = pi + 2;
                        let mut e = s;
                        while at(p, e) != 0 && at(p, e) != b']' {
                            e += 1;
                        }
                        if at(p, e) == 0 {
                            return M::AbortAll;
                        }
                        if e == s || at(p, e - 1) != b':' {
                            // No ":]": the '[' is an ordinary member.
                            if t_ch == b'[' {
                                matched = true;
                            }
                            c = b'[';
                        } else {
                            match class_matches(&p[s..e - 1], t_ch) {
                                Some(true) => matched = true,
                                Some(false) => {}
                                None => return M::AbortAll,
                            }
                            pi = e;
                            c = 0;
                        }
                    } else if t_ch == c {
                        matched = true;
                    }
                    prev = c;
                    pi += 1;
                    c = at(p, pi);
                    if c == b']' {
                        break;
                    }
                }
                if matched == negated || t_ch == b'/' {
                    return M::False;
                }
            }
            _ => {
                if t_ch != p_ch {
                    return M::False;
                }
            }
        }
        pi += 1;
        ti += 1;
    }
    if ti < t.len() {
        M::False
    } else {
        M::True
    }
}

/// Whole-string match of `pattern` against `text`.
pub fn wildmatch(pattern: &[u8], text: &[u8]) -> bool {
    dowild(pattern, 0, text, 0) == M::True
}

/// Where a pattern may start matching in a path (upstream's `where`
/// argument of wildmatch_array()).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// Only at the start of the text.
    Start,
    /// Only against the last N slash-separated components.
    LastComponents(u32),
    /// At the start or right after any `/`.
    AnySlash,
}

/// Start offset of the last `count` components, if the text has that many.
fn trailing_components(text: &[u8], count: u32) -> Option<usize> {
    let mut left = count;
    for i in (0..text.len()).rev() {
        if text[i] == b'/' {
            left -= 1;
            if left == 0 {
                return Some(i + 1);
            }
        }
    }
    (left == 1).then_some(0)
}

/// Wildcard match with an anchoring mode (upstream: wildmatch_array()).
pub fn wildmatch_at(pattern: &[u8], text: &[u8], anchor: Anchor) -> bool {
    let start = match anchor {
        Anchor::LastComponents(n) if n > 0 => match trailing_components(text, n) {
            Some(s) => s,
            None => return false,
        },
        _ => 0,
    };
    let mut m = dowild(pattern, 0, text, start);
    if m != M::True && anchor == Anchor::AnySlash && m != M::AbortAll {
        let mut i = start;
        loop {
            if i >= text.len() {
                return false;
            }
            let c = text[i];
            i += 1;
            if c == b'/' {
                m = dowild(pattern, 0, text, i);
                if m != M::False && m != M::AbortToStarStar {
                    break;
                }
            }
        }
    }
    m == M::True
}

/// Literal comparison with the same anchoring (upstream: litmatch_array();
/// `AnySlash` is never used with literals upstream and acts like `Start`).
pub fn litmatch_at(literal: &[u8], text: &[u8], anchor: Anchor) -> bool {
    let start = match anchor {
        Anchor::LastComponents(n) if n > 0 => match trailing_components(text, n) {
            Some(s) => s,
            None => return false,
        },
        _ => 0,
    };
    // Upstream compares C strings: a NUL in the literal ends it.
    let lit = match literal.iter().position(|&b| b == 0) {
        Some(n) => &literal[..n],
        None => literal,
    };
    &text[start..] == lit
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::wildmatch_cases::CASES;

    #[test]
    fn wildmatch_table() {
        for &(p, t, want) in CASES {
            assert_eq!(
                wildmatch(p.as_bytes(), t.as_bytes()),
                want,
                "pattern {p:?} text {t:?}"
            );
        }
    }

    #[test]
    fn anchors() {
        assert!(wildmatch_at(b"b/c", b"a/b/c", Anchor::LastComponents(2)));
        assert!(!wildmatch_at(b"a/c", b"a/b/c", Anchor::LastComponents(2)));
        assert!(!wildmatch_at(b"x/y/z", b"y/z", Anchor::LastComponents(3)));
        assert!(wildmatch_at(b"b/**", b"a/b/c", Anchor::AnySlash));
        assert!(!wildmatch_at(b"q/**", b"a/b/c", Anchor::AnySlash));
        assert!(litmatch_at(b"b/c", b"a/b/c", Anchor::LastComponents(2)));
        assert!(litmatch_at(b"a/b/c", b"a/b/c", Anchor::LastComponents(3)));
        assert!(!litmatch_at(
            b"x/a/b/c",
            b"a/b/c",
            Anchor::LastComponents(4)
        ));
    }

    #[test]
    fn pathological_is_fast() {
        let text = vec![b'a'; 200];
        assert!(!wildmatch(b"*a*a*a*a*a*a*a*a*a*a*a*b", &text));
        assert!(!wildmatch(b"**a**a**a**a**a**a**a**b", &text));
    }
}
