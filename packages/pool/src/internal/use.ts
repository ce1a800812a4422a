import type net from 'node:net';
import { BreakwaterError, type Clock, Deadline, msRule, validateFunction, validateOptionsObject, validateSignal } from '@breakwater/core';
import { entryOf } from './Entry.js';
import { isConnectionLevel } from './Health.js';

/** `use()`'s second argument: the caller's signal, or these options. */
export interface UseOptions {
  /** Cancels the acquire and aborts the signal handed to `fn`. */
  signal?: AbortSignal;
  /** Time for the whole use, acquire included; then `fn`'s signal aborts with `BW_ERR_DEADLINE`. @defaultValue no limit */
  deadlineMs?: number;
  /** @deprecated Renamed `deadlineMs` (Breakwater's one name for a time limit); kept for one release. */
  timeoutMs?: number;
}

const USE_KEYS = ['signal', 'deadlineMs', 'timeoutMs'];

/** A function run with a borrowed connection and a signal to stop on. */
export type UseFn<T> = (conn: net.Socket, signal: AbortSignal) => T | Promise<T>;

interface Lender {
  acquire(signal?: AbortSignal): Promise<net.Socket>;
  release(conn: net.Socket, options?: { failed?: boolean; error?: unknown }): void;
  discard(conn: net.Socket): void;
}

/**
 * acquire → fn(conn, signal) → release. `signal` aborts when the caller's
 * signal does, when `deadlineMs` runs out, or when drain() gives up waiting
 * and destroys the connection (`BW_ERR_CLOSED`). A connection whose use was
 * aborted is destroyed, not returned: its protocol state is unknown (a reply
 * may still be on its way), and that is not the endpoint's fault.
 */
export async function useConnection<T>(pool: Lender, owner: object, clock: Clock, fn: UseFn<T>, options: AbortSignal | UseOptions = {}): Promise<T> {
  validateFunction(fn, 'fn');
  const given = options instanceof AbortSignal ? { signal: options } : validateOptionsObject<UseOptions>(options, 'use()', USE_KEYS);
  const parent = validateSignal(given.signal);
  if (given.deadlineMs !== undefined && given.timeoutMs !== undefined) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'use() got both `deadlineMs` and its deprecated alias `timeoutMs`', {
      details: { key: 'timeoutMs' },
      hint: 'Pass deadlineMs only.',
    });
  }
  const key = given.timeoutMs === undefined ? 'deadlineMs' : 'timeoutMs';
  const deadlineMs = given.deadlineMs ?? given.timeoutMs;
  if (deadlineMs !== undefined) msRule()(deadlineMs, key);
  const deadline = deadlineMs === undefined ? undefined : Deadline.after(deadlineMs, { clock, parent, label: 'pool.use()' });
  const outer = deadline?.signal ?? parent;
  try {
    const conn = await pool.acquire(outer);
    const controller = new AbortController();
    const onAbort = () => controller.abort(outer!.reason);
    outer?.addEventListener('abort', onAbort, { once: true });
    const entry = entryOf(conn)!;
    entry.abortUse = (reason) => controller.abort(reason);
    let result: T;
    try {
      result = await fn(conn, controller.signal);
    } catch (error) {
      settle(pool, conn, owner, controller.signal, true, error);
      throw error;
    } finally {
      outer?.removeEventListener('abort', onAbort);
      entry.abortUse = undefined;
    }
    settle(pool, conn, owner, controller.signal, false);
    return result;
  } finally {
    deadline?.dispose();
  }
}

function settle(pool: Lender, conn: net.Socket, owner: object, signal: AbortSignal, threw: boolean, error?: unknown): void {
  const entry = entryOf(conn);
  // fn may have released or discarded it itself, or close() may have.
  if (entry === undefined || entry.owner !== owner || entry.state !== 'borrowed') return;
  if (signal.aborted) pool.discard(conn);
  else if (threw && isConnectionLevel(error)) pool.release(conn, { failed: true, error });
  else pool.release(conn);
}
