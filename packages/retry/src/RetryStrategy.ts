import { BreakwaterError, type Clock, channelName, publisher, sleep } from '@breakwater/core';
import { jitteredDelayMs } from './backoff/createBackoff.js';
import { type ResolvedRetryStrategyOptions, type RetryStrategyOptions, resolveRetryStrategyOptions } from './defaults.js';
import { isRetryable, NEVER_RETRIED, retryAfterMsOf } from './isRetryable.js';
import type { RetryBudget } from './RetryBudget.js';

/**
 * Why a retrying operation stopped without a success. The strategy checks, in this order: `aborted`
 * (the caller cancelled), `deadline` (no time left at all), `attempts` (none left), `notRetryable`
 * (another attempt cannot help or is unsafe), `retryAfter` (the server asked for a wait longer than
 * `maxRetryAfterMs`), `deadline` again (the wait and the next attempt would not fit in the time left),
 * `notReplayable` (the request cannot be sent again unchanged: a one-shot body no longer recorded),
 * `budget` (the retry budget refused).
 * Published as `reason` on `breakwater:retry:gaveUp`.
 */
export const GAVE_UP_REASONS = Object.freeze(['aborted', 'attempts', 'notRetryable', 'retryAfter', 'deadline', 'notReplayable', 'budget'] as const);
export type GaveUpReason = (typeof GAVE_UP_REASONS)[number];

/** What the strategy needs to know after a failed attempt. */
export interface RetryDecisionInput {
  /** Attempts made so far, the one that just failed included (1 after the first). */
  attempt: number;
  /** What the attempt failed with: an error, or a response-like `{ status }`. */
  error: unknown;
  /** The wait the server asked for (`Retry-After`), in ms. @defaultValue the error's `retryAfterMs` */
  retryAfterMs?: number | undefined;
  /** What the deadline leaves, in ms. @defaultValue Infinity (no deadline) */
  timeLeftMs?: number;
  /** Charged, only when the answer is a retry. */
  budget: RetryBudget;
  /** Whether the operation may be resent after it may have reached the peer. @defaultValue the strategy's `idempotent` */
  idempotent?: boolean;
  /** The caller's verdict (an attempt that hit its own time limit); undefined: `retryOn`, then `isRetryable(error, { idempotent })`. */
  retryable?: boolean | undefined;
  /** Overrides the classification; undefined keeps it. Never consulted for the codes no retry may help (`NEVER_RETRIED`). */
  retryOn?: ((error: unknown, info: { attempt: number }) => boolean | undefined) | undefined;
  /** The operation being served is itself a retry (`x-breakwater-retry`): one attempt only (FM-11). */
  incomingIsRetry?: boolean;
  /** false: the request cannot be sent again unchanged. @defaultValue true */
  replayable?: boolean;
  /** The previous backoff delay, for `decorrelated` jitter. @defaultValue baseDelayMs */
  previousDelayMs?: number;
  /** Caller cancellation: once aborted, the answer is `aborted`. */
  signal?: AbortSignal | undefined;
  /** For the events: the budget's key (a service name, an HTTP origin). */
  upstream?: string | undefined;
  /** For the events: the time slept so far, in ms. @defaultValue 0 */
  retryDelayMs?: number;
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: GaveUpReason };

/** `breakwater:retry:retried`: a retry was decided; the sleep starts now. */
export interface RetriedMessage {
  source: string;
  upstream: string | undefined;
  /** The attempt about to be made (2 for the first retry). */
  attempt: number;
  delayMs: number;
  error: unknown;
}

/** `breakwater:retry:gaveUp`: no more attempts. */
export interface GaveUpMessage {
  source: string;
  upstream: string | undefined;
  reason: GaveUpReason;
  attempts: number;
  retryDelayMs: number;
  error: unknown;
}

/**
 * The one retry decision of Breakwater, shared by `retry()` and `@breakwater/http`: given the failed
 * attempt, its error, `Retry-After`, the time left and the budget, a delay or a named reason to stop.
 * Backoff (capped exponential with jitter) and `Retry-After` are combined here, never past the time left;
 * the budget is charged exactly when the answer is a retry. Sleeps run on the injected {@link Clock}.
 *
 * @see https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
 * @example
 * const strategy = createRetryStrategy({ attempts: 3, idempotent: true });
 * const d = strategy.decide({ attempt: 1, error, budget: budgetFor('users'), timeLeftMs: deadline.remainingMs() });
 * if (d.retry) await strategy.sleep(d.delayMs, signal);
 */
export interface RetryStrategy {
  readonly options: ResolvedRetryStrategyOptions;
  readonly clock: Clock;
  /** Attempts an operation may make: 1 when it is itself a retry. */
  maxAttempts(incomingIsRetry?: boolean): number;
  /**
   * Before the first attempt: counts a request, or — for an operation that is itself a retry — charges
   * a retry (a forwarded retry is retry traffic, not new demand, FM-11). false: refused by the budget
   * (`gaveUp` with reason `budget` and 0 attempts was published).
   */
  admit(budget: RetryBudget, options?: { incomingIsRetry?: boolean; upstream?: string | undefined }): boolean;
  /** Retry after `delayMs`, or stop for a reason; publishes `retried` or `gaveUp`. */
  decide(input: RetryDecisionInput): RetryDecision;
  /** Publishes `gaveUp` for a stop decided outside {@link decide} (an abort during the sleep). */
  gaveUp(reason: GaveUpReason, info: { attempts: number; upstream?: string | undefined; retryDelayMs?: number; error?: unknown }): void;
  /** Resolves after `delayMs` on the clock; rejects with the signal's reason when it aborts first. */
  sleep(delayMs: number, signal?: AbortSignal): Promise<void>;
  /** Calls `callback` after `delayMs` on the clock; returns the function that cancels it. */
  schedule(callback: () => void, delayMs: number): () => void;
}

const publish = publisher('retry');

/** The diagnostics_channel names of every retry decision, whoever asked (`source`: `'retry'`, `'http'`). */
export const RETRY_CHANNELS = Object.freeze({
  retried: channelName('retry', 'retried'),
  gaveUp: channelName('retry', 'gaveUp'),
});

/** A {@link RetryStrategy} with these options (validated: BW_ERR_INVALID_OPTION naming the key). */
export function createRetryStrategy(options?: RetryStrategyOptions): RetryStrategy {
  return new Strategy(resolveRetryStrategyOptions(options));
}

/** For `retry()`, whose options are already resolved. */
export function strategyOf(o: ResolvedRetryStrategyOptions): RetryStrategy {
  return new Strategy(o);
}

class Strategy implements RetryStrategy {
  readonly options: ResolvedRetryStrategyOptions;

  readonly #timers: Clock;

  constructor(o: ResolvedRetryStrategyOptions) {
    this.options = Object.freeze(o);
    const clock = o.clock;
    // The monotonic clock's timers are unref'd; a backoff is part of an operation someone awaits, and
    // with its connection back in the (unref'd) pool nothing else may keep the process alive.
    this.#timers = {
      now: () => clock.now(),
      setTimeout(callback, delayMs) {
        const handle = clock.setTimeout(callback, delayMs);
        (handle as { ref?: () => void }).ref?.();
        return handle;
      },
      clearTimeout: (handle) => clock.clearTimeout(handle),
    };
  }

  get clock(): Clock {
    return this.options.clock;
  }

  maxAttempts(incomingIsRetry = false): number {
    return incomingIsRetry ? 1 : this.options.attempts;
  }

  admit(budget: RetryBudget, { incomingIsRetry = false, upstream }: { incomingIsRetry?: boolean; upstream?: string | undefined } = {}): boolean {
    if (!incomingIsRetry) {
      budget.recordRequest();
      return true;
    }
    if (budget.tryRetry()) return true;
    this.gaveUp('budget', { attempts: 0, upstream });
    return false;
  }

  decide(input: RetryDecisionInput): RetryDecision {
    const reason = this.#check(input);
    if (typeof reason === 'string') {
      this.gaveUp(reason, { attempts: input.attempt, upstream: input.upstream, retryDelayMs: input.retryDelayMs ?? 0, error: input.error });
      return { retry: false, reason };
    }
    const message: RetriedMessage = { source: this.options.source, upstream: input.upstream, attempt: input.attempt + 1, delayMs: reason, error: input.error };
    publish('retried', message);
    return { retry: true, delayMs: reason };
  }

  /** A reason to stop, or the delay; the budget is charged only when every other check passed. */
  #check(input: RetryDecisionInput): GaveUpReason | number {
    const o = this.options;
    const { error } = input;
    if (input.signal?.aborted === true) return 'aborted';
    const timeLeftMs = input.timeLeftMs ?? Number.POSITIVE_INFINITY;
    // Time is up: whatever the attempt failed with (often the deadline's own abort), that is why it stops.
    if (!(timeLeftMs > 0)) return 'deadline';
    if (input.attempt >= this.maxAttempts(input.incomingIsRetry)) return 'attempts';
    if (error instanceof BreakwaterError && NEVER_RETRIED.has(error.code)) return 'notRetryable';
    const verdict =
      input.retryable ?? input.retryOn?.(error, { attempt: input.attempt }) ?? isRetryable(error, { idempotent: input.idempotent ?? o.idempotent });
    if (!verdict) return 'notRetryable';
    const retryAfterMs = input.retryAfterMs ?? retryAfterMsOf(error);
    if (retryAfterMs !== undefined && retryAfterMs > o.maxRetryAfterMs) return 'retryAfter';
    // The next attempt needs its time limit (or at least 1 ms) after the sleep: the sleep never
    // runs past the time left, and no attempt starts that could not finish before the deadline.
    const available = timeLeftMs - Math.max(o.attemptTimeoutMs, 1);
    if (!(available >= 0) || (retryAfterMs !== undefined && retryAfterMs > available)) return 'deadline';
    if (input.replayable === false) return 'notReplayable';
    if (!input.budget.tryRetry()) return 'budget';
    const backoffMs = jitteredDelayMs(o.jitter, input.attempt - 1, input.previousDelayMs ?? o.baseDelayMs, o);
    return Math.max(Math.min(backoffMs, available), retryAfterMs ?? 0);
  }

  gaveUp(reason: GaveUpReason, info: { attempts: number; upstream?: string | undefined; retryDelayMs?: number; error?: unknown }): void {
    const message: GaveUpMessage = {
      source: this.options.source,
      upstream: info.upstream,
      reason,
      attempts: info.attempts,
      retryDelayMs: info.retryDelayMs ?? 0,
      error: info.error,
    };
    publish('gaveUp', message);
  }

  sleep(delayMs: number, signal?: AbortSignal): Promise<void> {
    return sleep(delayMs, { clock: this.#timers, ...(signal === undefined ? {} : { signal }) });
  }

  schedule(callback: () => void, delayMs: number): () => void {
    const handle = this.#timers.setTimeout(callback, delayMs);
    return () => this.#timers.clearTimeout(handle);
  }
}
