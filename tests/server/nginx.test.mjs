// Scale-out: two replicas behind Debian's nginx with deploy/nginx.conf (its
// upstream ports and listen port rewritten to free loopback ports).
// Requests spread over both replicas, and a stream passes through nginx
// event by event (not buffered until the end) with the same text as a
// direct answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { startServer, request, sleep } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));
let replicas = [], nginx, dir, url;

const freePort = () => new Promise((resolve) => {
  const srv = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = srv.address();
    srv.close(() => resolve(port));
  });
});

before(async () => {
  const args = ['--parallel', '4', '--ctx', '256', '--metrics', '--debug-step-delay', '10'];
  replicas = await Promise.all([startServer(args), startServer(args)]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llamac-nginx-'));
  const port = await freePort();
  let site = fs.readFileSync(path.join(here, '../../deploy/nginx.conf'), 'utf8');
  const ups = site.match(/server 127\.0\.0\.1:\d+/g);
  assert.equal(ups.length, 2, 'deploy/nginx.conf lists two replicas');
  site = site.replace(ups[0], `server 127.0.0.1:${replicas[0].port}`)
    .replace(ups[1], `server 127.0.0.1:${replicas[1].port}`)
    .replace(/listen 8080;/, `listen 127.0.0.1:${port};`);
  fs.writeFileSync(path.join(dir, 'llamac.conf'), site);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `${t}_temp_path ${dir}/${t};`).join(' ');
  fs.writeFileSync(path.join(dir, 'nginx.conf'), `${process.getuid() === 0 ? 'user root;' : ''}
worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 256; }
http { access_log ${dir}/access.log; ${temp} include ${dir}/llamac.conf; }
`);
  nginx = spawn(NGINX, ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`], { stdio: 'ignore' });
  url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const r = await request(url, 'GET', '/health').catch(() => null);
    if (r && r.status === 200) return;
    await sleep(50);
  }
  throw new Error(`nginx did not come up: ${fs.readFileSync(`${dir}/error.log`, 'utf8')}`);
});

after(async () => {
  if (nginx) {
    const gone = new Promise((r) => nginx.on('exit', r));
    nginx.kill('SIGTERM');
    await gone;
  }
  for (const r of replicas) assert.equal((await r.stop()).code, 0);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const requestsOf = async (r) =>
  Number((await request(r.url, 'GET', '/metrics')).text.match(/^llamac_requests_total (\S+)$/m)[1]);

test('requests spread over both replicas', async () => {
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
  const answers = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    client.completions.create({ model: 'm', prompt: `Story ${i}:`, max_tokens: 20, temperature: 0 })));
  assert.ok(answers.every((a) => a.usage.completion_tokens > 0));
  const counts = await Promise.all(replicas.map(requestsOf));
  assert.equal(counts[0] + counts[1], 12);
  assert.ok(counts[0] >= 2 && counts[1] >= 2, `uneven spread: ${counts}`);
});

test('a stream survives the proxy, event by event', async () => {
  const direct = new OpenAI({ baseURL: `${replicas[0].url}/v1`, apiKey: 'none', maxRetries: 0 });
  const proxied = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
  const req = { model: 'm', prompt: 'Once upon a time', max_tokens: 60, temperature: 0 };
  const expected = (await direct.completions.create(req)).choices[0].text;
  const t0 = Date.now();
  let text = '', chunks = 0, firstAt = 0;
  for await (const c of await proxied.completions.create({ ...req, stream: true })) {
    if (chunks++ === 0) firstAt = Date.now() - t0;
    text += c.choices[0]?.text ?? '';
  }
  const total = Date.now() - t0;
  assert.equal(text, expected);
  assert.ok(chunks >= 30, `only ${chunks} events`);
  // 60 steps of >= 10 ms: a buffering proxy would deliver everything at the end
  assert.ok(firstAt < total / 2, `first event after ${firstAt} of ${total} ms`);
});
