#!/usr/bin/env bash
# shellcheck disable=SC2086,SC2116 # package lists are words split on purpose
# scripts/install-deps.sh on a pretend fresh machine: dpkg-query, apt-get,
# sudo and id are fakes on a PATH that holds nothing else the script could
# find, so nothing is installed for real. Checks that it installs exactly the
# missing packages of the purpose asked for, one reason line each, through
# sudo only when not root, runs no apt-get when all is present, and that the
# README's "What gets installed" note lists every package of the table.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
script="$here/../scripts/install-deps.sh"
readme="$here/../README.md"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
check() { # check NAME COMMAND...
    if ! "${@:2}"; then echo "FAIL: $1"; failures=$((failures + 1)); fi
}

# A bin folder with the few real tools the script uses, and the fakes.
bin="$tmp/bin"
mkdir -p "$bin"
for tool in awk sed wc env cat grep; do ln -s "$(command -v $tool)" "$bin/$tool"; done
cat >"$bin/dpkg-query" <<'EOF'
#!/bin/sh
# prints the status line of each asked-for package named in $FAKE/installed
status=1
for arg; do
    case $arg in -*) continue ;; esac
    if grep -qx "$arg" "$FAKE/installed"; then echo "$arg installed"; else
        echo "dpkg-query: no packages found matching $arg" >&2; fi
done
exit $status
EOF
cat >"$bin/apt-get" <<'EOF'
#!/bin/sh
echo "apt-get $* (uid $FAKE_UID, DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-})" >>"$FAKE/log"
[ "$FAKE_UID" = 0 ] || { echo "apt-get: permission denied" >&2; exit 100; }
[ "$1" = install ] || exit 0
for arg; do
    case $arg in install | -*) ;; *) [ -n "${FAKE_BROKEN:-}" ] || echo "$arg" >>"$FAKE/installed" ;; esac
done
EOF
cat >"$bin/sudo" <<'EOF'
#!/bin/sh
echo "sudo $*" >>"$FAKE/log"
FAKE_UID=0 exec "$@"
EOF
cat >"$bin/id" <<'EOF'
#!/bin/sh
echo "$FAKE_UID"
EOF
chmod +x "$bin"/*

export FAKE="$tmp"
all_test=$(sh "$script" --list test | awk '{ print $1 }')
all_build=$(sh "$script" --list build | awk '{ print $1 }')

# run PURPOSE UID INSTALLED-PACKAGES...: fresh state, then the script
run() {
    local purpose=$1 uid=$2
    shift 2
    printf '%s\n' "$@" >"$tmp/installed"
    : >"$tmp/log"
    FAKE_UID=$uid PATH="$bin" /bin/sh "$script" "$purpose" >"$tmp/out" 2>&1
    echo $? >"$tmp/rc"
}
rc_is() { [ "$(cat "$tmp/rc")" = "$1" ] || { cat "$tmp/out"; false; }; }
log_empty() { [ ! -s "$tmp/log" ] || { cat "$tmp/log"; false; }; }
log_has() { grep -qxF -- "$1" "$tmp/log" || { echo "log lacks: $1"; cat "$tmp/log"; false; }; }
out_has() { grep -qE -- "$1" "$tmp/out" || { echo "output lacks: $1"; cat "$tmp/out"; false; }; }
installed_all() { for p in $all_test; do grep -qx "$p" "$tmp/installed" || return 1; done; }

# everything present: no apt-get, no output, works without root
run test 1000 $all_test
check "all present: exit 0" rc_is 0
check "all present: no apt-get" log_empty
check "all present: silent" test ! -s "$tmp/out"

# a fresh machine as root: one install of exactly what is missing, no sudo
run test 0
check "fresh, root: exit 0" rc_is 0
check "fresh, root: apt-get update" log_has "apt-get update -qq (uid 0, DEBIAN_FRONTEND=noninteractive)"
check "fresh, root: one install of every package" log_has \
    "apt-get install -y -q --no-install-recommends $(echo $all_test) (uid 0, DEBIAN_FRONTEND=noninteractive)"
check "fresh, root: no sudo" test "$(grep -c '^sudo' "$tmp/log")" = 0
check "fresh, root: all installed" installed_all
check "fresh, root: count" out_has "^install-deps: $(echo "$all_test" | wc -l) Debian package\(s\) needed for 'test'"
for p in $all_test; do check "fresh, root: reason line for $p" out_has "^  $p +[a-zA-Z]"; done

# not root: the same through sudo, and only the missing ones
run test 1000 cmake clang libsimde-dev
check "user: exit 0" rc_is 0
check "user: through sudo" log_has \
    "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends build-essential pkg-config libpcre2-dev libcjson-dev libmicrohttpd-dev libclang-dev libclang-rt-14-dev qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross nginx libcmocka-dev gcovr python3-pytest python3-coverage"
check "user: says sudo" out_has "installing with sudo"
check "user: no line for present cmake" test "$(grep -c '^  cmake ' "$tmp/out")" = 0

# build asks only for build packages
run build 0 $all_build
check "build, all build present: no apt-get" log_empty
run build 0 cmake
check "build: only build packages" log_has \
    "apt-get install -y -q --no-install-recommends build-essential pkg-config libpcre2-dev libcjson-dev libmicrohttpd-dev libclang-dev (uid 0, DEBIAN_FRONTEND=noninteractive)"

# report only
LLAMAC_NO_INSTALL=1 run test 1000
check "no-install: exit 0" rc_is 0
check "no-install: no apt-get" log_empty
check "no-install: says so" out_has "LLAMAC_NO_INSTALL=1"

# not root and no sudo: a clear error with the command to run
mv "$bin/sudo" "$tmp/sudo.off"
run test 1000 $all_build
check "no sudo: exit 1" rc_is 1
check "no sudo: names the command" out_has "as root run: apt-get install clang .*libc6-dev-arm64-cross"
check "no sudo: no apt-get" log_empty
mv "$tmp/sudo.off" "$bin/sudo"

# apt-get that installs nothing is an error
FAKE_BROKEN=1 run build 0
check "broken apt: exit 1" rc_is 1
check "broken apt: says what is missing" out_has "still missing after apt-get install: build-essential"

# not Debian: says what it wants and lets the build go on
mv "$bin/dpkg-query" "$tmp/dpkg-query.off"
run build 1000
check "no dpkg: exit 0" rc_is 0
check "no dpkg: lists the needs" out_has "no dpkg/apt-get here"
check "no dpkg: no apt-get" log_empty
mv "$tmp/dpkg-query.off" "$bin/dpkg-query"

# usage errors
run frobnicate 0
check "bad purpose: exit 2" rc_is 2

# the README's note lists every package of the table
note=$(awk '/^### What gets installed/ { on = 1; next } /^#/ { on = 0 } on' "$readme")
check "README has a What gets installed note" test -n "$note"
for p in $( (sh "$script" --list test; sh "$script" --list bench) | awk '{ print $1 }' | sort -u); do
    check "README note lists $p" grep -q -- "\`$p\`" <<<"$note"
done

if [ "$failures" -ne 0 ]; then echo "test_install_deps: $failures failed"; exit 1; fi
echo "test_install_deps: ok"
