/**
 * Acquire/release throughput of @breakwater/pool against bare generic-pool
 * 3.9.0, in the same process, over the same kind of real loopback sockets.
 * A script, not a test:
 *
 *   scripts/bw node --import ./test/support/ts-hooks.ts bench/pool/acquire-release.ts [ops] [rounds]
 *
 * Two scenarios, each with `CONNECTIONS` open connections:
 * - uncontended: as many callers as connections (the common case: an idle
 *   connection is always there);
 * - contended: twice as many callers, so half of them wait in the queue.
 * Each round runs `ops` acquire/release cycles on bare generic-pool, then on
 * Breakwater's pool; the ratio is taken per round (the machine's load drifts)
 * and the median of the rounds is printed.
 */
import net from 'node:net';
import { createPool } from '@breakwater/pool';
import { createGenericPool } from '../../packages/pool/test/bareGenericPool.js';

const OPS = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 9);
const CONNECTIONS = 4;

const sockets = new Set<net.Socket>();
const server = net.createServer((s) => {
  sockets.add(s);
  s.on('error', () => {});
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as net.AddressInfo).port;
const open = () =>
  new Promise<net.Socket>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });

interface Lender {
  acquire(): Promise<net.Socket>;
  release(conn: net.Socket): unknown;
}

/**
 * The measured loop, as source, compiled once per pool and scenario: one
 * shared function would make its call sites polymorphic and slow both pools
 * down unequally.
 */
const LOOP = `return async (pool, ops, callers) => {
  const perCaller = Math.floor(ops / callers);
  const started = performance.now();
  const caller = async () => {
    for (let i = 0; i < perCaller; i++) {
      const conn = await pool.acquire();
      pool.release(conn);
    }
  };
  const all = [];
  for (let c = 0; c < callers; c++) all.push(caller());
  await Promise.all(all);
  return ((performance.now() - started) * 1e6) / (perCaller * callers);
};`;
type Loop = (pool: Lender, ops: number, callers: number) => Promise<number>;
const compile = () => new Function(LOOP)() as Loop;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const bare = createGenericPool({ create: open, destroy: async (s) => void s.destroy() }, { max: CONNECTIONS });
const breakwater = createPool({ host: '127.0.0.1', port, max: CONNECTIONS });

// Open every connection first: the loops never yield to the event loop, so a
// connect started during them would never finish.
for (const pool of [bare, breakwater] as Lender[]) {
  const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => pool.acquire()));
  for (const conn of conns) pool.release(conn);
}

const results: Record<string, { bareNs: number; breakwaterNs: number; ratio: number; ratioMin: number; ratioMax: number } | number> = {
  rounds: ROUNDS,
  ops: OPS,
};
for (const [scenario, callers] of [
  ['uncontended', CONNECTIONS],
  ['contended', 2 * CONNECTIONS],
] as const) {
  const bareLoop = compile();
  const bwLoop = compile();
  // Let the JIT settle (fewer when a smoke run asks for tiny sizes).
  await bareLoop(bare, Math.min(50_000, OPS), callers);
  await bwLoop(breakwater, Math.min(50_000, OPS), callers);
  const bareNs: number[] = [];
  const bwNs: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const b = await bareLoop(bare, OPS, callers);
    const w = await bwLoop(breakwater, OPS, callers);
    bareNs.push(b);
    bwNs.push(w);
    ratios.push(w / b);
  }
  const ratio = median(ratios);
  results[scenario] = {
    bareNs: Math.round(median(bareNs)),
    breakwaterNs: Math.round(median(bwNs)),
    ratio: Number(ratio.toFixed(3)),
    ratioMin: Number(Math.min(...ratios).toFixed(3)),
    ratioMax: Number(Math.max(...ratios).toFixed(3)),
  };
  console.log(
    `${scenario.padEnd(12)} ${callers} callers on ${CONNECTIONS} connections: bare generic-pool ${median(bareNs).toFixed(0)} ns, ` +
      `@breakwater/pool ${median(bwNs).toFixed(0)} ns per acquire+release; ratio ${ratio.toFixed(3)} ` +
      `(overhead ${((ratio - 1) * 100).toFixed(1)} %, target ≤ 10 %; median of ${ROUNDS} rounds × ${OPS})`,
  );
}
console.log(JSON.stringify(results));

await bare.drain();
await bare.clear();
await breakwater.close();
for (const s of sockets) s.destroy();
server.close();
