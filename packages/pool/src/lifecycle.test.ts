import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { exchange, LineServer } from '../test/lineServer.js';
import { poolFixture } from '../test/poolFixture.js';
import { createPool } from './createPool.js';

/** One lifecycle (issue #17): close() graceful with a deadline, destroy() at once, asyncDispose, drain() deprecated. */

const { cleanups, setup } = poolFixture();

const settledSoon = async (p: Promise<unknown>) => {
  let settled = false;
  void p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setTimeout(r, 20));
  return settled;
};

describe('ConnectionPool lifecycle', () => {
  it('close({ deadlineMs }) waits for a borrowed connection up to its own deadline, not drainTimeoutMs', async () => {
    const { clock, pool } = await setup({ drainTimeoutMs: 60_000 });
    const held = await pool.acquire();
    const closing = pool.close({ deadlineMs: 500 });
    expect(pool.close()).toBe(closing); // the same promise, whatever the options
    clock.advance(499);
    expect(await settledSoon(closing)).toBe(false);
    clock.advance(1);
    await closing;
    expect(held.destroyed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    expect(pool.stats()).toMatchObject({ size: 0, borrowed: 0, draining: true, evicted: { drained: 1 } });
  });

  it('destroy() closes at once: waiters rejected, borrowed connections destroyed, and it cuts a close() short', async () => {
    const { clock, pool } = await setup({ max: 1, drainTimeoutMs: 60_000 });
    const held = await pool.acquire();
    const waiter = pool.acquire();
    const closing = pool.close();
    await expect(waiter).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    expect(await settledSoon(closing)).toBe(false);
    const destroying = pool.destroy();
    expect(destroying).toBe(closing);
    await destroying;
    expect(held.destroyed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
  });

  it('a later close({ deadlineMs }) shorter than the first cuts the wait short; no timer is left', async () => {
    const { clock, pool } = await setup({ drainTimeoutMs: 60_000 });
    const held = await pool.acquire();
    const closing = pool.close();
    expect(pool.close({ deadlineMs: 200 })).toBe(closing);
    clock.advance(199);
    expect(await settledSoon(closing)).toBe(false);
    clock.advance(1);
    await closing;
    expect(held.destroyed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('close() and use() options are checked: misspelt keys, null, both deadline names, timer overflow', async () => {
    const { pool } = await setup();
    const invalid = (key?: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', ...(key === undefined ? {} : { details: { key } }) });
    const fn = async () => 1;
    await expect(pool.use(fn, { deadLineMs: 50 } as never)).rejects.toEqual(invalid('deadLineMs'));
    await expect(pool.use(fn, null as never)).rejects.toEqual(invalid());
    await expect(pool.use(fn, { deadlineMs: 100, timeoutMs: 5_000 })).rejects.toEqual(invalid('timeoutMs'));
    await expect(pool.use(fn, { deadlineMs: 2 ** 31 })).rejects.toEqual(invalid('deadlineMs'));
    await expect(pool.use(fn, { deadlineMs: 0.5 })).rejects.toEqual(invalid('deadlineMs'));
    await expect(pool.use(fn, { deadlineMs: 1_000 })).resolves.toBe(1);
    await expect(pool.close({ deadLineMs: 0 } as never)).rejects.toEqual(invalid('deadLineMs'));
    await expect(pool.close(null as never)).rejects.toEqual(invalid());
  });

  it('await using closes the pool when the scope ends', async () => {
    const server = await LineServer.start();
    cleanups.push(() => server.close());
    let conn: net.Socket;
    {
      await using pool = createPool({ host: '127.0.0.1', port: server.port });
      conn = await pool.acquire();
      expect(await exchange(conn, 'PING')).toBe('PONG');
      pool.release(conn);
    }
    expect(conn.destroyed).toBe(true);
  });

  it('drain() is a deprecated alias of close(): timeoutMs maps to deadlineMs', async () => {
    const { clock, pool } = await setup({ drainTimeoutMs: 60_000 });
    const held = await pool.acquire();
    const draining = pool.drain({ timeoutMs: 100 });
    clock.advance(100);
    await draining;
    expect(held.destroyed).toBe(true);
    expect(pool.drain()).toBe(draining);
  });

  it('rejects a bad deadlineMs with BW_ERR_INVALID_OPTION naming the option and its range, and stays open', async () => {
    const { pool } = await setup();
    for (const deadlineMs of [-1, 1.5, Number.NaN, 2 ** 31]) {
      await expect(pool.close({ deadlineMs })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', message: expect.stringContaining('`deadlineMs`') });
    }
    const conn = await pool.acquire();
    expect(await exchange(conn, 'PING')).toBe('PONG');
    pool.release(conn);
  });

  it('healthy but unusual: close({ deadlineMs: 0 }) on an idle pool, then destroy(), both resolve and leave no socket', async () => {
    const { server, pool } = await setup({ minIdle: 2 });
    pool.release(await pool.acquire());
    await pool.close({ deadlineMs: 0 });
    await pool.destroy();
    expect(pool.stats()).toMatchObject({ size: 0, idle: 0 });
    for (let i = 0; i < 50 && server.sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.sockets.size).toBe(0);
  });

  it('discard(conn) destroys a borrowed connection; destroy(conn) still does (deprecated) and returns nothing', async () => {
    const { pool } = await setup();
    const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
    pool.discard(a!);
    expect(pool.destroy(b!)).toBeUndefined();
    expect(a!.destroyed && b!.destroyed).toBe(true);
    expect(pool.stats()).toMatchObject({ size: 0, evicted: { destroyed: 2 } });
    expect(() => pool.discard(a!)).toThrow(/discard\(\): this connection is not borrowed/);
  });
});
