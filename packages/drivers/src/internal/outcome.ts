import { BreakwaterError } from '@breakwater/core';

/**
 * Errors raised before the statement or command was handed to a connection
 * (no connection could be opened or borrowed, the driver refused to write on
 * a dead one): nothing reached the server, so any statement may be sent again.
 */
const unsent = new WeakSet<object>();

export function markUnsent<T>(err: T): T {
  if (typeof err === 'object' && err !== null) unsent.add(err);
  return err;
}

export function isUnsent(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if (unsent.has(err)) return true;
  // A connect-phase failure never carried the statement, whoever raised it.
  return err instanceof BreakwaterError && (err.code.startsWith('BW_ERR_CONNECT_') || err.details.phase === 'connect');
}

// Connection-level failures after which the server may have run the statement.
const LOST = new Set(['BW_ERR_PEER_CLOSED', 'BW_ERR_PEER_RESET', 'BW_ERR_PEER_TIMEOUT', 'BW_ERR_STALLED', 'BW_ERR_NETWORK', 'BW_ERR_PEER_UNREACHABLE']);

const UNKNOWN_HINT =
  'The statement was sent and the connection was lost before its answer: the server may or may not have applied it. Check before running it again.';

/**
 * The error the caller sees for a statement that was sent and got no answer.
 * An idempotent statement keeps its classified error (it was, or may be,
 * retried). Any other one says its outcome is unknown: a lost connection
 * becomes `BW_ERR_OUTCOME_UNKNOWN` (cause: the classified error), a deadline
 * stays `BW_ERR_DEADLINE`; both carry `details.mayHaveApplied: true` and
 * `retryable: false`. SQL and Redis reply errors (a definite answer) pass
 * through unchanged.
 */
export function outcomeError(err: unknown, idempotent: boolean): unknown {
  if (idempotent || !(err instanceof BreakwaterError) || isUnsent(err)) return err;
  // Already decided: true (mapped before) or false (the server says it rolled the statement back).
  if (typeof err.details.mayHaveApplied === 'boolean') return err;
  const details = { ...err.details, mayHaveApplied: true };
  if (err.code === 'BW_ERR_DEADLINE') {
    return new BreakwaterError('BW_ERR_DEADLINE', err.message, {
      cause: err.cause,
      retryable: false,
      hint: `${err.hint} The statement may or may not have run on the server: check before running it again.`,
      details,
    });
  }
  if (!LOST.has(err.code)) return err;
  return new BreakwaterError('BW_ERR_OUTCOME_UNKNOWN', `${err.message} (after the statement was sent: it may or may not have been applied)`, {
    cause: err,
    hint: UNKNOWN_HINT,
    details: { ...details, lostWith: err.code },
  });
}
