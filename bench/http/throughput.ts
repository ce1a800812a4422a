/**
 * Requests per second and requests per client CPU-second of @breakwater/http
 * (every default layer on: deadline, retry, circuit, balance, dns through an
 * injected resolver), also through `client.origin(o).request({ path, method })`
 * (the row "breakwater origin handle": no URL parsed per request), against the
 * clients a user would pick instead: raw undici
 * `Pool`, undici `request(url)` through an `Agent`, an `Agent` composed with
 * undici's own `interceptors.retry()` and `interceptors.dns()`, undici behind
 * cockatiel's retry + circuit-breaker policies, `http.Agent`, Node's global
 * `fetch`, axios and got.
 *
 * The server runs in another process (bench/support/responder.ts: a canned
 * keep-alive responder on raw `net`, or with `--server http` a real
 * `http.Server`), so the client is the bottleneck and `process.cpuUsage()`
 * counts the client only. Clients alternate over interleaved rounds; the ratio
 * Breakwater ÷ client is taken per round and the median over rounds reported
 * with its spread. The last line is the result as JSON (for bench/report.ts).
 *
 *   scripts/bw pnpm exec tsc -b
 *   scripts/bw node bench/http/throughput.ts [--run-ms 1500] [--rounds 3] [--concurrency 32] [--server canned|http] [--clients all|breakwater,pool,…]
 */
import { capRunTime, flags, printResult } from '../support/cli.ts';
import { clientKeys, LABELS, makeClients } from '../support/clients.ts';
import { ratesOf, ratioOf, runRounds } from '../support/rounds.ts';
import { type ServerMode, startServer } from '../support/server.ts';

const o = flags({ 'run-ms': 1_500, rounds: 3, concurrency: 32, server: 'canned', clients: 'all' }, ['run-ms', 'rounds']);
if (o.server !== 'canned' && o.server !== 'http') throw new Error(`--server must be canned or http, got ${o.server}`);
const keys = clientKeys(o.clients);
if (!keys.includes('breakwater')) keys.unshift('breakwater');
// Warm-up plus rounds, every client, with a generous margin for setup and a loaded machine.
capRunTime(60 + (3 * keys.length * (o.rounds + 1) * o['run-ms']) / 1000);

const server = await startServer({ mode: o.server as ServerMode });
const clients = await makeClients(keys, { port: server.port, connections: o.concurrency });
const run = { runMs: o['run-ms'], rounds: o.rounds, concurrency: o.concurrency };
const rates = await runRounds(clients.calls, run);
await clients.close();
await server.close();

const results = keys.map((k) => ({ client: LABELS[k], ...ratesOf(rates, LABELS[k]), ...ratioOf(rates, LABELS.breakwater, LABELS[k]) }));
console.log(
  `node ${process.version}, server: ${o.server} (own process), ${o.concurrency} in flight, ${o['run-ms']} ms × ${o.rounds} interleaved rounds, medians\n`,
);
console.log('| client | req/s | req per client CPU-s | Breakwater ÷ client (req/s) | min–max | Breakwater ÷ client (per CPU-s) |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const r of results)
  console.log(
    `| ${r.client} | ${r.reqPerSec} | ${r.reqPerCpuSec} | ${r.ratio.toFixed(2)} | ${r.ratioMin.toFixed(2)}–${r.ratioMax.toFixed(2)} | ${r.cpuRatio.toFixed(2)} |`,
  );
printResult({ bench: 'http', node: process.version, server: o.server, runMs: run.runMs, rounds: run.rounds, concurrency: run.concurrency, results });
