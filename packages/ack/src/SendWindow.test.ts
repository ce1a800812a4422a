import { type BreakwaterError, Deadline, FakeClock } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { ACK_CLIENT_DEFAULTS } from './defaults.js';
import { type Message, SendWindow, type SendWindowOptions } from './SendWindow.js';

function setup(overrides: Partial<SendWindowOptions> & { reconnectBackoff?: { baseDelayMs: number; maxDelayMs: number } } = {}) {
  const clock = new FakeClock(1_000);
  const expired: [Message, BreakwaterError][] = [];
  const w = new SendWindow({ ...ACK_CLIENT_DEFAULTS, maxInFlight: 2, maxQueuedMessages: 1, maxBufferedBytes: 10, ...overrides, clock }, (m, e) => {
    expired.push([m, e]);
    w.settle(m);
  });
  const outcomes: unknown[] = [];
  const message = (bytes: number) =>
    w.create(
      Buffer.alloc(bytes),
      (a) => outcomes.push(a),
      (e) => outcomes.push(e),
    );
  return { clock, w, expired, message };
}

describe('SendWindow', () => {
  it('bounds messages and bytes; waiters are admitted in order once room frees', () => {
    const { w, message } = setup();
    const ms = [1, 2, 3].map((id) => {
      const m = message(3);
      expect(w.admissible(3)).toBe(true);
      w.admit(m, id);
      return m;
    });
    expect(w.admissible(0)).toBe(false); // 3 messages = maxInFlight + maxQueuedMessages
    const waiter = message(1);
    w.wait(waiter);
    expect(w.nextWaiter()).toBeUndefined();
    expect(w.settle(ms[0]!)).toEqual({ admitted: true });
    expect(w.settle(ms[0]!)).toBeUndefined();
    expect(w.bufferedBytes).toBe(6);
    expect(w.nextWaiter()).toBe(waiter);
    // Healthy but unusual: bytes, not count, are the limit.
    const { w: small, message: m2 } = setup({ maxQueuedMessages: 100 });
    small.admit(m2(9), 1);
    expect(small.admissible(2)).toBe(false);
    expect(small.admissible(1)).toBe(true);
  });

  it('the floor is the lowest unsettled id; only queued messages inside [floor, floor + window) are sendable', () => {
    const { w, message } = setup({ maxQueuedMessages: 10 });
    expect(w.floor(7)).toBe(7);
    const ms = [1, 2, 3, 4].map((id) => {
      const m = message(1);
      w.admit(m, id);
      return m;
    });
    expect([...w.sendable(w.floor(5), 2)].map((m) => m.id)).toEqual([1, 2]);
    w.sent(ms[0]!, 'a:1');
    expect([...w.sendable(w.floor(5), 2)].map((m) => m.id)).toEqual([2]);
    w.settle(ms[0]!);
    expect(w.floor(5)).toBe(2);
    expect([...w.sendable(2, 2)].map((m) => m.id)).toEqual([2, 3]);
  });

  it('in flight: overdue by ackTimeoutMs, requeued with the same id when the link drops', () => {
    const { clock, w, message } = setup();
    const a = message(1);
    w.admit(a, 1);
    w.sent(a, 'a:1');
    clock.advance(50);
    const b = message(1);
    w.admit(b, 2);
    w.sent(b, 'a:1');
    expect(w.oldestSentAt()).toBe(1_000);
    expect(w.overdue(50)).toEqual([a]);
    const failure = new Error('reset');
    expect(w.requeueInFlight(failure)).toBe(2);
    expect(w.inFlight).toBe(0);
    expect([a.state, a.id, a.attempts, a.lastError]).toEqual(['queued', 1, 1, failure]);
    w.sent(a, 'b:1');
    expect(a.attempts).toBe(2);
  });

  it('a parked (NACKed) message waits its own backoff, bounded by nackBackoff.maxDelayMs, not the reconnect options', () => {
    const { clock, w, message } = setup({ nackBackoff: { baseDelayMs: 40, maxDelayMs: 40 }, reconnectBackoff: { baseDelayMs: 5_000, maxDelayMs: 5_000 } });
    const m = message(1);
    w.admit(m, 1);
    w.sent(m, 'a:1');
    let ready = 0;
    w.park(m, new Error('busy'), () => ready++);
    expect(m.state).toBe('parked');
    expect(w.inFlight).toBe(0);
    clock.advance(40);
    expect([m.state, ready]).toEqual(['queued', 1]);
    // Settled while parked: the timer is cleared, nothing fires.
    w.sent(m, 'a:1');
    w.park(m, new Error('busy'), () => ready++);
    w.settle(m);
    clock.advance(1_000);
    expect(ready).toBe(1);
    expect(clock.pendingTimers).toBe(0);
  });

  it('default deadline: BW_ERR_DEADLINE if never written, BW_ERR_ACK_TIMEOUT once written; one timer for all', () => {
    const { clock, w, expired, message } = setup({ sendTimeoutMs: 100 });
    const never = message(1);
    w.watchExpiry(never, undefined, undefined);
    w.wait(never);
    clock.advance(10);
    const written = message(1);
    w.watchExpiry(written, undefined, undefined);
    w.admit(written, 1);
    w.sent(written, 'a:1');
    expect(clock.pendingTimers).toBe(1);
    clock.advance(90);
    expect(expired.map(([, e]) => e.code)).toEqual(['BW_ERR_DEADLINE']);
    clock.advance(10);
    expect(expired.map(([, e]) => e.code)).toEqual(['BW_ERR_DEADLINE', 'BW_ERR_ACK_TIMEOUT']);
    expect(expired[1]![1].details).toMatchObject({ id: 1, attempts: 1, endpoint: 'a:1' });
    expect(clock.pendingTimers).toBe(0);
    expect(w.empty).toBe(true);
  });

  it('a signal or an own deadline ends a send; settling first removes the listeners; stop() clears the timer', () => {
    const { clock, w, expired, message } = setup();
    const controller = new AbortController();
    const m = message(1);
    w.watchExpiry(m, controller.signal, undefined);
    controller.abort(new Error('user'));
    expect(expired[0]![1]).toMatchObject({ code: 'BW_ERR_ABORTED' });
    const d = Deadline.after(500, { clock });
    const n = message(1);
    w.watchExpiry(n, undefined, d);
    w.settle(n);
    clock.advance(500); // the deadline fires after its send settled: no second outcome
    expect(expired).toHaveLength(1);
    const o = message(1);
    w.watchExpiry(o, undefined, undefined);
    expect(clock.pendingTimers).toBe(1);
    w.stop();
    expect(clock.pendingTimers).toBe(0);
    expect(expired).toHaveLength(1);
  });
});
