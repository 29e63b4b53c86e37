//! rsyncd.conf and access-list patterns use the same wildmatch as filter
//! rules; these are string-typed doorways to the one implementation in
//! `crate::filter::wildmatch`.

/// Upstream wildmatch() on UTF-8 text.
pub fn wildmatch(pattern: &str, text: &str) -> bool {
    crate::filter::wildmatch::wildmatch(pattern.as_bytes(), text.as_bytes())
}

/// Upstream iwildmatch(): case-insensitive (ASCII), as host names compare.
pub fn iwildmatch(pattern: &str, text: &str) -> bool {
    crate::filter::wildmatch::wildmatch(
        pattern.to_ascii_lowercase().as_bytes(),
        text.to_ascii_lowercase().as_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_folding() {
        assert!(iwildmatch("*.Example.COM", "host.example.com"));
        assert!(!wildmatch("*.Example.COM", "host.example.com"));
        assert!(wildmatch("mod*", "module"));
    }
}
