import { BreakwaterError, type ClassifyContext, classify } from '@breakwater/core';

/**
 * Driver errors that are about the connection, by message: pg and ioredis
 * throw plain `Error`s without an errno for these.
 */
const MESSAGE_RULES: readonly { test: RegExp; code: 'BW_ERR_DEADLINE' | 'BW_ERR_PEER_CLOSED' | 'BW_ERR_CONNECT_TIMEOUT'; hint: string }[] = [
  {
    test: /^Query read timeout$|^Command timed out$/,
    code: 'BW_ERR_DEADLINE',
    hint: 'No answer within `queryTimeoutMs`: the server is frozen, overloaded or the path is gone; the connection is discarded.',
  },
  {
    test: /^Connection terminated unexpectedly$|^Connection is closed\.$/,
    code: 'BW_ERR_PEER_CLOSED',
    hint: 'The server closed the connection mid-exchange (restart, idle or session timeout, a proxy). Retry only if the statement was idempotent.',
  },
  {
    test: /connection timeout|timeout exceeded when trying to connect/,
    code: 'BW_ERR_CONNECT_TIMEOUT',
    hint: 'No connection in time: the server is unreachable, frozen, or the pool is exhausted.',
  },
];

// SQLSTATE class 57 / 08: the server ended the session, not the statement.
const PG_SESSION_ENDED = /^(57P0[1-5]|08\d{3})$/;

/** SQL and Redis reply errors are the application's; they pass through unchanged. */
function isServerReply(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; severity?: unknown };
  if (e.name === 'ReplyError') return true;
  return typeof e.severity === 'string' && typeof e.code === 'string' && !PG_SESSION_ENDED.test(e.code);
}

/**
 * Maps a pg or ioredis error to a BreakwaterError (original as `cause`);
 * errors the server sent about the query itself (SQL errors, Redis replies)
 * are returned unchanged, so callers keep matching on SQLSTATE.
 */
export function classifyDriverError(err: unknown, ctx: ClassifyContext & { driver: 'pg' | 'ioredis' }): unknown {
  if (err instanceof BreakwaterError || isServerReply(err)) return err;
  const { driver, ...where } = ctx;
  const message = err instanceof Error ? err.message : String(err);
  const sqlState = (err as { code?: unknown } | null)?.code;
  const rule =
    typeof sqlState === 'string' && PG_SESSION_ENDED.test(sqlState)
      ? { code: 'BW_ERR_PEER_CLOSED' as const, hint: 'PostgreSQL ended the session (idle_session_timeout, shutdown or admin command).' }
      : MESSAGE_RULES.find((r) => r.test.test(message));
  if (rule === undefined) return classify(err, where);
  const peer = where.host === undefined ? '' : ` (${where.host}${where.port === undefined ? '' : `:${where.port}`})`;
  return new BreakwaterError(rule.code, `${driver}${peer}: ${message}`, { cause: err, hint: rule.hint, details: { ...where, driver } });
}
