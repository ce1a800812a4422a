import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

// Every bench script runs once with the smallest sizes, as a child process
// against the compiled packages (the test command builds first), so none can
// rot. No timing is asserted: only that it exits 0 and its last line is its
// JSON result with the keys bench/report.ts reads. The report then renders
// those results (printing, not writing, the document and its charts).
const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
const results = mkdtempSync(join(tmpdir(), 'bw-bench-smoke-'));
afterAll(() => rmSync(results, { recursive: true, force: true }));

async function bench(name: string, args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, args, { cwd: root, timeout: 25_000, env: { ...process.env, NODE_OPTIONS: '' } });
  const last = stdout.trim().split('\n').at(-1)!;
  writeFileSync(join(results, `${name}.json`), last);
  return JSON.parse(last) as Record<string, unknown>;
}
const hooks = ['--import', './test/support/ts-hooks.ts'];
const labels = (rows: unknown) => (rows as { client: string }[]).map((r) => r.client);

// One at a time: side by side they took as long on two cores, and each came closer to its timeout.
describe('benches run with tiny sizes', () => {
  it('http/throughput: every peer, canned server in its own process, req/s and per-CPU-second ratios', async () => {
    const out = await bench('http', ['bench/http/throughput.ts', '--run-ms', '40', '--rounds', '1', '--concurrency', '2']);
    expect(out).toMatchObject({ bench: 'http', server: 'canned', rounds: 1, concurrency: 2 });
    expect(labels(out.results)).toEqual([
      'breakwater',
      'breakwater origin handle',
      'undici Pool',
      'undici request(url), Agent',
      'undici Agent + interceptors.retry() + dns()',
      'undici + cockatiel retry + breaker',
      'http.Agent',
      'global fetch',
      'axios',
      'got',
    ]);
    for (const r of out.results as Record<string, number>[]) {
      for (const k of ['reqPerSec', 'reqPerCpuSec', 'ratio', 'ratioMin', 'ratioMax', 'cpuRatio', 'cpuRatioMin', 'cpuRatioMax']) expect(r[k]).toBeGreaterThan(0);
    }
  }, 30_000);

  it('http/alloc: bytes allocated per request and the sites that allocate them', async () => {
    const out = await bench('http-alloc', ['bench/http/alloc.ts', '--requests', '50', '--concurrency', '2', '--top', '3']);
    expect(out).toMatchObject({ bench: 'http-alloc', requests: 50 });
    expect(labels(out.results)).toEqual(['breakwater', 'undici Pool']);
    for (const r of out.results as { bytesPerRequest: number; top: unknown[] }[]) {
      expect(r.bytesPerRequest).toBeGreaterThan(0);
      expect(r.top.length).toBeGreaterThan(0);
    }
  }, 30_000);

  it('http/layers', async () => {
    const out = await bench('http-layers', ['bench/http/layers.ts', '--run-ms', '30', '--rounds', '1', '--concurrency', '2']);
    expect(out).toMatchObject({ bench: 'http-layers', server: 'canned' });
    expect((out.results as { variant: string }[]).map((r) => r.variant)).toContain('no layers but dns');
  }, 30_000);

  // Against the real http.Server variant of the responder (the others use the canned one).
  it('http/latency --server http: p50/p99 added over undici request() through an Agent', async () => {
    const out = await bench('http-latency', ['bench/http/latency.ts', '--requests', '20', '--rounds', '1', '--server', 'http']);
    expect(out).toMatchObject({ bench: 'http-latency', server: 'http', requests: 20 });
    expect(labels(out.results)).toEqual(['breakwater', 'undici request(url), Agent', 'undici Pool']);
    expect(out.addedP50Us).toEqual({ median: expect.any(Number), min: expect.any(Number), max: expect.any(Number) });
    expect(out.addedP99Us).toEqual({ median: expect.any(Number), min: expect.any(Number), max: expect.any(Number) });
  }, 30_000);

  it('http/concurrency: one row per level', async () => {
    const out = await bench('http-concurrency', ['bench/http/concurrency.ts', '--levels', '1,4', '--run-ms', '30', '--rounds', '1']);
    const levels = out.levels as { concurrency: number; results: Record<string, number>[] }[];
    expect(levels.map((l) => l.concurrency)).toEqual([1, 4]);
    for (const l of levels) for (const r of l.results) expect(r).toMatchObject({ reqPerSec: expect.any(Number), cpuUsPerRequest: expect.any(Number) });
  }, 30_000);

  it('http/heap: requests really in flight at the held server, then pooled', async () => {
    const out = await bench('http-heap', ['--expose-gc', 'bench/http/heap.ts', '--sizes', '4', '--warmup', '2']);
    const [size] = out.sizes as { inFlight: number; ratio: number; results: Record<string, number>[] }[];
    expect(size!.inFlight).toBe(4);
    expect(labels(size!.results)).toEqual(['breakwater', 'undici request(url), Agent']);
    // Every request got its own connection and each stayed pooled after its response.
    for (const r of size!.results) expect(r).toMatchObject({ idleConnections: 4, heapPerInFlightBytes: expect.any(Number) });
  }, 30_000);

  it('http/heap refuses to run without --expose-gc instead of printing numbers with garbage in them', async () => {
    await expect(run(process.execPath, ['bench/http/heap.ts', '--sizes', '4'], { cwd: root, timeout: 25_000 })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--expose-gc/),
    });
  }, 30_000);

  it('socket/heap: plain, hardened and connector-hardened sockets, idle and in flight', async () => {
    const out = await bench('socket-heap', ['--expose-gc', 'bench/socket/heap.ts', '--connections', '4', '--rounds', '1']);
    expect(out).toMatchObject({ bench: 'socket-heap', connections: 4 });
    expect((out.results as { variant: string }[]).map((r) => r.variant)).toEqual(['plain', 'harden', 'connector']);
    for (const r of out.results as Record<string, unknown>[])
      expect(r).toMatchObject({ idleBytesPerConnection: expect.any(Number), inFlightBytesPerConnection: expect.any(Number) });
  }, 30_000);

  it('http/origins: one port and host name per origin', async () => {
    const out = await bench('http-origins', [
      '--expose-gc',
      'bench/http/origins.ts',
      '--sizes',
      '1,3',
      '--rounds',
      '1',
      '--warm-requests',
      '6',
      '--concurrency',
      '2',
    ]);
    const sizes = out.sizes as { origins: number; results: Record<string, number>[] }[];
    expect(sizes.map((s) => s.origins)).toEqual([1, 3]);
    for (const s of sizes)
      for (const r of s.results)
        expect(r).toMatchObject({ coldCpuUsPerOrigin: expect.any(Number), warmCpuUsPerRequest: expect.any(Number), heapPerOriginBytes: expect.any(Number) });
  }, 30_000);

  it('pool/acquire-release', async () => {
    const out = await bench('pool', [...hooks, 'bench/pool/acquire-release.ts', '200', '1']);
    expect(out).toMatchObject({ uncontended: { ratio: expect.any(Number) }, contended: { ratio: expect.any(Number) } });
  }, 30_000);

  it('ack/throughput', async () => {
    const out = await bench('ack', [...hooks, 'bench/ack/throughput.ts', '200', '1']);
    expect(out).toMatchObject({ messages: 200, medianRatio: expect.any(Number) });
  }, 30_000);
});

describe('report', () => {
  it('renders every block and chart from those results', async () => {
    const { stdout, stderr } = await run(process.execPath, ['bench/report.ts', '--results', results], { cwd: root, timeout: 25_000 });
    for (const block of ['http', 'http-layers', 'http-latency', 'http-concurrency', 'http-heap', 'http-origins', 'pool'])
      expect(stdout).toMatch(new RegExp(`<!-- generated:${block} -->\\n\\n\\S[^]*?<!-- /generated:${block} -->`));
    expect(stdout).toMatch(/server: canned in its own process/);
    for (const svg of [
      'concurrency-throughput',
      'concurrency-cpu',
      'heap-in-flight',
      'heap-idle-connection',
      'origins-cold-cpu',
      'origins-warm-cpu',
      'origins-heap',
    ])
      expect(stderr).toMatch(new RegExp(`chart docs/benchmarks/${svg}\\.svg: \\d+ bytes`));
  }, 30_000);
});
