import { describe, expect, it } from 'vitest';
import { FakeClock, monotonicClock, sleep } from './Clock.js';

describe('monotonicClock', () => {
  it('never goes backwards', () => {
    let last = monotonicClock.now();
    for (let i = 0; i < 10_000; i++) {
      const now = monotonicClock.now();
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
  });

  it('is not the wall clock (its origin is process start, not the epoch)', () => {
    expect(Math.abs(monotonicClock.now() - Date.now())).toBeGreaterThan(1_000_000);
  });

  it('fires and clears timers', async () => {
    let fired = 0;
    const h = monotonicClock.setTimeout(() => fired++, 1);
    monotonicClock.clearTimeout(h);
    await sleep(10);
    expect(fired).toBe(0);
    await new Promise<void>((r) => monotonicClock.setTimeout(r, 1));
  });
});

describe('FakeClock', () => {
  it('fires timers in due order, then creation order', () => {
    const clock = new FakeClock(100);
    const order: string[] = [];
    clock.setTimeout(() => order.push('b'), 20);
    clock.setTimeout(() => order.push('a'), 10);
    clock.setTimeout(() => order.push('c'), 20);
    clock.advance(15);
    expect(order).toEqual(['a']);
    expect(clock.now()).toBe(115);
    clock.advance(5);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('runs timers scheduled by timers within the same advance', () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 5);
    clock.advance(10);
    expect(seen).toEqual([5, 10]);
  });

  it('rejects negative durations naming the key', () => {
    expect(() => new FakeClock().advance(-1)).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'ms' } }));
    expect(() => sleep(-1)).toThrow(/`delayMs`/);
  });

  it('drives sleep() and honours abort', async () => {
    const clock = new FakeClock();
    const done = sleep(50, { clock });
    await clock.advanceAsync(50);
    await expect(done).resolves.toBeUndefined();
    const ac = new AbortController();
    const aborted = sleep(50, { clock, signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(clock.pendingTimers).toBe(0);
    await expect(sleep(1, { clock, signal: ac.signal })).rejects.toThrow('stop');
  });
});
