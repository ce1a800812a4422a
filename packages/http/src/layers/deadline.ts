import { BreakwaterError, classify, Deadline } from '@breakwater/core';
import { getHeader, replayable, withHeader } from '../internal/headers.js';
import { isUsageError } from '../internal/rewrite.js';
import { kDeadline } from '../internal/symbols.js';
import type { Controller, DispatchOptions, Handler, Layer } from './types.js';

/** Carries the time left to the next tier, which never works longer than its caller waits (FM-11). */
export const DEADLINE_HEADER = 'x-breakwater-deadline-ms';

/**
 * The total deadline of a request: `deadlineMs` per request (dispatch option) or the client's, lowered
 * by an incoming `x-breakwater-deadline-ms`. Aborts the request in flight with BW_ERR_DEADLINE and sets
 * the header (time left) on what goes downstream. Every error leaving the stack is classified here.
 */
export function deadlineLayer(defaultMs: number): Layer {
  return {
    role: 'deadline',
    description: 'total time for every attempt and backoff; propagated as x-breakwater-deadline-ms',
    interceptor: (dispatch) => (opts, handler) => {
      const o = opts as DispatchOptions & { deadlineMs?: number; signal?: AbortSignal };
      // Read once (a one-shot iterable of headers is read here and nowhere else); names keep their case.
      const headers = replayable(o.headers);
      const incoming = Number(getHeader(headers, DEADLINE_HEADER));
      let ms = typeof o.deadlineMs === 'number' ? o.deadlineMs : defaultMs;
      if (Number.isFinite(incoming) && incoming >= 0) ms = ms > 0 ? Math.min(ms, incoming) : incoming;
      const origin = String(o.origin ?? '');
      if (!(ms > 0)) return dispatch({ ...o, headers: headers as DispatchOptions['headers'] }, classifying(handler, origin));
      // The label is built only if the deadline fires; no AbortSignal is created unless someone reads it.
      const label = () => `${o.method} ${origin}${o.path}`;
      const deadline = Deadline.after(ms, o.signal instanceof AbortSignal ? { label, parent: o.signal } : { label });
      const next = { ...o, headers: withHeader(headers, DEADLINE_HEADER, String(Math.round(ms))) as DispatchOptions['headers'], [kDeadline]: deadline };
      return dispatch(next, new DeadlineHandler(handler, deadline, origin, o.signal));
    },
  };
}

/**
 * The error the caller gets. The caller's own abort reason (`controller.reason`) and undici's usage
 * errors pass unchanged, as without Breakwater; anything else is classified into a BreakwaterError
 * whose `cause` is the original.
 */
function errorFor(err: unknown, origin: string, controller?: Controller): Error {
  if ((controller?.aborted === true && controller.reason === err && !(err instanceof BreakwaterError)) || isUsageError(err)) return err as Error;
  let host: string | undefined;
  let port: number | undefined;
  try {
    const u = new URL(origin);
    host = u.hostname;
    port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
  } catch {}
  return classify(err, { ...(host === undefined ? {} : { host }), ...(port === undefined ? {} : { port }) });
}

function classifying(handler: Handler, origin: string): Handler {
  return {
    onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
    onRequestUpgrade: (c, s, h, sock) => handler.onRequestUpgrade?.(c, s, h, sock),
    onResponseStarted: () => handler.onResponseStarted?.(),
    onRequestSent: () => handler.onRequestSent?.(),
    onBodySent: (chunk) => handler.onBodySent?.(chunk),
    onResponseStart: (c, s, h, m) => handler.onResponseStart?.(c, s, h, m),
    onResponseData: (c, d) => handler.onResponseData?.(c, d),
    onResponseEnd: (c, t) => handler.onResponseEnd?.(c, t),
    onResponseError: (c, e) => handler.onResponseError?.(c, errorFor(e, origin, c)),
  };
}

class DeadlineHandler implements Handler {
  readonly #next: Handler;
  readonly #deadline: Deadline;
  readonly #origin: string;
  /** The caller's signal (the deadline's parent): its reason reaches the caller unchanged. */
  readonly #signal: AbortSignal | undefined;
  /** The controller to abort when the deadline fires; set while this handler listens on its signal. */
  #controller: Controller | undefined;

  constructor(next: Handler, deadline: Deadline, origin: string, signal: AbortSignal | undefined) {
    this.#next = next;
    this.#deadline = deadline;
    this.#origin = origin;
    this.#signal = signal instanceof AbortSignal ? signal : undefined;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    if (this.#controller === undefined) {
      this.#controller = controller;
      // Called at once if the deadline has passed already.
      this.#deadline.onAbort(this.#onAbort);
    } else this.#controller = controller;
    this.#next.onRequestStart?.(controller, context);
  }

  /** The deadline aborted: abort the request in flight. */
  readonly #onAbort = (reason: unknown): void => {
    this.#controller?.abort(reason as Error);
  };

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onRequestUpgrade']>>[2], socket: never): void {
    this.#done();
    this.#next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.#next.onResponseStarted?.();
  }

  onRequestSent(): void {
    this.#next.onRequestSent?.();
  }

  onBodySent(chunk: Buffer): void {
    this.#next.onBodySent?.(chunk);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onResponseStart']>>[2], message?: string): void {
    this.#next.onResponseStart?.(controller, statusCode, headers, message);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#next.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Parameters<NonNullable<Handler['onResponseEnd']>>[1]): void {
    this.#done();
    this.#next.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, err: Error): void {
    const keep = err instanceof BreakwaterError && err.code === 'BW_ERR_DEADLINE';
    // The caller aborted (their signal is the deadline's parent): their reason, as undici would give it.
    const callerAborted = this.#signal?.aborted === true;
    const reason = callerAborted ? this.#signal?.reason : this.#deadline.expired && !keep ? this.#deadline.signal.reason : err;
    this.#done();
    this.#next.onResponseError?.(controller, callerAborted && !(reason instanceof BreakwaterError) ? reason : errorFor(reason, this.#origin, controller));
  }

  #done(): void {
    if (this.#controller !== undefined) {
      this.#deadline.offAbort(this.#onAbort);
      this.#controller = undefined;
    }
    this.#deadline.dispose();
  }
}
