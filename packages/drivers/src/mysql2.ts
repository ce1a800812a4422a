import net from 'node:net';
import { channel } from '@breakwater/core';
import { harden } from '@breakwater/socket';
import mysql from 'mysql2';
import type { Pool, PoolOptions } from 'mysql2/promise';
import { type DriverOptions, resolveDriverOptions } from './defaults.js';
import { classifyDriverError } from './internal/classifyDriverError.js';
import { callPolicy, guardedCall, isIdempotentStatement } from './internal/guardedCall.js';
import { type CoreConnection, destroyHard, guardConnection, validate } from './internal/mysqlConnection.js';
import { markUnsent } from './internal/outcome.js';

export type { DriverOptions } from './defaults.js';
export { isIdempotentStatement } from './internal/guardedCall.js';

const clientError = channel('drivers', 'clientError');

type Callback = (err: unknown, ...results: unknown[]) => void;

interface CorePool {
  getConnection(callback: (err: unknown, connection?: CoreConnection) => void): void;
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
  on(event: 'connection' | 'release', listener: (connection: CoreConnection) => void): unknown;
  end(callback?: (err?: unknown) => void): unknown;
}

/**
 * A real mysql2 pool (the promise form; `.pool` is the callback form) whose
 * connections are hardened `net.Socket`s through mysql2's `stream` hook
 * (NODELAY, keepalive idle/interval/count, TCP_USER_TIMEOUT, stall watchdog;
 * mysql2 applies neither keepalive nor no-delay to a given stream), whose
 * idle connections are closed before the path's or the server's
 * `wait_timeout`, retired after the preset's max lifetime (with jitter) and
 * pinged before reuse after `validateAfterIdleMs`, whose statements give up
 * after `queryTimeoutMs`, whose statements are retried within that deadline
 * and the retry budget only when they cannot have run twice (no connection
 * could be had, or `{ sql, idempotent: true }` / the `isIdempotent` option),
 * behind one circuit breaker for the server, and whose connection-level
 * errors are BreakwaterErrors (SQL errors pass through; a statement lost
 * after it was sent fails with `BW_ERR_OUTCOME_UNKNOWN`). `end()` also
 * stops the breaker.
 *
 * @example
 * const pool = createMysqlPool({ host: 'db', user: 'app', database: 'app' }, { preset, serverIdleTimeoutMs: 28_800_000 });
 * const [rows] = await pool.query('SELECT 1 AS one');
 */
export function createMysqlPool(config: PoolOptions = {}, options: DriverOptions = {}): Pool {
  const o = resolveDriverOptions(options, 'createMysqlPool() options');
  const { pool: p } = o.preset;
  const where = { host: config.host ?? 'localhost', port: config.port ?? 3306 };
  const map = (err: unknown) => classifyDriverError(err, { ...where, driver: 'mysql2' });
  const stallTimeoutMs = o.queryTimeoutMs === 0 ? 0 : Math.max(o.socket.stallTimeoutMs ?? 0, o.queryTimeoutMs + 1_000);
  const socketOptions = { ...o.socket, stallTimeoutMs };
  // mysql2 sweeps idle connections once a second, and only with maxIdle below
  // connectionLimit: the sweep second is taken off the idle limit.
  const connectionLimit = config.connectionLimit ?? p.max;
  const core = mysql.createPool({
    connectionLimit,
    maxIdle: Math.max(0, connectionLimit - 1),
    idleTimeout: Math.max(0, o.idleTimeoutMs - 1_000),
    connectTimeout: o.socket.connectTimeoutMs ?? 3_000,
    ...config,
    enableKeepAlive: false,
    stream: ({ config: c }: { config: { host?: string; port?: number; socketPath?: string } }) =>
      c.socketPath ? net.connect(c.socketPath) : harden(net.connect(c.port ?? 3306, c.host ?? 'localhost'), socketOptions).socket,
  }) as unknown as CorePool & { promise(): Pool };

  const retireAt = new WeakMap<CoreConnection, number>();
  core.on('connection', (connection) => {
    retireAt.set(connection, performance.now() + p.maxLifetimeMs * (1 - p.maxLifetimeJitterRatio * Math.random()));
    guardConnection(connection, o.queryTimeoutMs, where, map, o.isIdempotent);
    // mysql2 listens once; a second error (or one after release) must not be uncaught.
    connection.on('error', (err) => {
      if (clientError.hasSubscribers) clientError.publish({ error: map(err) });
    });
  });
  core.on('release', (connection) => {
    if (performance.now() >= (retireAt.get(connection) ?? Number.POSITIVE_INFINITY)) connection.destroy();
  });

  // Validation before reuse: a connection idle longer than validateAfterIdleMs is pinged first;
  // a dead one is destroyed and the next one taken.
  const getConnection = core.getConnection.bind(core);
  core.getConnection = (callback) => {
    const take = (left: number) =>
      getConnection((err, connection) => {
        if (err || connection === undefined) return callback(map(err));
        const idleMs = Date.now() - (connection.lastActiveTime ?? Date.now());
        if (idleMs < p.validateAfterIdleMs) return callback(null, connection);
        validate(connection, p.validationTimeoutMs, (invalid) => {
          if (invalid === undefined) return callback(null, connection);
          if (left > 0) return take(left - 1);
          callback(map(invalid));
        });
      });
    take(connectionLimit);
  };

  const policy = callPolicy(o, 'mysql', where);

  /** One attempt on one pooled connection, ended by `signal` (the connection is then destroyed). */
  const attempt = (method: 'query' | 'execute', args: unknown[], signal: AbortSignal) =>
    new Promise<unknown[]>((resolve, reject) => {
      let connection: CoreConnection | undefined;
      let settled = false;
      const settle = (err: unknown, results: unknown[] = []) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) reject(map(err));
        else resolve(results);
      };
      const onAbort = () => {
        if (connection === undefined) return settle(markUnsent(signal.reason));
        destroyHard(connection);
        settle(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      core.getConnection((err, c) => {
        // No connection: the statement never left.
        if (err || c === undefined) return settle(markUnsent(map(err)));
        if (settled) return c.release();
        connection = c;
        c[method](...args, (err: unknown, ...results: unknown[]) => {
          if (!(err as { fatal?: unknown } | null)?.fatal) c.release();
          settle(err, results);
        });
      });
    });

  const run = (method: 'query' | 'execute', args: unknown[], callback: Callback) => {
    guardedCall(policy, isIdempotentStatement(args[0], o.isIdempotent), (signal) => attempt(method, args, signal)).then(
      (results) => callback(null, ...results),
      (err: unknown) => callback(map(err)),
    );
  };

  for (const method of ['query', 'execute'] as const) {
    const original = core[method].bind(core);
    core[method] = (...args: unknown[]): unknown => {
      const callback = args.at(-1);
      // The streaming form (no callback) returns mysql2's command object: passed through.
      if (typeof callback !== 'function') return original(...args);
      run(method, args.slice(0, -1), callback as Callback);
      return undefined;
    };
  }
  // The breaker's timers end with the pool (the promise form's end() calls this one).
  const end = core.end.bind(core);
  core.end = (callback) => {
    void policy.breaker.close();
    return end(callback);
  };
  return core.promise();
}
