import { describe, expect, it } from 'vitest';
import { BreakwaterError } from './BreakwaterError.js';
import { FakeClock } from './Clock.js';
import { Deadline } from './Deadline.js';

describe('Deadline', () => {
  it('aborts its signal with BW_ERR_DEADLINE when time runs out', () => {
    const clock = new FakeClock();
    const d = Deadline.after(100, { clock, label: 'GET /' });
    expect(d.remainingMs()).toBe(100);
    clock.advance(60);
    expect(d.remainingMs()).toBe(40);
    expect(d.expired).toBe(false);
    expect(d.canFit(50)).toBe(false);
    clock.advance(40);
    expect(d.expired).toBe(true);
    expect(d.remainingMs()).toBe(0);
    const reason = d.signal.reason as BreakwaterError;
    expect(reason).toBeInstanceOf(BreakwaterError);
    expect(reason.code).toBe('BW_ERR_DEADLINE');
    expect(reason.message).toContain('GET /');
    expect(() => d.throwIfExpired()).toThrow(/deadline/);
  });

  it('takes a listener object and a label object, building the label only when it fires', () => {
    const clock = new FakeClock();
    let built = 0;
    const label = { deadlineLabel: () => `GET /n${++built}` };
    const heard: unknown[] = [];
    const listener = { onDeadlineAbort: (reason: unknown) => heard.push(reason) };
    const kept = Deadline.after(50, { clock, label });
    const removed = Deadline.after(50, { clock, label });
    kept.onAbort(listener);
    kept.onAbort((r) => heard.push(r));
    removed.onAbort(listener);
    removed.offAbort(listener);
    expect(built).toBe(0);
    clock.advance(50);
    expect(heard).toHaveLength(2);
    expect(heard[0]).toBe(heard[1]);
    expect((heard[0] as BreakwaterError).message).toMatch(/GET \/n\d/);
    expect(built).toBe(2);
    const late: unknown[] = [];
    kept.onAbort({ onDeadlineAbort: (r) => late.push(r) });
    expect(late).toEqual([heard[0]]);
  });

  it('an injected clock never fires a deadline past the timer maximum early (no 1 ms TimeoutOverflow)', () => {
    const fake = new FakeClock();
    // As Node's setTimeout: a delay past 2³¹ − 1 ms fires after 1 ms.
    const clock = {
      now: () => fake.now(),
      clearTimeout: fake.clearTimeout.bind(fake),
      setTimeout: (fn: () => void, ms: number) => fake.setTimeout(fn, ms > 2 ** 31 - 1 ? 1 : ms),
    };
    const d = Deadline.after(2 ** 31 + 5_000, { clock });
    fake.advance(1);
    expect(d.expired).toBe(false);
    fake.advance(2 ** 31 - 2);
    expect(d.expired).toBe(false);
    fake.advance(5_000);
    expect(d.expired).toBe(false);
    fake.advance(1);
    expect(d.expired).toBe(true);
  });

  it('bounds children by the parent and propagates the parent abort', () => {
    const clock = new FakeClock();
    const parent = Deadline.after(100, { clock });
    const longChild = parent.child(500);
    const shortChild = parent.child(30);
    expect(longChild.expiresAt).toBe(100);
    expect(shortChild.expiresAt).toBe(30);
    clock.advance(30);
    expect(shortChild.expired).toBe(true);
    expect(longChild.expired).toBe(false);
    clock.advance(70);
    expect(longChild.expired).toBe(true);
    expect((longChild.signal.reason as BreakwaterError).code).toBe('BW_ERR_DEADLINE');
  });

  it('follows a caller AbortSignal with the caller reason', () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const d = Deadline.after(1_000, { clock, parent: ac.signal });
    ac.abort(new Error('user cancelled'));
    expect(d.expired).toBe(true);
    expect((d.signal.reason as Error).message).toBe('user cancelled');
    expect(clock.pendingTimers).toBe(0);
    expect(Deadline.after(10, { clock, parent: ac.signal }).expired).toBe(true);
  });

  it('releases its timer on dispose and with `using`', () => {
    const clock = new FakeClock();
    {
      using d = Deadline.after(100, { clock });
      expect(d.expired).toBe(false);
      expect(clock.pendingTimers).toBe(1);
    }
    expect(clock.pendingTimers).toBe(0);
  });

  it('has no limit with none(), and expires at once with 0', () => {
    const clock = new FakeClock();
    expect(Deadline.none({ clock }).remainingMs()).toBe(Number.POSITIVE_INFINITY);
    expect(Deadline.after(0, { clock }).expired).toBe(true);
    expect(Deadline.after(Number.POSITIVE_INFINITY, { clock }).remainingMs()).toBe(Number.POSITIVE_INFINITY);
  });

  it('rejects a bad duration naming the key', () => {
    expect(() => Deadline.after(-1)).toThrow(/`ms`/);
    expect(() => Deadline.after(Number.NaN)).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION' }));
  });

  it('is unaffected by wall-clock jumps (FM-15): it only reads the injected monotonic clock', () => {
    const clock = new FakeClock();
    const d = Deadline.after(100, { clock });
    const realNow = Date.now;
    try {
      Date.now = () => realNow() + 3_600_000;
      expect(d.remainingMs()).toBe(100);
      Date.now = () => realNow() - 3_600_000;
      expect(d.remainingMs()).toBe(100);
    } finally {
      Date.now = realNow;
    }
  });
});
