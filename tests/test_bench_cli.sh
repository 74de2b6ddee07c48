#!/usr/bin/env bash
# `llamac bench` on the bundled stories260K model: a prompt longer than the
# batch (two chunks: the sanitizer build aborted on it before the logits
# pointer fix), `--parallel` with a list of counts (a table row and a JSON
# object per count and test, "n_parallel", "avg_ts_per_seq" = avg_ts / P),
# the usage errors of --parallel, and -d (--n-depth): tests named
# "ppN @ dD", "n_depth" in JSON, depth + test beyond the context refused.
set -u
export LC_ALL=C
# shellcheck source=cli_checks.sh
. ./cli_checks.sh

bench() { # bench ARGS... ; stdout, stderr and status in $TMP
    "$BIN" bench -m "$MODEL" -t 1 -r 1 "$@" >"$TMP/out" 2>"$TMP/err"
    echo $? >"$TMP/rc"
}
rc() { [ "$(cat "$TMP/rc")" = "$1" ]; }

bench -p 600 -n 0 --batch 512
check "pp600 in two chunks runs" rc 0
check "pp600 row" grep -q '| pp600 |' "$TMP/out"
bench -p 40 -n 0 --batch 1
check "a batch of one token runs" rc 0

bench -p 12 -n 5 --parallel 1,3 --json
check "--parallel 1,3 runs" rc 0
check "four JSON objects" [ "$(grep -c '"test"' "$TMP/out")" = 4 ]
check "pp12 with n_parallel 3" grep -q '"test": "pp12", .*"n_parallel": 3' "$TMP/out"
check "tg5 with n_parallel 1" grep -q '"test": "tg5", .*"n_parallel": 1,' "$TMP/out"
per_seq_ok() {
    awk '/"n_parallel": 3/ && /"tg5"/ {
        match($0, /"avg_ts": [0-9.]+/); a = substr($0, RSTART + 10, RLENGTH - 10)
        match($0, /"avg_ts_per_seq": [0-9.]+/); s = substr($0, RSTART + 18, RLENGTH - 18)
        found = 1; if (a <= 0 || (a / 3 - s) > 1e-3 * a || (s - a / 3) > 1e-3 * a) bad = 1 }
        END { exit !(found && !bad) }' "$TMP/out"
}
check "avg_ts_per_seq is the aggregate over 3" per_seq_ok
bench -p 4 -n 2 -np 2
check "-np table runs" rc 0
check "table has n_parallel and per-sequence columns" grep -q 'n_parallel | test | t/s | t/s per sequence' "$TMP/out"
check "tg2 row for 2 sequences" grep -Eq '\| 2 \| tg2 \| [0-9.]+ ± [0-9.]+ \| [0-9.]+ \|' "$TMP/out"

bench -np 0
check "-np 0 is a usage error" rc 2
check "-np 0 message" grep -q 'expects an integer in \[1, 64\]' "$TMP/err"
bench -np 2,,4
check "an empty count is a usage error" rc 2
bench -p 1024 -n 1024 -np 2
check "sequences beyond the model's context fail" rc 2
check "the message names the cells" grep -q 'need 4096 cells' "$TMP/err"

bench -p 16 -n 4 -d 100 --json
check "-d 100 runs" rc 0
check "pp16 at depth 100 in JSON" grep -q '"test": "pp16", .*"n_depth": 100,' "$TMP/out"
check "tg4 at depth 100 in JSON" grep -q '"test": "tg4", .*"n_depth": 100,' "$TMP/out"
bench -p 16 -n 0 --n-depth 30
check "--n-depth table runs" rc 0
check "table names the depth" grep -q '| pp16 @ d30 |' "$TMP/out"
bench -p 8 -n 0
check "no depth: n_depth 0 is not in the name" grep -q '| pp8 |' "$TMP/out"
bench -p 512 -n 0 -d 1600
check "depth + prompt beyond the context fails" rc 2
check "the message names the tokens" grep -q '2113 tokens do not fit' "$TMP/err"
bench -d 10 -np 2
check "-d with --parallel is a usage error" rc 2

checks_summary test_bench_cli
