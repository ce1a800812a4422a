import { BreakwaterError, type ClassifyContext, classify } from '@breakwater/core';

/**
 * Driver errors that are about the connection, by message: pg, ioredis and
 * mysql2 throw plain `Error`s without an errno for these.
 */
const MESSAGE_RULES: readonly { test: RegExp; code: 'BW_ERR_DEADLINE' | 'BW_ERR_PEER_CLOSED' | 'BW_ERR_CONNECT_TIMEOUT'; hint: string }[] = [
  {
    test: /^Query read timeout$|^Command timed out$|^Query inactivity timeout$/,
    code: 'BW_ERR_DEADLINE',
    hint: 'No answer within `queryTimeoutMs`: the server is frozen, overloaded or the path is gone; the connection is discarded.',
  },
  {
    test: /^Connection terminated unexpectedly$|^Connection is closed\.$|^Connection lost: The server closed the connection\.$|^Can't add new command when connection is in closed state$/,
    code: 'BW_ERR_PEER_CLOSED',
    hint: 'The server closed the connection mid-exchange (restart, idle or session timeout, a proxy). Retry only if the statement was idempotent.',
  },
  {
    test: /connection timeout|timeout exceeded when trying to connect|^connect ETIMEDOUT$/,
    code: 'BW_ERR_CONNECT_TIMEOUT',
    hint: 'No connection in time: the server is unreachable, frozen, or the pool is exhausted.',
  },
];

// SQLSTATE class 57 / 08: the server ended the session, not the statement.
const PG_SESSION_ENDED = /^(57P0[1-5]|08\d{3})$/;

// MySQL/MariaDB errors about the session, not the statement: 1040 too many
// connections, 1053 shutdown in progress, 1927 connection killed (MariaDB),
// 4031 idle client disconnected (MySQL 8 wait_timeout).
const MYSQL_SESSION_ENDED = new Set([1040, 1053, 1927, 4031]);

/** SQL and Redis reply errors are the application's; they pass through unchanged. */
function isServerReply(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; severity?: unknown; sqlState?: unknown; errno?: unknown };
  if (e.name === 'ReplyError') return true;
  if (typeof e.sqlState === 'string') return !(typeof e.errno === 'number' && MYSQL_SESSION_ENDED.has(e.errno));
  return typeof e.severity === 'string' && typeof e.code === 'string' && !PG_SESSION_ENDED.test(e.code);
}

/**
 * Maps a pg or ioredis error to a BreakwaterError (original as `cause`);
 * errors the server sent about the query itself (SQL errors, Redis replies)
 * are returned unchanged, so callers keep matching on SQLSTATE.
 */
export function classifyDriverError(err: unknown, ctx: ClassifyContext & { driver: 'pg' | 'ioredis' | 'mysql2' }): unknown {
  if (err instanceof BreakwaterError) return err;
  const { driver, ...where } = ctx;
  // Our own statement_timeout (queryTimeoutMs) fired on the server before the client-side deadline:
  // the same deadline, one code for both sides. PostgreSQL rolled the statement back.
  const e = err as { code?: unknown; severity?: unknown; message?: unknown } | null;
  if (driver === 'pg' && e?.code === '57014' && typeof e.severity === 'string' && /statement timeout/.test(String(e.message))) {
    return new BreakwaterError('BW_ERR_DEADLINE', `pg: ${String(e.message)}`, {
      cause: err,
      hint: 'PostgreSQL cancelled the statement at `queryTimeoutMs` (statement_timeout) and rolled it back; raise `queryTimeoutMs` for this statement (0: none) if it is expected to be slow.',
      details: { ...where, driver, mayHaveApplied: false, serverCancelled: true },
    });
  }
  if (isServerReply(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  const { code: sqlState, errno, sqlState: mysqlState } = (err ?? {}) as { code?: unknown; errno?: unknown; sqlState?: unknown };
  const rule =
    typeof sqlState === 'string' && PG_SESSION_ENDED.test(sqlState)
      ? { code: 'BW_ERR_PEER_CLOSED' as const, hint: 'PostgreSQL ended the session (idle_session_timeout, shutdown or admin command).' }
      : typeof mysqlState === 'string' && typeof errno === 'number' && MYSQL_SESSION_ENDED.has(errno)
        ? { code: 'BW_ERR_PEER_CLOSED' as const, hint: 'MySQL/MariaDB ended or refused the session (shutdown, KILL, wait_timeout, too many connections).' }
        : MESSAGE_RULES.find((r) => r.test.test(message));
  if (rule === undefined) return classify(err, where);
  const peer = where.host === undefined ? '' : ` (${where.host}${where.port === undefined ? '' : `:${where.port}`})`;
  return new BreakwaterError(rule.code, `${driver}${peer}: ${message}`, { cause: err, hint: rule.hint, details: { ...where, driver } });
}
