import { randomUUID } from 'node:crypto';
import { BreakwaterError, type Clock } from '@breakwater/core';
import { createRetryStrategy, isRetryRequest, RETRY_MARKER_HEADER, type RetryBudget } from '@breakwater/retry';
import { NO_CONTROLLER } from '../internal/forward.js';
import { getHeader, replayable, withHeader } from '../internal/headers.js';
import { withHook } from '../internal/hooks.js';
import { noop, publishDeprecated, RetryRun } from '../internal/RetryRun.js';
import { encodeFormData, isFormDataLike, isReusableBody, ReplayableBody } from '../internal/replay.js';
import type { DispatchOptions, Layer } from './types.js';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export interface RetryLayerOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
  budgetFor: (origin: string) => RetryBudget;
  /** Add an Idempotency-Key to POST/PATCH requests without one, making them retryable. */
  idempotencyKey?: boolean;
  /** One-shot request bodies are recorded up to this many bytes so a retry sends the same bytes. */
  maxReplayBodyBytes: number;
  random?: () => number;
  /** Backoff sleeps run on it. @defaultValue the monotonic clock */
  clock?: Clock;
}

/**
 * Retries idempotent requests (GET/HEAD/OPTIONS/PUT/DELETE, or any carrying an Idempotency-Key) on
 * connection errors and 408/429/5xx, with full jitter, `Retry-After` and a per-origin budget (FM-11).
 * A request already carrying the retry marker gets one attempt. A reset of a *reused* connection before
 * any response byte (the stale keep-alive race, FM-07) is resent once on a fresh connection whatever the
 * budget: the server never saw it. Retries happen only before the response reaches the caller.
 */
export function retryLayer(o: RetryLayerOptions): Layer {
  // The decision is @breakwater/retry's, the same as retry()'s; this layer only carries it out on undici.
  const strategy = createRetryStrategy({
    attempts: o.attempts,
    jitter: 'full',
    baseDelayMs: o.baseDelayMs,
    maxDelayMs: o.maxDelayMs,
    maxRetryAfterMs: o.maxRetryAfterMs,
    ...(o.random === undefined ? {} : { random: o.random }),
    ...(o.clock === undefined ? {} : { clock: o.clock }),
    source: 'http',
  });
  const layer: Layer = {
    role: 'retry',
    description: 'idempotent retries within a per-origin budget, full jitter, Retry-After, one stale-socket resend',
    interceptor: (dispatch) => (opts, handler) => {
      // The caller's options as they are: start() copies them per attempt anyway, with the headers prepared.
      const run = new RetryRun(dispatch, opts as DispatchOptions, handler, o, strategy);
      const refused = prepareRetry(run, replayable(opts.headers));
      if (refused !== undefined) handler.onResponseError?.(NO_CONTROLLER, refused);
      else run.start();
      return true;
    },
  };
  return withHook(layer, { role: 'retry', o, strategy });
}

/**
 * What a run needs before its first attempt, set on `run`: its headers (`headers`, read once, plus an
 * Idempotency-Key if `idempotencyKey` adds one), whether it is idempotent, its origin's budget, whether it
 * is a forwarded retry, and a recorder for a one-shot body. Returns the error to end the request with when
 * the budget refuses a forwarded retry (nothing is sent); undefined when the run may start.
 */
export function prepareRetry(run: RetryRun, headers: unknown, origin = String(run.opts.origin ?? '')): BreakwaterError | undefined {
  const { o, strategy, opts } = run;
  const method = (opts.method ?? 'GET').toUpperCase();
  if (o.idempotencyKey === true && (method === 'POST' || method === 'PATCH') && getHeader(headers, 'idempotency-key') === undefined) {
    headers = withHeader(headers, 'idempotency-key', randomUUID());
  }
  run.idempotent = IDEMPOTENT.has(method) || getHeader(headers, 'idempotency-key') !== undefined;
  const budget = o.budgetFor(origin);
  run.budget = budget;
  const marker = getHeader(headers, RETRY_MARKER_HEADER);
  const forwarded = marker !== undefined && isRetryRequest({ [RETRY_MARKER_HEADER]: marker });
  run.forwardedRetry = forwarded;
  // A forwarded retry is retry traffic, not new demand: it is charged to this tier's budget, so the
  // retries leaving any tier stay within one budget wherever they started (FM-11).
  if (!strategy.admit(budget, { incomingIsRetry: forwarded, upstream: origin })) {
    publishDeprecated('gaveUp', origin, { reason: 'budget', attempts: 0 });
    return new BreakwaterError('BW_ERR_RETRY_BUDGET', `retry budget for ${origin} exhausted forwarding a retried request`, {
      details: { upstream: origin, attempts: 0, retryDelayMs: 0 },
    });
  }
  // A one-shot body (stream, iterator, fetch's body, FormData) is recorded as it goes out, so any
  // attempt sends the bytes the first one sent; a reusable one (string, bytes, Blob) is sent as is.
  const body = opts.body;
  if (!isReusableBody(body)) {
    const form = isFormDataLike(body) ? encodeFormData(body) : undefined;
    if (form !== undefined) {
      run.replay = new ReplayableBody(form.stream, o.maxReplayBodyBytes);
      if (getHeader(headers, 'content-type') === undefined) headers = withHeader(headers, 'content-type', form.contentType);
    } else if (!isFormDataLike(body)) {
      run.replay = new ReplayableBody(body as AsyncIterable<unknown>, o.maxReplayBodyBytes);
      // undici listens for a stream body's errors from dispatch on; the recorder reads it later.
      if (typeof (body as { on?: unknown }).on === 'function') (body as NodeJS.EventEmitter).on('error', noop);
    }
  }
  run.headers = headers;
  return undefined;
}
