//! One filter rule and the tokenizer for rule text (upstream: exclude.c
//! parse_rule_tok(), add_rule() flag computation, rule_matches()).
//!
//! Turning text into rules needs context (the current merge-file
//! directory, the registry of per-directory merge files, the CVS list), so
//! the stateful part lives in `parse.rs`; this file holds what is pure.

use super::wildmatch::{litmatch_at, wildmatch_at, Anchor};
use crate::error::{Error, ExitCode, Result};

/// Rule flag bits. The values are ours; the meanings follow upstream's
/// FILTRULE_* so the code can be compared side by side.
pub mod f {
    /// Pattern contains `*`, `?` or `[`.
    pub const WILD: u32 = 1 << 0;
    /// Pattern contains `**`.
    pub const WILD2: u32 = 1 << 1;
    /// Pattern starts with `**`.
    pub const WILD2_PREFIX: u32 = 1 << 2;
    /// Pattern ends with `***`.
    pub const WILD3_SUFFIX: u32 = 1 << 3;
    /// Match against the absolute path (`/` modifier, or an anchored rule
    /// from a per-directory file, whose pattern then carries the directory).
    pub const ABS_PATH: u32 = 1 << 4;
    pub const INCLUDE: u32 = 1 << 5;
    /// Trailing `/`: directories only.
    pub const DIRECTORY: u32 = 1 << 6;
    pub const WORD_SPLIT: u32 = 1 << 7;
    pub const NO_INHERIT: u32 = 1 << 8;
    pub const NO_PREFIXES: u32 = 1 << 9;
    pub const MERGE_FILE: u32 = 1 << 10;
    pub const PERDIR_MERGE: u32 = 1 << 11;
    pub const EXCLUDE_SELF: u32 = 1 << 12;
    /// Per-dir merge whose name may still need the parent-directory scan.
    pub const FINISH_SETUP: u32 = 1 << 13;
    pub const NEGATE: u32 = 1 << 14;
    pub const CVS_IGNORE: u32 = 1 << 15;
    pub const SENDER_SIDE: u32 = 1 << 16;
    pub const RECEIVER_SIDE: u32 = 1 << 17;
    pub const CLEAR_LIST: u32 = 1 << 18;
    pub const PERISHABLE: u32 = 1 << 19;
    pub const XATTR: u32 = 1 << 20;
    /// The rule text came from a file's contents: error messages must not
    /// echo it (3.5.0 hardening, exclude.c rule_text()).
    pub const FROM_FILE: u32 = 1 << 21;
    /// Received from the client by a server: upstream never elides such
    /// rules, so they apply whatever side they name. Ours, not upstream's.
    pub const FROM_PEER: u32 = 1 << 22;

    pub const SIDES: u32 = SENDER_SIDE | RECEIVER_SIDE;
    /// What a rule read from a merge file inherits from the merge rule.
    pub const FROM_CONTAINER: u32 = ABS_PATH | INCLUDE | DIRECTORY | NEGATE | PERISHABLE;
}

/// Parse-mode flags (upstream XFLG_*).
pub mod xf {
    /// Missing file is fatal (`--exclude-from`, `merge`).
    pub const FATAL_ERRORS: u32 = 1 << 0;
    /// Only `+ `/`- ` prefixes and a lone `!` (`--include`/`--exclude`,
    /// and rules from protocol < 29 peers).
    pub const OLD_PREFIXES: u32 = 1 << 1;
    /// A leading `/` anchors at the merge file's directory.
    pub const ANCHORED2ABS: u32 = 1 << 2;
}

/// One rule after parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub flags: u32,
    /// Pattern without the trailing `/` of a directory rule; for anchored
    /// per-directory rules it carries the absolute directory prefix.
    pub pattern: Vec<u8>,
    /// Slashes in the pattern (after the prefix and suffix changes).
    pub slash_cnt: u32,
    /// For a `PERDIR_MERGE` rule: index of its merge slot.
    pub slot: usize,
}

impl Rule {
    pub fn is_include(&self) -> bool {
        self.flags & f::INCLUDE != 0
    }

    /// Set the WILD* bits from the final pattern (upstream: add_rule()).
    pub(crate) fn compute_wild(&mut self) {
        let p = &self.pattern;
        if p.iter().any(|&c| matches!(c, b'*' | b'[' | b'?')) {
            self.flags |= f::WILD;
            if let Some(i) = p.windows(2).position(|w| w == b"**") {
                self.flags |= f::WILD2;
                if i == 0 {
                    self.flags |= f::WILD2_PREFIX;
                }
                if p.ends_with(b"***") {
                    self.flags |= f::WILD3_SUFFIX;
                }
            }
        }
    }

    /// Does this rule's pattern match `fname`? Returns `Some(true)` when
    /// the rule fires (negation already applied), `Some(false)` when it
    /// does not, `None` when the rule is not applicable to this name at all
    /// (upstream returns 0 for those even under `!`). `abs_prefix` is the
    /// transfer root without its leading `/` (empty for `/`), used by
    /// absolute-path rules.
    pub fn matches(&self, fname: &[u8], is_dir: bool, xattr: bool, abs_prefix: &[u8]) -> bool {
        let fire = self.flags & f::NEGATE == 0;
        let leading_slash = fname.first() == Some(&b'/');
        let mut name = if leading_slash { &fname[1..] } else { fname };
        if name.is_empty() {
            return false;
        }
        if xattr != (self.flags & f::XATTR != 0) {
            return false;
        }
        // Build the joined text upstream passes to wildmatch_array().
        let mut text: Vec<u8> = Vec::with_capacity(abs_prefix.len() + name.len() + 2);
        if self.slash_cnt == 0 && self.flags & f::WILD2 == 0 {
            // No slash and no "**": only the last component matters.
            if let Some(i) = name.iter().rposition(|&c| c == b'/') {
                name = &name[i + 1..];
            }
        } else if self.flags & f::ABS_PATH != 0 && !leading_slash && !abs_prefix.is_empty() {
            text.extend_from_slice(abs_prefix);
            text.push(b'/');
        } else if self.flags & f::WILD2_PREFIX != 0 && !leading_slash {
            // Lets "**/" match at the very start too.
            text.push(b'/');
        }
        let joined = !text.is_empty();
        text.extend_from_slice(name);
        let mut extra = joined;
        if is_dir {
            // A trailing "/***" also matches the directory itself.
            if self.flags & f::WILD3_SUFFIX != 0 {
                text.push(b'/');
                extra = true;
            }
        } else if self.flags & f::DIRECTORY != 0 {
            return !fire;
        }
        let mut pattern: &[u8] = &self.pattern;
        let anchored = pattern.first() == Some(&b'/');
        if anchored {
            pattern = &pattern[1..];
        }
        let anchor = if !anchored && self.slash_cnt > 0 && self.flags & f::WILD2 == 0 {
            // Unanchored with an inner slash: match the last slash_cnt+1 components.
            Anchor::LastComponents(self.slash_cnt + 1)
        } else if !anchored && self.flags & f::WILD2_PREFIX == 0 && self.flags & f::WILD2 != 0 {
            Anchor::AnySlash
        } else {
            Anchor::Start
        };
        let hit = if self.flags & f::WILD != 0 {
            wildmatch_at(pattern, &text, anchor)
        } else if extra {
            litmatch_at(pattern, &text, anchor)
        } else if anchored {
            name == pattern
        } else {
            // Literal, unanchored, no slash handling: a suffix at a component boundary.
            let (l1, l2) = (name.len(), pattern.len());
            l2 <= l1 && &name[l1 - l2..] == pattern && (l1 == l2 || name[l1 - l2 - 1] == b'/')
        };
        if hit {
            fire
        } else {
            !fire
        }
    }
}

/// Where rule text came from, for error messages (3.5.0: text read from a
/// file is never echoed; the location is shown instead).
#[derive(Clone, Debug, Default)]
pub struct Source {
    /// Parsing a file's contents right now.
    pub in_file: bool,
    /// Printable file name (None when a rule we read named the file).
    pub file: Option<String>,
    /// Line number, or -1 for word-split files.
    pub line: i64,
    /// Where an unprintable file was named.
    pub named_at: Option<String>,
}

impl Source {
    pub fn where_(&self) -> String {
        match &self.file {
            None => match &self.named_at {
                None => "a file read earlier".to_string(),
                Some(n) => format!("a file named at {n}"),
            },
            Some(name) if self.line < 0 => name.clone(),
            Some(name) => format!("{name} line {}", self.line),
        }
    }

    /// Text of a rule for a message: the text itself for arguments, the
    /// location for file contents (upstream: rule_text()).
    pub fn text(&self, template_flags: u32, text: &[u8]) -> String {
        if self.in_file || template_flags & f::FROM_FILE != 0 {
            format!("<rule from {}>", self.where_())
        } else {
            String::from_utf8_lossy(text).into_owned()
        }
    }

    fn detail<'a>(&self, template_flags: u32, d: &'a str) -> &'a str {
        if self.in_file || template_flags & f::FROM_FILE != 0 {
            ""
        } else {
            d
        }
    }
}

/// C isspace() for the "C" locale.
pub fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// One tokenized rule: flags and the pattern's byte range in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub flags: u32,
    pub pat_start: usize,
    pub pat_end: usize,
}

/// Options that change how text is tokenized.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokOpts {
    /// `--delete-excluded`: unmodified include/exclude rules become
    /// sender-side (upstream does this in parse_rule_tok()).
    pub delete_excluded: bool,
}

/// Long rule names (upstream: RULE_STRCMP). Returns the index of the
/// character the modifier loop starts *before*: the last letter of the
/// name when it is followed by space, `_` or the end, or the `,` itself.
fn long_name(s: &[u8], i: usize, name: &[u8]) -> Option<usize> {
    let rest = &s[i..];
    if !rest.starts_with(name) {
        return None;
    }
    let next = rest.get(name.len()).copied().unwrap_or(0);
    if is_space(next) || next == b'_' || next == 0 {
        Some(i + name.len() - 1)
    } else if next == b',' {
        Some(i + name.len())
    } else {
        None
    }
}

/// Read the next rule from `s[*pos..]` (upstream: parse_rule_tok()).
/// Returns `Ok(None)` at the end of the input. `template` holds the flags
/// of the enclosing merge rule (or the option's defaults).
pub fn next_token(
    s: &[u8],
    pos: &mut usize,
    template: u32,
    xflags: u32,
    opts: TokOpts,
    src: &Source,
) -> Result<Option<Token>> {
    // Upstream works on C strings: a NUL ends the input.
    let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    let s = &s[..end];
    let at = |i: usize| -> u8 { s.get(i).copied().unwrap_or(0) };
    let mut i = *pos;
    if template & f::WORD_SPLIT != 0 {
        while i < s.len() && is_space(s[i]) {
            i += 1;
        }
        *pos = i;
    }
    if i >= s.len() {
        return Ok(None);
    }
    let start = i;
    let rule_str = &s[start..];
    // Upstream prints these rule errors without its name in front.
    let err = |msg: &str| -> Error {
        Error::bare(
            ExitCode::SYNTAX,
            format!("{msg}: {}", src.text(0, rule_str)),
        )
    };
    let mut flags = template & f::FROM_CONTAINER;
    if src.in_file {
        flags |= f::FROM_FILE;
    }
    if template & f::NO_PREFIXES != 0 {
        if at(i) == b'!' && template & f::CVS_IGNORE != 0 {
            // Tentative: only a lone "!" clears (checked below).
            flags |= f::CLEAR_LIST;
        }
    } else if xflags & xf::OLD_PREFIXES != 0 {
        if at(i) == b'-' && at(i + 1) == b' ' {
            flags &= !f::INCLUDE;
            i += 2;
        } else if at(i) == b'+' && at(i + 1) == b' ' {
            flags |= f::INCLUDE;
            i += 2;
        } else if at(i) == b'!' {
            flags |= f::CLEAR_LIST;
        }
    } else {
        let named: Option<(u8, &[u8])> = match at(i) {
            b'c' => Some((b'!', b"clear")),
            b'd' => Some((b':', b"dir-merge")),
            b'e' => Some((b'-', b"exclude")),
            b'h' => Some((b'H', b"hide")),
            b'i' => Some((b'+', b"include")),
            b'm' => Some((b'.', b"merge")),
            b'p' => Some((b'P', b"protect")),
            b'r' => Some((b'R', b"risk")),
            b's' => Some((b'S', b"show")),
            _ => None,
        };
        let ch = match named {
            Some((ch, word)) => match long_name(s, i, word) {
                Some(ni) => {
                    i = ni;
                    ch
                }
                None => return Err(err("Unknown filter rule")),
            },
            None => {
                let ch = at(i);
                if at(i + 1) == b',' {
                    i += 1;
                }
                ch
            }
        };
        let mut side_prefix = false;
        match ch {
            b':' => flags |= f::PERDIR_MERGE | f::FINISH_SETUP | f::MERGE_FILE,
            b'.' => flags |= f::MERGE_FILE,
            b'+' => flags |= f::INCLUDE,
            b'-' => {}
            b'S' => {
                flags |= f::INCLUDE | f::SENDER_SIDE;
                side_prefix = true;
            }
            b'H' => {
                flags |= f::SENDER_SIDE;
                side_prefix = true;
            }
            b'R' => {
                flags |= f::INCLUDE | f::RECEIVER_SIDE;
                side_prefix = true;
            }
            b'P' => {
                flags |= f::RECEIVER_SIDE;
                side_prefix = true;
            }
            b'!' => flags |= f::CLEAR_LIST,
            _ => return Err(err("Unknown filter rule")),
        }
        if ch != b'!' {
            loop {
                i += 1;
                let c = at(i);
                if c == 0 || c == b' ' || c == b'_' {
                    break;
                }
                if template & f::WORD_SPLIT != 0 && is_space(c) {
                    i -= 1;
                    break;
                }
                let ok = match c {
                    b'-' | b'+' => {
                        let ok = flags & f::MERGE_FILE != 0 && flags & f::NO_PREFIXES == 0;
                        flags |= f::NO_PREFIXES;
                        if c == b'+' {
                            flags |= f::INCLUDE;
                        }
                        ok
                    }
                    b'/' => {
                        flags |= f::ABS_PATH;
                        true
                    }
                    b'!' => {
                        // Negation belongs to a pattern, not to a merge file's defaults.
                        flags |= f::NEGATE;
                        flags & f::MERGE_FILE == 0
                    }
                    b'C' => {
                        let ok = flags & f::NO_PREFIXES == 0 && !side_prefix;
                        flags |= f::NO_PREFIXES | f::WORD_SPLIT | f::NO_INHERIT | f::CVS_IGNORE;
                        ok
                    }
                    b'e' => {
                        flags |= f::EXCLUDE_SELF;
                        flags & f::MERGE_FILE != 0
                    }
                    b'n' => {
                        flags |= f::NO_INHERIT;
                        flags & f::MERGE_FILE != 0
                    }
                    b'p' => {
                        flags |= f::PERISHABLE;
                        true
                    }
                    b'r' => {
                        flags |= f::RECEIVER_SIDE;
                        !side_prefix
                    }
                    b's' => {
                        flags |= f::SENDER_SIDE;
                        !side_prefix
                    }
                    b'w' => {
                        flags |= f::WORD_SPLIT;
                        flags & f::MERGE_FILE != 0
                    }
                    b'x' => {
                        flags |= f::XATTR;
                        true
                    }
                    _ => false,
                };
                if !ok {
                    let d = format!(" '{}' at position {}", c as char, i - start);
                    return Err(Error::bare(
                        ExitCode::SYNTAX,
                        format!(
                            "invalid modifier{} in filter rule: {}",
                            src.detail(0, &d),
                            src.text(0, rule_str)
                        ),
                    ));
                }
            }
        }
        if at(i) != 0 {
            i += 1;
        }
    }
    if template & f::SIDES != 0 {
        if flags & f::SIDES != 0 {
            return Err(err(
                "specified-side merge file contains specified-side filter",
            ));
        }
        flags |= template & f::SIDES;
    }
    let pat_start = i.min(s.len());
    let pat_end = if template & f::WORD_SPLIT != 0 {
        let mut e = pat_start;
        while e < s.len() && !is_space(s[e]) {
            e += 1;
        }
        e
    } else {
        s.len()
    };
    let len = pat_end - pat_start;
    if flags & f::CLEAR_LIST != 0 {
        if template & f::NO_PREFIXES == 0 && xflags & xf::OLD_PREFIXES == 0 && len > 0 {
            return Err(err("'!' rule has trailing characters"));
        }
        if len > 1 {
            flags &= !f::CLEAR_LIST;
        }
    } else if len == 0 && flags & f::CVS_IGNORE == 0 {
        return Err(err("unexpected end of filter rule"));
    }
    if opts.delete_excluded && flags & (f::SIDES | f::MERGE_FILE | f::PERDIR_MERGE) == 0 {
        flags |= f::SENDER_SIDE;
    }
    *pos = pat_end;
    Ok(Some(Token {
        flags,
        pat_start,
        pat_end,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(s: &str, template: u32, xflags: u32) -> Result<Vec<(u32, String)>> {
        let b = s.as_bytes();
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some(t) = next_token(
            b,
            &mut pos,
            template,
            xflags,
            TokOpts::default(),
            &Source::default(),
        )? {
            out.push((
                t.flags,
                String::from_utf8_lossy(&b[t.pat_start..t.pat_end]).into_owned(),
            ));
            if template & f::WORD_SPLIT == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// One parse case: rule text, expected flags (ignoring FINISH_SETUP),
    /// expected pattern.
    macro_rules! ok {
        ($s:expr, $flags:expr, $pat:expr) => {{
            let v = tok($s, 0, 0).unwrap_or_else(|e| panic!("{:?}: {}", $s, e.msg));
            assert_eq!(v.len(), 1, "{:?}", $s);
            assert_eq!(v[0].0 & !f::FINISH_SETUP, $flags, "flags of {:?}", $s);
            assert_eq!(v[0].1, $pat, "pattern of {:?}", $s);
        }};
    }
    macro_rules! bad {
        ($s:expr, $msg:expr) => {{
            let e = tok($s, 0, 0).expect_err($s);
            assert_eq!(e.msg, $msg);
            assert_eq!(e.code, crate::error::ExitCode::SYNTAX);
        }};
    }

    #[test]
    fn parse_table() {
        use f::*;
        ok!("- foo", 0, "foo");
        ok!("+ foo", INCLUDE, "foo");
        ok!("exclude foo", 0, "foo");
        ok!("include foo", INCLUDE, "foo");
        ok!("exclude_foo", 0, "foo");
        ok!("-_foo", 0, "foo");
        ok!("+,/ foo", INCLUDE | ABS_PATH, "foo");
        ok!("include,/ foo", INCLUDE | ABS_PATH, "foo");
        ok!("-! foo", NEGATE, "foo");
        ok!("-p foo", PERISHABLE, "foo");
        ok!("-x foo", XATTR, "foo");
        ok!("-s foo", SENDER_SIDE, "foo");
        ok!("-r foo", RECEIVER_SIDE, "foo");
        ok!("-sr foo", SIDES, "foo");
        ok!("H foo", SENDER_SIDE, "foo");
        ok!("hide foo", SENDER_SIDE, "foo");
        ok!("S foo", SENDER_SIDE | INCLUDE, "foo");
        ok!("show foo", SENDER_SIDE | INCLUDE, "foo");
        ok!("P foo", RECEIVER_SIDE, "foo");
        ok!("protect foo", RECEIVER_SIDE, "foo");
        ok!("R foo", RECEIVER_SIDE | INCLUDE, "foo");
        ok!("risk foo", RECEIVER_SIDE | INCLUDE, "foo");
        ok!("!", CLEAR_LIST, "");
        ok!("clear", CLEAR_LIST, "");
        ok!(". f", MERGE_FILE, "f");
        ok!("merge f", MERGE_FILE, "f");
        ok!(": f", MERGE_FILE | PERDIR_MERGE, "f");
        ok!("dir-merge f", MERGE_FILE | PERDIR_MERGE, "f");
        ok!(
            ":n- f",
            MERGE_FILE | PERDIR_MERGE | NO_INHERIT | NO_PREFIXES,
            "f"
        );
        ok!(
            "dir-merge,n- f",
            MERGE_FILE | PERDIR_MERGE | NO_INHERIT | NO_PREFIXES,
            "f"
        );
        ok!(".+ f", MERGE_FILE | NO_PREFIXES | INCLUDE, "f");
        ok!(":e f", MERGE_FILE | PERDIR_MERGE | EXCLUDE_SELF, "f");
        ok!(":w f", MERGE_FILE | PERDIR_MERGE | WORD_SPLIT, "f");
        ok!(":s f", MERGE_FILE | PERDIR_MERGE | SENDER_SIDE, "f");
        let cvs = NO_PREFIXES | WORD_SPLIT | NO_INHERIT | CVS_IGNORE;
        ok!(":C", MERGE_FILE | PERDIR_MERGE | cvs, "");
        ok!("-C", cvs, "");
        ok!("- foo bar ", 0, "foo bar ");
        ok!("-  foo", 0, " foo");
        ok!("- - foo", 0, "- foo");
        bad!("foo", "Unknown filter rule: foo");
        bad!("excluded foo", "Unknown filter rule: excluded foo");
        bad!(
            "exclude,foo",
            "invalid modifier 'f' at position 8 in filter rule: exclude,foo"
        );
        bad!(
            "-z foo",
            "invalid modifier 'z' at position 1 in filter rule: -z foo"
        );
        bad!(
            "-e foo",
            "invalid modifier 'e' at position 1 in filter rule: -e foo"
        );
        bad!(
            "-n foo",
            "invalid modifier 'n' at position 1 in filter rule: -n foo"
        );
        bad!(
            "-w foo",
            "invalid modifier 'w' at position 1 in filter rule: -w foo"
        );
        bad!(
            "-- foo",
            "invalid modifier '-' at position 1 in filter rule: -- foo"
        );
        bad!(
            ".-+ f",
            "invalid modifier '+' at position 2 in filter rule: .-+ f"
        );
        bad!(
            ".! f",
            "invalid modifier '!' at position 1 in filter rule: .! f"
        );
        bad!(
            "Hs foo",
            "invalid modifier 's' at position 1 in filter rule: Hs foo"
        );
        bad!(
            "PC foo",
            "invalid modifier 'C' at position 1 in filter rule: PC foo"
        );
        bad!(
            ":-C foo",
            "invalid modifier 'C' at position 2 in filter rule: :-C foo"
        );
        bad!("! x", "'!' rule has trailing characters: ! x");
        bad!("H", "unexpected end of filter rule: H");
        bad!("-", "unexpected end of filter rule: -");
        bad!("- ", "unexpected end of filter rule: - ");
    }

    #[test]
    fn old_prefixes() {
        let v = tok("- foo", 0, xf::OLD_PREFIXES).unwrap();
        assert_eq!(v, vec![(0, "foo".to_string())]);
        let v = tok("+ foo", 0, xf::OLD_PREFIXES).unwrap();
        assert_eq!(v, vec![(f::INCLUDE, "foo".to_string())]);
        let v = tok("-foo", f::INCLUDE, xf::OLD_PREFIXES).unwrap();
        assert_eq!(v, vec![(f::INCLUDE, "-foo".to_string())]);
        let v = tok("!", 0, xf::OLD_PREFIXES).unwrap();
        assert_eq!(v, vec![(f::CLEAR_LIST, "!".to_string())]);
        let v = tok("!x", 0, xf::OLD_PREFIXES).unwrap();
        assert_eq!(v, vec![(0, "!x".to_string())]);
    }

    #[test]
    fn word_split() {
        let t = f::NO_PREFIXES | f::WORD_SPLIT | f::CVS_IGNORE;
        let v = tok("  a  b\t! c ", t, 0).unwrap();
        let pats: Vec<_> = v.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(pats, ["a", "b", "!", "c"]);
        assert_eq!(v[2].0 & f::CLEAR_LIST, f::CLEAR_LIST);
        // Word-split with prefixes: "- foo + bar" is two rules.
        let v = tok("- foo + bar", f::WORD_SPLIT, 0).unwrap();
        assert_eq!(v, vec![(0, "foo".into()), (f::INCLUDE, "bar".into())]);
        // A side-specifying template rejects sided rules.
        assert!(tok("H x", f::SENDER_SIDE, 0).is_err());
        assert_eq!(tok("- x", f::SENDER_SIDE, 0).unwrap()[0].0, f::SENDER_SIDE);
    }

    #[test]
    fn file_text_not_echoed() {
        let src = Source {
            in_file: true,
            file: Some("rules".into()),
            line: 2,
            named_at: None,
        };
        let mut pos = 0;
        let e = next_token(b"+z foo", &mut pos, 0, 0, TokOpts::default(), &src).unwrap_err();
        assert_eq!(
            e.msg,
            "invalid modifier in filter rule: <rule from rules line 2>"
        );
    }
}
