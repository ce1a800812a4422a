// Types only: erased at build time, so the client loads without @opentelemetry/api installed.
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import type { Controller, DispatchOptions, Handler, Interceptor } from '../layers/types.js';
import { ForwardingHandler } from './forward.js';
import { kFresh } from './symbols.js';

// @opentelemetry/api's SpanKind.CLIENT and SpanStatusCode.ERROR, as numbers: no runtime import.
const SPAN_KIND_CLIENT = 2;
const STATUS_ERROR = 2;
const kSpan = Symbol('breakwater.http.span');

type ResponseHeaders = Parameters<NonNullable<Handler['onResponseStart']>>[2];
type Trailers = Parameters<NonNullable<Handler['onResponseEnd']>>[1];

/** The tracer set by instrumentHttpTracing(); undefined (the default): the interceptors below do nothing. */
let tracer: Tracer | undefined;

/** Whether a tracer is set: requests then take the composed path, whose interceptors make the spans. */
export function tracing(): boolean {
  return tracer !== undefined;
}

/** Sets the tracer; returns a function that removes it unless another was set since. */
export function setHttpTracer(t: Tracer): () => void {
  tracer = t;
  return () => {
    if (tracer === t) tracer = undefined;
  };
}

type Traced = { span: Span; attempts: number };

function serverOf(origin: string): { address: string; port: number } | undefined {
  try {
    const u = new URL(origin);
    return { address: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80) };
  } catch {
    return undefined;
  }
}

/**
 * Outermost: one CLIENT span per logical request (every attempt and backoff inside it), named after the
 * method, with the semconv attributes; it ends with the response body, an error or an upgrade.
 */
export const requestSpan: Interceptor = (dispatch) => (opts, handler) => {
  if (tracer === undefined) return dispatch(opts, handler);
  const method = String(opts.method ?? 'GET').toUpperCase();
  const origin = String(opts.origin ?? '');
  const server = serverOf(origin);
  const attributes: Attributes = { 'http.request.method': method, 'url.full': `${origin.replace(/\/$/, '')}${opts.path ?? ''}` };
  if (server !== undefined) {
    attributes['server.address'] = server.address;
    attributes['server.port'] = server.port;
  }
  const traced: Traced = { span: tracer.startSpan(method, { kind: SPAN_KIND_CLIENT, attributes }), attempts: 0 };
  const next: DispatchOptions = { ...opts };
  next[kSpan] = traced;
  return dispatch(next, new SpanHandler(handler, traced));
};

/** Innermost: each attempt after the first is a `breakwater.http.retry` event on the request's span. */
export const attemptSpan: Interceptor = (dispatch) => (opts, handler) => {
  const traced = (opts as DispatchOptions)[kSpan] as Traced | undefined;
  if (traced !== undefined && ++traced.attempts > 1) {
    traced.span.addEvent('breakwater.http.retry', {
      'http.request.resend_count': traced.attempts - 1,
      'breakwater.retry.fresh_connection': (opts as DispatchOptions)[kFresh] === true,
    });
  }
  return dispatch(opts, handler);
};

class SpanHandler extends ForwardingHandler {
  readonly #t: Traced;
  #ended = false;

  constructor(next: Handler, t: Traced) {
    super(next);
    this.#t = t;
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#t.attempts > 1) this.#t.span.setAttribute('http.request.resend_count', this.#t.attempts - 1);
    this.#t.span.end();
  }

  override onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders, message?: string): void {
    this.#t.span.setAttribute('http.response.status_code', statusCode);
    if (statusCode >= 400) {
      this.#t.span.setAttribute('error.type', String(statusCode));
      this.#t.span.setStatus({ code: STATUS_ERROR });
    }
    this.next.onResponseStart?.(controller, statusCode, headers, message);
  }

  override onResponseEnd(controller: Controller, trailers: Trailers): void {
    this.#end();
    this.next.onResponseEnd?.(controller, trailers);
  }

  override onRequestUpgrade(controller: Controller, statusCode: number, headers: ResponseHeaders, socket: never): void {
    this.#t.span.setAttribute('http.response.status_code', statusCode);
    this.#end();
    this.next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  override onResponseError(controller: Controller, err: Error): void {
    if (!this.#ended) {
      const code = (err as { code?: unknown }).code;
      this.#t.span.setAttribute('error.type', typeof code === 'string' ? code : err.name);
      this.#t.span.recordException(err);
      this.#t.span.setStatus({ code: STATUS_ERROR, message: err.message });
    }
    this.#end();
    this.next.onResponseError?.(controller, err);
  }
}
