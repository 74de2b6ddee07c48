#!/usr/bin/env bash
# Scale-out behind nginx with deploy/nginx.conf: two `llamac serve` replicas
# on loopback ports (tests/server/nginx.test.mjs). Skipped (exit 77) without
# node, the openai client (npm ci --prefix tests) or nginx.
set -euo pipefail
cd "$(dirname "$0")"
: "${LLAMAC_BIN:?LLAMAC_BIN must name the llamac executable}"
if ! command -v node >/dev/null; then echo "SKIP: node is not installed"; exit 77; fi
if [ ! -f node_modules/openai/package.json ]; then
  echo "SKIP: the openai client is not installed (run: npm ci --prefix tests)"; exit 77
fi
if [ ! -x /usr/sbin/nginx ] && [ ! -x /usr/bin/nginx ]; then echo "SKIP: nginx is not installed"; exit 77; fi
exec node --test server/nginx.test.mjs
