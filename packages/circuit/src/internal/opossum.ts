import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

/**
 * Types for the part of opossum 10 that Breakwater uses. opossum is CommonJS
 * and ships no types (`@types/opossum` 8.x lags behind); these follow
 * `lib/circuit.js` and `lib/status.js` of the pinned version.
 */
export interface OpossumOptions<A extends unknown[]> {
  name?: string;
  /** ms, or false for none. opossum's timeout neither cancels the action nor stays per call. */
  timeout?: number | false;
  /** ms from `open` to `halfOpen`, on a Node timer opossum owns. */
  resetTimeout?: number;
  errorThresholdPercentage?: number;
  volumeThreshold?: number;
  rollingCountTimeout?: number;
  rollingCountBuckets?: number;
  /** Latency percentiles; measured with Date.now(). */
  rollingPercentilesEnabled?: boolean;
  /** A 'snapshot' event every bucket, on a setInterval. */
  enableSnapshots?: boolean;
  /** When given, buckets rotate on its 'rotate' events instead of a setInterval. */
  rotateBucketController?: EventEmitter;
  /** One controller for every call: aborted on any call's timeout and left aborted while closed. Not used by Breakwater. */
  abortController?: AbortController;
  /** Initial state (opossum's state export/import). */
  state?: { closed?: boolean; halfOpen?: boolean };
  /** true: the error is not a failure — opossum then emits 'success' (and closes a half-open breaker). */
  errorFilter?: (error: unknown, ...args: A) => boolean;
}

/** Counts summed over the rolling window. */
export interface OpossumStats {
  fires: number;
  failures: number;
  successes: number;
  rejects: number;
  timeouts: number;
  semaphoreRejections: number;
}

export interface OpossumBreaker<A extends unknown[], R> extends EventEmitter {
  fire(...args: A): Promise<R>;
  open(): void;
  close(): void;
  shutdown(): void;
  readonly opened: boolean;
  readonly closed: boolean;
  readonly halfOpen: boolean;
  readonly pendingClose: boolean;
  readonly isShutdown: boolean;
  readonly stats: OpossumStats;
}

export interface OpossumConstructor {
  new <A extends unknown[], R>(action: (...args: A) => Promise<R>, options?: OpossumOptions<A>): OpossumBreaker<A, R>;
  /** Errors opossum made itself (EOPENBREAKER, ETIMEDOUT, ESEMLOCKED, ESHUTDOWN). */
  isOurError(error: object): boolean;
}

export const Opossum = createRequire(import.meta.url)('opossum') as OpossumConstructor;

/** Whether `error` is opossum's own error with this code (e.g. 'EOPENBREAKER'). */
export function isOpossumError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && Opossum.isOurError(error) && (error as { code?: unknown }).code === code;
}
