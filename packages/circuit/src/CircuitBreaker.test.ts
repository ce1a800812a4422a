import diagnosticsChannel from 'node:diagnostics_channel';
import { BreakwaterError, FakeClock, sleep } from '@breakwater/core';
import { describe, expect, it, vi } from 'vitest';
import { type CallContext, CircuitBreaker } from './CircuitBreaker.js';
import type { CircuitOptions } from './defaults.js';

const refused = () => new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'connection refused');
const status = (s: number) => Object.assign(new Error(`HTTP ${s}`), { status: s });
const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function make(options: CircuitOptions = {}) {
  const clock = new FakeClock();
  const breaker = new CircuitBreaker(undefined, { key: 'users:80', clock, random: () => 0, volumeThreshold: 4, resetTimeoutMs: 1_000, ...options });
  const fail = (error: unknown = refused()) => breaker.run(() => Promise.reject(error)).catch((e: unknown) => e);
  const ok = (value: unknown = 'ok') => breaker.run(() => value);
  return { clock, breaker, fail, ok };
}

async function trip(fail: () => Promise<unknown>, n = 4) {
  for (let i = 0; i < n; i++) await fail();
}

describe('CircuitBreaker', () => {
  it('opens after volumeThreshold calls above the error percentage, then fails fast with BW_ERR_CIRCUIT_OPEN', async () => {
    const { breaker, fail, ok } = make();
    await ok();
    await trip(fail, 2);
    expect(breaker.state).toBe('closed'); // 3 calls < volumeThreshold 4
    await fail();
    expect(breaker.state).toBe('open');
    const action = vi.fn();
    const error = await breaker.run(action).catch((e: unknown) => e);
    expect(action).not.toHaveBeenCalled();
    expect(error).toBeInstanceOf(BreakwaterError);
    expect(error).toMatchObject({ code: 'BW_ERR_CIRCUIT_OPEN', retryable: false, details: { key: 'users:80', state: 'open', retryInMs: 1_000 } });
    expect(breaker.stats()).toMatchObject({ state: 'open', retryInMs: 1_000, totals: { calls: 5, failed: 3, succeeded: 1, rejected: 1, opened: 1 } });
  });

  it('half-opens after the reset timeout on its clock, admits exactly one probe, and closes with a fresh window when it succeeds', async () => {
    const { clock, breaker, fail } = make();
    await trip(fail);
    clock.advance(999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('halfOpen');
    const probe = breaker.run(({ signal, probe }) => sleep(50, { clock, signal }).then(() => probe));
    const others = await Promise.all(Array.from({ length: 5 }, () => breaker.run(() => 'reached').catch((e: unknown) => e)));
    // retryInMs: at most the probe's time limit (probeTimeoutMs 5 s).
    for (const e of others) expect(e).toMatchObject({ code: 'BW_ERR_CIRCUIT_OPEN', details: { state: 'halfOpen', retryInMs: 5_000 } });
    await clock.advanceAsync(50);
    await expect(probe).resolves.toBe(true);
    expect(breaker.state).toBe('closed');
    // The outage's failures are gone: one new failure does not re-open it.
    await fail();
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().window).toEqual({ fires: 1, successes: 0, failures: 1 });
  });

  it('re-opens when the probe fails, doubling the reset timeout up to its cap, with jitter that only shortens it', async () => {
    const { clock, breaker, fail } = make({ maxResetTimeoutMs: 3_000 });
    const opened: number[] = [];
    breaker.on('opened', ({ retryInMs }) => opened.push(retryInMs));
    await trip(fail);
    for (let i = 0; i < 3; i++) {
      clock.advance(opened.at(-1)!);
      expect(breaker.state).toBe('halfOpen');
      await fail();
    }
    expect(opened).toEqual([1_000, 2_000, 3_000, 3_000]);
    expect(breaker.stats().failedProbes).toBe(3);
    const jittered = make({ random: () => 1, resetJitterRatio: 0.2 });
    await trip(jittered.fail);
    expect(jittered.breaker.stats().retryInMs).toBe(800);
  });

  it('bounds the probe by probeTimeoutMs and counts its timeout as a failed probe', async () => {
    const { clock, breaker, fail } = make({ probeTimeoutMs: 200 });
    const timedOut = vi.fn();
    breaker.on('timedOut', timedOut);
    await trip(fail);
    clock.advance(1_000);
    const probe = breaker.run(() => new Promise(() => {})).catch((e: unknown) => e);
    await clock.advanceAsync(200);
    expect(await probe).toMatchObject({ code: 'BW_ERR_DEADLINE', retryable: true, details: { timeoutMs: 200 } });
    expect(timedOut).toHaveBeenCalledWith({ key: 'users:80', probe: true, timeoutMs: 200 });
    expect(breaker.stats()).toMatchObject({ state: 'open', retryInMs: 2_000 });
  });

  it('counts connection-level errors and 5xx (thrown or returned) as failures; 4xx and plain errors neither open nor close it', async () => {
    const harmless = make();
    for (let i = 0; i < 6; i++) await harmless.fail(status(404));
    for (let i = 0; i < 6; i++) await harmless.fail(new Error('no code, no status'));
    expect(harmless.breaker.state).toBe('closed');
    expect(harmless.breaker.stats().window.failures).toBe(0);

    const returned = make();
    const response = { status: 503, body: 'down' };
    for (let i = 0; i < 4; i++) await expect(returned.ok(response)).resolves.toBe(response); // returned to the caller, counted by the breaker
    expect(returned.breaker.state).toBe('open');

    for (const error of [status(502), Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), new BreakwaterError('BW_ERR_STALLED', 'stalled')]) {
      const { breaker, fail } = make();
      await trip(() => fail(error));
      expect(breaker.state, String(error)).toBe('open');
    }
  });

  it('uses isFailure when given', async () => {
    const { breaker, ok } = make({ isFailure: (outcome, { threw }) => !threw && outcome === 'bad' });
    for (let i = 0; i < 4; i++) await ok('bad');
    expect(breaker.state).toBe('open');
  });

  it('a caller abort fails only that call and does not count against the upstream', async () => {
    const { breaker } = make();
    for (let i = 0; i < 6; i++) {
      const ac = new AbortController();
      const p = breaker.run(() => new Promise(() => {}), { signal: ac.signal });
      ac.abort(new Error('caller gave up'));
      await expect(p).rejects.toThrow('caller gave up');
    }
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().window.failures).toBe(0);
  });

  it('emits past-tense events on the emitter and on breakwater:circuit:<event>', async () => {
    const { clock, breaker, fail, ok } = make();
    const events: string[] = [];
    for (const e of ['opened', 'halfOpened', 'closed', 'rejected', 'failed', 'succeeded', 'timedOut'] as const) breaker.on(e, () => events.push(e));
    const channel: unknown[] = [];
    const listener = (m: unknown) => channel.push(m);
    diagnosticsChannel.subscribe('breakwater:circuit:opened', listener);
    try {
      await ok();
      await trip(fail);
      await ok().catch(() => {});
      clock.advance(1_000);
      await ok();
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:circuit:opened', listener);
    }
    // 1 success + 3 failures reach volumeThreshold 4 at 75 %: the fourth trip() call is rejected.
    expect(events).toEqual(['succeeded', 'failed', 'failed', 'failed', 'opened', 'rejected', 'rejected', 'halfOpened', 'succeeded', 'closed']);
    expect(channel).toEqual([{ key: 'users:80', retryInMs: 1_000, failedProbes: 0 }]);
  });

  it('fire() calls its own function with arguments and a context; shutdown() stops it', async () => {
    const clock = new FakeClock();
    const seen: CallContext[] = [];
    const breaker = new CircuitBreaker(
      (ctx: CallContext, a: number, b: number) => {
        seen.push(ctx);
        return a + b;
      },
      { key: 'adder', clock },
    );
    await expect(breaker.fire(2, 3)).resolves.toBe(5);
    expect(seen[0]).toMatchObject({ key: 'adder', probe: false });
    expect(seen[0]?.signal).toBeInstanceOf(AbortSignal);
    breaker.shutdown();
    expect(clock.pendingTimers).toBe(0);
    await expect(breaker.fire(1, 1)).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await expect(new CircuitBreaker(undefined, { clock }).fire()).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'fn' } });
  });

  it('an in-flight call that fails after the breaker opened does not disturb the open state', async () => {
    const { clock, breaker, fail } = make();
    const slow = breaker.run(({ signal }) => sleep(100, { clock, signal }).then(() => Promise.reject(refused()))).catch(() => {});
    await trip(fail);
    await clock.advanceAsync(100);
    await slow;
    await flush();
    expect(breaker.stats()).toMatchObject({ state: 'open', retryInMs: 900, totals: { opened: 1 } });
  });
});
