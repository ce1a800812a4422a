import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { BreakwaterError, classify, publisher, validateSignal } from '@breakwater/core';
import type { ResolvedPoolOptions } from './defaults.js';
import { type Entry, entryOf } from './internal/Entry.js';
import { closedError, exhaustedError } from './internal/errors.js';
import type { ResourceRequest } from './internal/genericPool.js';
import { Health, isConnectionLevel } from './internal/Health.js';
import { Inventory } from './internal/Inventory.js';
import { LeakDetector } from './internal/LeakDetector.js';
import { runProbe } from './internal/open.js';
import { type Waiter, Waiters } from './internal/Waiters.js';
import { type PoolEvents, type PoolStats, PoolStatsCounter } from './stats.js';

const publish = publisher('pool');

export interface ReleaseOptions {
  /** The connection failed on real traffic: destroy it and count the failure towards passive health (FM-08). */
  failed?: boolean;
  /** What failed, for the `markedUnhealthy` event and the fast-fail error's `cause`. */
  error?: unknown;
}

/** One acquire() on its slow path: it may wait, probe, and try several connections. */
interface Borrow extends Waiter {
  readonly trial: boolean;
  readonly stack: { stack?: string } | undefined;
  readonly resolve: (socket: net.Socket) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A pool of TCP connections on generic-pool that never hands out a dead one.
 * Create it with {@link createPool}; see the package README for the rules.
 */
export class ConnectionPool extends EventEmitter<PoolEvents> {
  readonly #o: ResolvedPoolOptions;
  readonly #close = new AbortController();
  readonly #counter = new PoolStatsCounter();
  readonly #health: Health;
  readonly #leaks: LeakDetector;
  readonly #waiters: Waiters<Borrow>;
  readonly #inv: Inventory;
  readonly #where: string;
  #validating = 0;
  #borrowed = 0;
  #lastConnectError: { error: BreakwaterError; at: number } | undefined;
  #closing = false;
  #drained: Promise<void> | undefined;
  #onReturned: (() => void) | undefined;

  constructor(options: ResolvedPoolOptions) {
    super();
    const o = options;
    this.#o = o;
    this.#where = o.connect === undefined ? `${o.host}:${o.port}` : 'the endpoint';
    const clock = o.clock;
    this.#waiters = new Waiters<Borrow>(clock, {
      cancel: (request) => this.#inv.gp.cancel(request),
      returnUnused: (entry) => {
        void this.#inv.gp.pool.release(entry);
      },
      timeoutError: (b) => this.#timedOut(b),
      deliver: (b, entry) => this.#check(b, entry),
      fail: (b, error) => this.#fail(b, error),
    });
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
        waiting: () => this.#waiters.size,
        generation: () => this.#health.generation,
        closing: () => this.#closing,
        onConnectFailure: (error, attempt, retryInMs) => {
          this.#counter.connectFailures++;
          this.#lastConnectError = { error, at: clock.now() };
          this.#emit('connectFailed', { error, attempt, retryInMs });
          // One failed attempt answers one caller, as a direct connect would have.
          this.#waiters.rejectOldest(error);
        },
        emit: (event, payload) => this.#emit(event, payload),
      },
      this.#counter,
    );
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
    const { gp } = this.#inv;
    if (this.#waiters.size >= this.#o.maxWaiting && gp.pool.available === 0) return Promise.reject(this.#exhausted('maxWaiting'));
    const stack = this.#o.leakWarningMs > 0 ? captureStack(this.acquire) : undefined;
    const alone = gp.pool.pending === 0;
    const promise = gp.pool.acquire();
    const request = gp.lastRequest();
    const now = this.#o.clock.now();
    if (request.state === 'FULFILLED' && alone && !trial) {
      // Fast path: generic-pool handed an idle connection over synchronously
      // (and, nobody else queued, it is the one just taken off the idle list):
      // no waiter, no timer, no extra promise hop.
      const entry = gp.lastDispatched();
      entry.state = 'validating';
      if (this.#inv.staleReason(entry, now) === undefined && !this.#needsProbe(entry, now, now)) return Promise.resolve(this.#lend(entry, now, stack));
      return this.#obtain(signal, trial, now, stack, entry);
    }
    return this.#obtain(signal, trial, now, stack, undefined, promise, request);
  }

  /** Returns a borrowed connection; `{ failed: true }` destroys it and counts towards passive health. */
  release(conn: net.Socket, options: ReleaseOptions = {}): void {
    const entry = this.#takeLoan(conn, 'release');
    if (options.failed === true) {
      this.#health.failure(entry.generation, options.error ?? new BreakwaterError('BW_ERR_NETWORK', 'released as failed'));
      this.#inv.discard(entry, 'failed');
      return;
    }
    // The exchange worked unless the connection died under it.
    if (!entry.dead) this.#health.success(entry.generation);
    const now = this.#o.clock.now();
    const reason = this.#closing ? 'drained' : entry.returnReason(now, this.#health.generation);
    if (reason === undefined) this.#inv.putBack(entry, now);
    else this.#inv.discard(entry, reason);
  }

  /** Destroys a borrowed connection (its state is unknown, say after a timeout mid-response). */
  destroy(conn: net.Socket): void {
    this.#inv.discard(this.#takeLoan(conn, 'destroy'), 'destroyed');
  }

  /**
   * Borrows a connection for `fn` and returns it afterwards. A rejection that
   * is connection-level (per `classify()`: reset, closed, stalled…) destroys
   * the connection and counts towards passive health; any other rejection
   * (an application error) returns it. The rejection is rethrown.
   */
  async use<T>(fn: (conn: net.Socket) => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    const conn = await this.acquire(signal);
    let result: T;
    try {
      result = await fn(conn);
    } catch (error) {
      if (this.#isBorrowed(conn)) this.release(conn, isConnectionLevel(error) ? { failed: true, error } : {});
      throw error;
    }
    if (this.#isBorrowed(conn)) this.release(conn);
    return result;
  }

  stats(): PoolStats {
    const { gp, connector } = this.#inv;
    return this.#counter.snapshot({
      size: gp.pool.size,
      idle: gp.pool.available,
      borrowed: this.#borrowed,
      validating: this.#validating,
      connecting: connector.inFlight,
      waiting: this.#waiters.size,
      max: this.#o.max,
      healthy: this.#health.healthy,
      consecutiveFailures: this.#health.consecutiveFailures,
      connectAttempts: connector.attempts,
      draining: this.#closing,
    });
  }

  /**
   * Stops lending, rejects waiting callers with `BW_ERR_CLOSED`, waits up to
   * `timeoutMs` for borrowed connections to come back, destroys the rest, and
   * resolves when every socket has closed and every timer is cleared.
   */
  drain(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#drained ??= this.#drain(options.timeoutMs ?? this.#o.drainTimeoutMs);
    return this.#drained;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.drain();
  }

  /** The slow path: wait in generic-pool's queue, check, probe, and go again with another connection until one passes. */
  #obtain(
    signal: AbortSignal | undefined,
    trial: boolean,
    startedAt: number,
    stack: { stack?: string } | undefined,
    entry?: Entry,
    promise?: Promise<Entry>,
    request?: ResourceRequest<Entry>,
  ): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const deadline = startedAt + this.#o.acquireTimeoutMs;
      const b: Borrow = { startedAt, deadline, signal, trial, stack, resolve, reject, request: undefined, waiting: false, unlink: undefined };
      if (entry !== undefined) this.#check(b, entry);
      else this.#next(b, promise, request);
    });
  }

  /** Asks generic-pool for the next connection (or takes the request already made). */
  #next(b: Borrow, promise?: Promise<Entry>, request?: ResourceRequest<Entry>): void {
    if (this.#closing || b.signal?.aborted === true) {
      this.#fail(b, this.#closing ? closedError() : classify(b.signal?.reason));
      return;
    }
    const { gp } = this.#inv;
    let alone = false;
    if (promise === undefined || request === undefined) {
      alone = gp.pool.pending === 0;
      promise = gp.pool.acquire();
      request = gp.lastRequest();
    }
    if (request.state !== 'FULFILLED') this.#waiters.wait(b, promise, request);
    else if (alone) this.#check(b, gp.lastDispatched());
    else promise.then((entry) => this.#check(b, entry));
  }

  #check(b: Borrow, entry: Entry): void {
    entry.state = 'validating';
    const checked = this.#validate(entry, b);
    if (checked instanceof Promise) checked.then((socket) => (socket === undefined ? this.#next(b) : this.#succeed(b, socket)));
    else if (checked === undefined) this.#next(b);
    else this.#succeed(b, checked);
  }

  #succeed(b: Borrow, socket: net.Socket): void {
    b.unlink?.();
    b.resolve(socket);
  }

  #fail(b: Borrow, error: unknown): void {
    b.unlink?.();
    if (b.trial) this.#health.trialFailed(error, isConnectionLevel(error));
    b.reject(error);
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

  /**
   * Borrow-time checks (synchronous), then the probe when due (a promise).
   * Never throws or rejects: undefined means "discarded, try another".
   */
  #validate(entry: Entry, b: Borrow): net.Socket | undefined | Promise<net.Socket | undefined> {
    const now = this.#o.clock.now();
    const stale = this.#closing ? 'drained' : this.#inv.staleReason(entry, now);
    if (stale !== undefined) return this.#inv.discard(entry, stale);
    if (!this.#needsProbe(entry, now, b.startedAt)) return this.#lend(entry, now, b.stack);
    return this.#probe(entry, b);
  }

  async #probe(entry: Entry, b: Borrow): Promise<net.Socket | undefined> {
    this.#validating++;
    const ok = await runProbe(this.#o.probe!, entry.socket, this.#o.validationTimeoutMs, this.#o.clock, this.#close.signal);
    this.#validating--;
    this.#onReturned?.();
    if (this.#closing) return this.#inv.discard(entry, 'drained');
    if (!ok) return this.#inv.discard(entry, 'probeFailed');
    if (!entry.usable()) return this.#inv.discard(entry, entry.dead ? 'closed' : 'invalid');
    return this.#lend(entry, this.#o.clock.now(), b.stack);
  }

  /**
   * A connection idle for `validateAfterIdleMs` is probed, except one opened
   * during this very acquire: its handshake just proved the path.
   */
  #needsProbe(entry: Entry, now: number, startedAt: number): boolean {
    return this.#o.probe !== undefined && entry.createdAt < startedAt && now - entry.idleSince >= this.#o.validateAfterIdleMs;
  }

  #lend(entry: Entry, now: number, stack: { stack?: string } | undefined): net.Socket {
    entry.state = 'borrowed';
    entry.borrowedAt = now;
    this.#borrowed++;
    if (stack !== undefined) {
      entry.borrowStack = stack;
      this.#leaks.borrowed(entry);
    }
    return entry.socket;
  }

  #isBorrowed(conn: net.Socket): boolean {
    const entry = entryOf(conn);
    return entry !== undefined && entry.owner === this && entry.state === 'borrowed';
  }

  #takeLoan(conn: net.Socket, what: string): Entry {
    const entry = entryOf(conn);
    if (entry === undefined || entry.owner !== this || entry.state !== 'borrowed') {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', `${what}(): this connection is not borrowed from this pool (returned twice?)`, {
        details: { key: 'conn' },
      });
    }
    entry.state = 'validating';
    this.#borrowed--;
    if (entry.borrowStack !== undefined) this.#leaks.returned(entry);
    this.#onReturned?.();
    return entry;
  }

  #exhausted(why: 'timeout' | 'maxWaiting'): BreakwaterError {
    return exhaustedError(why, { where: this.#where, acquireTimeoutMs: this.#o.acquireTimeoutMs, maxWaiting: this.#o.maxWaiting, stats: this.stats() });
  }

  #emit<K extends keyof PoolEvents>(event: K, payload: PoolEvents[K][0]): void {
    publish(event, { pool: this, ...payload });
    try {
      (this.emit as (e: string, p: unknown) => boolean)(event, payload);
    } catch (error) {
      // A throwing listener must not corrupt the pool's state; surface it like any uncaught error.
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  async #drain(timeoutMs: number): Promise<void> {
    const { clock } = this.#o;
    this.#closing = true;
    const gpDrained = this.#inv.gp.pool.drain(); // no more `min` upkeep
    this.#close.abort(closedError()); // backoff sleeps, connects and probes stop
    this.#waiters.rejectAll(closedError());
    this.#inv.stop();
    if (this.#borrowed + this.#validating > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clock.clearTimeout(timer);
          resolve();
        };
        const timer = clock.setTimeout(done, timeoutMs);
        this.#onReturned = () => {
          if (this.#borrowed + this.#validating === 0) done();
        };
      });
      this.#onReturned = undefined;
    }
    const stranded = [...this.#inv.all].filter((e) => e.state === 'borrowed');
    for (const entry of stranded) this.#inv.discard(this.#takeLoan(entry.socket, 'drain'), 'drained');
    await gpDrained;
    await this.#inv.closeAll();
    this.#leaks.stop();
    this.#emit('drained', { destroyedBorrowed: stranded.length });
  }
}

function captureStack(above: Function): { stack?: string } {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, above);
  return holder;
}
