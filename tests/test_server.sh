#!/usr/bin/env bash
# `llamac serve` through the official OpenAI Node.js client (tests/server/*.test.mjs:
# API shapes and equality with `llamac run`, 32 concurrent clients, disconnects,
# bad input). Needs node and the client installed by `npm ci --prefix tests`
# (.ci/run does it); without them the test is skipped (exit 77).
set -euo pipefail
cd "$(dirname "$0")"
: "${LLAMAC_BIN:?LLAMAC_BIN must name the llamac executable}"
if ! command -v node >/dev/null; then echo "SKIP: node is not installed"; exit 77; fi
if [ ! -f node_modules/openai/package.json ]; then
  echo "SKIP: the openai client is not installed (run: npm ci --prefix tests)"; exit 77
fi
# the nginx scale-out test has its own script (test_server_nginx.sh)
exec node --test --test-concurrency=2 server/api.test.mjs server/load.test.mjs server/disconnect.test.mjs server/loading.test.mjs \
  server/bad_input.test.mjs server/grammar.test.mjs
