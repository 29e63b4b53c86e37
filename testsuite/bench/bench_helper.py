#!/usr/bin/env python3
"""Helper for testsuite/bench/run.sh: data generation, measurement,
verification and the report. Sub-commands:

  gen-tree DIR NFILES NDIRS SEED      small-file tree (sizes 0..8 KiB)
  gen-flat DIR NFILES NDIRS LIST      empty files + a --files-from list
  gen-big OLD NEW SIZE EDITS SEED     big file and an edited copy
  measure OUT LOG -- CMD...           run CMD, append "wall rss_sum rss_max nprocs" to OUT
  snapshot-inodes DIR OUT             record inode numbers of a tree
  verify-tree SRC DST [INODES] [--skip-root]  DST must equal SRC (content + metadata)
  verify-file SRC DST                 one file: content + metadata
  report RESULTS                      Markdown table of medians

Measurement method (see also the header of run.sh): the command is started
in its own process group; a sampler thread scans /proc every --sample-ms
(default 50 ms) for processes in that group and records each one's VmHWM
(the kernel's own peak-RSS counter for that process, so peaks between
samples are not lost). wait4()'s ru_maxrss is deliberately NOT used: the
kernel carries a process's max RSS across exec(), so a child forked from this
Python helper would report the helper's own ~15 MiB. The cost of sampling is
that a process living shorter than one interval, or growing in its last
interval, can be missed; the processes that matter (rsync's sender,
generator, receiver, gensync itself) live for the whole transfer. Subprocess
returns only after exec() succeeded, so the helper's pre-exec copy of itself
is never sampled. Two numbers are reported:

  rss_max  peak RSS of the largest single process in the tree
           (what GNU time %M / RUSAGE_CHILDREN would show)
  rss_sum  sum over all processes of their individual peaks: an upper bound
           on the tree's simultaneous footprint (peaks need not coincide and
           shared pages - the binary, libc - are counted once per process)

For a single-process, multi-threaded program both are the same number. For
rsync (2-3 processes locally, more with a remote shell) rss_sum is the fair
"how much memory does this transfer need" figure, rss_max the conservative
one. The helper process itself is not part of the group and not counted.
"""

import filecmp
import os
import random
import signal
import stat
import statistics
import subprocess
import sys
import threading
import time


def die(msg):
    print(f"bench: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


# --------------------------------------------------------------------- data

def gen_tree(root, nfiles, ndirs, seed):
    """nfiles files of 0..8 KiB spread over ndirs directories (two levels:
    ~sqrt(ndirs) top-level dirs each holding a share of the leaves), plus
    one symlink per leaf dir. Deterministic for a given seed."""
    rng = random.Random(seed)
    nfiles, ndirs = int(nfiles), int(ndirs)
    top = max(1, int(ndirs ** 0.5))
    leaves = []
    for d in range(ndirs):
        leaves.append(os.path.join(root, f"d{d % top:03d}", f"s{d:04d}"))
    for leaf in leaves:
        os.makedirs(leaf, exist_ok=True)
    for i in range(nfiles):
        leaf = leaves[i % ndirs]
        size = rng.randint(0, 8192)
        with open(os.path.join(leaf, f"f{i:06d}.dat"), "wb") as f:
            f.write(rng.randbytes(size))
    for leaf in leaves:
        os.symlink("../" + os.path.basename(leaf), os.path.join(leaf, "link"))
    age_tree(root, rng)


def age_tree(root, rng):
    """Give every entry (symlinks and directories included, directories after
    their contents) an mtime a day in the past with a random sub-second part.
    Freshly generated mtimes would make the check fragile: rsync leaves a
    directory's mtime alone when it falls in the same second as the one it
    just created (it compares whole seconds there), so a tree copied right
    after generation would not be exact. Random nanoseconds also make the
    verification prove that nanoseconds are carried over."""
    base = (int(time.time()) - 86400) * 1_000_000_000
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            t = base + rng.randrange(1_000_000_000)
            os.utime(os.path.join(dirpath, name), ns=(t, t), follow_symlinks=False)
    t = base + rng.randrange(1_000_000_000)
    os.utime(root, ns=(t, t))


def gen_flat(root, nfiles, ndirs, listfile):
    """Many empty files (the point is the file list, not the data) and a
    --files-from list naming every one of them."""
    nfiles, ndirs = int(nfiles), int(ndirs)
    with open(listfile, "w") as lst:
        for d in range(ndirs):
            os.makedirs(os.path.join(root, f"d{d:04d}"), exist_ok=True)
        for i in range(nfiles):
            rel = f"d{i % ndirs:04d}/e{i:07d}"
            open(os.path.join(root, rel), "wb").close()
            lst.write(rel + "\n")
    age_tree(root, random.Random(3))


def gen_big(old, new, size, edits, seed):
    """OLD: SIZE bytes of seeded pseudo-random data. NEW: OLD with EDITS
    small (1..8 byte) overwrites at random, spread-out offsets. OLD gets an
    mtime one day in the past so the quick check sees a change even though
    the sizes are equal."""
    rng = random.Random(seed)
    size, edits = int(size), int(edits)
    chunk = 8 << 20
    with open(old, "wb") as f:
        left = size
        while left:
            n = min(chunk, left)
            f.write(rng.randbytes(n))
            left -= n
    subprocess.run(["cp", "--reflink=auto", old, new], check=True)
    # One edit per equal-sized stripe, at a random place inside it: spread
    # over the whole file, never overlapping.
    stripe = size // edits
    with open(new, "r+b") as f:
        for k in range(edits):
            n = rng.randint(1, 8)
            off = k * stripe + rng.randrange(0, max(1, stripe - n))
            f.seek(off)
            cur = f.read(n)
            # Make sure every edited byte really changes.
            f.seek(off)
            f.write(bytes((b ^ 0xFF) for b in cur))
    # NEW (and its directory) an hour ago, OLD a day ago; see age_tree()
    # for why nothing is left with a fresh mtime.
    now = time.time()
    os.utime(old, (now - 86400, now - 86400))
    os.utime(new, (now - 3600, now - 3600))
    os.utime(os.path.dirname(os.path.abspath(new)), (now - 3600, now - 3600))


# -------------------------------------------------------------- measurement

def read_stat(pid):
    """(pgid, starttime) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            st = f.read()
        # comm may contain spaces/parens: fields start after the last ')'.
        fields = st[st.rindex(b")") + 2 :].split()
        return int(fields[2]), int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def read_hwm(pid):
    """VmHWM of a process in KiB (0 if gone or a kernel thread)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def measure(out, log, cmd, sample_ms):
    peaks = {}  # (pid, starttime) -> max VmHWM seen, KiB
    done = threading.Event()
    holder = {}

    # Processes that exist before the command starts can never join its
    # process group (only its descendants can), so each scan only has to look
    # at pids it has not classified yet; that keeps a scan far below 1 ms.
    others = set(os.listdir("/proc"))

    def sampler():
        pgid = holder["pid"]
        t_start = time.perf_counter()
        while not done.is_set():
            for name in os.listdir("/proc"):
                if name in others or not name.isdigit():
                    continue
                s = read_stat(int(name))
                if s is None:
                    continue
                if s[0] != pgid:
                    others.add(name)
                    continue
                hwm = read_hwm(int(name))
                key = (int(name), s[1])
                if hwm > peaks.get(key, 0):
                    peaks[key] = hwm
            # Sample densely during the first second, when short runs fork
            # their helpers, then back off to keep the sampler's own CPU use
            # (one /proc scan, well under a millisecond) negligible.
            if time.perf_counter() - t_start < 1.0:
                done.wait(min(sample_ms, 10) / 1000.0)
            else:
                done.wait(sample_ms / 1000.0)

    with open(log, "ab") as logf:
        t0 = time.perf_counter()
        # Own process group, so the whole tree (forked children, a remote
        # shell and its server) can be found by pgid.
        p = subprocess.Popen(cmd, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        holder["pid"] = p.pid
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        # Reap with waitpid ourselves (not p.wait()) so the sampler's last
        # scan can still see the group's other members.
        _, status = os.waitpid(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        th.join()
    # Stragglers (e.g. a remote-shell server still exiting) would distort the
    # next run; their existence is itself a bug worth reporting.
    leftovers = [pid for pid in (int(n) for n in os.listdir("/proc") if n.isdigit())
                 if (s := read_stat(pid)) is not None and s[0] == p.pid]
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    rss_max = max(peaks.values(), default=0)
    rss_sum = sum(peaks.values())
    with open(out, "a") as f:
        f.write(f"{wall:.6f}\t{rss_sum}\t{rss_max}\t{len(peaks)}\n")
    if p.returncode != 0:
        die(f"exit status {p.returncode}: {' '.join(cmd)} (log: {log})")
    if leftovers:
        print(f"bench: warning: {len(leftovers)} process(es) still running after "
              f"the command exited; killed", file=sys.stderr)


# ------------------------------------------------------------- verification

def walk(root):
    """relative path -> lstat result, for every entry below root (root
    itself as '.')."""
    out = {".": os.lstat(root)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = os.lstat(full)
    return out


def compare_entry(rel, src, dst, a, b):
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return "type differs"
    if stat.S_ISLNK(a.st_mode):
        if os.readlink(src) != os.readlink(dst):
            return "symlink target differs"
    elif stat.S_IMODE(a.st_mode) != stat.S_IMODE(b.st_mode):
        return f"mode {oct(a.st_mode)} vs {oct(b.st_mode)}"
    if (a.st_uid, a.st_gid) != (b.st_uid, b.st_gid):
        return "owner/group differs"
    if a.st_mtime_ns != b.st_mtime_ns:
        return f"mtime {a.st_mtime_ns} vs {b.st_mtime_ns}"
    if stat.S_ISREG(a.st_mode):
        if a.st_size != b.st_size:
            return f"size {a.st_size} vs {b.st_size}"
        if not filecmp.cmp(src, dst, shallow=False):
            return "content differs"
    return None


def verify_tree(src, dst, inode_file=None, skip_root=False):
    sa, sb = walk(src), walk(dst)
    if skip_root:
        del sa["."], sb["."]
    missing = sorted(set(sa) - set(sb))
    extra = sorted(set(sb) - set(sa))
    if missing:
        die(f"{dst}: {len(missing)} entries missing, e.g. {missing[:3]}")
    if extra:
        die(f"{dst}: {len(extra)} unexpected entries, e.g. {extra[:3]}")
    bad = []
    for rel in sorted(sa):
        why = compare_entry(rel, os.path.join(src, rel), os.path.join(dst, rel), sa[rel], sb[rel])
        if why:
            bad.append(f"{rel}: {why}")
    if bad:
        die(f"{dst}: {len(bad)} entries differ from {src}, e.g. " + "; ".join(bad[:3]))
    if inode_file:
        # No-change resync: nothing should have been rewritten. Not a
        # correctness failure (the content is right), but it is wasted work
        # that a benchmark reader should know about.
        before = {}
        with open(inode_file) as f:
            for line in f:
                rel, ino = line.rstrip("\n").rsplit("\t", 1)
                before[rel] = int(ino)
        changed = [r for r, ino in before.items() if sb[r].st_ino != ino]
        if changed:
            print(f"bench: warning: no-change run replaced {len(changed)} entries "
                  f"(e.g. {changed[:3]})", file=sys.stderr)


def snapshot_inodes(root, out):
    with open(out, "w") as f:
        for rel, st in walk(root).items():
            f.write(f"{rel}\t{st.st_ino}\n")


def verify_file(src, dst):
    a, b = os.lstat(src), os.lstat(dst)
    why = compare_entry(os.path.basename(src), src, dst, a, b)
    if why:
        die(f"{dst}: {why} (vs {src})")


# ------------------------------------------------------------------- report

def fmt_mib(kib):
    return f"{kib / 1024:.1f}"


def report(results, meta_file):
    rows = {}
    order = []
    with open(results) as f:
        for line in f:
            scen, who, wall, rss_sum, rss_max, nprocs = line.split("\t")
            if scen not in order:
                order.append(scen)
            rows.setdefault((scen, who), []).append(
                (float(wall), int(rss_sum), int(rss_max), int(nprocs)))
    meta = {}
    if meta_file:
        with open(meta_file) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                meta[k] = v
    labels = {"initial": "initial copy", "nochange": "no-change resync",
              "bigfile": "big file, scattered edits", "push": "push over lsh",
              "pull": "pull over lsh", "push-delta": "big file push over lsh",
              "pull-delta": "big file pull over lsh", "filesfrom": "--files-from"}
    print("| scenario | gensync time s, median (min–max) | rsync time s, median (min–max) | ratio | "
          "gensync peak RSS MiB (Σ / max) | rsync peak RSS MiB (Σ / max) |")
    print("|---|---:|---:|---:|---:|---:|")
    for scen in order:
        g = rows.get((scen, "gensync"), [])
        r = rows.get((scen, "rsync"), [])
        if not g or not r:
            continue
        gt = statistics.median(x[0] for x in g)
        rt = statistics.median(x[0] for x in r)
        gs = statistics.median(x[1] for x in g)
        gm = statistics.median(x[2] for x in g)
        rs = statistics.median(x[1] for x in r)
        rm = statistics.median(x[2] for x in r)
        desc = labels.get(scen, scen)
        if meta.get(f"desc.{scen}"):
            desc += f" ({meta[f'desc.{scen}']})"
        gr = f"{min(x[0] for x in g):.3f}–{max(x[0] for x in g):.3f}"
        rr = f"{min(x[0] for x in r):.3f}–{max(x[0] for x in r):.3f}"
        print(f"| {desc} | {gt:.3f} ({gr}) | {rt:.3f} ({rr}) | {gt / rt:.2f} | "
              f"{fmt_mib(gs)} / {fmt_mib(gm)} | {fmt_mib(rs)} / {fmt_mib(rm)} |")
    n = max(len(v) for v in rows.values()) if rows else 0
    print()
    print(f"Medians of {n} runs per binary, alternated A/B, after one unmeasured "
          f"warm-up run each (page cache warm; caches are not dropped). "
          f"ratio = gensync time / rsync time (< 1 means gensync is faster). "
          f"RSS: Σ = sum of per-process peaks, max = largest process.")
    if meta:
        print(f"gensync: `{meta.get('gensync', '?')}`, rsync: `{meta.get('rsync', '?')}` "
              f"({meta.get('rsync_version', '?')}); {meta.get('machine', '')}")


def main():
    a = sys.argv[1:]
    if not a:
        die("no sub-command")
    cmd = a[0]
    if cmd == "gen-tree":
        gen_tree(a[1], a[2], a[3], int(a[4]))
    elif cmd == "gen-flat":
        gen_flat(a[1], a[2], a[3], a[4])
    elif cmd == "gen-big":
        gen_big(a[1], a[2], a[3], a[4], int(a[5]))
    elif cmd == "measure":
        sample_ms = float(os.environ.get("BENCH_SAMPLE_MS", "50"))
        if "--" not in a:
            die("measure: missing --")
        i = a.index("--")
        measure(a[1], a[2], a[i + 1 :], sample_ms)
    elif cmd == "snapshot-inodes":
        snapshot_inodes(a[1], a[2])
    elif cmd == "verify-tree":
        skip_root = "--skip-root" in a
        rest = [x for x in a[1:] if x != "--skip-root"]
        verify_tree(rest[0], rest[1], rest[2] if len(rest) > 2 else None, skip_root)
    elif cmd == "verify-file":
        verify_file(a[1], a[2])
    elif cmd == "report":
        report(a[1], a[2] if len(a) > 2 else None)
    else:
        die(f"unknown sub-command {cmd}")


if __name__ == "__main__":
    main()
