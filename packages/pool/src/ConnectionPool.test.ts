import diagnosticsChannel from 'node:diagnostics_channel';
import type net from 'node:net';
import { type Clock, FakeClock, monotonicClock } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { closedPort, exchange, LineServer, until } from '../test/lineServer.js';
import { poolFixture } from '../test/poolFixture.js';
import type { ConnectionPool } from './ConnectionPool.js';
import { createPool } from './createPool.js';

const { cleanups, setup } = poolFixture();

/** Every connection the pool knows about is idle, borrowed, being probed or opening. */
function expectBalanced(pool: ConnectionPool): void {
  const s = pool.stats();
  expect(s.size, JSON.stringify(s)).toBe(s.idle + s.borrowed + s.validating + s.connecting);
}

describe('ConnectionPool: lending', () => {
  it('reuses an idle connection and counts it', async () => {
    const { server, pool } = await setup();
    const a = await pool.acquire();
    expect(await exchange(a, 'PING')).toBe('PONG');
    pool.release(a);
    const b = await pool.acquire();
    expect(b).toBe(a);
    pool.release(b);
    expect(server.connections).toBe(1);
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, borrowed: 0, created: 1 });
  });

  it('throws BW_ERR_INVALID_OPTION for a connection returned twice or not its own', async () => {
    const { pool } = await setup();
    const conn = await pool.acquire();
    pool.release(conn);
    expect(() => pool.release(conn)).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION' }));
    const other = await setup();
    const foreign = await other.pool.acquire();
    expect(() => pool.destroy(foreign)).toThrow(/not borrowed from this pool/);
    other.pool.release(foreign);
  });

  it('use() returns the connection after an application error and evicts it after a connection-level one', async () => {
    const { pool } = await setup();
    await expect(pool.use(() => Promise.reject(new Error('NOT_FOUND')))).rejects.toThrow('NOT_FOUND');
    expect(pool.stats()).toMatchObject({ idle: 1, evicted: { failed: 0 } });
    // The reset arrives as ECONNRESET (or the hardened socket's BW_ERR_PEER_RESET): connection-level either way.
    await expect(pool.use((conn) => exchange(conn, 'RESET'))).rejects.toMatchObject({ code: expect.stringMatching(/ECONNRESET|BW_ERR_PEER_RESET/) });
    expect(pool.stats()).toMatchObject({ size: 0, evicted: { failed: 1 }, consecutiveFailures: 1 });
    expect(await pool.use((conn) => exchange(conn, 'ECHO hi'))).toBe('hi');
    expect(pool.stats().consecutiveFailures).toBe(0);
  });

  it('use({ deadlineMs }) aborts the use with BW_ERR_DEADLINE; timeoutMs is its deprecated alias', async () => {
    const { clock, pool } = await setup();
    const hang = (_conn: net.Socket, signal: AbortSignal) =>
      new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    for (const options of [{ deadlineMs: 1_000 }, { timeoutMs: 1_000 }]) {
      const using = pool.use(hang, options);
      await until(() => pool.stats().borrowed === 1, 2_000, 'borrowed');
      clock.advance(1_000);
      await expect(using).rejects.toMatchObject({ code: 'BW_ERR_DEADLINE' });
    }
    await expect(pool.use(hang, { deadlineMs: -1 })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'deadlineMs' } });
  });

  it('opens minIdle connections at start and replaces an evicted one', async () => {
    const { server, pool } = await setup({ minIdle: 2 });
    await until(() => pool.stats().idle === 2 && server.connections === 2, 2_000, 'warm-up');
    const conn = await pool.acquire();
    pool.destroy(conn);
    await until(() => pool.stats().size === 2 && pool.stats().connecting === 0, 2_000, 'replacement');
    expect(pool.stats()).toMatchObject({ created: 3, evicted: { destroyed: 1 } });
  });
});

describe('ConnectionPool: never a dead connection', () => {
  it('closes a connection idle for idleTimeoutMs, on the monotonic clock', async () => {
    const { clock, pool } = await setup({ idleTimeoutMs: 5_000 });
    const conn = await pool.acquire();
    pool.release(conn);
    clock.advance(4_999);
    expect(pool.stats().idle).toBe(1);
    clock.advance(1);
    expect(pool.stats()).toMatchObject({ size: 0, evicted: { idle: 1 } });
    expect(conn.destroyed).toBe(true);
  });

  it('never hands out a connection idle for idleTimeoutMs, even before the sweep runs', async () => {
    const fake = new FakeClock(1_000);
    let skewMs = 0;
    // Time moves but no timer fires: only the borrow-time check stands between the caller and the stale connection.
    const clock: Clock = { now: () => fake.now() + skewMs, setTimeout: (fn, ms) => fake.setTimeout(fn, ms), clearTimeout: (h) => fake.clearTimeout(h) };
    const { pool } = await setup({ idleTimeoutMs: 5_000, clock });
    const stale = await pool.acquire();
    pool.release(stale);
    skewMs = 5_000;
    const fresh = await pool.acquire();
    expect(fresh).not.toBe(stale);
    expect(stale.destroyed).toBe(true);
    expect(pool.stats().evicted.idle).toBe(1);
    pool.release(fresh);
  });

  it('retires a connection after its jittered lifetime, idle or at release', async () => {
    const { clock, pool } = await setup({ maxLifetimeMs: 100_000, maxLifetimeJitterRatio: 0.1, idleTimeoutMs: 200_000 });
    const kept = await pool.acquire();
    const idle = await pool.acquire();
    pool.release(idle);
    clock.advance(89_999); // below the shortest possible lifetime, 90 s
    expect(pool.stats().size).toBe(2);
    clock.advance(10_001); // past the longest, 100 s
    expect(pool.stats()).toMatchObject({ size: 1, borrowed: 1, evicted: { lifetime: 1 } });
    pool.release(kept);
    expect(pool.stats()).toMatchObject({ size: 0, evicted: { lifetime: 2 } });
  });

  it('evicts an idle connection the moment the peer closes it, even with unread bytes before the FIN (FM-17)', async () => {
    const { pool } = await setup({}, { idleCloseMs: 50, goodbye: 'ERR idle timeout\n' });
    const conns = await Promise.all([pool.acquire(), pool.acquire()]);
    for (const c of conns) pool.release(c);
    await until(() => pool.stats().size === 0, 2_000, 'eviction');
    // The goodbye bytes alone already make a connection unusable ('invalid'); the FIN makes it 'closed'.
    const { closed, invalid } = pool.stats().evicted;
    expect(closed + invalid).toBe(2);
    expect(closed).toBeGreaterThanOrEqual(1);
    for (const c of conns) expect(c.destroyed).toBe(true);
  });

  it.each(['paused', 'flowing'] as const)('does not hand out a %s connection that received bytes while idle', async (mode) => {
    const { server, pool } = await setup();
    const conn = await pool.acquire();
    // An exchange leaves the socket flowing with no 'data' listener: bytes that arrive then are emitted to nobody.
    if (mode === 'flowing') expect(await exchange(conn, 'PING')).toBe('PONG');
    let arrived = 0;
    const push = conn.push;
    conn.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk !== null) arrived++;
      return push.call(conn, chunk, encoding);
    };
    pool.release(conn);
    for (const s of server.sockets) s.write('PUSHED\n');
    await until(() => arrived > 0, 1_000, 'the pushed bytes');
    expect(conn.readableLength).toBe(mode === 'paused' ? 7 : 0);
    const next = await pool.acquire();
    expect(next).not.toBe(conn);
    expect(pool.stats().evicted.invalid).toBe(1);
    pool.release(next);
  });
});

describe('ConnectionPool: probe', () => {
  it('probes only after validateAfterIdleMs and replaces a connection whose probe fails, throws, rejects or times out', async () => {
    let verdict: 'ok' | 'false' | 'throw' | 'reject' | 'hang' = 'ok';
    let probes = 0;
    const { clock, pool } = await setup({
      validateAfterIdleMs: 1_000,
      validationTimeoutMs: 500,
      probe: async (conn, signal) => {
        probes++;
        if (verdict === 'false') return false;
        if (verdict === 'throw') throw new Error('probe blew up');
        if (verdict === 'reject') return Promise.reject(new Error('probe rejected'));
        if (verdict === 'hang') return new Promise<boolean>(() => {});
        return (await exchange(conn, 'PING', signal)) === 'PONG';
      },
    });
    let conn = await pool.acquire();
    pool.release(conn);
    conn = await pool.acquire(); // idle 0 ms: no probe
    expect(probes).toBe(0);
    pool.release(conn);
    clock.advance(1_000);
    const same = await pool.acquire();
    expect(same).toBe(conn);
    expect(probes).toBe(1);
    pool.release(same);
    for (const v of ['false', 'throw', 'reject', 'hang'] as const) {
      verdict = v;
      clock.advance(1_000);
      const pending = pool.acquire();
      if (v === 'hang') {
        await until(() => pool.stats().validating === 1, 1_000, 'probe');
        clock.advance(500);
      }
      const next = await pending;
      expect(pool.stats().evicted.probeFailed).toBe(['false', 'throw', 'reject', 'hang'].indexOf(v) + 1);
      expectBalanced(pool);
      pool.release(next);
      verdict = 'ok';
    }
    expect(pool.stats()).toMatchObject({ size: 1, idle: 1, borrowed: 0, validating: 0 });
  });
});

describe('ConnectionPool: bounded waiting', () => {
  it('rejects with BW_ERR_POOL_EXHAUSTED after acquireTimeoutMs, and the abandoned request swallows nothing', async () => {
    const { clock, pool } = await setup({ max: 1, acquireTimeoutMs: 2_000 });
    const held = await pool.acquire();
    const waiting = pool.acquire();
    await new Promise((r) => setImmediate(r));
    expect(pool.stats().waiting).toBe(1);
    clock.advance(2_000);
    await expect(waiting).rejects.toMatchObject({ code: 'BW_ERR_POOL_EXHAUSTED', message: expect.stringContaining('within 2000 ms') });
    pool.release(held);
    expect(pool.stats()).toMatchObject({ idle: 1, borrowed: 0, waiting: 0, acquireTimeouts: 1 });
    expect(await pool.acquire()).toBe(held);
    pool.release(held);
  });

  it('rejects at once beyond maxWaiting', async () => {
    const { pool } = await setup({ max: 1, maxWaiting: 2 });
    const held = await pool.acquire();
    const waiters = [pool.acquire(), pool.acquire()];
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'BW_ERR_POOL_EXHAUSTED', message: expect.stringContaining('maxWaiting 2') });
    pool.release(held);
    const [a] = await Promise.all(waiters.slice(0, 1));
    pool.release(a!);
    pool.release(await waiters[1]!);
  });

  it('rejects a waiting caller whose signal aborts, and hands the connection to the next one', async () => {
    const { pool } = await setup({ max: 1 });
    const held = await pool.acquire();
    const controller = new AbortController();
    const aborted = pool.acquire(controller.signal);
    const next = pool.acquire();
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ code: 'BW_ERR_ABORTED' });
    pool.release(held);
    expect(await next).toBe(held);
    pool.release(held);
    await expect(pool.acquire(AbortSignal.abort())).rejects.toMatchObject({ code: 'BW_ERR_ABORTED' });
  });
});

describe('ConnectionPool: connect failures', () => {
  it('maps EADDRNOTAVAIL to BW_ERR_PORTS_EXHAUSTED with the FM-03 hint', async () => {
    const pool = createPool({
      connect: () => Promise.reject(Object.assign(new Error('connect EADDRNOTAVAIL 10.0.0.1:5432'), { code: 'EADDRNOTAVAIL' })),
    });
    cleanups.push(() => pool.drain());
    const events: string[] = [];
    pool.on('connectFailed', ({ error }) => events.push(error.code));
    await expect(pool.acquire()).rejects.toMatchObject({
      code: 'BW_ERR_PORTS_EXHAUSTED',
      hint: expect.stringContaining('FM-03'),
      details: { phase: 'connect' },
    });
    expect(events).toEqual(['BW_ERR_PORTS_EXHAUSTED']);
  });

  it('drains promptly while connects keep failing and callers wait', async () => {
    const port = await closedPort();
    const pool = createPool({ host: '127.0.0.1', port, max: 2, reconnectBackoff: { baseDelayMs: 1_000 } });
    const waiting = Array.from({ length: 5 }, () => pool.acquire().catch((e: { code: string }) => e.code));
    await until(() => pool.stats().connectFailures >= 2, 2_000, 'the first failures');
    const started = performance.now();
    await pool.drain();
    expect(performance.now() - started).toBeLessThan(500);
    const codes = await Promise.all(waiting);
    expect(new Set(codes)).toEqual(new Set(['BW_ERR_CONNECT_REFUSED', 'BW_ERR_CLOSED']));
    expect(pool.stats()).toMatchObject({ size: 0, connecting: 0, waiting: 0 });
    expect(pool.stats().connectAttempts).toBeLessThanOrEqual(3);
  });
});

describe('ConnectionPool: passive health (FM-08)', () => {
  it('marks the endpoint unhealthy after N failures, fails fast, then lets one trial through', async () => {
    const { clock, pool } = await setup({ unhealthyAfterFailures: 3, unhealthyForMs: 5_000 });
    const events: string[] = [];
    pool.on('markedUnhealthy', ({ consecutiveFailures }) => events.push(`unhealthy ${consecutiveFailures}`));
    pool.on('recovered', () => events.push('recovered'));
    const idle = await pool.acquire();
    const conns = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    pool.release(idle);
    for (const c of conns) pool.release(c, { failed: true, error: new Error('ECONNRESET') });
    expect(events).toEqual(['unhealthy 3']);
    await until(() => pool.stats().size === 0, 1_000, 'eviction of the idle connection');
    expect(pool.stats()).toMatchObject({ healthy: false, evicted: { failed: 3, unhealthy: 1 } });
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'BW_ERR_CIRCUIT_OPEN', details: { reason: 'unhealthy', retryInMs: 5_000 } });
    clock.advance(5_000);
    const trial = await pool.acquire();
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'BW_ERR_CIRCUIT_OPEN', message: expect.stringContaining('trial') });
    pool.release(trial);
    expect(events).toEqual(['unhealthy 3', 'recovered']);
    pool.release(await pool.acquire());
  });

  it('keeps the endpoint unhealthy when the trial fails', async () => {
    const { clock, pool } = await setup({ unhealthyAfterFailures: 1, unhealthyForMs: 1_000 });
    pool.release(await pool.acquire(), { failed: true });
    clock.advance(1_000);
    pool.release(await pool.acquire(), { failed: true });
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'BW_ERR_CIRCUIT_OPEN' });
    expect(pool.stats().healthy).toBe(false);
  });
});

describe('ConnectionPool: leaks, events, drain', () => {
  it('emits leaked with the borrower stack after leakWarningMs', async () => {
    const { clock, pool } = await setup({ leakWarningMs: 10_000 });
    const leaks: { borrowedMs: number; stack: string }[] = [];
    pool.on('leaked', (e) => leaks.push(e));
    const conn = await pool.acquire();
    clock.advance(9_999);
    expect(leaks).toEqual([]);
    clock.advance(1);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]?.borrowedMs).toBe(10_000);
    expect(leaks[0]?.stack).toContain('ConnectionPool.test.ts');
    expect(pool.stats().leaked).toBe(1);
    pool.release(conn);
  });

  it('publishes on breakwater:pool:<event>', async () => {
    const seen: unknown[] = [];
    const onCreated = (message: unknown) => seen.push(message);
    diagnosticsChannel.subscribe('breakwater:pool:created', onCreated);
    try {
      const { pool } = await setup();
      pool.release(await pool.acquire());
      expect(seen).toEqual([expect.objectContaining({ pool, id: expect.any(Number) })]);
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:pool:created', onCreated);
    }
  });

  it('drain() waits for borrowed connections, rejects waiters, and leaves no timer or socket', async () => {
    const { clock, pool } = await setup({ max: 1, drainTimeoutMs: 30_000, leakWarningMs: 60_000 });
    const held = await pool.acquire();
    const waiter = pool.acquire();
    const drained = pool.drain();
    await expect(waiter).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await expect(pool.acquire()).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    let done = false;
    void drained.then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    pool.release(held);
    await drained;
    expect(held.destroyed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    expect(pool.stats()).toMatchObject({ size: 0, evicted: { drained: 1 } });
  });

  it('leaves no socket and no timer behind on the real clock', async () => {
    const active = () => {
      const all = process.getActiveResourcesInfo();
      return { sockets: all.filter((r) => r === 'TCPSocketWrap').length, timers: all.filter((r) => r === 'Timeout').length };
    };
    // The real clock's timers are unref'd, so the process does not list them: count them instead.
    const live = new Set<unknown>();
    const clock: Clock = {
      now: () => monotonicClock.now(),
      setTimeout: (fn, ms) => {
        const handle = monotonicClock.setTimeout(() => {
          live.delete(handle);
          fn();
        }, ms);
        live.add(handle);
        return handle;
      },
      clearTimeout: (handle) => {
        live.delete(handle);
        monotonicClock.clearTimeout(handle);
      },
    };
    const server = await LineServer.start();
    const before = active();
    const pool = createPool({ host: '127.0.0.1', port: server.port, minIdle: 2, leakWarningMs: 60_000, probe: () => true, validateAfterIdleMs: 0, clock });
    const conns = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const c of conns) pool.release(c);
    pool.release(await pool.acquire());
    await pool.drain();
    await until(() => server.sockets.size === 0, 2_000, 'the server side to close');
    // At most what was there before: a timer or socket of an earlier test may end meanwhile (a CI run saw
    // timers 1 → 0), never one more. The server seeing every socket closed is the sharper proof for sockets.
    const after = active();
    expect(after.sockets).toBeLessThanOrEqual(before.sockets);
    expect(after.timers).toBeLessThanOrEqual(before.timers);
    expect(live.size).toBe(0);
    await server.close();
  });

  it('drain() destroys what is still borrowed at its deadline', async () => {
    const { clock, pool } = await setup({ drainTimeoutMs: 1_000 });
    const held: net.Socket[] = await Promise.all([pool.acquire(), pool.acquire()]);
    pool.release(held[1]!);
    const events: number[] = [];
    pool.on('drained', (e) => events.push(e.destroyedBorrowed));
    const drained = pool.drain();
    clock.advance(1_000);
    await drained;
    expect(events).toEqual([1]);
    expect(held.every((c) => c.destroyed)).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    expect(() => pool.release(held[0]!)).toThrow(/not borrowed/);
  });
});
