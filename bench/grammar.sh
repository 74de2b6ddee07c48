#!/usr/bin/env bash
# Cost of grammar-constrained decoding: tg128 at temperature 1 with and
# without a JSON grammar, same file, same seed, runs alternating, medians.
#
#   bash bench/grammar.sh                      # bench/models/llama3.2-1b-q4_0.gguf (bench/run.sh makes it)
#   MODEL=path/to/file.gguf REPS=5 bash bench/grammar.sh
#
# Two grammars, each with a start rule that never ends so every run makes
# all 128 tokens: grammars/json.gbnf as an open array of JSON values (with
# random weights the model soon opens a string, where most tokens are
# allowed, so the sampled token is usually kept), and an open array of JSON
# numbers (almost every sampled token is refused, so almost every step
# needs the allowed set of the whole vocabulary: the worst case, softened
# by the per-state cache).
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${MODEL:-bench/models/llama3.2-1b-q4_0.gguf}
REPS=${REPS:-3}
THREADS=${THREADS:-$(nproc)}
SEED=${SEED:-7}
OUT=${OUT:-bench/results/$(date -u +%Y-%m-%d)-grammar-$(git rev-parse --short HEAD).md}
BIN=build/llamac

make build >/dev/null
[ -f "$MODEL" ] || { echo "no model at $MODEL (run bench/run.sh first, or set MODEL)" >&2; exit 1; }
grammar=$(mktemp --suffix=.gbnf)
numbers=$(mktemp --suffix=.gbnf)
trap 'rm -f "$grammar" "$numbers"' EXIT
{ echo 'root ::= "[" ws ( value ws "," ws )*'; grep -v '^root ' grammars/json.gbnf; } > "$grammar"
{ echo 'root ::= "[" ws ( number ws "," ws )*'; grep -v '^root ' grammars/json.gbnf; } > "$numbers"

run() { # extra args...; prints "tok/s filter_us_per_token filters cached"
    local err
    err=$("$BIN" run -m "$MODEL" -p "JSON:" -n 128 --ignore-eos --temp 1 --seed "$SEED" -t "$THREADS" \
          --no-display-prompt "$@" 2>&1 >/dev/null)
    local tps us filters cached
    tps=$(sed -n 's/.*generated 128 tokens, \([0-9.]*\) tok\/s.*/\1/p' <<<"$err")
    [ -n "$tps" ] || { echo "run failed: $err" >&2; exit 1; }
    us=$(sed -n 's/.*= \([0-9.]*\) us per generated token.*/\1/p' <<<"$err")
    filters=$(sed -n 's/.*checks, \([0-9]*\) vocabulary filters (\([0-9]*\) from the cache.*/\1 \2/p' <<<"$err")
    echo "$tps ${us:--} ${filters:-- -}"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

plain=() constrained=() per_token=() filters=() nums=() nums_us=() nums_filters=()
for r in $(seq "$REPS"); do
    read -r tps _ <<<"$(run)"; plain+=("$tps")
    read -r tps us f c <<<"$(run --grammar-file "$grammar")"; constrained+=("$tps"); per_token+=("$us"); filters+=("$f/$c")
    read -r tps us2 f2 c2 <<<"$(run --grammar-file "$numbers")"; nums+=("$tps"); nums_us+=("$us2"); nums_filters+=("$f2/$c2")
    echo "rep $r: plain ${plain[-1]}, json ${constrained[-1]} ($us us/token, $f/$c), numbers ${nums[-1]} ($us2 us/token, $f2/$c2) tok/s" >&2
done
p=$(printf '%s\n' "${plain[@]}" | median)
c=$(printf '%s\n' "${constrained[@]}" | median)
n=$(printf '%s\n' "${nums[@]}" | median)
u=$(printf '%s\n' "${per_token[@]}" | median)
un=$(printf '%s\n' "${nums_us[@]}" | median)
slow() { awk -v p="$1" -v c="$2" 'BEGIN {printf "%.1f%%", (p / c - 1) * 100}'; }
{
    echo "# Grammar-constrained decoding, $(date -u +%Y-%m-%d), $(git rev-parse --short HEAD)"
    echo
    echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS threads;"
    echo "shared with other jobs while measured (timings noisy; the runs alternate, so compare the columns)."
    echo "Model: $(basename "$MODEL") (random weights, 128256-token vocabulary), tg128, --temp 1 --seed $SEED, $REPS reps each."
    echo "Command: REPS=$REPS THREADS=$THREADS bash bench/grammar.sh"
    echo
    echo "| | tok/s (median) | slower than unconstrained | filtering us/token (median) | filters/from cache per run | runs (tok/s) |"
    echo "|---|---|---|---|---|---|"
    echo "| unconstrained | $p | | | | ${plain[*]} |"
    echo "| JSON values grammar | $c | $(slow "$p" "$c") | $u | ${filters[*]} | ${constrained[*]} |"
    echo "| JSON numbers grammar | $n | $(slow "$p" "$n") | $un | ${nums_filters[*]} | ${nums[*]} |"
    echo
    echo "A filter is asked for only when the sampled token is refused; the rest of the"
    echo "grammar work (checking the sampled token, a few bytes through cached transitions) is"
    echo "inside the tok/s figures."
} > "$OUT"
cat "$OUT"
