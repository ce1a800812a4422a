import diagnosticsChannel from 'node:diagnostics_channel';
import { BreakwaterError, Deadline, FakeClock, sleep } from '@breakwater/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { budgetFor, RetryBudget } from './RetryBudget.js';
import { type AttemptContext, retry, retryWithStats } from './retry.js';

const refused = () => new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'connection refused');
const reset = () => new BreakwaterError('BW_ERR_PEER_RESET', 'reset');
const http = (status: number, extra: object = {}) => Object.assign(new Error(`HTTP ${status}`), { status, ...extra });
const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: expect.objectContaining({ key }) });

/** Advances the fake clock until `p` settles. */
async function drive<T>(clock: FakeClock, p: Promise<T>, stepMs = 10): Promise<T> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 50_000 && !done; i++) await clock.advanceAsync(stepMs);
  return p;
}

function failing(errors: unknown[], value = 'ok') {
  const seen: Omit<AttemptContext, 'signal'>[] = [];
  const fn = vi.fn(async ({ attempt, isRetry }: AttemptContext) => {
    seen.push({ attempt, isRetry });
    if (attempt <= errors.length) throw errors[attempt - 1];
    return value;
  });
  return { fn, seen };
}

function setup() {
  const clock = new FakeClock();
  const budget = new RetryBudget({ minPerSecond: 1_000, clock });
  return { clock, budget, base: { clock, budget, random: () => 0.5 } };
}

describe('retry()', () => {
  afterEach(() => vi.restoreAllMocks());

  it('returns the value with attempts and total retryDelayMs; fn gets attempt, signal and isRetry', async () => {
    const { clock, base } = setup();
    const { fn, seen } = failing([refused(), refused()]);
    const result = await drive(clock, retryWithStats(fn, base));
    expect(result).toEqual({ value: 'ok', attempts: 3, retryDelayMs: 50 + 100 });
    expect(seen).toEqual([
      { attempt: 1, isRetry: false },
      { attempt: 2, isRetry: true },
      { attempt: 3, isRetry: true },
    ]);
    expect(fn.mock.calls[0]?.[0].signal).toBeInstanceOf(AbortSignal);
    await expect(retry(() => 7, base)).resolves.toBe(7);
  });

  it('retries connect-phase failures always, and failures after the request may have reached the peer only when idempotent', async () => {
    const { clock, base } = setup();
    const cases: [unknown, boolean, number][] = [
      [reset(), false, 1],
      [reset(), true, 3],
      [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), false, 3],
      [new BreakwaterError('BW_ERR_NETWORK', 'x', { retryable: true, details: { phase: 'connect' } }), false, 3],
      [http(503), false, 1],
      [http(503), true, 3],
      [http(400), true, 1],
      [new Error('no code, no status'), true, 1],
    ];
    for (const [error, idempotent, attempts] of cases) {
      const p = retry(() => Promise.reject(error), { ...base, idempotent });
      const thrown = await drive(clock, p).catch((e: unknown) => e);
      expect(thrown, `${String(error)} idempotent=${idempotent}`).toBe(error);
      expect((thrown as BreakwaterError).details).toMatchObject({ attempts });
    }
  });

  it('never retries CIRCUIT_OPEN, RETRY_BUDGET, INVALID_OPTION, ABORTED — not even with retryOn — nor non-retryable errors', async () => {
    const { base } = setup();
    for (const code of ['BW_ERR_CIRCUIT_OPEN', 'BW_ERR_RETRY_BUDGET', 'BW_ERR_INVALID_OPTION', 'BW_ERR_ABORTED'] as const) {
      const fn = vi.fn(() => Promise.reject(new BreakwaterError(code, 'no')));
      await expect(retry(fn, { ...base, idempotent: true, retryOn: () => true })).rejects.toMatchObject({ code, details: { attempts: 1 } });
      expect(fn).toHaveBeenCalledTimes(1);
    }
    const tls = vi.fn(() => Promise.reject(new BreakwaterError('BW_ERR_TLS', 'bad cert', { details: { phase: 'connect' } })));
    await expect(retry(tls, { ...base, idempotent: true })).rejects.toMatchObject({ code: 'BW_ERR_TLS' });
    expect(tls).toHaveBeenCalledTimes(1);
  });

  it('lets retryOn widen or narrow the classification', async () => {
    const { clock, base } = setup();
    const odd = new Error('odd');
    await expect(drive(clock, retry(failing([odd]).fn, { ...base, retryOn: (e) => (e === odd ? true : undefined) }))).resolves.toBe('ok');
    await expect(retry(failing([refused()]).fn, { ...base, retryOn: () => false })).rejects.toMatchObject({ code: 'BW_ERR_CONNECT_REFUSED' });
  });

  it('fails with BW_ERR_RETRY_BUDGET, the last error as cause, when the budget refuses', async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0, clock });
    const last = refused();
    const error = await retry(() => Promise.reject(last), { clock, budget }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'BW_ERR_RETRY_BUDGET',
      retryable: false,
      cause: last,
      details: { attempts: 1, retryDelayMs: 0, requests: 1, retries: 0 },
    });
    // Two requests have earned one retry.
    const second = failing([refused()]);
    await expect(drive(clock, retry(second.fn, { clock, budget, random: () => 0 }))).resolves.toBe('ok');
    expect(budget.stats()).toMatchObject({ requests: 2, retries: 1 });
  });

  it('shares the budget of an upstream across calls (budgetFor)', async () => {
    const upstream = `unit-${Math.random()}`;
    await retry(() => 1, { upstream });
    await retry(() => 2, { upstream });
    expect(budgetFor(upstream).stats().requests).toBe(2);
  });

  it('never starts an attempt that cannot finish before the deadline', async () => {
    const { clock, base } = setup();
    const deadline = Deadline.after(1_000, { clock });
    const fn = vi.fn(async ({ signal }: AttemptContext) => {
      await sleep(300, { clock, signal });
      throw refused();
    });
    const error = await drive(clock, retry(fn, { ...base, deadline, attempts: 5, attemptTimeoutMs: 400, random: () => 1 })).catch((e: unknown) => e);
    // 0–300 attempt 1, 100 ms backoff, 400–700 attempt 2; then 300 ms are left, less than one attempt.
    expect(fn).toHaveBeenCalledTimes(2);
    expect(error).toMatchObject({ code: 'BW_ERR_CONNECT_REFUSED', details: { attempts: 2, retryDelayMs: 100 } });
    expect(clock.now()).toBeLessThan(1_000);
    expect(deadline.expired).toBe(false);
  });

  it('shortens a backoff sleep to what the deadline leaves', async () => {
    const { clock, base } = setup();
    const deadline = Deadline.after(1_000, { clock });
    const { fn } = failing([refused()]);
    const result = await drive(clock, retryWithStats(fn, { ...base, deadline, baseDelayMs: 5_000, random: () => 0.99 }), 1);
    expect(result.retryDelayMs).toBeLessThanOrEqual(999);
    expect(result.attempts).toBe(2);
  });

  it('aborts only the attempt after attemptTimeoutMs, and retries it only when idempotent', async () => {
    const { clock, base } = setup();
    const hang = vi.fn(({ signal }: AttemptContext) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))));
    const e1 = await drive(clock, retry(hang, { ...base, attemptTimeoutMs: 100, idempotent: true, random: () => 0 })).catch((e: unknown) => e);
    expect(hang).toHaveBeenCalledTimes(3);
    expect(e1).toMatchObject({ code: 'BW_ERR_DEADLINE', details: { attempts: 3, label: 'attempt 3' } });
    hang.mockClear();
    await drive(clock, retry(hang, { ...base, attemptTimeoutMs: 100 })).catch(() => {});
    expect(hang).toHaveBeenCalledTimes(1);
  });

  it('honours Retry-After (an error’s retryAfterMs) up to maxRetryAfterMs', async () => {
    const { clock, base } = setup();
    const slowDown = failing([http(503, { retryAfterMs: 2_000 })]);
    await expect(drive(clock, retryWithStats(slowDown.fn, { ...base, idempotent: true }))).resolves.toMatchObject({ retryDelayMs: 2_000 });
    const viaDetails = failing([new BreakwaterError('BW_ERR_CONNECT_REFUSED', 'x', { details: { retryAfterMs: 1_500 } })]);
    await expect(drive(clock, retryWithStats(viaDetails.fn, base))).resolves.toMatchObject({ retryDelayMs: 1_500 });
    const tooLong = failing([http(503, { retryAfterMs: 60_000 })]);
    await expect(retry(tooLong.fn, { ...base, idempotent: true })).rejects.toMatchObject({ status: 503, details: { attempts: 1 } });
    const pastDeadline = failing([http(429, { retryAfterMs: 2_000 })]);
    const deadline = Deadline.after(1_000, { clock });
    await expect(retry(pastDeadline.fn, { ...base, idempotent: true, deadline })).rejects.toMatchObject({ status: 429 });
  });

  it('makes exactly one attempt for a request that is itself a retry (incomingIsRetry), charged to the budget as a retry', async () => {
    const { budget, base } = setup();
    const { fn } = failing([refused()]);
    await expect(retry(fn, { ...base, incomingIsRetry: true })).rejects.toMatchObject({ details: { attempts: 1 } });
    expect(fn).toHaveBeenCalledTimes(1);
    expect(budget.stats()).toMatchObject({ requests: 0, retries: 1 });
    // Once the budget is spent, retry traffic is shed here instead of forwarded.
    const clock = new FakeClock();
    const spent = new RetryBudget({ minPerSecond: 0, clock });
    const forward = vi.fn(() => 'forwarded');
    await expect(retry(forward, { clock, budget: spent, incomingIsRetry: true })).rejects.toMatchObject({
      code: 'BW_ERR_RETRY_BUDGET',
      details: { attempts: 0, retryDelayMs: 0 },
    });
    expect(forward).not.toHaveBeenCalled();
    for (let i = 0; i < 10; i++) spent.recordRequest();
    await expect(retry(forward, { clock, budget: spent, incomingIsRetry: true })).resolves.toBe('forwarded');
  });

  it('stops at a caller abort during the backoff sleep, and never starts past an expired deadline', async () => {
    const { clock, base } = setup();
    const ac = new AbortController();
    const { fn } = failing([refused(), refused()]);
    const p = retry(fn, { ...base, signal: ac.signal, baseDelayMs: 1_000, random: () => 1 });
    await clock.advanceAsync(400);
    ac.abort(new Error('user went away'));
    await expect(p).rejects.toThrow('user went away');
    expect(fn).toHaveBeenCalledTimes(1);
    const gone = vi.fn();
    const expired = Deadline.after(0, { clock });
    await expect(retry(gone, { ...base, deadline: expired })).rejects.toMatchObject({ code: 'BW_ERR_DEADLINE', details: { attempts: 0 } });
    expect(gone).not.toHaveBeenCalled();
  });

  it('publishes retried and gaveUp on breakwater:retry:*', async () => {
    const { clock, base } = setup();
    const seen: [string, unknown][] = [];
    const onRetried = (m: unknown) => seen.push(['retried', m]);
    const onGaveUp = (m: unknown) => seen.push(['gaveUp', m]);
    diagnosticsChannel.subscribe('breakwater:retry:retried', onRetried);
    diagnosticsChannel.subscribe('breakwater:retry:gaveUp', onGaveUp);
    try {
      await drive(
        clock,
        retry(() => Promise.reject(refused()), { ...base, attempts: 2, random: () => 0 }),
      ).catch(() => {});
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:retry:retried', onRetried);
      diagnosticsChannel.unsubscribe('breakwater:retry:gaveUp', onGaveUp);
    }
    expect(seen.map(([e]) => e)).toEqual(['retried', 'gaveUp']);
    expect(seen[0]?.[1]).toMatchObject({ attempt: 2, delayMs: 0 });
    expect(seen[1]?.[1]).toMatchObject({ reason: 'attempts', attempts: 2 });
  });

  it('keeps its backoff on the monotonic clock across ±1 h wall-clock jumps (FM-15)', async () => {
    const { clock, base } = setup();
    const now = vi.spyOn(Date, 'now');
    const real = Date.now();
    const fn = vi.fn(async ({ attempt }: AttemptContext) => {
      now.mockReturnValue(real + (attempt % 2 === 1 ? 3_600_000 : -3_600_000));
      if (attempt < 3) throw refused();
      return 'ok';
    });
    const result = await drive(clock, retryWithStats(fn, { ...base, random: () => 1 }), 5);
    expect(result).toEqual({ value: 'ok', attempts: 3, retryDelayMs: 100 + 200 });
  });

  it('rejects bad options naming the key, in retry() and retryWithStats()', async () => {
    const fn = () => 1;
    const bad: [object, string][] = [
      [{ attempts: 0 }, 'attempts'],
      [{ attempts: 1.5 }, 'attempts'],
      [{ baseDelayMs: -1 }, 'baseDelayMs'],
      [{ maxDelayMs: 10, baseDelayMs: 20 }, 'maxDelayMs'],
      [{ jitter: 'some' }, 'jitter'],
      [{ maxRetryAfterMs: Number.NaN }, 'maxRetryAfterMs'],
      [{ idempotent: 'yes' }, 'idempotent'],
      [{ attemptTimeoutMs: -5 }, 'attemptTimeoutMs'],
      [{ clock: Date }, 'clock'],
      [{ upstream: '' }, 'upstream'],
      [{ budget: {} }, 'budget'],
      [{ upstream: 'a', budget: new RetryBudget() }, 'budget'],
      [{ deadline: 5 }, 'deadline'],
      [{ signal: {} }, 'signal'],
      [{ incomingIsRetry: 1 }, 'incomingIsRetry'],
      [{ retryOn: true }, 'retryOn'],
      [{ random: 4 }, 'random'],
      [{ retries: 2 }, 'retries'],
    ];
    for (const [options, key] of bad) {
      await expect(retry(fn, options as never), key).rejects.toThrow(invalid(key));
      await expect(retryWithStats(fn, options as never), key).rejects.toThrow(invalid(key));
    }
    await expect(retry('nope' as never)).rejects.toThrow(invalid('fn'));
  });
});
