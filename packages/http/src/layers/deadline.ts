import { BreakwaterError, classify, Deadline } from '@breakwater/core';
import { firstValue, setHeader, toRecord } from '../internal/headers.js';
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
      const headers = toRecord(o.headers);
      const incoming = Number(firstValue(headers[DEADLINE_HEADER]));
      let ms = typeof o.deadlineMs === 'number' ? o.deadlineMs : defaultMs;
      if (Number.isFinite(incoming) && incoming >= 0) ms = ms > 0 ? Math.min(ms, incoming) : incoming;
      const origin = String(o.origin ?? '');
      if (!(ms > 0)) return dispatch({ ...o, headers }, classifying(handler, origin));
      // The label is built only if the deadline fires; no AbortSignal is created unless someone reads it.
      const label = () => `${o.method} ${origin}${o.path}`;
      const deadline = Deadline.after(ms, o.signal instanceof AbortSignal ? { label, parent: o.signal } : { label });
      const next = { ...o, headers: setHeader(headers, o.headers, DEADLINE_HEADER, String(Math.round(ms))), [kDeadline]: deadline };
      return dispatch(next, new DeadlineHandler(handler, deadline, origin));
    },
  };
}

function errorFor(err: unknown, origin: string): Error {
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
    onResponseStart: (c, s, h, m) => handler.onResponseStart?.(c, s, h, m),
    onResponseData: (c, d) => handler.onResponseData?.(c, d),
    onResponseEnd: (c, t) => handler.onResponseEnd?.(c, t),
    onResponseError: (c, e) => handler.onResponseError?.(c, errorFor(e, origin)),
  };
}

class DeadlineHandler implements Handler {
  readonly #next: Handler;
  readonly #deadline: Deadline;
  readonly #origin: string;
  /** The controller to abort when the deadline fires; set while this handler listens on its signal. */
  #controller: Controller | undefined;

  constructor(next: Handler, deadline: Deadline, origin: string) {
    this.#next = next;
    this.#deadline = deadline;
    this.#origin = origin;
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
    const reason = this.#deadline.expired && !keep ? this.#deadline.signal.reason : err;
    this.#done();
    this.#next.onResponseError?.(controller, errorFor(reason, this.#origin));
  }

  #done(): void {
    if (this.#controller !== undefined) {
      this.#deadline.offAbort(this.#onAbort);
      this.#controller = undefined;
    }
    this.#deadline.dispose();
  }
}
