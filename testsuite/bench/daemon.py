#!/usr/bin/env python3
"""Daemon load benchmark: gensync --daemon against rsync --daemon.

Both daemons serve the same tree from the same rsyncd.conf on 127.0.0.1.
One measured round starts CLIENTS concurrent pulls (`rsync -a
rsync://127.0.0.1:PORT/mod/ outN/`, the real rsync client in both cases, so
only the daemon differs) and waits for all of them. Rounds alternate
between the two daemons; the medians of wall time and of the peak total
RSS of the daemon's process tree (the listener plus every per-connection
process, sampled from /proc) are reported with their ratios. Every client
must exit 0 and every copy must match the source (names, sizes, content
hashes) or the benchmark aborts.

Usage: testsuite/bench/daemon.py [--clients 50] [--files 2000] [--runs 3]
       [--gensync PATH] [--rsync PATH]
"""

import argparse
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_tree(root, files):
    rnd = 12345
    for i in range(files):
        d = os.path.join(root, "d%03d" % (i % 100))
        os.makedirs(d, exist_ok=True)
        rnd = (rnd * 1103515245 + 12345) & 0x7FFFFFFF
        size = rnd % 16384
        with open(os.path.join(d, "f%05d" % i), "wb") as f:
            f.write(os.urandom(size))


def digest_tree(root):
    out = {}
    for dp, _, fs in os.walk(root):
        for n in fs:
            p = os.path.join(dp, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = hashlib.md5(f.read()).hexdigest()
    return out


def descendants(pid):
    kids = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(e))
        except OSError:
            pass
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(kids.get(p, []))
    return seen


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_daemon(prog, conf, port):
    d = subprocess.Popen(
        [prog, "--daemon", "--no-detach", "--config=" + conf, "--port=%d" % port,
         "--address=127.0.0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(250):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return d
        except OSError:
            time.sleep(0.02)
    d.kill()
    sys.exit("could not start %s --daemon" % prog)


def one_round(rsync, port, work, clients, want):
    outs = [os.path.join(work, "out%d" % i) for i in range(clients)]
    for o in outs:
        shutil.rmtree(o, ignore_errors=True)
    t0 = time.monotonic()
    procs = [subprocess.Popen([rsync, "-a", "rsync://127.0.0.1:%d/mod/" % port, o + "/"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for o in outs]
    errs = [p.communicate()[1] for p in procs]
    wall = time.monotonic() - t0
    for p, e, o in zip(procs, errs, outs):
        if p.returncode != 0:
            sys.exit("client failed (%d): %s" % (p.returncode, e.decode(errors="replace")))
        if digest_tree(o) != want:
            sys.exit("copy %s differs from the source" % o)
    return wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--gensync", default=os.path.join(here, "../../target/release/gensync"))
    ap.add_argument("--rsync", default=shutil.which("rsync") or "rsync")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gensync-daemon-bench-")
    try:
        src = os.path.join(work, "src")
        make_tree(src, a.files)
        want = digest_tree(src)
        conf = os.path.join(work, "rsyncd.conf")
        ids = "uid = 0\ngid = 0\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write("use chroot = no\n[mod]\npath = %s\nread only = yes\n%s" % (src, ids))
        results = {"gensync": ([], []), "rsync": ([], [])}
        for r in range(a.runs + 1):  # the first round of each is a warm-up
            for name, prog in (("gensync", a.gensync), ("rsync", a.rsync)):
                port = free_port()
                d = start_daemon(prog, conf, port)
                peak = [0]
                stop = threading.Event()

                def sample():
                    while not stop.is_set():
                        peak[0] = max(peak[0], sum(rss_kib(p) for p in descendants(d.pid)))
                        time.sleep(0.02)

                t = threading.Thread(target=sample)
                t.start()
                wall = one_round(a.rsync, port, work, a.clients, want)
                stop.set()
                t.join()
                d.kill()
                d.wait()
                if r > 0:
                    results[name][0].append(wall)
                    results[name][1].append(peak[0] / 1024.0)
        g, s = results["gensync"], results["rsync"]
        gw, rw = statistics.median(g[0]), statistics.median(s[0])
        gm, rm = statistics.median(g[1]), statistics.median(s[1])
        print("| daemon, %d concurrent pulls of %d files | gensync s | rsync s | ratio "
              "| gensync daemon RSS MiB | rsync daemon RSS MiB | ratio |" % (a.clients, a.files))
        print("|---|---:|---:|---:|---:|---:|---:|")
        print("| median of %d | %.2f | %.2f | %.2f | %.1f | %.1f | %.2f |"
              % (a.runs, gw, rw, gw / rw, gm, rm, gm / rm))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
