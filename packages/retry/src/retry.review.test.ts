import diagnosticsChannel from 'node:diagnostics_channel';
import { BreakwaterError, type Clock, Deadline, FakeClock } from '@breakwater/core';
import { afterEach, describe, expect, it } from 'vitest';
import { RetryBudget } from './RetryBudget.js';
import { RETRY_CHANNELS } from './RetryStrategy.js';
import { retry } from './retry.js';

// Review of issue #17: a backoff clamped to the time left ends at the deadline's edge. A timer that fires
// a little late (a busy event loop; the deadline wheel itself fires up to a tick after `expiresAt`)
// must not let an attempt start once the deadline has passed.

const unsubscribe: (() => void)[] = [];
afterEach(() => {
  for (const u of unsubscribe.splice(0)) u();
});

/** A FakeClock whose timers all fire `lateMs` after they are due, as real timers do under load. */
function lateClock(lateMs: number): FakeClock & Clock {
  const clock = new FakeClock();
  const setTimeout = clock.setTimeout.bind(clock);
  clock.setTimeout = (callback, delayMs) => setTimeout(callback, delayMs + lateMs);
  return clock;
}

describe('retry(): the deadline ends during a clamped backoff', () => {
  it('no attempt starts after the deadline passed; the error is BW_ERR_DEADLINE and gaveUp says deadline', async () => {
    const clock = lateClock(5);
    const deadline = Deadline.after(300, { clock });
    const gaveUp: unknown[] = [];
    const fn = (m: unknown) => gaveUp.push((m as { reason: string }).reason);
    diagnosticsChannel.subscribe(RETRY_CHANNELS.gaveUp, fn);
    unsubscribe.push(() => diagnosticsChannel.unsubscribe(RETRY_CHANNELS.gaveUp, fn));
    const started: number[] = [];
    const p = retry(
      () => {
        started.push(clock.now());
        throw new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'connection refused');
      },
      { clock, deadline, budget: new RetryBudget({ minPerSecond: 100, clock }), baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 0.99 },
    );
    const outcome = p.then(
      () => 'resolved',
      (e: BreakwaterError) => e,
    );
    // The backoff is clamped to 299 ms and fires at 304 ms, past the deadline (300 ms), whose own timer fires at 305 ms.
    for (let t = 0; t < 320; t++) await clock.advanceAsync(1);
    const err = await outcome;
    expect(started).toEqual([0]);
    expect(err).toBeInstanceOf(BreakwaterError);
    expect((err as BreakwaterError).code).toBe('BW_ERR_DEADLINE');
    expect((err as BreakwaterError).details).toMatchObject({ attempts: 1 });
    expect(gaveUp).toEqual(['deadline']);
  });

  it('an attempt that fails after the deadline passed, before its timer fired: BW_ERR_DEADLINE, not the attempt’s error', async () => {
    const clock = lateClock(5);
    const deadline = Deadline.after(300, { clock });
    let calls = 0;
    const p = retry(
      // Ignores its signal and fails at 302 ms: the deadline's timer (due 300 ms) has not fired yet.
      () =>
        new Promise<never>((_, reject) => {
          calls++;
          clock.setTimeout(() => reject(new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'connection refused')), 297);
        }),
      { clock, deadline, budget: new RetryBudget({ minPerSecond: 100, clock }) },
    );
    const outcome = p.then(
      () => 'resolved',
      (e: BreakwaterError) => e,
    );
    for (let t = 0; t < 320; t++) await clock.advanceAsync(1);
    const err = await outcome;
    expect(calls).toBe(1);
    expect((err as BreakwaterError).code).toBe('BW_ERR_DEADLINE');
  });
});
