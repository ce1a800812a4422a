import type net from 'node:net';
import { BreakwaterError } from '@breakwater/core';
import { isIdempotentStatement } from './guardedCall.js';
import { outcomeError } from './outcome.js';

/** The parts of mysql2's callback-style `PoolConnection` used here (some are untyped internals). */
export interface CoreConnection {
  query(...args: unknown[]): unknown;
  execute(...args: unknown[]): unknown;
  ping(callback: (err: unknown) => void): unknown;
  release(): void;
  destroy(): void;
  on(event: 'error', listener: (err: unknown) => void): unknown;
  readonly stream: net.Socket;
  /** `Date.now()` of the last release (mysql2 internal, 3.x). */
  readonly lastActiveTime?: number;
}

type Callback = (err: unknown, ...results: unknown[]) => void;
type Map = (err: unknown) => unknown;

/**
 * Closes a connection at once: mysql2's `destroy()` only half-closes
 * (`stream.end()`), which on a frozen or blackholed server leaves the socket
 * and its retransmissions behind.
 */
export function destroyHard(connection: CoreConnection): void {
  connection.destroy();
  connection.stream.destroy();
}

export function deadlineError(ms: number, where: { host: string; port: number }, what: string): BreakwaterError {
  return new BreakwaterError('BW_ERR_DEADLINE', `mysql2 (${where.host}:${where.port}): ${what} got no answer within ${ms} ms`, {
    retryable: true,
    hint: 'No answer within `queryTimeoutMs`: the server is frozen, overloaded or the path is gone; the connection was discarded.',
    details: { ...where, driver: 'mysql2', timeoutMs: ms },
  });
}

/**
 * Gives `query`/`execute` with a callback a deadline (the connection is
 * destroyed when it passes: its answer can no longer be matched to a
 * command) and classified errors; a statement that is not idempotent and
 * lost its connection says that its outcome is unknown. Streaming forms (no
 * callback) pass through.
 */
export function guardConnection(
  connection: CoreConnection,
  timeoutMs: number,
  where: { host: string; port: number },
  map: Map,
  predicate?: (statement: unknown) => boolean,
): void {
  for (const method of ['query', 'execute'] as const) {
    const original = connection[method].bind(connection);
    connection[method] = (...args: unknown[]): unknown => {
      const callback = args.at(-1);
      if (typeof callback !== 'function') return original(...args);
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const idempotent = isIdempotentStatement(args[0], predicate);
      const settle: Callback = (err, ...results) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        (callback as Callback)(err ? outcomeError(map(err), idempotent) : err, ...results);
      };
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          destroyHard(connection);
          settle(deadlineError(timeoutMs, where, method));
        }, timeoutMs);
      }
      return original(...args.slice(0, -1), settle);
    };
  }
}

/**
 * Pings `connection` within `timeoutMs`; calls back with the error (the
 * connection then destroyed) or nothing.
 */
export function validate(connection: CoreConnection, timeoutMs: number, callback: (err?: unknown) => void): void {
  let settled = false;
  const settle = (err?: unknown) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    if (err !== undefined && err !== null) destroyHard(connection);
    callback(err ?? undefined);
  };
  const timer = setTimeout(() => settle(new Error('Query inactivity timeout')), timeoutMs);
  try {
    connection.ping((err) => settle(err));
  } catch (error) {
    settle(error);
  }
}
