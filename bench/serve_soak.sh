#!/usr/bin/env bash
# Soak test for `llamac serve`: steady load for a while, then checks that the
# server's resident memory (RSS) did not grow: RSS at the end must be within
# 5% of RSS after the warm-up. Not part of `make test` (it takes DURATION).
#
#   bash bench/serve_soak.sh [MODEL] [DURATION_S]     # defaults: stories260K, 1800
#   PARALLEL=8 CONCURRENCY=12 bash bench/serve_soak.sh bench/models/llama3.2-1b-q4_0.gguf 1800
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/stories260K.gguf}
DURATION=${2:-1800}
PARALLEL=${PARALLEL:-8}
CONCURRENCY=${CONCURRENCY:-12}   # more clients than slots: the queue is used too
BIN=${BIN:-build/llamac}
PORT=${PORT:-18123}

"$BIN" serve -m "$MODEL" --port "$PORT" --parallel "$PARALLEL" --ctx 512 --metrics 2>/tmp/llamac-soak.log &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status"; }

# load: CONCURRENCY clients, each sending mixed requests (streamed and not, chat-free
# completions of varying length, some abandoned half-way) until the deadline
load() { # seconds
  node - "$PORT" "$CONCURRENCY" "$1" <<'JS'
const [port, conc, secs] = process.argv.slice(2).map(Number);
const url = `http://127.0.0.1:${port}`;
for (let i = 0; ; i++) {
  const ok = await fetch(`${url}/health`).then((r) => r.status === 200).catch(() => false);
  if (ok) break;
  if (i > 3000) throw new Error('server not ready');
  await new Promise((r) => setTimeout(r, 100));
}
const end = Date.now() + secs * 1000;
let n = 0, errors = 0;
async function client(c) {
  for (let i = 0; Date.now() < end; i++) {
    const stream = i % 2 === 1, abandon = i % 7 === 3;
    const ctl = new AbortController();
    try {
      const res = await fetch(`${url}/v1/completions`, { method: 'POST', signal: ctl.signal,
        body: JSON.stringify({ prompt: `Client ${c} request ${i}: once upon a time`, max_tokens: 16 + (i % 5) * 24,
          temperature: 0.8, stream, logprobs: i % 3 === 0 ? 2 : undefined, stop: i % 4 === 0 ? ['.'] : undefined }) });
      if (res.status !== 200 && res.status !== 503) errors++;
      if (abandon) ctl.abort(); else await res.text();
    } catch (e) { if (!abandon) errors++; }
    n++;
  }
}
await Promise.all(Array.from({ length: conc }, (_, c) => client(c)));
console.log(`${n} requests, ${errors} errors`);
process.exit(errors ? 1 : 0);
JS
}

warm=$(( DURATION / 10 > 30 ? 30 : DURATION / 10 ))
load "$warm"
rss_warm=$(rss)
echo "RSS after ${warm}s of warm-up: $rss_warm KiB"
load "$DURATION" &
loader=$!
for (( t = 60; t < DURATION; t += 60 )); do sleep 60; echo "RSS at ${t}s: $(rss) KiB"; done
wait $loader
rss_end=$(rss)
echo "RSS after warm-up: $rss_warm KiB, after ${DURATION}s: $rss_end KiB"
awk -v a="$rss_warm" -v b="$rss_end" 'BEGIN {
  growth = (b - a) / a * 100
  printf "growth: %.2f%%\n", growth
  exit (growth > 5) ? 1 : 0 }'
