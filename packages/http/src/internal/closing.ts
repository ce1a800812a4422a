import { BreakwaterError, closeDeadlineMs } from '@breakwater/core';
import type { Controller, Handler } from '../layers/types.js';
import { ForwardingHandler } from './forward.js';
import { type Abortable, type InFlight, settle, track } from './inFlight.js';

const CUT_HINT =
  'The client was closed while this request was in flight (waiting for its response, its body unread, or sleeping in a retry backoff). Read response bodies before close(), or give close() more time (`deadlineMs`, or the client’s `closeTimeoutMs`).';

/** The error an in-flight request ends with when the close cuts it short. */
function cutError(by: string): BreakwaterError {
  return new BreakwaterError('BW_ERR_CLOSED', `request cut short by ${by}`, { hint: CUT_HINT, details: { closedBy: by } });
}

/** The client's close()/destroy(): when the wait for requests in flight ends, and the teardown after it. */
export interface Closing {
  /** close() or destroy() was called: new requests are refused. */
  readonly closing: boolean;
  close(options?: unknown): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * close() waits for the requests in flight (a retry's backoff included) for at most `deadlineMs` (default
 * `closeTimeoutMs`), then aborts every one left with BW_ERR_CLOSED (a sleeping retry's timer is cleared) and
 * destroys the connections: `teardown(true)`. destroy() is the same with no wait. A later call with an earlier
 * end moves it forward. The promise resolves when no request, socket or timer of ours is left.
 */
export function closing(closeTimeoutMs: number, inFlight: InFlight, teardown: (now: boolean) => Promise<void>): Closing {
  let closed: Promise<void> | undefined;
  let cut: Promise<void> | undefined;
  let waiting = true; // requests in flight may still be cut
  let finished = false; // nothing is left: a later close() or destroy() has nothing to cut
  let endsAt = Number.POSITIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;

  const cutNow = (by: string): void => {
    if (cut !== undefined) return;
    clearTimeout(timer);
    for (const run of [...inFlight.runs]) run.abort(cutError(by));
    cut = teardown(true);
    inFlight.drained?.();
  };
  const limit = (ms: number, by: string): void => {
    const at = performance.now() + ms;
    if (finished || cut !== undefined || (!waiting && ms > 0) || at >= endsAt) return;
    endsAt = at;
    clearTimeout(timer);
    if (ms === 0) cutNow(by);
    else timer = setTimeout(() => cutNow(by), ms);
  };
  const start = (): Promise<void> =>
    (closed ??= (async () => {
      if (inFlight.runs.size > 0 && cut === undefined) await new Promise<void>((resolve) => (inFlight.drained = resolve));
      inFlight.drained = undefined;
      waiting = false;
      clearTimeout(timer);
      await (cut ?? teardown(false));
      await cut; // destroy() during a graceful teardown
      finished = true;
    })());

  return {
    get closing() {
      return closed !== undefined;
    },
    close(options) {
      let given: number | undefined;
      try {
        given = closeDeadlineMs(options);
      } catch (error) {
        return Promise.reject(error);
      }
      const done = start();
      limit(given ?? closeTimeoutMs, given === undefined ? `close() after closeTimeoutMs (${closeTimeoutMs} ms)` : `close({ deadlineMs: ${given} })`);
      return done;
    },
    destroy() {
      const done = start();
      limit(0, 'client.destroy()');
      return done;
    },
  };
}

/**
 * The composed path's count of a request in flight, until undici reports its end (body read), its error
 * or an upgrade. It can abort the request through the controller it is given, or as soon as it has one.
 */
export class TrackedHandler extends ForwardingHandler implements Abortable {
  #inFlight: InFlight | undefined;
  #controller: Controller | undefined;
  #cut: BreakwaterError | undefined;

  constructor(next: Handler, inFlight: InFlight) {
    super(next);
    this.#inFlight = inFlight;
    track(inFlight, this);
  }

  abort(reason: Error): void {
    this.#cut ??= reason as BreakwaterError;
    this.#controller?.abort(reason);
  }

  settle(): void {
    if (this.#inFlight !== undefined) settle(this.#inFlight, this);
    this.#inFlight = undefined;
  }

  override onRequestStart(controller: Controller, context: unknown): void {
    this.#controller = controller;
    super.onRequestStart(controller, context);
    if (this.#cut !== undefined) controller.abort(this.#cut);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<Handler['onRequestUpgrade'] & {}>[2], socket: never): void {
    this.settle();
    super.onRequestUpgrade(controller, statusCode, headers, socket);
  }

  override onResponseEnd(controller: Controller, trailers: Parameters<Handler['onResponseEnd'] & {}>[1]): void {
    this.settle();
    super.onResponseEnd(controller, trailers);
  }

  override onResponseError(controller: Controller, err: Error): void {
    this.settle();
    const cut = this.#cut;
    // Cut before it had a controller: undici reports the destroyed connection pool; the caller learns why.
    const out =
      cut === undefined || (err instanceof BreakwaterError && err.code === 'BW_ERR_CLOSED')
        ? err
        : new BreakwaterError('BW_ERR_CLOSED', cut.message, { cause: err, hint: cut.hint, details: { ...(err as BreakwaterError).details, ...cut.details } });
    super.onResponseError(controller, out);
  }
}

/** A request made after close(): nothing is sent, the caller gets BW_ERR_CLOSED. */
export function refuseClosed(handler: Handler, origin: string): true {
  const err = new BreakwaterError('BW_ERR_CLOSED', `request to ${origin} after client.close(): nothing was sent`, {
    details: { attempts: 0, retryDelayMs: 0 },
  });
  handler.onResponseError?.({ aborted: true, paused: false, reason: err, abort() {}, pause() {}, resume() {} }, err);
  return true;
}
