import { BreakwaterError } from './BreakwaterError.js';
import { type Clock, monotonicClock, type TimerHandle } from './Clock.js';
import { DeadlineWheel } from './DeadlineWheel.js';
import { MAX_TIMER_MS } from './rules.js';
import { validateNumber } from './validate.js';

export interface DeadlineOptions {
  /** @defaultValue the monotonic clock */
  clock?: Clock;
  /** A parent deadline or caller signal: when it aborts, so does this deadline. */
  parent?: Deadline | AbortSignal;
  /**
   * Named in the BW_ERR_DEADLINE message, e.g. `GET /users`; a function (or an object's `deadlineLabel()`)
   * is called only if the deadline fires, so a label per request costs no string, and an object no closure.
   */
  label?: string | (() => string) | DeadlineLabel;
}

/** A label built only if the deadline fires (an object the caller has anyway, instead of a closure per deadline). */
export interface DeadlineLabel {
  deadlineLabel(): string;
}

/** Told when a deadline aborts: a function, or an object (one the caller has anyway, instead of a closure). */
export type AbortListener = ((reason: unknown) => void) | { onDeadlineAbort(reason: unknown): void };

type Listener = AbortListener;

function call(listener: Listener, reason: unknown): void {
  if (typeof listener === 'function') listener(reason);
  else listener.onDeadlineAbort(reason);
}

/** Set in Deadline's static block: the wheel's way to a deadline's private expiry. */
let expire: (d: Deadline) => void;

/** The process's one timer for deadlines on the monotonic clock. */
export const deadlineWheel = new DeadlineWheel<Deadline>((d) => expire(d));

/**
 * A point in monotonic time after which an operation is pointless, exposed as
 * an `AbortSignal` so it can be handed to undici, p-retry, timers and sockets.
 * Child deadlines never outlive their parent; a parent abort (deadline or
 * caller cancel) reaches every child with the parent's reason.
 *
 * Call {@link Deadline.dispose} (or use `using`) when the operation ends so
 * the timer and listeners are released.
 *
 * Cheap enough for one per request: on the monotonic clock every deadline
 * shares one timer (it fires within a 1 ms tick after
 * `expiresAt`, never before), and the `AbortSignal` is only created when
 * `signal` is read; {@link Deadline.onAbort} needs none.
 *
 * @example
 * using d = Deadline.after(2_000, { parent: req.signal });
 * const attempt = d.child(500); // min(500 ms, what is left)
 */
export class Deadline implements Disposable {
  /** Monotonic time (clock.now() scale) at which the deadline fires; Infinity for none. */
  readonly expiresAt: number;
  readonly #clock: Clock;
  readonly #label: DeadlineOptions['label'];
  readonly #budgetMs: number;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  #listeners: Listener | Listener[] | undefined;
  /** The wheel tick (monotonic clock) or the clock's timer (any other clock). */
  #tick: number | undefined;
  #timer: TimerHandle | undefined;
  #unlinkParent: (() => void) | undefined;

  static {
    expire = (d) => d.#expire();
  }

  private constructor(expiresAt: number, now: number, options: DeadlineOptions, clock: Clock) {
    this.#clock = clock;
    this.expiresAt = expiresAt;
    this.#label = options.label;
    this.#budgetMs = Math.round(expiresAt - now);
    const parent = options.parent;
    if (parent instanceof Deadline) {
      if (parent.expired) {
        this.#abort(parent.#reason);
        return;
      }
      const onAbort = (reason: unknown) => this.#abort(reason);
      parent.onAbort(onAbort);
      this.#unlinkParent = () => parent.offAbort(onAbort);
    } else if (parent !== undefined) {
      if (parent.aborted) {
        this.#abort(parent.reason);
        return;
      }
      const onAbort = () => this.#abort(parent.reason);
      parent.addEventListener('abort', onAbort, { once: true });
      this.#unlinkParent = () => parent.removeEventListener('abort', onAbort);
    }
    if (Number.isFinite(expiresAt)) {
      const delay = expiresAt - now;
      if (delay <= 0) this.#expire();
      else if (clock === monotonicClock) this.#tick = deadlineWheel.add(this);
      else this.#armOn(clock, delay);
    }
  }

  /** An injected clock's timer; a delay past what setTimeout holds (≈ 24.8 days) is waited in steps, never fired early. */
  #armOn(clock: Clock, delay: number): void {
    this.#timer = clock.setTimeout(
      () => {
        const left = this.expiresAt - clock.now();
        if (left > 0) this.#armOn(clock, left);
        else this.#expire();
      },
      Math.min(delay, MAX_TIMER_MS),
    );
  }

  /** A deadline `ms` from now (bounded by `parent`, if given). */
  static after(ms: number, options: DeadlineOptions = {}): Deadline {
    validateNumber(ms, 'ms', { min: 0, allowInfinity: true });
    const clock = options.clock ?? monotonicClock;
    const now = clock.now();
    const parentAt = options.parent instanceof Deadline ? options.parent.expiresAt : Number.POSITIVE_INFINITY;
    return new Deadline(Math.min(now + ms, parentAt), now, options, clock);
  }

  /** No time limit; still cancellable through `parent`. */
  static none(options: DeadlineOptions = {}): Deadline {
    const clock = options.clock ?? monotonicClock;
    const parentAt = options.parent instanceof Deadline ? options.parent.expiresAt : Number.POSITIVE_INFINITY;
    return new Deadline(parentAt, Number.isFinite(parentAt) ? clock.now() : 0, options, clock);
  }

  /** Aborted with BW_ERR_DEADLINE when time runs out, or with the parent's reason. Created on first read. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Milliseconds left, 0 when expired or aborted; Infinity for none. */
  remainingMs(): number {
    if (this.#aborted) return 0;
    return Math.max(0, this.expiresAt - this.#clock.now());
  }

  get expired(): boolean {
    return this.#aborted;
  }

  /** Whether an operation expected to take `ms` can still finish in time. */
  canFit(ms: number): boolean {
    return this.remainingMs() >= ms;
  }

  /** A deadline `ms` from now, or the remaining time if that is shorter. */
  child(ms: number = Number.POSITIVE_INFINITY, label?: string): Deadline {
    return Deadline.after(ms, { clock: this.#clock, parent: this, ...(label === undefined ? {} : { label }) });
  }

  /** Throws the abort reason (BW_ERR_DEADLINE, or the caller's) when expired. */
  throwIfExpired(): void {
    if (this.#aborted) throw this.#reason;
  }

  /**
   * Calls `listener` (or its `onDeadlineAbort`) once with the reason when
   * this deadline aborts (after the signal's own listeners), unless
   * {@link Deadline.offAbort} comes first; at once if it has aborted
   * already. Cheaper than listening on `signal`, which it does not create.
   */
  onAbort(listener: AbortListener): void {
    if (this.#aborted) {
      call(listener, this.#reason);
      return;
    }
    const l = this.#listeners;
    if (l === undefined) this.#listeners = listener;
    else if (!Array.isArray(l)) this.#listeners = [l, listener];
    else l.push(listener);
  }

  offAbort(listener: AbortListener): void {
    const l = this.#listeners;
    if (l === listener) this.#listeners = undefined;
    else if (Array.isArray(l)) {
      const i = l.indexOf(listener);
      if (i !== -1) l.splice(i, 1);
    }
  }

  /** Releases the timer and the parent listener. Safe to call twice. */
  dispose(): void {
    if (this.#tick !== undefined) {
      deadlineWheel.remove(this, this.#tick);
      this.#tick = undefined;
    }
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#unlinkParent?.();
    this.#unlinkParent = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The time ran out (called by the wheel or the clock's timer). */
  #expire(): void {
    this.#tick = undefined;
    this.#timer = undefined;
    const given = this.#label;
    const label = typeof given === 'object' ? given.deadlineLabel() : typeof given === 'function' ? given() : given;
    const budgetMs = this.#budgetMs;
    this.#abort(
      new BreakwaterError('BW_ERR_DEADLINE', `deadline${label === undefined ? '' : ` for ${label}`} exceeded (${budgetMs} ms)`, {
        details: { budgetMs, ...(label === undefined ? {} : { label }) },
      }),
    );
  }

  #abort(reason: unknown): void {
    this.dispose();
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const l = this.#listeners;
    this.#listeners = undefined;
    if (Array.isArray(l)) for (const listener of l) call(listener, reason);
    else if (l !== undefined) call(l, reason);
  }
}
