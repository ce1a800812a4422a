/**
 * Where @breakwater/http's time goes: requests/s with each default layer
 * removed by role, against raw undici `Pool`, interleaved over rounds in one
 * process; prints the median per-round ratio to raw undici of each variant.
 * A script, not a test (build first):
 *
 *   scripts/bw pnpm exec tsc -b && scripts/bw node bench/http/layers.ts [ms per run] [rounds]
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { createClient } from '../../packages/http/dist/index.js';

const require = createRequire(new URL('../../packages/http/package.json', import.meta.url));
const undici = require('undici') as typeof import('undici');

const RUN_MS = Number(process.argv[2] ?? 700);
const ROUNDS = Number(process.argv[3] ?? 9);
const CONCURRENCY = 32;
const BODY = Buffer.alloc(128, 'x');

const server = http.createServer((_req, res) => res.end(BODY));
server.keepAliveTimeout = 60_000;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
const resolve = async () => [{ address: '127.0.0.1', family: 4 as const, ttlMs: 60_000 }];
const url = `http://bench.internal:${port}/`;

const without = (...roles: string[]) => createClient({ resolve, layers: (d) => d.filter((l) => !roles.includes(l.role)) });
const variants = {
  'all layers': createClient({ resolve }),
  'without circuit': without('circuit'),
  'without retry': without('retry'),
  'without deadline': without('deadline'),
  'without balance': without('balance'),
  'no layers but dns': without('deadline', 'retry', 'circuit', 'balance'),
};
const pool = new undici.Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY });
const clients: Record<string, () => Promise<unknown>> = { 'undici Pool': async () => (await pool.request({ path: '/', method: 'GET' })).body.arrayBuffer() };
for (const [name, c] of Object.entries(variants)) clients[name] = async () => (await c.request(url)).body.arrayBuffer();

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
const ratios = new Map<string, number[]>(Object.keys(variants).map((n) => [n, []]));
const cpuRatios = new Map<string, number[]>(Object.keys(variants).map((n) => [n, []]));
for (const fn of Object.values(clients)) await measure(fn);
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? Object.entries(clients) : Object.entries(clients).reverse();
  const rates = new Map<string, { wall: number; cpu: number }>();
  for (const [name, fn] of order) rates.set(name, await measure(fn));
  const raw = rates.get('undici Pool')!;
  for (const name of Object.keys(variants)) {
    ratios.get(name)!.push(rates.get(name)!.wall / raw.wall);
    cpuRatios.get(name)!.push(rates.get(name)!.cpu / raw.cpu);
  }
}
const results = [...ratios].map(([variant, r]) => ({
  variant,
  ratio: Number(median(r).toFixed(3)),
  ratioMin: Number(Math.min(...r).toFixed(3)),
  ratioMax: Number(Math.max(...r).toFixed(3)),
  cpuRatio: Number(median(cpuRatios.get(variant)!).toFixed(3)),
}));
console.log(`÷ raw undici Pool, median of ${ROUNDS} interleaved rounds of ${RUN_MS} ms (min–max):`);
for (const r of results)
  console.log(`  ${r.variant.padEnd(20)} ${r.ratio.toFixed(2)} (${r.ratioMin.toFixed(2)}–${r.ratioMax.toFixed(2)}); per CPU-second ${r.cpuRatio.toFixed(2)}`);
console.log(JSON.stringify({ bench: 'http-layers', node: process.version, runMs: RUN_MS, rounds: ROUNDS, results }));
await Promise.all([...Object.values(variants).map((c) => c.close()), pool.close()]);
server.closeAllConnections();
server.close();
