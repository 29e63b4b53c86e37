#!/usr/bin/env bash
# Benchmark gensync against rsync: same machine, same data, same run.
#
# Usage:
#   testsuite/bench/run.sh [--quick] [--runs N] [--scenarios LIST]
#                          [--gensync PATH] [--rsync PATH] [--workdir DIR] [--keep]
#
# Scenarios (--scenarios takes a comma-separated list; default
# "initial,nochange,bigfile"):
#   initial     -a src/ dst/ of a tree of small files into an empty dst
#               (full: 50,000 files of 0-8 KiB in 500 dirs + 1 symlink per dir;
#               --quick: 5,000 files in 50 dirs)
#   nochange    -a src/ dst/ of the same tree when dst is already identical
#   bigfile     -a --no-whole-file of a big file with 200 scattered edits of
#               1-8 bytes onto the old version (full: 1 GiB, --quick: 64 MiB);
#               the old version is restored before every run, untimed
# Optional, not run by default:
#   push, pull  the "initial" copy over a loopback remote shell
#               (compat/tools/lsh; both ends are the binary under test,
#               via --rsync-path)
#   push-delta, pull-delta   the "bigfile" case over the loopback remote shell
#   filesfrom   -a --files-from=LIST of 1,000,000 empty files in 1,000 dirs
#               into an empty dst (--quick: 100,000). Generating the tree
#               takes a few minutes and ~1M inodes; --files-from-count N.
#
# Other options:
#   --runs N           measured runs per binary and scenario (default 5;
#                      3 with --quick)
#   --files N          files in the small-file tree (overrides the mode default)
#   --big-mib N        size of the big file in MiB (overrides the mode default)
#   --files-from-count N  entries for the filesfrom scenario
#   --workdir DIR      where to put the data (default: a fresh dir under /tmp);
#                      a fresh subdirectory is created there and removed at exit
#   --keep             keep the work directory (logs, data, raw results);
#                      it is always kept when the benchmark fails
#   --sample-ms N      /proc sampling interval for the RSS measurement (default 50)
#
# Method:
#   * Both binaries run on the same data, alternated A B A B ..., so slow
#     drift of the machine (thermal, other load) affects both equally.
#   * Page caches cannot be dropped reliably (no root guarantee, and it would
#     measure the disk rather than the program), so instead each binary gets
#     one unmeasured warm-up run per scenario: all numbers are warm-cache.
#   * Wall time is measured around the whole command (fork to exit).
#   * Peak RSS: the command runs in its own process group; a sampler reads
#     VmHWM (the kernel's per-process peak RSS) of every process in the group
#     from /proc, and wait4()'s ru_maxrss is merged in. rsync splits work over
#     processes (sender, generator, receiver, plus the remote shell for
#     push/pull) while gensync uses threads, so two figures are shown:
#     "Σ" = sum of per-process peaks (upper bound of the whole transfer's
#     footprint; comparable with a threaded program) and "max" = the largest
#     single process (what GNU time's %M reports). See bench_helper.py.
#   * Every run (warm-up included) is verified afterwards: the destination
#     must equal the source in content, type, mode, owner, mtime (ns) and
#     symlink targets; the big file is compared byte for byte. A mismatch
#     or a non-zero exit status aborts the benchmark: a fast wrong answer
#     must never be reported. The no-change run additionally warns if it
#     replaced files (correct, but wasted work).
#   * Preparation (removing dst, restoring the old big file) and verification
#     are outside the measured time.
#
# Output: a Markdown table on stdout (medians, ratio = gensync/rsync time);
# progress on stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
helper="$here/bench_helper.py"

gensync="$repo/target/release/gensync"
rsync_bin=rsync
runs=""
scenarios="initial,nochange,bigfile"
workdir_base=/tmp
keep=0
quick=0
nfiles=""
big_mib=""
ff_count=""
lsh="$repo/compat/tools/lsh"
export BENCH_SAMPLE_MS=50

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        --gensync) gensync=$2; shift 2 ;;
        --rsync) rsync_bin=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --scenarios) scenarios=$2; shift 2 ;;
        --workdir) workdir_base=$2; shift 2 ;;
        --quick) quick=1; shift ;;
        --keep) keep=1; shift ;;
        --files) nfiles=$2; shift 2 ;;
        --big-mib) big_mib=$2; shift 2 ;;
        --files-from-count) ff_count=$2; shift 2 ;;
        --sample-ms) BENCH_SAMPLE_MS=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$quick" = 1 ]; then
    # Fewer runs too: a smoke run should finish in about a minute.
    : "${runs:=3}" "${nfiles:=5000}" "${big_mib:=64}" "${ff_count:=100000}"
    ndirs=$(( nfiles / 100 ))
else
    : "${runs:=5}" "${nfiles:=50000}" "${big_mib:=1024}" "${ff_count:=1000000}"
    ndirs=$(( nfiles / 100 ))
fi
[ "$ndirs" -ge 1 ] || ndirs=1
edits=200

# Resolve binaries to absolute paths: the commands run from other
# directories and, for push/pull, are passed on as --rsync-path.
resolve() {
    local p
    p=$(command -v "$1" 2>/dev/null) || { echo "run.sh: binary not found: $1" >&2; exit 2; }
    (cd "$(dirname "$p")" && echo "$(pwd)/$(basename "$p")")
}
if [ ! -x "$gensync" ] && ! command -v "$gensync" >/dev/null 2>&1; then
    echo "run.sh: $gensync not found (build it with: cargo build --release)" >&2
    exit 2
fi
gensync=$(resolve "$gensync")
rsync_bin=$(resolve "$rsync_bin")

IFS=',' read -r -a scen_list <<<"$scenarios"
for s in "${scen_list[@]}"; do
    case "$s" in
        initial|nochange|bigfile|push|pull|push-delta|pull-delta|filesfrom) ;;
        *) echo "run.sh: unknown scenario '$s'" >&2; exit 2 ;;
    esac
done

mkdir -p "$workdir_base"
W=$(mktemp -d "$workdir_base/gensync-bench.XXXXXX")
cleanup() {
    local rc=$?
    # On failure keep everything: the logs are what explains it.
    if [ "$keep" = 1 ] || [ "$rc" != 0 ]; then
        echo "run.sh: kept $W" >&2
    else
        rm -rf "$W"
    fi
}
trap cleanup EXIT
data="$W/data"
mkdir -p "$data" "$W/logs"
results="$W/results.tsv"
warmups="$W/warmup.tsv"
meta="$W/meta.txt"
: >"$results"

# Same environment for both: the C locale avoids locale-dependent paths in
# either program.
export LC_ALL=C

log() { echo "[bench] $*" >&2; }

has() { [[ ",$scenarios," == *",$1,"* ]]; }

started=$(date +%s)

# ------------------------------------------------------------------ data
if has initial || has nochange || has push || has pull; then
    log "generating $nfiles files in $ndirs dirs"
    python3 "$helper" gen-tree "$data/tree" "$nfiles" "$ndirs" 1
fi
if has bigfile || has push-delta || has pull-delta; then
    log "generating a ${big_mib} MiB file and an edited copy ($edits edits)"
    mkdir -p "$data/bigsrc"
    python3 "$helper" gen-big "$data/big.old" "$data/bigsrc/big" \
        $(( big_mib * 1024 * 1024 )) "$edits" 2
fi
if has filesfrom; then
    log "generating $ff_count empty files for --files-from"
    python3 "$helper" gen-flat "$data/flat" "$ff_count" 1000 "$data/flat.list"
fi

{
    echo "gensync=$gensync"
    echo "rsync=$rsync_bin"
    echo "rsync_version=$("$rsync_bin" --version | sed -n 1p)"
    echo "machine=$(nproc) CPUs, $(uname -sr), $(df -T "$W" | awk 'NR==2 {print $2}') in $workdir_base"
    echo "desc.initial=$nfiles files"
    echo "desc.nochange=$nfiles files"
    echo "desc.push=$nfiles files"
    echo "desc.pull=$nfiles files"
    echo "desc.bigfile=$big_mib MiB, $edits edits"
    echo "desc.push-delta=$big_mib MiB, $edits edits"
    echo "desc.pull-delta=$big_mib MiB, $edits edits"
    echo "desc.filesfrom=$ff_count entries"
} >"$meta"

# ------------------------------------------------------------- scenarios
# set_cmd SCENARIO BINARY: the command to measure, in the CMD array.
set_cmd() {
    local bin=$2
    local remote=(-e "$lsh" --rsync-path="$bin")
    case "$1" in
        initial)    CMD=("$bin" -a "$data/tree/" "$W/dst/") ;;
        nochange)   CMD=("$bin" -a "$data/tree/" "$W/dst-same/") ;;
        bigfile)    CMD=("$bin" -a --no-whole-file "$data/bigsrc/" "$W/dst-big/") ;;
        push)       CMD=("$bin" -a "${remote[@]}" "$data/tree/" "localhost:$W/dst/") ;;
        pull)       CMD=("$bin" -a "${remote[@]}" "localhost:$data/tree/" "$W/dst/") ;;
        push-delta) CMD=("$bin" -a --no-whole-file "${remote[@]}" "$data/bigsrc/" "localhost:$W/dst-big/") ;;
        pull-delta) CMD=("$bin" -a --no-whole-file "${remote[@]}" "localhost:$data/bigsrc/" "$W/dst-big/") ;;
        filesfrom)  CMD=("$bin" -a --files-from="$data/flat.list" "$data/flat/" "$W/dst/") ;;
    esac
}

# Once per scenario, before any run.
prepare_scenario() {
    case "$1" in
        nochange)
            # Build the identical destination with the reference rsync; every
            # run of either binary must leave it exactly as it is.
            rm -rf "$W/dst-same"
            "$rsync_bin" -a "$data/tree/" "$W/dst-same/"
            python3 "$helper" verify-tree "$data/tree" "$W/dst-same"
            python3 "$helper" snapshot-inodes "$W/dst-same" "$W/dst-same.inodes"
            ;;
    esac
}

# Before every run, untimed.
prepare_run() {
    case "$1" in
        initial|push|pull|filesfrom)
            rm -rf "$W/dst"
            ;;
        bigfile|push-delta|pull-delta)
            # Restore the old version (cp -p keeps its older mtime, so the
            # quick check sees a change). reflink makes this free where the
            # filesystem supports it; otherwise it is a plain copy, untimed.
            rm -rf "$W/dst-big"
            mkdir "$W/dst-big"
            cp -p --reflink=auto "$data/big.old" "$W/dst-big/big"
            ;;
    esac
    # Flush dirty pages from the preparation so their writeback does not
    # land inside the measured run.
    sync
}

verify_run() {
    case "$1" in
        initial|push|pull)
            python3 "$helper" verify-tree "$data/tree" "$W/dst" ;;
        nochange)
            python3 "$helper" verify-tree "$data/tree" "$W/dst-same" "$W/dst-same.inodes" ;;
        bigfile|push-delta|pull-delta)
            python3 "$helper" verify-tree "$data/bigsrc" "$W/dst-big" ;;
        filesfrom)
            # Every listed file must be there with its attributes; the
            # top-level dst directory itself is not part of the transfer.
            python3 "$helper" verify-tree "$data/flat" "$W/dst" --skip-root ;;
    esac
}

# run_one SCENARIO WHO BINARY RESULTFILE LABEL
run_one() {
    local scen=$1 who=$2 bin=$3 out=$4 label=$5
    local logf="$W/logs/$scen.$who.$label.log"
    prepare_run "$scen"
    set_cmd "$scen" "$bin"
    printf '%s\t%s\t' "$scen" "$who" >>"$out"
    if ! python3 "$helper" measure "$out" "$logf" -- "${CMD[@]}"; then
        echo "--- last lines of $logf:" >&2
        tail -n 20 "$logf" >&2 || true
        exit 1
    fi
    if ! verify_run "$scen"; then
        echo "run.sh: FAIL: $who ($bin) produced a wrong result in scenario $scen ($label)" >&2
        echo "run.sh: command: ${CMD[*]}" >&2
        exit 1
    fi
    log "$scen $who $label: $(tail -n 1 "$out" | cut -f3)s"
}

for scen in "${scen_list[@]}"; do
    log "scenario $scen: preparing"
    prepare_scenario "$scen"
    run_one "$scen" gensync "$gensync" "$warmups" warmup
    run_one "$scen" rsync "$rsync_bin" "$warmups" warmup
    for i in $(seq 1 "$runs"); do
        run_one "$scen" gensync "$gensync" "$results" "run$i"
        run_one "$scen" rsync "$rsync_bin" "$results" "run$i"
    done
done

log "done in $(( $(date +%s) - started )) s (including data generation and verification)"
python3 "$helper" report "$results" "$meta"
