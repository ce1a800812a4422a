import diagnosticsChannel from 'node:diagnostics_channel';
import { BreakwaterError, FakeClock } from '@breakwater/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RetryBudget } from './RetryBudget.js';
import { createRetryStrategy, GAVE_UP_REASONS, type GaveUpReason, RETRY_CHANNELS, type RetryDecisionInput } from './RetryStrategy.js';

const refused = () => new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'connection refused');
const reset = () => new BreakwaterError('BW_ERR_PEER_RESET', 'reset');

function setup(options: Parameters<typeof createRetryStrategy>[0] = {}) {
  const clock = new FakeClock();
  const budget = new RetryBudget({ minPerSecond: 1_000, clock });
  const strategy = createRetryStrategy({ clock, random: () => 1, baseDelayMs: 100, maxDelayMs: 1_000, ...options });
  const decide = (input: Partial<RetryDecisionInput> = {}) => strategy.decide({ attempt: 1, error: refused(), budget, ...input });
  return { clock, budget, strategy, decide };
}

/** Collects what is published on breakwater:retry:* while `fn` runs. */
function published(fn: () => void): [string, Record<string, unknown>][] {
  const seen: [string, Record<string, unknown>][] = [];
  const onRetried = (m: unknown) => seen.push(['retried', m as Record<string, unknown>]);
  const onGaveUp = (m: unknown) => seen.push(['gaveUp', m as Record<string, unknown>]);
  diagnosticsChannel.subscribe(RETRY_CHANNELS.retried, onRetried);
  diagnosticsChannel.subscribe(RETRY_CHANNELS.gaveUp, onGaveUp);
  try {
    fn();
  } finally {
    diagnosticsChannel.unsubscribe(RETRY_CHANNELS.retried, onRetried);
    diagnosticsChannel.unsubscribe(RETRY_CHANNELS.gaveUp, onGaveUp);
  }
  return seen;
}

describe('createRetryStrategy()', () => {
  it('names every reason to give up, and charges the budget for none of them', () => {
    const spent = new RetryBudget({ minPerSecond: 0, ratio: 0, clock: new FakeClock() });
    const aborted = AbortSignal.abort(new Error('gone'));
    const cases: [GaveUpReason, Partial<RetryDecisionInput>, Parameters<typeof createRetryStrategy>[0]?][] = [
      ['aborted', { signal: aborted }],
      ['attempts', { attempt: 3 }],
      ['attempts', { attempt: 1, incomingIsRetry: true }],
      ['notRetryable', { error: reset() }],
      ['notRetryable', { error: new BreakwaterError('BW_ERR_CIRCUIT_OPEN', 'open'), retryable: true }],
      ['notRetryable', { error: refused(), retryOn: () => false }],
      ['notRetryable', { error: { status: 404 }, idempotent: true }],
      ['retryAfter', { error: { status: 503 }, idempotent: true, retryAfterMs: 10_001 }],
      ['retryAfter', { error: Object.assign(refused(), { retryAfterMs: 20_000 }) }],
      ['deadline', { timeLeftMs: 0.5 }],
      // Time is up: the deadline is the reason, even when the error (its own abort) is not retryable.
      ['deadline', { timeLeftMs: 0, attempt: 3, error: new BreakwaterError('BW_ERR_DEADLINE', 'deadline passed', { retryable: false }) }],
      ['deadline', { timeLeftMs: 500, retryAfterMs: 600 }],
      ['deadline', { timeLeftMs: 1_500 }, { attemptTimeoutMs: 2_000 }],
      ['notReplayable', { replayable: false }],
    ];
    for (const [reason, input, options] of cases) {
      const { budget, decide } = setup(options);
      expect(decide(input), reason).toEqual({ retry: false, reason });
      expect(budget.stats().retries, reason).toBe(0);
    }
    const { decide } = setup();
    expect(decide({ budget: spent })).toEqual({ retry: false, reason: 'budget' });
    expect(spent.stats().retries).toBe(0);
    const covered = new Set([...cases.map(([r]) => r), 'budget']);
    expect([...GAVE_UP_REASONS].filter((r) => !covered.has(r))).toEqual([]);
  });

  it('charges the budget exactly once per retry it grants', () => {
    const { budget, decide } = setup({ attempts: 5 });
    for (let attempt = 1; attempt <= 4; attempt++) {
      expect(decide({ attempt }).retry).toBe(true);
      expect(budget.stats().retries).toBe(attempt);
    }
    expect(decide({ attempt: 5 })).toEqual({ retry: false, reason: 'attempts' });
    expect(budget.stats().retries).toBe(4);
  });

  it('backs off exponentially with jitter, capped, and never sleeps past what the deadline leaves', () => {
    const { decide } = setup({ attempts: 10 });
    expect([1, 2, 3, 4, 5].map((attempt) => decide({ attempt }))).toEqual([100, 200, 400, 800, 1_000].map((delayMs) => ({ retry: true, delayMs })));
    // 300 ms left, 1 ms kept for the attempt itself.
    expect(decide({ attempt: 4, timeLeftMs: 300 })).toEqual({ retry: true, delayMs: 299 });
    // With a per-attempt limit, the sleep leaves the whole limit.
    const limited = setup({ attempts: 10, attemptTimeoutMs: 200 });
    expect(limited.decide({ attempt: 4, timeLeftMs: 300 })).toEqual({ retry: true, delayMs: 100 });
  });

  it('waits at least the Retry-After it accepts, from the input or the error, up to maxRetryAfterMs', () => {
    const { decide } = setup({ maxRetryAfterMs: 5_000 });
    const status = { error: { status: 503 }, idempotent: true };
    expect(decide({ ...status, retryAfterMs: 3_000 })).toEqual({ retry: true, delayMs: 3_000 });
    expect(decide({ ...status, retryAfterMs: 5_000 })).toEqual({ retry: true, delayMs: 5_000 });
    expect(decide({ ...status, retryAfterMs: 5_001 })).toEqual({ retry: false, reason: 'retryAfter' });
    expect(decide({ error: Object.assign(refused(), { retryAfterMs: 2_500 }) })).toEqual({ retry: true, delayMs: 2_500 });
    // A wait the deadline cannot hold is a deadline stop, not a shorter wait.
    expect(decide({ ...status, retryAfterMs: 3_000, timeLeftMs: 2_000 })).toEqual({ retry: false, reason: 'deadline' });
  });

  it('uses the previous delay for decorrelated jitter', () => {
    const { decide } = setup({ jitter: 'decorrelated', attempts: 5 });
    expect(decide({ attempt: 2, previousDelayMs: 200 })).toEqual({ retry: true, delayMs: 600 });
    expect(decide({ attempt: 2 })).toEqual({ retry: true, delayMs: 300 });
  });

  it('admits a request (counted), a forwarded retry (charged as a retry), or refuses it with gaveUp budget', () => {
    const clock = new FakeClock();
    const strategy = createRetryStrategy({ clock, source: 'http' });
    const budget = new RetryBudget({ minPerSecond: 0.1, ratio: 0, clock });
    expect(strategy.admit(budget)).toBe(true);
    expect(budget.stats()).toMatchObject({ requests: 1, retries: 0 });
    expect(strategy.admit(budget, { incomingIsRetry: true })).toBe(true);
    expect(budget.stats()).toMatchObject({ requests: 1, retries: 1 });
    const seen = published(() => expect(strategy.admit(budget, { incomingIsRetry: true, upstream: 'http://b' })).toBe(false));
    expect(seen).toEqual([['gaveUp', expect.objectContaining({ source: 'http', upstream: 'http://b', reason: 'budget', attempts: 0 })]]);
    expect(strategy.maxAttempts()).toBe(3);
    expect(strategy.maxAttempts(true)).toBe(1);
  });

  it('publishes retried and gaveUp with one payload shape', () => {
    const { decide } = setup({ attempts: 2 });
    const error = refused();
    const seen = published(() => {
      decide({ attempt: 1, error, upstream: 'users' });
      decide({ attempt: 2, error, upstream: 'users', retryDelayMs: 100 });
    });
    expect(seen).toEqual([
      ['retried', { source: 'retry', upstream: 'users', attempt: 2, delayMs: 100, error }],
      ['gaveUp', { source: 'retry', upstream: 'users', reason: 'attempts', attempts: 2, retryDelayMs: 100, error }],
    ]);
  });

  it('sleeps on the injected clock: resolves only when it has advanced, rejects on abort, cancels', async () => {
    const { clock, strategy } = setup();
    let woke = false;
    const slept = strategy.sleep(250).then(() => (woke = true));
    clock.advance(249);
    await Promise.resolve();
    expect(woke).toBe(false);
    clock.advance(1);
    await slept;
    expect(woke).toBe(true);

    const ac = new AbortController();
    const aborted = strategy.sleep(1_000, ac.signal);
    ac.abort(new Error('caller left'));
    await expect(aborted).rejects.toThrow('caller left');
    expect(clock.pendingTimers).toBe(0);
    await expect(strategy.sleep(1, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');

    let fired = false;
    const cancel = strategy.schedule(() => (fired = true), 10);
    cancel();
    clock.advance(100);
    expect(fired).toBe(false);
  });

  it('holds the process open during a backoff on the real clock, whose own timers are unref’d', () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const cancel = createRetryStrategy().schedule(() => {}, 60_000);
    expect(timers()).toBe(before + 1);
    cancel();
    expect(timers()).toBe(before);
  });

  it('rejects bad options naming the key', () => {
    const bad: [object, string][] = [
      [{ attempts: 0 }, 'attempts'],
      [{ maxDelayMs: 10, baseDelayMs: 20 }, 'maxDelayMs'],
      [{ clock: Date }, 'clock'],
      [{ source: '' }, 'source'],
      [{ random: 1 }, 'random'],
      [{ upstream: 'a' }, 'upstream'],
    ];
    for (const [options, key] of bad) {
      expect(() => createRetryStrategy(options as never), key).toThrow(
        expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: expect.objectContaining({ key }) }),
      );
    }
  });

  it('property: a granted delay fits the time left and honours Retry-After; the budget moves exactly when it retries', () => {
    fc.assert(
      fc.property(
        fc.record({
          attempt: fc.integer({ min: 1, max: 6 }),
          timeLeftMs: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.double({ min: 0, max: 20_000, noNaN: true })),
          retryAfterMs: fc.option(fc.double({ min: 0, max: 15_000, noNaN: true }), { nil: undefined }),
          attemptTimeoutMs: fc.integer({ min: 0, max: 3_000 }),
          random: fc.double({ min: 0, max: 1, noNaN: true }),
          jitter: fc.constantFrom('full', 'equal', 'decorrelated' as const),
          floor: fc.integer({ min: 0, max: 3 }),
        }),
        ({ attempt, timeLeftMs, retryAfterMs, attemptTimeoutMs, random, jitter, floor }) => {
          const clock = new FakeClock();
          const budget = new RetryBudget({ minPerSecond: floor / 10, ratio: 0, clock });
          const strategy = createRetryStrategy({ clock, attempts: 5, attemptTimeoutMs, jitter, random: () => random, maxDelayMs: 10_000 });
          const before = budget.stats().retries;
          const d = strategy.decide({ attempt, error: { status: 503 }, idempotent: true, timeLeftMs, retryAfterMs, budget });
          expect(budget.stats().retries - before).toBe(d.retry ? 1 : 0);
          if (!d.retry) return;
          expect(d.delayMs).toBeGreaterThanOrEqual(retryAfterMs ?? 0);
          expect(d.delayMs).toBeLessThanOrEqual(timeLeftMs - Math.max(attemptTimeoutMs, 1));
          expect(d.delayMs).toBeLessThanOrEqual(Math.max(10_000, retryAfterMs ?? 0));
          expect(retryAfterMs ?? 0).toBeLessThanOrEqual(10_000);
        },
      ),
      { numRuns: 500 },
    );
  });
});
