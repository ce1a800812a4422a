import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { SIZED_RESPONSE_SERVER, SLOW_RESPONSE_SERVER } from '@breakwater/chaos';
import { createPool, POOL_DEFAULTS, type PoolOptions } from '@breakwater/pool';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, judgeConfigured, whose } from './config-support.js';
import { codeOf, progressEvery, readyPort, scenarioTopology, seconds, wait } from './kernel-support.js';

// FM-08, health checks that lie: the FM-06 path (1400-MTU hop, ICMP
// dropped), so a small ping passes and every real (100 KB) response dies at
// the router. Naive: a health check that opens a connection and asks for 4
// bytes every second, while real requests go out on plain sockets. Breakwater:
// createPool() with its defaults; real requests fail on its stall watchdog,
// each failure evicts its connection, and after `unhealthyAfterFailures` in a
// row the endpoint is marked unhealthy: callers fail fast.
// Healthy twin, beside the window: a slow-but-correct backend on a healthy
// path (thinks 2 s, then 512 KB in spaced chunks) must stay in rotation.

const PING = 4;
const LARGE = 100 * 1024;
const REAL_REQUESTS = POOL_DEFAULTS.unhealthyAfterFailures;
/** Past the pool's verdict (stall timeout 10 s + ~1 s) with a margin. */
const NAIVE_WINDOW_MS = 14_000;

/** Asks for `size` bytes on `conn`; resolves once they all arrived, rejects on error/close or abort. */
function request(conn: net.Socket, size: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (chunk: Buffer) => {
      got += chunk.length;
      if (got >= size) done();
    };
    const onError = (error: Error) => done(error);
    const onClose = () => done(Object.assign(new Error('closed mid-reply'), { code: 'ECONNRESET' }));
    const onAbort = () => done(signal?.reason as Error);
    function done(error?: Error) {
      conn.off('data', onData).off('error', onError).off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      error === undefined ? resolve() : reject(error);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    conn.on('data', onData).on('error', onError).on('close', onClose);
    conn.write(`${size}\n`);
  });
}

/** A plain socket; destroyed by the scenario's defers. */
function plainConnect(ctx: ScenarioContext, host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    ctx.defer(() => socket.destroy());
    socket.once('connect', () => resolve(socket)).once('error', reject);
  });
}

/** The naive side: a 4-byte health check every second; real requests on plain sockets with no timeout. */
async function naiveSide(ctx: ScenarioContext, host: string, port: number) {
  const window = AbortSignal.any([ctx.signal, AbortSignal.timeout(NAIVE_WINDOW_MS)]);
  const real = await Promise.all(Array.from({ length: REAL_REQUESTS }, () => plainConnect(ctx, host, port)));
  const outcomes = real.map((conn) =>
    request(conn, LARGE, window).then(
      () => 'answered',
      (error: unknown) => (window.aborted ? 'pending' : codeOf(error)),
    ),
  );
  let healthy = 0;
  let checks = 0;
  while (!window.aborted) {
    checks++;
    const conn = await plainConnect(ctx, host, port).catch(() => undefined);
    const ok =
      conn !== undefined &&
      (await request(conn, PING, AbortSignal.any([window, AbortSignal.timeout(1_000)])).then(
        () => true,
        () => false,
      ));
    conn?.destroy();
    if (ok) healthy++;
    else if (window.aborted) checks--; // cut off by the window's end, not a verdict
    await wait(ctx, 1_000).catch(() => {});
  }
  ctx.signal.throwIfAborted();
  return { healthy, checks, outcomes: await Promise.all(outcomes) };
}

/** The Breakwater side: the same real requests through createPool() with the user's options (the defaults without). */
async function breakwaterSide(ctx: ScenarioContext, host: string, port: number) {
  const pool = createPool({ ...ctx.config.pool, host, port });
  ctx.defer(() => pool.drain());
  const started = performance.now();
  let marked: { atMs: number; failures: number } | undefined;
  pool.on('markedUnhealthy', ({ consecutiveFailures }) => {
    marked ??= { atMs: performance.now() - started, failures: consecutiveFailures };
  });
  const outcomes = await Promise.all(
    Array.from({ length: REAL_REQUESTS }, () =>
      pool
        .use((conn) => request(conn, LARGE, ctx.signal))
        .then(
          () => 'answered',
          (error: unknown) => codeOf(error),
        ),
    ),
  );
  ctx.signal.throwIfAborted();
  // Once marked, the next caller fails at once instead of waiting on the dead path.
  const t0 = performance.now();
  const next = await pool
    .use((conn) => request(conn, LARGE, ctx.signal))
    .then(
      () => 'answered',
      (error: unknown) => codeOf(error),
    );
  return { outcomes, marked, next, nextMs: performance.now() - t0 };
}

/** The pool options that decide when an endpoint is stalled and marked unhealthy. */
const EJECT_KEYS = ['socket.stallTimeoutMs', 'socket.expectResponseAfterWrite', 'unhealthyAfterFailures', 'unhealthyForMs'];
/** The twin's backend: thinks this long, then answers TWIN_BYTES in chunks of TWIN_CHUNK, TWIN_GAP_MS apart. */
const TWIN_THINK_MS = 2_000;
const TWIN_BYTES = 512 * 1024;
const TWIN_CHUNK = 64 * 1024;
const TWIN_GAP_MS = 100;

/**
 * Healthy twin: a slow-but-correct backend on a healthy path (the FM-06
 * shape, ICMP passed: PMTU discovery works) that thinks TWIN_THINK_MS and
 * then answers 512 KB in spaced chunks. createPool() with `pool` serves
 * REAL_REQUESTS callers at once, then one more; healthy when every answer
 * arrives whole and the endpoint is never marked unhealthy.
 */
export async function slowBackendTwin(ctx: ScenarioContext, pool: Omit<PoolOptions, 'host' | 'port' | 'connect'>): Promise<Measurement> {
  const topo = await scenarioTopology(ctx, { router: true, mtu: { clientRouter: 1400 } });
  const args = [TWIN_THINK_MS, TWIN_CHUNK, TWIN_GAP_MS].map(String);
  const port = await readyPort(ctx, topo.server.spawnNode(SLOW_RESPONSE_SERVER, args).ready);
  const twinPool = createPool({ ...pool, host: topo.server.address, port });
  ctx.defer(() => twinPool.destroy());
  let marked = 0;
  twinPool.on('markedUnhealthy', () => marked++);
  const call = () =>
    twinPool
      .use((conn) => request(conn, TWIN_BYTES, ctx.signal))
      .then(
        () => 'answered',
        (error: unknown) => codeOf(error),
      );
  const started = performance.now();
  const outcomes = await Promise.all(Array.from({ length: REAL_REQUESTS }, call));
  ctx.signal.throwIfAborted();
  outcomes.push(await call()); // the endpoint is still in rotation for the next caller
  ctx.signal.throwIfAborted();
  const answered = outcomes.filter((o) => o === 'answered').length;
  const ok = answered === outcomes.length && marked === 0;
  return {
    value: answered,
    unit: 'count',
    text: ok
      ? `${answered}/${outcomes.length} answered in ${seconds(performance.now() - started)} s, never marked unhealthy`
      : `${tally(outcomes)}${marked > 0 ? '; marked unhealthy' : ''}`,
    ok,
  };
}

/** `3 BW_ERR_STALLED, 2 pending`. */
function tally(outcomes: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
  return [...counts].map(([o, n]) => `${n} ${o}`).join(', ');
}

export const FM_08: Scenario = {
  id: 'FM-08',
  title: 'Health checks that lie (small ping passes, real requests fail)',
  bound: 'endpoint marked bad from real traffic within N failures',
  naiveExpectation: 'the health check keeps saying healthy while no real request is answered',
  twinExpectation: `a slow-but-correct backend (thinks ${seconds(TWIN_THINK_MS)} s, then ${TWIN_BYTES / 1024} KB in chunks ${TWIN_GAP_MS} ms apart): every caller answered, never marked unhealthy`,
  requires: ['netns'],
  budgetMs: 40_000,
  async run(ctx) {
    const topo = await scenarioTopology(ctx, { router: true, mtu: { clientRouter: 1400 } });
    await topo.router?.nft.dropIcmpUnreachable();
    const port = await readyPort(ctx, topo.server.spawnNode(SIZED_RESPONSE_SERVER).ready);
    const host = topo.server.address;
    // Beside the window, on its own healthy path: it adds no wall time.
    const twin = slowBackendTwin(ctx, ctx.config.pool).then((m) => blameOptions(ctx, m, ctx.config.pool, EJECT_KEYS));
    twin.catch(() => {}); // observed below; an abort before then must not leave its rejection unhandled

    progressEvery(ctx, (s) => `PMTU black hole: health checks and ${REAL_REQUESTS} real requests per side (${s} s of ${seconds(NAIVE_WINDOW_MS)})`);
    const [naive, bw] = await Promise.all([naiveSide(ctx, host, port), breakwaterSide(ctx, host, port)]);
    ctx.signal.throwIfAborted();

    const answered = naive.outcomes.filter((o) => o === 'answered').length;
    // The catalogue's N is the default: a user's higher threshold keeps the lying endpoint in rotation longer.
    const userN = ctx.config.pool.unhealthyAfterFailures;
    const defeat =
      userN !== undefined && userN > POOL_DEFAULTS.unhealthyAfterFailures
        ? `unhealthyAfterFailures ${userN} → the endpoint is marked bad after ${userN} failed requests, bound ${POOL_DEFAULTS.unhealthyAfterFailures}`
        : undefined;
    return {
      naive: {
        value: naive.healthy,
        unit: 'count',
        text: `health check healthy ${naive.healthy}/${naive.checks}; ${answered}/${REAL_REQUESTS} real requests answered in ${seconds(NAIVE_WINDOW_MS)} s`,
        ok: naive.checks > 0 && naive.healthy === naive.checks && answered === 0,
      },
      breakwater: judgeConfigured(
        ctx,
        {
          value: bw.marked?.failures ?? REAL_REQUESTS,
          unit: 'count',
          text:
            bw.marked === undefined
              ? `never marked unhealthy (${tally(bw.outcomes)})`
              : `marked unhealthy after ${bw.marked.failures} failed requests (${seconds(bw.marked.atMs)} s); then ${bw.next} in ${bw.nextMs.toFixed(0)} ms`,
          ok: bw.marked !== undefined && bw.marked.failures <= POOL_DEFAULTS.unhealthyAfterFailures && bw.next === 'BW_ERR_CIRCUIT_OPEN',
        },
        defeat,
        ctx.config.pool,
        EJECT_KEYS,
      ),
      twin: await twin,
      notes: [
        `1400-MTU hop with ICMP dropped: ${PING} B answers pass, ${LARGE / 1024} KB answers never arrive`,
        `naive real requests after ${seconds(NAIVE_WINDOW_MS)} s: ${tally(naive.outcomes)}`,
        `breakwater: ${whose(ctx, 'createPool()', ctx.config.pool)} (unhealthyAfterFailures ${userN ?? POOL_DEFAULTS.unhealthyAfterFailures}, socket stallTimeoutMs ${ctx.config.pool.socket?.stallTimeoutMs ?? 10_000} ms): ${tally(bw.outcomes)}`,
      ],
    };
  },
};
