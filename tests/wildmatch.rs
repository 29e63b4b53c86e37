//! The wildmatch table written for this project
//! (`src/filter/wildmatch_cases.rs`), checked case by case against real
//! rsync and against the binary under test: for each (pattern, text,
//! expected) a file at TEXT is listed with `--include=*/ --filter='- /PAT'`,
//! and whether it is excluded must equal the expectation for both. (The
//! engine itself is checked against the same table by the unit tests.)

use crate::util;
use gensync::filter::wildmatch_cases::CASES;
use std::path::Path;

/// Whether `prog` leaves the file at `text` out of the listing of `src`.
fn excluded(prog: &Path, src: &Path, pat: &str) -> bool {
    let out = std::process::Command::new(prog)
        .args(["-r", "--list-only", "--include=*/"])
        .arg(format!("--filter=- /{pat}"))
        .arg(format!("{}/", src.display()))
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{} failed for {pat:?}",
        prog.display()
    );
    // Only the one file is not a directory.
    !out.stdout
        .split(|&c| c == b'\n')
        .any(|l| l.first() == Some(&b'-'))
}

#[test]
fn wildmatch_table_matches_rsync_and_gensync() {
    let up = crate::upstream_or_skip!("wildmatch_table_matches_rsync_and_gensync");
    let ut = util::under_test();
    let base = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, &(pat, text, want)) in CASES.iter().enumerate() {
        // Only a text that can be a relative path can be asked this way.
        if text.is_empty() || text.starts_with('/') || text.ends_with('/') || text.contains("//") {
            continue;
        }
        let src = base.path().join(format!("c{i}"));
        let file = src.join(text);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"x").unwrap();
        let theirs = excluded(&up, &src, pat);
        let ours = excluded(&ut, &src, pat);
        if theirs != want || ours != want {
            failures.push(format!(
                "{pat:?} on {text:?}: table {want}, rsync {theirs}, tested {ours}"
            ));
        }
        checked += 1;
    }
    assert!(checked > 60, "too few cases could be checked: {checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
