import { validateNumber } from '@breakwater/core';
import { type BackoffOptions, type Jitter, resolveBackoffOptions } from '../defaults.js';

// 2^62 × any legal base is finite; a higher exponent adds nothing once capped
// and would turn `0 × Infinity` into NaN.
const MAX_EXPONENT = 62;

/** A sequence of delays for one operation: call `next()` before each retry. */
export interface Backoff {
  /**
   * The delay before the next retry, in ms: within [0, maxDelayMs] and never
   * more than `remainingMs` (what the deadline leaves).
   */
  next(remainingMs?: number): number;
  /** Start over (after a success, for a long-lived loop). */
  reset(): void;
}

function unit(random: () => number): number {
  const r = random();
  // A broken RNG must not break the bounds.
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
}

/**
 * One jittered delay. `n` counts retries from 0; `previousMs` is the last
 * delay (decorrelated jitter only).
 * @see https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
 */
export function jitteredDelayMs(jitter: Jitter, n: number, previousMs: number, o: { baseDelayMs: number; maxDelayMs: number; random: () => number }): number {
  const { baseDelayMs: base, maxDelayMs: cap } = o;
  const ceiling = Math.min(cap, base * 2 ** Math.min(n, MAX_EXPONENT));
  switch (jitter) {
    case 'full':
      return unit(o.random) * ceiling;
    case 'equal':
      return ceiling / 2 + (unit(o.random) * ceiling) / 2;
    case 'decorrelated': {
      const high = Math.max(base, Math.min(cap, previousMs * 3));
      return Math.min(cap, base + unit(o.random) * (high - base));
    }
  }
}

/**
 * Capped exponential backoff with jitter: `full` by default (AWS's
 * recommendation: the least total work and the fewest calls among the
 * variants), `equal` and `decorrelated` on request.
 *
 * @see https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
 * @example
 * const backoff = createBackoff({ baseDelayMs: 50, maxDelayMs: 2_000 });
 * await sleep(backoff.next(deadline.remainingMs()));
 */
export function createBackoff(options?: BackoffOptions & { random?: () => number }): Backoff {
  const o = resolveBackoffOptions(options);
  let n = 0;
  let previous = o.baseDelayMs;
  return {
    next(remainingMs = Number.POSITIVE_INFINITY) {
      validateNumber(remainingMs, 'remainingMs', { allowInfinity: true });
      const delay = jitteredDelayMs(o.jitter, n, previous, o);
      n++;
      previous = delay;
      return Math.max(0, Math.min(delay, remainingMs));
    },
    reset() {
      n = 0;
      previous = o.baseDelayMs;
    },
  };
}
