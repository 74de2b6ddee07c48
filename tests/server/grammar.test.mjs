// Constrained replies through the OpenAI client: response_format json_schema
// and json_object, llama.cpp's `grammar` field (GBNF), streamed and not, at
// temperature 1 so that only the grammar keeps the tiny model's text valid;
// invalid schemas and grammars are 400s that name the problem.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer } from './harness.mjs';

let server, client;

before(async () => {
  server = await startServer(['--parallel', '2', '--ctx', '512', '--chat-template', 'llama2']);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
});

after(async () => {
  const { code, signal } = await server.stop();
  assert.equal(signal, null);
  assert.equal(code, 0);
});

const messages = [{ role: 'user', content: 'Describe a cat as JSON.' }];
// bounded strings and no numbers, so every reply ends well within max_tokens
const schema = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 10 }, happy: { type: 'boolean' },
    color: { enum: ['red', 'green', 'blue'] } },
  required: ['name', 'happy', 'color'],
  additionalProperties: false,
};
const jsonSchema = { type: 'json_schema', json_schema: { name: 'cat', schema, strict: true } };

function checkCat(text) {
  const v = JSON.parse(text);
  assert.equal(typeof v, 'object');
  assert.deepEqual(Object.keys(v).sort(), ['color', 'happy', 'name']);
  assert.equal(typeof v.name, 'string');
  assert.ok(v.name.length <= 10);
  assert.equal(typeof v.happy, 'boolean');
  assert.ok(['red', 'green', 'blue'].includes(v.color));
}

test('response_format json_schema: JSON with the required properties', async () => {
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({ model: 'x', messages, temperature: 1, seed,
      max_tokens: 200, response_format: jsonSchema });
    assert.equal(r.choices[0].finish_reason, 'stop', r.choices[0].message.content);
    checkCat(r.choices[0].message.content);
  }
});

test('response_format json_schema, streamed', async () => {
  const s = await client.chat.completions.create({ model: 'x', messages, temperature: 1, seed: 7,
    max_tokens: 200, response_format: jsonSchema, stream: true });
  let text = '', finish = null, chunks = 0;
  for await (const chunk of s) {
    chunks++;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'stop');
  assert.ok(chunks > 3, 'the reply arrives in several events');
  checkCat(text);
});

test('response_format json_object: a JSON object', async () => {
  // Any object may be long, and this story model rarely closes a string on
  // its own: a bias towards '"' (436) and '}' (128) makes replies short,
  // while the grammar alone keeps them valid JSON.
  for (const seed of [1, 2, 3]) {
    const r = await client.chat.completions.create({ model: 'x', messages, temperature: 1, seed,
      max_tokens: 200, logit_bias: { 436: 10, 128: 10 }, response_format: { type: 'json_object' } });
    const text = r.choices[0].message.content;
    assert.equal(r.choices[0].finish_reason, 'stop', text);
    const v = JSON.parse(text);
    assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v), text);
  }
});

test('grammar (GBNF): exactly one of the alternatives', async () => {
  const seen = new Set();
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const r = await client.chat.completions.create({ model: 'x', messages, temperature: 1, seed,
      max_tokens: 20, grammar: 'root ::= "yes" | "no"' });
    assert.ok(['yes', 'no'].includes(r.choices[0].message.content), r.choices[0].message.content);
    assert.equal(r.choices[0].finish_reason, 'stop');
    seen.add(r.choices[0].message.content);
  }
  // also on /v1/completions
  const c = await client.completions.create({ model: 'x', prompt: 'Once upon a time', temperature: 1,
    max_tokens: 20, grammar: 'root ::= "yes" | "no"' });
  assert.ok(['yes', 'no'].includes(c.choices[0].text), c.choices[0].text);
});

async function badRequest(body, param, pattern) {
  await assert.rejects(client.chat.completions.create({ model: 'x', messages, max_tokens: 5, ...body }), (err) => {
    assert.equal(err.status, 400, String(err));
    assert.equal(err.param, param);
    assert.match(err.message, pattern);
    return true;
  });
}

test('invalid schemas and grammars are 400s naming the problem', async () => {
  await badRequest({ response_format: { type: 'json_schema', json_schema: { name: 'x',
    schema: { type: 'object', properties: { a: { type: 'strnig' } } } } } }, 'response_format', /strnig/);
  await badRequest({ response_format: { type: 'json_schema', json_schema: { name: 'x',
    schema: { type: 'string', pattern: '^a+$' } } } }, 'response_format', /pattern/);
  await badRequest({ grammar: 'root ::= answer' }, 'grammar', /answer/);
  await badRequest({ grammar: 'root ::= "yes' }, 'grammar', /grammar/);
  await badRequest({ grammar: 'root ::= "a"', response_format: { type: 'json_object' } }, 'grammar', /both/);
  // the server still answers
  const r = await client.chat.completions.create({ model: 'x', messages, max_tokens: 3 });
  assert.equal(r.choices[0].finish_reason, 'length');
});
