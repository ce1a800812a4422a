import {
  BreakwaterError,
  backoffRules,
  type Clock,
  type Deadline,
  intRule,
  monotonicClock,
  msRule,
  numberRule,
  type Rules,
  resolveBackoffShape,
  resolveOptions,
  resolveTunables,
  validateAtLeast,
  validateBoolean,
  validateClock,
  validateFunction,
  validateOneOf,
  validateOptionsObject,
  validateSignal,
  validateString,
} from '@breakwater/core';
import type { RetryBudget } from './RetryBudget.js';

/**
 * Finagle's RetryBudget: retries may be `ratio` of the requests seen in the
 * last `windowMs`, plus a floor of `minPerSecond` so a quiet client can still
 * retry. Under a total outage the extra load is bounded by the ratio instead
 * of multiplied by the attempt count (FM-11).
 * @see https://twitter.github.io/finagle/guide/Clients.html#retries
 */
export interface RetryBudgetOptions {
  /** Retries may be this fraction of requests, on top of the floor. @defaultValue 0.1 @example 0.2 */
  ratio?: number;
  /** Retries always allowed per second, even with no traffic. @defaultValue 10 @example 1 */
  minPerSecond?: number;
  /** Sliding window over which requests and retries are counted, in ms. @defaultValue 10_000 @example 60_000 */
  windowMs?: number;
  /** Injected for tests. @defaultValue the monotonic clock */
  clock?: Clock;
}

export type ResolvedRetryBudgetOptions = Required<RetryBudgetOptions>;

export const RETRY_BUDGET_DEFAULTS = Object.freeze({
  ratio: 0.1,
  minPerSecond: 10,
  windowMs: 10_000,
  clock: monotonicClock,
}) satisfies ResolvedRetryBudgetOptions;

export type Jitter = 'full' | 'equal' | 'decorrelated';
export const JITTERS = ['full', 'equal', 'decorrelated'] as const;

/**
 * Exponential backoff with jitter, capped.
 * @see https://aws.amazon.com/builders-library/timeouts-retries-and-backoff-with-jitter/
 */
export interface BackoffOptions {
  /**
   * `full`: random in [0, min(cap, base × 2ⁿ)] — the fewest calls and the least
   * work per the AWS analysis; `equal`: half fixed, half random; `decorrelated`:
   * random in [base, 3 × previous], capped.
   * @defaultValue 'full' @example 'decorrelated'
   */
  jitter?: Jitter;
  /** Base of the exponential, in ms. @defaultValue 100 @example 50 */
  baseDelayMs?: number;
  /** Cap: no delay exceeds it. @defaultValue 10_000 @example 2_000 */
  maxDelayMs?: number;
}

export const BACKOFF_DEFAULTS = Object.freeze({
  jitter: 'full' as Jitter,
  baseDelayMs: 100,
  maxDelayMs: 10_000,
}) satisfies Required<BackoffOptions>;

/** The tunable part of {@link RetryOptions}: every field is in the README defaults table. */
export interface RetryPolicyOptions extends BackoffOptions {
  /** Total attempts, the first included. @defaultValue 3 @example 2 */
  attempts?: number;
  /** A `Retry-After` (an error's `retryAfterMs`) longer than this gives up at once instead of waiting. @defaultValue 10_000 @example 30_000 */
  maxRetryAfterMs?: number;
  /**
   * Whether the operation may be resent after it may have reached the peer.
   * Connect-phase failures are retried either way: nothing was sent.
   * @defaultValue false @example true
   */
  idempotent?: boolean;
  /**
   * Time limit of one attempt, in ms: its signal aborts after this, and a retry
   * starts only if the deadline leaves this much after the backoff sleep.
   * 0: no per-attempt limit (a retry needs 1 ms left).
   * @defaultValue 0 @example 2_000
   */
  attemptTimeoutMs?: number;
  /** Injected for tests. @defaultValue the monotonic clock */
  clock?: Clock;
}

export const RETRY_DEFAULTS = Object.freeze({
  ...BACKOFF_DEFAULTS,
  attempts: 3,
  maxRetryAfterMs: 10_000,
  idempotent: false,
  attemptTimeoutMs: 0,
  clock: monotonicClock,
}) satisfies Required<RetryPolicyOptions>;

/** Per-call options of `retry()`: none has a default worth a table row. */
export interface RetryOptions extends RetryPolicyOptions {
  /** Upstream key: the retry budget is shared by every call with this key (`budgetFor(upstream)`). */
  upstream?: string;
  /** An explicit budget (instead of `upstream`). @defaultValue the process-wide budget */
  budget?: RetryBudget;
  /** The whole operation, attempts and sleeps included, ends with it. */
  deadline?: Deadline;
  /** Caller cancellation. */
  signal?: AbortSignal;
  /**
   * The request being served is itself a retry (it carried `x-breakwater-retry`):
   * make exactly one attempt, charged to the budget as a retry — refused with
   * BW_ERR_RETRY_BUDGET, unattempted, when the budget is spent — so stacked
   * tiers add at most one budget's worth of retries instead of multiplying.
   * @defaultValue false
   */
  incomingIsRetry?: boolean;
  /** Overrides the classification; return undefined to keep it. Never consulted for CIRCUIT_OPEN, RETRY_BUDGET, INVALID_OPTION, ABORTED. */
  retryOn?: (error: unknown, info: { attempt: number }) => boolean | undefined;
  /** Random numbers in [0, 1) for the jitter. @defaultValue Math.random */
  random?: () => number;
}

export interface ResolvedRetryOptions extends Required<RetryPolicyOptions> {
  upstream: string | undefined;
  budget: RetryBudget | undefined;
  deadline: Deadline | undefined;
  signal: AbortSignal | undefined;
  incomingIsRetry: boolean;
  retryOn: RetryOptions['retryOn'];
  random: () => number;
}

/** Longest backoff delay, Retry-After or attempt limit: one hour. */
const MAX_RETRY_MS = 3_600_000;

export const RETRY_BUDGET_RULES = {
  ratio: numberRule(0, 1),
  minPerSecond: numberRule(0, 1_000_000),
  windowMs: msRule(10, MAX_RETRY_MS),
  clock: validateClock,
} satisfies Rules<ResolvedRetryBudgetOptions>;

/** The rules of {@link BackoffOptions}: `jitter`, and the shared backoff shape capped at one hour. */
export const BACKOFF_RULES = {
  jitter: (v: unknown, k: string) => validateOneOf(v, k, JITTERS),
  ...backoffRules(MAX_RETRY_MS),
} satisfies Rules<Required<BackoffOptions>>;

/** The validation of {@link RetryPolicyOptions}, for packages that embed them (`@breakwater/http`). */
export const RETRY_RULES = {
  ...BACKOFF_RULES,
  attempts: intRule(1, 100),
  maxRetryAfterMs: msRule(0, MAX_RETRY_MS),
  idempotent: validateBoolean,
  attemptTimeoutMs: msRule(0, MAX_RETRY_MS),
  clock: validateClock,
} satisfies Rules<Required<RetryPolicyOptions>>;

/** Validates and fills in defaults; throws BW_ERR_INVALID_OPTION naming the key. */
export function resolveRetryBudgetOptions(options?: RetryBudgetOptions, where = 'RetryBudget'): ResolvedRetryBudgetOptions {
  return resolveOptions<ResolvedRetryBudgetOptions>(options, where, RETRY_BUDGET_DEFAULTS, RETRY_BUDGET_RULES);
}

export function validateRandom(v: unknown, k = 'random'): () => number {
  return v === undefined ? Math.random : validateFunction<() => number>(v, k);
}

/** Backoff options with their defaults; `random` defaults to Math.random. */
export function resolveBackoffOptions(options?: BackoffOptions & { random?: () => number }, where = 'createBackoff()') {
  const { random, ...rest } = validateOptionsObject<BackoffOptions & { random?: () => number }>(options, where, [...Object.keys(BACKOFF_DEFAULTS), 'random']);
  const o = resolveBackoffShape<Required<BackoffOptions>>(rest, where, BACKOFF_DEFAULTS, BACKOFF_RULES);
  return { ...o, random: validateRandom(random) };
}

/** Options of `createRetryStrategy()`: the policy, plus what the decision needs that is not tunable. */
export interface RetryStrategyOptions extends RetryPolicyOptions {
  /** Random numbers in [0, 1) for the jitter. @defaultValue Math.random */
  random?: () => number;
  /** Who publishes, as `source` in the `breakwater:retry:*` events. @defaultValue 'retry' */
  source?: string;
}

export interface ResolvedRetryStrategyOptions extends Required<RetryPolicyOptions> {
  random: () => number;
  source: string;
}

/** Validates the options of `createRetryStrategy()`; throws BW_ERR_INVALID_OPTION naming the key. */
export function resolveRetryStrategyOptions(options?: RetryStrategyOptions, where = 'createRetryStrategy()'): ResolvedRetryStrategyOptions {
  const { tunables: o, others } = resolveTunables<Required<RetryPolicyOptions>, RetryStrategyOptions>(options, where, RETRY_DEFAULTS, RETRY_RULES, [
    'random',
    'source',
  ]);
  validateAtLeast(o, 'baseDelayMs', 'maxDelayMs');
  const { random, source } = others;
  return { ...o, random: validateRandom(random), source: source === undefined ? 'retry' : validateString(source, 'source') };
}

const CALL_KEYS = ['upstream', 'budget', 'deadline', 'signal', 'incomingIsRetry', 'retryOn', 'random'] as const;

/** Validates every option of `retry()`; throws BW_ERR_INVALID_OPTION naming the key. */
export function resolveRetryOptions(options?: RetryOptions, where = 'retry()'): ResolvedRetryOptions {
  const { tunables: o, others } = resolveTunables<Required<RetryPolicyOptions>, RetryOptions>(options, where, RETRY_DEFAULTS, RETRY_RULES, CALL_KEYS);
  validateAtLeast(o, 'baseDelayMs', 'maxDelayMs');
  const { upstream, budget, deadline, signal, incomingIsRetry, retryOn, random } = others;
  if (upstream !== undefined && budget !== undefined) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected either `upstream` or `budget`, got both', { details: { key: 'budget' } });
  }
  if (budget !== undefined && (typeof budget !== 'object' || budget === null || typeof (budget as RetryBudget).tryRetry !== 'function')) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `budget` to be a RetryBudget', { details: { key: 'budget' } });
  }
  if (deadline !== undefined && (typeof deadline !== 'object' || deadline === null || typeof deadline.remainingMs !== 'function')) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `deadline` to be a Deadline', { details: { key: 'deadline' } });
  }
  return {
    ...o,
    upstream: upstream === undefined ? undefined : validateString(upstream, 'upstream'),
    budget,
    deadline,
    signal: validateSignal(signal),
    incomingIsRetry: incomingIsRetry === undefined ? false : validateBoolean(incomingIsRetry, 'incomingIsRetry'),
    retryOn: retryOn === undefined ? undefined : validateFunction<NonNullable<RetryOptions['retryOn']>>(retryOn, 'retryOn'),
    random: validateRandom(random),
  };
}
