//! rsync filter rules (upstream: exclude.c, lib/wildmatch.c; rules from
//! rsync.1.md "FILTER RULES").
//!
//! Use:
//! 1. Build a [`FilterList`] from the options in command-line order:
//!    [`FilterList::add_filter`] (`-f`), [`FilterList::add_exclude`] /
//!    [`FilterList::add_include`] (`--exclude`/`--include`),
//!    [`FilterList::add_rules_file`] (`--exclude-from`/`--include-from`,
//!    text supplied by the caller), [`FilterList::add_dash_f`] (`-F`).
//!    `-C` is applied where upstream applies it: by
//!    [`wire::send_filter_list`] / [`wire::recv_filter_list`], or by
//!    [`FilterList::add_cvs_exclude`] for a caller that skips the wire.
//! 2. The client sends it with [`wire::send_filter_list`]; a server reads
//!    its copy with [`wire::recv_filter_list`].
//! 3. Walk the tree with a [`FilterStack`]: `push_dir` on entering a
//!    directory (reads its dir-merge files), `pop_dir` on leaving, and
//!    `is_excluded`/`check` for each name in it.
//!
//! Sides: hide/show and the `s` modifier only concern the sender; protect/
//! risk and `r` only the receiver (the generator, for deletion). A check
//! names the side asking. Upstream gets the same effect by dropping or
//! "eliding" rules meant for the other side; we keep them and skip them at
//! check time, which gives the same answers for one process.

pub mod cvs;
pub(crate) mod parse;
pub mod rule;
pub mod stack;
pub mod walk;
pub mod wildmatch;
pub mod wildmatch_cases;
pub mod wire;

pub use rule::{f as flags, Rule};
pub use stack::FilterStack;

use crate::error::Result;
use parse::{Ctx, Target};
use rule::{f, xf};
use std::path::PathBuf;

/// Which role is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Building the file list (hide/show apply).
    Sender,
    /// The generator listing the destination for `--delete` (protect/risk apply).
    Receiver,
}

/// Result of evaluating a name: the first matching rule decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Excluded,
    Included,
    NoMatch,
}

/// Extra inputs of a check beyond name and type.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    pub name: &'a [u8],
    pub is_dir: bool,
    pub side: Side,
    /// Skip perishable rules (upstream sets this while deciding whether a
    /// directory being deleted is otherwise empty: delete.c delete_item()).
    pub ignore_perishable: bool,
    /// The name is an extended-attribute name (only `x` rules apply).
    pub xattr: bool,
}

impl<'a> Query<'a> {
    pub fn new(name: &'a [u8], is_dir: bool, side: Side) -> Query<'a> {
        Query {
            name,
            is_dir,
            side,
            ignore_perishable: false,
            xattr: false,
        }
    }
}

/// Settings that change how rules are parsed.
#[derive(Clone, Debug)]
pub struct ParseConfig {
    /// Negotiated (or expected) protocol: the default CVS list is perishable
    /// only for >= 30.
    pub protocol: i32,
    /// `--delete-excluded`: plain include/exclude rules become sender-only.
    pub delete_excluded: bool,
    /// `--from0`: rule files are NUL-separated (no comment handling changes).
    pub from0: bool,
    /// A server never reads stdin for a merge file named `-`.
    pub am_server: bool,
    /// Text of stdin, for `--exclude-from=-` / `merge -`.
    pub stdin: Option<Vec<u8>>,
    /// $HOME, for `~/.cvsignore` (`/` in a chrooted daemon module).
    pub home: Option<PathBuf>,
    /// $CVSIGNORE.
    pub cvsignore_env: Option<Vec<u8>>,
}

impl Default for ParseConfig {
    fn default() -> Self {
        ParseConfig {
            protocol: 32,
            delete_excluded: false,
            from0: false,
            am_server: false,
            stdin: None,
            home: None,
            cvsignore_env: None,
        }
    }
}

impl ParseConfig {
    /// Defaults plus $HOME and $CVSIGNORE from the environment.
    pub fn from_env() -> Self {
        ParseConfig {
            home: std::env::var_os("HOME").map(PathBuf::from),
            cvsignore_env: std::env::var_os("CVSIGNORE").map(|v| {
                use std::os::unix::ffi::OsStrExt;
                v.as_bytes().to_vec()
            }),
            ..ParseConfig::default()
        }
    }
}

/// A per-directory merge file: the `:` rule and the rules currently in
/// effect from it (this directory's file first, then inherited ones).
#[derive(Clone, Debug)]
pub struct Slot {
    pub rule: Rule,
    pub list: Vec<Rule>,
}

/// The ordered rule list of a run (upstream: filter_list plus
/// cvs_filter_list and the per-dir merge registry).
#[derive(Clone, Debug, Default)]
pub struct FilterList {
    pub rules: Vec<Rule>,
    /// Rules a `-C` rule stands for (default list, ~/.cvsignore, $CVSIGNORE).
    pub cvs: Vec<Rule>,
    pub(crate) cvs_loaded: bool,
    pub(crate) slots: Vec<Option<Slot>>,
    pub cfg: ParseConfig,
    /// Non-fatal messages upstream prints and goes on (over-long rules).
    pub warnings: Vec<String>,
    f_count: u32,
}

impl FilterList {
    pub fn new(cfg: ParseConfig) -> FilterList {
        FilterList {
            cfg,
            ..FilterList::default()
        }
    }

    fn parse(&mut self, text: &[u8], template: u32, xflags: u32) -> Result<()> {
        let mut t = Target {
            rules: std::mem::take(&mut self.rules),
            cleared: false,
        };
        let res = Ctx::new(self).parse_str(&mut t, text, template, xflags);
        self.rules = t.rules;
        res
    }

    /// `-f RULE` / `--filter=RULE`.
    pub fn add_filter(&mut self, rule: &[u8]) -> Result<()> {
        self.parse(rule, 0, 0)
    }

    /// `--exclude=PATTERN` (only `- `/`+ ` prefixes and a lone `!`).
    pub fn add_exclude(&mut self, pattern: &[u8]) -> Result<()> {
        self.parse(pattern, 0, xf::OLD_PREFIXES)
    }

    /// `--include=PATTERN`.
    pub fn add_include(&mut self, pattern: &[u8]) -> Result<()> {
        self.parse(pattern, f::INCLUDE, xf::OLD_PREFIXES)
    }

    /// `--exclude-from`/`--include-from` on a named file (`-` = the stdin
    /// text in the config). A missing file is fatal (code 11).
    pub fn add_rules_file(&mut self, name: &[u8], include: bool) -> Result<()> {
        let template = if include { f::INCLUDE } else { 0 };
        let mut t = Target {
            rules: std::mem::take(&mut self.rules),
            cleared: false,
        };
        let res = Ctx::new(self).parse_file(
            &mut t,
            name,
            None,
            template,
            xf::FATAL_ERRORS | xf::OLD_PREFIXES,
        );
        self.rules = t.rules;
        res
    }

    /// `-F`: the first adds `dir-merge /.rsync-filter`, the second
    /// `- .rsync-filter`, later ones nothing.
    pub fn add_dash_f(&mut self) -> Result<()> {
        self.f_count += 1;
        match self.f_count {
            1 => self.parse(b": /.rsync-filter", 0, 0),
            2 => self.parse(b"- .rsync-filter", 0, 0),
            _ => Ok(()),
        }
    }

    /// `-C` for a caller that does not go through the wire functions
    /// (e.g. a local copy): appends `:C` then `-C`, as both upstream sides
    /// end up doing when the protocol is >= 29.
    pub fn add_cvs_exclude(&mut self) -> Result<()> {
        self.parse(b":C", 0, 0)?;
        self.parse(b"-C", 0, 0)
    }

    /// `--delete-excluded` seen (possibly after some rules): plain
    /// include/exclude rules become sender-only, now and for rules parsed
    /// later (upstream: parse_rule_tok() and send_rules()).
    pub fn set_delete_excluded(&mut self) {
        self.cfg.delete_excluded = true;
        for r in self.rules.iter_mut().chain(self.cvs.iter_mut()) {
            if r.flags & (f::SIDES | f::MERGE_FILE | f::PERDIR_MERGE | f::CVS_IGNORE) == 0 {
                r.flags |= f::SENDER_SIDE;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Evaluate a name against the global rules only (per-directory merge
    /// files contribute nothing until a [`FilterStack`] reads them).
    /// `rel_path` is relative to the transfer root.
    pub fn check(&self, rel_path: &[u8], is_dir: bool, side: Side) -> Decision {
        self.check_query(&Query::new(rel_path, is_dir, side), b"")
    }

    /// Full check; `abs_prefix` is the transfer root's absolute path
    /// without the leading `/` (see [`FilterStack`]).
    pub fn check_query(&self, q: &Query<'_>, abs_prefix: &[u8]) -> Decision {
        self.check_rules(&self.rules, q, abs_prefix, 0)
    }

    fn check_rules(&self, rules: &[Rule], q: &Query<'_>, abs: &[u8], depth: u32) -> Decision {
        for r in rules {
            if q.ignore_perishable && r.flags & f::PERISHABLE != 0 {
                continue;
            }
            if r.flags & f::PERDIR_MERGE != 0 {
                // Bounded: a slot's list cannot refer to itself, but keep a
                // hard stop so a bug can never recurse without end.
                if depth < 64 {
                    if let Some(Some(slot)) = self.slots.get(r.slot) {
                        let d = self.check_rules(&slot.list, q, abs, depth + 1);
                        if d != Decision::NoMatch {
                            return d;
                        }
                    }
                }
                continue;
            }
            if r.flags & f::CVS_IGNORE != 0 {
                if depth < 64 {
                    let d = self.check_rules(&self.cvs, q, abs, depth + 1);
                    if d != Decision::NoMatch {
                        return d;
                    }
                }
                continue;
            }
            if !side_applies(r.flags, q.side) {
                continue;
            }
            if r.matches(q.name, q.is_dir, q.xattr, abs) {
                return if r.is_include() {
                    Decision::Included
                } else {
                    Decision::Excluded
                };
            }
        }
        Decision::NoMatch
    }
}

/// A rule naming sides applies only on those sides; rules a server received
/// apply on the server whatever they name (upstream never elides them).
fn side_applies(flags: u32, side: Side) -> bool {
    let sides = flags & f::SIDES;
    if sides == 0 || flags & f::FROM_PEER != 0 {
        return true;
    }
    match side {
        Side::Sender => sides & f::SENDER_SIDE != 0,
        Side::Receiver => sides & f::RECEIVER_SIDE != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(rules: &[&str]) -> FilterList {
        let mut l = FilterList::new(ParseConfig::default());
        for r in rules {
            l.add_filter(r.as_bytes()).unwrap();
        }
        l
    }

    /// (rules, path, is_dir, expected excluded on the sender)
    macro_rules! ex {
        ($rules:expr, $path:expr, $dir:expr, $want:expr) => {
            assert_eq!(
                list(&$rules).check($path.as_bytes(), $dir, Side::Sender) == Decision::Excluded,
                $want,
                "rules {:?} path {:?} dir {}",
                $rules,
                $path,
                $dir
            );
        };
    }

    #[test]
    fn matching_table() {
        ex!(["- foo"], "a/foo", false, true);
        ex!(["- foo"], "a/xfoo", false, false);
        ex!(["- /foo"], "a/foo", false, false);
        ex!(["- /foo"], "foo", false, true);
        ex!(["- foo/"], "foo", false, false);
        ex!(["- foo/"], "foo", true, true);
        ex!(["- a/b"], "x/a/b", false, true);
        ex!(["- a/b"], "x/za/b", false, false);
        ex!(["- a/*"], "x/a/b", false, true);
        ex!(["- /a/*"], "x/a/b", false, false);
        ex!(["- a/**"], "x/a/b/c", false, true);
        ex!(["- **/b"], "b", false, true);
        ex!(["- **/b"], "x/y/b", false, true);
        ex!(["- a/***"], "a", true, true);
        ex!(["- a/***"], "a", false, false);
        ex!(["-! *.c"], "x.h", false, true);
        ex!(["-! *.c"], "x.c", false, false);
        ex!(["-!/ foo/"], "foo", false, true);
        ex!(["+ x", "- *"], "x", false, false);
        ex!(["- *", "+ x"], "x", false, true);
        ex!(["H foo"], "foo", false, true);
        ex!(["P foo"], "foo", false, false);
        ex!(["- x", "!", "- y"], "x", false, false);
        // The `/` modifier matches against the absolute path.
        let l = list(&["-/ /abs/root/x"]);
        let q = Query::new(b"x", false, Side::Sender);
        assert_eq!(l.check_query(&q, b"abs/root"), Decision::Excluded);
        assert_eq!(l.check_query(&q, b"other"), Decision::NoMatch);
    }

    #[test]
    fn sides() {
        let l = list(&[
            "P keep", "R tmp*", "H secret", "S shown", "-s sonly", "-r ronly",
        ]);
        let rx = |p: &str| l.check(p.as_bytes(), false, Side::Receiver);
        let tx = |p: &str| l.check(p.as_bytes(), false, Side::Sender);
        assert_eq!(rx("keep"), Decision::Excluded);
        assert_eq!(tx("keep"), Decision::NoMatch);
        assert_eq!(rx("tmp1"), Decision::Included);
        assert_eq!(tx("secret"), Decision::Excluded);
        assert_eq!(rx("secret"), Decision::NoMatch);
        assert_eq!(tx("shown"), Decision::Included);
        assert_eq!(tx("sonly"), Decision::Excluded);
        assert_eq!(rx("ronly"), Decision::Excluded);
        let mut l = list(&["- a", "+ b", "-r c"]);
        l.set_delete_excluded();
        assert_eq!(l.check(b"a", false, Side::Receiver), Decision::NoMatch);
        assert_eq!(l.check(b"a", false, Side::Sender), Decision::Excluded);
        assert_eq!(l.check(b"c", false, Side::Receiver), Decision::Excluded);
    }

    #[test]
    fn perishable_and_cvs() {
        let mut l = FilterList::new(ParseConfig::default());
        l.add_cvs_exclude().unwrap();
        assert_eq!(l.check(b"x.o", false, Side::Sender), Decision::Excluded);
        assert_eq!(l.check(b"d/core", false, Side::Sender), Decision::Excluded);
        assert_eq!(l.check(b".git", true, Side::Sender), Decision::Excluded);
        assert_eq!(l.check(b".git", false, Side::Sender), Decision::NoMatch);
        let mut q = Query::new(b"x.o", false, Side::Receiver);
        q.ignore_perishable = true;
        assert_eq!(l.check_query(&q, b""), Decision::NoMatch);
        let mut l = FilterList::new(ParseConfig {
            cvsignore_env: Some(b"foo ! bar".to_vec()),
            ..ParseConfig::default()
        });
        l.add_filter(b"-C").unwrap();
        // "!" in $CVSIGNORE clears everything before it.
        assert_eq!(l.check(b"x.o", false, Side::Sender), Decision::NoMatch);
        assert_eq!(l.check(b"foo", false, Side::Sender), Decision::NoMatch);
        assert_eq!(l.check(b"bar", false, Side::Sender), Decision::Excluded);
    }

    #[test]
    fn dash_f_and_dedupe() {
        let mut l = FilterList::new(ParseConfig::default());
        l.add_dash_f().unwrap();
        l.add_dash_f().unwrap();
        l.add_dash_f().unwrap();
        l.add_filter(b": .rsync-filter").unwrap();
        assert_eq!(l.rules.len(), 2);
        assert_eq!(
            l.check(b"a/.rsync-filter", false, Side::Sender),
            Decision::Excluded
        );
    }

    #[test]
    fn merge_file_and_errors() {
        let dir = std::env::temp_dir().join(format!("gsf-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("rules");
        std::fs::write(&p, b"# comment\n; comment\n\n- *.o\r\n+ keep.o\n").unwrap();
        let mut l = FilterList::new(ParseConfig::default());
        l.add_filter(format!("merge {}", p.display()).as_bytes())
            .unwrap();
        assert_eq!(l.rules.len(), 2);
        std::fs::write(&p, b"- a\n+z foo\n").unwrap();
        let e = l
            .add_filter(format!(". {}", p.display()).as_bytes())
            .unwrap_err();
        assert_eq!(
            e.msg,
            format!(
                "invalid modifier in filter rule: <rule from {} line 2>",
                p.display()
            )
        );
        let e = l.add_rules_file(b"/nonexistent/x", false).unwrap_err();
        assert_eq!(e.code, crate::error::ExitCode::FILEIO);
        assert_eq!(
            e.msg,
            "failed to open exclude file /nonexistent/x: No such file or directory (2)"
        );
        let mut l = FilterList::new(ParseConfig {
            from0: true,
            stdin: Some(b"a\nb\0#c\0".to_vec()),
            ..ParseConfig::default()
        });
        l.add_rules_file(b"-", true).unwrap();
        let pats: Vec<_> = l.rules.iter().map(|r| r.pattern.clone()).collect();
        assert_eq!(pats, vec![b"a\nb".to_vec()]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
