/**
 * Requests per second of @breakwater/http (every layer on: deadline, retry,
 * circuit, balance, dns through an injected resolver) against raw undici
 * `Pool`, `http.Agent`, Node's global `fetch`, axios and got, one local
 * keep-alive server, the same concurrency, in one run. Clients alternate over
 * `ROUNDS` rounds so CPU drift hits all; the best round of each is kept.
 *
 * Runs the compiled packages, as a user would (build first):
 *   scripts/bw pnpm exec tsc -b && scripts/bw node bench/http/throughput.ts [ms per run] [rounds]
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createClient } from '../../packages/http/dist/index.js';

const require = createRequire(new URL('../../packages/http/package.json', import.meta.url));
const undici = require('undici') as typeof import('undici');
const axios = (require('axios') as { default: typeof import('axios').default }).default;
const got = ((await import(require.resolve('got'))) as { default: typeof import('got').default }).default;

const RUN_MS = Number(process.argv[2] ?? 1_500);
const ROUNDS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 32;
const BODY = Buffer.alloc(128, 'x');

const server = http.createServer((_req, res) => res.end(BODY));
server.keepAliveTimeout = 60_000;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
const url = `http://127.0.0.1:${port}/`;

const bw = createClient({ resolve: async () => [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }] });
const bwUrl = `http://bench.internal:${port}/`;
const pool = new undici.Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY });
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const gotClient = got.extend({ agent: { http: agent }, retry: { limit: 0 } });

const clients: Record<string, () => Promise<unknown>> = {
  breakwater: async () => (await bw.request(bwUrl)).body.arrayBuffer(),
  'undici Pool': async () => (await pool.request({ path: '/', method: 'GET' })).body.arrayBuffer(),
  'http.Agent': () =>
    new Promise((resolve, reject) => {
      http
        .get(url, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    }),
  'global fetch': async () => (await globalThis.fetch(url)).arrayBuffer(),
  axios: () => axios.get(url, { httpAgent: agent, responseType: 'arraybuffer' }),
  got: () => gotClient.get(url).buffer(),
};

async function measure(fn: () => Promise<unknown>): Promise<number> {
  let done = 0;
  const until = performance.now() + RUN_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await fn();
        done++;
      }
    }),
  );
  return done / (RUN_MS / 1000);
}

const best = new Map<string, number>();
for (const fn of Object.values(clients)) await measure(fn); // warm-up (JIT, connections)
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, fn] of Object.entries(clients)) best.set(name, Math.max(best.get(name) ?? 0, await measure(fn)));
}

const base = best.get('breakwater') ?? 0;
const raw = best.get('undici Pool') ?? 1;
const fetchRate = best.get('global fetch') ?? 1;
console.log(`node ${process.version}, ${CONCURRENCY} in flight, ${RUN_MS} ms × ${ROUNDS} rounds, best round\n`);
console.log('| client | req/s | Breakwater ÷ client |');
console.log('| --- | ---: | ---: |');
for (const [name, rate] of best) console.log(`| ${name} | ${Math.round(rate)} | ${(base / rate).toFixed(2)} |`);
console.log(`\nBreakwater / raw undici: ${(base / raw).toFixed(2)} (goal ≥ 0.95); Breakwater / global fetch: ${(base / fetchRate).toFixed(2)} (goal ≥ 1.5)`);

await Promise.all([bw.close(), pool.close()]);
agent.destroy();
server.closeAllConnections();
server.close();
