//! Stateful parsing: rule text -> rules in a list, merge files, the CVS
//! list, and the registry of per-directory merge files (upstream:
//! exclude.c parse_filter_str(), parse_filter_file(), add_rule(),
//! parse_merge_name(), get_cvs_excludes()).

use super::cvs::{CVSIGNORE_FILE, DEFAULT_CVSIGNORE};
use super::rule::{f, is_space, next_token, xf, Rule, Source, TokOpts};
use super::{FilterList, ParseConfig, Slot};
use crate::error::{Error, ExitCode, Result};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Longest pattern kept (upstream MAXPATHLEN on Linux); longer ones are
/// discarded with a warning, not an error.
pub const MAXPATHLEN: usize = 4096;
/// Upstream's line buffer for rule files and received rules.
pub const BIGPATHBUFLEN: usize = MAXPATHLEN + 1024;
/// Nesting limit for merge files (upstream MAX_MERGE_DEPTH).
pub const MAX_MERGE_DEPTH: u32 = 32;

/// Rules being built for one list: the local rules, plus whether a `!`
/// dropped what this list would otherwise inherit.
#[derive(Default, Debug)]
pub(crate) struct Target {
    pub rules: Vec<Rule>,
    pub cleared: bool,
}

/// Parsing context; borrows the parts of a `FilterList` that parsing may
/// grow (merge slots, CVS list, warnings).
pub(crate) struct Ctx<'a> {
    pub cfg: &'a ParseConfig,
    pub slots: &'a mut Vec<Option<Slot>>,
    pub cvs: &'a mut Vec<Rule>,
    pub cvs_loaded: &'a mut bool,
    pub warnings: &'a mut Vec<String>,
    /// Absolute directory (with trailing `/`) whose merge file is being
    /// read; empty while parsing options.
    pub dirbuf: Vec<u8>,
    pub parent_dirscan: bool,
    pub depth: u32,
    pub src: Source,
}

impl<'a> Ctx<'a> {
    pub fn new(list: &'a mut FilterList) -> Ctx<'a> {
        Ctx {
            cfg: &list.cfg,
            slots: &mut list.slots,
            cvs: &mut list.cvs,
            cvs_loaded: &mut list.cvs_loaded,
            warnings: &mut list.warnings,
            dirbuf: Vec::new(),
            parent_dirscan: false,
            depth: 0,
            src: Source::default(),
        }
    }

    fn tok_opts(&self) -> TokOpts {
        TokOpts {
            delete_excluded: self.cfg.delete_excluded,
        }
    }

    /// Parse rule text into `t` (upstream: parse_filter_str()).
    pub fn parse_str(
        &mut self,
        t: &mut Target,
        text: &[u8],
        template: u32,
        xflags: u32,
    ) -> Result<()> {
        let mut pos = 0;
        loop {
            let Some(tok) =
                next_token(text, &mut pos, template, xflags, self.tok_opts(), &self.src)?
            else {
                return Ok(());
            };
            let mut flags = tok.flags;
            let mut pat: &[u8] = &text[tok.pat_start..tok.pat_end];
            if pat.len() >= MAXPATHLEN {
                let shown = self.src.text(0, pat);
                self.warnings
                    .push(format!("discarding over-long filter: {shown}"));
                continue;
            }
            if flags & f::CLEAR_LIST != 0 {
                self.clear(t);
                continue;
            }
            if flags & f::MERGE_FILE != 0 {
                if pat.is_empty() {
                    pat = CVSIGNORE_FILE;
                }
                if flags & f::EXCLUDE_SELF != 0 {
                    let base = match pat.iter().rposition(|&c| c == b'/') {
                        Some(i) => &pat[i + 1..],
                        None => pat,
                    };
                    self.add_rule(t, base, flags & f::FROM_FILE, 0);
                    flags &= !f::EXCLUDE_SELF;
                }
                if flags & f::PERDIR_MERGE != 0 {
                    if self.parent_dirscan {
                        if let Some(name) = self.merge_name(flags, pat)? {
                            self.add_rule(t, &name, flags, 0);
                        }
                        continue;
                    }
                } else {
                    if let Some(name) = self.merge_name(flags, pat)? {
                        self.parse_file(t, &name, None, flags, xf::FATAL_ERRORS)?;
                    }
                    continue;
                }
            }
            self.add_rule(t, pat, flags, xflags);
            if flags & f::CVS_IGNORE != 0 && flags & f::MERGE_FILE == 0 {
                self.load_cvs(flags)?;
            }
        }
    }

    /// `!`: drop the local rules (and the merge files they opened) and
    /// stop inheriting.
    fn clear(&mut self, t: &mut Target) {
        for r in &t.rules {
            if r.flags & f::PERDIR_MERGE != 0 {
                if let Some(s) = self.slots.get_mut(r.slot) {
                    *s = None;
                }
            }
        }
        t.rules.clear();
        t.cleared = true;
    }

    /// Finish a rule and append it (upstream: add_rule()).
    fn add_rule(&mut self, t: &mut Target, pat: &[u8], mut flags: u32, xflags: u32) {
        let mut pat = pat;
        if pat.len() > 1 && pat[pat.len() - 1] == b'/' {
            pat = &pat[..pat.len() - 1];
            flags |= f::DIRECTORY;
        }
        let mut slash_cnt = pat.iter().filter(|&&c| c == b'/').count() as u32;
        let mut pattern = Vec::with_capacity(pat.len() + self.dirbuf.len());
        if flags & (f::ABS_PATH | f::MERGE_FILE) == 0
            && xflags & xf::ANCHORED2ABS != 0
            && pat.first() == Some(&b'/')
        {
            // Anchored rule in a per-directory file: anchor it at that
            // directory by prefixing the directory's absolute path.
            flags |= f::ABS_PATH;
            if self.dirbuf.len() > 1 {
                let prefix = &self.dirbuf[..self.dirbuf.len() - 1];
                slash_cnt += prefix.iter().filter(|&&c| c == b'/').count() as u32;
                pattern.extend_from_slice(prefix);
            }
        }
        pattern.extend_from_slice(pat);
        let mut rule = Rule {
            flags,
            pattern,
            slash_cnt,
            slot: 0,
        };
        rule.compute_wild();
        if flags & f::PERDIR_MERGE != 0 {
            let base = basename(&rule.pattern).to_vec();
            // A per-directory file already active under the same name is
            // not added twice.
            let dup = self
                .slots
                .iter()
                .flatten()
                .any(|s| basename(&s.rule.pattern) == base.as_slice());
            if dup {
                return;
            }
            rule.slot = self.slots.len();
            self.slots.push(Some(Slot {
                rule: rule.clone(),
                list: Vec::new(),
            }));
        }
        t.rules.push(rule);
    }

    /// Resolve a merge-file name (upstream: parse_merge_name()): names
    /// without a slash are used as given; others are cleaned and made
    /// relative to the directory being read.
    pub fn merge_name(&mut self, flags: u32, name: &[u8]) -> Result<Option<Vec<u8>>> {
        if !self.parent_dirscan && name.first() != Some(&b'/') && !name.contains(&b'/') {
            return Ok(Some(name.to_vec()));
        }
        let cleaned = clean_path(name);
        let full = if cleaned.first() == Some(&b'/') {
            cleaned
        } else {
            let mut b = self.dirbuf.clone();
            b.extend_from_slice(&cleaned);
            clean_path(&b)
        };
        if full.len() >= MAXPATHLEN {
            let shown = self.src.text(flags, &full);
            self.warnings
                .push(format!("merge-file name overflows: {shown}"));
            return Ok(None);
        }
        Ok(Some(full))
    }

    /// Read a rule file and parse it line by line (or word by word)
    /// (upstream: parse_filter_file()). `disk` overrides where the bytes
    /// come from; `name` is what messages show.
    pub fn parse_file(
        &mut self,
        t: &mut Target,
        name: &[u8],
        disk: Option<&Path>,
        template: u32,
        xflags: u32,
    ) -> Result<()> {
        if name.is_empty() {
            return Ok(());
        }
        let named_by_file = self.src.in_file || template & f::FROM_FILE != 0;
        let shown_name = self.src.text(template, name);
        if self.depth >= MAX_MERGE_DEPTH {
            let msg = format!(
                "merge-file include depth limit ({MAX_MERGE_DEPTH}) exceeded at {shown_name}"
            );
            if xflags & xf::FATAL_ERRORS != 0 {
                return Err(Error::new(ExitCode::FILEIO, msg));
            }
            self.warnings.push(msg);
            return Ok(());
        }
        let data = if name == b"-" && !self.cfg.am_server && disk.is_none() {
            Ok(self.cfg.stdin.clone().unwrap_or_default())
        } else {
            let p = disk.unwrap_or_else(|| Path::new(std::ffi::OsStr::from_bytes(name)));
            std::fs::read(p)
        };
        let data = match data {
            Ok(d) => d,
            Err(e) => {
                if xflags & xf::FATAL_ERRORS != 0 {
                    let kind = if template & f::INCLUDE != 0 {
                        "in"
                    } else {
                        "ex"
                    };
                    let msg = if named_by_file {
                        format!("failed to open {kind}clude file {shown_name}")
                    } else {
                        format!(
                            "failed to open {kind}clude file {}: {}",
                            String::from_utf8_lossy(name),
                            io_err_text(&e)
                        )
                    };
                    return Err(Error::new(ExitCode::FILEIO, msg));
                }
                return Ok(());
            }
        };
        let word_split = template & f::WORD_SPLIT != 0;
        let saved = std::mem::take(&mut self.src);
        let named_at = if named_by_file && saved.in_file {
            Some(saved.where_())
        } else if named_by_file {
            None
        } else {
            saved.named_at.clone()
        };
        self.src = Source {
            in_file: true,
            file: (!named_by_file).then(|| String::from_utf8_lossy(name).into_owned()),
            line: if word_split { -1 } else { 0 },
            named_at,
        };
        self.depth += 1;
        let res = self.parse_lines(t, &data, template, xflags, word_split);
        self.depth -= 1;
        self.src = saved;
        res
    }

    fn parse_lines(
        &mut self,
        t: &mut Target,
        data: &[u8],
        template: u32,
        xflags: u32,
        word_split: bool,
    ) -> Result<()> {
        let from0 = self.cfg.from0;
        let mut i = 0;
        while i <= data.len() {
            if self.src.line >= 0 {
                self.src.line += 1;
            }
            let start = i;
            while i < data.len() {
                let c = data[i];
                if (word_split && is_space(c))
                    || (if from0 {
                        c == 0
                    } else {
                        c == b'\n' || c == b'\r'
                    })
                {
                    break;
                }
                i += 1;
            }
            let mut line = &data[start..i];
            if i < data.len() {
                // CRLF is one line end.
                if !from0 && data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                i += 1;
            } else {
                i += 1; // end of data: leave the loop after this line
            }
            if line.len() >= BIGPATHBUFLEN {
                let shown = self.src.text(0, b"");
                self.warnings
                    .push(format!("discarding over-long filter: {shown}"));
                line = b"";
            }
            // A NUL ends a C string: the rest of the line is invisible.
            if let Some(n) = line.iter().position(|&c| c == 0) {
                line = &line[..n];
            }
            if !line.is_empty() && (word_split || (line[0] != b';' && line[0] != b'#')) {
                self.parse_str(t, line, template, xflags)?;
            }
        }
        Ok(())
    }

    /// Fill the global CVS list once (upstream: get_cvs_excludes()).
    fn load_cvs(&mut self, flags: u32) -> Result<()> {
        if *self.cvs_loaded {
            return Ok(());
        }
        *self.cvs_loaded = true;
        let mut t = Target {
            rules: std::mem::take(self.cvs),
            cleared: false,
        };
        let perishable = if self.cfg.protocol >= 30 {
            f::PERISHABLE
        } else {
            0
        };
        let saved_dir = std::mem::take(&mut self.dirbuf);
        let mut res = self.parse_str(&mut t, DEFAULT_CVSIGNORE.as_bytes(), flags | perishable, 0);
        if res.is_ok() {
            if let Some(home) = &self.cfg.home {
                let mut p = home.as_os_str().as_bytes().to_vec();
                if p.last() != Some(&b'/') {
                    p.push(b'/');
                }
                p.extend_from_slice(CVSIGNORE_FILE);
                res = self.parse_file(&mut t, &p, None, flags, 0);
            }
        }
        if res.is_ok() {
            if let Some(env) = self.cfg.cvsignore_env.clone() {
                res = self.parse_str(&mut t, &env, flags, 0);
            }
        }
        self.dirbuf = saved_dir;
        *self.cvs = t.rules;
        res
    }
}

pub(crate) fn basename(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&c| c == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// strerror text plus errno, as rsyserr() prints it.
fn io_err_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let s = e.to_string();
            // io::Error renders "TEXT (os error N)"; upstream prints "TEXT (N)".
            let text = s.split(" (os error").next().unwrap_or(&s).to_string();
            format!("{text} ({n})")
        }
        None => e.to_string(),
    }
}

/// Clean a path the way upstream's clean_fname(CFN_COLLAPSE_DOT_DOT_DIRS)
/// does for our purposes: drop empty and `.` components, fold `dir/..`,
/// keep a leading `/` and leading `..` of relative names.
pub fn clean_path(p: &[u8]) -> Vec<u8> {
    let abs = p.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in p.split(|&c| c == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                if matches!(parts.last(), Some(l) if *l != b"..") {
                    parts.pop();
                } else if !abs {
                    parts.push(c);
                }
            }
            _ => parts.push(c),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    if abs {
        out.push(b'/');
    }
    for (i, c) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(c);
    }
    if out.is_empty() {
        out.push(b'.');
    }
    out
}
