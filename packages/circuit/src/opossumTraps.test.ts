import { BreakwaterError, FakeClock, monotonicClock, sleep } from '@breakwater/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { Opossum } from './internal/opossum.js';

// Each known trap of opossum 10 (shared/DEPENDENCIES.md): first what opossum
// itself does — so an upgrade that changes it shows up here — then that the
// Breakwater breaker is not caught by it.

const refused = () => new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'connection refused');
const clientError = () => Object.assign(new Error('HTTP 404'), { status: 404 });

describe('opossum traps, guarded', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('opossum aborts one shared controller when any call times out; here a timeout aborts only its own call', async () => {
    vi.useFakeTimers();
    const abortController = new AbortController();
    const raw = new Opossum((ms: number) => new Promise((r) => setTimeout(r, ms)), { timeout: 50, abortController });
    const slow = raw.fire(200).catch((e: { code?: string }) => e.code);
    const fast = raw.fire(10);
    await vi.advanceTimersByTimeAsync(200);
    expect(await slow).toBe('ETIMEDOUT');
    await fast;
    expect(abortController.signal.aborted).toBe(true); // every later call would start aborted
    raw.shutdown();
    vi.useRealTimers();

    const clock = new FakeClock();
    const breaker = new CircuitBreaker(undefined, { key: 'k', clock, attemptTimeoutMs: 50 });
    const signals: AbortSignal[] = [];
    const hang = breaker
      .run(({ signal }) => {
        signals.push(signal);
        return new Promise(() => {});
      })
      .catch((e: unknown) => e);
    await clock.advanceAsync(30, 10);
    // Starts at 30 ms, runs 40 ms: still running when the first call times out at 50 ms.
    const other = breaker.run(async ({ signal }) => {
      signals.push(signal);
      await sleep(40, { clock, signal });
      return 'other finished';
    });
    await new Promise((r) => setImmediate(r));
    expect(signals).toHaveLength(2);
    await clock.advanceAsync(20, 10);
    expect(await hang).toMatchObject({ code: 'BW_ERR_DEADLINE' });
    expect(signals[0]?.aborted).toBe(true);
    expect(signals[1]?.aborted).toBe(false);
    await clock.advanceAsync(20, 10);
    await expect(other).resolves.toBe('other finished');
    const later = await breaker.run(({ signal }) => signal.aborted);
    expect(later).toBe(false);
  });

  it('opossum closes a half-open breaker on an errorFilter’ed (4xx) error; here a 4xx probe keeps it half-open', async () => {
    const raw = new Opossum(() => Promise.reject(clientError()), {
      state: { closed: false, halfOpen: true },
      errorFilter: (e: unknown) => (e as { status: number }).status < 500,
    });
    await raw.fire().catch(() => {});
    expect(raw.closed).toBe(true);
    raw.shutdown();

    const clock = new FakeClock();
    const breaker = new CircuitBreaker(undefined, { key: 'k', clock, random: () => 0, volumeThreshold: 2, resetTimeoutMs: 1_000 });
    for (let i = 0; i < 2; i++) await breaker.run(() => Promise.reject(refused())).catch(() => {});
    clock.advance(1_000);
    expect(breaker.state).toBe('halfOpen');
    await expect(breaker.run(() => Promise.reject(clientError()))).rejects.toMatchObject({ status: 404 });
    expect(breaker.state).toBe('halfOpen');
    // The next caller is the probe; a real failure re-opens it.
    await breaker.run(() => Promise.reject(refused())).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('opossum would open → half-open on its own Node timer; here the injected clock drives it, unmoved by ±1 h wall-clock jumps (FM-15)', async () => {
    const clock = new FakeClock();
    const breaker = new CircuitBreaker(undefined, { key: 'k', clock, random: () => 0, volumeThreshold: 2, resetTimeoutMs: 5_000 });
    for (let i = 0; i < 2; i++) await breaker.run(() => Promise.reject(refused())).catch(() => {});
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
    clock.advance(2_500);
    expect(breaker.stats()).toMatchObject({ state: 'open', retryInMs: 2_500 });
    now.mockReturnValue(Date.now() - 3_600_000);
    clock.advance(2_499);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('halfOpen');
    breaker.shutdown();
  });

  it('with the real monotonic clock, a +1 h or −1 h jump of Date.now neither fires the reset early nor delays it (FM-15)', async () => {
    const breaker = new CircuitBreaker(undefined, { key: 'k', clock: monotonicClock, random: () => 0, volumeThreshold: 2, resetTimeoutMs: 300 });
    for (let i = 0; i < 2; i++) await breaker.run(() => Promise.reject(refused())).catch(() => {});
    const halfOpened = new Promise<number>((resolve) => breaker.once('halfOpened', () => resolve(performance.now())));
    const openedAt = performance.now();
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
    await sleep(20);
    expect(breaker.state).toBe('open');
    now.mockReturnValue(Date.now() - 3_600_000);
    const elapsed = (await halfOpened) - openedAt;
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(3_000); // generous: the machine may be busy
    breaker.shutdown();
  });
});
