import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Issue 13, bounded per-origin state: a webhook sender calling 20,000 distinct host names once each.
// Every name resolves (a custom `resolve`) to one local server, so the client's per-name state — DNS
// answers, retry budgets, circuit breakers — is what grows. Measured in a child process with
// --expose-gc (the built package, as a user runs it): retained heap and live timers after a warm-up
// of 2,000 names, then after 20,000 more. The naive side is the same client with the cap lifted
// (`maxOrigins` 10 million), i.e. what every version before this one did. Each name is its own origin
// (the request keeps its name; the connect step resolves it), so each gets a connection pool: the cap
// bounds the pools too, closing the least recently used idle one (client and server socket per pool).
// A TCP connection per name, as undici's own Agent makes, is why a run takes ~30–60 s on 2 busy cores.

const httpDist = new URL('../../packages/http/dist/index.js', import.meta.url).href;
const HOSTS = 20_000;
const WARMUP = 2_000;

const script = `
  // Live timers, counted by wrapping the globals before anything else loads (unref'd ones included,
  // which process.getActiveResourcesInfo() leaves out).
  const live = new Set();
  const st = globalThis.setTimeout;
  const ct = globalThis.clearTimeout;
  globalThis.setTimeout = function (fn, ms, ...args) {
    const h = st(function (...x) { live.delete(h); return fn.apply(this, x); }, ms, ...args);
    live.add(h);
    return h;
  };
  globalThis.clearTimeout = function (h) { live.delete(h); return ct(h); };
  const http = await import('node:http');
  const { createClient } = await import(${JSON.stringify(httpDist)});
  const maxOrigins = Number(process.argv[1]);
  const server = http.createServer((req, res) => res.end('ok'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const client = createClient({ maxOrigins, resolve: async () => [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }] });
  const run = async (from, to) => {
    let next = from;
    const worker = async () => {
      while (next < to) {
        const i = next++;
        const res = await client.request('http://host-' + i + '.webhooks.test:' + port + '/hook');
        await res.body.text();
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
  };
  const settle = async () => { for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); } };
  // Handles right after the run: the open connections, at most one per pool (maxOrigins pools). Heap and
  // timers once those idle connections have closed (keepAliveTimeoutMs, 4 s): what the client keeps per
  // name, not the sockets of the last few seconds.
  const snapshot = async () => {
    const handles = process.getActiveResourcesInfo().filter((t) => t !== 'Timeout' && t !== 'Immediate').length;
    await new Promise((r) => setTimeout(r, 5_000));
    await settle();
    return { heapMB: process.memoryUsage().heapUsed / 2 ** 20, timers: live.size, handles };
  };
  await run(0, ${WARMUP});
  const before = await snapshot();
  const started = performance.now();
  await run(${WARMUP}, ${WARMUP + HOSTS});
  const elapsedMs = Math.round(performance.now() - started);
  const after = await snapshot();
  await client.close();
  server.close();
  console.log(JSON.stringify({ before, after, elapsedMs }));
  process.exit(0);
`;

interface Run {
  before: { heapMB: number; timers: number; handles: number };
  after: { heapMB: number; timers: number; handles: number };
  elapsedMs: number;
}

function measure(maxOrigins: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script, String(maxOrigins)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 179_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`child exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Run);
    });
  });
}

describe('issue 13: per-origin state stays bounded', () => {
  it(`${HOSTS} distinct host names, one request each: heap growth and live timers bounded; without the cap they grow`, { timeout: 180_000 }, async () => {
    // Side by side: two children, one per core.
    const [bounded, naive] = await Promise.all([measure(1_000), measure(10_000_000)]);
    const growth = (r: Run) => r.after.heapMB - r.before.heapMB;
    const line = (label: string, r: Run) =>
      `${label}: heap ${r.before.heapMB.toFixed(1)} → ${r.after.heapMB.toFixed(1)} MB (${growth(r) >= 0 ? '+' : ''}${growth(r).toFixed(1)} MB), ` +
      `timers ${r.before.timers} → ${r.after.timers}, handles ${r.before.handles} → ${r.after.handles}, ${HOSTS} requests in ${(r.elapsedMs / 1000).toFixed(1)} s`;
    console.log(`[issue-13] ${line('maxOrigins 1,000 (default)', bounded)}`);
    console.log(`[issue-13] ${line('naive, no cap', naive)}`);

    // Bounded: a few MB at most, whatever the number of names; timers and handles do not follow it.
    expect(growth(bounded)).toBeLessThan(5);
    // Timers: at most one per pool still open (a connection whose keep-alive timer has not fired yet on a
    // loaded machine: a CI run saw 1,001 against 920 before) — never one per name (20,000).
    expect(bounded.after.timers).toBeLessThanOrEqual(bounded.before.timers + 1_000 + 50);
    // At most maxOrigins pools, each with one connection: a client and a server socket.
    expect(bounded.after.handles).toBeLessThanOrEqual(2 * 1_000 + 5);
    // Naive: the same run keeps state for every name. (Its timers are not compared: they belong to live
    // connections, which keep-alive closes in both runs, and to breaker windows, which stop when quiet.)
    expect(growth(naive)).toBeGreaterThan(10 * Math.max(1, growth(bounded)));
  });
});
