/**
 * Renders the measured tables and charts of docs/benchmarks.md from the JSON
 * the benches print as their last line, saved under bench/results/ (the
 * commands are in docs/benchmarks.md), then:
 *
 *   scripts/bw node bench/report.ts --write   # rewrites the generated blocks of docs/benchmarks.md and docs/benchmarks/*.svg
 *   scripts/bw node bench/report.ts [--results <dir>]   # prints the document instead, lists the charts on stderr
 *
 * Each block sits between `<!-- generated:<name> -->` and `<!-- /generated:<name> -->`;
 * the prose around them is written by hand. A block whose JSON is missing is
 * left as it is. Ratio charts are mermaid `xychart-beta`; the scale curves are
 * SVG files (bench/support/svg.ts) the blocks link to.
 */
import fs from 'node:fs';
import {
  type ConcurrencyRun,
  concurrencyBlock,
  type HeapRun,
  heapBlock,
  type LatencyRun,
  latencyBlock,
  type OriginsRun,
  originsBlock,
} from './support/curves.ts';

const root = new URL('../', import.meta.url);
const argAfter = (flag: string) => {
  const i = process.argv.indexOf(flag);
  return i === -1 ? undefined : process.argv[i + 1];
};
const resultsDir = argAfter('--results') ?? new URL('bench/results/', root).pathname;
const read = <T>(name: string): T | undefined => {
  const file = `${resultsDir}/${name}.json`;
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : undefined;
};
const f2 = (n: number) => n.toFixed(2);

interface HttpRun {
  node: string;
  /** Absent in runs from before issue #18, whose server ran in the client's process. */
  server?: string;
  runMs: number;
  rounds: number;
  concurrency: number;
  results: {
    client: string;
    reqPerSec: number;
    reqPerCpuSec?: number;
    ratio: number;
    ratioMin: number;
    ratioMax: number;
    cpuRatio: number;
    cpuRatioMin?: number;
    cpuRatioMax?: number;
  }[];
}
interface LayersRun {
  server?: string;
  runMs: number;
  rounds: number;
  results: { variant: string; ratio: number; ratioMin: number; ratioMax: number; cpuRatio: number }[];
}
type PoolRun = Record<'uncontended' | 'contended', { bareNs: number; breakwaterNs: number; ratio: number; ratioMin?: number; ratioMax?: number }> & {
  rounds?: number;
  ops?: number;
};

function chart(title: string, labels: string[], values: number[], goal: number | undefined, max: number): string {
  const q = (s: string) => `"${s.replace(/"/g, "'")}"`;
  return [
    '```mermaid',
    'xychart-beta',
    `  title ${q(title)}`,
    `  x-axis [${labels.map(q).join(', ')}]`,
    `  y-axis "ratio" 0 --> ${max}`,
    `  bar [${values.map(f2).join(', ')}]`,
    ...(goal === undefined ? [] : [`  line [${labels.map(() => f2(goal)).join(', ')}]`]),
    '```',
  ].join('\n');
}

const blocks: Record<string, string> = {};
const svgs: Record<string, string> = {};

const http = read<HttpRun>('http');
if (http?.server !== undefined) {
  const rows = http.results.filter((r) => r.client !== 'breakwater');
  const bw = http.results.find((r) => r.client === 'breakwater')!;
  blocks.http = [
    `${http.rounds} interleaved rounds of ${http.runMs} ms, ${http.concurrency} requests in flight, server: ${http.server} in its own process, ${http.node}. Breakwater: ${bw.reqPerSec} req/s, ${bw.reqPerCpuSec} requests per client CPU-second (medians).`,
    '',
    '| client | req/s | req per client CPU-s | Breakwater ÷ client, req/s (median of rounds) | min–max | Breakwater ÷ client, per client CPU-s | min–max |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.client} | ${r.reqPerSec} | ${r.reqPerCpuSec} | ${f2(r.ratio)} | ${f2(r.ratioMin)}–${f2(r.ratioMax)} | ${f2(r.cpuRatio)} | ${f2(r.cpuRatioMin!)}–${f2(r.cpuRatioMax!)} |`,
    ),
    '',
    chart(
      'Breakwater ÷ client, requests per client CPU-second (line: 0.95 goal vs undici Pool)',
      rows.map((r) => r.client),
      rows.map((r) => r.cpuRatio),
      0.95,
      Math.ceil(Math.max(...rows.map((r) => r.cpuRatio)) + 0.5),
    ),
  ].join('\n');
} else if (http !== undefined) {
  const rows = http.results.filter((r) => r.client !== 'breakwater');
  const bw = http.results.find((r) => r.client === 'breakwater')!;
  blocks.http = [
    `${http.rounds} interleaved rounds of ${http.runMs} ms, ${http.concurrency} requests in flight, ${http.node}. Breakwater: ${bw.reqPerSec} req/s (median).`,
    '',
    '| client | req/s (median) | Breakwater ÷ client (median of rounds) | min–max over rounds | per CPU-second |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.client} | ${r.reqPerSec} | ${f2(r.ratio)} | ${f2(r.ratioMin)}–${f2(r.ratioMax)} | ${f2(r.cpuRatio)} |`),
    '',
    chart(
      'Breakwater ÷ client, requests/s (line: 0.95 goal vs undici Pool)',
      rows.map((r) => r.client),
      rows.map((r) => r.ratio),
      0.95,
      Math.ceil(Math.max(...rows.map((r) => r.ratio)) + 0.5),
    ),
  ].join('\n');
}

const layers = read<LayersRun>('http-layers');
if (layers !== undefined) {
  blocks['http-layers'] = [
    `${layers.rounds} interleaved rounds of ${layers.runMs} ms; ${layers.server === undefined ? '' : `server: ${layers.server} in its own process; `}each variant ÷ raw undici \`Pool\`.`,
    '',
    '| variant | ÷ undici Pool (median) | min–max over rounds | per CPU-second |',
    '| --- | ---: | ---: | ---: |',
    ...layers.results.map((r) => `| ${r.variant} | ${f2(r.ratio)} | ${f2(r.ratioMin)}–${f2(r.ratioMax)} | ${f2(r.cpuRatio)} |`),
    '',
    chart(
      'Breakwater variants ÷ undici Pool, per CPU-second (line: 0.95 goal)',
      layers.results.map((r) => r.variant),
      layers.results.map((r) => r.cpuRatio),
      0.95,
      1.2,
    ),
  ].join('\n');
}

const pool = read<PoolRun>('pool');
if (pool !== undefined) {
  const rows = (['uncontended', 'contended'] as const).map((s) => ({ s, ...pool[s] }));
  blocks.pool = [
    '| scenario | bare generic-pool (ns/cycle) | @breakwater/pool (ns/cycle) | ratio (median of rounds) | min–max over rounds |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.s} | ${r.bareNs} | ${r.breakwaterNs} | ${r.ratio.toFixed(3)} | ${r.ratioMin === undefined ? '–' : `${f2(r.ratioMin)}–${f2(r.ratioMax!)}`} |`,
    ),
    '',
    chart(
      'Time per acquire+release, @breakwater/pool ÷ bare generic-pool (line: 1.10 goal)',
      rows.map((r) => r.s),
      rows.map((r) => r.ratio),
      1.1,
      2,
    ),
  ].join('\n');
}

const curves = [
  ['http-latency', read<LatencyRun>('http-latency'), latencyBlock],
  ['http-concurrency', read<ConcurrencyRun>('http-concurrency'), concurrencyBlock],
  ['http-heap', read<HeapRun>('http-heap'), heapBlock],
  ['http-origins', read<OriginsRun>('http-origins'), originsBlock],
] as const;
for (const [name, run, render] of curves) {
  if (run === undefined) continue;
  const r = (render as (x: typeof run) => { markdown: string; svgs: Record<string, string> })(run);
  blocks[name] = r.markdown;
  Object.assign(svgs, r.svgs);
}

const docPath = new URL('docs/benchmarks.md', root);
let doc = fs.readFileSync(docPath, 'utf8');
for (const [name, body] of Object.entries(blocks)) {
  const open = `<!-- generated:${name} -->`;
  const close = `<!-- /generated:${name} -->`;
  const start = doc.indexOf(open);
  const end = doc.indexOf(close);
  if (start === -1 || end === -1) {
    console.error(`docs/benchmarks.md has no ${open} … ${close} block; printing it instead`);
    console.log(`${open}\n${body}\n${close}\n`);
    continue;
  }
  doc = `${doc.slice(0, start + open.length)}\n\n${body}\n\n${doc.slice(end)}`;
}
const svgDir = new URL('docs/benchmarks/', root);
if (process.argv.includes('--write')) {
  fs.writeFileSync(docPath, doc);
  fs.mkdirSync(svgDir, { recursive: true });
  for (const [file, markup] of Object.entries(svgs)) fs.writeFileSync(new URL(file, svgDir), markup);
} else {
  console.log(doc);
  for (const [file, markup] of Object.entries(svgs)) console.error(`chart docs/benchmarks/${file}: ${markup.length} bytes (written with --write)`);
}
