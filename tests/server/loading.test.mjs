// /health answers 503 while the model loads and 200 once it is ready; the
// other routes refuse with 503 meanwhile (--debug-load-delay holds the load
// back so the test can see it). And a client that leaves while its prompt
// is still being read (a long prompt fed 4 tokens per step) stops the
// prompt within a step: its slot is free within a second, no decode step
// runs for it afterwards, and the server keeps serving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer, request, sleep } from './harness.mjs';

const servers = [];
after(async () => {
  for (const s of servers) assert.equal((await s.stop()).code, 0);
});

test('/health is 503 while loading, then 200', async () => {
  const server = await startServer(['--debug-load-delay', '1500'], { waitReady: false });
  servers.push(server);
  const early = await request(server.url, 'GET', '/health');
  assert.equal(early.status, 503);
  assert.equal(early.json.error.type, 'unavailable_error');
  assert.match(early.json.error.message, /loading/);
  const models = await request(server.url, 'GET', '/v1/models');
  assert.equal(models.status, 503, 'other routes wait for the model too');
  let ready = null;
  for (let i = 0; i < 200 && !ready; i++) {
    const r = await request(server.url, 'GET', '/health');
    if (r.status === 200) ready = r;
    else { assert.equal(r.status, 503); await sleep(50); }
  }
  assert.ok(ready, '/health never became 200');
  assert.equal((await request(server.url, 'GET', '/v1/models')).status, 200);
});

const metric = async (url, name) => {
  const r = await request(url, 'GET', '/metrics');
  return Number(r.text.match(new RegExp(`^llamac_${name} (\\S+)$`, 'm'))[1]);
};

test('a client that leaves mid-prompt stops the prompt at once', async () => {
  const server = await startServer(['--parallel', '1', '--ctx', '512', '--batch', '4', '--metrics',
                                    '--debug-step-delay', '20']);
  servers.push(server);
  const prompt = 'Once upon a time there was a little dog. '.repeat(24);
  const tok = await request(server.url, 'POST', '/tokenize', { body: JSON.stringify({ content: prompt }) });
  const n = tok.json.tokens.length;
  assert.ok(n > 200, `a long prompt (${n} tokens)`);
  const req = http.request(`${server.url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  req.on('error', () => {});
  req.end(JSON.stringify({ model: 'm', prompt, max_tokens: 50, temperature: 0 }));
  let busy = false;
  for (let i = 0; i < 100 && !busy; i++) { busy = (await metric(server.url, 'slots_busy')) === 1; if (!busy) await sleep(10); }
  assert.ok(busy, 'the request reached a slot');
  await sleep(200);   // ~10 steps of 4 tokens: well inside the prompt
  req.destroy();
  const t0 = Date.now();
  while ((await metric(server.url, 'slots_busy')) !== 0 && Date.now() - t0 < 1000) await sleep(10);
  assert.ok(Date.now() - t0 < 1000, 'the slot is still busy a second after the client left');
  const steps = await metric(server.url, 'decode_steps_total');
  assert.ok(steps < n / 4, `the prompt was not read to the end (${steps} steps for ${n} tokens)`);
  await sleep(300);
  assert.equal(await metric(server.url, 'decode_steps_total'), steps, 'no step ran after the slot was freed');
  assert.equal(await metric(server.url, 'generated_tokens_total'), 0);
  assert.equal(await metric(server.url, 'requests_cancelled_total'), 1);
  const r = await request(server.url, 'POST', '/v1/completions',
    { body: JSON.stringify({ model: 'm', prompt: 'The cat', max_tokens: 3, temperature: 0 }) });
  assert.equal(r.status, 200, 'the server keeps serving');
  assert.equal(r.json.usage.completion_tokens, 3);
});
