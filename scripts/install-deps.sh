#!/bin/sh
# shellcheck disable=SC2086,SC2046 # package lists are words split on purpose
# Installs the Debian packages llamac needs for one purpose, and only the
# ones that are missing. `make run` calls it with "build", `make test` with
# "test", `make bench` with "bench"; .ci/run with "test" before `make test`.
#
#   sh scripts/install-deps.sh build|test|bench   install what is missing
#   sh scripts/install-deps.sh --list [PURPOSE]   print the table (the README's
#                                                 "What gets installed" matches it)
#
# Everything present: one dpkg-query call, no apt-get, no root needed.
# Something missing: prints one line per package with why it is needed, then
# runs apt-get update + install, through sudo when not root.
# LLAMAC_NO_INSTALL=1 only reports what is missing (for machines where the
# libraries come from elsewhere). Without dpkg/apt-get (not Debian) it says
# what it would want and lets the build find out.
set -eu

# purpose  package                 why (one line; "test" also installs "build",
#                                  "bench" also installs "build")
PACKAGES='
build  build-essential        C compiler, make and the libc headers
build  cmake                  the build description; ctest runs the tests and prints the summary
build  pkg-config             finds PCRE2 and cJSON for cmake
build  libpcre2-dev           the Llama 3 pre-tokenizer regex; the one library the engine core links
build  libcjson-dev           reads config.json, tokenizer.json and safetensors headers (convert)
build  libmicrohttpd-dev      the HTTP server library behind llamac serve (not linked into the core)
build  libclang-dev           llamac testgen parses C sources with libclang (not linked into the core)
test   clang                  the ASan+UBSan half of make test; cross-compiles neon.c in test_neon_clang
test   libclang-rt-14-dev     sanitizer runtimes for clang (and libFuzzer for make fuzz)
test   libsimde-dev           AVX-512 kernels emulated on any x86 CPU (the *_avx512_emulated tests)
test   qemu-user              runs the aarch64 build of test_kernels (test_neon)
test   gcc-aarch64-linux-gnu  cross-compiles the NEON kernels (test_neon)
test   libc6-dev-arm64-cross  aarch64 libc and headers for that cross build (test_neon)
test   nginx                  the scale-out test runs deploy/nginx.conf in front of two llamac serve replicas
test   libcmocka-dev          the C unit-test framework llamac testgen writes tests for
test   gcovr                  line and branch coverage of C tests kept by llamac testgen
test   python3-pytest         the Python test framework llamac testgen writes tests for
test   python3-coverage       line and branch coverage of Python tests kept by llamac testgen
bench  python3-numpy          bench/run.sh makes real-shape synthetic checkpoints with it
'

me=install-deps

usage() {
    echo "usage: sh scripts/install-deps.sh build|test|bench | --list [build|test|bench]" >&2
    exit 2
}

# The table rows a purpose needs: its own and, for test and bench, build's.
rows_for() {
    echo "$PACKAGES" | awk -v p="$1" 'NF >= 2 && ($1 == p || $1 == "build")'
}

# Packages among "$@" that dpkg does not report installed (one per line).
# One dpkg-query for all of them: ~10 ms, so `make run` stays fast.
missing_packages() {
    dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null |
        awk -v want="$*" '$2 == "installed" || $2 ~ /^triggers-/ { ok[$1] = 1 }
             END { n = split(want, w, " "); for (i = 1; i <= n; i++) if (!(w[i] in ok)) print w[i] }'
}

list() {
    purpose=${1:-test}
    case $purpose in build | test | bench) ;; *) usage ;; esac
    rows_for "$purpose" | awk '{ why = $0; sub(/^[ \t]*[^ \t]+[ \t]+[^ \t]+[ \t]+/, "", why);
                                 printf "%-22s %s\n", $2, why }'
}

install() {
    purpose=$1
    case $purpose in build | test | bench) ;; *) usage ;; esac
    rows=$(rows_for "$purpose")
    set -- $(echo "$rows" | awk '{ print $2 }')

    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        echo "$me: no dpkg/apt-get here (not Debian?); for $purpose llamac needs the equivalents of:" >&2
        list "$purpose" | sed 's/^/  /' >&2
        return 0
    fi

    missing=$(missing_packages "$@")
    [ -n "$missing" ] || return 0

    count=$(echo "$missing" | wc -l)
    echo "$me: $count Debian package(s) needed for '$purpose' are missing:"
    for pkg in $missing; do
        list "$purpose" | awk -v p="$pkg" '$1 == p { print "  " $0 }'
    done

    if [ "${LLAMAC_NO_INSTALL:-0}" = 1 ]; then
        echo "$me: LLAMAC_NO_INSTALL=1: not installing them"
        return 0
    fi
    sudo=
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "$me: not root and no sudo; as root run: apt-get install" $missing >&2
            return 1
        fi
        sudo=sudo
        echo "$me: installing with sudo (it may ask for your password)"
    fi
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
    still=$(missing_packages $missing)
    if [ -n "$still" ]; then
        echo "$me: still missing after apt-get install:" $still >&2
        return 1
    fi
    echo "$me: installed" $missing
}

case ${1:-} in
--list) list "${2:-test}" ;;
build | test | bench) install "$1" ;;
*) usage ;;
esac
