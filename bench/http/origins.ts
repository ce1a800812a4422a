/**
 * Scale curve: cost against the number of origins (1 … 10,000 by default),
 * @breakwater/http (every default layer on) against undici `request(url)`
 * through an `Agent`. Origin i is `http://o<i>.bench.internal:<port i>/`: a
 * host name of its own (Breakwater's `resolve` option and the Agent's
 * `connect.lookup` map every name to 127.0.0.1) and a port of its own on the
 * server (its own processes, bench/support/responder.ts), so each origin is a
 * distinct pool, connection and DNS entry for both clients.
 *
 * Per size and round, with a fresh client: a cold pass (one request to each
 * origin: a name to resolve, a pool and a connection to create; client CPU µs
 * per origin), a warm pass (`--warm-requests` requests, at least one per
 * origin, round-robin over the origins; req/s and client CPU µs per request),
 * then the heap after `gc()` per origin over the baseline (each origin with
 * its idle connection). Both at `--concurrency` in flight. Clients alternate
 * which goes first; medians over `--rounds` rounds, after one warm-up pass
 * on a few origins.
 *
 *   scripts/bw pnpm exec tsc -b && scripts/bw node --expose-gc bench/http/origins.ts [--sizes 1,10,100,1000,10000] [--rounds 3]
 */
import type { LookupAddress, LookupOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { createClient } from '../../packages/http/dist/index.js';
import { capRunTime, flags, printResult } from '../support/cli.ts';
import { LABELS, LONG_KEEP_ALIVE_MS, resolveToLoopback, undici } from '../support/clients.ts';
import { interleave, median, round3 } from '../support/rounds.ts';
import { startServer } from '../support/server.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('bench/http/origins.ts measures the heap after garbage collection: run it with node --expose-gc');
  process.exit(2);
}
const o = flags({ sizes: [1, 10, 100, 1_000, 10_000], rounds: 3, concurrency: 64, 'warm-requests': 2_000 });
if (o.sizes.some((n) => n < 1 || n > 10_000 || !Number.isInteger(n))) throw new Error('--sizes must be integers 1…10000');
capRunTime(120 + (o.rounds + 1) * o.sizes.reduce((a, n) => a + n, 0) * 0.004);

const server = await startServer({ ports: Math.max(...o.sizes) });
const urls = server.ports.map((port, i) => `http://o${i}.bench.internal:${port}/`);

/** What `net.connect()` calls: with `all` (Node's autoSelectFamily) it wants a list. */
const lookup = ((_host: string, opts: LookupOptions, cb: (err: null, address: string | LookupAddress[], family?: number) => void) =>
  opts.all === true ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4)) as unknown as LookupFunction;

const make: Record<string, () => { request: (url: string) => Promise<unknown>; close: () => Promise<void> }> = {
  [LABELS.breakwater]: () => {
    const bw = createClient({ resolve: resolveToLoopback, keepAliveTimeoutMs: LONG_KEEP_ALIVE_MS });
    return { request: async (url) => (await bw.request(url)).body.arrayBuffer(), close: () => bw.close() };
  },
  [LABELS.agent]: () => {
    // Breakwater's default connection limit per origin (undici's is none), so N = 1 compares like with like.
    const agent = new undici.Agent({ connections: 32, keepAliveTimeout: LONG_KEEP_ALIVE_MS, keepAliveMaxTimeout: LONG_KEEP_ALIVE_MS, connect: { lookup } });
    return { request: async (url) => (await undici.request(url, { dispatcher: agent })).body.arrayBuffer(), close: () => agent.close() };
  },
};

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

/** Sends `count` requests, `concurrency` at a time, to urls[i % n]; returns wall ms and client CPU µs. */
async function pass(request: (url: string) => Promise<unknown>, n: number, count: number) {
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency, count) }, async () => {
      while (next < count) await request(urls[next++ % n]!);
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { ms: performance.now() - t0, cpuUs: cpu.user + cpu.system };
}

async function one(name: string, n: number) {
  const client = make[name]!();
  const baseline = heap();
  const cold = await pass(client.request, n, n);
  const warmCount = Math.max(n, o['warm-requests']);
  const warm = await pass(client.request, n, warmCount);
  const perOrigin = (heap() - baseline) / n;
  await server.drop();
  await client.close();
  return {
    coldCpuUsPerOrigin: cold.cpuUs / n,
    warmReqPerSec: warmCount / (warm.ms / 1000),
    warmCpuUsPerRequest: warm.cpuUs / warmCount,
    heapPerOriginBytes: perOrigin,
  };
}

// One warm-up pass on a few origins (JIT, lazily created state), not one per size: at 10,000 that would double the run.
for (const name of Object.keys(make)) await one(name, Math.min(10, Math.max(...o.sizes)));
const sizes = [];
for (const n of o.sizes) {
  const rounds = await interleave(Object.keys(make), o.rounds, (name) => one(name, n), false);
  const results = [...rounds].map(([client, rs]) => {
    const m = (k: keyof (typeof rs)[0]) => round3(median(rs.map((r) => r[k])));
    return {
      client,
      coldCpuUsPerOrigin: m('coldCpuUsPerOrigin'),
      warmReqPerSec: Math.round(m('warmReqPerSec')),
      warmCpuUsPerRequest: m('warmCpuUsPerRequest'),
      heapPerOriginBytes: Math.round(m('heapPerOriginBytes')),
    };
  });
  sizes.push({ origins: n, results });
  console.log(
    `${String(n).padStart(6)} origins: ${results.map((r) => `${r.client}: cold ${r.coldCpuUsPerOrigin.toFixed(0)} µs CPU/origin, warm ${r.warmCpuUsPerRequest.toFixed(0)} µs CPU/req, ${r.heapPerOriginBytes} B heap/origin`).join('; ')}`,
  );
}
await server.close();
printResult({ bench: 'http-origins', node: process.version, rounds: o.rounds, concurrency: o.concurrency, warmRequests: o['warm-requests'], sizes });
