# Shared by the shell tests of the CLI (sourced, not run): the llamac binary,
# the bundled model, a scratch folder removed on exit, and check(), which
# counts a failed command without stopping the script. A test ends with
# `checks_summary NAME`, whose status is the test's.
BIN=${LLAMAC_BIN:?set LLAMAC_BIN to the llamac binary}
MODEL=../models/stories260K.gguf
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
checks=0

check() { # check DESCRIPTION COMMAND...
    checks=$((checks + 1))
    if ! "${@:2}"; then
        echo "FAIL: $1" >&2
        failures=$((failures + 1))
    fi
}

checks_summary() { # checks_summary NAME
    echo "$1: $checks checks, $failures failed" >&2
    [ "$failures" = 0 ]
}
