#!/usr/bin/env bash
# Compares two kernel_bench binaries (two builds of the core library),
# alternating runs so that both see the same machine state, and prints the
# median figure of each per kernel type and their ratio: GFLOP/s for
# prefill, GB/s for decode (hot, i.e. from cache: the kernel's arithmetic,
# and cold, from DRAM). Only same-run ratios count on a shared machine.
#
#   bench/kernel_ab.sh A_BIN B_BIN ROUNDS KERNEL_BENCH_ARGS...
#   bench/kernel_ab.sh /tmp/kb-old /tmp/kb-new 6 -t 1 -T q4_0_x8,q4_K_x8 -s 2048x8192 -p -r 1
#
# Build each binary against its own build of the library, e.g.
#   gcc -std=c17 -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/kernel_bench.c \
#       BUILD/libllamac_core.a -lpcre2-8 -lpthread -lm -o /tmp/kb-new
set -euo pipefail
[ $# -ge 4 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
A=$1 B=$2 ROUNDS=$3
shift 3
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# kernel_bench lines: "prefill TYPE ... X GFLOP/s" or
# "decode TYPE ... hot ... X GB/s | cold ... Y GB/s, plain read ...".
collect() { # label binary args...
    local label=$1 bin=$2
    shift 2
    "$bin" "$@" 2>&1 | awk -v s="$label" '
        /^prefill/ { for (i = 1; i <= NF; i++) if ($i == "GFLOP/s") print s, $2 " " $3 " " $4, "prefill", $(i - 1) }
        /^decode/  { n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^GB\/s/) { n++; if (n == 1) print s, $2 " " $3 " " $4, "hot", $(i - 1);
                                                                          if (n == 2) print s, $2 " " $3 " " $4, "cold", $(i - 1) } }' >>"$tmp"
}
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then collect A "$A" "$@"; collect B "$B" "$@"; else collect B "$B" "$@"; collect A "$A" "$@"; fi
done
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
awk '{ print $2, $3, $4, $5 }' "$tmp" | sort -u | while read -r type k n what; do
    key="$type $k $n"
    a=$(awk -v k="$key" -v w="$what" '$1 == "A" && ($2 " " $3 " " $4) == k && $5 == w { print $6 }' "$tmp" | median)
    b=$(awk -v k="$key" -v w="$what" '$1 == "B" && ($2 " " $3 " " $4) == k && $5 == w { print $6 }' "$tmp" | median)
    printf '%-10s %-8s %-8s %-7s A %8.1f  B %8.1f  B/A %.3f\n' "$type" "$k" "$n" "$what" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
