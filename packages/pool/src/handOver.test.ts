import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { exchange } from '../test/lineServer.js';
import { poolFixture } from '../test/poolFixture.js';

const { setup } = poolFixture();

/**
 * release() hands the connection to the oldest waiting caller in the same
 * tick, reusing borrow records and registering each record as its own abort
 * listener. These are the races and reuses that shape could get wrong.
 */
describe('ConnectionPool: hand-over to a waiting caller', () => {
  it('hands over a connection borrowed longer than idleTimeoutMs without a probe or an idle eviction: its idleness starts at the release', async () => {
    let probes = 0;
    const { clock, pool } = await setup({
      max: 1,
      idleTimeoutMs: 5_000,
      validateAfterIdleMs: 1_000,
      acquireTimeoutMs: 60_000,
      probe: async (conn, signal) => {
        probes++;
        return (await exchange(conn, 'PING', signal)) === 'PONG';
      },
    });
    const held = await pool.acquire();
    const waiting = pool.acquire();
    expect(pool.stats().waiting).toBe(1);
    clock.advance(6_000); // in use all along: no idleness
    pool.release(held);
    expect(await waiting).toBe(held);
    expect(probes).toBe(0);
    expect(pool.stats()).toMatchObject({ created: 1, borrowed: 1, evicted: { idle: 0, probeFailed: 0 } });
    pool.release(held);
    clock.advance(1_000); // idle now, for validateAfterIdleMs
    expect(await pool.acquire()).toBe(held);
    expect(probes).toBe(1);
    pool.release(held);
  });

  it('rejects a caller whose signal aborts in the tick of a release with BW_ERR_ABORTED, and the connection goes to the next caller or the idle list', async () => {
    const { pool } = await setup({ max: 1 });
    const held = await pool.acquire();
    for (const nextWaits of [true, false]) {
      const controller = new AbortController();
      // Runs before the pool's own listener: the release finds the aborted caller still queued.
      controller.signal.addEventListener('abort', () => pool.release(held), { once: true });
      const aborted = pool.acquire(controller.signal);
      const next = nextWaits ? pool.acquire() : undefined;
      controller.abort();
      await expect(aborted).rejects.toMatchObject({ code: 'BW_ERR_ABORTED' });
      if (next !== undefined) {
        expect(await next).toBe(held);
        expect(pool.stats()).toMatchObject({ borrowed: 1, idle: 0, waiting: 0 });
      } else {
        expect(pool.stats()).toMatchObject({ borrowed: 0, idle: 1, waiting: 0 });
        expect(await pool.acquire()).toBe(held);
      }
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    }
    pool.release(held);
    expect(pool.stats()).toMatchObject({ size: 1, created: 1 });
  });

  it('a timeout due at the instant of a release: the caller gets the connection or BW_ERR_POOL_EXHAUSTED, never both, and nothing is lost', async () => {
    const { clock, pool } = await setup({ max: 1, acquireTimeoutMs: 2_000 });
    const held = await pool.acquire();
    clock.advance(2_000); // the queue's timer, armed by that first acquire, fires for nothing
    // The release's timer first: the waiter is still queued (its deadline not yet acted on) and is served.
    clock.setTimeout(() => pool.release(held), 2_000);
    const served = pool.acquire();
    clock.advance(2_000);
    expect(await served).toBe(held);
    expect(pool.stats()).toMatchObject({ borrowed: 1, waiting: 0, acquireTimeouts: 0 });
    // The timeout first: the caller is rejected, and the release that follows puts the connection on the idle list.
    const timedOut = pool.acquire();
    clock.setTimeout(() => pool.release(held), 2_000);
    clock.advance(2_000);
    await expect(timedOut).rejects.toMatchObject({ code: 'BW_ERR_POOL_EXHAUSTED' });
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, borrowed: 0, waiting: 0, acquireTimeouts: 1 });
    expect(await pool.acquire()).toBe(held);
    pool.release(held);
  });

  it('unhooks a served caller from its signal: aborting it later cannot touch the next caller, whose borrow reuses the record', async () => {
    const { pool } = await setup({ max: 1 });
    const held = await pool.acquire();
    const first = new AbortController();
    const second = new AbortController();
    const servedFirst = pool.acquire(first.signal);
    expect(getEventListeners(first.signal, 'abort')).toHaveLength(1);
    pool.release(held);
    expect(await servedFirst).toBe(held);
    expect(getEventListeners(first.signal, 'abort')).toHaveLength(0);
    const servedSecond = pool.acquire(second.signal);
    first.abort();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.stats().waiting).toBe(1);
    pool.release(held);
    expect(await servedSecond).toBe(held);
    expect(getEventListeners(second.signal, 'abort')).toHaveLength(0);
    pool.release(held);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, waiting: 0, acquireTimeouts: 0 });
  });
});
