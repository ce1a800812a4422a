/**
 * Where @breakwater/http's time goes: requests/s and requests per client
 * CPU-second with each default layer removed by role, and with every layer
 * composed as undici interceptors instead of fused (a pass-through layer of
 * the user's added at the end turns fusion off), against raw undici
 * `Pool`, interleaved over rounds, the server in its own process
 * (bench/support/responder.ts); prints the median per-round ratio to raw
 * undici of each variant. A script, not a test (build first):
 *
 *   scripts/bw pnpm exec tsc -b && scripts/bw node bench/http/layers.ts [--run-ms 700] [--rounds 9] [--server canned|http]
 */
import { createClient, type Layer } from '../../packages/http/dist/index.js';
import { capRunTime, flags, printResult } from '../support/cli.ts';
import { BENCH_HOST, LABELS, makeClients, resolveToLoopback } from '../support/clients.ts';
import { ratioOf, runRounds } from '../support/rounds.ts';
import { type ServerMode, startServer } from '../support/server.ts';

const o = flags({ 'run-ms': 700, rounds: 9, concurrency: 32, server: 'canned' }, ['run-ms', 'rounds']);
if (o.server !== 'canned' && o.server !== 'http') throw new Error(`--server must be canned or http, got ${o.server}`);
capRunTime(60 + (3 * 8 * (o.rounds + 1) * o['run-ms']) / 1000);

const server = await startServer({ mode: o.server as ServerMode });
const url = `http://${BENCH_HOST}:${server.port}/`;
const base = { resolve: resolveToLoopback, connections: o.concurrency };
// A user's layer: the stack is then composed from every layer's interceptor (the path before issue #18).
const passThrough: Layer = { role: 'passThrough', description: 'does nothing', interceptor: (dispatch) => (opts, handler) => dispatch(opts, handler) };
const without = (...roles: string[]) => createClient({ ...base, layers: (d) => d.filter((l) => !roles.includes(l.role)) });
const variants = {
  'all layers': createClient(base),
  'all layers, composed': createClient({ ...base, layers: (d) => [...d, passThrough] }),
  'without circuit': without('circuit'),
  'without retry': without('retry'),
  'without deadline': without('deadline'),
  'without balance': without('balance'),
  'no layers but dns': without('deadline', 'retry', 'circuit', 'balance'),
};
const raw = await makeClients(['pool'], { port: server.port, connections: o.concurrency });
const clients = { ...raw.calls };
for (const [name, c] of Object.entries(variants)) clients[name] = async () => (await c.request(url)).body.arrayBuffer();

const rates = await runRounds(clients, { runMs: o['run-ms'], rounds: o.rounds, concurrency: o.concurrency });
await Promise.all([...Object.values(variants).map((c) => c.close()), raw.close()]);
await server.close();

const results = Object.keys(variants).map((variant) => ({ variant, ...ratioOf(rates, variant, LABELS.pool) }));
console.log(`÷ raw undici Pool, server: ${o.server} (own process), median of ${o.rounds} interleaved rounds of ${o['run-ms']} ms (min–max):`);
for (const r of results)
  console.log(`  ${r.variant.padEnd(20)} ${r.ratio.toFixed(2)} (${r.ratioMin.toFixed(2)}–${r.ratioMax.toFixed(2)}); per CPU-second ${r.cpuRatio.toFixed(2)}`);
printResult({ bench: 'http-layers', node: process.version, server: o.server, runMs: o['run-ms'], rounds: o.rounds, concurrency: o.concurrency, results });
