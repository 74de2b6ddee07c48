#!/bin/bash
# `llamac perplexity --kl-divergence-base / --kl-divergence` (docs/kld-format.md):
# an F32 model against itself scores KLD 0 with 100% same top token and the
# base file round-trips (same PPL, ln ratio 0); q8_0 / q4_k_m / q4_0 copies of
# stories260K and of tiny-llama3 score KLD > 0 in that order; a base made from
# another model or another text, at another --ctx, or truncated is refused with
# one line; a text shorter than two chunks is refused with the lengths; a
# failed run leaves no base file behind; --f16-as-bf16 costs a little KLD.
# Run from tests/ with LLAMAC_BIN set (ctest does both).
set -u
B=${LLAMAC_BIN:?LLAMAC_BIN must point at the llamac binary}
T=$(mktemp -d /tmp/lc_ppl_sh_XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
S=../models/stories260K.gguf
TEXT=data/texts/kjv-genesis-1-8.txt
OTHER=data/texts/jargon-file-ch5.txt

check() { # check DESCRIPTION COMMAND... : the command must succeed
    checks=$((checks + 1))
    if ! "${@:2}"; then echo "FAIL: $1" >&2; fails=$((fails + 1)); fi
}

# run EXPECTED_RC ARGS...: runs llamac perplexity, keeps stdout/stderr in $T/out $T/err
run() {
    local want=$1
    shift
    "$B" perplexity --kv-type f32 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    checks=$((checks + 1))
    if [ "$rc" != "$want" ]; then
        echo "FAIL: llamac perplexity $* exited $rc, expected $want; stderr:" >&2
        cat "$T/err" >&2
        fails=$((fails + 1))
    fi
}

one_line_error() { # the message is a single 'llamac perplexity: ...' line containing $1
    [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^llamac perplexity: " "$T/err" && grep -q -- "$1" "$T/err"
}

stat() { # stat LABEL: the first number after 'LABEL' and a colon in $T/out
    sed -n "s/^$1[^:]*: *\([-0-9.]*\).*/\1/p" "$T/out" | head -1
}

lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
eq() { [ "$1" = "$2" ]; }

# --- usage and refusals before any work
run 2 -m "$S"
check "no text: one line" one_line_error "no text given"
run 2 -m "$S" -f "$TEXT" --kl-divergence-base "$T/a" --kl-divergence "$T/b"
check "base and compare at once: one line" one_line_error "give one of them"
head -c 300 "$TEXT" >"$T/short.txt"
run 1 -m "$S" -f "$T/short.txt" --ctx 128 --kl-divergence-base "$T/short.kld"
check "short text: one line with the lengths" one_line_error "tokens, but --ctx 128 needs at least 256 (two chunks)"
check "short text: no base file left" eq "$(ls "$T" | grep -c kld)" 0

# --- stories260K: base, self comparison, round trip
# 30 chunks of 128 (1890 scored tokens) keep the runs short under sanitizers
run 0 -m "$S" -f "$TEXT" --ctx 128 --chunks 30 --kl-divergence-base "$T/s.kld"
base_final=$(tail -1 "$T/out")
check "base run ends with the final estimate" grep -q "^Final estimate: PPL = " <<<"$base_final"
base_ppl=$(sed 's/.*PPL = \([0-9.]*\).*/\1/' <<<"$base_final")
check "base file written" test -s "$T/s.kld"
check "no temporary file left" eq "$(ls "$T" | grep -c tmp)" 0
run 0 -m "$S" -f "$TEXT" --ctx 128 --chunks 30 --batch 50 --kl-divergence-base "$T/s2.kld"
check "base file does not depend on --batch" cmp -s "$T/s.kld" "$T/s2.kld"

run 0 -m "$S" --kl-divergence "$T/s.kld"
check "self: mean KLD 0" eq "$(stat 'Mean    KLD')" 0.000000
check "self: max KLD 0" eq "$(stat 'Maximum KLD')" 0.000000
check "self: 100% same top" eq "$(stat 'Same top p')" 100.000
check "self: ln ratio 0" eq "$(stat 'Mean ln(PPL(Q)\/PPL(base))')" 0.000000
check "self: RMS dp 0" eq "$(stat 'RMS Δp')" 0.000
q_ppl=$(stat 'Mean PPL(Q)')
b_ppl=$(stat 'Mean PPL(base)')
check "round trip: PPL(base) from the file equals the base run ($b_ppl vs $base_ppl)" \
    awk -v a="$b_ppl" -v b="$base_ppl" 'BEGIN { exit !((a - b) ^ 2 < 1e-8) }'
check "round trip: PPL(Q) equals PPL(base)" eq "$q_ppl" "$b_ppl"
run 0 -m "$S" -f "$TEXT" --ctx 128 --kl-divergence "$T/s.kld"
check "the same text and --ctx are accepted" eq "$(stat 'Mean    KLD')" 0.000000

# --- refusals of a mismatched base
run 1 -m "$S" -f "$OTHER" --kl-divergence "$T/s.kld"
check "another text: refused" one_line_error "made from another text"
run 1 -m "$S" --ctx 64 --kl-divergence "$T/s.kld"
check "another --ctx: refused" one_line_error "made with --ctx 128, not 64"
head -c 100000 "$T/s.kld" >"$T/trunc.kld"
run 1 -m "$S" --kl-divergence "$T/trunc.kld"
check "truncated base: refused" one_line_error "truncated or corrupt"
head -c 200 "$TEXT" >"$T/junk.kld"
run 1 -m "$S" --kl-divergence "$T/junk.kld"
check "not a base file: refused" one_line_error "bad magic"

# --- quantized copies of stories260K: 0 < KLD(q8_0) < KLD(q4_k_m) < KLD(q4_0)
kld_of() { # kld_of MODEL BASE: prints the mean KLD
    run 0 -m "$1" --kl-divergence "$2"
    stat 'Mean    KLD'
}
ordered() { # ordered NAME MODEL_PREFIX BASE
    local k8 k4km k40
    "$B" quantize "$2-f32.gguf" "$2-q8_0.gguf" q8_0 >/dev/null 2>&1 &&
        "$B" quantize "$2-f32.gguf" "$2-q4_k_m.gguf" q4_k_m >/dev/null 2>&1 &&
        "$B" quantize "$2-f32.gguf" "$2-q4_0.gguf" q4_0 >/dev/null 2>&1
    check "$1: quantized copies written" test -s "$2-q4_0.gguf"
    k8=$(kld_of "$2-q8_0.gguf" "$3")
    k4km=$(kld_of "$2-q4_k_m.gguf" "$3")
    k40=$(kld_of "$2-q4_0.gguf" "$3")
    echo "$1: KLD q8_0 $k8, q4_k_m $k4km, q4_0 $k40"
    check "$1: KLD(q8_0) > 0" lt 0 "$k8"
    check "$1: KLD(q8_0) < KLD(q4_k_m)" lt "$k8" "$k4km"
    check "$1: KLD(q4_k_m) < KLD(q4_0)" lt "$k4km" "$k40"
}
cp "$S" "$T/s-f32.gguf"
ordered stories260K "$T/s" "$T/s.kld"

# --- tiny-llama3 (Llama 3 vocabulary, random weights)
"$B" convert data/tiny-llama3 -o "$T/tl3-f32.gguf" -t f32 >/dev/null 2>&1
check "tiny-llama3 converted" test -s "$T/tl3-f32.gguf"
run 0 -m "$T/tl3-f32.gguf" -f "$OTHER" --ctx 32 --chunks 3 --kl-divergence-base "$T/tl3.kld"
run 0 -m "$T/tl3-f32.gguf" --kl-divergence "$T/tl3.kld"
check "tiny-llama3 self: mean KLD 0" eq "$(stat 'Mean    KLD')" 0.000000
check "tiny-llama3 self: 100% same top" eq "$(stat 'Same top p')" 100.000
ordered tiny-llama3 "$T/tl3" "$T/tl3.kld"

# --- --f16-as-bf16: an F16 copy converted to BF16 at load scores a KLD above the
# F16 copy's (3 mantissa bits fewer) and below q8_0's; with --mmap it is refused
"$B" convert data/tiny-llama3 -o "$T/tl3-f16.gguf" -t f16 >/dev/null 2>&1
run 0 -m "$T/tl3-f16.gguf" --kl-divergence "$T/tl3.kld"
k16=$(stat 'Mean    KLD')
run 0 -m "$T/tl3-f16.gguf" --kl-divergence "$T/tl3.kld" --f16-as-bf16
kbf=$(stat 'Mean    KLD')
run 0 -m "$T/tl3-q8_0.gguf" --kl-divergence "$T/tl3.kld"
kq8=$(stat 'Mean    KLD')
echo "tiny-llama3: KLD f16 $k16, f16 as bf16 $kbf, q8_0 $kq8"
check "KLD(f16) < KLD(f16 as bf16)" lt "$k16" "$kbf"
check "KLD(f16 as bf16) < KLD(q8_0) / 4" lt "$kbf" "$(awk -v k="$kq8" 'BEGIN { print k / 4 }')"
"$B" run -m "$T/tl3-f16.gguf" --f16-as-bf16 --mmap -p hi -n 1 >"$T/out" 2>"$T/err"
check "--f16-as-bf16 with --mmap: exit 1" eq "$?" 1
check "--f16-as-bf16 with --mmap: the reason" grep -q "needs the model read into memory, not mapped" "$T/err"

# --- a base made from another model (another vocabulary) is refused, both ways
run 1 -m "$T/tl3-f32.gguf" --kl-divergence "$T/s.kld"
check "stories260K base, tiny-llama3 model: refused" one_line_error "another vocabulary"
run 1 -m "$S" --kl-divergence "$T/tl3.kld"
check "tiny-llama3 base, stories260K model: refused" one_line_error "another vocabulary"

# --- an unwritable destination fails cleanly
run 1 -m "$S" -f "$TEXT" --ctx 128 --kl-divergence-base "$T/no/such/dir/x.kld"
check "unwritable base: one line" one_line_error "temporary file"

echo "test_perplexity_kld: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
