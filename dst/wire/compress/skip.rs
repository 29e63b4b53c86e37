//! `--skip-compress` and the daemon's `dont compress` list (upstream:
//! token.c init_set_compression(), add_nocompress_suffixes(),
//! add_suffix() and the compiled-out matching half of set_compression()).
//!
//! Upstream 3.5.0 parses these lists but no longer acts on them per file
//! (no compressor can change its level mid-stream); the matching is kept
//! here so a caller can choose to use it, e.g. with
//! `TokenEncoder::set_file_level` for zlib.

use std::collections::HashSet;

/// Upstream's default `dont compress` list (DEFAULT_DONT_COMPRESS,
/// generated from the suffix table in rsync.1.md).
pub const DEFAULT_DONT_COMPRESS: &str = "*.3g2 *.3gp *.7z *.aac *.ace *.apk *.avi *.bz2 *.deb \
*.dmg *.ear *.f4v *.flac *.flv *.gpg *.gz *.iso *.jar *.jpeg *.jpg *.lrz *.lz *.lz4 *.lzma *.lzo \
*.m1a *.m1v *.m2a *.m2ts *.m2v *.m4a *.m4b *.m4p *.m4r *.m4v *.mka *.mkv *.mov *.mp1 *.mp2 \
*.mp3 *.mp4 *.mpa *.mpeg *.mpg *.mpv *.mts *.odb *.odf *.odg *.odi *.odm *.odp *.ods *.odt \
*.oga *.ogg *.ogm *.ogv *.ogx *.opus *.otg *.oth *.otp *.ots *.ott *.oxt *.png *.qt *.rar \
*.rpm *.rz *.rzip *.spx *.squashfs *.sxc *.sxd *.sxg *.sxm *.sxw *.sz *.tbz *.tbz2 *.tgz \
*.tlz *.ts *.txz *.tzo *.vob *.war *.webm *.webp *.xz *.z *.zip *.zst";

/// Upstream cuts user suffixes to this many bytes (it builds its suffix
/// tree recursively and must bound the depth).
const MAX_SUFFIX: usize = 32;

/// Which file names to compress as little as possible.
#[derive(Debug, Clone, Default)]
pub struct SkipCompress {
    /// Every name matches (an item that is exactly "*").
    all: bool,
    /// Lower-cased suffixes, compared with the text after the last '.'.
    suffixes: HashSet<Vec<u8>>,
    /// Lower-cased wildcard patterns, matched against the base name
    /// without regard to ASCII case.
    patterns: Vec<Vec<u8>>,
}

impl SkipCompress {
    /// For a transfer without a daemon module: `--skip-compress=LIST`
    /// (slash-separated suffixes) replaces the default list entirely;
    /// without the option the default list applies.
    pub fn new(spec: Option<&str>) -> SkipCompress {
        match spec {
            Some(s) => SkipCompress::with_lists(Some(s), ""),
            None => SkipCompress::with_lists(None, DEFAULT_DONT_COMPRESS),
        }
    }

    /// General form: a daemon module's `dont compress` value (space-separated
    /// wildcards; pass [`DEFAULT_DONT_COMPRESS`] if the module sets none)
    /// plus the user's `--skip-compress` suffixes, both of which apply on a
    /// daemon.
    pub fn with_lists(user_suffixes: Option<&str>, dont_compress: &str) -> SkipCompress {
        let mut sc = SkipCompress::default();
        if let Some(list) = user_suffixes {
            for item in list.split('/').filter(|i| !i.is_empty()) {
                let mut word = item.as_bytes().to_ascii_lowercase();
                word.truncate(MAX_SUFFIX);
                sc.add_suffix(&word);
            }
        }
        for item in dont_compress.split(' ').filter(|i| !i.is_empty()) {
            let item = item.as_bytes().to_ascii_lowercase();
            if item == b"*" {
                // "Everything": upstream stops parsing and drops the rest.
                sc.all = true;
                sc.suffixes.clear();
                sc.patterns.clear();
                break;
            }
            // "*.foo" with a plain suffix goes to the suffix set; anything
            // else stays a wildcard.
            if item.len() > 2
                && item.starts_with(b"*.")
                && !item[2..].iter().any(|c| matches!(c, b'.' | b'?' | b'*'))
            {
                sc.add_suffix(&item[2..]);
            } else {
                sc.patterns.push(item);
            }
        }
        sc
    }

    /// True when every file is skipped ("*" in the daemon list). Upstream
    /// then runs zlib at level 0 for the whole session.
    pub fn skips_all(&self) -> bool {
        self.all
    }

    fn add_suffix(&mut self, word: &[u8]) {
        expand(&mut self.suffixes, Vec::new(), word);
    }

    /// Should this file (a path; only its last component counts) be
    /// compressed as little as possible?
    pub fn skip(&self, file_name: &[u8]) -> bool {
        if self.all {
            return true;
        }
        let base = match file_name.iter().rposition(|&c| c == b'/') {
            Some(i) => &file_name[i + 1..],
            None => file_name,
        };
        let lower = base.to_ascii_lowercase();
        if self.patterns.iter().any(|p| wildmatch(p, &lower)) {
            return true;
        }
        // A dot at the very start (".profile") is not a suffix, nor is a
        // trailing dot.
        match lower.iter().rposition(|&c| c == b'.') {
            Some(0) | None => false,
            Some(i) if i + 1 == lower.len() => false,
            Some(i) => self.suffixes.contains(&lower[i + 1..]),
        }
    }
}

/// Add `word` (after `prefix`) to `out`, expanding bracket classes the way
/// upstream's add_suffix() does: "[xyz]" stands for any one of its letters;
/// a "[" without a later "]", or a class of exactly one letter ("[a]"), is
/// a literal "["; an empty class "[]" contributes nothing. The input is at
/// most MAX_SUFFIX bytes, which bounds the expansion.
fn expand(out: &mut HashSet<Vec<u8>>, mut prefix: Vec<u8>, word: &[u8]) {
    let mut i = 0;
    while i < word.len() {
        let c = word[i];
        if c == b'[' {
            let rest = &word[i + 1..];
            if let Some(close) = rest.iter().position(|&x| x == b']') {
                if close != 1 {
                    for &letter in &rest[..close] {
                        let mut p = prefix.clone();
                        p.push(letter);
                        expand(out, p, &rest[close + 1..]);
                    }
                    return;
                }
            }
        }
        prefix.push(c);
        i += 1;
    }
    if !prefix.is_empty() {
        out.insert(prefix);
    }
}

/// Shell-style match of a whole name: `*`, `?`, `[...]` (with `!`/`^`
/// negation and ranges) and `\` escapes. Both sides are already lower-case.
/// Backtracks only to the most recent `*`, so it runs in O(n*m).
fn wildmatch(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    while p < pat.len() && pat[p] == b'*' {
                        p += 1;
                    }
                    star = Some((p, n));
                    continue;
                }
                b'?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                b'[' => {
                    if let Some((hit, next)) = class_match(pat, p, name[n]) {
                        if hit {
                            p = next;
                            n += 1;
                            continue;
                        }
                    } else if name[n] == b'[' {
                        // Unclosed class: a literal '['.
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == name[n] {
                        p += 2;
                        n += 1;
                        continue;
                    }
                }
                c => {
                    if c == name[n] {
                        p += 1;
                        n += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                p = sp;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Match `c` against the class starting at `pat[start] == '['`; returns
/// (matched, index after the class), or None if the class is unclosed.
fn class_match(pat: &[u8], start: usize, c: u8) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(pat.get(i), Some(b'!') | Some(b'^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let lo = *pat.get(i)?;
        if lo == b']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        let lo = if lo == b'\\' {
            i += 1;
            *pat.get(i)?
        } else {
            lo
        };
        if pat.get(i + 1) == Some(&b'-') && pat.get(i + 2).is_some_and(|&h| h != b']') {
            let hi = pat[i + 2];
            if lo <= c && c <= hi {
                hit = true;
            }
            i += 3;
        } else {
            if lo == c {
                hit = true;
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_suffixes_case_insensitive() {
        let sc = SkipCompress::new(None);
        assert!(sc.skip(b"a/b/movie.MKV"));
        assert!(sc.skip(b"x.tar.gz"));
        assert!(sc.skip(b"x.Z"));
        assert!(!sc.skip(b"x.txt"));
        assert!(!sc.skip(b".gz"), "a leading dot is not a suffix");
        assert!(!sc.skip(b"gz"));
        assert!(!sc.skip(b"file.gz."));
        assert!(!sc.skip(b"dir.gz/file"));
    }

    #[test]
    fn user_list_replaces_default_and_expands_classes() {
        let sc = SkipCompress::new(Some("foo/mp[34]/[a]b/x[]y/Q"));
        assert!(sc.skip(b"a.FOO"));
        assert!(sc.skip(b"a.mp3") && sc.skip(b"a.mp4"));
        assert!(!sc.skip(b"a.mp5"));
        assert!(sc.skip(b"a.[a]b"), "single-letter class stays literal");
        assert!(!sc.skip(b"a.ab"));
        assert!(!sc.skip(b"a.xy") && !sc.skip(b"a.x[]y"), "[] adds nothing");
        assert!(sc.skip(b"a.q"));
        assert!(!sc.skip(b"a.gz"), "the default list is not used");
        assert!(!SkipCompress::new(Some("")).skip(b"a.gz"));
    }

    #[test]
    fn long_user_suffix_is_truncated() {
        let long = "a".repeat(40);
        let sc = SkipCompress::new(Some(&long));
        assert!(sc.skip(format!("x.{}", "a".repeat(32)).as_bytes()));
        assert!(!sc.skip(format!("x.{long}").as_bytes()));
    }

    #[test]
    fn daemon_wildcards_and_star() {
        let sc = SkipCompress::with_lists(Some("iso"), "*.gz Core.* data?.[0-9]* *.tar.*");
        assert!(sc.skip(b"a.gz") && sc.skip(b"a.iso"));
        assert!(sc.skip(b"dir/core.1234"));
        assert!(sc.skip(b"DATA1.7z"));
        assert!(!sc.skip(b"data1.x"));
        assert!(sc.skip(b"x.tar.bz2"));
        assert!(!sc.skip(b"x.txt"));
        let all = SkipCompress::with_lists(None, "*.gz *");
        assert!(all.skips_all() && all.skip(b"anything"));
    }

    #[test]
    fn wildmatch_basics() {
        assert!(wildmatch(b"*", b""));
        assert!(wildmatch(b"a*b*c", b"axxbyyc"));
        assert!(!wildmatch(b"a*b*c", b"axxbyy"));
        assert!(wildmatch(b"[!a]x", b"bx"));
        assert!(!wildmatch(b"[!a]x", b"ax"));
        assert!(wildmatch(b"[]]", b"]"));
        assert!(wildmatch(b"\\*", b"*"));
        assert!(wildmatch(b"[ab", b"[ab"));
        assert!(!wildmatch(
            &[b'*'; 30].iter().chain(b"b").copied().collect::<Vec<_>>(),
            &[b'a'; 64]
        ));
    }
}
