import { BreakwaterError } from './BreakwaterError.js';
import { type Clock, monotonicClock, type TimerHandle } from './Clock.js';
import { validateNumber } from './validate.js';

export interface DeadlineOptions {
  /** @defaultValue the monotonic clock */
  clock?: Clock;
  /** A parent deadline or caller signal: when it aborts, so does this deadline. */
  parent?: Deadline | AbortSignal;
  /** Named in the BW_ERR_DEADLINE message, e.g. `GET /users`. */
  label?: string;
}

/**
 * A point in monotonic time after which an operation is pointless, exposed as
 * an `AbortSignal` so it can be handed to undici, p-retry, timers and sockets.
 * Child deadlines never outlive their parent; a parent abort (deadline or
 * caller cancel) reaches every child with the parent's reason.
 *
 * Call {@link Deadline.dispose} (or use `using`) when the operation ends so
 * the timer and listeners are released.
 *
 * @example
 * using d = Deadline.after(2_000, { parent: req.signal });
 * const attempt = d.child(500); // min(500 ms, what is left)
 */
export class Deadline implements Disposable {
  readonly signal: AbortSignal;
  /** Monotonic time (clock.now() scale) at which the deadline fires; Infinity for none. */
  readonly expiresAt: number;
  readonly #clock: Clock;
  readonly #controller = new AbortController();
  #timer: TimerHandle | undefined;
  #unlinkParent: (() => void) | undefined;

  private constructor(expiresAt: number, options: DeadlineOptions) {
    this.#clock = options.clock ?? monotonicClock;
    this.expiresAt = expiresAt;
    this.signal = this.#controller.signal;
    const parentSignal = options.parent instanceof Deadline ? options.parent.signal : options.parent;
    if (parentSignal?.aborted) {
      this.#controller.abort(parentSignal.reason);
      return;
    }
    if (parentSignal !== undefined) {
      const onAbort = () => this.#abort(parentSignal.reason);
      parentSignal.addEventListener('abort', onAbort, { once: true });
      this.#unlinkParent = () => parentSignal.removeEventListener('abort', onAbort);
    }
    if (Number.isFinite(expiresAt)) {
      const label = options.label === undefined ? '' : ` for ${options.label}`;
      const budget = Math.round(expiresAt - this.#clock.now());
      const fire = () =>
        this.#abort(
          new BreakwaterError('BW_ERR_DEADLINE', `deadline${label} exceeded (${budget} ms)`, {
            details: { budgetMs: budget, ...(options.label === undefined ? {} : { label: options.label }) },
          }),
        );
      const delay = expiresAt - this.#clock.now();
      if (delay <= 0) fire();
      else this.#timer = this.#clock.setTimeout(fire, delay);
    }
  }

  /** A deadline `ms` from now (bounded by `parent`, if given). */
  static after(ms: number, options: DeadlineOptions = {}): Deadline {
    validateNumber(ms, 'ms', { min: 0, allowInfinity: true });
    const clock = options.clock ?? monotonicClock;
    const own = clock.now() + ms;
    const parentAt = options.parent instanceof Deadline ? options.parent.expiresAt : Number.POSITIVE_INFINITY;
    return new Deadline(Math.min(own, parentAt), { ...options, clock });
  }

  /** No time limit; still cancellable through `parent`. */
  static none(options: DeadlineOptions = {}): Deadline {
    const parentAt = options.parent instanceof Deadline ? options.parent.expiresAt : Number.POSITIVE_INFINITY;
    return new Deadline(parentAt, options);
  }

  /** Milliseconds left, 0 when expired or aborted; Infinity for none. */
  remainingMs(): number {
    if (this.signal.aborted) return 0;
    return Math.max(0, this.expiresAt - this.#clock.now());
  }

  get expired(): boolean {
    return this.signal.aborted;
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
    if (this.signal.aborted) throw this.signal.reason;
  }

  /** Releases the timer and the parent listener. Safe to call twice. */
  dispose(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unlinkParent?.();
    this.#unlinkParent = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #abort(reason: unknown): void {
    this.dispose();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }
}
