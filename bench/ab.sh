#!/usr/bin/env bash
# Compares two llamac builds (or two option sets) on one model, alternating
# runs so that both see the same machine state, and prints the median
# tok/s of each and their ratio. The machine is shared and its memory
# bandwidth drifts from minute to minute: only same-run ratios count.
#
#   bench/ab.sh "A_CMD" "B_CMD" MODEL [ROUNDS] [BENCH_ARGS...]
#   bench/ab.sh "/tmp/base/llamac" "build/llamac" bench/models/llama3.2-1b-q4_0.gguf 8 -p 512 -n 128
#
# A_CMD / B_CMD: an llamac binary, optionally with options of `llamac bench`
# (e.g. "build/llamac --no-repack"). Each round runs `bench -r 1` once per
# side, A first on odd rounds and B first on even ones.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
A=$1 B=$2 MODEL=$3 ROUNDS=${4:-8}
shift $(( $# >= 4 ? 4 : 3 ))
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(-p 512 -n 128)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run_side() { # label cmd
    local bin=${2%% *} opts=""
    [ "$bin" != "$2" ] && opts=${2#* }
    # shellcheck disable=SC2086
    "$bin" bench -m "$MODEL" -r 1 --json "${ARGS[@]}" $opts |
        sed -n 's/.*"test": "\([a-z0-9]*\)".*"avg_ts": \([0-9.]*\).*/\1 \2/p' | sed "s/^/$1 /" >>"$tmp/all"
}
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then run_side A "$A"; run_side B "$B"; else run_side B "$B"; run_side A "$A"; fi
done
echo "A: $A"
echo "B: $B"
echo "model: $MODEL, $ROUNDS rounds, bench ${ARGS[*]}; median tok/s (min-max)"
for t in $(awk '{ print $2 }' "$tmp/all" | sort -u); do
    for side in A B; do
        awk -v s=$side -v t="$t" '$1 == s && $2 == t { print $3 }' "$tmp/all" | sort -g >"$tmp/$side"
    done
    med() { awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }' "$1"; }
    ma=$(med "$tmp/A") mb=$(med "$tmp/B")
    printf '%-6s A %8.2f (%.2f-%.2f)  B %8.2f (%.2f-%.2f)  B/A %.3f\n' "$t" "$ma" "$(head -1 "$tmp/A")" \
        "$(tail -1 "$tmp/A")" "$mb" "$(head -1 "$tmp/B")" "$(tail -1 "$tmp/B")" "$(awk -v a="$ma" -v b="$mb" 'BEGIN { print b / a }')"
done
