// Not the scorecard's FM-07 scenario: this proves the same failure at the pool layer (bare generic-pool vs @breakwater/pool over raw sockets), not through an HTTP client.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createFaultProxy } from '@breakwater/chaos';
import { createPool, presetForPathIdle } from '@breakwater/pool';
import { afterEach, expect, it } from 'vitest';
import { createGenericPool } from '../../packages/pool/test/bareGenericPool.js';
import { exchange, LineServer } from '../../packages/pool/test/lineServer.js';
import { reportResult } from '../support/report.js';

/**
 * FM-07, the stale pooled connection: a load balancer closes a connection
 * idle for T; a request sent on it at that moment meets a reset. On bare
 * loopback that race lasts microseconds, so the chaos proxy's `idleReset`
 * makes it deterministic: any connection reused after ≥ T of silence has its
 * request dropped and gets an RST.
 *
 * 1,000 requests per side, in 20 waves of 50 spaced uniformly in [T/4, 7T/4].
 * Naive: bare generic-pool over plain sockets (its idle eviction is off by
 * default and would be at 30 s anyway). Breakwater: the pool with its idle
 * timeout derived from T (`presetForPathIdle(T)`: T/2).
 */

const T = 300;
const CALLERS = 50;
const WAVES = 20;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

interface Lender {
  acquire(): Promise<net.Socket>;
  release(conn: net.Socket): unknown;
  destroy(conn: net.Socket): unknown;
}

/**
 * Runs the load: `WAVES` waves of `CALLERS` concurrent requests, the pause
 * before each wave drawn uniformly from [T/4, 7T/4] (seeded), so every
 * pooled connection is reused after an idle time spread around T.
 */
async function load(pool: Lender, seed: number): Promise<{ ok: number; failed: Record<string, number> }> {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const result = { ok: 0, failed: {} as Record<string, number> };
  const request = async (id: string) => {
    let conn: net.Socket | undefined;
    try {
      conn = await pool.acquire();
      const reply = await exchange(conn, `ECHO ${id}`, AbortSignal.timeout(2_000));
      if (reply !== id) throw new Error(`wrong reply ${reply}`);
      pool.release(conn);
      result.ok++;
    } catch (error) {
      if (conn !== undefined) pool.destroy(conn);
      const code = (error as { code?: string }).code ?? (error as Error).name;
      result.failed[code] = (result.failed[code] ?? 0) + 1;
    }
  };
  for (let wave = 0; wave < WAVES; wave++) {
    if (wave > 0) await sleep(T / 4 + random() * 1.5 * T);
    await Promise.all(Array.from({ length: CALLERS }, (_, caller) => request(`${wave}-${caller}`)));
  }
  return result;
}

it(`FM-07: 1,000 requests spaced around the path's idle timeout (${T} ms): 0 failures with the pool, naive reuse fails some`, async () => {
  const server = await LineServer.start();
  cleanups.push(() => server.close());
  const proxies = await Promise.all([1, 2].map(() => createFaultProxy({ target: { port: server.port }, seed: 7, faults: [{ type: 'idleReset', idleMs: T }] })));
  for (const p of proxies) cleanups.push(() => p.close());
  const [naiveProxy, bwProxy] = proxies as [(typeof proxies)[0], (typeof proxies)[0]];

  const naive = createGenericPool(
    {
      create: () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(naiveProxy.port, naiveProxy.host, () => resolve(s));
          s.once('error', reject);
        }),
      destroy: async (s) => void s.destroy(),
    },
    { max: CALLERS },
  );
  cleanups.push(async () => {
    await naive.drain();
    await naive.clear();
  });
  const naiveLender: Lender = {
    acquire: () => naive.acquire(),
    release: (c) => naive.release(c),
    destroy: (c) => naive.destroy(c),
  };

  const pathIdle = presetForPathIdle(T);
  expect(pathIdle.idleTimeoutMs).toBeLessThan(T);
  const pool = createPool({ host: bwProxy.host, port: bwProxy.port, max: CALLERS, ...pathIdle });
  cleanups.push(() => pool.drain());

  const started = performance.now();
  const [naiveResult, bwResult] = await Promise.all([load(naiveLender, 1), load(pool, 1)]);
  const elapsedMs = performance.now() - started;
  const naiveFailed = Object.values(naiveResult.failed).reduce((a, b) => a + b, 0);

  expect(bwResult).toEqual({ ok: CALLERS * WAVES, failed: {} });
  expect(naiveFailed).toBeGreaterThan(100);
  expect(naiveProxy.stats().faultsApplied.idleReset).toBeGreaterThan(100);
  expect(bwProxy.stats().faultsApplied.idleReset ?? 0).toBe(0);
  expect(elapsedMs).toBeLessThan(20_000);

  const s = pool.stats();
  reportResult(
    { fm: 'FM-07', side: 'naive', metric: 'failed requests', value: naiveFailed, unit: 'requests' },
    `bare generic-pool, ${CALLERS * WAVES} requests in waves spaced ${T / 4}–${(7 * T) / 4} ms through an idle reset at ${T} ms: ${naiveFailed} failed (${JSON.stringify(naiveResult.failed)})`,
  );
  reportResult(
    { fm: 'FM-07', side: 'breakwater', metric: 'failed requests', value: 0, unit: 'requests' },
    `@breakwater/pool with idleTimeoutMs ${pathIdle.idleTimeoutMs}: 0 of ${CALLERS * WAVES} failed; ${s.created} connections opened, ${s.evicted.idle} closed idle, ${CALLERS * WAVES - s.created} requests on a reused connection (${Math.round(elapsedMs)} ms for both sides)`,
  );
});
