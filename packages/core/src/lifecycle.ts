import { msRule } from './rules.js';
import { validateOptionsObject } from './validate.js';

/**
 * The lifecycle every long-lived Breakwater object follows (HttpClient,
 * AckClient, AckServer, ConnectionPool, CircuitBreaker, CircuitRegistry…):
 *
 * - `close(options?)`: graceful. Stops taking new work, lets accepted work
 *   finish for at most `deadlineMs`, then tears the rest down; resolves when
 *   no socket and no timer is left. Idempotent.
 * - `destroy()`: immediate, where that differs from closing (something is in
 *   flight to cut short).
 * - `[Symbol.asyncDispose]()`: `close()`, for `await using`.
 *
 * Objects whose teardown is synchronous (a socket guard, a watchdog) have
 * `dispose()` and `[Symbol.dispose]` instead.
 */
export interface Closeable extends AsyncDisposable {
  close(options?: CloseOptions): Promise<void>;
}

/**
 * `close()`'s options. Breakwater's one name for a time limit from now is
 * `deadlineMs` (a number of ms); an already running `Deadline` object,
 * where a call accepts one, is passed as `deadline`.
 */
export interface CloseOptions {
  /**
   * Longest wait for accepted work to finish; then the rest is torn down as by `destroy()`.
   * Here 0 means "now" (as `destroy()`); in a per-request option such as the http client's
   * `deadlineMs`, 0 means "no limit" (every tunable's 0 = off), so pass a positive number
   * computed from a remaining budget, or a `Deadline`.
   */
  deadlineMs?: number;
}

/**
 * Checks `close()`'s argument: undefined or `{ deadlineMs }` with a whole
 * number of ms a timer can hold. Throws BW_ERR_INVALID_OPTION naming the key
 * (a misspelt `deadLineMs` would otherwise mean "no limit").
 * @returns the deadline in ms, undefined when none was given
 */
export function closeDeadlineMs(options: unknown, where = 'close()'): number | undefined {
  const o = validateOptionsObject<CloseOptions>(options, where, ['deadlineMs']);
  return o.deadlineMs === undefined ? undefined : msRule()(o.deadlineMs, 'deadlineMs');
}
