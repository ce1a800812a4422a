/**
 * Requests per second of @breakwater/http (every layer on: deadline, retry,
 * circuit, balance, dns through an injected resolver) against raw undici
 * `Pool`, `http.Agent`, Node's global `fetch`, axios and got, one local
 * keep-alive server, the same concurrency, in one run. Clients alternate over
 * `ROUNDS` interleaved rounds so CPU drift hits all; the ratio Breakwater ÷
 * client is taken per round and the median over rounds reported, with its
 * spread. The last line is the same as JSON (for bench/report.ts).
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
// Not a goal, a reference: undici's own request(url) through an Agent, the path Breakwater's client takes
// (a URL per call, a pool per origin), so the table separates that from what Breakwater's layers cost.
const undiciAgent = new undici.Agent({ connections: CONCURRENCY });
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
const gotClient = got.extend({ agent: { http: agent }, retry: { limit: 0 } });

const clients: Record<string, () => Promise<unknown>> = {
  breakwater: async () => (await bw.request(bwUrl)).body.arrayBuffer(),
  'undici Pool': async () => (await pool.request({ path: '/', method: 'GET' })).body.arrayBuffer(),
  'undici request(url), Agent': async () => (await undici.request(url, { dispatcher: undiciAgent })).body.arrayBuffer(),
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

/** Requests per second of wall-clock time, and per second of this process's CPU time (less hit by other processes' load). */
async function measure(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  let done = 0;
  const cpu0 = process.cpuUsage();
  const until = performance.now() + RUN_MS;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await fn();
        done++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { wall: done / (RUN_MS / 1000), cpu: done / ((cpu.user + cpu.system) / 1e6) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rates = new Map<string, number[]>(Object.keys(clients).map((name) => [name, []]));
/** Breakwater ÷ client, per round: the machine's load drifts between rounds, less within one. */
const ratios = new Map<string, number[]>(Object.keys(clients).map((name) => [name, []]));
const cpuRatios = new Map<string, number[]>(Object.keys(clients).map((name) => [name, []]));
for (const fn of Object.values(clients)) await measure(fn); // warm-up (JIT, connections)
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so no client always runs right after the same neighbour.
  const order = round % 2 === 0 ? Object.entries(clients) : Object.entries(clients).reverse();
  const perRound = new Map<string, { wall: number; cpu: number }>();
  for (const [name, fn] of order) perRound.set(name, await measure(fn));
  const bwRound = perRound.get('breakwater')!;
  for (const [name, rate] of perRound) {
    rates.get(name)!.push(rate.wall);
    ratios.get(name)!.push(bwRound.wall / rate.wall);
    cpuRatios.get(name)!.push(bwRound.cpu / rate.cpu);
  }
}

const summary = Object.keys(clients).map((name) => {
  const r = ratios.get(name)!;
  return {
    client: name,
    reqPerSec: Math.round(median(rates.get(name)!)),
    ratio: Number(median(r).toFixed(3)),
    ratioMin: Number(Math.min(...r).toFixed(3)),
    ratioMax: Number(Math.max(...r).toFixed(3)),
    cpuRatio: Number(median(cpuRatios.get(name)!).toFixed(3)),
  };
});
console.log(`node ${process.version}, ${CONCURRENCY} in flight, ${RUN_MS} ms × ${ROUNDS} interleaved rounds, medians\n`);
console.log('| client | req/s (median) | Breakwater ÷ client (median of rounds) | min–max over rounds | per CPU-second |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const s of summary)
  console.log(`| ${s.client} | ${s.reqPerSec} | ${s.ratio.toFixed(2)} | ${s.ratioMin.toFixed(2)}–${s.ratioMax.toFixed(2)} | ${s.cpuRatio.toFixed(2)} |`);
const of = (name: string) => summary.find((s) => s.client === name)!.ratio;
console.log(
  `\nBreakwater / raw undici: ${of('undici Pool').toFixed(2)} (goal ≥ 0.95); Breakwater / global fetch: ${of('global fetch').toFixed(2)} (goal ≥ 1.5)`,
);
console.log(JSON.stringify({ bench: 'http', node: process.version, runMs: RUN_MS, rounds: ROUNDS, concurrency: CONCURRENCY, results: summary }));

await Promise.all([bw.close(), pool.close(), undiciAgent.close()]);
agent.destroy();
server.closeAllConnections();
server.close();
