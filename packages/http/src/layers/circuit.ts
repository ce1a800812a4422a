import { type CircuitBreaker, type CircuitPolicyOptions, CircuitRegistry, type CircuitTicket } from '@breakwater/circuit';
import { ForwardingHandler, NO_CONTROLLER } from '../internal/forward.js';
import { withHook } from '../internal/hooks.js';
import type { Controller, Dispatch, DispatchOptions, Handler, Layer } from './types.js';

/** A 5xx response, thrown to the breaker so it counts; the caller still gets the response. */
export class ServerFailure {
  readonly status: number;
  constructor(status: number) {
    this.status = status;
  }
}

/**
 * One breaker per origin (@breakwater/circuit): 5xx responses and connection errors count, 4xx do not.
 * While open, requests fail at once with BW_ERR_CIRCUIT_OPEN, which the retry layer above never retries
 * (FM-12). The call is settled at the response's start, so a slow body never holds the breaker.
 *
 * While the breaker is closed (nearly always), a request is admitted with `admit()` and its outcome
 * reported with `record()`: the same counts, events and rolling window as `run()`, without a promise,
 * an AbortSignal and opossum's `fire()` per request (the layer applies no per-attempt time limit by
 * default: `attemptTimeoutMs` is 0 here, the deadline layer bounds the request; a policy that sets one
 * keeps every request on `run()`). Open or half-open, the request goes through `run()`, which fails fast
 * or makes it the single probe.
 */
export function circuitLayer(policy: CircuitPolicyOptions, registry: CircuitRegistry = new CircuitRegistry()): Layer & { registry: CircuitRegistry } {
  // Frozen: the registry checks them once, not on every request's circuitFor().
  const options = Object.freeze({ attemptTimeoutMs: 0, ...policy });
  // A per-attempt limit (a user's `circuit.attemptTimeoutMs`) is enforced by run() only.
  const fast = !(Number(options.attemptTimeoutMs) > 0);
  const layer = {
    role: 'circuit',
    description: 'a breaker per origin: 5xx and connection errors count; fail fast while open',
    registry,
    interceptor: (dispatch) => (opts, handler) => {
      const breaker = registry.circuitFor(String(opts.origin ?? ''), options);
      const ticket = fast ? breaker.admit() : undefined;
      if (ticket !== undefined) {
        const recording = new RecordingHandler(breaker, ticket, handler);
        try {
          return dispatch(opts as DispatchOptions, recording);
        } catch (err) {
          recording.onResponseError(NO_CONTROLLER, err as Error);
          return true;
        }
      }
      const call = new CircuitCall(dispatch, opts as DispatchOptions, handler);
      breaker.run(call.run).catch(call.rejected);
      return true;
    },
  } satisfies Layer & { registry: CircuitRegistry };
  return withHook(layer, { role: 'circuit', registry, options, fast });
}

/** A request admitted while the breaker was closed: reports its outcome at the response's start (or its error). */
class RecordingHandler extends ForwardingHandler {
  readonly #breaker: CircuitBreaker;
  readonly #ticket: CircuitTicket;
  #settled = false;

  constructor(breaker: CircuitBreaker, ticket: CircuitTicket, next: Handler) {
    super(next);
    this.#breaker = breaker;
    this.#ticket = ticket;
  }

  #record(outcome: unknown, threw: boolean): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#breaker.record(this.#ticket, outcome, threw);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onRequestUpgrade']>>[2], socket: never): void {
    this.#record(statusCode, false);
    this.next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  override onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Parameters<NonNullable<Handler['onResponseStart']>>[2],
    message?: string,
  ): void {
    // As run() sees it: a 5xx is thrown to the breaker (it counts), anything else is a result.
    if (statusCode >= 500) this.#record(new ServerFailure(statusCode), true);
    else this.#record(statusCode, false);
    this.next.onResponseStart?.(controller, statusCode, headers, message);
  }

  override onResponseError(controller: Controller, err: Error): void {
    this.#record(err, true);
    this.next.onResponseError?.(controller, err);
  }
}

/** One call through the breaker (open or half-open): the handler undici sees, and the action the breaker runs. */
class CircuitCall extends ForwardingHandler {
  readonly #dispatch: Dispatch;
  readonly #opts: DispatchOptions;
  #started = false;
  #settled = false;
  #resolve: ((v: unknown) => void) | undefined;
  #reject: ((e: unknown) => void) | undefined;

  constructor(dispatch: Dispatch, opts: DispatchOptions, next: Handler) {
    super(next);
    this.#dispatch = dispatch;
    this.#opts = opts;
  }

  /** The breaker's action: dispatches, and settles at the response's start (or its error). */
  readonly run = (): Promise<unknown> =>
    new Promise<unknown>((resolve, reject) => {
      this.#started = true;
      this.#resolve = resolve;
      this.#reject = reject;
      try {
        this.#dispatch(this.#opts, this);
      } catch (err) {
        this.onResponseError(NO_CONTROLLER, err as Error);
      }
    });

  /** Rejected by the breaker before dispatching: tell the caller. Other outcomes were delivered already. */
  readonly rejected = (err: unknown): void => {
    if (!this.#started) this.next.onResponseError?.(NO_CONTROLLER, err as Error);
  };

  #succeed(statusCode: number): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve?.(statusCode);
  }

  #fail(reason: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject?.(reason);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onRequestUpgrade']>>[2], socket: never): void {
    this.#succeed(statusCode);
    this.next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  override onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Parameters<NonNullable<Handler['onResponseStart']>>[2],
    message?: string,
  ): void {
    if (statusCode >= 500) this.#fail(new ServerFailure(statusCode));
    else this.#succeed(statusCode);
    this.next.onResponseStart?.(controller, statusCode, headers, message);
  }

  override onResponseError(controller: Controller, err: Error): void {
    this.#fail(err);
    this.next.onResponseError?.(controller, err);
  }
}

/** For the breaker's `isFailure`: a thrown ServerFailure counts like a 5xx result. */
export function isServerFailure(v: unknown): v is ServerFailure {
  return v instanceof ServerFailure;
}
