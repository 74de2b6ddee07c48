#!/usr/bin/env node
// Load test for an OpenAI-compatible server (`llamac serve`, or llama.cpp's
// llama-server: the same requests work on both). For each concurrency C it
// runs C clients at once, each sending ROUNDS streamed text completions of
// TOKENS generated tokens (ignore_eos, so every reply has the full length),
// and reports:
//   - aggregate generation tok/s: all generated tokens / wall time of the level
//   - time to first token (TTFT) p50/p99: request sent -> first text event
//   - inter-token latency (ITL) p50/p99: gaps between text events of a stream
//   - errors (HTTP errors, broken streams, short replies)
// Node.js only (global fetch), no packages.
//
//   node bench/serve_load.mjs --url http://127.0.0.1:8080 [--levels 1,4,8,16]
//        [--tokens 128] [--rounds 2] [--label NAME] [--json OUT.json]
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const URL_ = args.url ?? 'http://127.0.0.1:8080';
const LEVELS = (args.levels ?? '1,4,8,16').split(',').map(Number);
const TOKENS = Number(args.tokens ?? 128);
const ROUNDS = Number(args.rounds ?? 2);
const LABEL = args.label ?? URL_;
const KEY = args['api-key'];

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))];
};

// One streamed completion; resolves to {ttft, gaps[], tokens, error}.
async function one(client, round) {
  const t0 = performance.now();
  const r = { ttft: NaN, gaps: [], tokens: 0, error: null };
  try {
    const res = await fetch(`${URL_}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(KEY ? { Authorization: `Bearer ${KEY}` } : {}) },
      body: JSON.stringify({
        model: 'bench', prompt: `Client ${client} round ${round}: once upon a time`, max_tokens: TOKENS,
        temperature: 0, stream: true, ignore_eos: true, stream_options: { include_usage: true },
      }),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    const decoder = new TextDecoder();
    let buf = '', last = NaN, done = false, usage = null;
    for await (const bytes of res.body) {
      buf += decoder.decode(bytes, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        if (!event.startsWith('data: ')) continue;
        const data = event.slice(6);
        if (data === '[DONE]') { done = true; continue; }
        const j = JSON.parse(data);
        if (j.error) throw new Error(`stream error: ${JSON.stringify(j.error)}`);
        if (j.usage) usage = j.usage;
        if (j.choices?.[0]?.text) {
          const now = performance.now();
          if (Number.isNaN(r.ttft)) r.ttft = now - t0;
          else r.gaps.push(now - last);
          last = now;
        }
      }
    }
    if (!done) throw new Error('the stream ended without [DONE]');
    r.tokens = usage?.completion_tokens ?? 0;
    if (r.tokens !== TOKENS) throw new Error(`${r.tokens} tokens instead of ${TOKENS}`);
  } catch (e) {
    r.error = String(e.message ?? e);
  }
  return r;
}

async function level(c) {
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: c }, async (_, client) => {
    const out = [];
    for (let round = 0; round < ROUNDS; round++) out.push(await one(client, round));
    return out;
  }));
  const wall = (performance.now() - t0) / 1000;
  const all = results.flat();
  const ok = all.filter((r) => !r.error);
  const tokens = ok.reduce((n, r) => n + r.tokens, 0);
  const errors = all.filter((r) => r.error);
  if (errors.length) console.error(`C=${c}: ${errors.length} errors, first: ${errors[0].error}`);
  return {
    concurrency: c, requests: all.length, errors: errors.length, wall_s: wall,
    tok_s: tokens / wall,
    ttft_p50_ms: pct(ok.map((r) => r.ttft), 50), ttft_p99_ms: pct(ok.map((r) => r.ttft), 99),
    itl_p50_ms: pct(ok.flatMap((r) => r.gaps), 50), itl_p99_ms: pct(ok.flatMap((r) => r.gaps), 99),
  };
}

// wait until the model is loaded (/health is 503 until then)
for (let i = 0; ; i++) {
  const h = await fetch(`${URL_}/health`).then((r) => r.status).catch(() => 0);
  if (h === 200) break;
  if (i === 3000) throw new Error(`${URL_}/health never answered 200`);
  await new Promise((r) => setTimeout(r, 100));
}
// warm-up: page in the weights, fill caches
await one(0, -1);
const rows = [];
for (const c of LEVELS) rows.push(await level(c));
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`\n${LABEL}: ${TOKENS} tokens per stream, ${ROUNDS} rounds per client\n`);
console.log('| streams | tok/s | x 1 stream | TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | errors |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows)
  console.log(`| ${r.concurrency} | ${f(r.tok_s)} | ${f(r.tok_s / rows[0].tok_s, 2)} | ${f(r.ttft_p50_ms)} | ` +
    `${f(r.ttft_p99_ms)} | ${f(r.itl_p50_ms)} | ${f(r.itl_p99_ms)} | ${r.errors} |`);
if (args.json) (await import('node:fs')).writeFileSync(args.json, JSON.stringify({ label: LABEL, tokens: TOKENS, rows }, null, 2));
process.exit(rows.some((r) => r.errors) ? 1 : 0);
