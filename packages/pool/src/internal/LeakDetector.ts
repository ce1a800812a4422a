import type { Clock, TimerHandle } from '@breakwater/core';
import type { Entry } from './Entry.js';

/**
 * Borrowed connections in borrow order. Every loan gets the same allowance,
 * so one timer armed for the oldest loan serves them all.
 */
export class LeakDetector {
  readonly #loans = new Map<Entry, true>();
  readonly #clock: Clock;
  readonly #afterMs: number;
  readonly #onLeak: (entry: Entry, borrowedMs: number) => void;
  #timer: TimerHandle | undefined;

  constructor(clock: Clock, afterMs: number, onLeak: (entry: Entry, borrowedMs: number) => void) {
    this.#clock = clock;
    this.#afterMs = afterMs;
    this.#onLeak = onLeak;
  }

  get enabled(): boolean {
    return this.#afterMs > 0;
  }

  borrowed(entry: Entry): void {
    this.#loans.set(entry, true);
    if (this.#timer === undefined) this.#arm(entry.borrowedAt + this.#afterMs);
  }

  returned(entry: Entry): void {
    this.#loans.delete(entry);
  }

  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#loans.clear();
  }

  #arm(at: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#fire(), at - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (const entry of this.#loans.keys()) {
      const due = entry.borrowedAt + this.#afterMs;
      if (due > now) {
        this.#arm(due);
        return;
      }
      // Reported once; it stays listed until it comes back.
      this.#loans.delete(entry);
      this.#onLeak(entry, now - entry.borrowedAt);
    }
  }
}

/** The borrower's stack, captured above `above` (the leak event reports it). */
export function captureStack(above: Function): { stack?: string } {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, above);
  return holder;
}
