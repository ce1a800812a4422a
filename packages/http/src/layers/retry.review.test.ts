import diagnosticsChannel from 'node:diagnostics_channel';
import { type Clock, Deadline, FakeClock } from '@breakwater/core';
import { RETRY_CHANNELS, RetryBudget } from '@breakwater/retry';
import { afterEach, describe, expect, it } from 'vitest';
import { kDeadline } from '../internal/symbols.js';
import { retryLayer } from './retry.js';
import type { Controller, DispatchOptions, Handler } from './types.js';

// Review of issue #17: the backoff is clamped to the deadline's time left, so it ends at the deadline's
// edge; a timer that fires a little late (a busy event loop) must not send an attempt past the deadline.

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

describe('the http retry layer: the deadline ends during a clamped backoff', () => {
  it('sends no attempt once the deadline has passed; the caller gets BW_ERR_DEADLINE and gaveUp says deadline', () => {
    const clock = lateClock(5);
    const gaveUp: string[] = [];
    const listener = (m: unknown) => gaveUp.push((m as { reason: string }).reason);
    diagnosticsChannel.subscribe(RETRY_CHANNELS.gaveUp, listener);
    unsubscribe.push(() => diagnosticsChannel.unsubscribe(RETRY_CHANNELS.gaveUp, listener));
    const budget = new RetryBudget({ minPerSecond: 100, clock });
    const layer = retryLayer({
      attempts: 3,
      baseDelayMs: 10_000,
      maxDelayMs: 10_000,
      maxRetryAfterMs: 10_000,
      budgetFor: () => budget,
      maxReplayBodyBytes: 0,
      random: () => 0.99,
      clock,
    });
    const inner: Handler[] = [];
    const dispatch = layer.interceptor((_o, h) => {
      inner.push(h);
      return true;
    });
    let error: (Error & { code?: string; details?: Record<string, unknown> }) | undefined;
    const deadline = Deadline.after(300, { clock });
    dispatch({ origin: 'http://svc.test:8080', path: '/x', method: 'GET', [kDeadline]: deadline } as DispatchOptions, {
      onResponseError: (_c, err) => {
        error = err;
      },
    });
    // Refused before any connection: nothing reached the peer, a retry is safe. Backoff: 9,900 ms clamped to 299.
    inner[0]!.onResponseError?.({} as Controller, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    // The backoff timer fires at 304 ms, past the deadline (300 ms); the deadline's own timer at 305 ms.
    for (let t = 0; t < 320; t++) clock.advance(1);
    expect(inner).toHaveLength(1);
    expect(error).toMatchObject({ code: 'BW_ERR_DEADLINE', details: { attempts: 1 } });
    expect(gaveUp).toEqual(['deadline']);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('the http retry layer: the caller aborts during a backoff that follows a refused connect', () => {
  // A refused connect never reaches onRequestStart. The caller's handler (undici's request() and fetch(),
  // the deadline layer) aborts through the controller it got there: it must have one during the backoff.
  it('ends at once with the caller’s reason, the timer cleared, no attempt after it', () => {
    const clock = new FakeClock();
    const gaveUp: string[] = [];
    const listener = (m: unknown) => gaveUp.push((m as { reason: string }).reason);
    diagnosticsChannel.subscribe(RETRY_CHANNELS.gaveUp, listener);
    unsubscribe.push(() => diagnosticsChannel.unsubscribe(RETRY_CHANNELS.gaveUp, listener));
    const budget = new RetryBudget({ minPerSecond: 100, clock });
    const layer = retryLayer({
      attempts: 3,
      baseDelayMs: 1_000,
      maxDelayMs: 1_000,
      maxRetryAfterMs: 10_000,
      budgetFor: () => budget,
      maxReplayBodyBytes: 0,
      random: () => 0.5,
      clock,
    });
    const inner: Handler[] = [];
    const dispatch = layer.interceptor((_o, h) => {
      inner.push(h);
      return true;
    });
    const errors: Error[] = [];
    let controller: Controller | undefined;
    dispatch({ origin: 'http://svc.test:8080', path: '/x', method: 'GET' } as DispatchOptions, {
      onRequestStart: (c) => {
        controller = c;
      },
      onResponseError: (_c, err) => errors.push(err),
    });
    inner[0]!.onResponseError?.({} as Controller, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    clock.advance(100);
    const reason = new Error('user left');
    // What undici's request() does when its signal aborts, and fetch() on its abort.
    expect(controller).toBeDefined();
    controller?.abort(reason);
    expect(errors).toEqual([reason]);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    expect(inner).toHaveLength(1);
    expect(gaveUp).toEqual(['aborted']);
  });
});
