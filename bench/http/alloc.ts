/**
 * What one request allocates, per client: bytes per request in the client
 * process, young-generation collections per 1,000 requests, and the functions
 * that allocate most (bytes per request, by the function that allocated), from
 * V8's sampling heap profiler with every sample kept (collected objects too).
 * Not a timing: a loaded machine does not change what a request allocates, so
 * this is the bench to read when the throughput ratios are noise.
 *
 * The server runs in another process (bench/support/responder.ts), as in
 * throughput.ts. Each client runs a warm-up of `--requests`, then the
 * measured `--requests` with `--concurrency` in flight.
 *
 *   scripts/bw pnpm exec tsc -b
 *   scripts/bw node bench/http/alloc.ts [--requests 20000] [--concurrency 32] [--top 15] [--clients breakwater,pool]
 */
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { capRunTime, flags, printResult } from '../support/cli.ts';
import { clientKeys, LABELS, makeClients } from '../support/clients.ts';
import { measure } from '../support/rounds.ts';
import { startServer } from '../support/server.ts';

const o = flags({ requests: 20_000, concurrency: 32, top: 15, clients: 'breakwater,pool' }, ['requests']);
const keys = clientKeys(o.clients);
capRunTime(60 + (keys.length * o.requests) / 500);

type Node = { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] };

/** Self bytes per `function file:line`, over the whole sampled tree. */
function bySite(root: Node): Map<string, number> {
  const out = new Map<string, number>();
  const stack = [root];
  for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
    if (n.selfSize > 0) {
      const f = n.callFrame;
      const file = f.url.replace(/^.*\/(packages|node_modules)\//, '$1/').replace(/^node:/, '');
      const site = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
      out.set(site, (out.get(site) ?? 0) + n.selfSize);
    }
    stack.push(...n.children);
  }
  return out;
}

let scavenges = 0;
const gcs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as { detail?: { kind?: number } }).detail?.kind === 1) scavenges++;
});
gcs.observe({ entryTypes: ['gc'] });

const server = await startServer({ mode: 'canned' });
const clients = await makeClients(keys, { port: server.port, connections: o.concurrency });
const session = new Session();
session.connect();
const results = [];
for (const k of keys) {
  const call = clients.calls[LABELS[k]]!;
  const run = { runMs: 600_000, concurrency: o.concurrency, maxRequests: o.requests };
  await measure(call, run);
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 64,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  const gc0 = scavenges;
  const { requests } = await measure(call, run);
  const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: Node } };
  await new Promise((r) => setImmediate(r)); // the observer reports the last collections asynchronously
  const sites = [...bySite(profile.head)].sort((a, b) => b[1] - a[1]);
  const total = sites.reduce((s, [, b]) => s + b, 0);
  const top = sites.slice(0, o.top).map(([site, bytes]) => ({ site, bytesPerRequest: Math.round(bytes / requests) }));
  results.push({
    client: LABELS[k],
    bytesPerRequest: Math.round(total / requests),
    scavengesPer1000: Number(((1000 * (scavenges - gc0)) / requests).toFixed(2)),
    top,
  });
}
session.disconnect();
gcs.disconnect();
await clients.close();
await server.close();

for (const r of results) {
  console.log(`\n${r.client}: ${r.bytesPerRequest} B allocated per request, ${r.scavengesPer1000} scavenges per 1,000 requests`);
  for (const t of r.top) console.log(`  ${String(t.bytesPerRequest).padStart(6)} B  ${t.site}`);
}
printResult({ bench: 'http-alloc', node: process.version, requests: o.requests, concurrency: o.concurrency, results });
