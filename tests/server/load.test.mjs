// Batching must not change results: 32 clients at once, each with its own
// prompt at temperature 0, get exactly what the same prompt gets alone.
// With 8 slots and a queue, prompt chunks and decode rows of different
// requests share batches; the concurrent answers are compared with
// sequential ones from the same server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startServer } from './harness.mjs';

let server, client;
const N = 32;
const subjects = ['cat', 'dog', 'bird', 'fish', 'frog', 'bear', 'girl', 'boy'];
const places = ['park', 'house', 'garden', 'forest'];
// distinct prompts of different lengths, some sharing prefixes
const prompts = Array.from({ length: N }, (_, i) =>
  `Once upon a time there was a ${subjects[i % 8]} who lived in a ${places[(i >> 3) % 4]}.` +
  ' It liked to play.'.repeat(i % 3));

before(async () => {
  server = await startServer(['--parallel', '8', '--ctx', '256', '--max-queue', '64', '--chat-template', 'llama2']);
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
});

after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0);
});

const ask = (i, stream) => client.completions.create({ model: 'm', prompt: prompts[i], max_tokens: 32 + (i % 5) * 8,
  temperature: 0, stream });

async function text(i, stream) {
  if (!stream) return (await ask(i, false)).choices[0].text;
  let t = '';
  for await (const c of await ask(i, true)) t += c.choices[0]?.text ?? '';
  return t;
}

test('32 concurrent clients get the answers they get alone', async () => {
  const alone = [];
  for (let i = 0; i < N; i++) alone.push(await text(i, false));
  // half streamed, half not, all at once
  const results = await Promise.allSettled(prompts.map((_, i) => text(i, i % 2 === 1)));
  const errors = results.filter((r) => r.status === 'rejected');
  assert.equal(errors.length, 0, `errors: ${errors.map((e) => e.reason).join('; ')}`);
  results.forEach((r, i) => assert.equal(r.value, alone[i], `prompt ${i}`));
});

test('chat requests in parallel with a shared system prompt', async () => {
  const system = 'You are a storyteller who tells short stories about animals in the forest.';
  const msgs = (i) => [{ role: 'system', content: system }, { role: 'user', content: `Tell me about the ${subjects[i]}.` }];
  const alone = [];
  for (let i = 0; i < 8; i++)
    alone.push((await client.chat.completions.create({ model: 'm', messages: msgs(i), max_tokens: 24, temperature: 0 })));
  const together = await Promise.all(subjects.map((_, i) =>
    client.chat.completions.create({ model: 'm', messages: msgs(i), max_tokens: 24, temperature: 0 })));
  together.forEach((r, i) => assert.equal(r.choices[0].message.content, alone[i].choices[0].message.content));
  // the system prompt's tokens were found in the cache
  assert.ok(together.every((r) => r.usage.prompt_tokens_details.cached_tokens > 10));
});
