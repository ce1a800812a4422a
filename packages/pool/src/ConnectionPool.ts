import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { BreakwaterError, type Closeable, type CloseOptions, classify, closeDeadlineMs, validateSignal } from '@breakwater/core';
import type { ResolvedPoolOptions } from './defaults.js';
import { BorrowCheck } from './internal/BorrowCheck.js';
import { Borrowing } from './internal/Borrowing.js';
import { type Entry, entryOf } from './internal/Entry.js';
import { emitSafely } from './internal/emit.js';
import { closedError, exhaustedError } from './internal/errors.js';
import { Health } from './internal/Health.js';
import { Inventory } from './internal/Inventory.js';
import { captureStack, LeakDetector } from './internal/LeakDetector.js';
import { type UseFn, type UseOptions, useConnection } from './internal/use.js';
import type { Waiter } from './internal/Waiters.js';
import { type PoolEvents, type PoolStats, PoolStatsCounter } from './stats.js';

export type { UseFn, UseOptions };

export interface ReleaseOptions {
  /** The connection failed on real traffic: destroy it and count the failure towards passive health (FM-08). */
  failed?: boolean;
  /** What failed, for the `markedUnhealthy` event and the fast-fail error's `cause`. */
  error?: unknown;
}

/**
 * A pool of TCP connections on generic-pool that never hands out a dead one.
 * Create it with {@link createPool}; see the package README for the rules.
 */
export class ConnectionPool extends EventEmitter<PoolEvents> implements Closeable {
  readonly #o: ResolvedPoolOptions;
  readonly #close = new AbortController();
  readonly #counter = new PoolStatsCounter();
  readonly #health: Health;
  readonly #leaks: LeakDetector;
  readonly #borrowing: Borrowing;
  readonly #inv: Inventory;
  readonly #checks: BorrowCheck;
  readonly #where: string;
  #borrowed = 0;
  #lastConnectError: { error: BreakwaterError; at: number } | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  #onReturned: (() => void) | undefined;
  /** Ends close()'s wait for borrowed connections after `ms` (0: now); set while it waits (a later close() or destroy() calls it). */
  #cutWaitAfter: ((ms: number) => void) | undefined;

  constructor(options: ResolvedPoolOptions) {
    super();
    const o = options;
    this.#o = o;
    this.#where = o.connect === undefined ? `${o.host}:${o.port}` : 'the endpoint';
    const clock = o.clock;
    this.#leaks = new LeakDetector(clock, o.leakWarningMs, (entry, borrowedMs) => {
      this.#counter.leaked++;
      this.#emit('leaked', { conn: entry.socket, id: entry.id, borrowedMs, stack: entry.borrowStack?.stack ?? '' });
    });
    this.#health = new Health({
      clock,
      unhealthyAfterFailures: o.unhealthyAfterFailures,
      unhealthyForMs: o.unhealthyForMs,
      where: this.#where,
      onUnhealthy: (consecutiveFailures, error) => {
        this.#emit('markedUnhealthy', { consecutiveFailures, error });
        this.#inv.evictSoon();
      },
      onRecovered: () => this.#emit('recovered', {}),
    });
    this.#inv = new Inventory(
      o,
      {
        owner: this,
        signal: this.#close.signal,
        waiting: () => this.#borrowing.waiters.size,
        generation: () => this.#health.generation,
        closing: () => this.#closing,
        offer: (entry, now) => this.#borrowing.offer(entry, now),
        onConnectFailure: (error, attempt, retryInMs) => {
          this.#counter.connectFailures++;
          this.#lastConnectError = { error, at: clock.now() };
          this.#emit('connectFailed', { error, attempt, retryInMs });
          // One failed attempt answers one caller, as a direct connect would have.
          this.#borrowing.waiters.rejectOldest(error);
        },
        emit: (event, payload) => this.#emit(event, payload),
      },
      this.#counter,
    );
    this.#checks = new BorrowCheck(o, this.#inv, {
      signal: this.#close.signal,
      closing: () => this.#closing,
      lend: (entry, now, stack) => this.#lend(entry, now, stack),
      settled: () => this.#onReturned?.(),
    });
    this.#borrowing = new Borrowing(o, this.#inv, this.#checks, {
      closing: () => this.#closing,
      lend: (entry, now, stack) => this.#lend(entry, now, stack),
      timeoutError: (b) => this.#timedOut(b),
      trialFailed: (error, connectionLevel) => this.#health.trialFailed(error, connectionLevel),
    });
    // Opens `minIdle` connections.
    this.#inv.fill();
  }

  /**
   * Borrows a connection: an idle one that passes the checks, or a new one.
   * Rejects with `BW_ERR_POOL_EXHAUSTED` (timeout or too many waiting), the
   * connect error (`BW_ERR_CONNECT_*`, `BW_ERR_PORTS_EXHAUSTED`…),
   * `BW_ERR_CIRCUIT_OPEN` (endpoint unhealthy), `BW_ERR_ABORTED` or `BW_ERR_CLOSED`.
   */
  acquire(signal?: AbortSignal): Promise<net.Socket> {
    if (this.#closing) return Promise.reject(closedError());
    if (signal !== undefined) {
      try {
        validateSignal(signal);
      } catch (error) {
        return Promise.reject(error);
      }
      if (signal.aborted) return Promise.reject(classify(signal.reason));
    }
    let trial = false;
    if (!this.#health.healthy) {
      const verdict = this.#health.admit();
      if (verdict instanceof BreakwaterError) return Promise.reject(verdict);
      trial = verdict === 'trial';
    }
    const inv = this.#inv;
    if (this.#borrowing.waiters.size >= this.#o.maxWaiting && inv.idle.length === 0) return Promise.reject(this.#exhausted('maxWaiting'));
    const stack = this.#o.leakWarningMs > 0 ? captureStack(this.acquire) : undefined;
    const now = this.#o.clock.now();
    const entry = inv.takeIdle();
    // Fast path: an idle connection that passes the free checks: no waiter,
    // no timer, one promise (the caller's).
    if (entry !== undefined && !trial && this.#checks.passesFree(entry, now, now)) return Promise.resolve(this.#lend(entry, now, stack));
    return this.#borrowing.obtain(signal, trial, now, stack, entry);
  }

  /** Returns a borrowed connection; `{ failed: true }` destroys it and counts towards passive health. */
  release(conn: net.Socket, options?: ReleaseOptions): void {
    const entry = this.#takeLoan(conn, 'release');
    if (options?.failed === true) {
      this.#health.failure(entry.generation, options.error ?? new BreakwaterError('BW_ERR_NETWORK', 'released as failed'));
      this.#inv.discard(entry, 'failed');
      return;
    }
    // The exchange worked unless the connection died under it.
    if (!entry.dead) this.#health.success(entry.generation);
    const now = this.#o.clock.now();
    const reason = this.#closing ? 'drained' : entry.returnReason(now, this.#health.generation);
    if (reason !== undefined) {
      this.#inv.discard(entry, reason);
      return;
    }
    // The oldest waiting caller gets it now, checked at this same instant.
    this.#borrowing.offer(entry, now);
  }

  /** Closes the pool at once: like `close({ deadlineMs: 0 })` — waiting callers are rejected, borrowed connections destroyed. */
  destroy(): Promise<void>;
  /**
   * Destroys a borrowed connection (its state is unknown, say after a timeout mid-response).
   * @deprecated Use `discard(conn)`; `destroy()` without an argument closes the pool.
   */
  destroy(conn: net.Socket): void;
  destroy(conn?: net.Socket): Promise<void> | undefined {
    if (conn !== undefined) {
      this.#inv.discard(this.#takeLoan(conn, 'destroy'), 'destroyed');
      return undefined;
    }
    const closing = this.#shutdown(0);
    this.#cutWaitAfter?.(0);
    return closing;
  }

  /** Destroys a borrowed connection (its state is unknown, say after a timeout mid-response). */
  discard(conn: net.Socket): void {
    this.#inv.discard(this.#takeLoan(conn, 'discard'), 'destroyed');
  }

  /**
   * Borrows a connection for `fn(conn, signal)` and returns it afterwards. A
   * rejection that is connection-level (per `classify()`: reset, closed,
   * stalled…) destroys the connection and counts towards passive health; any
   * other rejection (an application error) returns it. The rejection is
   * rethrown. `signal` aborts when the caller's signal does, when
   * `deadlineMs` runs out (`BW_ERR_DEADLINE`), or when `close()` stops waiting
   * for this connection (`BW_ERR_CLOSED`); the connection of an aborted use
   * is destroyed, since its protocol state is unknown.
   */
  use<T>(fn: UseFn<T>, options?: AbortSignal | UseOptions): Promise<T> {
    return useConnection(this, this, this.#o.clock, fn, options);
  }

  stats(): PoolStats {
    const { connector } = this.#inv;
    return this.#counter.snapshot({
      size: this.#inv.size,
      idle: this.#inv.idle.length,
      borrowed: this.#borrowed,
      validating: this.#checks.validating,
      connecting: connector.inFlight,
      waiting: this.#borrowing.waiters.size,
      max: this.#o.max,
      healthy: this.#health.healthy,
      consecutiveFailures: this.#health.consecutiveFailures,
      connectAttempts: connector.attempts,
      draining: this.#closing,
    });
  }

  /**
   * Closes the pool gracefully: stops lending, rejects waiting callers with
   * `BW_ERR_CLOSED`, waits up to `deadlineMs` (default `drainTimeoutMs`) for
   * borrowed connections to come back, destroys the rest, and resolves when
   * every socket has closed and every timer is cleared. Calling it again
   * returns the same promise; a later `deadlineMs` (or `destroy()`) still cuts the wait short.
   */
  close(options?: CloseOptions): Promise<void> {
    let given: number | undefined;
    try {
      given = closeDeadlineMs(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const closing = this.#shutdown(given ?? this.#o.drainTimeoutMs);
    // A later close() with its own (shorter) deadline still cuts the wait short.
    if (given !== undefined) this.#cutWaitAfter?.(given);
    return closing;
  }

  /** @deprecated Renamed `close({ deadlineMs })`; kept for one release. */
  drain(options: { timeoutMs?: number } = {}): Promise<void> {
    return this.close(options.timeoutMs === undefined ? {} : { deadlineMs: options.timeoutMs });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #timedOut(waiter: Waiter): BreakwaterError {
    // While connects keep failing, the last connect error says more than "exhausted".
    const last = this.#lastConnectError;
    const failing = last !== undefined && (last.at >= waiter.startedAt || this.#inv.connector.failures > 0);
    const error = failing ? last.error : this.#exhausted('timeout');
    this.#counter.acquireTimeouts++;
    this.#emit('acquireTimedOut', { waitedMs: this.#o.clock.now() - waiter.startedAt, error });
    return error;
  }

  #lend(entry: Entry, now: number, stack: { stack?: string } | undefined): net.Socket {
    entry.lend(now);
    this.#borrowed++;
    if (stack !== undefined) {
      entry.borrowStack = stack;
      this.#leaks.borrowed(entry);
    }
    return entry.socket;
  }

  #takeLoan(conn: net.Socket, what: string): Entry {
    const entry = entryOf(conn);
    if (entry === undefined || entry.owner !== this || entry.state !== 'borrowed') {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', `${what}(): this connection is not borrowed from this pool (returned twice?)`, {
        details: { key: 'conn' },
      });
    }
    entry.takeBack();
    this.#borrowed--;
    if (entry.borrowStack !== undefined) this.#leaks.returned(entry);
    this.#onReturned?.();
    return entry;
  }

  #exhausted(why: 'timeout' | 'maxWaiting'): BreakwaterError {
    return exhaustedError(why, { where: this.#where, acquireTimeoutMs: this.#o.acquireTimeoutMs, maxWaiting: this.#o.maxWaiting, stats: this.stats() });
  }

  #emit<K extends keyof PoolEvents>(event: K, payload: PoolEvents[K][0]): void {
    emitSafely(this, event, payload);
  }

  #shutdown(deadlineMs: number): Promise<void> {
    this.#closed ??= this.#teardown(deadlineMs);
    return this.#closed;
  }

  async #teardown(deadlineMs: number): Promise<void> {
    const { clock } = this.#o;
    this.#closing = true;
    this.#close.abort(closedError()); // backoff sleeps, connects and probes stop
    this.#borrowing.waiters.rejectAll(closedError());
    this.#inv.stop();
    if (deadlineMs > 0 && this.#borrowed + this.#checks.validating > 0) {
      await new Promise<void>((resolve) => {
        const timers: ReturnType<typeof clock.setTimeout>[] = [];
        const done = () => {
          for (const timer of timers) clock.clearTimeout(timer);
          this.#cutWaitAfter = undefined;
          resolve();
        };
        this.#cutWaitAfter = (ms) => (ms === 0 ? done() : void timers.push(clock.setTimeout(done, ms)));
        timers.push(clock.setTimeout(done, deadlineMs));
        this.#onReturned = () => {
          if (this.#borrowed + this.#checks.validating === 0) done();
        };
      });
      this.#onReturned = undefined;
    }
    const stranded = [...this.#inv.all].filter((e) => e.state === 'borrowed');
    // A use() still running learns through its signal, before its connection goes.
    for (const entry of stranded) entry.abortUse?.(closedError());
    for (const entry of stranded) if (entry.state === 'borrowed') this.#inv.discard(this.#takeLoan(entry.socket, 'close'), 'drained');
    await this.#inv.closeAll();
    this.#leaks.stop();
    this.#emit('drained', { destroyedBorrowed: stranded.length });
  }
}
