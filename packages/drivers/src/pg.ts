import net from 'node:net';
import { channel } from '@breakwater/core';
import { harden } from '@breakwater/socket';
import pg from 'pg';
import { type DriverOptions, resolveDriverOptions } from './defaults.js';
import { classifyDriverError } from './internal/classifyDriverError.js';
import { type CallPolicy, callPolicy, guardedCall, isIdempotentStatement } from './internal/guardedCall.js';

export type { DriverOptions } from './defaults.js';

const idleClientError = channel('drivers', 'idleClientError');
const clientError = channel('drivers', 'clientError');

type Rethrow = (err: unknown) => unknown;

/**
 * Rethrows classified errors from `query` (promise and callback forms) while
 * returning pg's own result objects. Submittables (cursors, streams) are
 * passed through: they report errors on themselves. With a `policy` (the
 * pool's own `query`: each call its own client, never in a transaction) the
 * call goes through the breaker and reads are retried within the deadline.
 */
function wrapQuery<T extends { query: (...args: never[]) => unknown }>(target: T, map: Rethrow, policy?: CallPolicy): void {
  const original = target.query.bind(target) as (...args: unknown[]) => unknown;
  const once = (args: unknown[]) =>
    (original(...args) as Promise<unknown>).catch((err: unknown) => {
      throw map(err);
    });
  const call = (args: unknown[]) =>
    policy === undefined ? once(args) : guardedCall(policy, isIdempotentStatement(args[0]), () => once(args)).catch((err: unknown) => Promise.reject(map(err)));
  const query = (...args: unknown[]): unknown => {
    const last = args.at(-1);
    if (typeof (args[0] as { submit?: unknown } | null)?.submit === 'function') return original(...args);
    if (typeof last === 'function') {
      const callback = last as (err: unknown, res?: unknown) => void;
      call(args.slice(0, -1)).then(
        (res) => callback(undefined, res),
        (err: unknown) => callback(err),
      );
      return undefined;
    }
    return call(args);
  };
  (target as { query: unknown }).query = query;
}

/**
 * A real `pg.Pool` whose connections are hardened `net.Socket`s (NODELAY,
 * keepalive idle/interval/count, TCP_USER_TIMEOUT, stall watchdog), whose
 * idle connections are closed before the path or the server would
 * (`idle_session_timeout`), whose queries give up after `queryTimeoutMs`,
 * and whose connection-level errors are BreakwaterErrors (the pg error as
 * `cause`; SQL errors pass through unchanged).
 *
 * A client killed by the server no longer crashes a process that has no
 * `'error'` listener: the error is published on
 * `breakwater:drivers:idleClientError` (idle in the pool) or
 * `breakwater:drivers:clientError` (any client, also one the pool already
 * let go) and the client is dropped.
 *
 * @example
 * const pool = createPgPool({ host: 'db', database: 'app' }, { preset, serverIdleTimeoutMs: 300_000 });
 * const { rows } = await pool.query('SELECT 1 AS one');
 */
export function createPgPool(config: pg.PoolConfig = {}, options: DriverOptions = {}): pg.Pool {
  const o = resolveDriverOptions(options, 'createPgPool() options');
  const { pool: p } = o.preset;
  // The stall watchdog backs up query_timeout; it must never cut a query the timeout still allows.
  const stallTimeoutMs = o.queryTimeoutMs === 0 ? 0 : Math.max(o.socket.stallTimeoutMs ?? 0, o.queryTimeoutMs + 1_000);
  const socketOptions = { ...o.socket, stallTimeoutMs };
  const timeouts = o.queryTimeoutMs === 0 ? {} : { query_timeout: o.queryTimeoutMs, statement_timeout: o.queryTimeoutMs };
  const pool = new pg.Pool({
    max: p.max,
    idleTimeoutMillis: o.idleTimeoutMs,
    connectionTimeoutMillis: p.acquireTimeoutMs,
    maxLifetimeSeconds: Math.max(1, Math.floor(p.maxLifetimeMs / 1_000)),
    ...timeouts,
    ...config,
    // Keepalive comes from harden(); pg's own would reset its idle to the kernel's 2 h probes.
    keepAlive: false,
    stream: () => harden(new net.Socket(), socketOptions).socket,
  });
  const where = { host: config.host ?? 'localhost', ...(config.port === undefined ? {} : { port: config.port }) };
  const map: Rethrow = (err) => classifyDriverError(err, { ...where, driver: 'pg' });
  wrapQuery(pool, map, callPolicy(o, 'postgres', { host: where.host, port: config.port ?? 5432 }));
  pool.on('connect', (client) => {
    wrapQuery(client, map);
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
  return pool;
}
