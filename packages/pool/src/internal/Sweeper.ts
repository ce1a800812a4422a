import type { Clock, TimerHandle } from '@breakwater/core';

/**
 * Idle eviction on the monotonic clock (generic-pool's own evictor is off by
 * default and runs on `Date.now()`): one timer, armed for the earliest idle
 * or lifetime expiry; `sweep` evicts and returns the next expiry.
 */
export class Sweeper {
  readonly #clock: Clock;
  readonly #sweep: () => number;
  #timer: TimerHandle | undefined;
  #at = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(clock: Clock, sweep: () => number) {
    this.#clock = clock;
    this.#sweep = sweep;
  }

  /** Makes sure a sweep runs at `at` at the latest. */
  schedule(at: number): void {
    if (at >= this.#at || this.#stopped) return;
    this.#clock.clearTimeout(this.#timer);
    this.#at = at;
    // At least 1 ms ahead: an expired connection that generic-pool is handing
    // over right now is not on its idle list, and must not make this a loop.
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(1, at - this.#clock.now()));
  }

  stop(): void {
    this.#stopped = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#at = Number.POSITIVE_INFINITY;
    if (this.#stopped) return;
    const next = this.#sweep();
    if (next !== Number.POSITIVE_INFINITY) this.schedule(next);
  }
}
