/**
 * Scale curve: JavaScript heap per request in flight and per idle pooled
 * connection, @breakwater/http (every default layer on) against undici
 * `request(url)` through an `Agent`, at 10 … 10,000 requests in flight.
 *
 * The server (its own process, bench/support/responder.ts) holds every
 * response, so `n` requests are really in flight at once, each on its own
 * connection (both clients may open `n`). For each size and client, with a
 * fresh client: `heapUsed` after `gc()` before any request (baseline), once the
 * server has received all `n` requests (in flight), and after the server has
 * answered them all (idle: the connections stay pooled; the server's count of
 * open connections says how many; both clients keep idle connections
 * `LONG_KEEP_ALIVE_MS`, so none closes while a big size is measured).
 * Per request = (in flight − baseline) ÷ n; per idle connection = (idle −
 * baseline) ÷ open connections; the request's own state = (in flight − idle)
 * ÷ n. Clients alternate which goes first; a warm-up pass runs first (code
 * and lazy state that would otherwise land in the first measurement), and a
 * throwaway pass at each size before it is measured.
 *
 *   scripts/bw pnpm exec tsc -b && scripts/bw node --expose-gc bench/http/heap.ts [--sizes 10,100,1000,10000]
 *
 * 10,000 connections need that many open files on each side (`ulimit -n`; the
 * server splits its ports across processes, but one port's connections stay
 * in one process).
 */
import { createClient } from '../../packages/http/dist/index.js';
import { capRunTime, flags, printResult } from '../support/cli.ts';
import { BENCH_HOST, LABELS, LONG_KEEP_ALIVE_MS, resolveToLoopback, undici } from '../support/clients.ts';
import { round3 } from '../support/rounds.ts';
import { startServer } from '../support/server.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('bench/http/heap.ts measures the heap after garbage collection: run it with node --expose-gc');
  process.exit(2);
}
const o = flags({ sizes: [10, 100, 1_000, 10_000], warmup: 50 });
if (o.sizes.some((n) => n < 1 || n > 15_000 || !Number.isInteger(n))) throw new Error('--sizes must be integers 1…15000');
capRunTime(120 + o.sizes.reduce((a, n) => a + n, 0) / 60);

const server = await startServer();
const port = server.port;

interface Subject {
  call: () => Promise<unknown>;
  close: () => Promise<void>;
}
const subjects: Record<string, (connections: number) => Subject> = {
  [LABELS.breakwater]: (connections) => {
    const bw = createClient({ resolve: resolveToLoopback, connections, keepAliveTimeoutMs: LONG_KEEP_ALIVE_MS });
    return { call: async () => (await bw.request(`http://${BENCH_HOST}:${port}/`)).body.arrayBuffer(), close: () => bw.close() };
  },
  [LABELS.agent]: (connections) => {
    const agent = new undici.Agent({ connections, keepAliveTimeout: LONG_KEEP_ALIVE_MS, keepAliveMaxTimeout: LONG_KEEP_ALIVE_MS });
    return { call: async () => (await undici.request(`http://127.0.0.1:${port}/`, { dispatcher: agent })).body.arrayBuffer(), close: () => agent.close() };
  },
};

const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

async function one(name: string, n: number) {
  const client = subjects[name]!(n);
  const baseline = heap();
  await server.hold();
  const inFlight = Array.from({ length: n }, () => client.call());
  await server.waitHeld(n, 25_000);
  const held = heap();
  await server.release();
  await Promise.all(inFlight);
  const idleConnections = (await server.stats()).connections;
  const idle = heap();
  // Closed from the server side first, so the TIME_WAIT ports are the server's, not the client's ephemeral ones.
  await server.drop();
  await client.close();
  return {
    client: name,
    heapPerInFlightBytes: Math.round((held - baseline) / n),
    heapPerIdleConnectionBytes: idleConnections === 0 ? null : Math.round((idle - baseline) / idleConnections),
    // What a request holds beyond its connection: in flight minus the same connections idle.
    heapPerRequestStateBytes: Math.round((held - idle) / n),
    idleConnections,
  };
}

for (const name of Object.keys(subjects)) await one(name, o.warmup);
const sizes = [];
for (const [i, n] of o.sizes.entries()) {
  const order = i % 2 === 0 ? Object.keys(subjects) : Object.keys(subjects).reverse();
  // A throwaway pass at each size: the first client to reach a new high-water
  // mark of connections pays ~2 KB per connection for process-wide structures
  // (handle tables, socket maps) that every later client reuses.
  await one(order[0]!, n);
  const results = [];
  for (const name of order) results.push(await one(name, n));
  results.sort((a, b) => Object.keys(subjects).indexOf(a.client) - Object.keys(subjects).indexOf(b.client));
  const [bw, ref] = results as [(typeof results)[0], (typeof results)[0]];
  const ratio = round3(bw.heapPerInFlightBytes / ref.heapPerInFlightBytes);
  const idleRatio =
    bw.heapPerIdleConnectionBytes === null || ref.heapPerIdleConnectionBytes === null
      ? null
      : round3(bw.heapPerIdleConnectionBytes / ref.heapPerIdleConnectionBytes);
  sizes.push({ inFlight: n, results, ratio, idleRatio });
  console.log(
    `${String(n).padStart(6)} in flight: ${results.map((r) => `${r.client} ${r.heapPerInFlightBytes} B/request, ${r.heapPerIdleConnectionBytes} B/idle connection (${r.idleConnections} idle)`).join('; ')}; Breakwater ÷ undici ${ratio}`,
  );
}
await server.close();
printResult({ bench: 'http-heap', node: process.version, sizes });
