#!/usr/bin/env bash
# llamac testgen: replayed runs with exact counts (good tests, a syntax error
# repaired in round 2, a wrong assertion, a flaky test, a test that adds no
# coverage, prose around code), the kept files rebuilt and rerun, a real run
# with stories260K and the grammar, and bad input. Skips (77) when testgen or
# its tools (cmocka, gcovr, pytest, coverage.py) are missing.
set -u
BIN=$(realpath "${LLAMAC_BIN:-../build/llamac}")
DATA=$PWD/data/testgen
MODEL=$PWD/../models/stories260K.gguf
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" testgen --help >/dev/null 2>&1 || { echo "SKIP: llamac built without testgen (no libclang)"; exit 77; }
if ! "$BIN" testgen --check >check.log 2>&1; then
    cat check.log; rm -f check.log
    echo "SKIP: testgen tools missing (see above)"; exit 77
fi
rm -f check.log
PY=$("$BIN" testgen --check | sed -n 's/.*python: \([^,]*\), gcovr.*/\1/p')

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# json FILE EXPR: evaluates a Python expression over the report `r`
json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }
expect() { [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"; }

# ---- replay, C
mkdir "$W/c" && cd "$W/c"
"$BIN" testgen --replay "$DATA/replay-c" "$DATA/calc.c" --candidates 3 --rounds 1 --runs 3 --report r.json -q >table.txt ||
    fail "replay C run"
expect "C clamp counts" "$(json r.json "[(f['name'],f['candidates'],f['built'],f['passed'],f['flaky'],f['failed'],f['no_coverage_gain'],f['kept'],f['repair_rounds']) for f in r['functions']]")" \
    "[('clamp', 3, 3, 2, 0, 1, 0, 2, 1), ('is_even', 3, 3, 2, 1, 0, 1, 1, 0)]"
expect "C coverage" "$(json r.json "r['totals']['coverage_before'], r['totals']['coverage_after']")" \
    "{'lines_covered': 0, 'lines_total': 6, 'branches_covered': 0, 'branches_total': 4} {'lines_covered': 6, 'lines_total': 6, 'branches_covered': 4, 'branches_total': 4}"
grep -q "test_clamp_below" test_calc.c || fail "kept test missing from test_calc.c"
grep -q "clamp(5, 0, 10), 6" test_calc.c && fail "a failing test was written"
grep -q "testgen-runs" test_calc.c && fail "the flaky test was written"
# the report's commands rebuild and pass the kept file
json r.json "'\n'.join(r['commands'])" > cmds.sh
bash -e cmds.sh >cmds.log 2>&1 || { cat cmds.log; fail "C kept file does not rebuild and pass"; }
grep -q "3 test(s)" cmds.log || fail "C kept file: 3 tests expected"

# ---- replay, Python
mkdir "$W/py" && cd "$W/py"
"$BIN" testgen --replay "$DATA/replay-py" "$DATA/textutil.py" --candidates 3 --rounds 1 --runs 2 --report r.json -q >table.txt ||
    fail "replay Python run"
expect "Python counts" "$(json r.json "[(f['name'],f['candidates'],f['built'],f['passed'],f['flaky'],f['failed'],f['no_coverage_gain'],f['kept'],f['repair_rounds']) for f in r['functions']]")" \
    "[('slugify', 3, 3, 2, 0, 1, 0, 2, 1), ('safe_div', 3, 3, 2, 1, 0, 1, 1, 0)]"
expect "Python coverage" "$(json r.json "r['totals']['coverage_after']")" \
    "{'lines_covered': 10, 'lines_total': 10, 'branches_covered': 4, 'branches_total': 4}"
json r.json "'\n'.join(r['commands'][:3])" > cmds.sh
bash -e cmds.sh >cmds.log 2>&1 || { cat cmds.log; fail "Python kept file does not pass"; }
grep -q "3 passed" cmds.log || fail "Python kept file: 3 tests expected"

# ---- bad input: one clear line, exit 1, nothing written
cd "$W"
bad() { # NAME EXPECTED-TEXT ARGS...
    local name=$1 text=$2; shift 2
    "$BIN" testgen --replay "$DATA/replay-c" -q "$@" >out.txt 2>err.txt && fail "$name: exit 0"
    grep -q "$text" err.txt || { cat err.txt; fail "$name: message '$text' expected"; }
}
bad "unparsable C" "does not parse as C: .*bad.c:1" "$DATA/bad.c"
bad "unparsable Python" "does not parse as Python: .*bad.py:1" "$DATA/bad.py"
bad "empty file" "empty.c: the file is empty" "$DATA/empty.c"
bad "unknown function" "no function named 'nope' in .*it has: clamp, is_even" "$DATA/calc.c" --functions clamp,nope
bad "hanging build" "timed out after 1 s" "$DATA/calc.c" --cc "sleep 30; cc" --timeout 1
ls test_*.c >/dev/null 2>&1 && fail "bad input left a test file"
"$BIN" testgen --check --lang c --cc /nonexistent/cc >check.txt 2>&1 && fail "--check with a missing compiler: exit 0"
grep -q "C compiler (cc) *MISSING" check.txt && grep -q "apt-get install -y gcc libcmocka-dev" check.txt ||
    { cat check.txt; fail "--check message"; }

# ---- a real run: stories260K, grammar on. Every reply parses as test
# functions; the report's coverage is what gcovr / coverage.py say about the
# kept file; nothing failing is written.
real() { # DIR SRC FUNCTION
    mkdir "$W/$1" && cd "$W/$1"
    "$BIN" testgen -m "$MODEL" "$DATA/$2" --functions "$3" --grammar auto --candidates 2 --rounds 0 --runs 2 \
        -t 1 --report r.json -q >table.txt || fail "$1: real run"
    expect "$1 replies parse" "$(json r.json "r['totals']['replies'] == r['totals']['replies_parsed'] > 0")" "True"
}
real realc calc.c is_even
if [ -f test_calc.c ]; then
    json r.json "'\n'.join(r['commands'][:3])" > cmds.sh
    bash -e cmds.sh >/dev/null 2>&1 || fail "real C kept file does not pass"
    gcovr -r "$DATA" --json-summary gcovr.json . >/dev/null || fail "gcovr"
    expect "real C coverage = gcovr" "$(python3 -c "import json; g=json.load(open('gcovr.json')); r=json.load(open('r.json'))['totals']['coverage_after']; print((g['line_covered'],g['line_total'],g['branch_covered'],g['branch_total']) == (r['lines_covered'],r['lines_total'],r['branches_covered'],r['branches_total']))")" "True"
else
    expect "real C: nothing kept" "$(json r.json "r['output'] is None and r['totals']['kept'] == 0")" "True"
fi
real realpy textutil.py safe_div
if [ -f test_textutil.py ]; then
    json r.json "'\n'.join([r['commands'][0], r['commands'][3]])" > cmds.sh
    bash -e cmds.sh >/dev/null 2>&1 || fail "real Python kept file does not pass under coverage"
    expect "real Python coverage = coverage.py" "$(python3 -c "import json; c=json.load(open('testgen-coverage.json'))['totals']; r=json.load(open('r.json'))['totals']['coverage_after']; print((c['covered_lines'],c['num_statements'],c['covered_branches'],c['num_branches']) == (r['lines_covered'],r['lines_total'],r['branches_covered'],r['branches_total']))")" "True"
else
    expect "real Python: nothing kept" "$(json r.json "r['output'] is None and r['totals']['kept'] == 0")" "True"
fi
echo "testgen: all checks passed"
