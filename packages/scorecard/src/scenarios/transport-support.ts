import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ScenarioContext, ScenarioResult } from '../types.js';

/** Helpers shared by the transport scenarios (FM-04, 07, 13, 16, 17), and the HAProxy launcher test/support re-exports. */

/** Nearest-rank percentile; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** A seeded LCG in [0, 1): the same spacing every run, so two sides (and two runs) see the same load. */
export function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/** At most `max` evenly picked points, rounded to 0.01: what a chart needs. */
export function thin(points: readonly number[], max = 200): number[] {
  const step = Math.max(1, points.length / max);
  const picked: number[] = [];
  for (let i = 0; i < points.length && picked.length < max; i += step) picked.push(Math.round(points[Math.floor(i)]! * 100) / 100);
  return picked;
}

/** `1.23 s` */
export const seconds = (ms: number): string => `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** Aborts with the scenario: rejects instead of waiting out the delay. */
export const pause = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal });

/** How long an aborted scenario may take to settle before its cleanups run anyway. */
const SETTLE_AFTER_ABORT_MS = 3_000;

/**
 * Wraps a scenario's `run` so that its cleanups run only once it has
 * settled. The runner does not wait for an aborted scenario: it runs the
 * cleanups registered so far at once, and a server or proxy the scenario
 * was opening at that moment would be registered after them and outlive
 * the run. Here one cleanup is registered first, and it waits for the
 * scenario (at most 3 s after the abort), then runs the scenario's own,
 * last registered first.
 */
export function settleBeforeCleanup(run: (ctx: ScenarioContext) => Promise<ScenarioResult>): (ctx: ScenarioContext) => Promise<ScenarioResult> {
  return (ctx) => {
    const cleanups: (() => unknown)[] = [];
    let result: Promise<ScenarioResult> | undefined;
    ctx.defer(async () => {
      const timer = new AbortController();
      await Promise.race([result?.catch(() => {}), sleep(SETTLE_AFTER_ABORT_MS, undefined, { signal: timer.signal, ref: false }).catch(() => {})]);
      timer.abort();
      const errors: unknown[] = [];
      for (let fn = cleanups.pop(); fn !== undefined; fn = cleanups.pop())
        await Promise.resolve()
          .then(fn)
          .catch((error: unknown) => errors.push(error));
      if (errors.length > 0) throw errors[0];
    });
    result = run({ ...ctx, defer: (fn) => void cleanups.push(fn) });
    return result;
  };
}

/**
 * Listens on `host:port` (an ephemeral port by default) and registers the
 * close, connections included (a keep-alive or pooled connection would keep
 * `close()` waiting), with `ctx.defer`. Resolves the port.
 */
export async function listen(ctx: ScenarioContext, server: net.Server, host = '127.0.0.1', port = 0): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const listening = new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  ctx.defer(async () => {
    await listening.catch(() => {});
    for (const socket of sockets) socket.destroy();
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  });
  await listening;
  return (server.address() as net.AddressInfo).port;
}

// --- HAProxy (FM-07's and FM-16's integration tests use it too, through test/support/haproxy.ts) ---

/** The haproxy binary on PATH (or in /usr/sbin, where Debian puts it), or undefined. */
export function haproxyBinary(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const file = join(dir, 'haproxy');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (bound and released; HAProxy cannot report the port it picked). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Haproxy {
  readonly pid: number | undefined;
  /** stdout and stderr so far (warnings, alerts). */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL after 2 s) and removes its temp dir; idempotent. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
const killRunning = () => {
  for (const c of running) c.kill('SIGKILL');
  running.clear();
};
/**
 * HAProxy cannot notice that its parent died, so it dies with it: on exit,
 * and on SIGTERM/SIGINT (CI cancelling the job, `kill`, Ctrl-C), after which
 * the signal is raised again unless someone else (the scorecard's Ctrl-C
 * handler) handles it. Only SIGKILL of the parent can still orphan it.
 * Installed on the first start, not at import: importing the CLI must not
 * touch `process`.
 */
function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', killRunning);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const onSignal = () => {
      killRunning();
      if (process.listenerCount(signal) === 1) {
        process.off(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Writes `config` to a temp dir and runs `haproxy -f <cfg> -db` (foreground)
 * as a child process; resolves once every port in `ports` accepts
 * connections. An abort through `signal` stops it and rejects.
 */
export async function startHaproxy(binary: string, config: string, ports: readonly number[], timeoutMs = 5_000, signal?: AbortSignal): Promise<Haproxy> {
  signal?.throwIfAborted();
  const dir = mkdtempSync(join(tmpdir(), 'bw-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, config);
  const child = spawn(binary, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d));
  child.stderr?.on('data', (d: Buffer) => (out += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopped: Promise<void> | undefined;
  const haproxy: Haproxy = {
    pid: child.pid,
    output: () => out,
    stop: () => {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
          await exited;
          clearTimeout(timer);
        }
        running.delete(child);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) {
      await haproxy.stop();
      signal.throwIfAborted();
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      await haproxy.stop();
      throw new Error(`haproxy exited (${child.exitCode ?? child.signalCode}) before listening:\n${out}`);
    }
    if ((await Promise.all(ports.map(accepts))).every(Boolean)) return haproxy;
    if (performance.now() > deadline) {
      await haproxy.stop();
      throw new Error(`haproxy did not listen on ${ports.join(', ')} within ${timeoutMs} ms:\n${out}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
