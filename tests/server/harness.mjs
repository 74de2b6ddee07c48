// Helpers for the `llamac serve` tests: start a server on a free loopback
// port, wait until /health says it is ready, stop it with SIGTERM and
// check that it exits 0; run the CLI for reference outputs; raw HTTP for
// requests the OpenAI client would refuse to send.
import { spawn, execFileSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MODEL = path.resolve(here, '../../models/stories260K.gguf');
export const BIN = process.env.LLAMAC_BIN;
if (!BIN) throw new Error('LLAMAC_BIN must name the llamac executable');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts `llamac serve` with extra arguments; resolves once /health is 200
// (or, with waitReady false, as soon as the server listens).
export async function startServer(args = [], { waitReady = true } = {}) {
  const proc = spawn(BIN, ['serve', '-m', MODEL, '--port', '0', '-t', '1', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 60000);
    proc.stderr.on('data', (d) => {
      log += d.toString();
      const m = log.match(/listening on http:\/\/[^:]+:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600 && waitReady; i++) {
    const r = await request(url, 'GET', '/health').catch(() => null);
    if (r && r.status === 200) break;
    await sleep(50);
  }
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    url,
    port,
    proc,
    log: () => log,
    // SIGTERM (or the signal given), then the exit status (must be 0)
    async stop(signal = 'SIGTERM') {
      proc.kill(signal);
      return exited;
    },
  };
}

// One HTTP request without the OpenAI client. body: string or Buffer.
export function request(url, method, route, { body, headers = {}, timeout = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url + route, { method, headers, timeout }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export function postJson(url, route, obj, headers = {}) {
  return request(url, 'POST', route, {
    body: JSON.stringify(obj),
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

// What `llamac run --temp 0` prints for a prompt (no echo, no final newline).
export function runCli(args) {
  const out = execFileSync(BIN, ['run', '-m', MODEL, '--temp', '0', '-t', '1', '--no-display-prompt', ...args], {
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  return out.endsWith('\n') ? out.slice(0, -1) : out;
}
