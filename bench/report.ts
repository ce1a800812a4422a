/**
 * Renders the measured tables and charts of docs/benchmarks.md from the JSON
 * the benches print as their last line, saved under bench/results/:
 *
 *   scripts/bw node bench/http/throughput.ts 1000 9 | tail -1 > bench/results/http.json
 *   scripts/bw node bench/http/layers.ts 1000 9 | tail -1 > bench/results/http-layers.json
 *   scripts/bw node --import ./test/support/ts-hooks.ts bench/pool/acquire-release.ts | tail -1 > bench/results/pool.json
 *   scripts/bw node bench/report.ts --write   # rewrites the generated blocks of docs/benchmarks.md
 *
 * Each block sits between `<!-- generated:<name> -->` and `<!-- /generated:<name> -->`;
 * the prose around them is written by hand. Charts are mermaid `xychart-beta`.
 */
import fs from 'node:fs';

const root = new URL('../', import.meta.url);
const read = <T>(name: string): T | undefined => {
  const file = new URL(`bench/results/${name}.json`, root);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : undefined;
};
const f2 = (n: number) => n.toFixed(2);

interface HttpRun {
  node: string;
  runMs: number;
  rounds: number;
  concurrency: number;
  results: { client: string; reqPerSec: number; ratio: number; ratioMin: number; ratioMax: number; cpuRatio: number }[];
}
interface LayersRun {
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

const http = read<HttpRun>('http');
if (http !== undefined) {
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
    `${layers.rounds} interleaved rounds of ${layers.runMs} ms; each variant ÷ raw undici \`Pool\`.`,
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
if (process.argv.includes('--write')) fs.writeFileSync(docPath, doc);
else console.log(doc);
