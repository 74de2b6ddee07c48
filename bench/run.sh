#!/usr/bin/env bash
# Benchmarks llamac on real-shape models with random weights and writes
# bench/results/DATE-COMMIT.md with the machine's description.
#
#   bash bench/run.sh                 # Llama-3.2-1B shape: q4_0, q4_k_m, q8_0, f16
#   BENCH_8B=1 bash bench/run.sh      # also the Llama-3.1-8B shape in q4_0
#   REPS=3 THREADS=2 bash bench/run.sh
#   BASELINE=/tmp/old/llamac bash bench/run.sh        # another build, same run
#   BASELINE="build/llamac --no-repack" bash bench/run.sh
#   LLAMA_BENCH=/opt/llama.cpp-src/build/bin/llama-bench bash bench/run.sh
#
# With LLAMA_BENCH (made by bench/build-llama-cpp-upstream.sh or
# bench/get-llama-cpp.sh, or any llama-bench),
# llama.cpp's llama-bench runs on the same files with the same settings,
# right before llamac on each model, and the table shows llamac's ratio to it.
#
# With BASELINE, every model is measured by both, alternating (baseline
# first), and the table shows the ratios: on a shared machine only ratios
# from one run mean something.
#
# Models are made once under bench/models/ (git-ignored) with
# ../shared/tools/make_synthetic_hf.py (needs python3-numpy) and
# `llamac convert`. Decode is bound by memory bandwidth, so every decode
# figure is set against bench/membw run right before and right after that
# model's llamac run (the machine's bandwidth drifts from minute to
# minute): the fraction is (weight bytes read per token x tok/s) / the
# better of the two probes.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-5}
THREADS=${THREADS:-$(nproc)}
SYNTH=${SYNTH:-../shared/tools/make_synthetic_hf.py}
MODELS=bench/models
OUT=${OUT:-bench/results/$(date -u +%Y-%m-%d)-$(git rev-parse --short HEAD).md}
BASELINE=${BASELINE:-}
LLAMA_BENCH=${LLAMA_BENCH:-}
BIN=build/llamac

make build >/dev/null
# what was built (said now: the tree may change while the benchmark runs)
built="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src include tools || echo ' (+ uncommitted changes)')"
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
    # the 16 GB checkpoint is only needed until the GGUF file exists (it may be deleted then)
    [ -f "$MODELS/llama3.1-8b-q4_0.gguf" ] || make_hf llama3.1-8b "$MODELS/hf-llama3.1-8b"
    convert "$MODELS/hf-llama3.1-8b" q4_0 "$MODELS/llama3.1-8b-q4_0.gguf"
    models+=("$MODELS/llama3.1-8b-q4_0.gguf")
fi

# One `llamac bench --json` run; prints "pp pp_sd tg tg_sd".
bench_json() { # cmd model
    local bin=${1%% *} opts=""
    [ "$bin" != "$1" ] && opts=${1#* }
    # shellcheck disable=SC2086
    "$bin" bench -m "$2" -p 512 -n 128 -r "$REPS" -t "$THREADS" --json $opts |
        awk -F'"avg_ts": |, "stddev_ts": |}' '
            /"pp512"/ { pp = $2; pps = $3 } /"tg128"/ { tg = $2; tgs = $3 }
            END { print pp + 0, pps + 0, tg + 0, tgs + 0 }'
}
# One llama-bench run (its JSON output); prints "pp pp_sd tg tg_sd".
llama_bench_json() { # model
    "$LLAMA_BENCH" -m "$1" -p 512 -n 128 -r "$REPS" -t "$THREADS" -o json 2>/dev/null |
        /usr/bin/python3 -c '
import json, sys
tests = {(t["n_prompt"], t["n_gen"]): t for t in json.load(sys.stdin)}
pp, tg = tests[(512, 0)], tests[(0, 128)]
print(pp["avg_ts"], pp["stddev_ts"], tg["avg_ts"], tg["stddev_ts"])'
}
membw_run() { build/membw -t "$THREADS"; }
membw_field() { awk -v f="$2" '/best/ { for (i = 1; i <= NF; i++) if ($i == f) { print $(i + 1); exit } }' <<<"$1" | tr -d ','; }
# The better of two probes' "best" or "median" figure.
membw_better() { # field probe1 probe2
    printf '%s\n%s\n' "$(membw_field "$2" "$1")" "$(membw_field "$3" "$1")" | sort -g | tail -1
}

echo "measuring read bandwidth..." >&2
membw_before=$(membw_run)

rows=()
for m in "${models[@]}"; do
    base="- - - -" llama="- - - -"
    if [ -n "$LLAMA_BENCH" ]; then
        echo "benchmarking $m with llama.cpp..." >&2
        llama=$(llama_bench_json "$m")
    fi
    if [ -n "$BASELINE" ]; then
        echo "benchmarking $m with the baseline..." >&2
        base=$(bench_json "$BASELINE" "$m")
    fi
    echo "benchmarking $m..." >&2
    probe_before=$(membw_run)
    result=$(bench_json "$BIN" "$m")
    probe_after=$(membw_run)
    # the bandwidth around this model's run: the better of the two probes
    near=$(membw_better best "$probe_before" "$probe_after")
    near_med=$(membw_better median "$probe_before" "$probe_after")
    rows+=("$(basename "$m" .gguf) $(stat -c %s "$m") $(weights_read_per_token "$m") $result $base $llama $near $near_med")
done
echo "measuring read bandwidth again..." >&2
membw_after=$(membw_run)
# The roofline: the better of the two probes' best and median passes.
bw=$(membw_better best "$membw_before" "$membw_after")
bw_med=$(membw_better median "$membw_before" "$membw_after")

{
    echo "# llamac benchmark, $(date -u +%Y-%m-%d)"
    echo
    echo "- machine: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) cores," \
         "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- CPU features: $(grep -m1 -o -w -E 'avx2|fma|f16c|avx512f|avx512bw|avx512vl|avx512_vnni|avx512_bf16|asimddp' /proc/cpuinfo | sort -u | tr '\n' ' ')"
    echo "- llamac commit $built, kernels: $("$BIN" info --system | awk -F': ' '/chosen/ { print $2 }')"
    echo "- command: \`llamac bench -m MODEL -p 512 -n 128 -r $REPS -t $THREADS\`; bandwidth: \`build/membw -t $THREADS\`" \
         "right before and after each model's llamac run, and before and after all models"
    echo "- read bandwidth (membw, same run): best **$bw GB/s**, median $bw_med GB/s over the first and last probes;" \
         "each model's decode is set against the probes around its own run (column membw)"
    [ -n "$BASELINE" ] && echo "- baseline: \`$BASELINE\`, run right before each model's own run"
    [ -n "$LLAMA_BENCH" ] && echo "- llama.cpp: \`llama-bench -m MODEL -p 512 -n 128 -r $REPS -t $THREADS\`," \
        "$("$LLAMA_BENCH" --version 2>&1 | awk '/^version|^built/' | paste -sd ' ')," \
        "run right before each model's llamac run"
    echo
    echo "| model | size MiB | pp512 tok/s | tg128 tok/s | weights read/token MiB | decode GB/s | membw best / median GB/s | of membw best / median |$([ -n "$BASELINE" ] && echo " baseline pp512 | baseline tg128 | pp ratio | tg ratio |")$([ -n "$LLAMA_BENCH" ] && echo " llama.cpp pp512 | llama.cpp tg128 | pp / llama.cpp | tg / llama.cpp |")"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|$([ -n "$BASELINE" ] && echo "---:|---:|---:|---:|")$([ -n "$LLAMA_BENCH" ] && echo "---:|---:|---:|---:|")"
    for r in "${rows[@]}"; do
        # shellcheck disable=SC2086
        set -- $r
        awk -v m="$1" -v size="$2" -v rb="$3" -v pp="$4" -v pps="$5" -v tg="$6" -v tgs="$7" -v bpp="$8" \
            -v bpps="$9" -v btg="${10}" -v btgs="${11}" -v lpp="${12}" -v lpps="${13}" -v ltg="${14}" \
            -v ltgs="${15}" -v bw="${16}" -v bwm="${17}" 'BEGIN {
                gbs = rb * tg / 1e9
                printf "| %s | %.0f | %.1f ± %.1f | %.2f ± %.2f | %.0f | %.1f | %.1f / %.1f | %.0f%% / %.0f%% |",
                       m, size / 1048576, pp, pps, tg, tgs, rb / 1048576, gbs, bw, bwm, 100 * gbs / bw, 100 * gbs / bwm
                if (bpp != "-") printf " %.1f ± %.1f | %.2f ± %.2f | %.2f | %.2f |", bpp, bpps, btg, btgs, pp / bpp, tg / btg
                if (lpp != "-") printf " %.1f ± %.1f | %.2f ± %.2f | **%.2f** | **%.2f** |", lpp, lpps, ltg, ltgs, pp / lpp, tg / ltg
                printf "\n" }'
    done
    echo
    echo "membw before the models:"
    echo
    printf '%s\n' "$membw_before" | sed 's/^/    /'
    echo
    echo "membw after the models:"
    echo
    printf '%s\n' "$membw_after" | sed 's/^/    /'
} > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
