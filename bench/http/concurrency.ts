/**
 * Scale curve: throughput and client CPU per request against the number of
 * requests in flight (1, 4, 16, 64, 256, 1024 by default), @breakwater/http
 * with every default layer on against raw undici `Pool` and undici
 * `request(url)` through an `Agent`. Every client may open as many
 * connections as there are requests in flight (Breakwater's `connections`,
 * undici's `connections`), so the curves compare the clients, not their
 * default limits. The server runs in its own process
 * (bench/support/responder.ts); at each level the clients run in interleaved
 * rounds and the medians over rounds are reported.
 *
 *   scripts/bw pnpm exec tsc -b && scripts/bw node bench/http/concurrency.ts [--levels 1,4,16,64,256,1024] [--run-ms 700] [--rounds 5]
 */
import { capRunTime, flags, printResult } from '../support/cli.ts';
import { clientKeys, LABELS, makeClients } from '../support/clients.ts';
import { ratesOf, ratioOf, round3, runRounds } from '../support/rounds.ts';
import { type ServerMode, startServer } from '../support/server.ts';

const o = flags({ levels: [1, 4, 16, 64, 256, 1024], 'run-ms': 700, rounds: 5, server: 'canned', clients: 'breakwater,pool,agent' });
if (o.server !== 'canned' && o.server !== 'http') throw new Error(`--server must be canned or http, got ${o.server}`);
if (o.levels.some((n) => n < 1 || n > 10_000 || !Number.isInteger(n))) throw new Error('--levels must be integers 1…10000');
const keys = clientKeys(o.clients);
if (!keys.includes('breakwater')) keys.unshift('breakwater');
if (!keys.includes('pool')) keys.push('pool');
capRunTime(60 + (3 * o.levels.length * keys.length * (o.rounds + 1) * o['run-ms']) / 1000);

const server = await startServer({ mode: o.server as ServerMode });
const levels = [];
for (const concurrency of o.levels) {
  const clients = await makeClients(keys, { port: server.port, connections: concurrency });
  const rates = await runRounds(clients.calls, { runMs: o['run-ms'], rounds: o.rounds, concurrency });
  // Closed from the server side first (the TIME_WAIT ports are the server's), so the next level starts with none left over.
  await server.drop();
  await clients.close();
  const results = keys.map((k) => {
    const r = ratesOf(rates, LABELS[k]);
    return { client: LABELS[k], ...r, cpuUsPerRequest: round3(1e6 / r.reqPerCpuSec), ...ratioOf(rates, LABELS[k], LABELS.pool) };
  });
  levels.push({ concurrency, results });
  console.log(
    `${String(concurrency).padStart(5)} in flight: ${results.map((r) => `${r.client} ${r.reqPerSec} req/s, ${r.cpuUsPerRequest.toFixed(1)} µs CPU/req`).join('; ')}`,
  );
}
await server.close();
printResult({ bench: 'http-concurrency', node: process.version, server: o.server, runMs: o['run-ms'], rounds: o.rounds, levels });
