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

# Files and the symlink first, directories last (creating entries in a
# directory changes its mtime).
find "$dir/src" -mindepth 1 ! -type d -exec touch -h -d "$T" {} +
touch -d "$T" "$dir/src/sub" "$dir/src"
