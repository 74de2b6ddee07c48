// A client that goes away frees its slot at once, whether it was
// streaming, waiting for a non-streamed answer, or still in the queue.
// The server sleeps 20 ms per step (--debug-step-delay) so that a reply
// takes seconds and the test can tell "cancelled" from "finished anyway".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { startServer, request, sleep } from './harness.mjs';

let server, client;

before(async () => {
  server = await startServer(['--parallel', '1', '--ctx', '512', '--metrics', '--debug-step-delay', '20']);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
});

let stopped = null;
after(async () => {
  const { code } = stopped ?? await server.stop();
  assert.equal(code, 0);
});

const metric = async (name) => {
  const r = await request(server.url, 'GET', '/metrics');
  return Number(r.text.match(new RegExp(`^llamac_${name} (\\S+)$`, 'm'))[1]);
};

// ms until the condition holds, or Infinity after `limit` ms
async function within(limit, cond) {
  const t0 = Date.now();
  while (Date.now() - t0 < limit) {
    if (await cond()) return Date.now() - t0;
    await sleep(10);
  }
  return Infinity;
}

const long = { model: 'm', prompt: 'Once upon a time', max_tokens: 400, temperature: 0 };

test('closing a stream frees the slot within a second', async () => {
  const stream = await client.completions.create({ ...long, stream: true });
  let chunks = 0;
  // leaving the loop early closes the connection
  for await (const c of stream) { void c; if (++chunks === 3) break; }
  assert.equal(chunks, 3);
  const t = await within(1000, async () => (await metric('slots_busy')) === 0);
  assert.ok(t < 1000, 'the slot is still busy a second after the client left');
  const slots = (await request(server.url, 'GET', '/slots')).json;
  assert.equal(slots[0].is_processing, false);
  assert.ok(await metric('generated_tokens_total') < 100, 'generation stopped early');
});

test('a non-streamed request whose client leaves is cancelled', async () => {
  const before = await metric('requests_cancelled_total');
  assert.equal(before, 1, 'the stream above was cancelled');
  const req = http.request(`${server.url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  req.on('error', () => {});
  req.end(JSON.stringify(long));
  assert.ok(await within(2000, async () => (await metric('slots_busy')) === 1) < 2000);
  req.destroy();
  assert.ok(await within(1000, async () => (await metric('slots_busy')) === 0) < 1000);
  assert.equal(await metric('requests_cancelled_total'), before + 1);
});

test('a queued request whose client leaves never runs', async () => {
  const before = await metric('requests_cancelled_total');
  const abortA = new AbortController();
  const a = client.completions.create({ ...long, stream: true }, { signal: abortA.signal });
  assert.ok(await within(2000, async () => (await metric('slots_busy')) === 1) < 2000);
  const queued = http.request(`${server.url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
  queued.on('error', () => {});
  queued.end(JSON.stringify({ ...long, prompt: 'The dog' }));
  assert.ok(await within(2000, async () => (await metric('queue_length')) === 1) < 2000);
  queued.destroy();
  assert.ok(await within(1000, async () => (await metric('queue_length')) === 0) < 1000, 'left the queue');
  abortA.abort();
  await a.catch(() => {});
  assert.ok(await within(1000, async () => (await metric('slots_busy')) === 0) < 1000);
  assert.equal(await metric('requests_cancelled_total'), before + 2);
});

test('the server keeps serving afterwards', async () => {
  const r = await client.completions.create({ ...long, max_tokens: 5 });
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 5);
});

test('SIGTERM during a stream: an error event ends it, then exit 0', async () => {
  const res = await fetch(`${server.url}/v1/completions`, { method: 'POST',
    body: JSON.stringify({ ...long, stream: true }) });
  const reader = res.body.getReader();
  let text = new TextDecoder().decode((await reader.read()).value);
  const exit = server.stop();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  stopped = await exit;
  assert.equal(stopped.code, 0);
  assert.match(text, /data: \{"error":\{"message":"the server is shutting down"/);
  assert.ok(!text.includes('[DONE]'), 'an interrupted stream has no [DONE]');
});
