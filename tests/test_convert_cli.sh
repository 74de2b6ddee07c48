#!/bin/bash
# CLI checks for `llamac convert` and `llamac quantize`: help, usage errors
# (exit 2), failures (exit 1, one line, nothing left behind), the missing
# tokenizer case, a size-limited write, and the requantize refusal.
# Run from tests/ with LLAMAC_BIN set (ctest does both).
set -u
B=${LLAMAC_BIN:?LLAMAC_BIN must point at the llamac binary}
T=$(mktemp -d /tmp/lc_conv_sh_XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0

check() { # check DESCRIPTION COMMAND... : the command must succeed
    checks=$((checks + 1))
    if ! "${@:2}"; then echo "FAIL: $1" >&2; fails=$((fails + 1)); fi
}

# run EXPECTED_RC ARGS...: runs llamac, keeps stdout/stderr in $T/out $T/err
run() {
    local want=$1
    shift
    "$B" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    checks=$((checks + 1))
    if [ "$rc" != "$want" ]; then
        echo "FAIL: llamac $* exited $rc, expected $want; stderr:" >&2
        cat "$T/err" >&2
        fails=$((fails + 1))
    fi
}

one_line_error() { # the message is a single 'llamac CMD: ...' line
    [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "^llamac $1: " "$T/err"
}

nothing_left() { # the output folder holds only what it held before
    [ -z "$(ls -A "$T/o")" ]
}

mkdir -p "$T/o" "$T/notok"

# help and usage errors
run 0 convert --help
check "convert --help prints usage" grep -q "usage: llamac convert" "$T/out"
check "convert --help lists the K-quant mixes" grep -q "q4_k_m *llama.cpp's Q4_K_M" "$T/out"
run 0 quantize --help
check "quantize --help prints usage" grep -q "usage: llamac quantize" "$T/out"
check "quantize --help lists the K-quant types" grep -q "q4_k_s *llama.cpp's Q4_K_S" "$T/out"
run 2 convert
check "convert without source: one line" one_line_error convert
run 2 convert data/stories260K-hf
check "convert without -o names it" grep -q -- "-o" "$T/err"
run 2 convert data/stories260K-hf -o "$T/o/x.gguf" --type q3_k
check "unknown type: one line" one_line_error convert
run 2 convert data/stories260K-hf -o "$T/o/x.gguf" --bogus
run 2 quantize a.gguf b.gguf
run 2 quantize a.gguf b.gguf q9_9

# a conversion that works: quiet on a non-terminal (no progress bar)
run 0 convert data/stories260K-hf -o "$T/o/s-f32.gguf" --type f32
check "no progress bar when stderr is not a terminal" bash -c "! grep -q $'\r' '$T/err'"
check "summary line" grep -q "wrote $T/o/s-f32.gguf" "$T/err"
run 0 info "$T/o/s-f32.gguf"
check "info shows the tensors" grep -q "blk.4.ffn_down.weight" "$T/out"
run 0 convert data/stories260K/stories260K.bin --tokenizer data/stories260K/tok512.bin \
    -o "$T/o/l2c-q8.gguf" --type q8_0 -q
check "--quiet prints nothing" test ! -s "$T/err"
rm -f "$T/o"/*

# failures: exit 1, one line, nothing left behind
run 1 convert "$T/does-not-exist" -o "$T/o/x.gguf"
check "missing source: one line" one_line_error convert
check "missing source: nothing left" nothing_left
run 1 convert "$T/notok" -o "$T/o/x.gguf"
check "no config.json named" grep -q "config.json" "$T/err"
check "no config.json: nothing left" nothing_left

# a folder without tokenizer files (like Code Llama's synthetic checkpoint)
cp data/stories260K-hf/config.json data/stories260K-hf/model.safetensors "$T/notok/"
run 1 convert "$T/notok" -o "$T/o/x.gguf"
check "missing tokenizer: says what to do" grep -q -- "--vocab-from.*--no-vocab" "$T/err"
check "missing tokenizer: nothing left" nothing_left
run 0 convert "$T/notok" -o "$T/o/vf.gguf" --vocab-from data/stories260K/tok512.model --type f32
check "--vocab-from is reported" grep -q "vocabulary taken from" "$T/err"
run 0 convert "$T/notok" -o "$T/o/nv.gguf" --no-vocab --type f32
run 0 info "$T/o/nv.gguf"
check "--no-vocab writes model none" grep -q 'tokenizer.ggml.model.*"none"' "$T/out"
run 2 convert "$T/notok" -o "$T/o/x.gguf" --no-vocab --vocab-from data/stories260K/tok512.model
rm -f "$T/o"/*

# a write that hits the file size limit (a full disk as the process sees it)
( ulimit -f 200; "$B" convert data/stories260K-hf -o "$T/o/big.gguf" --type f32 -q ) >"$T/out" 2>"$T/err"
rc=$?
checks=$((checks + 1))
[ $rc -eq 1 ] || { echo "FAIL: size-limited write did not exit 1" >&2; cat "$T/err" >&2; fails=$((fails + 1)); }
check "size limit: one line" one_line_error convert
check "size limit: no file and no temporary file left" nothing_left

# quantize: from f32, and the refusal of an already quantized source
run 0 convert data/stories260K-hf -o "$T/o/s-f32.gguf" --type f32 -q
run 0 quantize "$T/o/s-f32.gguf" "$T/o/s-q4_0.gguf" q4_0 -q
run 0 info "$T/o/s-q4_0.gguf"
check "quantize sets file_type 2" grep -q "general.file_type *u32 *2" "$T/out"
run 1 quantize "$T/o/s-q4_0.gguf" "$T/o/s-q8_0.gguf" q8_0
check "requantize refused with the reason" grep -q "is already q.*--allow-requantize" "$T/err"
check "refused: no output" test ! -e "$T/o/s-q8_0.gguf"
run 0 quantize "$T/o/s-q4_0.gguf" "$T/o/s-q8_0.gguf" q8_0 --allow-requantize -q

# K-quant mixes by name, from both commands (stories260K's rows of 64 and
# 172 fit no 256-block: q4_K falls back to q5_0, or f16 for rows of 172)
run 0 quantize "$T/o/s-f32.gguf" "$T/o/s-q4_k_m.gguf" Q4_K_M
check "quantize q4_k_m reports the fallbacks" grep -q "do not fit q4_K blocks of 256: written as q5_0" "$T/err"
run 0 info "$T/o/s-q4_k_m.gguf"
check "quantize q4_k_m sets file_type 15" grep -q "general.file_type *u32 *15" "$T/out"
check "q4_k_m: attn_q q5_0" grep -q "blk.0.attn_q.weight *q5_0" "$T/out"
check "q4_k_m: ffn_down f16" grep -q "blk.1.ffn_down.weight *f16" "$T/out"
run 0 convert data/stories260K-hf -o "$T/o/s-q4_k_s.gguf" --type q4_k_s -q
run 0 info "$T/o/s-q4_k_s.gguf"
check "convert q4_k_s sets file_type 14" grep -q "general.file_type *u32 *14" "$T/out"
check "q4_k_s: attn_v q5_1" grep -q "blk.0.attn_v.weight *q5_1" "$T/out"
run 0 convert data/stories260K-hf -o "$T/o/s-q6_k.gguf" -t q6_k -q
run 0 info "$T/o/s-q6_k.gguf"
check "convert q6_k sets file_type 18" grep -q "general.file_type *u32 *18" "$T/out"
run 2 quantize "$T/o/s-f32.gguf" "$T/o/x.gguf" q4_k
check "unknown type lists the mixes" grep -q "q4_k_m, q4_k_s" "$T/err"

echo "test_convert_cli.sh: $checks checks, $fails failed" >&2
[ "$fails" -eq 0 ]
