import { CircuitBreaker } from '@breakwater/circuit';
import { BreakwaterError, Deadline } from '@breakwater/core';
import { isRetryable, retry } from '@breakwater/retry';
import type { ResolvedDriverOptions } from '../defaults.js';
import { isUnsent, outcomeError } from './outcome.js';

/**
 * Whether a pool-level statement may be sent again after it may have reached
 * the server: `{ sql | text, idempotent: true | false }` on the statement
 * decides; otherwise the pool's `isIdempotent` predicate; otherwise no.
 *
 * There is deliberately no "looks read-only" rule: `SELECT nextval('s')`,
 * `SELECT my_write_fn()`, `EXPLAIN ANALYZE UPDATE …`, `SELECT GET_LOCK(…)`,
 * `SELECT pg_advisory_lock(…)` and `SELECT … FOR UPDATE` all read like reads
 * and all change state (issue #15: a retried "read" advanced a sequence twice).
 * Statements that never reached the server (no connection could be opened or
 * borrowed) are retried whatever they are.
 */
export function isIdempotentStatement(statement: unknown, predicate?: (statement: unknown) => boolean): boolean {
  const s = statement as { idempotent?: unknown } | null;
  if (typeof s === 'object' && s !== null && typeof s.idempotent === 'boolean') return s.idempotent;
  if (predicate === undefined) return false;
  try {
    return predicate(statement) === true;
  } catch {
    // A predicate that fails cannot vouch for the statement.
    return false;
  }
}

/** One breaker and one retry policy per pool, i.e. per server. */
export interface CallPolicy {
  readonly breaker: CircuitBreaker;
  readonly options: ResolvedDriverOptions;
  readonly upstream: string;
}

export function callPolicy(options: ResolvedDriverOptions, scheme: string, where: { host: string; port: number }): CallPolicy {
  const upstream = `${scheme}://${where.host}:${where.port}`;
  // The breaker's own attempt limit is off: the query deadline is the one limit.
  const breaker = new CircuitBreaker(undefined, { ...options.preset.circuit, attemptTimeoutMs: 0, key: upstream });
  return { breaker, options, upstream };
}

/**
 * Runs `attempt` through the breaker, retried with the preset's retry section
 * and the upstream's retry budget, all within `timeoutMs`: any statement
 * after a failure that provably kept it from the server (see `markUnsent`),
 * an idempotent one after any retryable failure. A failure after a
 * non-idempotent statement was sent becomes an outcome-unknown error.
 * `attempt` must reject with classified errors and end its work when
 * `signal` aborts.
 */
export async function guardedCall<T>(
  policy: CallPolicy,
  idempotent: boolean,
  attempt: (signal: AbortSignal) => Promise<T>,
  timeoutMs = policy.options.queryTimeoutMs,
): Promise<T> {
  const { breaker, options: o, upstream } = policy;
  const deadline = timeoutMs === 0 ? undefined : Deadline.after(timeoutMs, { label: upstream });
  // No signal for the breaker: the attempt ends itself (and reports why) when `signal` aborts.
  let last: unknown;
  const once = (signal: AbortSignal) =>
    breaker
      .run(() => attempt(signal))
      .catch((err: unknown) => {
        last = err;
        throw err;
      });
  try {
    return await retry(({ signal }) => once(signal), {
      ...o.preset.retry,
      attemptTimeoutMs: 0,
      idempotent,
      upstream,
      retryOn: (error) => isRetryable(error, { idempotent: idempotent || isUnsent(error) }),
      ...(deadline === undefined ? {} : { deadline }),
    });
  } catch (err) {
    // The deadline ended the call: report the attempt's own timeout (it has the driver's error as cause).
    const ended = deadline?.expired === true && err instanceof BreakwaterError && err.code === 'BW_ERR_DEADLINE';
    if (!ended || last === undefined || last === err) throw outcomeError(err, idempotent);
    if (last instanceof BreakwaterError && last.code === 'BW_ERR_DEADLINE') throw outcomeError(last, idempotent);
    if (isUnsent(last)) throw err;
    throw outcomeError(new BreakwaterError('BW_ERR_DEADLINE', (err as Error).message, { cause: last, retryable: true, details: { upstream } }), idempotent);
  } finally {
    deadline?.dispose();
  }
}
