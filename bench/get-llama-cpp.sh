#!/usr/bin/env bash
# Fetches Debian's own build of llama.cpp (package llama.cpp-tools from Debian
# unstable, with the libraries it needs) into DIR, without installing
# anything, so that bench/run.sh can run llama-bench beside llamac on the
# same files in the same run:
#
#   bash bench/get-llama-cpp.sh /opt/llama-cpp-debian
#   LLAMA_BENCH=/opt/llama-cpp-debian/llama-bench bash bench/run.sh
#
# Debian stable (bookworm) has no llama.cpp package; unstable's needs a newer
# glibc than bookworm's, so the wrapper DIR/llama-bench starts the binary with
# unstable's own dynamic loader and libraries from DIR. The archive's
# InRelease is checked with gpgv against the Debian archive keyring, the
# package index against InRelease's SHA256, and every .deb against the
# index's SHA256. Nothing is built, and no llama.cpp code enters this tree.
#
# The wrapper loads ggml's CPU backend variant for this CPU by hand
# (GGML_BACKEND_PATH): the package looks for its variants under /usr/lib,
# where nothing was installed. zen4 where AVX-512 VNNI and BF16 are present,
# haswell (AVX2, FMA, F16C) where AVX2 is, else the plain x86-64 one.
set -euo pipefail

DIR=${1:?usage: bash bench/get-llama-cpp.sh DIR}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-sid}
KEYRING=${KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
PACKAGES="llama.cpp-tools libllama0 libggml0 libc6 libgcc-s1 libgomp1 libstdc++6 libssl3t64 libzstd1 zlib1g"

[ "$(uname -m)" = x86_64 ] || { echo "get-llama-cpp.sh: only x86_64 is handled" >&2; exit 1; }
for tool in curl gpgv xz dpkg-deb sha256sum; do
    command -v "$tool" >/dev/null || { echo "get-llama-cpp.sh: needs $tool" >&2; exit 1; }
done

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() { # url file
    curl -fsS --retry 3 -o "$2" "$1" || { echo "get-llama-cpp.sh: cannot fetch $1" >&2; exit 1; }
}
check_sha256() { # file expected what
    local got
    got=$(sha256sum "$1" | cut -d' ' -f1)
    [ "$got" = "$2" ] || { echo "get-llama-cpp.sh: $3: SHA256 $got, expected $2" >&2; exit 1; }
}

echo "checking $MIRROR $SUITE..." >&2
fetch "$MIRROR/dists/$SUITE/InRelease" "$work/InRelease"
gpgv --keyring "$KEYRING" --output "$work/Release" "$work/InRelease" 2>/dev/null ||
    { echo "get-llama-cpp.sh: $MIRROR/dists/$SUITE/InRelease: bad signature" >&2; exit 1; }
index_sha=$(awk '/^SHA256:/ { s = 1; next } /^[^ ]/ { s = 0 }
                 s && $3 == "main/binary-amd64/Packages.xz" { print $1 }' "$work/Release")
[ -n "$index_sha" ] || { echo "get-llama-cpp.sh: InRelease lists no main/binary-amd64/Packages.xz" >&2; exit 1; }
fetch "$MIRROR/dists/$SUITE/main/binary-amd64/Packages.xz" "$work/Packages.xz"
check_sha256 "$work/Packages.xz" "$index_sha" Packages.xz
xz -dc "$work/Packages.xz" > "$work/Packages"

for p in $PACKAGES; do
    # "file sha256 version" of the first stanza named p
    read -r file sha version < <(awk -v want="$p" '
        /^Package: / { hit = ($2 == want) } hit && /^Version: / { v = $2 }
        hit && /^Filename: / { f = $2 } hit && /^SHA256: / { s = $2 }
        /^$/ && hit && f != "" { print f, s, v; exit }' "$work/Packages") ||
        { echo "get-llama-cpp.sh: $SUITE has no package $p" >&2; exit 1; }
    echo "  $p $version" >&2
    fetch "$MIRROR/$file" "$work/$p.deb"
    check_sha256 "$work/$p.deb" "$sha" "$file"
    dpkg-deb -x "$work/$p.deb" "$DIR/root"
    echo "$p $version" >> "$work/versions"
done
mv "$work/versions" "$DIR/VERSIONS"

lib=$DIR/root/usr/lib/x86_64-linux-gnu
cat > "$DIR/llama-bench" <<EOF
#!/bin/sh
# Debian $SUITE's llama-bench with its own loader and libraries (bench/get-llama-cpp.sh).
flags=\$(grep -m1 '^flags' /proc/cpuinfo)
case "\$flags" in
    *avx512_vnni*avx512_bf16*|*avx512_bf16*avx512_vnni*) variant=zen4 ;;
    *avx2*) variant=haswell ;;
    *) variant=x64 ;;
esac
GGML_BACKEND_PATH=$lib/ggml/backends0/libggml-cpu-\$variant.so
export GGML_BACKEND_PATH
exec $lib/ld-linux-x86-64.so.2 --library-path $lib:$lib/llama:$DIR/root/lib/x86_64-linux-gnu \\
    $DIR/root/usr/bin/llama-bench "\$@"
EOF
chmod +x "$DIR/llama-bench"
"$DIR/llama-bench" --version 2>&1 | grep -E '^(version|built)' >&2
echo "ready: $DIR/llama-bench" >&2
