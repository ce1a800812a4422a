import type net from 'node:net';
import { classify } from '@breakwater/core';
import type { ResolvedPoolOptions } from '../defaults.js';
import type { BorrowCheck } from './BorrowCheck.js';
import type { Entry } from './Entry.js';
import { closedError } from './errors.js';
import { isConnectionLevel } from './Health.js';
import type { Inventory } from './Inventory.js';
import { type Waiter, Waiters } from './Waiters.js';

type Stack = { stack?: string } | undefined;

const settled = (): void => {};

/**
 * One acquire() on its slow path: it may wait, probe, and try several
 * connections. Recycled once settled. It is its own queue node and its own
 * abort listener.
 */
export class Borrow implements Waiter {
  startedAt: number;
  deadline: number;
  signal: AbortSignal | undefined;
  trial: boolean;
  stack: Stack;
  resolve: (socket: net.Socket) => void;
  reject: (error: unknown) => void;
  waiting = false;
  listening = false;
  olderWaiter: Waiter | undefined = undefined;
  newerWaiter: Waiter | undefined = undefined;
  readonly #queue: Waiters<Borrow>;

  /** Filled in by `Borrowing` on each use. */
  constructor(queue: Waiters<Borrow>) {
    this.#queue = queue;
    this.startedAt = 0;
    this.deadline = 0;
    this.signal = undefined;
    this.trial = false;
    this.stack = undefined;
    this.resolve = settled;
    this.reject = settled;
  }

  /** The caller's signal aborted (the record is registered as the listener). */
  handleEvent(): void {
    this.#queue.aborted(this);
  }
}

export interface BorrowingHooks {
  closing(): boolean;
  /** Marks the entry lent (to the borrower whose stack is `stack`) and returns its socket. */
  lend(entry: Entry, now: number, stack: Stack): net.Socket;
  /** The error for a caller whose `acquireTimeoutMs` ran out. */
  timeoutError(waiter: Waiter): unknown;
  trialFailed(error: unknown, connectionLevel: boolean): void;
}

// The resolving functions of the promise being made: a shared executor saves
// a closure per acquire().
let capturedResolve: ((socket: net.Socket) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
function capture(resolve: (socket: net.Socket) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** Settled borrow records kept for reuse: a busy pool allocates none per wait. */
const SPARE_RECORDS = 64;

/**
 * The slow path of acquire(): wait for a connection (bounded by
 * `acquireTimeoutMs` and the caller's signal), check what comes, and go
 * again with another connection until one passes. A released or newly
 * opened connection reaches the oldest waiter in the same tick, checked at
 * the instant of its release.
 */
export class Borrowing {
  readonly waiters: Waiters<Borrow>;
  readonly #o: ResolvedPoolOptions;
  readonly #inv: Inventory;
  readonly #checks: BorrowCheck;
  readonly #h: BorrowingHooks;
  readonly #spare: Borrow[] = [];

  constructor(o: ResolvedPoolOptions, inv: Inventory, checks: BorrowCheck, hooks: BorrowingHooks) {
    this.#o = o;
    this.#inv = inv;
    this.#checks = checks;
    this.#h = hooks;
    this.waiters = new Waiters<Borrow>(o.clock, {
      timeoutError: (b) => hooks.timeoutError(b),
      fail: (b, error) => this.#fail(b, error),
    });
  }

  /** The slow path: check `entry` if one was taken, else wait; go again until a connection passes. */
  obtain(signal: AbortSignal | undefined, trial: boolean, startedAt: number, stack: Stack, entry: Entry | undefined): Promise<net.Socket> {
    const promise = new Promise<net.Socket>(capture);
    const b = this.#record(startedAt, signal, trial, stack, capturedResolve!, capturedReject!);
    capturedResolve = undefined;
    capturedReject = undefined;
    if (entry !== undefined) this.#check(b, entry);
    else this.#next(b);
    return promise;
  }

  /**
   * A connection free for the taking (released, or just opened): to the
   * oldest waiter when there is one, else onto the idle list.
   */
  offer(entry: Entry, now: number): void {
    let b = this.waiters.shift();
    // A caller whose signal aborted in this same tick, before its listener ran, gets no connection.
    while (b?.signal?.aborted === true) {
      this.#fail(b, classify(b.signal.reason));
      b = this.waiters.shift();
    }
    if (b === undefined) {
      this.#inv.rest(entry, now);
      return;
    }
    entry.check();
    // Idle from this instant, as if it had rested: the time it was borrowed was no idleness.
    entry.idleSince = now;
    if (this.#checks.passesFree(entry, now, b.startedAt)) this.#succeed(b, this.#h.lend(entry, now, b.stack));
    else this.#check(b, entry, true);
  }

  /** The next connection for `b`: an idle one, or a place in the queue (and a connect if capacity allows). */
  #next(b: Borrow, first = false): void {
    if (this.#h.closing() || b.signal?.aborted === true) {
      this.#fail(b, this.#h.closing() ? closedError() : classify(b.signal?.reason));
      return;
    }
    const entry = this.#inv.takeIdle();
    if (entry !== undefined) {
      this.#check(b, entry, first);
      return;
    }
    this.waiters.wait(b, first);
    this.#inv.fill();
  }

  #check(b: Borrow, entry: Entry, first = false): void {
    const checked = this.#checks.run(entry, b.startedAt, b.stack);
    if (checked instanceof Promise) checked.then((socket) => (socket === undefined ? this.#next(b, true) : this.#succeed(b, socket)));
    else if (checked === undefined) this.#next(b, first);
    else this.#succeed(b, checked);
  }

  #succeed(b: Borrow, socket: net.Socket): void {
    this.waiters.unlink(b);
    const { resolve } = b;
    this.#recycle(b);
    resolve(socket);
  }

  #fail(b: Borrow, error: unknown): void {
    this.waiters.unlink(b);
    const { trial, reject } = b;
    this.#recycle(b);
    if (trial) this.#h.trialFailed(error, isConnectionLevel(error));
    reject(error);
  }

  #record(startedAt: number, signal: AbortSignal | undefined, trial: boolean, stack: Stack, resolve: Borrow['resolve'], reject: Borrow['reject']): Borrow {
    const deadline = startedAt + this.#o.acquireTimeoutMs;
    const b = this.#spare.pop() ?? new Borrow(this.waiters);
    b.startedAt = startedAt;
    b.deadline = deadline;
    b.signal = signal;
    b.trial = trial;
    b.stack = stack;
    b.resolve = resolve;
    b.reject = reject;
    return b;
  }

  /** Called once per record, when its borrow settles; nothing refers to it afterwards. */
  #recycle(b: Borrow): void {
    b.signal = undefined;
    b.stack = undefined;
    b.resolve = settled;
    b.reject = settled;
    if (this.#spare.length < SPARE_RECORDS) this.#spare.push(b);
  }
}
