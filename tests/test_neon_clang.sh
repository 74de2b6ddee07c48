#!/usr/bin/env bash
# neon.c cross-compiled with clang for aarch64 (-Werror): it switches the
# dotprod target on per function, which gcc and clang spell differently, so
# both must accept it (test_neon.sh builds and runs it with gcc). Exits 77,
# which ctest reports as skipped, without clang or the aarch64 libc headers.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
SYSROOT=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
SKIPPED=77

skip() { echo "test_neon_clang: skipped: $*"; exit $SKIPPED; }
command -v clang >/dev/null 2>&1 || skip "clang not found (Debian: clang)"
[ -d "$SYSROOT/include" ] || skip "no aarch64 libc headers at $SYSROOT (Debian: libc6-dev-arm64-cross)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "test_neon_clang: clang --target=aarch64-linux-gnu -c src/kernels/neon.c"
clang --target=aarch64-linux-gnu --sysroot="$SYSROOT" -std=c17 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE \
    -I"$root"/include -I"$root"/src -c "$root"/src/kernels/neon.c -o "$tmp/neon.o"
[ -s "$tmp/neon.o" ] || { echo "test_neon_clang: FAIL: no object written"; exit 1; }
echo "test_neon_clang: ok"
