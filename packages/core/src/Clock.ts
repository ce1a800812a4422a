import { performance } from 'node:perf_hooks';
import { validateNumber, validateSignal } from './validate.js';

/** An opaque timer handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/**
 * Time source for every timeout, budget, breaker and lease in Breakwater.
 * Always monotonic: a wall-clock jump (NTP step, VM resume, someone running
 * `date -s`) never makes a timer fire early or late (FM-15).
 * Inject {@link FakeClock} in tests instead of sleeping.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale with an arbitrary origin. Never decreases. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/**
 * The real clock: `performance.now()` and Node timers, both monotonic
 * (libuv uses CLOCK_MONOTONIC). Timers are unref'd so a pending timeout never
 * keeps a process alive on its own.
 */
export const monotonicClock: Clock = Object.freeze({
  now: () => performance.now(),
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const t = setTimeout(callback, Math.max(0, delayMs));
    t.unref();
    return t;
  },
  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
});

/**
 * Resolves after `delayMs` on `clock`; rejects with the signal's reason when
 * `signal` aborts first. The timer is cleared on every path.
 */
export function sleep(delayMs: number, options: { clock?: Clock; signal?: AbortSignal } = {}): Promise<void> {
  validateNumber(delayMs, 'delayMs', { min: 0 });
  const signal = validateSignal(options.signal);
  const clock = options.clock ?? monotonicClock;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface FakeTimer {
  id: number;
  at: number;
  callback: () => void;
}

/**
 * A clock that only moves when told to. Timers fire in order of due time (then
 * creation order) during {@link FakeClock.advance}.
 *
 * @example
 * const clock = new FakeClock();
 * const d = Deadline.after(100, { clock });
 * clock.advance(100); // d.signal.aborted === true
 */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, FakeTimer>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, delayMs), callback });
    return { id } as unknown as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.#timers.delete((handle as unknown as { id: number }).id);
  }

  /** Number of timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    validateNumber(ms, 'ms', { min: 0 });
    const target = this.#now + ms;
    for (;;) {
      let next: FakeTimer | undefined;
      for (const t of this.#timers.values()) {
        if (t.at <= target && (next === undefined || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      }
      if (next === undefined) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    this.#now = target;
  }

  /** Advances, letting promise callbacks run between timers. */
  async advanceAsync(ms: number, stepMs = ms): Promise<void> {
    let left = ms;
    while (left > 0) {
      const step = Math.min(stepMs, left);
      this.advance(step);
      left -= step;
      await new Promise<void>((r) => setImmediate(r));
    }
  }
}
