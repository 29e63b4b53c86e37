#!/usr/bin/env bash
# Record the remote-shell command line (and, with -s, the secluded argument
# list) that real rsync builds for each case in compat/server-args/cases.txt.
# Output: compat/server-args/NNN-push.argv, NNN-pull.argv (and .stdin for -s
# cases). tests/server_args.rs checks gensync against these files, and
# against a live rsync when one is installed.
#
#     RSYNC=/usr/bin/rsync compat/tools/record-server-args.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
rsync=${RSYNC:-rsync}
dir="$here/compat/server-args"
rsh="$here/compat/tools/argv-rsh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$dir"/*.argv "$dir"/*.stdin
"$rsync" --version | sed -n 1p >"$dir/RECORDED-WITH"
n=0
while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    n=$((n + 1))
    id=$(printf '%03d' "$n")
    if [[ "$line" == *" -- "* ]]; then
        eval "opts=(${line%% -- *})"
        eval "ops=(${line#* -- })"
        runs=("own")
    else
        eval "opts=($line)"
        runs=("push" "pull")
    fi
    for dirn in "${runs[@]}"; do
        case "$dirn" in
            push) operands=("src/" "host:dst/") ;;
            pull) operands=("host:src/" "dst/") ;;
            own) operands=("${ops[@]}") ;;
        esac
        (cd "$work" && ARGV_OUT="$dir/$id-$dirn.argv" ARGV_STDIN_OUT="$work/stdin" \
            "$rsync" -e "$rsh" "${opts[@]}" "${operands[@]}" </dev/null >/dev/null 2>&1 || true)
        if [ -s "$work/stdin" ]; then
            mv "$work/stdin" "$dir/$id-$dirn.stdin"
        fi
        rm -f "$work/stdin"
    done
done <"$dir/cases.txt"
echo "recorded $n cases in $dir"
