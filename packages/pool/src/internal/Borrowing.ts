import type net from 'node:net';
import { classify } from '@breakwater/core';
import type { ResolvedPoolOptions } from '../defaults.js';
import type { BorrowCheck } from './BorrowCheck.js';
import type { Entry } from './Entry.js';
import { closedError } from './errors.js';
import type { Request } from './genericPool.js';
import { isConnectionLevel } from './Health.js';
import type { Inventory } from './Inventory.js';
import { type Waiter, Waiters } from './Waiters.js';

/** One acquire() on its slow path: it may wait, probe, and try several connections. */
export interface Borrow extends Waiter {
  readonly trial: boolean;
  readonly stack: { stack?: string } | undefined;
  readonly resolve: (socket: net.Socket) => void;
  readonly reject: (error: unknown) => void;
}

export interface BorrowingHooks {
  closing(): boolean;
  /** Marks the entry lent (to the borrower whose stack is `stack`) and returns its socket. */
  lend(entry: Entry, now: number, stack: { stack?: string } | undefined): net.Socket;
  /** The instant of the release() in progress, if one is. */
  releasedAt(): number | undefined;
  /** The error for a caller whose `acquireTimeoutMs` ran out. */
  timeoutError(waiter: Waiter): unknown;
  trialFailed(error: unknown, connectionLevel: boolean): void;
}

/**
 * The slow path of acquire(): wait in generic-pool's queue (bounded by
 * `acquireTimeoutMs` and the caller's signal), check what comes, and go
 * again with another connection until one passes.
 */
export class Borrowing {
  readonly waiters: Waiters<Borrow>;
  readonly #o: ResolvedPoolOptions;
  readonly #inv: Inventory;
  readonly #checks: BorrowCheck;
  readonly #h: BorrowingHooks;

  constructor(o: ResolvedPoolOptions, inv: Inventory, checks: BorrowCheck, hooks: BorrowingHooks) {
    this.#o = o;
    this.#inv = inv;
    this.#checks = checks;
    this.#h = hooks;
    this.waiters = new Waiters<Borrow>(o.clock, {
      cancel: (request) => inv.gp.cancel(request),
      returnUnused: (entry) => {
        void inv.gp.pool.release(entry);
      },
      timeoutError: (b) => hooks.timeoutError(b),
      deliver: (b, entry) => this.#handOver(b, entry),
      fail: (b, error) => this.#fail(b, error),
    });
  }

  /** The slow path: wait in generic-pool's queue, check, probe, and go again with another connection until one passes. */
  obtain(
    signal: AbortSignal | undefined,
    trial: boolean,
    startedAt: number,
    stack: { stack?: string } | undefined,
    entry: Entry | undefined,
    request: Request<Entry>,
  ): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const deadline = startedAt + this.#o.acquireTimeoutMs;
      const b: Borrow = { startedAt, deadline, signal, trial, stack, resolve, reject, request: undefined, waiting: false, unlink: undefined };
      if (entry !== undefined) this.#check(b, entry);
      else this.#next(b, request);
    });
  }

  /** Asks generic-pool for the next connection (or takes the request already made). */
  #next(b: Borrow, request?: Request<Entry>): void {
    if (this.#h.closing() || b.signal?.aborted === true) {
      this.#fail(b, this.#h.closing() ? closedError() : classify(b.signal?.reason));
      return;
    }
    request ??= this.#inv.gp.acquire();
    if (request.resource !== undefined) this.#check(b, request.resource);
    else this.waiters.wait(b, request);
  }

  /**
   * A waiting caller's connection, handed over from inside generic-pool's
   * dispatch: lent at once when the free checks pass (the common case, no
   * extra tick); anything that needs generic-pool again (discard, another
   * try, a probe) waits for the next microtask.
   */
  #handOver(b: Borrow, entry: Entry): void {
    entry.state = 'validating';
    const now = this.#h.releasedAt() ?? this.#o.clock.now();
    if (this.#checks.passesFree(entry, now, b.startedAt)) {
      this.#succeed(b, this.#h.lend(entry, now, b.stack));
    } else {
      queueMicrotask(() => this.#check(b, entry));
    }
  }

  #check(b: Borrow, entry: Entry): void {
    entry.state = 'validating';
    const checked = this.#checks.run(entry, b.startedAt, b.stack);
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
    if (b.trial) this.#h.trialFailed(error, isConnectionLevel(error));
    b.reject(error);
  }
}
