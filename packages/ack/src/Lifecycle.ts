import { type Clock, type CloseOptions, closeDeadlineMs } from '@breakwater/core';

export type { CloseOptions };

/**
 * `running` → `draining` (close() or destroy(): no new work; close() waits for
 * what was accepted) → `closed` (teardown: no connection, no timers). Forward only.
 */
export type Phase = 'running' | 'draining' | 'closed';
const ORDER: readonly Phase[] = ['running', 'draining', 'closed'];

/** A forward-only lifecycle: one field instead of a boolean per phase. */
export class Lifecycle {
  #phase: Phase = 'running';

  get phase(): Phase {
    return this.#phase;
  }

  /** Moves forward (never back); false if it is there or past it already. */
  advance(to: Phase): boolean {
    if (ORDER.indexOf(to) <= ORDER.indexOf(this.#phase)) return false;
    this.#phase = to;
    return true;
  }
}

/**
 * `close({ deadlineMs })` on top of a graceful `drain()` and an immediate
 * `destroy()`: drains, and destroys when `deadlineMs` passes first. The timer
 * is cleared as soon as the drain ends, so none outlives the close.
 */
export function closeWithin(clock: Clock, options: CloseOptions, drain: () => Promise<void>, destroy: () => unknown): Promise<void> {
  let deadlineMs: number | undefined;
  try {
    deadlineMs = closeDeadlineMs(options);
  } catch (error) {
    return Promise.reject(error);
  }
  if (deadlineMs === undefined) return drain();
  const timer = clock.setTimeout(() => void destroy(), deadlineMs);
  const drained = drain();
  void drained.then(() => clock.clearTimeout(timer));
  return drained;
}
