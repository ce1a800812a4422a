import { BreakwaterError, Deadline, validateFunction } from '@breakwater/core';
import pRetry from 'p-retry';
import { type ResolvedRetryOptions, type RetryOptions, resolveRetryOptions } from './defaults.js';
import { budgetFor, type RetryBudget } from './RetryBudget.js';
import { type RetryStrategy, strategyOf } from './RetryStrategy.js';

/** What `fn` receives on each attempt. */
export interface AttemptContext {
  /** 1 for the first attempt. */
  attempt: number;
  /** Aborts when the deadline, the caller or `attemptTimeoutMs` ends this attempt. */
  signal: AbortSignal;
  /** attempt > 1: set the retry marker (`markRetry(headers, attempt)`) on what you send. */
  isRetry: boolean;
}

/** A value with what it cost. */
export interface RetryResult<T> {
  value: T;
  /** Attempts made, the successful one included. */
  attempts: number;
  /** Total time slept between attempts, in ms. */
  retryDelayMs: number;
}

// Thrown to p-retry in place of the attempt's error. p-retry never retries a
// TypeError (nor anything thrown that is not an Error, which it turns into a
// TypeError and so loses); this carrier keeps the decision ours and the
// original error intact in `lastError`.
class AttemptFailed extends Error {}

/**
 * Runs `fn` until it succeeds, on p-retry, with what p-retry lacks for
 * network calls: a retry budget shared per upstream, jittered backoff bounded
 * by the deadline, idempotency-aware classification, `Retry-After`, and a
 * single attempt for requests that are already retries (FM-11).
 *
 * Errors keep their identity and gain `details.attempts` and
 * `details.retryDelayMs`; a budget refusal is BW_ERR_RETRY_BUDGET with the
 * last error as `cause`.
 *
 * @example
 * const user = await retry(({ signal, attempt, isRetry }) => getUser(id, { signal, headers: isRetry ? markRetry({}, attempt) : {} }),
 *   { upstream: 'users.internal:443', idempotent: true, deadline });
 */
export async function retry<T>(fn: (context: AttemptContext) => T | Promise<T>, options?: RetryOptions): Promise<T> {
  return (await retryWithStats(fn, options)).value;
}

/** {@link retry}, returning the value with `attempts` and `retryDelayMs`. */
export async function retryWithStats<T>(fn: (context: AttemptContext) => T | Promise<T>, options?: RetryOptions): Promise<RetryResult<T>> {
  validateFunction(fn, 'fn');
  const o = resolveRetryOptions(options);
  const budget = o.budget ?? budgetFor(o.upstream);
  const signals = [o.deadline?.signal, o.signal].filter((s): s is AbortSignal => s !== undefined);
  // Our own scope, so an attempt timeout or our sleep never touches the caller's deadline.
  const scope = Deadline.after(o.deadline?.remainingMs() ?? Number.POSITIVE_INFINITY, {
    clock: o.clock,
    ...(signals.length > 0 ? { parent: AbortSignal.any(signals) } : {}),
  });
  const strategy = strategyOf({
    jitter: o.jitter,
    baseDelayMs: o.baseDelayMs,
    maxDelayMs: o.maxDelayMs,
    attempts: o.attempts,
    maxRetryAfterMs: o.maxRetryAfterMs,
    idempotent: o.idempotent,
    attemptTimeoutMs: o.attemptTimeoutMs,
    clock: o.clock,
    random: o.random,
    source: 'retry',
  });
  const state: State = { attempts: 0, retryDelayMs: 0, lastError: undefined, lastDelayMs: undefined, attemptTimedOut: false };
  try {
    if (scope.expired) throw scope.signal.reason;
    // A request that is itself a retry is retry traffic, not new demand: it is
    // charged to this tier's budget as a retry, so the retries leaving any tier
    // stay within its budget wherever they started (FM-11).
    if (!strategy.admit(budget, { incomingIsRetry: o.incomingIsRetry, upstream: o.upstream })) {
      throw budgetError(o.upstream, budget, undefined, 'forwarding a retried request');
    }
    const value = await pRetry(
      async (attempt: number) => {
        if (scope.expired) {
          state.lastError = scope.signal.reason;
          throw new AttemptFailed();
        }
        state.attempts = attempt;
        const attemptScope = o.attemptTimeoutMs > 0 ? scope.child(o.attemptTimeoutMs, `attempt ${attempt}`) : scope;
        try {
          return await fn({ attempt, signal: attemptScope.signal, isRetry: attempt > 1 });
        } catch (error) {
          state.lastError = error;
          state.attemptTimedOut = attemptScope !== scope && attemptScope.expired && !scope.expired;
          throw new AttemptFailed();
        } finally {
          if (attemptScope !== scope) attemptScope.dispose();
        }
      },
      {
        // p-retry is the loop; the delay is ours: minTimeout 0 makes its own
        // timer a no-op, and we sleep on the injected clock in the awaited
        // onFailedAttempt. Its `signal` is not passed: p-retry would discard a
        // result that arrives as the deadline fires, and reject with the bare
        // reason; we check the scope ourselves.
        retries: strategy.maxAttempts(o.incomingIsRetry) - 1,
        minTimeout: 0,
        factor: 1,
        randomize: false,
        // The strategy counts attempts itself; p-retry's `retries` only keeps its loop in step.
        onFailedAttempt: () => beforeRetry(o, strategy, budget, scope, state),
      },
    );
    return { value, attempts: state.attempts, retryDelayMs: state.retryDelayMs };
  } catch (error) {
    throw annotate(error instanceof AttemptFailed ? state.lastError : error, state);
  } finally {
    scope.dispose();
  }
}

type State = { attempts: number; retryDelayMs: number; lastError: unknown; lastDelayMs: number | undefined; attemptTimedOut: boolean };

/** Asks the strategy; returns after the backoff sleep, or throws the error to give up with. */
async function beforeRetry(o: ResolvedRetryOptions, strategy: RetryStrategy, budget: RetryBudget, scope: Deadline, state: State): Promise<void> {
  const error = state.lastError;
  const decision = strategy.decide({
    attempt: state.attempts,
    error,
    timeLeftMs: scope.remainingMs(),
    budget,
    // An attempt that hit its own time limit may have reached the peer: a request-phase failure.
    retryable: state.attemptTimedOut ? o.idempotent : undefined,
    retryOn: o.retryOn,
    incomingIsRetry: o.incomingIsRetry,
    previousDelayMs: state.lastDelayMs,
    signal: o.signal,
    upstream: o.upstream,
    retryDelayMs: state.retryDelayMs,
  });
  if (!decision.retry) {
    if (decision.reason === 'budget') throw budgetError(o.upstream, budget, error);
    // An expired scope (the caller's deadline or signal) ends the operation with its reason; so does time
    // that is up before the deadline's timer fired (it fires within its tick).
    if (!scope.expired && scope.remainingMs() <= 0) await new Promise<never>((_, reject) => scope.onAbort(reject));
    throw scope.expired ? scope.signal.reason : error;
  }
  const { delayMs } = decision;
  state.lastDelayMs = delayMs;
  if (delayMs === 0) return;
  const started = o.clock.now();
  try {
    await strategy.sleep(delayMs, scope.signal);
    // A backoff clamped to the time left ends at the deadline's edge, and a timer may fire late: once the
    // time is up no attempt starts (it could not finish); the deadline's own timer fires within its tick.
    if (scope.remainingMs() <= 0) await new Promise<never>((_, reject) => scope.onAbort(reject));
  } catch (reason) {
    state.retryDelayMs += o.clock.now() - started;
    strategy.gaveUp(o.signal?.aborted === true ? 'aborted' : 'deadline', {
      attempts: state.attempts,
      upstream: o.upstream,
      retryDelayMs: state.retryDelayMs,
      error,
    });
    throw reason;
  }
  state.retryDelayMs += o.clock.now() - started;
}

function budgetError(upstream: string | undefined, budget: RetryBudget, cause: unknown, doing = 'retrying'): BreakwaterError {
  const stats = budget.stats();
  const where = upstream === undefined ? '' : ` for ${upstream}`;
  return new BreakwaterError(
    'BW_ERR_RETRY_BUDGET',
    `retry budget${where} exhausted ${doing}: ${stats.retries} retries for ${stats.requests} requests in ${stats.windowMs} ms`,
    {
      ...(cause === undefined ? {} : { cause }),
      details: { ...(upstream === undefined ? {} : { upstream }), requests: stats.requests, retries: stats.retries },
    },
  );
}

/**
 * Adds `attempts` and `retryDelayMs` to an error's `details` (smithy's
 * `$metadata` pattern), keeping its identity, code and stack. On errors that
 * are not BreakwaterErrors the property is non-enumerable.
 */
function annotate(error: unknown, state: State): unknown {
  if (typeof error !== 'object' || error === null || !Object.isExtensible(error)) return error;
  const previous = (error as { details?: unknown }).details;
  if (previous !== undefined && (typeof previous !== 'object' || previous === null)) return error;
  const details = Object.freeze({ ...(previous as object | undefined), attempts: state.attempts, retryDelayMs: state.retryDelayMs });
  Object.defineProperty(error, 'details', { value: details, writable: true, configurable: true });
  return error;
}
