import { EventEmitter } from 'node:events';
import { BreakwaterError, type Closeable, channel, MAX_TIMER_MS, publisher, type TimerHandle, validateFunction, validateSignal } from '@breakwater/core';
import { type CircuitOptions, type ResolvedCircuitOptions, resolveCircuitOptions } from './defaults.js';
import { type Call, startCall } from './internal/call.js';
import { isOpossumError, Opossum, type OpossumBreaker } from './internal/opossum.js';
import { defaultIsFailure } from './isFailure.js';
import type { Action, CallContext, CircuitEvents, CircuitState, CircuitStats, CircuitTicket } from './types.js';

export type { Action, CallContext, CircuitEvents, CircuitState, CircuitStats, CircuitTicket } from './types.js';

const publish = publisher('circuit');
const succeeded = channel('circuit', 'succeeded');

/** A resolved result that counts as a failure (e.g. a 503 response): thrown to opossum, returned to the caller. */
class FailedResult {
  constructor(readonly result: unknown) {}
}

type Job = { run: () => Promise<unknown>; counts: (error: unknown) => boolean };

const NO_ARGS: readonly unknown[] = Object.freeze([]);

/**
 * A circuit breaker for one upstream, on opossum. opossum counts calls over
 * its rolling window and decides when to open; Breakwater adds what network
 * calls need and opossum gets wrong (each guarded by a test):
 * - a per-call AbortSignal and time limit (opossum's `abortController` is one
 *   controller for every call, left aborted after a timeout);
 * - the open → half-open transition on the injected monotonic clock, with
 *   jitter and a doubling reset timeout after each failed probe;
 * - exactly one probe in half-open, bounded by `probeTimeoutMs`, run outside
 *   opossum: opossum counts an `errorFilter`ed error as a success, which
 *   would close a half-open breaker on a 4xx;
 * - a fresh rolling window on close, so the outage's failures do not re-open
 *   the breaker on the first error after recovery.
 * Rejections are `BW_ERR_CIRCUIT_OPEN` (retryable: false) with `{ key, state, retryInMs }`.
 */
export class CircuitBreaker<A extends unknown[] = unknown[], R = unknown> extends EventEmitter<CircuitEvents> implements Closeable {
  readonly key: string;
  readonly #o: ResolvedCircuitOptions;
  readonly #action: Action<A, R> | undefined;
  readonly #isFailure: (outcome: unknown, info: { threw: boolean }) => boolean;
  readonly #rotation = new EventEmitter();
  #breaker: OpossumBreaker<[Job], unknown>;
  /** The ticket of the current opossum instance (a new one on every close, with the fresh window). */
  #ticket: CircuitTicket;
  #state: CircuitState = 'closed';
  #shutdown = false;
  #failedProbes = 0;
  #halfOpenAt = 0;
  #probing = false;
  #probeEndsAt = 0;
  #resetTimer: TimerHandle | undefined;
  #rotationTimer: TimerHandle | undefined;
  /** Clock time of the last call admitted or run; the window rotates only while it holds calls. */
  #lastCallAt = Number.NEGATIVE_INFINITY;
  readonly #totals = { calls: 0, succeeded: 0, failed: 0, rejected: 0, timedOut: 0, opened: 0 };

  constructor(action?: Action<A, R>, options?: CircuitOptions) {
    super();
    if (action !== undefined) validateFunction(action, 'fn');
    this.#o = resolveCircuitOptions(options, 'circuit()', action?.name || 'circuit');
    this.key = this.#o.key;
    this.#action = action;
    this.#isFailure = this.#o.isFailure ?? defaultIsFailure;
    this.#breaker = this.#newBreaker();
    this.#ticket = Object.freeze({ key: this.key });
  }

  /**
   * Milliseconds since the last call (Infinity before the first). A closed breaker idle for longer than
   * its rolling window holds nothing a fresh one would not: its window is empty and its timer stopped.
   */
  idleMs(): number {
    return this.#o.clock.now() - this.#lastCallAt;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** True once `close()` (or `destroy()`) ran: every call fails with BW_ERR_CLOSED. Not to be confused with the `closed` state. */
  get isShutDown(): boolean {
    return this.#shutdown;
  }

  /** Calls the breaker's own function with `args`. */
  fire(...args: A): Promise<R> {
    const action = this.#action;
    if (action === undefined) {
      return Promise.reject(
        new BreakwaterError('BW_ERR_INVALID_OPTION', `circuit ${this.key} has no \`fn\`: pass one to circuitFor(), or use run(fn)`, { details: { key: 'fn' } }),
      );
    }
    return this.run((context) => action(context, ...args));
  }

  /** Runs any call to this upstream through the breaker. */
  async run<T>(fn: (context: CallContext) => T | Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    validateFunction(fn, 'fn');
    const signal = validateSignal(options.signal);
    if (this.#shutdown) throw new BreakwaterError('BW_ERR_CLOSED', `circuit ${this.key} was shut down`, { details: { key: this.key } });
    this.#touch();
    this.#totals.calls++;
    if (this.#state === 'open' || (this.#state === 'halfOpen' && this.#probing)) throw this.#reject();
    if (this.#state === 'halfOpen') return this.#probe(fn, signal);
    const call = this.#start(signal, this.#o.attemptTimeoutMs, false);
    const job: Job = {
      run: () => this.#attempt(call, fn, false),
      counts: (error) => error instanceof FailedResult || this.#counts(error, call),
    };
    try {
      return (await this.#breaker.fire(job)) as T;
    } catch (error) {
      if (error instanceof FailedResult) return error.result as T;
      // Tripped by another call between our state check and opossum's.
      if (isOpossumError(error, 'EOPENBREAKER')) throw this.#reject();
      throw error;
    } finally {
      call.dispose();
    }
  }

  /**
   * The closed-state fast path, for callers that observe each call's outcome
   * themselves (an HTTP interceptor sees the response start): while closed,
   * counts the call and returns a ticket; report the outcome with
   * {@link CircuitBreaker.record}. Otherwise (open, half-open, shut down)
   * returns undefined: call `run()`, which fails fast or runs the single
   * half-open probe.
   *
   * The call gets no per-call time limit or signal from the breaker (use
   * `run()` for those: `attemptTimeoutMs` applies only there). Everything
   * else is as with `run()`: the rolling window, the `succeeded`/`failed`
   * events, the totals, and opening on the same threshold.
   */
  admit(): CircuitTicket | undefined {
    if (this.#state !== 'closed' || this.#shutdown) return undefined;
    this.#touch();
    this.#totals.calls++;
    this.#breaker.emit('fire', NO_ARGS);
    return this.#ticket;
  }

  /**
   * Reports the outcome of a call admitted by {@link CircuitBreaker.admit}:
   * `threw` says whether `outcome` is an error or a result; `isFailure`
   * decides whether it counts. A ticket from before the breaker last opened
   * (the window it was counted in is gone) changes nothing.
   */
  record(ticket: CircuitTicket, outcome: unknown, threw: boolean): void {
    const counts = this.#isFailure(outcome, { threw });
    if (counts) {
      this.#totals.failed++;
      this.#emit('failed', threw ? { key: this.key, probe: false, error: outcome } : { key: this.key, probe: false, result: outcome });
    } else if (!threw) {
      this.#totals.succeeded++;
      // The hot path (every request while closed): no event object when nobody listens.
      if (succeeded.hasSubscribers || this.listenerCount('succeeded') > 0) this.#emit('succeeded', { key: this.key, probe: false });
    }
    if (ticket !== this.#ticket || this.#state !== 'closed' || this.#shutdown) return;
    const b = this.#breaker;
    if (!counts) {
      // What opossum does for a result, and for an error its errorFilter lets through.
      b.emit('success', undefined, 0);
      return;
    }
    // opossum 10's fail() (lib/circuit.js), which is not exported: count, then open on the threshold.
    b.emit('failure', outcome, 0, NO_ARGS);
    const w = b.stats;
    if (w.fires < this.#o.volumeThreshold) return;
    if ((w.failures / w.fires) * 100 > this.#o.errorThresholdPercentage) b.open();
  }

  stats(): CircuitStats {
    const w = this.#breaker.stats;
    return {
      key: this.key,
      state: this.#state,
      retryInMs: this.#retryInMs(),
      failedProbes: this.#failedProbes,
      window: { fires: w.fires, successes: w.successes, failures: w.failures },
      totals: { ...this.#totals },
    };
  }

  /**
   * Stops every timer; later calls fail with BW_ERR_CLOSED. Calls in flight
   * finish on their own (a breaker holds no connection), so there is nothing
   * to wait for and no separate `destroy()`. Idempotent.
   */
  close(): Promise<void> {
    this.#stop();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** @deprecated Renamed `close()`; kept for one release. */
  shutdown(): void {
    this.#stop();
  }

  #stop(): void {
    this.#shutdown = true;
    this.#o.clock.clearTimeout(this.#resetTimer);
    this.#o.clock.clearTimeout(this.#rotationTimer);
    this.#breaker.shutdown();
  }

  #newBreaker(): OpossumBreaker<[Job], unknown> {
    const o = this.#o;
    const breaker = new Opossum((job: Job) => job.run(), {
      name: this.key,
      // Per-call time limits are ours (startCall): opossum's timeout neither
      // cancels the action nor keeps one call's abort from reaching the others.
      timeout: false,
      // Never fires in practice: open → half-open runs on the injected clock.
      resetTimeout: MAX_TIMER_MS,
      errorThresholdPercentage: o.errorThresholdPercentage,
      volumeThreshold: o.volumeThreshold,
      rollingCountTimeout: o.rollingCountTimeoutMs,
      rollingCountBuckets: o.rollingCountBuckets,
      // Buckets rotate on the injected clock instead of a setInterval.
      rotateBucketController: this.#rotation,
      // Its latencies are Date.now() differences: wrong across a clock jump (FM-15).
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      errorFilter: (error, job) => !job.counts(error),
    });
    breaker.on('open', () => {
      if (this.#state === 'closed' && !this.#shutdown) this.#open(0);
    });
    return breaker;
  }

  /** A call: note the time, and restart the window's rotation if it had stopped. */
  #touch(): void {
    this.#lastCallAt = this.#o.clock.now();
    if (this.#rotationTimer === undefined && !this.#shutdown) this.#rotate();
  }

  /**
   * Rotates the window's buckets while it may hold calls: once a whole window has passed without one,
   * every bucket is empty and the timer stops, so an idle breaker (one per origin) costs no timer.
   */
  #rotate(): void {
    const bucketMs = this.#o.rollingCountTimeoutMs / this.#o.rollingCountBuckets;
    this.#rotationTimer = this.#o.clock.setTimeout(() => {
      this.#rotation.emit('rotate');
      if (this.#o.clock.now() - this.#lastCallAt > this.#o.rollingCountTimeoutMs + bucketMs) this.#rotationTimer = undefined;
      else this.#rotate();
    }, bucketMs);
  }

  #start(signal: AbortSignal | undefined, timeoutMs: number, probe: boolean): Call {
    return startCall({ key: this.key, timeoutMs, clock: this.#o.clock, callerSignal: signal, probe });
  }

  #counts(error: unknown, call: Call): boolean {
    return !call.callerAborted && (call.timedOut || this.#isFailure(error, { threw: true }));
  }

  /** Runs one call; emits its outcome; throws FailedResult for a result that counts as a failure. */
  async #attempt<T>(call: Call, fn: (context: CallContext) => T | Promise<T>, probe: boolean): Promise<T> {
    let result: T;
    try {
      result = await call.run((signal) => fn({ signal, key: this.key, probe }));
    } catch (error) {
      if (call.timedOut) {
        this.#totals.timedOut++;
        this.#emit('timedOut', { key: this.key, probe, timeoutMs: call.timeoutMs });
      }
      if (this.#counts(error, call)) {
        this.#totals.failed++;
        this.#emit('failed', { key: this.key, probe, error });
      }
      throw error;
    }
    if (this.#isFailure(result, { threw: false })) {
      this.#totals.failed++;
      this.#emit('failed', { key: this.key, probe, result });
      throw new FailedResult(result);
    }
    this.#totals.succeeded++;
    this.#emit('succeeded', { key: this.key, probe });
    return result;
  }

  async #probe<T>(fn: (context: CallContext) => T | Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    this.#probing = true;
    const o = this.#o;
    const timeoutMs = o.attemptTimeoutMs > 0 ? Math.min(o.attemptTimeoutMs, o.probeTimeoutMs) : o.probeTimeoutMs;
    this.#probeEndsAt = o.clock.now() + timeoutMs;
    const call = this.#start(signal, timeoutMs, true);
    try {
      const result = await this.#attempt(call, fn, true);
      if (this.#state === 'halfOpen' && !this.#shutdown) this.#close();
      return result;
    } catch (error) {
      const failed = error instanceof FailedResult || this.#counts(error, call);
      // A client error or a caller abort says nothing about the upstream:
      // stay half-open and let the next caller probe.
      if (failed && this.#state === 'halfOpen' && !this.#shutdown) this.#open(this.#failedProbes + 1);
      if (error instanceof FailedResult) return error.result as T;
      throw error;
    } finally {
      this.#probing = false;
      call.dispose();
    }
  }

  #open(failedProbes: number): void {
    const o = this.#o;
    this.#state = 'open';
    this.#failedProbes = failedProbes;
    const nominal = Math.min(o.maxResetTimeoutMs, o.resetTimeoutMs * 2 ** Math.min(failedProbes, 40));
    const r = o.random();
    const jitter = Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) : 0;
    const delay = nominal * (1 - o.resetJitterRatio * jitter);
    this.#halfOpenAt = o.clock.now() + delay;
    o.clock.clearTimeout(this.#resetTimer);
    this.#resetTimer = o.clock.setTimeout(() => {
      this.#resetTimer = undefined;
      if (this.#state !== 'open' || this.#shutdown) return;
      this.#state = 'halfOpen';
      this.#emit('halfOpened', { key: this.key });
    }, delay);
    this.#totals.opened++;
    this.#emit('opened', { key: this.key, retryInMs: delay, failedProbes });
  }

  #close(): void {
    this.#state = 'closed';
    this.#failedProbes = 0;
    // A fresh rolling window: the outage's failures must not re-open the breaker on the next error.
    this.#breaker.shutdown();
    this.#breaker = this.#newBreaker();
    this.#ticket = Object.freeze({ key: this.key });
    this.#emit('closed', { key: this.key });
  }

  #retryInMs(): number {
    const now = this.#o.clock.now();
    if (this.#state === 'open') return Math.max(0, this.#halfOpenAt - now);
    if (this.#state === 'halfOpen' && this.#probing) return Math.max(0, this.#probeEndsAt - now);
    return 0;
  }

  #reject(): BreakwaterError {
    const state = this.#state;
    const retryInMs = Math.round(this.#retryInMs());
    this.#totals.rejected++;
    this.#emit('rejected', { key: this.key, state, retryInMs });
    const why = state === 'open' ? 'open' : 'half-open with its probe in flight';
    return new BreakwaterError('BW_ERR_CIRCUIT_OPEN', `circuit for ${this.key} is ${why}: failing fast (next probe in ${retryInMs} ms)`, {
      details: { key: this.key, state, retryInMs },
    });
  }

  #emit<E extends keyof CircuitEvents>(event: E, payload: CircuitEvents[E][0]): void {
    publish(event, payload);
    (this.emit as (e: E, p: CircuitEvents[E][0]) => boolean)(event, payload);
  }
}
