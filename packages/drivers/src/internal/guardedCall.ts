import { CircuitBreaker } from '@breakwater/circuit';
import { BreakwaterError, Deadline } from '@breakwater/core';
import { retry } from '@breakwater/retry';
import type { ResolvedDriverOptions } from '../defaults.js';

// Statements that only read: retried after a connection-level failure. Locking
// reads and SELECT … INTO are not, nor anything with a second statement.
const READ = /^\s*(?:\/\*[\s\S]*?\*\/\s*)*(?:SELECT|SHOW|DESCRIBE|DESC|EXPLAIN)\b/i;
const NOT_READ = /\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY\s+UPDATE|KEY\s+SHARE)\b|\bLOCK\s+IN\s+SHARE\s+MODE\b|\bINTO\b|;\s*\S/i;

/**
 * Whether a pool-level statement may be sent again after a connection-level
 * failure: `{ sql | text, idempotent: true | false }` decides; otherwise plain
 * reads are. Pool-level statements each take their own connection, so none
 * runs inside a transaction (those use a checked-out connection and are never
 * retried).
 */
export function isIdempotentStatement(statement: unknown): boolean {
  const s = statement as { idempotent?: unknown; sql?: unknown; text?: unknown } | null;
  if (typeof s?.idempotent === 'boolean') return s.idempotent;
  const sql = typeof statement === 'string' ? statement : (s?.sql ?? s?.text);
  return typeof sql === 'string' && READ.test(sql) && !NOT_READ.test(sql);
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
 * Runs `attempt` through the breaker, retried (reads only) with the preset's
 * retry section and the upstream's retry budget, all within `queryTimeoutMs`.
 * `attempt` must reject with classified errors (the retry decision reads them)
 * and end its work when `signal` aborts.
 */
export async function guardedCall<T>(policy: CallPolicy, idempotent: boolean, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const { breaker, options: o, upstream } = policy;
  const deadline = o.queryTimeoutMs === 0 ? undefined : Deadline.after(o.queryTimeoutMs, { label: upstream });
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
    if (!idempotent) return await once(deadline?.signal ?? new AbortController().signal);
    return await retry(({ signal }) => once(signal), {
      ...o.preset.retry,
      attemptTimeoutMs: 0,
      idempotent: true,
      upstream,
      ...(deadline === undefined ? {} : { deadline }),
    });
  } catch (err) {
    // The deadline ended the call: report the attempt's own timeout (it has the driver's error as cause).
    const ended = deadline?.expired === true && err instanceof BreakwaterError && err.code === 'BW_ERR_DEADLINE';
    if (!ended || last === undefined || last === err) throw err;
    if (last instanceof BreakwaterError && last.code === 'BW_ERR_DEADLINE') throw last;
    throw new BreakwaterError('BW_ERR_DEADLINE', (err as Error).message, { cause: last, retryable: true, details: { upstream } });
  } finally {
    deadline?.dispose();
  }
}
