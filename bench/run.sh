#!/usr/bin/env bash
# Benchmarks llamac on real-shape models with random weights and writes
# bench/results/DATE.md with the machine's description.
#
#   bash bench/run.sh                 # Llama-3.2-1B shape: q4_0, q4_k_m, q8_0, f16
#   BENCH_8B=1 bash bench/run.sh      # also the Llama-3.1-8B shape in q4_0
#   REPS=3 THREADS=2 bash bench/run.sh
#
# Models are made once under bench/models/ (git-ignored) with
# ../shared/tools/make_synthetic_hf.py (needs python3-numpy) and
# `llamac convert`. Decode is bound by memory bandwidth, so every decode
# figure is set against bench/membw measured in the same run: the fraction
# is (weight bytes read per token x tok/s) / read bandwidth.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-5}
THREADS=${THREADS:-$(nproc)}
SYNTH=${SYNTH:-../shared/tools/make_synthetic_hf.py}
MODELS=bench/models
OUT=bench/results/$(date -u +%Y-%m-%d).md
BIN=build/llamac

make build >/dev/null
mkdir -p "$MODELS" bench/results

make_hf() { # preset dir
    if [ ! -f "$2/config.json" ]; then
        echo "making $2 ($1, bf16)..." >&2
        /usr/bin/python3 "$SYNTH" --preset "$1" --dtype bf16 --shard-gb 5 "$2" >&2
    fi
}
convert() { # hf_dir type out
    if [ ! -f "$3" ]; then
        echo "converting $1 -> $3 ($2)..." >&2
        "$BIN" convert "$1" -o "$3" --type "$2" >&2
    fi
}

# Bytes of weights one decode step reads: every tensor, except that only
# one row of an untied token_embd is read (a tied one is the LM head).
weights_read_per_token() {
    "$BIN" info "$1" | awk '
        /^tensors \(/ { in_t = 1; next }
        in_t && NF >= 5 && $1 != "name" { bytes[$1] = $(NF-1); total += $(NF-1) }
        END {
            if ("output.weight" in bytes && "token_embd.weight" in bytes) total -= bytes["token_embd.weight"]
            printf "%.0f\n", total
        }'
}

make_hf llama3.2-1b "$MODELS/hf-llama3.2-1b"
models=()
types="q4_0 q8_0 f16"
"$BIN" convert --help | grep -q q4_k_m && types="q4_0 q4_k_m q8_0 f16"
for t in $types; do
    convert "$MODELS/hf-llama3.2-1b" "$t" "$MODELS/llama3.2-1b-$t.gguf"
    models+=("$MODELS/llama3.2-1b-$t.gguf")
done
if [ "${BENCH_8B:-0}" = 1 ]; then
    make_hf llama3.1-8b "$MODELS/hf-llama3.1-8b"
    convert "$MODELS/hf-llama3.1-8b" q4_0 "$MODELS/llama3.1-8b-q4_0.gguf"
    models+=("$MODELS/llama3.1-8b-q4_0.gguf")
fi

echo "measuring read bandwidth..." >&2
membw_out=$(build/membw -t "$THREADS")
bw=$(printf '%s\n' "$membw_out" | awk '/best/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { print $i; exit } }')

{
    echo "# llamac benchmark, $(date -u +%Y-%m-%d)"
    echo
    echo "- machine: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores," \
         "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- CPU features: $(grep -m1 -o -w -E 'avx2|fma|f16c|avx512f|avx512bw|avx512vl|avx512_vnni|avx512_bf16|asimddp' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "- llamac commit $(git rev-parse --short HEAD), kernels: $("$BIN" info --system | awk -F': ' '/chosen/ { print $2 }')"
    echo "- command: \`llamac bench -m MODEL -p 512 -n 128 -r $REPS -t $THREADS\`; bandwidth: \`build/membw -t $THREADS\`"
    echo "- read bandwidth (membw, same run): **$bw GB/s**"
    echo
    echo "| model | size MiB | pp512 tok/s | tg128 tok/s | weights read/token MiB | decode GB/s | fraction of membw |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
} > "$OUT.tmp"

for m in "${models[@]}"; do
    echo "benchmarking $m..." >&2
    json=$("$BIN" bench -m "$m" -p 512 -n 128 -r "$REPS" -t "$THREADS" --json)
    pp=$(printf '%s\n' "$json" | awk -F'"avg_ts": ' '/"pp512"/ { split($2, a, ","); print a[1] }')
    pps=$(printf '%s\n' "$json" | awk -F'"stddev_ts": ' '/"pp512"/ { split($2, a, "}"); print a[1] }')
    tg=$(printf '%s\n' "$json" | awk -F'"avg_ts": ' '/"tg128"/ { split($2, a, ","); print a[1] }')
    tgs=$(printf '%s\n' "$json" | awk -F'"stddev_ts": ' '/"tg128"/ { split($2, a, "}"); print a[1] }')
    size=$(stat -c %s "$m")
    read_bytes=$(weights_read_per_token "$m")
    awk -v m="$(basename "$m" .gguf)" -v size="$size" -v pp="$pp" -v pps="$pps" -v tg="$tg" -v tgs="$tgs" \
        -v rb="$read_bytes" -v bw="$bw" 'BEGIN {
            gbs = rb * tg / 1e9
            printf "| %s | %.0f | %.1f ± %.1f | %.2f ± %.2f | %.0f | %.1f | %.0f%% |\n",
                   m, size / 1048576, pp, pps, tg, tgs, rb / 1048576, gbs, 100 * gbs / bw }' >> "$OUT.tmp"
done

{
    echo
    echo "membw output:"
    echo
    printf '%s\n' "$membw_out" | sed 's/^/    /'
} >> "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
