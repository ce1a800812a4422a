/**
 * Latency at one request in flight: what @breakwater/http (every default
 * layer on) adds at p50 and p99 over undici's `request(url)` through an
 * `Agent` (the same path without the layers), with raw undici `Pool` beside
 * them. The server runs in its own process (bench/support/responder.ts).
 *
 * Each round sends `--requests` sequential requests per client, clients
 * interleaved (order reversed every other round) after a warm-up round; the
 * per-round difference of percentiles is taken, and the median over rounds
 * reported beside the percentiles of all samples pooled.
 *
 *   scripts/bw pnpm exec tsc -b && scripts/bw node bench/http/latency.ts [--requests 2000] [--rounds 9] [--server canned|http]
 */
import { capRunTime, flags, printResult } from '../support/cli.ts';
import { LABELS, makeClients } from '../support/clients.ts';
import { interleave, median, percentile } from '../support/rounds.ts';
import { type ServerMode, startServer } from '../support/server.ts';

const o = flags({ requests: 2_000, rounds: 9, server: 'canned' }, ['requests', 'rounds']);
if (o.server !== 'canned' && o.server !== 'http') throw new Error(`--server must be canned or http, got ${o.server}`);
// 3 clients × (rounds + warm-up) × requests, at worst 2 ms each on a loaded machine.
capRunTime(60 + (3 * (o.rounds + 1) * o.requests * 2) / 1000);

const server = await startServer({ mode: o.server as ServerMode });
const clients = await makeClients(['breakwater', 'agent', 'pool'], { port: server.port, connections: 1 });

/** Microseconds per request, one in flight. */
async function sample(call: () => Promise<unknown>): Promise<number[]> {
  const us: number[] = [];
  for (let i = 0; i < o.requests; i++) {
    const t0 = performance.now();
    await call();
    us.push((performance.now() - t0) * 1000);
  }
  return us;
}
const rounds = await interleave(Object.keys(clients.calls), o.rounds, (name) => sample(clients.calls[name]!));
await clients.close();
await server.close();

const round1 = (n: number) => Number(n.toFixed(1));
const results = [...rounds].map(([client, rs]) => {
  const all = rs.flat();
  return { client, p50Us: round1(percentile(all, 50)), p99Us: round1(percentile(all, 99)), samples: all.length };
});
/** Breakwater's percentile minus the reference's, per round; median, min and max over rounds. */
const added = (p: number) => {
  const bw = rounds.get(LABELS.breakwater)!;
  const ref = rounds.get(LABELS.agent)!;
  const d = bw.map((r, i) => percentile(r, p) - percentile(ref[i]!, p));
  return { median: round1(median(d)), min: round1(Math.min(...d)), max: round1(Math.max(...d)) };
};
const addedP50Us = added(50);
const addedP99Us = added(99);
console.log(`node ${process.version}, server: ${o.server} (own process), 1 in flight, ${o.requests} requests × ${o.rounds} interleaved rounds\n`);
for (const r of results) console.log(`  ${r.client.padEnd(28)} p50 ${r.p50Us} µs, p99 ${r.p99Us} µs`);
console.log(
  `\nBreakwater − undici request(url), Agent, median of rounds: p50 +${addedP50Us.median} µs (${addedP50Us.min}…${addedP50Us.max}), p99 +${addedP99Us.median} µs (${addedP99Us.min}…${addedP99Us.max})`,
);
printResult({ bench: 'http-latency', node: process.version, server: o.server, requests: o.requests, rounds: o.rounds, results, addedP50Us, addedP99Us });
