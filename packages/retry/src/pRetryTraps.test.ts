import { performance } from 'node:perf_hooks';
import { BreakwaterError, FakeClock } from '@breakwater/core';
import pRetry from 'p-retry';
import { describe, expect, it, vi } from 'vitest';
import { RetryBudget } from './RetryBudget.js';
import { retry, retryWithStats } from './retry.js';

// Each known trap of p-retry 9 (shared/DEPENDENCIES.md): first what p-retry
// itself does — so a p-retry upgrade that changes it shows up here — then
// that retry() is not caught by it.

const options = () => {
  const clock = new FakeClock();
  return { clock, budget: new RetryBudget({ minPerSecond: 1_000, clock }), random: () => 0 };
};

describe('p-retry traps, guarded', () => {
  it('p-retry never retries a TypeError it does not know as a network error; retry() classifies the errno on its cause and skips a plain one without sleeping', async () => {
    const fetchFailed = () => new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    // is-network-error knows undici's 'fetch failed' and 'terminated' by their
    // message; a TypeError worded otherwise (a wrapper's) is final for p-retry.
    const terminated = () => new TypeError('upstream request failed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
    const raw = vi.fn(() => Promise.reject(terminated()));
    await expect(pRetry(raw, { retries: 2, minTimeout: 0 })).rejects.toThrow('upstream request failed');
    expect(raw).toHaveBeenCalledTimes(1);
    const oursTerminated = vi.fn(() => Promise.reject(terminated()));
    await expect(retry(oursTerminated, { ...options(), idempotent: true })).rejects.toMatchObject({ details: { attempts: 3 } });

    const ours = vi.fn(() => Promise.reject(fetchFailed()));
    await expect(retry(ours, options())).rejects.toMatchObject({ name: 'TypeError', details: { attempts: 3 } });
    expect(ours).toHaveBeenCalledTimes(3);

    const o = options();
    const bug = new TypeError('x is not a function');
    await expect(retry(() => Promise.reject(bug), o)).rejects.toBe(bug);
    expect(o.budget.stats().retries).toBe(0);
  });

  it('p-retry turns a thrown non-Error into a TypeError and loses it; retry() rejects with the value thrown', async () => {
    await expect(pRetry(() => Promise.reject('boom'), { retries: 1, minTimeout: 0 })).rejects.toBeInstanceOf(TypeError);
    await expect(retry(() => Promise.reject('boom'), options())).rejects.toBe('boom');
  });

  it('p-retry discards a result that arrives as its signal aborts; retry() keeps it', async () => {
    const ac1 = new AbortController();
    await expect(
      pRetry(
        () => {
          ac1.abort(new Error('deadline'));
          return 'late';
        },
        { signal: ac1.signal },
      ),
    ).rejects.toThrow('deadline');
    const ac2 = new AbortController();
    await expect(
      retry(
        () => {
          ac2.abort(new Error('deadline'));
          return 'late';
        },
        { ...options(), signal: ac2.signal },
      ),
    ).resolves.toBe('late');
  });

  it('p-retry defaults to 10 retries and a 1 s doubling delay; retry() makes 3 attempts on its own jittered delays', async () => {
    const always = vi.fn(() => Promise.reject(new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'refused')));
    const started = performance.now();
    await expect(retry(always, options())).rejects.toMatchObject({ details: { attempts: 3, retryDelayMs: 0 } });
    expect(always).toHaveBeenCalledTimes(3);
    expect(performance.now() - started).toBeLessThan(900);
  });

  it('p-retry calls onFailedAttempt after the last attempt too; retry() does not sleep there', async () => {
    const o = { ...options(), random: () => 1, attempts: 2 };
    const p = retryWithStats(() => Promise.reject(new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'refused')), o);
    let settled = false;
    p.catch(() => (settled = true));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(o.clock.pendingTimers).toBe(1);
    await o.clock.advanceAsync(100);
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(true);
    await expect(p).rejects.toMatchObject({ details: { attempts: 2, retryDelayMs: 100 } });
    expect(o.clock.pendingTimers).toBe(0);
  });
});
