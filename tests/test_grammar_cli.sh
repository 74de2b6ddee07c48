#!/usr/bin/env bash
# --grammar, --grammar-file and --json-schema on `llamac run` and `llamac
# chat` with the bundled stories260K model: the output follows the grammar
# (checked with python3's json module for JSON), errors name the file and
# the line/column or keyword and exit 2, and the flags exclude each other.
set -u
export LC_ALL=C.UTF-8
# shellcheck source=cli_checks.sh
. ./cli_checks.sh

run() { # run ARGS... ; stdout, stderr and status in $TMP
    "$BIN" run -m "$MODEL" --threads 1 --no-display-prompt "$@" >"$TMP/out" 2>"$TMP/err"
    echo $? >"$TMP/rc"
}
rc_is() { [ "$(cat "$TMP/rc")" = "$1" ]; }
err_has() { grep -qF -- "$1" "$TMP/err"; }
out_is_json() { python3 -c 'import json,sys; json.loads(open(sys.argv[1]).read())' "$TMP/out" 2>/dev/null; }

# A bounded grammar finishes with an end-of-generation token: exact forms.
run -p "Once" --temp 1 --seed 3 --grammar 'root ::= ("yes" | "no") "!"'
check "--grammar exit 0" rc_is 0
check "--grammar output" grep -qxE '(yes|no)!' "$TMP/out"

# A JSON schema: the output is JSON with the required keys.
cat >"$TMP/person.json" <<'JSON'
{"type":"object","properties":{"name":{"type":"string","maxLength":6},"age":{"type":"integer"}},
 "required":["name","age"]}
JSON
for seed in 1 2 3; do
    run -p "Tim" --temp 1 --seed $seed --json-schema "$TMP/person.json"
    check "--json-schema exit 0 (seed $seed)" rc_is 0
    check "--json-schema gives JSON (seed $seed)" out_is_json
    check "--json-schema keys (seed $seed)" python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert set(d)=={"name","age"} and isinstance(d["age"],int) and len(d["name"])<=6' "$TMP/out"
done
check "grammar statistics on stderr" err_has "llamac: grammar:"

# --grammar-file with a bundled grammar, greedy: every prefix follows it
run -p "Once upon a time" --temp 0 -n 30 --grammar-file ../grammars/json_string_array.gbnf
check "--grammar-file exit 0" rc_is 0
check "--grammar-file output starts as a string array" grep -q '^\[' "$TMP/out"

# Errors: exit 2, one line naming the source and the place.
run -p "x" --grammar 'root ::= "a" | | "b"'
check "bad grammar exit 2" rc_is 2
check "bad grammar message" err_has "--grammar: line 1, column 14: empty alternative"
printf 'root ::= value\n' >"$TMP/bad.gbnf"
run -p "x" --grammar-file "$TMP/bad.gbnf"
check "undefined rule exit 2" rc_is 2
check "undefined rule message" err_has "bad.gbnf: line 1, column 10: undefined rule 'value'"
printf '{"type":"string","pattern":"^a+$"}' >"$TMP/pattern.json"
run -p "x" --json-schema "$TMP/pattern.json"
check "unsupported keyword exit 2" rc_is 2
check "unsupported keyword message" err_has "unsupported JSON Schema keyword 'pattern'"
run -p "x" --json-schema "$TMP/missing.json"
check "missing schema file exit 1" rc_is 1
run -p "x" --grammar 'root ::= "a"' --grammar-file ../grammars/json.gbnf
check "two grammar flags exit 2" rc_is 2
check "two grammar flags message" err_has "give one of --grammar, --grammar-file and --json-schema"

# chat: each reply follows the grammar from its start.
printf 'hello\nagain\n' | "$BIN" chat -m "$MODEL" --chat-template llama2 --ctx 256 --threads 1 --temp 1 \
    --grammar 'root ::= "ok" [0-9]' >"$TMP/out" 2>"$TMP/err"
echo $? >"$TMP/rc"
check "chat --grammar exit 0" rc_is 0
check "chat --grammar replies" bash -c '[ "$(grep -cxE "ok[0-9]" "$1")" = 2 ]' _ "$TMP/out"

checks_summary test_grammar_cli
