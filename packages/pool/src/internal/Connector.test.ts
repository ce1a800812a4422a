import type net from 'node:net';
import { type BreakwaterError, FakeClock } from '@breakwater/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Connector, reconnectDelayMs } from './Connector.js';

describe('reconnectDelayMs()', () => {
  it('is 0 before any failure, then between half and all of the capped exponential delay (equal jitter)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.double({ min: 0, max: 0.999_999, noNaN: true }),
        (failures, base, extra, r) => {
          const max = base + extra;
          const nominal = Math.min(max, base * 2 ** (failures - 1));
          const d = reconnectDelayMs(failures, base, max, () => r);
          expect(d).toBeGreaterThanOrEqual(nominal / 2);
          expect(d).toBeLessThanOrEqual(nominal);
        },
      ),
    );
    expect(reconnectDelayMs(0, 100, 5_000)).toBe(0);
  });
});

function failing(clock: FakeClock, options: { needed?: () => boolean; sync?: boolean } = {}) {
  const controller = new AbortController();
  const failures: BreakwaterError[] = [];
  const connector = new Connector({
    clock,
    reconnectBackoff: { baseDelayMs: 100, maxDelayMs: 5_000 },
    host: '127.0.0.1',
    port: 9,
    signal: controller.signal,
    needed: options.needed ?? (() => true),
    onFailure: (error) => failures.push(error),
    open: () => {
      const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
      if (options.sync === true) throw err;
      return Promise.reject(err);
    },
  });
  return { connector, controller, failures };
}

describe('Connector', () => {
  it('keeps a failing create alive with backoff: attempts from concurrent creates are serialised and spaced', async () => {
    const clock = new FakeClock();
    const { connector, controller, failures } = failing(clock, { sync: true });
    const creates = Array.from({ length: 5 }, () => connector.create().catch((e: unknown) => e));
    await clock.advanceAsync(10_000, 10);
    // 5 attempts in parallel before the first failure is known (5 failures in
    // a row), then one at a time: delays of 800–1600, 1600–3200, 2500–5000,
    // 2500–5000 ms… so 3 to 5 more in 10 s, however many creates wait.
    expect(connector.attempts).toBeGreaterThanOrEqual(5 + 3);
    expect(connector.attempts).toBeLessThanOrEqual(5 + 5);
    expect(failures.every((f) => f.code === 'BW_ERR_CONNECT_REFUSED')).toBe(true);
    expect(connector.inFlight).toBe(5);
    controller.abort();
    await clock.advanceAsync(10, 10);
    const outcomes = await Promise.all(creates);
    expect(outcomes.map((e) => (e as BreakwaterError).code)).toEqual(Array(5).fill('BW_ERR_CLOSED'));
    expect(connector.inFlight).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects with the classified error once nobody needs the connection', async () => {
    const clock = new FakeClock();
    const { connector } = failing(clock, { needed: () => false });
    await expect(connector.create()).rejects.toMatchObject({ code: 'BW_ERR_CONNECT_REFUSED', details: { phase: 'connect', port: 9 } });
    expect(connector.failures).toBe(1);
  });

  it('starts the next create only after the backoff once the endpoint failed', async () => {
    const clock = new FakeClock();
    const { connector } = failing(clock, { needed: () => false });
    await connector.create().catch(() => {});
    const next = connector.create().catch((e: unknown) => e);
    await clock.advanceAsync(49, 1);
    expect(connector.attempts).toBe(1); // the first delay is at least 50 ms
    await clock.advanceAsync(51, 1);
    expect(connector.attempts).toBe(2);
    await next;
  });

  it('resets the failure count after a success', async () => {
    const clock = new FakeClock();
    let fail = true;
    const socket = { destroy() {} } as unknown as net.Socket;
    const connector = new Connector({
      clock,
      reconnectBackoff: { baseDelayMs: 100, maxDelayMs: 5_000 },
      host: 'h',
      port: 1,
      signal: new AbortController().signal,
      needed: () => true,
      onFailure: () => {
        fail = false;
      },
      open: () => (fail ? Promise.reject(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })) : Promise.resolve(socket)),
    });
    const created = connector.create();
    await clock.advanceAsync(200, 5);
    expect(await created).toBe(socket);
    expect(connector.failures).toBe(0);
  });
});
