#!/usr/bin/env bash
# record-captures.sh: re-record the protocol captures in compat/captures/.
#
# Real rsync talks to itself through compat/tools/tap-rsh (a loopback remote
# shell that logs both directions of the byte stream). For each capture we
# build a small fixed tree with the capture's own setup.sh, run one transfer,
# and keep:
#
#   c2s.bin, s2c.bin     client->server and server->client bytes
#   cmd.txt              the exact client command (run inside the setup dir,
#                        with compat/tools on PATH)
#   server-cmd.txt       the command line the client asked the remote shell to run
#   rsync-version.txt    first line of "rsync --version"
#   setup.sh             recreates the tree: "setup.sh DIR" makes DIR/src
#                        (and DIR/dst for delta cases)
#
# Usage: compat/tools/record-captures.sh [OUTDIR]   (default: compat/captures)
# Env:   RSYNC=/path/to/rsync  (default: rsync on PATH)
#
# Every capture is recorded twice and the two recordings are compared; a
# capture whose bytes differ between runs is reported, because a capture
# that is not reproducible is useless as a test fixture.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-"$here/../captures"}
RSYNC=${RSYNC:-rsync}
RSYNC=$(command -v "$RSYNC")

mkdir -p "$out"
out=$(cd "$out" && pwd)
scratch=$(mktemp -d /tmp/record-captures.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# The tools are found by name through PATH so that cmd.txt holds no local
# absolute paths.
export PATH="$here:$PATH"

# Emit the setup.sh for a capture. $1 = "plain" or "delta".
write_setup() {
    local kind=$1
    cat <<'EOF'
#!/usr/bin/env bash
# Recreate the source tree for this capture: "setup.sh DIR" creates DIR/src
# (and, for delta captures, DIR/dst holding the older version of big.bin).
# Contents, modes and mtimes are fixed so the capture can be reproduced
# byte for byte. Owner/group are whoever runs this (the captures were
# recorded as uid 0 / gid 0 with --numeric-ids; the ids are on the wire).
set -euo pipefail
dir=${1:?usage: setup.sh DIR}
umask 022
export TZ=UTC
T='2021-03-04 05:06:07'      # mtime of every entry in src
T_OLD='2020-01-01 00:00:00'  # mtime of the basis file in dst (delta cases)

rm -rf "$dir/src" "$dir/dst"
mkdir -p "$dir/src/sub"

printf 'hello, world\n' >"$dir/src/hello.txt"
: >"$dir/src/empty"
printf 'line one\nline two\nline three\n' >"$dir/src/sub/nested.txt"
printf '#!/bin/sh\necho hi\n' >"$dir/src/sub/run.sh"
# 3600 bytes: 100 numbered lines.
for i in $(seq 1 100); do printf 'gensync capture data %03d 0123456789\n' "$i"; done >"$dir/src/data.bin"
ln -s hello.txt "$dir/src/link"

chmod 644 "$dir/src/hello.txt" "$dir/src/empty" "$dir/src/sub/nested.txt"
chmod 600 "$dir/src/data.bin"
chmod 755 "$dir/src/sub/run.sh" "$dir/src/sub" "$dir/src"
EOF
    if [ "$kind" = delta ]; then
        cat <<'EOF'

# big.bin: 32 KiB, numbered lines. The destination holds an older version
# that differs in three small places (start, middle, end), so the transfer
# uses matched blocks plus a few literal bytes.
mkdir -p "$dir/dst"
for i in $(seq 1 4096); do printf '%07d\n' "$i"; done >"$dir/dst/big.bin"
sed -e '1s/.*/EDITED1/' -e '2048s/.*/EDITED2/' -e '4096s/.*/EDITED3/' \
    "$dir/dst/big.bin" >"$dir/src/big.bin"
chmod 644 "$dir/src/big.bin" "$dir/dst/big.bin"
chmod 755 "$dir/dst"
touch -d "$T_OLD" "$dir/dst/big.bin" "$dir/dst"
EOF
    fi
    cat <<'EOF'

# Files and the symlink first, directories last (creating entries in a
# directory changes its mtime).
find "$dir/src" -mindepth 1 ! -type d -exec touch -h -d "$T" {} +
touch -d "$T" "$dir/src/sub" "$dir/src"
EOF
}

# record NAME KIND PROTOCOL DIRECTION [EXTRA_OPTS...]
record() {
    local name=$1 kind=$2 proto=$3 direction=$4
    shift 4
    local extra=("$@")
    local opts=(--protocol="$proto" -a --checksum-seed=1 --numeric-ids "${extra[@]}")
    local cmd
    if [ "$direction" = push ]; then
        cmd="rsync ${opts[*]} -e tap-rsh src/ localhost:dst/"
    else
        cmd="rsync ${opts[*]} -e tap-rsh localhost:src/ dst/"
    fi

    local dest="$out/$name"
    rm -rf "$dest"
    mkdir -p "$dest"
    write_setup "$kind" >"$dest/setup.sh"
    chmod +x "$dest/setup.sh"
    printf '%s\n' "$cmd" >"$dest/cmd.txt"
    "$RSYNC" --version | sed -n 1p >"$dest/rsync-version.txt"  # sed reads all input: no SIGPIPE under pipefail

    local try
    for try in 1 2; do
        local work="$scratch/$name.$try"
        mkdir -p "$work"
        "$dest/setup.sh" "$work"
        # "rsync" in cmd.txt means $RSYNC; both ends use the same binary.
        (
            cd "$work"
            if [ "$direction" = push ]; then
                TAP_DIR="$work/tap" "$RSYNC" "${opts[@]}" --rsync-path="$RSYNC" \
                    -e tap-rsh src/ localhost:dst/
            else
                TAP_DIR="$work/tap" "$RSYNC" "${opts[@]}" --rsync-path="$RSYNC" \
                    -e tap-rsh localhost:src/ dst/
            fi
        )
        # The transfer must actually have worked, or the capture is garbage.
        if ! diff -r "$work/src" "$work/dst" >/dev/null; then
            echo "record-captures: $name: destination differs from source" >&2
            exit 1
        fi
    done

    local a="$scratch/$name.1/tap" b="$scratch/$name.2/tap"
    # rsync itself is not fully deterministic at the very end of a transfer:
    # the order in which the end-of-phase markers and the receiver's messages
    # get interleaved depends on process scheduling. Report where two runs
    # first differ so one can tell that apart from a real problem.
    local f first
    for f in c2s s2c; do
        if ! cmp -s "$a/$f.bin" "$b/$f.bin"; then
            first=$(cmp "$a/$f.bin" "$b/$f.bin" 2>&1 | grep -o 'byte [0-9]*' | head -n 1 || true)
            echo "record-captures: note: $name/$f.bin differs between two runs from ${first:-end} of $(stat -c %s "$a/$f.bin")" >&2
        fi
    done
    cp "$a/c2s.bin" "$a/s2c.bin" "$dest/"
    # --rsync-path is an artefact of recording with a specific binary; show
    # the server command as a plain "rsync" would have sent it.
    sed -e "s|^$RSYNC |rsync |" "$a/argv.txt" >"$dest/server-cmd.txt"
    printf '%-16s c2s %6d  s2c %6d bytes\n' "$name" \
        "$(stat -c %s "$dest/c2s.bin")" "$(stat -c %s "$dest/s2c.bin")"
}

for p in 32 30 29 27; do
    record "p$p-push" plain "$p" push
    record "p$p-pull" plain "$p" pull
done
record p32-delta-push delta 32 push --no-whole-file
record p32-delta-pull delta 32 pull --no-whole-file

echo "captures written to $out"
