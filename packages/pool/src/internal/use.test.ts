import { describe, expect, it } from 'vitest';
import { exchange } from '../../test/lineServer.js';
import { poolFixture } from '../../test/poolFixture.js';

const { setup } = poolFixture();

/** Resolves with the abort reason once `signal` aborts. */
const aborted = (signal: AbortSignal) => new Promise<unknown>((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));

describe('use(fn): the signal handed to fn', () => {
  it('stays quiet for a use that ends normally, and the connection goes back', async () => {
    const { pool } = await setup();
    let seen: AbortSignal | undefined;
    expect(
      await pool.use((conn, signal) => {
        seen = signal;
        return exchange(conn, 'ECHO ok');
      }),
    ).toBe('ok');
    expect(seen?.aborted).toBe(false);
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 0 });
  });

  it('aborts with the caller’s reason, and the connection (state unknown) is destroyed without counting against health', async () => {
    const { pool } = await setup();
    const caller = new AbortController();
    const used = pool.use((_conn, signal) => aborted(signal).then((reason) => Promise.reject(reason)), caller.signal);
    await new Promise((r) => setImmediate(r));
    caller.abort(new Error('user went away'));
    await expect(used).rejects.toThrow('user went away');
    expect(pool.stats()).toMatchObject({ size: 0, evicted: { destroyed: 1, failed: 0 }, consecutiveFailures: 0 });
  });

  it('aborts with BW_ERR_DEADLINE when timeoutMs runs out', async () => {
    const { clock, pool } = await setup();
    const used = pool.use((_conn, signal) => aborted(signal).then((reason) => Promise.reject(reason)), { timeoutMs: 500 });
    await new Promise((r) => setImmediate(r));
    clock.advance(499);
    expect(pool.stats().borrowed).toBe(1);
    clock.advance(1);
    await expect(used).rejects.toMatchObject({ code: 'BW_ERR_DEADLINE' });
    expect(pool.stats()).toMatchObject({ borrowed: 0, evicted: { destroyed: 1 } });
  });

  it('aborts with BW_ERR_CLOSED when drain() stops waiting for it, not before', async () => {
    const { clock, pool } = await setup({ drainTimeoutMs: 1_000 });
    let signal: AbortSignal | undefined;
    const used = pool.use((_conn, s) => {
      signal = s;
      return aborted(s).then((reason) => Promise.reject(reason));
    });
    await new Promise((r) => setImmediate(r));
    const drained = pool.drain();
    clock.advance(999);
    expect(signal?.aborted).toBe(false); // drain is graceful until its deadline
    clock.advance(1);
    await expect(used).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await drained;
    expect(pool.stats()).toMatchObject({ size: 0, evicted: { drained: 1 } });
  });

  it('rejects a bad fn or timeoutMs with BW_ERR_INVALID_OPTION', async () => {
    const { pool } = await setup();
    await expect(pool.use(undefined as never)).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION' });
    await expect(pool.use(() => 1, { timeoutMs: -1 })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION' });
  });
});
