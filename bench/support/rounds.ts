/**
 * The round runner shared by the HTTP benches. The machine's load drifts
 * between rounds more than within one, so clients run in interleaved rounds
 * (order reversed every other round), ratios are taken per round, and the
 * median over rounds is what gets reported, with the min–max spread.
 */

/** One client's run: requests per second of wall-clock time and per CPU-second of this process only. */
export interface Rate {
  wall: number;
  cpu: number;
  requests: number;
}

export type Call = () => Promise<unknown>;

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Nearest-rank percentile (`p` in 0…100) of unsorted samples. */
export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round3 = (n: number): number => Number(n.toFixed(3));

/**
 * Keeps `concurrency` calls of `fn` in flight for `runMs` (and at most `maxRequests` calls).
 * The server runs in another process, so this process's CPU time is the client's.
 */
export async function measure(fn: Call, o: { runMs: number; concurrency: number; maxRequests?: number }): Promise<Rate> {
  let started = 0;
  let done = 0;
  const max = o.maxRequests ?? Number.MAX_SAFE_INTEGER;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const until = t0 + o.runMs;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < until && started < max) {
        started++;
        await fn();
        done++;
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wall: done / (wallMs / 1000), cpu: done / ((cpu.user + cpu.system) / 1e6), requests: done };
}

/**
 * Runs `one(name)` for every name, in interleaved rounds, after one warm-up
 * pass (JIT, connections) whose result is dropped, unless `warmUp` is false.
 * Returns each name's results in round order.
 */
export async function interleave<T>(names: readonly string[], rounds: number, one: (name: string) => Promise<T>, warmUp = true): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>(names.map((n) => [n, []]));
  if (warmUp) for (const name of names) await one(name);
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) out.get(name)!.push(await one(name));
  }
  return out;
}

/** Median, min and max over rounds of `a ÷ b`, in requests/s and in requests per CPU-second. */
export function ratioOf(rates: Map<string, Rate[]>, a: string, b: string) {
  const ra = rates.get(a)!;
  const rb = rates.get(b)!;
  const wall = ra.map((x, i) => x.wall / rb[i]!.wall);
  const cpu = ra.map((x, i) => x.cpu / rb[i]!.cpu);
  return {
    ratio: round3(median(wall)),
    ratioMin: round3(Math.min(...wall)),
    ratioMax: round3(Math.max(...wall)),
    cpuRatio: round3(median(cpu)),
    cpuRatioMin: round3(Math.min(...cpu)),
    cpuRatioMax: round3(Math.max(...cpu)),
  };
}

/** Median requests/s and requests per client CPU-second of one client over the rounds. */
export function ratesOf(rates: Map<string, Rate[]>, name: string) {
  const r = rates.get(name)!;
  return { reqPerSec: Math.round(median(r.map((x) => x.wall))), reqPerCpuSec: Math.round(median(r.map((x) => x.cpu))) };
}

/** Interleaved `measure()` rounds over named clients. */
export function runRounds(clients: Record<string, Call>, o: { runMs: number; rounds: number; concurrency: number }): Promise<Map<string, Rate[]>> {
  return interleave(Object.keys(clients), o.rounds, (name) => measure(clients[name]!, o));
}
