#!/usr/bin/env bash
# Several sequences decoded together (llamac bench --parallel) against one
# sequence, in the same run: each round runs the single-sequence tg test
# (`bench -p 0 -n NGEN`, as llama-bench's tgN) and then `bench --parallel
# LIST -p NPROMPT -n NGEN`, and the table gives the medians over the rounds
# of the prompt rate, the aggregate and per-sequence generation rates, and
# the aggregate as a multiple of the single-sequence tg of the same rounds.
# llama.cpp's `llama-batched-bench -npp NPROMPT -ntg NGEN -npl LIST` reports
# the same PP / TG figures.
#
#   bash bench/parallel.sh [BIN] [MODEL] [ROUNDS]
#   NPL=1,2,4,8,16 NPROMPT=128 NGEN=128 THREADS=2 bash bench/parallel.sh build/llamac bench/models/llama3.2-1b-q4_0.gguf 3
set -euo pipefail
BIN=${1:-build/llamac}
MODEL=${2:-bench/models/llama3.2-1b-q4_0.gguf}
ROUNDS=${3:-3}
NPL=${NPL:-1,2,4,8,16}
NPROMPT=${NPROMPT:-128}
NGEN=${NGEN:-128}
THREADS=${THREADS:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

field() { # json-line key
    sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"
}
for ((r = 1; r <= ROUNDS; r++)); do
    "$BIN" bench -m "$MODEL" -t "$THREADS" -r 1 -p 0 -n "$NGEN" --json 2>/dev/null |
        grep '"test"' | while read -r line; do echo "single $(field "$line" avg_ts)"; done >>"$tmp/all"
    "$BIN" bench -m "$MODEL" -t "$THREADS" -r 1 -p "$NPROMPT" -n "$NGEN" --parallel "$NPL" --json 2>/dev/null |
        grep '"test"' | while read -r line; do
            echo "$(field "$line" test)-$(field "$line" n_parallel) $(field "$line" avg_ts)"
        done >>"$tmp/all"
    echo "round $r of $ROUNDS done" >&2
done
median() { # key
    awk -v k="$1" '$1 == k { print $2 }' "$tmp/all" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
single=$(median single)
echo "$BIN, $MODEL, $THREADS threads, $ROUNDS rounds: medians (tok/s)"
echo "single-sequence tg$NGEN: $single"
echo
echo "| sequences | pp$NPROMPT (all prompts) | tg$NGEN aggregate | tg$NGEN per sequence | aggregate / single tg$NGEN |"
echo "| ---: | ---: | ---: | ---: | ---: |"
for p in ${NPL//,/ }; do
    pp=$(median "pp$NPROMPT-$p") tg=$(median "tg$NGEN-$p")
    awk -v p="$p" -v pp="$pp" -v tg="$tg" -v s="$single" \
        'BEGIN { printf "| %d | %.1f | %.1f | %.2f | %.2f |\n", p, pp, tg, tg / p, tg / s }'
done
