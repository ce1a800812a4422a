import { type CircuitPolicyOptions, CircuitRegistry } from '@breakwater/circuit';
import type { Controller, Handler, Layer } from './types.js';

const noController: Controller = {
  aborted: true,
  paused: false,
  reason: null,
  abort() {},
  pause() {},
  resume() {},
};

/** A 5xx response, thrown to the breaker so it counts; the caller still gets the response. */
class ServerFailure {
  readonly status: number;
  constructor(status: number) {
    this.status = status;
  }
}

/**
 * One breaker per origin (@breakwater/circuit): 5xx responses and connection errors count, 4xx do not.
 * While open, requests fail at once with BW_ERR_CIRCUIT_OPEN, which the retry layer above never retries
 * (FM-12). The call is settled at the response's start, so a slow body never holds the breaker.
 */
export function circuitLayer(policy: CircuitPolicyOptions, registry: CircuitRegistry = new CircuitRegistry()): Layer & { registry: CircuitRegistry } {
  const options = { attemptTimeoutMs: 0, ...policy };
  return {
    role: 'circuit',
    description: 'a breaker per origin: 5xx and connection errors count; fail fast while open',
    registry,
    interceptor: (dispatch) => (opts, handler) => {
      const key = String(opts.origin ?? '');
      const breaker = registry.circuitFor(key, undefined, options);
      let started = false;
      breaker
        .run(
          () =>
            new Promise<unknown>((resolve, reject) => {
              started = true;
              let settled = false;
              const settle = (fn: () => void) => {
                if (!settled) {
                  settled = true;
                  fn();
                }
              };
              const wrapped: Handler = {
                onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
                onRequestUpgrade: (c, s, h, sock) => {
                  settle(() => resolve(s));
                  handler.onRequestUpgrade?.(c, s, h, sock);
                },
                onResponseStart: (c, s, h, m) => {
                  settle(() => (s >= 500 ? reject(new ServerFailure(s)) : resolve(s)));
                  handler.onResponseStart?.(c, s, h, m);
                },
                onResponseData: (c, d) => handler.onResponseData?.(c, d),
                onResponseEnd: (c, t) => handler.onResponseEnd?.(c, t),
                onResponseError: (c, e) => {
                  settle(() => reject(e));
                  handler.onResponseError?.(c, e);
                },
              };
              try {
                dispatch(opts, wrapped);
              } catch (err) {
                wrapped.onResponseError?.(noController, err as Error);
              }
            }),
        )
        .catch((err: unknown) => {
          // Rejected by the breaker before dispatching: tell the caller. Other outcomes were delivered already.
          if (!started) handler.onResponseError?.(noController, err as Error);
        });
      return true;
    },
  };
}

/** For the breaker's `isFailure`: a thrown ServerFailure counts like a 5xx result. */
export function isServerFailure(v: unknown): v is ServerFailure {
  return v instanceof ServerFailure;
}
