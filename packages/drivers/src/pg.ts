import net from 'node:net';
import { BreakwaterError, channel } from '@breakwater/core';
import { harden } from '@breakwater/socket';
import pg from 'pg';
import { type DriverOptions, resolveDriverOptions } from './defaults.js';
import { classifyDriverError } from './internal/classifyDriverError.js';
import { callPolicy, guardedCall, isIdempotentStatement } from './internal/guardedCall.js';
import { isUnsent, markUnsent, outcomeError } from './internal/outcome.js';
import { callTimeoutMs, makeQuery, validateIdempotent } from './internal/pgQuery.js';

export type { DriverOptions } from './defaults.js';
export type { PgCallOptions } from './internal/pgQuery.js';

declare module 'pg' {
  /** Per-call options of `@breakwater/drivers/pg` (ignored by plain pg). */
  interface QueryConfig {
    /** This statement's deadline, in ms (client-side and `statement_timeout`); 0: none (migrations). @defaultValue the pool's `queryTimeoutMs` */
    queryTimeoutMs?: number;
    /** Safe to run twice: retried after a connection-level failure even if it may have reached the server. @defaultValue false */
    idempotent?: boolean;
  }
}

const idleClientError = channel('drivers', 'idleClientError');
const clientError = channel('drivers', 'clientError');

type Rethrow = (err: unknown) => unknown;
type Callback = (err: unknown, res?: unknown) => void;

// pg refuses to write on a client that is closed or already failed: the statement never left.
const NOT_SENT = /^Client (?:has encountered a connection error and is|was closed and is) not queryable$/;

interface Settings {
  readonly queryTimeoutMs: number;
  readonly transactionPooling: boolean;
  readonly isIdempotent: ((statement: unknown) => boolean) | undefined;
}

/** Sends `args` on `client` as one TimedQuery; rejects with classified errors (marked unsent when pg refused to write). */
function send(client: pg.ClientBase, args: readonly unknown[], timeoutMs: number, s: Settings, map: Rethrow): Promise<pg.QueryResult> {
  // pg < 8.11 has no getTransactionStatus(): assume a transaction, so the setting is always sent (also for 0).
  const status = (client as unknown as { getTransactionStatus?: () => string | null }).getTransactionStatus?.() ?? 'T';
  const inTransaction = status === 'T' || status === 'E';
  const query = makeQuery(args, timeoutMs, inTransaction, s.transactionPooling);
  return new Promise((resolve, reject) => {
    (client.query as (q: unknown, cb: Callback) => void)(query, (err, res) => {
      if (!err) return resolve(res as pg.QueryResult);
      const mapped = map(err);
      reject(err instanceof Error && NOT_SENT.test(err.message) ? markUnsent(mapped) : mapped);
    });
  });
}

/**
 * Replaces `target.query` (promise and callback forms): statements go out as
 * TimedQuery objects with their own deadline, errors come back classified.
 * Submittables (cursors, streams) are passed through: they report errors on
 * themselves. `run` decides how a statement is sent (pool: borrow, breaker,
 * retry; client: send as is).
 */
function wrapQuery(target: { query: unknown }, run: (args: unknown[]) => Promise<unknown>): void {
  const original = (target.query as (...args: unknown[]) => unknown).bind(target);
  (target as { query: unknown }).query = (...args: unknown[]): unknown => {
    if (typeof (args[0] as { submit?: unknown } | null)?.submit === 'function') return original(...args);
    const last = args.at(-1);
    const given = typeof last === 'function' ? args.slice(0, -1) : args;
    let pending: Promise<unknown>;
    try {
      validateIdempotent(given[0]);
      pending = run(given);
    } catch (error) {
      pending = Promise.reject(error);
    }
    if (typeof last !== 'function') return pending;
    pending.then(
      (res) => (last as Callback)(undefined, res),
      (err: unknown) => (last as Callback)(err),
    );
    return undefined;
  };
}

/**
 * A real `pg.Pool` whose connections are hardened `net.Socket`s (NODELAY,
 * keepalive idle/interval/count, TCP_USER_TIMEOUT, stall watchdog), whose
 * idle connections are closed before the path or the server would
 * (`idle_session_timeout`), whose statements each get a deadline
 * (`queryTimeoutMs`, per call `{ text, queryTimeoutMs }`: client-side and a
 * `statement_timeout` for that statement only, nothing on the session, so
 * it works behind PgBouncer in transaction mode), and whose connection-level
 * errors are BreakwaterErrors (the pg error as `cause`; SQL errors pass
 * through unchanged).
 *
 * `pool.query()` is retried only when the statement cannot have run twice:
 * it never reached the server (no connection could be opened or borrowed),
 * or it is marked `{ idempotent: true }` (or the `isIdempotent` option says
 * so). Otherwise a connection lost after sending it fails with
 * `BW_ERR_OUTCOME_UNKNOWN` (`details.mayHaveApplied: true`).
 *
 * A client killed by the server no longer crashes a process that has no
 * `'error'` listener: the error is published on
 * `breakwater:drivers:idleClientError` (idle in the pool) or
 * `breakwater:drivers:clientError` (any client, also one the pool already
 * let go) and the client is dropped. `pool.end()` also stops the pool's
 * circuit breaker.
 *
 * @example
 * const pool = createPgPool({ host: 'db', database: 'app' }, { preset, serverIdleTimeoutMs: 300_000 });
 * const { rows } = await pool.query({ text: 'SELECT name FROM users WHERE id = $1', values: [id], idempotent: true });
 */
export function createPgPool(config: pg.PoolConfig = {}, options: DriverOptions = {}): pg.Pool {
  const o = resolveDriverOptions(options, 'createPgPool() options');
  const { pool: p } = o.preset;
  // The stall watchdog backs up the deadline; it must never cut a query the deadline still allows.
  const stallTimeoutMs = o.queryTimeoutMs === 0 ? 0 : Math.max(o.socket.stallTimeoutMs ?? 0, o.queryTimeoutMs + 1_000);
  const socketOptions = { ...o.socket, stallTimeoutMs };
  // No statement_timeout (nor query_timeout) on the session: PgBouncer in transaction mode refuses
  // unknown startup parameters, and a per-query deadline replaces both.
  const pool = new pg.Pool({
    max: p.max,
    idleTimeoutMillis: o.idleTimeoutMs,
    connectionTimeoutMillis: p.acquireTimeoutMs,
    maxLifetimeSeconds: Math.max(1, Math.floor(p.maxLifetimeMs / 1_000)),
    ...config,
    // Keepalive comes from harden(); pg's own would reset its idle to the kernel's 2 h probes.
    keepAlive: false,
    stream: () => harden(new net.Socket(), socketOptions).socket,
  });
  const where = { host: config.host ?? 'localhost', ...(config.port === undefined ? {} : { port: config.port }) };
  const map: Rethrow = (err) => classifyDriverError(err, { ...where, driver: 'pg' });
  const settings: Settings = { queryTimeoutMs: o.queryTimeoutMs, transactionPooling: o.transactionPooling, isIdempotent: o.isIdempotent };
  const policy = callPolicy(o, 'postgres', { host: where.host, port: config.port ?? 5432 });
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;

  /** One attempt: borrow a client (a failure there never sent anything), send, release; `signal` ends it. */
  const attempt = (args: unknown[], timeoutMs: number, signal: AbortSignal) =>
    new Promise<unknown>((resolve, reject) => {
      let client: pg.PoolClient | undefined;
      let settled = false;
      const finish = (err: unknown, res?: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err === undefined) resolve(res);
        else reject(err);
      };
      const onAbort = () => {
        const timedOut = new BreakwaterError('BW_ERR_DEADLINE', `pg (${policy.upstream}): no answer within ${timeoutMs} ms`, {
          cause: signal.reason,
          hint: 'No answer within `queryTimeoutMs`: the server is frozen, overloaded or the path is gone; the connection was discarded.',
          details: { ...where, driver: 'pg', timeoutMs },
        });
        if (client === undefined) return finish(markUnsent(timedOut));
        // Its answer can no longer be matched to a caller: the connection goes.
        (client as unknown as { connection?: { stream?: net.Socket } }).connection?.stream?.destroy();
        client.release(timedOut);
        client = undefined;
        finish(timedOut);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      connect().then(
        (c) => {
          if (settled) return c.release();
          client = c;
          send(c, args, timeoutMs, settings, map).then(
            (res) => {
              if (client === c) c.release();
              client = undefined;
              finish(undefined, res);
            },
            (err: unknown) => {
              // A SQL error (or our statement_timeout, answered by the server) leaves the connection usable;
              // anything else (client-side timeout, lost connection) discards it.
              const usable = !(err instanceof BreakwaterError || isUnsent(err)) || (err as BreakwaterError).details.serverCancelled === true;
              if (client === c) c.release(usable ? undefined : (err as Error));
              client = undefined;
              finish(err);
            },
          );
        },
        (err: unknown) => finish(markUnsent(map(err))),
      );
    });

  wrapQuery(pool, (args) => {
    const timeoutMs = callTimeoutMs(args[0], o.queryTimeoutMs);
    const idempotent = isIdempotentStatement(args[0], o.isIdempotent);
    return guardedCall(policy, idempotent, (signal) => attempt(args, timeoutMs, signal), timeoutMs);
  });
  pool.on('connect', (client) => {
    // Statements on a checked-out client (transactions) get their deadline and typed errors, never a retry.
    wrapQuery(client, (args) => {
      const timeoutMs = callTimeoutMs(args[0], o.queryTimeoutMs);
      const idempotent = isIdempotentStatement(args[0], o.isIdempotent);
      return send(client, args, timeoutMs, settings, map).catch((err: unknown) => Promise.reject(outcomeError(err, idempotent)));
    });
    // A client the pool already let go (a timed-out query makes pg end it)
    // has no listener left; the server's later FATAL (shutdown, restart,
    // idle kill) must not become an uncaught exception.
    client.on('error', (err) => {
      if (clientError.hasSubscribers) clientError.publish({ error: map(err) });
    });
  });
  pool.on('error', (err) => {
    if (idleClientError.hasSubscribers) idleClientError.publish({ error: map(err) });
  });
  // The breaker's timers end with the pool.
  const end = pool.end.bind(pool) as (cb?: () => void) => Promise<void> | undefined;
  (pool as { end: unknown }).end = (cb?: () => void) => {
    void policy.breaker.close();
    return end(cb);
  };
  return pool;
}
