import { BreakwaterError, Deadline, publisher, sleep, validateFunction } from '@breakwater/core';
import pRetry from 'p-retry';
import { createBackoff } from './backoff/createBackoff.js';
import { type ResolvedRetryOptions, type RetryOptions, resolveRetryOptions } from './defaults.js';
import { isRetryable, NEVER_RETRIED, retryAfterMsOf } from './isRetryable.js';
import { budgetFor, type RetryBudget } from './RetryBudget.js';

const publish = publisher('retry');

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

/** Why `retry()` stopped without a success; published on `breakwater:retry:gaveUp`. */
export type GaveUpReason = 'attempts' | 'notRetryable' | 'budget' | 'deadline' | 'retryAfter' | 'aborted';

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
  const state = { attempts: 0, retryDelayMs: 0, lastError: undefined as unknown, attemptTimedOut: false };
  try {
    if (scope.expired) throw scope.signal.reason;
    // A request that is itself a retry is retry traffic, not new demand: it is
    // charged to this tier's budget as a retry, so the retries leaving any tier
    // stay within its budget wherever they started (FM-11).
    if (!o.incomingIsRetry) budget.recordRequest();
    else if (!budget.tryRetry()) throw budgetError(o.upstream, budget, undefined, 'forwarding a retried request');
    const backoff = createBackoff({ jitter: o.jitter, baseDelayMs: o.baseDelayMs, maxDelayMs: o.maxDelayMs, random: o.random });
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
        retries: (o.incomingIsRetry ? 1 : o.attempts) - 1,
        minTimeout: 0,
        factor: 1,
        randomize: false,
        onFailedAttempt: ({ retriesLeft }) => beforeRetry(o, budget, backoff, scope, state, retriesLeft),
      },
    );
    return { value, attempts: state.attempts, retryDelayMs: state.retryDelayMs };
  } catch (error) {
    throw annotate(error instanceof AttemptFailed ? state.lastError : error, state);
  } finally {
    scope.dispose();
  }
}

type State = { attempts: number; retryDelayMs: number; lastError: unknown; attemptTimedOut: boolean };

/** Decides whether to retry; returns after the backoff sleep, or throws the error to give up with. */
async function beforeRetry(
  o: ResolvedRetryOptions,
  budget: RetryBudget,
  backoff: ReturnType<typeof createBackoff>,
  scope: Deadline,
  state: State,
  retriesLeft: number,
): Promise<void> {
  const error = state.lastError;
  const giveUp = (reason: GaveUpReason, thrown: unknown = error): never => {
    publish('gaveUp', { upstream: o.upstream, reason, attempts: state.attempts, retryDelayMs: state.retryDelayMs, error });
    throw thrown;
  };
  if (scope.expired) giveUp('aborted', scope.signal.reason);
  if (retriesLeft <= 0) giveUp('attempts');
  const bw = error instanceof BreakwaterError ? error : undefined;
  if (bw !== undefined && NEVER_RETRIED.has(bw.code)) giveUp('notRetryable');
  // An attempt that hit its own time limit may have reached the peer: a request-phase failure.
  const verdict = state.attemptTimedOut ? o.idempotent : (o.retryOn?.(error, { attempt: state.attempts }) ?? isRetryable(error, { idempotent: o.idempotent }));
  if (!verdict) giveUp('notRetryable');

  const retryAfterMs = retryAfterMsOf(error);
  if (retryAfterMs !== undefined && retryAfterMs > o.maxRetryAfterMs) giveUp('retryAfter');
  // The next attempt needs its time limit (or at least 1 ms) before the deadline.
  const available = scope.remainingMs() - Math.max(o.attemptTimeoutMs, 1);
  if (available < 0 || (retryAfterMs !== undefined && retryAfterMs > available)) giveUp('deadline');
  const delayMs = Math.max(backoff.next(available), Math.min(retryAfterMs ?? 0, available));

  if (!budget.tryRetry()) giveUp('budget', budgetError(o.upstream, budget, error));
  publish('retried', { upstream: o.upstream, attempt: state.attempts + 1, delayMs, error });
  if (delayMs === 0) return;
  const started = o.clock.now();
  try {
    await sleep(delayMs, { clock: o.clock, signal: scope.signal });
  } catch (reason) {
    state.retryDelayMs += o.clock.now() - started;
    giveUp('aborted', reason);
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
