#!/bin/sh
# Record the output lines that the unit tests in src/report/ compare against.
#
# Runs the reference rsync (default: /usr/bin/rsync, override with RSYNC=...)
# on small scenarios built under a temp dir and prints each scenario's output
# under a "== title" header. Nothing here is compared automatically: the
# recorded lines were pasted into the tests, which say which scenario they
# came from. Timing-dependent values (bytes/sec, list times) vary run to run.
set -u
RSYNC=${RSYNC:-/usr/bin/rsync}
T=$(mktemp -d /tmp/report-goldens.XXXXXX)
trap 'rm -rf "$T"' EXIT
export TZ=UTC LC_ALL=C.UTF-8
cd "$T" || exit 1

show() {
    title=$1
    shift
    echo "== $title"
    # Make \r visible so progress lines can be compared.
    "$@" >"$T/.out" 2>&1
    rc=$?
    sed 's/\r/<CR>/g' "$T/.out"
    echo "-- exit $rc"
}

mk_src() {
    rm -rf src dst
    mkdir -p src/sub
    printf 'hello\n' >src/a.txt
    head -c 4100 /dev/zero >src/sub/big
    head -c 1234567 /dev/zero >src/sub/huge
    ln -s a.txt src/link
    ln src/a.txt src/hard
    mkfifo src/fifo
    chmod 4755 src/sub/big
    chmod 1777 src/sub
    chmod 2640 src/a.txt
    touch -h -d @1700000000 src/a.txt src/sub/big src/sub/huge src/link src/fifo src/sub src
}

mk_src
show "list-only default" "$RSYNC" -r --list-only src/
show "list-only --no-h" "$RSYNC" -r --no-h --list-only src/
show "list-only -h" "$RSYNC" -rh --list-only src/
show "list-only -hh" "$RSYNC" -rhh --list-only src/
show "list-only -l" "$RSYNC" -rl --list-only src/
TZ=Asia/Kolkata show "list-only TZ=Asia/Kolkata" "$RSYNC" -r --list-only src/a.txt

show "new -i" "$RSYNC" -aHi --specials src/ dst/
show "unchanged -ii" "$RSYNC" -aHii --specials src/ dst/
touch -d @1700000100 src/a.txt
chmod 0644 src/sub/big
show "changed -i" "$RSYNC" -aHi --specials src/ dst/
touch -d @1700000200 src/a.txt
show "no -t: -rli" "$RSYNC" -rlHi --specials src/ dst/
show "changed size -i" sh -c "printf 'hello world\n' >src/a.txt; $RSYNC -aHi src/ dst/"
show "delete -i" sh -c "touch dst/extra; mkdir dst/xdir; $RSYNC -aHi --specials --delete src/ dst/"
show "delete no -i" sh -c "touch dst/extra; $RSYNC -a --specials --delete -v src/ dst/"
show "dry-run stats" "$RSYNC" -a --specials --stats -n src/ dst2/
show "stats new" "$RSYNC" -aH --specials --stats src/ dst3/
show "stats new -h" "$RSYNC" -aH --specials --stats -h src/ dst4/
show "stats new -hh" "$RSYNC" -aH --specials --stats -hh src/ dst5/
show "stats new --no-h" "$RSYNC" -aH --specials --stats --no-h src/ dst6/
show "stats delete" sh -c "touch dst3/extra; ln -s x dst3/xl; mkdir dst3/xd; $RSYNC -aH --specials --stats --delete src/ dst3/"
show "summary -v" "$RSYNC" -av src/ dst7/
show "progress" "$RSYNC" -a --progress src/sub/huge src/a.txt dst8/
show "out-format all" "$RSYNC" -aH --specials \
    "--out-format=[%o|%i|%n|%f|%l|%'l|%''l|%'''l|%b|%c|%B|%L|%M|%U|%G|%h|%a|%m|%P|%u|%z|%%|%-12n|%12n|%5i|%-8o]" \
    src/ dst9/
show "out-format %C" "$RSYNC" -a --out-format='%C %n' src/sub/ dst10/
show "out-format %C -c" "$RSYNC" -ac --out-format='%C %n' src/sub/ dst11/
show "out-format del" sh -c "touch dst9/extra; $RSYNC -a --delete --out-format='%o %n%L %i' src/ dst9/"
show "out-format hlink" "$RSYNC" -aH --out-format='%i %n%L|%5L|' src/ dst12/
show "out-format -n %b" "$RSYNC" -a --out-format='%b %c' -n src/sub/ dst13/

rm -rf src dst && mkdir src
printf x >"$(printf 'src/ctl\001\tname\\#123')"
printf x >"$(printf 'src/lat\351')"
printf x >"$(printf 'src/utf\303\251\177')"
show "escapes -i" "$RSYNC" -ri src/ dst/
show "escapes --list-only" "$RSYNC" -r --list-only src/
LC_ALL=C show "escapes LC_ALL=C" "$RSYNC" -r --list-only src/
show "escapes -8" "$RSYNC" -r -8 --list-only src/

show "vanished/error" "$RSYNC" -a nonexistent-src/ dst/

# Number thresholds and the *missing line.
rm -rf h && mkdir h
head -c 1023 /dev/zero >h/a
head -c 999999 /dev/zero >h/b
show "1023 bytes -hh" "$RSYNC" --list-only -hh h/a
show "999999 bytes -h" "$RSYNC" --list-only -h h/b
show "999999 bytes -hh" "$RSYNC" --list-only -hh h/b
show "missing arg" "$RSYNC" -r --list-only --delete-missing-args nothere
show "missing arg --no-h" "$RSYNC" -r --list-only --no-h --delete-missing-args nothere

# Speedup with -h (never scaled to units).
rm -rf big bd && mkdir big && head -c 3000000 /dev/zero >big/x
"$RSYNC" -a big/ bd/
show "summary -h, nothing to do" "$RSYNC" -avh big/ bd/

# Width/zero/quote modifiers and unknown escapes (%p varies).
rm -rf s d && mkdir s && printf 'hi\n' >s/f
show "out-format modifiers" "$RSYNC" -a \
    "--out-format=[%05n][%05U][%-05p][%0l][%'05l][%'-05i][%-][%5%][%'''][%-'5n]" s/ d/

# More escaping rules: surrogates, truncated UTF-8, newline, "\#" + 2 digits.
rm -rf e && mkdir e
touch "$(printf 'e/s\355\240\200')" "$(printf 'e/t\342\202x')" "$(printf 'e/n\nl')" \
    "$(printf 'e/bs\\#12')"
show "escape edges" "$RSYNC" -r --list-only e/

# Itemize: devices, ownership, atimes, pre-29 peers.
rm -rf s d d28 && mkdir s && printf 'hi\n' >s/f && ln -s f s/l && mkfifo s/p
mknod s/dev c 1 3 2>/dev/null
touch -h -d @1700000000 s/*
"$RSYNC" -a --specials --devices s/ d/
touch -h -d @1700000100 s/l s/dev s/p
chown 1:2 s/f 2>/dev/null
show "itemize times/owner" "$RSYNC" -ai s/ d/
touch -a -d @1700000500 s/f
show "itemize atime -U" "$RSYNC" -aiU s/ d/
touch s/f
show "itemize --protocol=28" "$RSYNC" -ai --protocol=28 s/ d/
