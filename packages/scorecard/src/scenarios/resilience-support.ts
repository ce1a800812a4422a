import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { ScenarioContext } from '../types.js';

/** Helpers shared by FM-09, 10, 11, 12 and 14. Everything they open is closed through `ctx.defer`. */

// Children (FM-09's servers, FM-10's clients) load @breakwater packages as
// their parent does. From dist/ (the installed CLI) Node resolves them from
// this file; from the workspace sources (vitest) a child needs the resolution
// vitest gives the parent, which the repository's ts-hooks provide.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const CHILD_FLAGS = FROM_SOURCE ? ['--import', fileURLToPath(new URL('../../../../test/support/ts-hooks.ts', import.meta.url))] : [];

/** What a child passes to `import()` to load `pkg`. */
export const childImport = (pkg: '@breakwater/ack'): string => (FROM_SOURCE ? pkg : import.meta.resolve(pkg));

// A child exits when its parent is gone, even if the parent was SIGKILLed and never ran its defers.
const ORPHAN_GUARD = 'const __p=process.ppid;setInterval(()=>{if(process.ppid!==__p)process.exit(1)},500).unref();';

export interface Child {
  readonly pid: number;
  /** The first JSON line the child prints (e.g. `{"port":1234}`). */
  readonly ready: Promise<Record<string, unknown>>;
  /** Every JSON line printed so far. */
  readonly lines: Record<string, unknown>[];
  readonly exited: Promise<void>;
}

/** Runs ES module `source` in a Node child (`process.argv[1…]` = `args`); SIGKILLed by the scenario's defers. */
export function spawnChild(ctx: ScenarioContext, source: string, args: readonly string[] = [], flags: readonly string[] = []): Child {
  // After an abort the runner may already have run the defers: start nothing they would miss.
  ctx.signal.throwIfAborted();
  const child = spawn(process.execPath, [...CHILD_FLAGS, ...flags, '--input-type=module', '-e', ORPHAN_GUARD + source, '--', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  ctx.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); // a stopped process dies too
    await Promise.race([exited, sleep(2_000)]);
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr = (stderr + c).slice(-4_000);
  });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      pending += c;
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        lines.push(JSON.parse(line) as Record<string, unknown>);
        resolve(lines[0]!);
      }
    });
    // 'exit' can precede the last 'data': give it a turn.
    void exited.then(() => setImmediate(() => reject(new Error(`child exited before printing a JSON line: ${stderr.trim()}`))));
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });
  ready.catch(() => {});
  return { pid: child.pid ?? -1, ready, lines, exited };
}

/** An HTTP server on `host`:`port` (0: any), closed by the scenario's defers. */
export async function listen(
  ctx: ScenarioContext,
  handler: http.RequestListener,
  host = '127.0.0.1',
  port = 0,
): Promise<{ server: http.Server; port: number }> {
  ctx.signal.throwIfAborted();
  const server = http.createServer(handler);
  ctx.defer(() => closeServer(server));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export function closeServer(server: http.Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A plain `http.get` (the naive client): resolves with the status once the body is read. */
export function httpGet(port: number, options: { agent?: http.Agent | false; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', ...options }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** An agent closed by the scenario's defers. */
export function keepAliveAgent(ctx: ScenarioContext): http.Agent {
  const agent = new http.Agent({ keepAlive: true });
  ctx.defer(() => agent.destroy());
  return agent;
}

export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((sorted.length * p) / 100) - 1))] ?? Number.NaN;
}

/** At most `max` points, evenly picked, for a chart. */
export function thin(points: readonly number[], max = 200): number[] {
  if (points.length <= max) return [...points];
  return Array.from({ length: max }, (_, i) => points[Math.floor((i * points.length) / max)]!);
}

export const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

/** `ms` of sleep that rejects when the scenario is aborted. */
export const wait = (ctx: ScenarioContext, ms: number): Promise<void> => sleep(ms, undefined, { signal: ctx.signal });

/** Rejects when the scenario is aborted; never resolves otherwise. Race it against waits that have no signal. */
export function aborted(ctx: ScenarioContext): Promise<never> {
  return new Promise((_, reject) => {
    if (ctx.signal.aborted) reject(ctx.signal.reason);
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
  });
}

/** Calls `call` back to back (2 ms apart) until `stop()` or the abort; records each latency and error (FM-12). */
export function callLoop(ctx: ScenarioContext, call: () => Promise<unknown>) {
  const samples: { ms: number; error: unknown }[] = [];
  let running = true;
  const done = (async () => {
    while (running && !ctx.signal.aborted) {
      const t = performance.now();
      const error = await call().then(
        () => undefined,
        (e: unknown) => e ?? 'error',
      );
      samples.push({ ms: performance.now() - t, error });
      await sleep(2);
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await done;
    },
  };
}
