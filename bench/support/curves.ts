/**
 * The blocks of docs/benchmarks.md for the client-bound HTTP benches of issue
 * #18 (latency at one in flight, and the scale curves), rendered from their
 * JSON by bench/report.ts. Each returns its markdown and the SVG charts it
 * links to (file name → markup; the report writes them beside the doc).
 */
import { lineChart, type Series } from './svg.ts';

interface Rendered {
  markdown: string;
  svgs: Record<string, string>;
}
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const img = (file: string, alt: string) => `![${alt}](benchmarks/${file})`;

/** One series per client, from rows that each hold every client's result at one x. */
function seriesOf<R extends { client: string }>(rows: readonly { x: number; results: readonly R[] }[], y: (r: R) => number | null): Series[] {
  const names = [...new Set(rows.flatMap((row) => row.results.map((r) => r.client)))];
  return names.map((name) => ({
    name,
    points: rows.flatMap((row) => {
      const r = row.results.find((x) => x.client === name);
      const v = r === undefined ? null : y(r);
      return v === null ? [] : [[row.x, v] as const];
    }),
  }));
}

export interface LatencyRun {
  node: string;
  server: string;
  requests: number;
  rounds: number;
  results: { client: string; p50Us: number; p99Us: number }[];
  addedP50Us: { median: number; min: number; max: number };
  addedP99Us: { median: number; min: number; max: number };
}
export function latencyBlock(run: LatencyRun): Rendered {
  const a = (d: LatencyRun['addedP50Us']) => `${d.median >= 0 ? '+' : ''}${f1(d.median)} µs (rounds ${f1(d.min)}…${f1(d.max)})`;
  return {
    markdown: [
      `${run.requests} sequential requests × ${run.rounds} interleaved rounds per client, one in flight, server: ${run.server} in its own process, ${run.node}. Percentiles of all samples:`,
      '',
      '| client | p50 (µs) | p99 (µs) |',
      '| --- | ---: | ---: |',
      ...run.results.map((r) => `| ${r.client} | ${f1(r.p50Us)} | ${f1(r.p99Us)} |`),
      '',
      `Added by Breakwater over undici \`request(url)\` through an \`Agent\`, median of the per-round differences: p50 **${a(run.addedP50Us)}**, p99 **${a(run.addedP99Us)}**. Goal: ≤ 5 µs at p50, ≤ 20 µs at p99.`,
    ].join('\n'),
    svgs: {},
  };
}

export interface ConcurrencyRun {
  node: string;
  server: string;
  runMs: number;
  rounds: number;
  levels: { concurrency: number; results: { client: string; reqPerSec: number; cpuUsPerRequest: number; cpuRatio: number }[] }[];
}
export function concurrencyBlock(run: ConcurrencyRun): Rendered {
  const rows = run.levels.map((l) => ({ x: l.concurrency, results: l.results }));
  const clients = run.levels[0]?.results.map((r) => r.client) ?? [];
  const others = clients.filter((c) => c !== 'undici Pool');
  const cpuRatio = (l: ConcurrencyRun['levels'][0], c: string) => f2(l.results.find((r) => r.client === c)!.cpuRatio);
  return {
    markdown: [
      `${run.rounds} interleaved rounds of ${run.runMs} ms per level, server: ${run.server} in its own process, ${run.node}; each client may open as many connections as requests in flight.`,
      '',
      img('concurrency-throughput.svg', 'requests per second against requests in flight'),
      img('concurrency-cpu.svg', 'client CPU µs per request against requests in flight'),
      '',
      `| in flight | ${clients.map((c) => `${c}: req/s · CPU µs/req`).join(' | ')} | ${others.map((c) => `${c} ÷ undici Pool, per CPU-s`).join(' | ')} |`,
      `| ---: | ${clients.map(() => '---:').join(' | ')} | ${others.map(() => '---:').join(' | ')} |`,
      ...run.levels.map(
        (l) =>
          `| ${l.concurrency} | ${l.results.map((r) => `${r.reqPerSec} · ${f1(r.cpuUsPerRequest)}`).join(' | ')} | ${others.map((c) => cpuRatio(l, c)).join(' | ')} |`,
      ),
    ].join('\n'),
    svgs: {
      'concurrency-throughput.svg': lineChart({
        title: 'Requests per second',
        xLabel: 'requests in flight',
        yLabel: 'req/s (median of rounds)',
        series: seriesOf(rows, (r) => r.reqPerSec),
      }),
      'concurrency-cpu.svg': lineChart({
        title: 'Client CPU per request',
        xLabel: 'requests in flight',
        yLabel: 'µs of client CPU per request',
        series: seriesOf(rows, (r) => r.cpuUsPerRequest),
      }),
    },
  };
}

export interface HeapRun {
  node: string;
  sizes: {
    inFlight: number;
    ratio: number;
    idleRatio: number | null;
    results: {
      client: string;
      heapPerInFlightBytes: number;
      heapPerIdleConnectionBytes: number | null;
      heapPerRequestStateBytes: number;
      idleConnections: number;
    }[];
  }[];
}
export function heapBlock(run: HeapRun): Rendered {
  const rows = run.sizes.map((s) => ({ x: s.inFlight, results: s.results }));
  const [bw, ref] = run.sizes[0]?.results.map((r) => r.client) ?? ['breakwater', 'undici'];
  const kb = (n: number | null) => (n === null ? '–' : f1(n / 1024));
  return {
    markdown: [
      `Heap after \`gc()\`, ${run.node}; the server holds every response until all requests have arrived. KiB per request in flight (connection included), per idle pooled connection, and of the request's own state (in flight − idle).`,
      '',
      img('heap-in-flight.svg', 'heap per request in flight against requests in flight'),
      img('heap-idle-connection.svg', 'heap per idle pooled connection against connections'),
      '',
      `| in flight | ${bw} KiB/request | ${ref} KiB/request | ratio | ${bw} KiB/idle conn. | ${ref} KiB/idle conn. | ratio | ${bw} request state KiB | ${ref} request state KiB |`,
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...run.sizes.map((s) => {
        const [b, r] = s.results as [HeapRun['sizes'][0]['results'][0], HeapRun['sizes'][0]['results'][0]];
        return `| ${s.inFlight} | ${kb(b.heapPerInFlightBytes)} | ${kb(r.heapPerInFlightBytes)} | ${f2(s.ratio)} | ${kb(b.heapPerIdleConnectionBytes)} | ${kb(r.heapPerIdleConnectionBytes)} | ${s.idleRatio === null ? '–' : f2(s.idleRatio)} | ${kb(b.heapPerRequestStateBytes)} | ${kb(r.heapPerRequestStateBytes)} |`;
      }),
      '',
      'Goal: heap per request in flight ≤ 1.2× undici’s at 10,000 in flight.',
    ].join('\n'),
    svgs: {
      'heap-in-flight.svg': lineChart({
        title: 'Heap per request in flight',
        xLabel: 'requests in flight',
        yLabel: 'KiB per request',
        series: seriesOf(rows, (r) => r.heapPerInFlightBytes / 1024),
      }),
      'heap-idle-connection.svg': lineChart({
        title: 'Heap per idle pooled connection',
        xLabel: 'pooled connections',
        yLabel: 'KiB per connection',
        series: seriesOf(rows, (r) => (r.heapPerIdleConnectionBytes === null ? null : r.heapPerIdleConnectionBytes / 1024)),
      }),
    },
  };
}

export interface OriginsRun {
  node: string;
  rounds: number;
  concurrency: number;
  warmRequests: number;
  sizes: {
    origins: number;
    results: { client: string; coldCpuUsPerOrigin: number; warmReqPerSec: number; warmCpuUsPerRequest: number; heapPerOriginBytes: number }[];
  }[];
}
export function originsBlock(run: OriginsRun): Rendered {
  const rows = run.sizes.map((s) => ({ x: s.origins, results: s.results }));
  const clients = run.sizes[0]?.results.map((r) => r.client) ?? [];
  return {
    markdown: [
      `${run.concurrency} in flight, ${run.rounds} round${run.rounds === 1 ? '' : 's'} per size (medians), ${run.node}. Cold: one request to each origin (resolve, pool, connect). Warm: at least ${run.warmRequests} requests round-robin over the origins. Heap after \`gc()\` per origin, each with its idle connection.`,
      '',
      img('origins-cold-cpu.svg', 'client CPU per new origin against origins'),
      img('origins-warm-cpu.svg', 'client CPU per request against origins'),
      img('origins-heap.svg', 'heap per origin against origins'),
      '',
      `| origins | ${clients.map((c) => `${c}: cold CPU µs/origin · warm CPU µs/req · warm req/s · heap KiB/origin`).join(' | ')} |`,
      `| ---: | ${clients.map(() => '---:').join(' | ')} |`,
      ...run.sizes.map(
        (s) =>
          `| ${s.origins} | ${s.results.map((r) => `${f1(r.coldCpuUsPerOrigin)} · ${f1(r.warmCpuUsPerRequest)} · ${r.warmReqPerSec} · ${f1(r.heapPerOriginBytes / 1024)}`).join(' | ')} |`,
      ),
    ].join('\n'),
    svgs: {
      'origins-cold-cpu.svg': lineChart({
        title: 'Client CPU for the first request to an origin',
        xLabel: 'origins',
        yLabel: 'µs of client CPU per origin',
        series: seriesOf(rows, (r) => r.coldCpuUsPerOrigin),
      }),
      'origins-warm-cpu.svg': lineChart({
        title: 'Client CPU per request, round-robin over the origins',
        xLabel: 'origins',
        yLabel: 'µs of client CPU per request',
        series: seriesOf(rows, (r) => r.warmCpuUsPerRequest),
      }),
      'origins-heap.svg': lineChart({
        title: 'Heap per origin (with its idle connection)',
        xLabel: 'origins',
        yLabel: 'KiB per origin',
        series: seriesOf(rows, (r) => r.heapPerOriginBytes / 1024),
      }),
    },
  };
}
