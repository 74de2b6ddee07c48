// `llamac serve` through the official OpenAI Node.js client: chat and text
// completions, streamed and not, against `llamac run --temp 0`; usage,
// logprobs, stop strings, models, tokenize, metrics, auth and CORS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer, request, postJson, runCli } from './harness.mjs';

const KEY = 'sk-test-key';
let server, client;

before(async () => {
  server = await startServer(['--parallel', '4', '--ctx', '256', '--chat-template', 'llama2', '--metrics',
    '--api-key', KEY, '--alias', 'tiny', '--cors-origin', 'http://allowed.example']);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
});

after(async () => {
  const { code, signal } = await server.stop();
  assert.equal(signal, null, 'the server was killed by a signal');
  assert.equal(code, 0, 'SIGTERM must end the server with status 0');
});

async function streamText(stream) {
  let text = '', finish = null, usage = null, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta ? (c.delta.content ?? '') : (c.text ?? '');
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { text, finish, usage, chunks };
}

test('text completion equals llamac run, streamed and not', async () => {
  const prompt = 'Once upon a time';
  const expected = runCli(['-p', prompt, '-n', '40']);
  assert.ok(expected.length > 20, 'the reference run produced text');
  const r = await client.completions.create({ model: 'tiny', prompt, max_tokens: 40, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.model, 'tiny');
  assert.match(r.id, /^cmpl-[A-Za-z0-9]{24}$/);
  assert.equal(r.choices[0].text, expected);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 40);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 40);
  const s = await client.completions.create({ model: 'tiny', prompt, max_tokens: 40, temperature: 0, stream: true,
    stream_options: { include_usage: true } });
  const got = await streamText(s);
  assert.equal(got.text, expected);
  assert.equal(got.finish, 'length');
  assert.ok(got.chunks > 3, 'the text arrives in several events');
  assert.equal(got.usage.completion_tokens, 40);
});

test('chat completion equals llamac run --chat, streamed and not', async () => {
  const messages = [{ role: 'user', content: 'Tell me a story about a cat.' }];
  const expected = runCli(['--chat', '--chat-template', 'llama2', '-p', messages[0].content, '-n', '48']);
  const r = await client.chat.completions.create({ model: 'whatever', messages, max_tokens: 48, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'tiny', 'the loaded model answers, whatever the request named');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, expected);
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  const s = await client.chat.completions.create({ model: 'tiny', messages, max_tokens: 48, temperature: 0,
    stream: true });
  let first = null, text = '', finish = null, id = null;
  for await (const chunk of s) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    id ??= chunk.id;
    assert.equal(chunk.id, id, 'every chunk repeats the id');
    const d = chunk.choices[0].delta;
    if (first === null) first = d.role;
    text += d.content ?? '';
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  assert.equal(first, 'assistant', 'the first delta carries the role');
  assert.equal(text, expected);
  assert.equal(finish, r.choices[0].finish_reason);
});

test('content as an array of text parts, and a system message', async () => {
  const a = await client.chat.completions.create({ model: 'tiny', max_tokens: 16, temperature: 0, messages: [
    { role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hello' }] }] });
  const b = await client.chat.completions.create({ model: 'tiny', max_tokens: 16, temperature: 0, messages: [
    { role: 'developer', content: 'Be brief.' }, { role: 'user', content: 'Hello' }] });
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
});

test('stop strings end the reply before the stop text', async () => {
  const prompt = 'Once upon a time';
  const full = (await client.completions.create({ model: 'tiny', prompt, max_tokens: 60, temperature: 0 })).choices[0].text;
  const words = full.trim().split(/\s+/);
  const stop = ' ' + words[4];
  const cut = full.indexOf(stop);
  assert.ok(cut > 0);
  for (const stream of [false, true]) {
    const req = { model: 'tiny', prompt, max_tokens: 60, temperature: 0, stop: [stop, 'zzzz'], stream };
    const text = stream ? (await streamText(await client.completions.create(req))).text
      : (await client.completions.create(req)).choices[0].text;
    assert.equal(text, full.slice(0, cut), `stream=${stream}`);
  }
  const r = await client.completions.create({ model: 'tiny', prompt, max_tokens: 60, temperature: 0, stop });
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('the same seed gives the same sampled text', async () => {
  const req = { model: 'tiny', prompt: 'The dog', max_tokens: 30, temperature: 1.0, seed: 1234 };
  const a = await client.completions.create(req);
  const b = await client.completions.create({ ...req, stream: false });
  assert.equal(a.choices[0].text, b.choices[0].text);
  const c = await client.completions.create({ ...req, stream: true });
  assert.equal((await streamText(c)).text, a.choices[0].text);
});

test('a repeated prompt reuses the cached prefix', async () => {
  const prompt = 'Lily and Ben went to the park to play with a big red ball and';
  await client.completions.create({ model: 'tiny', prompt, max_tokens: 4, temperature: 0 });
  const r = await client.completions.create({ model: 'tiny', prompt, max_tokens: 4, temperature: 0 });
  const cached = r.usage.prompt_tokens_details.cached_tokens;
  assert.equal(cached, r.usage.prompt_tokens - 1, 'all but the last prompt token come from the cache');
});

test('logprobs: chat and legacy shapes', async () => {
  const r = await client.chat.completions.create({ model: 'tiny', max_tokens: 5, temperature: 0, logprobs: true,
    top_logprobs: 3, messages: [{ role: 'user', content: 'Hi' }] });
  const content = r.choices[0].logprobs.content;
  assert.ok(content.length >= 1 && content.length <= 5);
  for (const item of content) {
    assert.equal(typeof item.token, 'string');
    assert.ok(item.logprob <= 0);
    assert.ok(Array.isArray(item.bytes));
    assert.equal(item.top_logprobs.length, 3);
    // greedy: the chosen token is the most likely one
    assert.ok(Math.abs(item.top_logprobs[0].logprob - item.logprob) < 1e-5);
    assert.ok(item.top_logprobs[0].logprob >= item.top_logprobs[1].logprob);
  }
  const c = await client.completions.create({ model: 'tiny', prompt: 'Once', max_tokens: 4, temperature: 0, logprobs: 2 });
  const lp = c.choices[0].logprobs;
  assert.equal(lp.tokens.length, 4);
  assert.equal(lp.token_logprobs.length, 4);
  assert.equal(lp.text_offset[0], 0);
  assert.equal(Object.keys(lp.top_logprobs[0]).length, 2);
});

test('logit_bias and presence/frequency penalties change the greedy choice', async () => {
  const base = { model: 'tiny', prompt: 'Once upon a time', max_tokens: 60, temperature: 0 };
  const plain = await client.completions.create({ ...base, logprobs: 0 });
  // the id of the first generated token: the one after the prompt's in the whole text
  const tok = async (content) => (await postJson(server.url, '/tokenize', { content, add_special: true },
    { Authorization: `Bearer ${KEY}` })).json.tokens;
  const nPrompt = (await tok(base.prompt)).length;
  const firstTok = (await tok(base.prompt + plain.choices[0].text))[nPrompt];
  const biased = await client.completions.create({ ...base, max_tokens: 1, logit_bias: { [firstTok]: -100 } });
  assert.notEqual(biased.choices[0].text, plain.choices[0].logprobs.tokens[0], 'a -100 bias bans the token');
  const penalized = await client.completions.create({ ...base, frequency_penalty: 2, presence_penalty: 2 });
  assert.notEqual(penalized.choices[0].text, plain.choices[0].text);
  const count = (t) => { const w = t.split(/\s+/); return w.length - new Set(w).size; };
  assert.ok(count(penalized.choices[0].text) < count(plain.choices[0].text), 'fewer repeated words');
});

test('models, tokenize, detokenize', async () => {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['tiny']);
  const auth = { Authorization: `Bearer ${KEY}` };
  const t = await postJson(server.url, '/tokenize', { content: 'Once upon a time', add_special: true }, auth);
  assert.equal(t.status, 200);
  assert.equal(t.json.tokens[0], 1, 'BOS first with add_special');
  const d = await postJson(server.url, '/detokenize', { tokens: t.json.tokens }, auth);
  assert.equal(d.json.content, 'Once upon a time');
  const p = await postJson(server.url, '/tokenize', { content: 'a b', with_pieces: true }, auth);
  assert.ok(p.json.tokens.every((x) => typeof x.id === 'number' && x.piece !== undefined));
  const ids = await client.completions.create({ model: 'tiny', prompt: t.json.tokens, max_tokens: 10, temperature: 0 });
  const text = await client.completions.create({ model: 'tiny', prompt: 'Once upon a time', max_tokens: 10, temperature: 0 });
  assert.equal(ids.choices[0].text, text.choices[0].text, 'token ids and text give the same reply');
});

test('metrics count requests and tokens', async () => {
  const before = await request(server.url, 'GET', '/metrics', { headers: { Authorization: `Bearer ${KEY}` } });
  assert.equal(before.status, 200);
  const value = (text, name) => Number(text.match(new RegExp(`^llamac_${name} (\\S+)$`, 'm'))[1]);
  await client.completions.create({ model: 'tiny', prompt: 'One day', max_tokens: 7, temperature: 0 });
  const now = await request(server.url, 'GET', '/metrics', { headers: { Authorization: `Bearer ${KEY}` } });
  assert.equal(value(now.text, 'requests_total') - value(before.text, 'requests_total'), 1);
  assert.ok(value(now.text, 'generated_tokens_total') - value(before.text, 'generated_tokens_total') >= 1);
  assert.equal(value(now.text, 'slots_total'), 4);
  assert.match(now.text, /# TYPE llamac_queue_length gauge/);
});

test('API key: required everywhere but /health, wrong keys refused', async () => {
  assert.equal((await request(server.url, 'GET', '/health')).status, 200);
  const none = await request(server.url, 'GET', '/v1/models');
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, 'invalid_api_key');
  const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY + 'x', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => e.status === 401);
  const prefix = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY.slice(0, -1), maxRetries: 0 });
  await assert.rejects(prefix.models.list(), (e) => e.status === 401);
});

test('CORS headers only for the configured origin', async () => {
  const h = { Authorization: `Bearer ${KEY}` };
  const ok = await request(server.url, 'GET', '/v1/models', { headers: { ...h, Origin: 'http://allowed.example' } });
  assert.equal(ok.headers['access-control-allow-origin'], 'http://allowed.example');
  const other = await request(server.url, 'GET', '/v1/models', { headers: { ...h, Origin: 'http://evil.example' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  const pre = await request(server.url, 'OPTIONS', '/v1/chat/completions', { headers: {
    Origin: 'http://allowed.example', 'Access-Control-Request-Method': 'POST' } });
  assert.equal(pre.status, 204);
  assert.match(pre.headers['access-control-allow-headers'], /Authorization/);
});
