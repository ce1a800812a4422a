import { type Clock, classify, type TimerHandle } from '@breakwater/core';
import type { Entry } from './Entry.js';
import type { Request, ResourceRequest } from './genericPool.js';

/** A caller that may have to wait for a connection (the pool's borrow record). */
export interface Waiter {
  readonly startedAt: number;
  readonly deadline: number;
  readonly signal: AbortSignal | undefined;
  /** generic-pool's request for it, while one is queued. */
  request: ResourceRequest<Entry> | undefined;
  /** In the queue now. */
  waiting: boolean;
  /** Unhooks the caller's AbortSignal (the pool calls it when the borrow settles). */
  unlink: (() => void) | undefined;
}

export interface WaitersHooks<W extends Waiter> {
  /** Drops a waiting request from generic-pool's queue. */
  cancel(request: ResourceRequest<Entry>): void;
  /** A connection handed over just as its caller gave up goes back to the pool. */
  returnUnused(entry: Entry): void;
  /** The error for a caller whose `acquireTimeoutMs` ran out. */
  timeoutError(waiter: W): unknown;
  /**
   * Hands `entry` to `waiter`. Called synchronously from inside generic-pool's
   * dispatch (in `release()` or after a create), so it must not call back into
   * generic-pool; `handOver` (below) defers whatever does.
   */
  deliver(waiter: W, entry: Entry): void;
  fail(waiter: W, error: unknown): void;
}

/**
 * The callers waiting for a connection, oldest first: bounded in time by
 * `acquireTimeoutMs` and cancellable through their AbortSignal. A caller that
 * gives up has its generic-pool request cancelled, so the request cannot
 * later swallow a connection nobody receives. Every waiter gets the same
 * timeout, so one timer, armed for the earliest deadline, serves them all.
 */
export class Waiters<W extends Waiter> {
  readonly #list = new Map<W, true>();
  readonly #clock: Clock;
  readonly #hooks: WaitersHooks<W>;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(clock: Clock, hooks: WaitersHooks<W>) {
    this.#clock = clock;
    this.#hooks = hooks;
  }

  get size(): number {
    return this.#list.size;
  }

  /** Queues `waiter` until generic-pool fulfils `request`; then `deliver`, or `fail` on timeout/abort. */
  wait(waiter: W, request: Request<Entry>): void {
    waiter.request = request;
    waiter.waiting = true;
    this.#list.set(waiter, true);
    if (waiter.deadline < this.#timerAt) this.#arm(waiter.deadline);
    const { signal } = waiter;
    if (signal !== undefined && waiter.unlink === undefined) {
      const onAbort = () => this.giveUp(waiter, classify(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      waiter.unlink = () => signal.removeEventListener('abort', onAbort);
    }
    // The connection reaches the caller in the same tick generic-pool
    // dispatches it (as with bare generic-pool), without a promise between.
    request.waiter = waiter;
    request.onResolve = this.#resolved;
  }

  /** Shared by every request (the waiter rides on the request): no closure per wait. */
  readonly #resolved = (entry: Entry, request: Request<Entry>): void => {
    const waiter = request.waiter as W;
    request.waiter = undefined;
    waiter.request = undefined;
    // Not reachable while giveUp() cancels the request first; kept as the
    // safety net, deferred because generic-pool is mid-dispatch here.
    if (!waiter.waiting) {
      queueMicrotask(() => this.#hooks.returnUnused(entry));
      return;
    }
    this.#unlist(waiter);
    this.#hooks.deliver(waiter, entry);
  };

  /** Fails a waiting caller with `error` and cancels its request; a no-op unless it is queued. */
  giveUp(waiter: W, error: unknown): void {
    if (!waiter.waiting) return;
    this.#unlist(waiter);
    if (waiter.request !== undefined) this.#hooks.cancel(waiter.request);
    this.#hooks.fail(waiter, error);
  }

  rejectOldest(error: unknown): void {
    const oldest = this.#list.keys().next();
    if (oldest.done !== true) this.giveUp(oldest.value, error);
  }

  /** Fails every waiter (drain) and stops the timer. */
  rejectAll(error: unknown): void {
    for (const w of [...this.#list.keys()]) this.giveUp(w, error);
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  /**
   * The timer stays armed when the last waiter leaves: it then fires once for
   * nothing, which is cheaper than a clearTimeout/setTimeout pair every time
   * a busy pool's queue empties and fills again.
   */
  #unlist(waiter: W): void {
    waiter.waiting = false;
    this.#list.delete(waiter);
  }

  #arm(at: number): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), at - this.#clock.now());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    // Deadlines are in order except for a caller re-queued after its
    // connection failed the borrow checks, so look at all of them.
    let next = Number.POSITIVE_INFINITY;
    for (const w of [...this.#list.keys()]) {
      if (w.deadline > now) next = Math.min(next, w.deadline);
      else this.giveUp(w, this.#hooks.timeoutError(w));
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.#timerAt) this.#arm(next);
  }
}
