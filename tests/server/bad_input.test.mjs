// Bad requests get a clean 4xx with an OpenAI-style error body naming the
// field, and the server keeps serving: malformed JSON, wrong types, empty
// messages, unknown roles, a body over the limit, a prompt longer than the
// context, invalid UTF-8, a missing or wrong key, an unknown route, a
// client that trickles its headers, a full queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startServer, request, postJson, sleep } from './harness.mjs';

const KEY = 'k3y';
const auth = { Authorization: `Bearer ${KEY}` };
let server;

before(async () => {
  server = await startServer(['--parallel', '1', '--max-queue', '0', '--ctx', '64', '--timeout', '2',
    '--max-body', '4096', '--api-key', KEY, '--chat-template', 'llama2', '--debug-step-delay', '5']);
});

after(async () => {
  const { code, signal } = await server.stop('SIGINT');
  assert.equal(signal, null);
  assert.equal(code, 0, 'SIGINT must end the server with status 0');
});

function assertError(r, status, param) {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
  assert.equal(typeof r.json.error.type, 'string');
  assert.ok('code' in r.json.error && 'param' in r.json.error);
  if (param !== undefined) assert.equal(r.json.error.param, param);
}

const chat = (body) => postJson(server.url, '/v1/chat/completions', body, auth);
const completion = (body) => postJson(server.url, '/v1/completions', body, auth);
const user = [{ role: 'user', content: 'Hi' }];

async function stillServing() {
  const r = await completion({ prompt: 'Once', max_tokens: 3, temperature: 0 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.usage.completion_tokens, 3);
}

test('malformed JSON and non-object bodies', async () => {
  for (const body of ['{"messages": [', 'not json', '', '[1,2]', '"text"']) {
    const r = await request(server.url, 'POST', '/v1/chat/completions', { body, headers: auth });
    assertError(r, 400, null);
  }
  await stillServing();
});

test('fields of the wrong type or range name the field', async () => {
  const cases = [
    [{ messages: user, temperature: 'hot' }, 'temperature'],
    [{ messages: user, temperature: 3 }, 'temperature'],
    [{ messages: user, max_tokens: 1.5 }, 'max_tokens'],
    [{ messages: user, max_tokens: -1 }, 'max_tokens'],
    [{ messages: user, top_p: [] }, 'top_p'],
    [{ messages: user, stream: 'yes' }, 'stream'],
    [{ messages: user, stop: 7 }, 'stop'],
    [{ messages: user, stop: ['a', 3] }, 'stop'],
    [{ messages: user, seed: 'x' }, 'seed'],
    [{ messages: user, n: 2 }, 'n'],
    [{ messages: user, stream_options: { include_usage: 1 } }, 'stream_options.include_usage'],
    [{ messages: user, top_logprobs: 2 }, 'top_logprobs'],
    [{ messages: user, response_format: { type: 'xml' } }, 'response_format.type'],
    [{ messages: user, logit_bias: { abc: 1 } }, 'logit_bias'],
    [{ messages: user, model: 5 }, 'model'],
    [{ messages: 'Hi' }, 'messages'],
    [{}, 'messages'],
    [{ messages: [] }, 'messages'],
    [{ messages: [{ role: 'wizard', content: 'Hi' }] }, 'messages[0].role'],
    [{ messages: [{ content: 'Hi' }] }, 'messages[0].role'],
    [{ messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, 'messages[0].content[0]'],
    [{ messages: [{ role: 'user' }] }, 'messages[0].content'],
  ];
  for (const [body, param] of cases) assertError(await chat(body), 400, param);
  for (const [body, param] of [
    [{ prompt: 5 }, 'prompt'], [{}, 'prompt'], [{ prompt: [1, 'a'] }, 'prompt'], [{ prompt: [99999] }, 'prompt'],
    [{ prompt: 'x', logprobs: 9 }, 'logprobs'], [{ prompt: 'x', echo: true }, 'echo'],
  ]) assertError(await completion(body), 400, param);
  await stillServing();
});

test('a template that cannot express the conversation is a 400', async () => {
  // llama2 needs user/assistant turns to alternate
  assertError(await chat({ messages: [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }] }), 400, 'messages');
});

test('invalid UTF-8 in a string', async () => {
  const body = Buffer.concat([Buffer.from('{"prompt":"abc'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('","max_tokens":2}')]);
  assertError(await request(server.url, 'POST', '/v1/completions', { body, headers: auth }), 400, 'prompt');
  const body2 = Buffer.concat([Buffer.from('{"messages":[{"role":"user","content":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]);
  assertError(await request(server.url, 'POST', '/v1/chat/completions', { body: body2, headers: auth }), 400,
    'messages[0].content');
  await stillServing();
});

test('a body over --max-body is a 413', async () => {
  const big = JSON.stringify({ prompt: 'a'.repeat(10000) });
  const r = await request(server.url, 'POST', '/v1/completions', { body: big, headers: auth });
  assertError(r, 413);
  await stillServing();
});

test('a prompt longer than the context is a 400 naming it', async () => {
  const r = await completion({ prompt: 'Once upon a time there was a little girl. '.repeat(20) });
  assertError(r, 400, 'prompt');
  assert.equal(r.json.error.code, 'context_length_exceeded');
  await stillServing();
});

test('max_tokens is capped by the context', async () => {
  const r = await completion({ prompt: 'Once upon a time', max_tokens: 100000, temperature: 0, ignore_eos: true });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices[0].finish_reason, 'length');
  assert.equal(r.json.usage.total_tokens, 64, 'prompt + reply fill the 64-token context');
});

test('missing or wrong API key, unknown route, wrong method', async () => {
  assertError(await postJson(server.url, '/v1/completions', { prompt: 'x' }), 401);
  assertError(await postJson(server.url, '/v1/completions', { prompt: 'x' }, { Authorization: 'Bearer nope' }), 401);
  assertError(await postJson(server.url, '/v1/completions', { prompt: 'x' }, { Authorization: KEY }), 401);
  assertError(await request(server.url, 'GET', '/v1/nothing', { headers: auth }), 404);
  assertError(await request(server.url, 'GET', '/v1/completions', { headers: auth }), 405);
  assertError(await request(server.url, 'GET', '/metrics', { headers: auth }), 404); // no --metrics
  await stillServing();
});

test('a full server answers 503 with Retry-After', async () => {
  // one slot, no queue: while one request runs, the next is refused
  const running = completion({ prompt: 'Once', max_tokens: 40, temperature: 0 });
  let refused = null;
  for (let i = 0; i < 100 && !refused; i++) {
    const r = await completion({ prompt: 'Two', max_tokens: 2 });
    if (r.status === 503) refused = r;
    else await sleep(2);
  }
  assert.ok(refused, 'no request was refused while the only slot was busy');
  assertError(refused, 503);
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal((await running).status, 200);
  await stillServing();
});

test('a client that trickles its headers is dropped after --timeout, others are served', async () => {
  const sock = net.connect(server.port, '127.0.0.1');
  const closed = new Promise((resolve) => sock.on('close', resolve));
  sock.on('error', () => {});
  await new Promise((r) => sock.on('connect', r));
  sock.write('POST /v1/completions HTTP/1.1\r\nHost: x\r\n');
  const t0 = Date.now();
  // one byte now and then, slower than the timeout allows between reads
  const trickle = setInterval(() => sock.write('X'), 2500);
  await stillServing();
  await closed;
  clearInterval(trickle);
  const waited = Date.now() - t0;
  assert.ok(waited < 6000, `the slow connection stayed open ${waited} ms`);
  await stillServing();
});
