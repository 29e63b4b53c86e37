//! The `--help` and `--version` texts (upstream: usage() and
//! print_rsync_version() in usage.c).
//!
//! The wording is gensync's own. The version text keeps rsync's section
//! layout because scripts look for lines such as "protocol version" and the
//! capability and checksum lists.

/// The protocol gensync speaks by default.
const PROTOCOL_VERSION: u32 = 32;

/// Implemented options as shown by `--help`: (spelling, description).
const HELP_ROWS: &[(&str, &str)] = &[
    (
        "--verbose, -v",
        "say more about what is happening (repeat for more)",
    ),
    ("--quiet, -q", "print nothing but errors"),
    (
        "--stderr=e|a|c",
        "which messages go to stderr: errors (default), all, client",
    ),
    (
        "--archive, -a",
        "shorthand for -rlptgoD (does not include -H, -A or -X)",
    ),
    (
        "--no-OPTION",
        "switch off OPTION, e.g. --no-o after -a (see below)",
    ),
    ("--recursive, -r", "descend into directories"),
    (
        "--dirs, -d",
        "copy directories themselves, but not their contents",
    ),
    (
        "--mkpath",
        "create missing directories leading to the destination",
    ),
    ("--links, -l", "recreate symlinks as symlinks"),
    ("--perms, -p", "copy permission bits"),
    ("--times, -t", "copy modification times"),
    (
        "--omit-dir-times, -O",
        "leave directory times alone with --times",
    ),
    ("--owner, -o", "copy the owning user (needs privileges)"),
    ("--group, -g", "copy the owning group"),
    ("--devices", "recreate device files (needs privileges)"),
    ("--specials", "recreate named pipes and sockets"),
    ("-D", "both --devices and --specials"),
    (
        "--numeric-ids",
        "keep uid/gid numbers instead of matching names",
    ),
    (
        "--one-file-system, -x",
        "stay on one filesystem (twice: skip mount points too)",
    ),
    (
        "--relative, -R",
        "keep the source path names (a /./ marks where they start)",
    ),
    (
        "--no-implied-dirs",
        "with -R, leave the directories above each name alone",
    ),
    (
        "--files-from=FILE",
        "read the names to send from FILE (-, or HOST:FILE)",
    ),
    (
        "--prune-empty-dirs, -m",
        "leave out directories that would hold no file",
    ),
    (
        "--ignore-missing-args",
        "skip source names that do not exist",
    ),
    (
        "--delete-missing-args",
        "delete the destination's item for a missing source name",
    ),
    (
        "--checksum, -c",
        "compare whole-file checksums instead of size and mtime",
    ),
    ("--size-only", "treat files of equal size as up to date"),
    (
        "--ignore-times, -I",
        "transfer even files whose size and mtime match",
    ),
    (
        "--modify-window=NUM, -@",
        "mtimes within NUM seconds count as equal",
    ),
    (
        "--update, -u",
        "leave files alone that are newer on the receiver",
    ),
    ("--existing", "only update files the receiver already has"),
    (
        "--ignore-existing",
        "never touch files the receiver already has",
    ),
    (
        "--max-size=SIZE",
        "don't transfer any file larger than SIZE",
    ),
    (
        "--min-size=SIZE",
        "don't transfer any file smaller than SIZE",
    ),
    (
        "--max-alloc=SIZE",
        "change a limit relating to memory alloc",
    ),
    ("--whole-file, -W", "send whole files instead of deltas"),
    ("--no-whole-file, --no-W", "always use the delta algorithm"),
    ("--block-size=SIZE, -B", "use a fixed delta block size"),
    (
        "--checksum-choice=STR",
        "pick the checksum algorithm(s) (also --cc)",
    ),
    ("--checksum-seed=NUM", "use a fixed checksum seed"),
    ("--compress, -z", "compress file data on the wire"),
    (
        "--compress-choice=STR",
        "zstd, lz4, zlibx, zlib or none (also --zc)",
    ),
    (
        "--compress-level=NUM",
        "set the compression level (also --zl)",
    ),
    (
        "--compress-threads=NUM",
        "accepted; compression uses one thread (also --zt)",
    ),
    (
        "--skip-compress=LIST",
        "accepted and passed on; no effect, as in rsync 3.5.0",
    ),
    (
        "--delete",
        "remove receiver files that the sender does not have",
    ),
    ("--delete-before", "remove them before the transfer"),
    (
        "--delete-during, --del",
        "remove them while walking the directories",
    ),
    (
        "--delete-delay",
        "find them during the transfer, remove them after",
    ),
    ("--delete-after", "remove them after the transfer"),
    ("--backup, -b", "keep replaced and deleted files (as NAME~)"),
    ("--backup-dir=DIR", "keep the backups in DIR instead"),
    (
        "--suffix=SUFFIX",
        "backup suffix (default ~ w/o --backup-dir)",
    ),
    ("--dry-run, -n", "show what would happen, change nothing"),
    ("--list-only", "list the source files instead of copying"),
    ("--partial", "keep partly transferred files"),
    ("--progress", "show progress while transferring"),
    ("-P", "both --partial and --progress"),
    ("--stats", "print transfer statistics at the end"),
    (
        "--human-readable, -h",
        "friendlier numbers (repeat for larger units)",
    ),
    (
        "--itemize-changes, -i",
        "print a change summary for each updated item",
    ),
    (
        "--out-format=FORMAT",
        "print each update using FORMAT (also --log-format)",
    ),
    ("--rsh=COMMAND, -e", "remote shell to use (default: ssh)"),
    ("--rsync-path=PROGRAM", "program to run on the remote side"),
    ("--blocking-io", "use blocking I/O towards the remote shell"),
    ("--bwlimit=RATE", "limit socket I/O bandwidth"),
    (
        "--stop-after=MINS",
        "stop after MINS minutes (also --time-limit)",
    ),
    ("--stop-at=y-m-dTh:m", "stop at the given point in time"),
    (
        "--8-bit-output, -8",
        "leave high-bit chars unescaped in output",
    ),
    (
        "--outbuf=N|L|B",
        "set out buffering to None, Line, or Block",
    ),
    (
        "--protocol=NUM",
        "speak an older protocol version (20 to 32)",
    ),
    (
        "--version, -V",
        "show version and capabilities, then exit (-VV: as JSON)",
    ),
    (
        "--help, -h (*)",
        "show this text (* -h means help only on its own)",
    ),
];

/// `--help` output. It starts with the usage lines; `program_name` is the
/// name the binary was started as.
pub fn help_text(program_name: &str) -> String {
    let p = program_name;
    let mut out = String::new();
    out.push_str(&format!("Usage: {p} [OPTION]... SRC [SRC]... DEST\n"));
    out.push_str(&format!(
        "  or   {p} [OPTION]... SRC [SRC]... [USER@]HOST:DEST\n"
    ));
    out.push_str(&format!("  or   {p} [OPTION]... [USER@]HOST:SRC [DEST]\n"));
    out.push_str(&format!("  or   {p} [OPTION]... SRC        (list SRC)\n"));
    out.push_str(
        "A HOST: prefix reaches the other machine through a remote shell (ssh by\n\
         default). rsync daemon addresses (HOST::, rsync://) are not supported yet.\n\n",
    );
    out.push_str("Options\n");
    let width = HELP_ROWS.iter().map(|(s, _)| s.len()).max().unwrap_or(0) + 2;
    for (spelling, text) in HELP_ROWS {
        out.push_str(&format!("{spelling:<width$}{text}\n"));
    }
    out.push_str(
        "\n--no-OPTION works for: --no-verbose/-v, --no-recursive/-r, --no-dirs/-d,\n\
         --no-links/-l, --no-perms/-p, --no-times/-t, --no-owner/-o, --no-group/-g,\n\
         --no-D, --no-devices, --no-specials, --no-omit-dir-times/-O, --no-checksum/-c,\n\
         --no-one-file-system/-x, --no-human-readable/-h, --no-itemize-changes/-i,\n\
         --no-partial, --no-progress, --no-numeric-ids, --no-mkpath, --no-blocking-io,\n\
         --no-backup, --no-bwlimit, --no-8-bit-output/-8.\n\
         (The short forms are spelled --no-v, --no-r and so on.)\n",
    );
    out.push_str(&format!(
        "\nEvery other rsync option is recognised but stops {p} with an\n\
         \"option not yet supported\" error; nothing is silently ignored.\n\
         See the gensync(1) manual for details.\n\n\
         gensync  version {}  protocol version {PROTOCOL_VERSION}\n",
        env!("CARGO_PKG_VERSION")
    ));
    out
}

/// What this build can do, in upstream's wording ("no X" when it cannot);
/// both `--version` and `-VV` are made from it.
const CAPABILITIES: &[&str] = &[
    "64-bit files",
    "64-bit inums",
    "64-bit timestamps",
    "64-bit long ints",
    "socketpairs",
    "symlinks",
    "no symtimes",
    "hardlinks",
    "hardlink-specials",
    "hardlink-symlinks",
    "IPv6",
    "atimes",
    "no batchfiles",
    "inplace",
    "append",
    "no ACLs",
    "no xattrs",
    "optional secluded-args",
    "no iconv",
    "prealloc",
    "stop-at",
    "no crtimes",
];

/// gensync has no hand-tuned rolling checksum or MD5 and no OpenSSL.
const OPTIMIZATIONS: &[&str] = &[
    "no SIMD-roll",
    "no asm-roll",
    "no openssl-crypto",
    "no asm-MD5",
];

const CHECKSUMS: &[&str] = &["xxh128", "xxh3", "xxh64", "md5", "md4", "none"];
const COMPRESSORS: &[&str] = &["zstd", "lz4", "zlibx", "zlib", "none"];
const DAEMON_AUTH: &[&str] = &["sha512", "sha256", "sha1", "md5", "md4"];

/// Items of a list, joined with ", " and wrapped into lines of at most 74
/// characters, each indented by four spaces (upstream's info-flag layout).
fn wrapped(items: &[String]) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for (i, item) in items.iter().enumerate() {
        let piece = format!(" {item}{}", if i + 1 < items.len() { "," } else { "" });
        if !line.is_empty() && line.len() + piece.len() >= 75 {
            out.push_str(&format!("   {line}\n"));
            line.clear();
        }
        line.push_str(&piece);
    }
    if !line.is_empty() {
        out.push_str(&format!("   {line}\n"));
    }
    out
}

/// `--version` output, laid out like rsync's.
pub fn version_text() -> String {
    let caps: Vec<String> = CAPABILITIES.iter().map(|c| c.to_string()).collect();
    format!(
        "gensync  version {version}  protocol version {PROTOCOL_VERSION}\n\
         A clean-room reimplementation of rsync, licensed MIT OR Apache-2.0.\n\
         Capabilities:\n{caps}\
         Checksum list:\n    {sums}\n\
         Compress list:\n    {comp}\n\
         \n\
         gensync comes with ABSOLUTELY NO WARRANTY, to the extent permitted by law.\n",
        version = env!("CARGO_PKG_VERSION"),
        caps = wrapped(&caps),
        sums = CHECKSUMS.join(" "),
        comp = COMPRESSORS.join(" "),
    )
}

/// One capability as a JSON member: "no X" is false, a bare X is true,
/// "64-bit X" is the number 64 under "X_bits" (singular), and "WORD X" is
/// the string "WORD"; spaces and dashes in the key become underscores.
fn json_member(item: &str) -> String {
    let Some((head, tail)) = item.split_once(' ') else {
        return format!("\"{}\": true", item.replace(['-', ' '], "_"));
    };
    let key = tail.replace(['-', ' '], "_");
    if head == "no" {
        return format!("\"{key}\": false");
    }
    if head.starts_with(|c: char| c.is_ascii_digit()) {
        let bits = head.split('-').next().unwrap_or(head);
        let singular = key.strip_suffix('s').unwrap_or(&key);
        return format!("\"{singular}_bits\": {bits}");
    }
    format!("\"{key}\": \"{head}\"")
}

/// `-VV`: the version facts as the JSON document rsync 3.5.0 prints, with
/// gensync's own values (same members, order and line layout).
pub fn version_json() -> String {
    let mut out = String::new();
    let line = |out: &mut String, first: bool, name: &str, value: &str| {
        out.push_str(&format!(
            "{}\n  \"{name}\": \"{value}\"",
            if first { '{' } else { ',' }
        ));
    };
    line(&mut out, true, "program", "gensync");
    line(&mut out, false, "version", env!("CARGO_PKG_VERSION"));
    line(
        &mut out,
        false,
        "protocol",
        &format!("{PROTOCOL_VERSION}.0"),
    );
    line(&mut out, false, "copyright", "The gensync authors.");
    line(&mut out, false, "url", "https://github.com/gensync/gensync");
    for (section, items) in [
        ("capabilities", CAPABILITIES),
        ("optimizations", OPTIMIZATIONS),
    ] {
        out.push_str(&format!(",\n  \"{section}\": {{\n"));
        let members: Vec<String> = items.iter().map(|i| json_member(i)).collect();
        out.push_str(&wrapped(&members));
        out.push_str("  }");
    }
    for (name, list) in [
        ("checksum_list", CHECKSUMS),
        ("compress_list", COMPRESSORS),
        ("daemon_auth_list", DAEMON_AUTH),
    ] {
        let quoted: Vec<String> = list.iter().map(|n| format!("\"{n}\"")).collect();
        out.push_str(&format!(
            ",\n  \"{name}\": [\n    {}\n  ]",
            quoted.join(", ")
        ));
    }
    line(&mut out, false, "license", "MIT OR Apache-2.0");
    line(
        &mut out,
        false,
        "caveat",
        "gensync comes with ABSOLUTELY NO WARRANTY",
    );
    out.push_str("\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::option_table::{find_long, find_short, Status};

    #[test]
    fn help_starts_with_usage() {
        let h = help_text("gensync");
        assert!(h.starts_with("Usage: gensync [OPTION]..."));
        assert!(help_text("rsync").starts_with("Usage: rsync "));
        assert!(h.contains("--archive, -a"));
        assert!(h.contains("protocol version 32"));
    }

    #[test]
    fn help_only_lists_implemented_options() {
        for (spelling, _) in HELP_ROWS {
            for word in spelling.split([',', ' ']).filter(|w| w.starts_with('-')) {
                let name = word.split(['=', '|']).next().unwrap();
                if name == "--no-OPTION" {
                    continue;
                }
                let row = match name.strip_prefix("--") {
                    Some(long) => find_long(long.as_bytes()),
                    None => find_short(name.as_bytes()[1]),
                };
                let row = row.unwrap_or_else(|| panic!("{name} is not an option"));
                assert_eq!(row.status, Status::Implemented, "{name}");
            }
        }
    }

    #[test]
    fn json_members_follow_upstream_spelling() {
        assert_eq!(json_member("64-bit files"), "\"file_bits\": 64");
        assert_eq!(json_member("64-bit long ints"), "\"long_int_bits\": 64");
        assert_eq!(
            json_member("no hardlink-specials"),
            "\"hardlink_specials\": false"
        );
        assert_eq!(
            json_member("optional secluded-args"),
            "\"secluded_args\": \"optional\""
        );
        assert_eq!(json_member("IPv6"), "\"IPv6\": true");
        let j = version_json();
        assert!(j.starts_with("{\n  \"program\": \"gensync\",\n  \"version\": "));
        assert!(j.contains(",\n  \"capabilities\": {\n    \"file_bits\": 64, \"inum_bits\": 64,"));
        assert!(j.ends_with("\n  \"caveat\": \"gensync comes with ABSOLUTELY NO WARRANTY\"\n}\n"));
    }

    #[test]
    fn version_layout() {
        let v = version_text();
        let first = v.lines().next().unwrap();
        assert_eq!(
            first,
            format!(
                "gensync  version {}  protocol version 32",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(v.contains("\nCapabilities:\n"));
        assert!(v.contains("Checksum list:\n    xxh128 xxh3 xxh64 md5 md4 none\n"));
        assert!(v.contains("Compress list:\n    zstd lz4 zlibx zlib none\n"));
    }
}
