import { BreakwaterError, classify, Deadline, type DeadlineLabel, ERROR_CODES, validateNumber } from '@breakwater/core';
import { RETRY_MARKER_HEADER } from '@breakwater/retry';
import { ForwardingHandler } from '../internal/forward.js';
import { getHeader, replayable, withHeader } from '../internal/headers.js';
import { withHook } from '../internal/hooks.js';
import { isUsageError } from '../internal/rewrite.js';
import { kDeadline, kNoPropagate } from '../internal/symbols.js';
import { currentInbound, DEADLINE_HEADER, parseDeadlineHeader, propagationPolicy, remainingOf } from '../propagate.js';
import type { Controller, DispatchOptions, Handler, Layer } from './types.js';

export { DEADLINE_HEADER };

/** Per-request options the deadline layer reads from the dispatch options (`client.request(url, { … })`). */
export interface DeadlineRequestOptions {
  /** Total time for this request, attempts and backoff included; 0 = none (streams). Overrides the client's. */
  deadlineMs?: number;
  /** Time to the response headers per attempt; 0 = none. Overrides the client's `headersTimeoutMs`. */
  headersTimeoutMs?: number;
  /** Longest gap between two body chunks; 0 = none. Overrides the client's `bodyTimeoutMs`. */
  bodyTimeoutMs?: number;
}

export interface DeadlineLayerOptions {
  /** Whether an origin receives the deadline and retry-marker headers (see `propagate`). @defaultValue internal origins */
  propagate?: (origin: string) => boolean;
}

const MAX_MS = 86_400_000;
const perRequestMs = (v: unknown, key: string): number | undefined =>
  v === undefined ? undefined : validateNumber(v, key, { min: 0, max: MAX_MS, integer: true });

const GENERIC_DEADLINE_HINT: string = ERROR_CODES.BW_ERR_DEADLINE.hint;

/**
 * The total deadline of a request: `deadlineMs` per request or the client's, lowered by the inbound request's
 * deadline (the ambient one from `inboundDeadline()`, or an `x-breakwater-deadline-ms` the caller set), so
 * each tier works only for the time its caller still waits. An already expired budget fails at once, before
 * anything is sent. Sets the header (time left) and forwards the retry marker to origins `propagate` admits.
 * Every error leaving the stack is classified here.
 */
export function deadlineLayer(defaultMs: number, options: DeadlineLayerOptions = {}): Layer {
  const propagate = options.propagate ?? propagationPolicy('internal');
  const layer: Layer = {
    role: 'deadline',
    description: 'total time for every attempt and backoff; the inbound deadline lowers it; propagated as x-breakwater-deadline-ms',
    interceptor: (dispatch) => (opts, handler) => {
      const o = opts as DispatchOptions & DeadlineRequestOptions & { signal?: AbortSignal };
      const plan: DeadlinePlan = { headers: undefined, source: '', send: false, headersTimeout: undefined, bodyTimeout: undefined, deadline: undefined };
      const refused = planDeadline(o, defaultMs, propagate, plan);
      if (refused !== undefined) return failFast(handler, refused);
      const origin = String(o.origin ?? '');
      const next: DispatchOptions = { ...o, headers: plan.headers as DispatchOptions['headers'] };
      if (plan.headersTimeout !== undefined) next.headersTimeout = plan.headersTimeout;
      if (plan.bodyTimeout !== undefined) next.bodyTimeout = plan.bodyTimeout;
      if (!plan.send) next[kNoPropagate] = true;
      if (plan.deadline === undefined) return dispatch(next, classifying(handler, origin));
      next[kDeadline] = plan.deadline;
      return dispatch(next, new DeadlineHandler(handler, plan.deadline, origin, plan.source, o.signal));
    },
  };
  return withHook(layer, { role: 'deadline', defaultMs, propagate });
}

/** A request's deadline, as planDeadline() works it out (set on a FusedRun, or on an object of its own). */
export interface DeadlinePlan {
  /** The headers of every attempt: read once, plus the deadline header and the inbound retry marker if sent. */
  headers: unknown;
  /** Where the budget came from: `client`, `request`, `header` or `inbound`. */
  source: string;
  /** Whether the origin gets the deadline and retry-marker headers (`propagate`). */
  send: boolean;
  headersTimeout: number | undefined;
  bodyTimeout: number | undefined;
  /** Undefined when the request has no deadline (`deadlineMs: 0`). */
  deadline: Deadline | undefined;
}

/**
 * Works out the request's deadline into `into`; returns the error to fail with at once, before anything
 * is sent (an invalid per-request option, or a budget already spent), else undefined. `label` names the
 * request in BW_ERR_DEADLINE (`GET http://host/path`); the FusedRun is its own, so no closure per request.
 */
export function planDeadline(
  o: DispatchOptions & DeadlineRequestOptions & { signal?: AbortSignal },
  defaultMs: number,
  propagate: (origin: string) => boolean,
  into: DeadlinePlan,
  origin = String(o.origin ?? ''),
  label: DeadlineLabel | (() => string) = () => `${o.method} ${origin}${o.path}`,
): Error | undefined {
  let own: number | undefined;
  try {
    own = perRequestMs(o.deadlineMs, 'deadlineMs');
    into.headersTimeout = perRequestMs(o.headersTimeoutMs, 'headersTimeoutMs');
    into.bodyTimeout = perRequestMs(o.bodyTimeoutMs, 'bodyTimeoutMs');
  } catch (err) {
    return err as Error;
  }
  // Read once (a one-shot iterable of headers is read here and nowhere else); names keep their case.
  let headers = replayable(o.headers);
  let ms = (own ?? defaultMs) > 0 ? (own ?? defaultMs) : Number.POSITIVE_INFINITY;
  let source = own === undefined ? 'client' : 'request';
  const fromHeader = parseDeadlineHeader(getHeader(headers, DEADLINE_HEADER));
  if (fromHeader !== undefined && fromHeader < ms) [ms, source] = [fromHeader, 'header'];
  const inbound = currentInbound();
  if (inbound !== undefined && remainingOf(inbound) < ms) [ms, source] = [remainingOf(inbound), 'inbound'];
  if (ms <= 0) {
    return new BreakwaterError('BW_ERR_DEADLINE', `deadline for ${o.method} ${origin}${o.path} had passed before it was sent (${source} budget)`, {
      hint: 'The caller’s budget ran out before this call started: nothing was sent. Answer the caller now (it no longer waits) rather than start more work.',
      details: { budgetMs: 0, source, attempts: 0, retryDelayMs: 0 },
    });
  }
  const send = propagate(origin);
  if (send && inbound?.retryMarker !== undefined && getHeader(headers, RETRY_MARKER_HEADER) === undefined) {
    headers = withHeader(headers, RETRY_MARKER_HEADER, inbound.retryMarker);
  }
  into.source = source;
  into.send = send;
  if (Number.isFinite(ms)) {
    // The label is built only if the deadline fires; no AbortSignal is created unless someone reads it.
    into.deadline = Deadline.after(ms, o.signal instanceof AbortSignal ? { label, parent: o.signal } : { label });
    if (send) headers = withHeader(headers, DEADLINE_HEADER, String(Math.floor(ms)));
  }
  into.headers = headers;
  return undefined;
}

/** Ends a request that must not be sent: the handler sees only the error, as for a refused retry. */
export function failFast(handler: Handler, err: Error): true {
  handler.onResponseError?.({ aborted: true, paused: false, reason: err, abort() {}, pause() {}, resume() {} }, err);
  return true;
}

/**
 * The error the caller gets. The caller's own abort reason (`controller.reason`) and undici's usage
 * errors pass unchanged, as without Breakwater; anything else is classified into a BreakwaterError
 * whose `cause` is the original.
 */
export function errorFor(err: unknown, origin: string, controller?: Controller): Error {
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

/** A BW_ERR_DEADLINE that says what the request was waiting for when time ran out. */
function explained(err: BreakwaterError, waitingFor: 'headers' | 'body', source: string): BreakwaterError {
  if (err.hint !== GENERIC_DEADLINE_HINT) return err;
  const hint =
    waitingFor === 'headers'
      ? 'No response headers before the deadline: the server is slow or frozen, or its answer is lost on the way (PMTU black hole, FM-06); `details.attempts` says how often it was sent. A call that may think longer needs a larger `deadlineMs` per request.'
      : 'The deadline passed while the response body was still arriving. For streams (SSE, long polls, downloads) pass `deadlineMs: 0` and bound the gaps with `bodyTimeoutMs`.';
  return new BreakwaterError('BW_ERR_DEADLINE', err.message, { cause: err.cause ?? err, hint, details: { ...err.details, waitingFor, source } });
}

/**
 * The error a request with a deadline ends with: the caller's own abort reason as undici would give it
 * (their signal is the deadline's parent), the deadline's error if it has fired (saying what the request
 * was waiting for), else `err` classified.
 */
export function deadlineError(
  err: Error,
  controller: Controller,
  deadline: Deadline,
  signal: AbortSignal | undefined,
  origin: string,
  source: string,
  responded: boolean,
): Error {
  const keep = err instanceof BreakwaterError && err.code === 'BW_ERR_DEADLINE';
  const callerAborted = signal?.aborted === true;
  const reason = callerAborted ? signal?.reason : deadline.expired && !keep ? deadline.signal.reason : err;
  if (callerAborted && !(reason instanceof BreakwaterError)) return reason as Error;
  const out = errorFor(reason, origin, controller);
  return out instanceof BreakwaterError && out.code === 'BW_ERR_DEADLINE' ? explained(out, responded ? 'body' : 'headers', source) : out;
}

class DeadlineHandler extends ForwardingHandler {
  readonly #deadline: Deadline;
  readonly #origin: string;
  readonly #source: string;
  /** The caller's signal (the deadline's parent): its reason reaches the caller unchanged. */
  readonly #signal: AbortSignal | undefined;
  /** The controller to abort when the deadline fires; set while this handler listens on its signal. */
  #controller: Controller | undefined;
  #responded = false;

  constructor(next: Handler, deadline: Deadline, origin: string, source: string, signal: AbortSignal | undefined) {
    super(next);
    this.#deadline = deadline;
    this.#origin = origin;
    this.#source = source;
    this.#signal = signal instanceof AbortSignal ? signal : undefined;
  }

  override onRequestStart(controller: Controller, context: unknown): void {
    if (this.#controller === undefined) {
      this.#controller = controller;
      // Called at once if the deadline has passed already.
      this.#deadline.onAbort(this.#onAbort);
    } else this.#controller = controller;
    this.next.onRequestStart?.(controller, context);
  }

  /** The deadline aborted: abort the request in flight. */
  readonly #onAbort = (reason: unknown): void => {
    this.#controller?.abort(reason as Error);
  };

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onRequestUpgrade']>>[2], socket: never): void {
    this.#done();
    this.next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  override onResponseStart(
    controller: Controller,
    statusCode: number,
    headers: Parameters<NonNullable<Handler['onResponseStart']>>[2],
    message?: string,
  ): void {
    this.#responded = true;
    this.next.onResponseStart?.(controller, statusCode, headers, message);
  }

  override onResponseEnd(controller: Controller, trailers: Parameters<NonNullable<Handler['onResponseEnd']>>[1]): void {
    this.#done();
    this.next.onResponseEnd?.(controller, trailers);
  }

  override onResponseError(controller: Controller, err: Error): void {
    const out = deadlineError(err, controller, this.#deadline, this.#signal, this.#origin, this.#source, this.#responded);
    this.#done();
    this.next.onResponseError?.(controller, out);
  }

  #done(): void {
    if (this.#controller !== undefined) {
      this.#deadline.offAbort(this.#onAbort);
      this.#controller = undefined;
    }
    this.#deadline.dispose();
  }
}
