import diagnosticsChannel from 'node:diagnostics_channel';
import { BreakwaterError, type Clock, Deadline, FakeClock } from '@breakwater/core';
import { RETRY_CHANNELS, RetryBudget } from '@breakwater/retry';
import { afterEach, describe, expect, it } from 'vitest';
import { kDeadline } from '../internal/symbols.js';
import { HTTP_CHANNELS } from '../telemetry.js';
import { type RetryLayerOptions, retryLayer } from './retry.js';
import type { Controller, DispatchOptions, Handler } from './types.js';

// The retry layer carries out @breakwater/retry's decision on undici: its backoff runs on the injected
// clock, its events are the shared `breakwater:retry:*` ones (source 'http'), and the old
// `breakwater:http:*` names are still published as deprecated aliases.

const ORIGIN = 'http://svc.test:8080';
const unsubscribe: (() => void)[] = [];
afterEach(() => {
  for (const u of unsubscribe.splice(0)) u();
});

function listen(...names: string[]): [string, Record<string, unknown>][] {
  const seen: [string, Record<string, unknown>][] = [];
  for (const name of names) {
    const fn = (m: unknown) => seen.push([name, m as Record<string, unknown>]);
    diagnosticsChannel.subscribe(name, fn);
    unsubscribe.push(() => diagnosticsChannel.unsubscribe(name, fn));
  }
  return seen;
}

const controller = () =>
  ({ rawHeaders: null, rawTrailers: null, paused: false, aborted: false, reason: null, pause() {}, resume() {}, abort() {} }) as unknown as Controller;

function setup(options: Partial<RetryLayerOptions> = {}) {
  const clock = new FakeClock();
  const budget = new RetryBudget({ minPerSecond: 100, clock });
  const layer = retryLayer({
    attempts: 3,
    baseDelayMs: 100,
    maxDelayMs: 1_000,
    maxRetryAfterMs: 10_000,
    budgetFor: () => budget,
    maxReplayBodyBytes: 0,
    random: () => 1,
    clock,
    ...options,
  });
  const inner: Handler[] = [];
  const outer = { status: undefined as number | undefined, error: undefined as Error | undefined, controller: undefined as Controller | undefined };
  const dispatch = layer.interceptor((_o, h) => {
    inner.push(h);
    return true;
  });
  const handler: Handler = {
    // Kept as undici's request() and fetch() keep it: their aborts go through it.
    onRequestStart: (c) => {
      outer.controller = c;
    },
    onResponseStart: (_c, status) => {
      outer.status = status;
    },
    onResponseError: (_c, err) => {
      outer.error = err;
    },
  };
  const send = (method = 'GET', extra: object = {}) => dispatch({ origin: ORIGIN, path: '/x', method, ...extra } as DispatchOptions, handler);
  /** The attempt in flight answers `status` (with `headers`) and ends. */
  const answer = (status: number, headers: Record<string, string> = {}) => {
    const h = inner.at(-1)!;
    const c = controller();
    h.onRequestStart?.(c, {});
    h.onResponseStart?.(c, status, headers, '');
    h.onResponseEnd?.(c, {});
  };
  return { clock, budget, inner, outer, send, answer };
}

describe('the http retry layer on the shared RetryStrategy', () => {
  it('sleeps its backoff on the injected clock, and publishes the shared events plus the deprecated aliases', () => {
    const seen = listen(RETRY_CHANNELS.retried, RETRY_CHANNELS.gaveUp, HTTP_CHANNELS.retried, HTTP_CHANNELS.gaveUp);
    const { clock, budget, inner, outer, send, answer } = setup();
    send();
    answer(503);
    expect(budget.stats().retries).toBe(1);
    // Full jitter at random() = 1: 100 ms, then 200 ms; nothing is sent before the clock gets there.
    clock.advance(99);
    expect(inner).toHaveLength(1);
    clock.advance(1);
    expect(inner).toHaveLength(2);
    answer(503);
    clock.advance(200);
    expect(inner).toHaveLength(3);
    answer(503);
    expect(outer.status).toBe(503);
    expect(budget.stats().retries).toBe(2);
    expect(seen.map(([name, m]) => `${name} ${typeof m.reason === 'string' ? m.reason : m.attempt}`)).toEqual([
      'breakwater:retry:retried 2',
      'breakwater:http:retried 2',
      'breakwater:retry:retried 3',
      'breakwater:http:retried 3',
      'breakwater:retry:gaveUp attempts',
      'breakwater:http:gaveUp attempts',
    ]);
    expect(seen[0]![1]).toEqual({ source: 'http', upstream: ORIGIN, attempt: 2, delayMs: 100, error: { status: 503 } });
    expect(seen[4]![1]).toEqual({ source: 'http', upstream: ORIGIN, reason: 'attempts', attempts: 3, retryDelayMs: 300, error: { status: 503 } });
    expect(seen[5]![1]).toMatchObject({ origin: ORIGIN, reason: 'attempts', attempts: 3 });
  });

  it('waits out a Retry-After on the clock, and gives up at once on one above maxRetryAfterMs', () => {
    const { clock, inner, outer, send, answer } = setup({ maxRetryAfterMs: 5_000 });
    send();
    answer(429, { 'retry-after': '2' });
    clock.advance(1_999);
    expect(inner).toHaveLength(1);
    clock.advance(1);
    expect(inner).toHaveLength(2);
    const seen = listen(RETRY_CHANNELS.gaveUp);
    answer(503, { 'retry-after': '6' });
    expect(outer.status).toBe(503);
    expect(seen.map(([, m]) => m.reason)).toEqual(['retryAfter']);
  });

  it('does not retry a POST (gaveUp notRetryable), and an abort during the backoff clears the clock’s timer', () => {
    const post = setup();
    const seen = listen(RETRY_CHANNELS.gaveUp);
    post.send('POST');
    post.answer(503);
    expect(post.outer.status).toBe(503);
    expect(post.budget.stats().retries).toBe(0);

    const { clock, inner, outer, send, answer } = setup();
    send();
    answer(503);
    expect(clock.pendingTimers).toBe(1);
    const deadline = new BreakwaterError('BW_ERR_DEADLINE', 'deadline passed');
    // The caller's controller is what the layer handed up; here it is reached through the handler chain.
    (inner[0] as unknown as Controller).abort(deadline);
    expect(clock.pendingTimers).toBe(0);
    expect(outer.error).toMatchObject({ code: 'BW_ERR_DEADLINE' });
    clock.advance(10_000);
    expect(inner).toHaveLength(1);
    expect(seen.map(([, m]) => m.reason)).toEqual(['notRetryable', 'deadline']);
  });
});

describe('review of issue #17: the backoff and the caller', () => {
  const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

  it('sends no attempt once the deadline has passed after a clamped backoff; ends with BW_ERR_DEADLINE, reason deadline', () => {
    // The deadline's timer has not fired yet when the backoff's does (a late timer; the wheel's tick).
    let now = 0;
    let expire: (() => void) | undefined;
    const deadlineClock: Clock = {
      now: () => now,
      setTimeout: (callback) => {
        expire = callback;
        return {};
      },
      clearTimeout: () => {},
    };
    const seen = listen(RETRY_CHANNELS.gaveUp);
    const { clock, inner, outer, send } = setup({ baseDelayMs: 10_000, maxDelayMs: 10_000, random: () => 0.99 });
    send('GET', { [kDeadline]: Deadline.after(300, { clock: deadlineClock }) });
    // Refused before any connection: safe to retry. The backoff, 9,900 ms, is clamped to 299 ms.
    inner[0]!.onResponseError?.(controller(), refused());
    now = 304;
    clock.advance(299);
    expect(inner).toHaveLength(1);
    expect(outer.error).toBeUndefined();
    expire?.();
    expect(inner).toHaveLength(1);
    expect(outer.error).toMatchObject({ code: 'BW_ERR_DEADLINE', details: { attempts: 1 } });
    expect(seen.map(([, m]) => m.reason)).toEqual(['deadline']);
  });

  it('an abort during a backoff after a refused connect ends the run at once: the caller’s reason, the timer cleared', () => {
    // A refused connect never reaches onRequestStart: the caller's handler must still get a controller.
    const seen = listen(RETRY_CHANNELS.gaveUp);
    const { clock, inner, outer, send } = setup();
    send();
    inner[0]!.onResponseError?.(controller(), refused());
    expect(clock.pendingTimers).toBe(1);
    const reason = new Error('user left');
    outer.controller?.abort(reason);
    expect(outer.error).toBe(reason);
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    expect(inner).toHaveLength(1);
    expect(seen.map(([, m]) => m.reason)).toEqual(['aborted']);
  });
});
