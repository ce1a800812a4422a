import { type Clock, classify, type TimerHandle } from '@breakwater/core';

/**
 * A caller that may have to wait for a connection (the pool's borrow record).
 * It is its own abort listener (`handleEvent`, called when its signal aborts:
 * it should `giveUp()`), so a wait allocates no closure for it.
 */
export interface Waiter {
  startedAt: number;
  deadline: number;
  signal: AbortSignal | undefined;
  /** In the queue now. */
  waiting: boolean;
  /** Registered as a listener on `signal` (until `unlink()`: the pool calls it when the borrow settles). */
  listening: boolean;
  /** Queue links: the waiter is its own node, nothing is allocated per wait. */
  olderWaiter: Waiter | undefined;
  newerWaiter: Waiter | undefined;
  /** Its signal aborted (the waiter is registered as the listener object). */
  handleEvent(): void;
}

const ONCE = Object.freeze({ once: true });

export interface WaitersHooks<W extends Waiter> {
  /** The error for a caller whose `acquireTimeoutMs` ran out. */
  timeoutError(waiter: W): unknown;
  fail(waiter: W, error: unknown): void;
}

/**
 * The callers waiting for a connection, oldest first: bounded in time by
 * `acquireTimeoutMs` and cancellable through their AbortSignal — what
 * generic-pool's queue cannot do (its requests cannot be cancelled, and each
 * carries a wall-clock timer of its own). Every waiter gets the same
 * timeout, so one timer, armed for the earliest deadline, serves them all.
 */
export class Waiters<W extends Waiter> {
  #oldest: W | undefined;
  #newest: W | undefined;
  #size = 0;
  readonly #clock: Clock;
  readonly #hooks: WaitersHooks<W>;
  #timer: TimerHandle | undefined;
  #timerAt = Number.POSITIVE_INFINITY;

  constructor(clock: Clock, hooks: WaitersHooks<W>) {
    this.#clock = clock;
    this.#hooks = hooks;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Queues `waiter` until the pool hands it a connection (`shift()`), or
   * fails it on timeout or abort. `first` puts it at the head: a caller whose
   * connection failed the borrow checks keeps its place.
   */
  wait(waiter: W, first = false): void {
    waiter.waiting = true;
    this.#link(waiter, first);
    if (waiter.deadline < this.#timerAt) this.#arm(waiter.deadline);
    // Only callers that pass a signal pay for a listener: the waiter itself.
    if (waiter.signal !== undefined && !waiter.listening) {
      waiter.listening = true;
      waiter.signal.addEventListener('abort', waiter, ONCE);
    }
  }

  /** Unhooks the waiter from its signal; called once its borrow settles, queued or not. */
  unlink(waiter: W): void {
    if (!waiter.listening) return;
    waiter.listening = false;
    waiter.signal?.removeEventListener('abort', waiter);
  }

  /** The waiter's signal aborted: fails it with the classified reason if it is still queued. */
  aborted(waiter: W): void {
    this.giveUp(waiter, classify(waiter.signal?.reason));
  }

  /** Takes the oldest waiter out of the queue, to hand it a connection. */
  shift(): W | undefined {
    const waiter = this.#oldest;
    if (waiter !== undefined) this.#unlist(waiter);
    return waiter;
  }

  /** Fails a waiting caller with `error`; a no-op unless it is queued. */
  giveUp(waiter: W, error: unknown): void {
    if (!waiter.waiting) return;
    this.#unlist(waiter);
    this.#hooks.fail(waiter, error);
  }

  rejectOldest(error: unknown): void {
    if (this.#oldest !== undefined) this.giveUp(this.#oldest, error);
  }

  /** Fails every waiter (close) and stops the timer. */
  rejectAll(error: unknown): void {
    while (this.#oldest !== undefined) this.giveUp(this.#oldest, error);
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }

  #link(waiter: W, first: boolean): void {
    this.#size++;
    if (first) {
      waiter.olderWaiter = undefined;
      waiter.newerWaiter = this.#oldest;
      if (this.#oldest === undefined) this.#newest = waiter;
      else this.#oldest.olderWaiter = waiter;
      this.#oldest = waiter;
    } else {
      waiter.newerWaiter = undefined;
      waiter.olderWaiter = this.#newest;
      if (this.#newest === undefined) this.#oldest = waiter;
      else this.#newest.newerWaiter = waiter;
      this.#newest = waiter;
    }
  }

  /**
   * The timer stays armed when the last waiter leaves: it then fires once for
   * nothing, which is cheaper than a clearTimeout/setTimeout pair every time
   * a busy pool's queue empties and fills again.
   */
  #unlist(waiter: W): void {
    waiter.waiting = false;
    const older = waiter.olderWaiter as W | undefined;
    const newer = waiter.newerWaiter as W | undefined;
    if (older === undefined) this.#oldest = newer;
    else older.newerWaiter = newer;
    if (newer === undefined) this.#newest = older;
    else newer.olderWaiter = older;
    waiter.olderWaiter = undefined;
    waiter.newerWaiter = undefined;
    this.#size--;
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
    // Deadlines are in order except for a caller put back at the head after
    // its connection failed the borrow checks, so look at all of them.
    let next = Number.POSITIVE_INFINITY;
    let w = this.#oldest;
    while (w !== undefined) {
      const newer = w.newerWaiter as W | undefined;
      if (w.deadline > now) next = Math.min(next, w.deadline);
      else this.giveUp(w, this.#hooks.timeoutError(w));
      w = newer;
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.#timerAt) this.#arm(next);
  }
}
