#!/usr/bin/env bash
# The NEON kernels on an x86 host: cross-compiles tests/test_kernels.c with
# the compute backend for aarch64 and runs it under qemu-user, twice:
#   - on qemu's default CPU ("max", which has dotprod): scalar, neon and
#     neon-dotprod are all tested against the reference;
#   - on a Cortex-A72 (no dotprod): dispatch must skip neon-dotprod with a
#     message and neon must still pass.
# (test_neon_clang.sh compiles neon.c with clang as well.)
# Exits 77, which ctest reports as skipped, when the cross compiler, qemu or
# the aarch64 libc is missing (scripts/install-deps.sh test installs them),
# and on an aarch64 host, where the normal build's test_kernels runs NEON.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
CC=${AARCH64_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU_AARCH64:-qemu-aarch64}
SYSROOT=${AARCH64_SYSROOT:-/usr/aarch64-linux-gnu}
SKIPPED=77

skip() { echo "test_neon: skipped: $*"; exit $SKIPPED; }
case $(uname -m) in aarch64 | arm64) skip "aarch64 host: test_kernels runs the NEON kernels natively" ;; esac
command -v "$CC" >/dev/null 2>&1 || skip "cross compiler $CC not found (Debian: gcc-aarch64-linux-gnu)"
command -v "$QEMU" >/dev/null 2>&1 || skip "$QEMU not found (Debian: qemu-user)"
[ -d "$SYSROOT" ] || skip "no aarch64 libc at $SYSROOT (Debian: libc6-dev-arm64-cross)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sources=(
    "$root"/src/kernels/compute.c "$root"/src/kernels/dispatch.c "$root"/src/kernels/scalar.c
    "$root"/src/kernels/neon.c "$root"/src/runtime/threadpool.c "$root"/src/runtime/cpu.c
    "$root"/src/runtime/err.c "$root"/src/quant/*.c "$root"/tests/test_kernels.c
)
flags=(-std=c17 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$root"/include -I"$root"/src -I"$root"/tests)

echo "test_neon: building with $CC"
"$CC" "${flags[@]}" "${sources[@]}" -o "$tmp/test_kernels" -lpthread -lm

cd "$here"
echo "test_neon: running on qemu's default CPU"
"$QEMU" -L "$SYSROOT" "$tmp/test_kernels"

echo "test_neon: running on a Cortex-A72 (no dotprod)"
out=$("$QEMU" -L "$SYSROOT" -cpu cortex-a72 "$tmp/test_kernels" 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E "^isa |failed$"
if ! echo "$out" | grep -q "isa neon-dotprod: skipped: CPU lacks asimddp"; then
    echo "test_neon: FAIL: dotprod kernels were not skipped on a CPU without asimddp"
    exit 1
fi
echo "test_neon: ok"
