#!/usr/bin/env bash
# Builds upstream llama.cpp's llama-bench from source for this CPU, outside
# this tree, so that bench/run.sh can measure llamac against the build a
# llama.cpp user compiles for themself (GGML_NATIVE, and the llamafile sgemm
# that Debian's package leaves out):
#
#   bash bench/build-llama-cpp-upstream.sh /opt/llama.cpp-src
#   LLAMA_BENCH=/opt/llama.cpp-src/build/bin/llama-bench bash bench/run.sh
#
# LLAMA_TARGETS names other tools to build beside llama-bench, for the
# side-by-side checks of perplexity, quantize, batching, grammar and the
# server, e.g. LLAMA_TARGETS="llama-perplexity llama-quantize llama-server".
#
# This machine reaches no git host, but the npm package node-llama-cpp ships
# the llama.cpp release it binds as a git bundle (llama/gitRelease.bundle);
# npm checks the tarball against the registry's integrity hash. The bundle
# is cloned into DIR and built there with CMake; no llama.cpp code enters
# this tree. Needs npm, git, cmake and a C++ compiler; ~15 minutes on two
# cores.
set -euo pipefail

DIR=${1:?usage: bash bench/build-llama-cpp-upstream.sh DIR}
VERSION=${NODE_LLAMA_CPP_VERSION:-3.22.1}   # bundles llama.cpp commit de3ff81

for tool in npm git cmake c++ tar; do
    command -v "$tool" >/dev/null || { echo "build-llama-cpp-upstream.sh: needs $tool" >&2; exit 1; }
done
[ -e "$DIR" ] && { echo "build-llama-cpp-upstream.sh: $DIR exists; remove it or pick another" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "node-llama-cpp@$VERSION" >/dev/null)
tar -xzf "$work/node-llama-cpp-$VERSION.tgz" -C "$work" package/llama/gitRelease.bundle
git -c advice.detachedHead=false clone -q "$work/package/llama/gitRelease.bundle" "$DIR"
echo "llama.cpp $(git -C "$DIR" rev-parse --short HEAD) from node-llama-cpp $VERSION" >&2

cmake -S "$DIR" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=ON >/dev/null
# shellcheck disable=SC2086  # LLAMA_TARGETS is a list of words
cmake --build "$DIR/build" -j"$(nproc)" --target llama-bench ${LLAMA_TARGETS:-} >/dev/null
"$DIR/build/bin/llama-bench" --version >&2
echo "$DIR/build/bin/llama-bench"
