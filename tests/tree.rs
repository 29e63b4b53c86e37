//! Fixture trees: a seeded generator covering the file kinds and metadata
//! corners rsync has to handle, a mutator that turns a copy into an older,
//! edited destination (to drive the delta path), and a snapshot/compare of
//! trees down to nanosecond mtimes and hard-link groups.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use filetime::FileTime;

/// xorshift64*: tiny, deterministic, good enough for fixtures.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
    /// Half random bytes, half repetitive text, so both literal data and
    /// matched blocks show up when files are edited.
    pub fn content(&mut self, n: usize) -> Vec<u8> {
        if self.chance(50) {
            return self.bytes(n);
        }
        let mut v = Vec::with_capacity(n);
        let mut line = 0u64;
        while v.len() < n {
            let r = self.below(1000);
            v.extend_from_slice(format!("line {line} value {r} lorem ipsum dolor\n").as_bytes());
            line += 1;
        }
        v.truncate(n);
        v
    }
}

/// Every mtime the generator sets lies in one of these ranges; anything newer
/// than the start of the test process was set by "now" (see `Snapshot`).
fn fixed_time(rng: &mut Rng) -> FileTime {
    let nsec = if rng.chance(70) {
        rng.below(1_000_000_000) as u32
    } else {
        0
    };
    let sec: i64 = match rng.below(10) {
        // The 1970s: small positive values.
        0 => 86_400 + rng.below(300_000_000) as i64,
        // Before the epoch: negative seconds with a positive nsec part.
        1 => -315_619_200 + rng.below(100_000_000) as i64,
        // 2001..2017.
        _ => 1_000_000_000 + rng.below(500_000_000) as i64,
    };
    FileTime::from_unix_time(sec, nsec)
}

fn set_mtime(p: &Path, t: FileTime) {
    // atime is irrelevant; set it equal so the call is a single syscall.
    filetime::set_symlink_file_times(p, t, t)
        .unwrap_or_else(|e| panic!("set times {}: {e}", p.display()));
}

fn mkfifo(p: &Path) -> bool {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    unsafe { libc::mkfifo(c.as_ptr(), 0o644) == 0 }
}

fn mknod(p: &Path, mode: libc::mode_t, dev: libc::dev_t) -> bool {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is a valid NUL-terminated path.
    unsafe { libc::mknod(c.as_ptr(), mode, dev) == 0 }
}

fn chown(p: &Path, uid: u32, gid: u32) -> bool {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is a valid NUL-terminated path; lchown never follows links.
    unsafe { libc::lchown(c.as_ptr(), uid, gid) == 0 }
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

/// What to put in a generated tree.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Regular files spread over the directories.
    pub files: usize,
    /// Size cap of the "large" files (a few of them get near it).
    pub max_size: usize,
    /// Symlinks, FIFOs, sockets, devices, odd names/permissions/owners.
    pub exotic: bool,
}

impl Profile {
    /// The default fixture: ~70 files, a few MiB, every kind of entry.
    pub fn standard() -> Profile {
        Profile {
            files: 60,
            max_size: 1 << 20,
            exotic: true,
        }
    }
    /// Plain files and directories only.
    pub fn plain() -> Profile {
        Profile {
            files: 30,
            max_size: 256 << 10,
            exotic: false,
        }
    }
}

fn write(p: &Path, data: &[u8]) {
    fs::write(p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

/// Generate a tree under `root` (created if needed). The same seed and
/// profile always give the same tree, so a failure can be reproduced.
pub fn generate(root: &Path, seed: u64, prof: &Profile) {
    let mut rng = Rng::new(seed);
    fs::create_dir_all(root).unwrap();
    // Directories: a few plain ones, one 10 deep, some empty.
    let mut dirs: Vec<PathBuf> = vec![PathBuf::new()];
    for name in ["alpha", "beta", "beta/gamma", "empty", "beta/empty2"] {
        fs::create_dir_all(root.join(name)).unwrap();
        dirs.push(PathBuf::from(name));
    }
    let mut deep = PathBuf::from("deep");
    for i in 0..10 {
        deep.push(format!("d{i}"));
        fs::create_dir_all(root.join(&deep)).unwrap();
        dirs.push(deep.clone());
    }
    write(&root.join(&deep).join("bottom.txt"), b"at the bottom\n");

    // Regular files, mostly small, a few large; directories without files
    // ("empty", "beta/empty2") are excluded from the placement.
    let placeable: Vec<&PathBuf> = dirs
        .iter()
        .filter(|d| !d.ends_with("empty") && !d.ends_with("empty2"))
        .collect();
    for i in 0..prof.files {
        let size = match rng.below(20) {
            0 => 0,
            1 => 1,
            2..=11 => rng.below(2048) as usize,
            12..=17 => rng.below(64 << 10) as usize,
            _ => (prof.max_size / 4) + rng.below(prof.max_size as u64 * 3 / 4) as usize,
        };
        let dir = placeable[rng.below(placeable.len() as u64) as usize];
        let p = root.join(dir).join(format!("f{i:03}.dat"));
        write(&p, &rng.content(size));
    }
    // A hard-link pair and a triple, to check both that -H keeps and that
    // plain -a breaks link groups.
    write(&root.join("alpha/hl-a"), &rng.content(5000));
    fs::hard_link(root.join("alpha/hl-a"), root.join("beta/hl-b")).unwrap();
    write(&root.join("hl-x"), &rng.content(100));
    fs::hard_link(root.join("hl-x"), root.join("hl-y")).unwrap();
    fs::hard_link(root.join("hl-x"), root.join("deep/hl-z")).unwrap();

    if prof.exotic {
        generate_exotic(root, &mut rng);
    }

    // Times last, depth-first so setting a child never disturbs its parent.
    set_all_times(root, &mut rng);
}

fn generate_exotic(root: &Path, rng: &mut Rng) {
    // Awkward names: escaping in output and argument handling.
    let names: [&[u8]; 7] = [
        b"with space.txt",
        "\u{fc}n\u{ef}c\u{f8}d\u{e9}-\u{6587}\u{4ef6}.txt".as_bytes(),
        b"-leading-dash",
        b"new\nline",
        b"tab\there",
        b"back\\slash",
        b"latin1-\xe9t\xe9",
    ];
    for n in names {
        write(
            &root.join("alpha").join(OsStr::from_bytes(n)),
            &rng.content(300),
        );
    }
    fs::create_dir(root.join("dir with space")).unwrap();
    write(&root.join("dir with space/inner file"), b"inner\n");

    // Symlinks: relative, absolute, dangling, to a directory, to a dir
    // containing a symlink, and one whose target has a newline.
    let links: [(&str, &str); 7] = [
        ("alpha/rel-link", "../hl-x"),
        ("alpha/abs-link", "/etc/hostname"),
        ("dangling", "does/not/exist"),
        ("dir-link", "beta/gamma"),
        ("beta/self-loop", "self-loop"),
        ("beta/up-link", ".."),
        ("odd-target", "a target\nwith newline"),
    ];
    for (l, t) in links {
        std::os::unix::fs::symlink(t, root.join(l)).unwrap();
    }

    // Specials: FIFO and socket; devices only where mknod is allowed.
    assert!(mkfifo(&root.join("beta/fifo")), "mkfifo failed");
    {
        let sock = root.join("beta/sock");
        let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        drop(l);
    }
    let _ = mknod(
        &root.join("beta/chardev"),
        libc::S_IFCHR | 0o640,
        libc::makedev(1, 3),
    );
    let _ = mknod(
        &root.join("beta/blockdev"),
        libc::S_IFBLK | 0o600,
        libc::makedev(7, 200),
    );

    // Permissions: read-only, private, world-writable, setuid/setgid,
    // sticky and read-only directories.
    let modes: [(&str, u32); 5] = [
        ("perm-0444", 0o444),
        ("perm-0600", 0o600),
        ("perm-0777", 0o777),
        ("perm-4755", 0o4755),
        ("perm-2750", 0o2750),
    ];
    for (n, m) in modes {
        let p = root.join("alpha").join(n);
        write(&p, &rng.content(64));
        chmod(&p, m);
    }
    fs::create_dir(root.join("sticky")).unwrap();
    write(&root.join("sticky/in-sticky"), b"x\n");
    chmod(&root.join("sticky"), 0o1777);
    fs::create_dir(root.join("private")).unwrap();
    write(&root.join("private/secret"), b"s\n");
    chmod(&root.join("private"), 0o700);
    fs::create_dir(root.join("readonly-dir")).unwrap();
    write(&root.join("readonly-dir/ro-inner"), b"r\n");
    // Made read-only after its times are set, see set_all_times.

    // Ownership: other ids (with no passwd entry for 4242) where we may.
    if crate::util::is_root() {
        chown(&root.join("alpha/perm-0600"), 1234, 1234);
        chown(&root.join("alpha/with space.txt"), 4242, 0);
        chown(&root.join("private"), 0, 4242);
        chown(&root.join("alpha/rel-link"), 1234, 4242);
    }
}

/// Set deterministic times on everything below `root` (not `root` itself
/// for the lower dirs first), then on `root`.
fn set_all_times(root: &Path, rng: &mut Rng) {
    let mut entries = Vec::new();
    walk(root, Path::new(""), &mut entries);
    // Deepest first so directory times are not disturbed afterwards.
    entries.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for rel in &entries {
        set_mtime(&root.join(rel), fixed_time(rng));
    }
    set_mtime(root, fixed_time(rng));
    let ro = root.join("readonly-dir");
    if ro.is_dir() {
        let t = FileTime::from_last_modification_time(&fs::metadata(&ro).unwrap());
        chmod(&ro, 0o555);
        set_mtime(&ro, t);
    }
}

/// Relative paths of everything below `dir`, sorted, not following links.
fn walk(root: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
    let mut names: Vec<OsString> = fs::read_dir(root.join(rel))
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", root.join(rel).display()))
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for n in names {
        let r = rel.join(&n);
        let md = fs::symlink_metadata(root.join(&r)).unwrap();
        out.push(r.clone());
        if md.is_dir() {
            walk(root, &r, out);
        }
    }
}

/// Turn `root` (a copy of a source tree) into a plausible older version of
/// it: edits in the middle, appends, truncations, deletions, additions,
/// changed times and permissions, and a few type changes.
pub fn mutate(root: &Path, seed: u64) {
    let mut rng = Rng::new(seed ^ 0xDEAD_BEEF);
    let mut entries = Vec::new();
    walk(root, Path::new(""), &mut entries);
    let mut removed: Vec<PathBuf> = Vec::new();
    for rel in &entries {
        if removed.iter().any(|r| rel.starts_with(r)) {
            continue;
        }
        let p = root.join(rel);
        let md = fs::symlink_metadata(&p).unwrap();
        if !md.file_type().is_file() || md.mode() & 0o200 == 0 {
            continue;
        }
        let old_t = FileTime::from_last_modification_time(&md);
        let len = md.len() as usize;
        match rng.below(16) {
            // Edit in the middle, same size, new time.
            0 | 1 if len > 16 => {
                let mut data = fs::read(&p).unwrap();
                let at = rng.below(len as u64 - 8) as usize;
                let n = (1 + rng.below(len as u64 / 8 + 1) as usize).min(len - at);
                data[at..at + n].copy_from_slice(&rng.bytes(n));
                write(&p, &data);
                set_mtime(&p, fixed_time(&mut rng));
            }
            // Same edit but keeping the mtime: invisible to the quick
            // check, only -c / -I notice.
            2 if len > 16 => {
                let mut data = fs::read(&p).unwrap();
                data[len / 2] ^= 0x55;
                write(&p, &data);
                set_mtime(&p, old_t);
            }
            // Truncate (the source then looks "appended").
            3 => {
                let data = fs::read(&p).unwrap();
                write(&p, &data[..len / 2]);
                set_mtime(&p, fixed_time(&mut rng));
            }
            // Append garbage.
            4 => {
                let mut data = fs::read(&p).unwrap();
                let n = 1 + rng.below(5000) as usize;
                data.extend_from_slice(&rng.content(n));
                write(&p, &data);
                set_mtime(&p, fixed_time(&mut rng));
            }
            // Delete (fails harmlessly as non-root inside the read-only dir).
            5 if fs::remove_file(&p).is_ok() => removed.push(rel.clone()),
            // Only the time differs (by a full second or more).
            6 => set_mtime(
                &p,
                FileTime::from_unix_time(old_t.unix_seconds() - 1000, old_t.nanoseconds()),
            ),
            // Time differs by less than a second: --modify-window=1 hides it.
            7 => set_mtime(
                &p,
                FileTime::from_unix_time(
                    old_t.unix_seconds(),
                    (old_t.nanoseconds() + 500) % 1_000_000_000,
                ),
            ),
            // Newer in the destination: -u keeps it.
            8 => {
                let mut data = fs::read(&p).unwrap();
                data.extend_from_slice(b"newer local edit\n");
                write(&p, &data);
                set_mtime(&p, FileTime::from_unix_time(1_600_000_000, 7));
            }
            // Permissions differ.
            9 => {
                chmod(&p, 0o640);
                set_mtime(&p, old_t);
            }
            _ => {}
        }
    }
    // Extra entries only the destination has (for --delete), including a
    // whole extra directory subtree.
    write(&root.join("extra-file"), b"only in dest\n");
    fs::create_dir_all(root.join("extra-dir/sub")).unwrap();
    write(&root.join("extra-dir/sub/x"), b"x\n");
    if root.join("alpha").is_dir() {
        write(&root.join("alpha/extra-in-alpha"), b"only in dest\n");
    }
    // Type changes: a symlink where a file will come, a file where a
    // symlink was, an empty dir where a file will come.
    let hl = root.join("hl-y");
    if hl.exists() {
        fs::remove_file(&hl).unwrap();
        std::os::unix::fs::symlink("hl-x", &hl).unwrap();
    }
    let dl = root.join("dangling");
    if fs::symlink_metadata(&dl).is_ok() {
        fs::remove_file(&dl).unwrap();
        write(&dl, b"was a symlink\n");
    }
    let bottom = root.join("deep/d0/d1/d2/d3/d4/d5/d6/d7/d8/d9/bottom.txt");
    if bottom.exists() {
        fs::remove_file(&bottom).unwrap();
        fs::create_dir(&bottom).unwrap();
    }
    // Everything touched above (and the dirs whose entries changed) gets a
    // fixed time again so nothing in the fixture carries "now".
    let mut entries = Vec::new();
    walk(root, Path::new(""), &mut entries);
    entries.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    let start = process_start_secs();
    for rel in entries.iter().map(PathBuf::as_path).chain([Path::new("")]) {
        let p = root.join(rel);
        let md = fs::symlink_metadata(&p).unwrap();
        if md.mtime() >= start - 2 {
            set_mtime(&p, fixed_time(&mut rng));
        }
    }
}

/// Seconds since the epoch at the first call (made early by every test
/// before it builds fixtures). Fixture times are all well before this;
/// anything at or after it was stamped with the current time.
pub fn process_start_secs() -> i64 {
    static START: OnceLock<i64> = OnceLock::new();
    *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File { size: u64, md5: [u8; 16] },
    Dir,
    Symlink(Vec<u8>),
    Fifo,
    Socket,
    CharDev(u64),
    BlockDev(u64),
}

/// An mtime as compared: exact, or "now" for times stamped during the test
/// (unpreserved times differ by milliseconds between the two runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MTime {
    Exact(i64, u32),
    Now,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (not the type).
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: MTime,
    /// Path of the first (sorted) member of this entry's hard-link group,
    /// for non-directories with more than one link inside the snapshot.
    pub link_group: Option<PathBuf>,
}

pub type Snapshot = BTreeMap<PathBuf, Entry>;

fn md5_file(p: &Path) -> [u8; 16] {
    use md5::{Digest, Md5};
    use std::io::Read;
    let mut f = fs::File::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display()));
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().into()
}

/// Record everything below `root` (excluding `root` itself, whose own
/// metadata belongs to the test harness).
pub fn snapshot(root: &Path) -> Snapshot {
    use std::os::unix::fs::FileTypeExt;
    let start = process_start_secs();
    let mut rels = Vec::new();
    walk(root, Path::new(""), &mut rels);
    let mut snap = Snapshot::new();
    let mut inodes: BTreeMap<(u64, u64), (PathBuf, usize)> = BTreeMap::new();
    for rel in &rels {
        let p = root.join(rel);
        let md = fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        let kind = if ft.is_file() {
            Kind::File {
                size: md.len(),
                md5: md5_file(&p),
            }
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink(fs::read_link(&p).unwrap().as_os_str().as_bytes().to_vec())
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else if ft.is_char_device() {
            Kind::CharDev(md.rdev())
        } else {
            Kind::BlockDev(md.rdev())
        };
        let mtime = if md.mtime() >= start - 2 {
            MTime::Now
        } else {
            MTime::Exact(md.mtime(), md.mtime_nsec() as u32)
        };
        if !ft.is_dir() && md.nlink() > 1 {
            let e = inodes
                .entry((md.dev(), md.ino()))
                .or_insert_with(|| (rel.clone(), 0));
            e.1 += 1;
        }
        snap.insert(
            rel.clone(),
            Entry {
                kind,
                perm: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                mtime,
                link_group: None,
            },
        );
    }
    // Only groups with two or more members inside the tree count: a file
    // linked to something outside is not a group rsync could have made.
    for rel in &rels {
        let md = fs::symlink_metadata(root.join(rel)).unwrap();
        if let Some((leader, count)) = inodes.get(&(md.dev(), md.ino())) {
            if *count > 1 && !md.is_dir() {
                snap.get_mut(rel).unwrap().link_group = Some(leader.clone());
            }
        }
    }
    snap
}

fn show_kind(k: &Kind) -> String {
    match k {
        Kind::File { size, md5 } => {
            let h: String = md5[..6].iter().map(|b| format!("{b:02x}")).collect();
            format!("file size={size} md5={h}..")
        }
        Kind::Symlink(t) => format!("symlink -> {:?}", String::from_utf8_lossy(t)),
        other => format!("{other:?}"),
    }
}

/// Differences between an expected (rsync) and actual (binary under test)
/// snapshot, one readable line each; empty when they match.
pub fn diff(expected: &Snapshot, actual: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (p, e) in expected {
        let Some(a) = actual.get(p) else {
            out.push(format!("{p:?}: missing (rsync has {})", show_kind(&e.kind)));
            continue;
        };
        if e.kind != a.kind {
            out.push(format!(
                "{p:?}: rsync {} vs {}",
                show_kind(&e.kind),
                show_kind(&a.kind)
            ));
        }
        if e.perm != a.perm {
            out.push(format!("{p:?}: mode rsync {:o} vs {:o}", e.perm, a.perm));
        }
        if (e.uid, e.gid) != (a.uid, a.gid) {
            out.push(format!(
                "{p:?}: owner rsync {}:{} vs {}:{}",
                e.uid, e.gid, a.uid, a.gid
            ));
        }
        if e.mtime != a.mtime {
            out.push(format!("{p:?}: mtime rsync {:?} vs {:?}", e.mtime, a.mtime));
        }
        if e.link_group != a.link_group {
            out.push(format!(
                "{p:?}: hard-link group rsync {:?} vs {:?}",
                e.link_group, a.link_group
            ));
        }
    }
    for (p, a) in actual {
        if !expected.contains_key(p) {
            out.push(format!("{p:?}: unexpected {}", show_kind(&a.kind)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fixture must be reproducible and must survive `cp -a` unchanged,
    /// or every differential test would compare against a distorted setup.
    #[test]
    fn generator_is_deterministic_and_copy_is_faithful() {
        process_start_secs();
        let t = tempfile::tempdir().unwrap();
        generate(&t.path().join("a"), 7, &Profile::standard());
        generate(&t.path().join("b"), 7, &Profile::standard());
        let (sa, sb) = (snapshot(&t.path().join("a")), snapshot(&t.path().join("b")));
        // Inode identity differs between the two trees but groups match.
        assert_eq!(diff(&sa, &sb), Vec::<String>::new());
        assert!(sa.len() > 80, "tree too small: {}", sa.len());
        assert!(
            sa.values().all(|e| e.mtime != MTime::Now),
            "a fixture time is 'now'"
        );
        fs::create_dir(t.path().join("c")).unwrap();
        crate::util::copy_tree(&t.path().join("a"), &t.path().join("c"));
        assert_eq!(
            diff(&sa, &snapshot(&t.path().join("c"))),
            Vec::<String>::new()
        );
        mutate(&t.path().join("c"), 7);
        let sc = snapshot(&t.path().join("c"));
        assert!(diff(&sa, &sc).len() > 10, "mutation changed too little");
        assert!(
            sc.values().all(|e| e.mtime != MTime::Now),
            "a mutated time is 'now'"
        );
    }
}
