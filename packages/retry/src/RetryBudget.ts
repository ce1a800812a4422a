import { type Clock, validateString } from '@breakwater/core';
import { type RetryBudgetOptions, resolveRetryBudgetOptions } from './defaults.js';

// Ten buckets: memory stays constant at any request rate, and a bucket is
// 1/10 of the window, so the window is exact to within one bucket (see below).
const BUCKETS = 10;
// Absorbs float error in `ratio × requests` (0.1 × 70 = 7.000000000000001).
const EPSILON = 1e-9;

/** What a budget has counted in its current window. */
export interface RetryBudgetStats {
  /** Requests counted in the window. */
  requests: number;
  /** Retries counted in the window. */
  retries: number;
  /** Retries still allowed now: floor + ratio × requests − retries, never negative. */
  available: number;
  ratio: number;
  minPerSecond: number;
  windowMs: number;
}

/**
 * Finagle's RetryBudget: over a sliding window, retries may be at most
 * `ratio × requests + minPerSecond × windowSeconds`. Shared by every call to
 * one upstream, it turns "each caller retries 3×" into "this client adds at
 * most 10 % load", whatever the number of callers or tiers (FM-11).
 *
 * Guarantee (property-tested): when a retry is granted at time t, the retries
 * granted in (t − windowMs, t] are at most ratio × the requests recorded in
 * (t − windowMs, t] plus the floor. Requests are counted over the buckets that
 * lie wholly inside the window and retries over every bucket that overlaps
 * it, so bucketing can only make the budget stricter. Reads only the
 * injected monotonic clock (FM-15).
 *
 * @see https://twitter.github.io/finagle/guide/Clients.html#retries
 * @example
 * const budget = budgetFor('payments.internal:443');
 * budget.recordRequest();
 * if (failed && budget.tryRetry()) resend();
 */
export class RetryBudget {
  readonly ratio: number;
  readonly minPerSecond: number;
  readonly windowMs: number;
  readonly #clock: Clock;
  readonly #bucketMs: number;
  readonly #floor: number;
  // One extra slot: retries look one bucket further back than requests.
  readonly #stamp = new Float64Array(BUCKETS + 1).fill(Number.NaN);
  readonly #requests = new Float64Array(BUCKETS + 1);
  readonly #retries = new Float64Array(BUCKETS + 1);

  constructor(options?: RetryBudgetOptions) {
    const o = resolveRetryBudgetOptions(options);
    this.ratio = o.ratio;
    this.minPerSecond = o.minPerSecond;
    this.windowMs = o.windowMs;
    this.#clock = o.clock;
    this.#bucketMs = o.windowMs / BUCKETS;
    this.#floor = (o.minPerSecond * o.windowMs) / 1000;
  }

  /** Counts one request (not a retry); each lets `ratio` of a retry through. Finagle's `deposit()`. */
  recordRequest(): void {
    this.#requests[this.#slot(this.#bucket())]! += 1;
  }

  /** Whether one more retry fits in the budget now. */
  canRetry(): boolean {
    const { requests, retries } = this.#counts(this.#bucket());
    return retries + 1 <= this.#floor + this.ratio * requests + EPSILON;
  }

  /** Counts one retry, whether or not it fitted. */
  recordRetry(): void {
    this.#retries[this.#slot(this.#bucket())]! += 1;
  }

  /** `canRetry()` and, if so, `recordRetry()`, in one step. Finagle's `tryWithdraw()`. */
  tryRetry(): boolean {
    if (!this.canRetry()) return false;
    this.recordRetry();
    return true;
  }

  stats(): RetryBudgetStats {
    const { requests, retries } = this.#counts(this.#bucket());
    const available = Math.max(0, Math.floor(this.#floor + this.ratio * requests - retries + EPSILON));
    return { requests, retries, available, ratio: this.ratio, minPerSecond: this.minPerSecond, windowMs: this.windowMs };
  }

  #bucket(): number {
    return Math.floor(this.#clock.now() / this.#bucketMs);
  }

  /** The ring slot of absolute bucket `b`, cleared when it last held an older bucket. */
  #slot(b: number): number {
    const i = ((b % (BUCKETS + 1)) + BUCKETS + 1) % (BUCKETS + 1);
    if (this.#stamp[i] !== b) {
      this.#stamp[i] = b;
      this.#requests[i] = 0;
      this.#retries[i] = 0;
    }
    return i;
  }

  #counts(current: number): { requests: number; retries: number } {
    let requests = 0;
    let retries = 0;
    for (let i = 0; i <= BUCKETS; i++) {
      const age = current - this.#stamp[i]!;
      if (!(age >= 0 && age <= BUCKETS)) continue;
      // Buckets current−9 … current lie inside (now − window, now]; bucket
      // current−10 straddles its start: its retries count, its requests do not.
      if (age < BUCKETS) requests += this.#requests[i]!;
      retries += this.#retries[i]!;
    }
    return { requests, retries };
  }
}

/** The key of the process-wide budget, used when `retry()` gets no `upstream`. */
export const PROCESS_WIDE = '*';

/**
 * Budgets keyed by upstream (`host:port`, a service name): every call to one
 * upstream shares its budget, so one failing dependency cannot spend the
 * retries of the others. Options apply when a key is first seen.
 */
export class RetryBudgetRegistry {
  readonly #budgets = new Map<string, RetryBudget>();
  readonly #defaults: RetryBudgetOptions | undefined;

  constructor(defaults?: RetryBudgetOptions) {
    if (defaults !== undefined) resolveRetryBudgetOptions(defaults, 'RetryBudgetRegistry');
    this.#defaults = defaults;
  }

  /** The budget of `key` (created with `options` on first use); no key: the process-wide budget. */
  budgetFor(key: string = PROCESS_WIDE, options?: RetryBudgetOptions): RetryBudget {
    validateString(key, 'key');
    let budget = this.#budgets.get(key);
    if (budget === undefined) {
      budget = new RetryBudget({ ...this.#defaults, ...options });
      this.#budgets.set(key, budget);
    }
    return budget;
  }

  has(key: string): boolean {
    return this.#budgets.has(key);
  }

  delete(key: string): boolean {
    return this.#budgets.delete(key);
  }

  clear(): void {
    this.#budgets.clear();
  }
}

const defaultRegistry = new RetryBudgetRegistry();

/**
 * The shared budget for an upstream in the default registry; without a key,
 * the process-wide budget.
 * @example
 * await retry(call, { budget: budgetFor('api.internal:443') });
 */
export function budgetFor(key?: string, options?: RetryBudgetOptions): RetryBudget {
  return defaultRegistry.budgetFor(key, options);
}
