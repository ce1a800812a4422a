import { randomUUID } from 'node:crypto';
import { BreakwaterError, classify, type Deadline, publisher } from '@breakwater/core';
import { createBackoff, isRetryable, isRetryRequest, parseRetryAfterMs, RETRY_MARKER_HEADER, type RetryBudget } from '@breakwater/retry';
import { isStaleSocketError } from '../connector.js';
import { firstValue, toRecord, withHeader } from '../internal/headers.js';
import { kDeadline, kFresh, kNoPropagate } from '../internal/symbols.js';
import { DEADLINE_HEADER } from './deadline.js';
import type { Controller, Dispatch, DispatchOptions, Handler, Layer } from './types.js';

const publish = publisher('http');
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export interface RetryLayerOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  maxRetryAfterMs: number;
  budgetFor: (origin: string) => RetryBudget;
  /** Add an Idempotency-Key to POST/PATCH requests without one, making them retryable. */
  idempotencyKey?: boolean;
  random?: () => number;
}

/**
 * Retries idempotent requests (GET/HEAD/OPTIONS/PUT/DELETE, or any carrying an Idempotency-Key) on
 * connection errors and 408/429/5xx, with full jitter, `Retry-After` and a per-origin budget (FM-11).
 * A request already carrying the retry marker gets one attempt. A reset of a *reused* connection before
 * any response byte (the stale keep-alive race, FM-07) is resent once on a fresh connection whatever the
 * budget: the server never saw it. Retries happen only before the response reaches the caller.
 */
export function retryLayer(o: RetryLayerOptions): Layer {
  return {
    role: 'retry',
    description: 'idempotent retries within a per-origin budget, full jitter, Retry-After, one stale-socket resend',
    interceptor: (dispatch) => (opts, handler) => {
      const method = (opts.method ?? 'GET').toUpperCase();
      let headers = toRecord(opts.headers);
      if (o.idempotencyKey === true && (method === 'POST' || method === 'PATCH') && headers['idempotency-key'] === undefined) {
        headers = withHeader(headers, 'idempotency-key', randomUUID());
      }
      const idempotent = IDEMPOTENT.has(method) || headers['idempotency-key'] !== undefined;
      const origin = String(opts.origin ?? '');
      const budget = o.budgetFor(origin);
      // The record is normalised (lower-case names): without the marker's key there is nothing to parse.
      const forwarded = headers[RETRY_MARKER_HEADER] !== undefined && isRetryRequest(headers);
      // A forwarded retry is retry traffic, not new demand: it is charged to this tier's budget, so the
      // retries leaving any tier stay within one budget wherever they started (FM-11).
      if (!forwarded) budget.recordRequest();
      else if (!budget.tryRetry()) {
        const err = new BreakwaterError('BW_ERR_RETRY_BUDGET', `retry budget for ${origin} exhausted forwarding a retried request`, {
          details: { upstream: origin, attempts: 0, retryDelayMs: 0 },
        });
        publish('gaveUp', { origin, reason: 'budget', attempts: 0 });
        handler.onResponseError?.({ aborted: true, paused: false, reason: err, abort() {}, pause() {}, resume() {} }, err);
        return true;
      }
      // The caller's options as they are: start() copies them per attempt anyway, with these headers.
      const run = new RetryRun(dispatch, opts as DispatchOptions, headers, handler, o, budget, idempotent, forwarded ? 1 : o.attempts);
      run.start();
      return true;
    },
  };
}

class RetryRun implements Handler {
  attempt = 0;
  retryDelayMs = 0;
  #staleResent = false;
  #forwarded = false; // the response (or an error) has gone to the caller: no more retries
  #swallowing: { delayMs: number } | undefined;
  #current: Controller | undefined;
  #timer: NodeJS.Timeout | undefined;
  #aborted: Error | undefined;
  #startedUp = false;
  #backoff: ReturnType<typeof createBackoff> | undefined;
  /** What the caller's handler is given as its controller: this run (see the getters below). */
  readonly #proxy: Controller = this;

  readonly dispatch: Dispatch;
  readonly opts: DispatchOptions;
  /** The request's headers, normalised (opts.headers is left as the caller gave it). */
  readonly headers: Record<string, string | string[]>;
  readonly next: Handler;
  readonly o: RetryLayerOptions;
  readonly budget: RetryBudget;
  readonly idempotent: boolean;
  readonly maxAttempts: number;

  constructor(
    dispatch: Dispatch,
    opts: DispatchOptions,
    headers: Record<string, string | string[]>,
    next: Handler,
    o: RetryLayerOptions,
    budget: RetryBudget,
    idempotent: boolean,
    maxAttempts: number,
  ) {
    this.dispatch = dispatch;
    this.opts = opts;
    this.headers = headers;
    this.next = next;
    this.o = o;
    this.budget = budget;
    this.idempotent = idempotent;
    this.maxAttempts = maxAttempts;
  }

  // What the caller's controller sees: this run as a whole, whichever attempt is in flight. The run is
  // that controller itself (undici calls only these members on it), not one more object per request.
  get aborted(): boolean {
    return this.#aborted !== undefined || (this.#current?.aborted ?? false);
  }

  get paused(): boolean {
    return this.#current?.paused ?? false;
  }

  get reason(): Error | null {
    return this.#aborted ?? this.#current?.reason ?? null;
  }

  abort(reason: Error): void {
    if (this.#aborted !== undefined) return;
    this.#aborted = reason;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#fail(reason);
    } else this.#current?.abort(reason);
  }

  pause(): void {
    this.#current?.pause();
  }

  resume(): void {
    this.#current?.resume();
  }

  get #deadline(): Deadline | undefined {
    return this.opts[kDeadline] as Deadline | undefined;
  }

  start(fresh = false): void {
    this.attempt++;
    this.#swallowing = undefined;
    let headers = this.headers;
    // Origins outside `propagate` (third-party APIs) get neither header.
    const propagate = this.opts[kNoPropagate] !== true;
    if (this.attempt > 1 && propagate) headers = withHeader(headers, RETRY_MARKER_HEADER, String(this.attempt));
    const deadline = this.#deadline;
    if (deadline !== undefined && this.attempt > 1 && propagate) headers = withHeader(headers, DEADLINE_HEADER, String(Math.floor(deadline.remainingMs())));
    try {
      // A copy per attempt: some dispatchers (undici's ProxyAgent) rewrite the options they are given.
      const opts: DispatchOptions = { ...this.opts, headers };
      if (fresh) (opts as Record<symbol, unknown>)[kFresh] = true;
      this.dispatch(opts, this);
    } catch (err) {
      this.onResponseError(this.#current as Controller, err as Error);
    }
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#current = controller;
    if (this.#aborted !== undefined) controller.abort(this.#aborted);
    if (!this.#startedUp) {
      this.#startedUp = true;
      this.next.onRequestStart?.(this.#proxy, context);
    }
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onRequestUpgrade']>>[2], socket: never): void {
    this.#forwarded = true;
    this.next.onRequestUpgrade?.(this.#proxy, statusCode, headers, socket);
    void controller;
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onResponseStart']>>[2], message?: string): void {
    this.#current = controller;
    if (RETRYABLE_STATUS.has(statusCode) && this.idempotent && this.#aborted === undefined) {
      const retryAfterMs = parseRetryAfterMs(firstValue(headers[`retry-after`]));
      const delayMs = this.#decide({ status: statusCode }, retryAfterMs);
      if (delayMs !== undefined) {
        // Drain this response quietly and try again: the caller only ever sees the last one.
        this.#swallowing = { delayMs };
        return;
      }
    }
    this.#forwarded = true;
    this.next.onResponseStart?.(this.#proxy, statusCode, headers, message);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.#swallowing === undefined) this.next.onResponseData?.(this.#proxy, chunk);
  }

  onResponseEnd(_controller: Controller, trailers: Parameters<NonNullable<Handler['onResponseEnd']>>[1]): void {
    if (this.#swallowing !== undefined) this.#schedule(this.#swallowing.delayMs);
    else this.next.onResponseEnd?.(this.#proxy, trailers);
  }

  onResponseError(_controller: Controller, err: Error): void {
    if (this.#forwarded || this.#aborted !== undefined) {
      this.#fail(this.#aborted ?? err);
      return;
    }
    this.#swallowing = undefined;
    if (this.idempotent && !this.#staleResent && isStaleSocketError(err)) {
      // The peer closed an idle connection as we reused it: nothing was processed. Resend at once on a
      // new connection, outside the budget (this is not extra load on a failing upstream).
      this.#staleResent = true;
      publish('staleRetried', { origin: this.opts.origin, attempt: this.attempt + 1, error: err });
      this.start(true);
      return;
    }
    const delayMs = isRetryable(err, { idempotent: this.idempotent }) ? this.#decide(err, undefined) : undefined;
    if (delayMs === undefined) this.#fail(err);
    else this.#schedule(delayMs);
  }

  /** The backoff before another attempt, or undefined to give up (the budget is charged here). */
  #decide(reason: unknown, retryAfterMs: number | undefined): number | undefined {
    if (this.attempt >= this.maxAttempts) return undefined;
    if (retryAfterMs !== undefined && retryAfterMs > this.o.maxRetryAfterMs) return undefined;
    const available = this.#deadline?.remainingMs() ?? Number.POSITIVE_INFINITY;
    if (available <= 1 || (retryAfterMs !== undefined && retryAfterMs >= available)) return undefined;
    if (!this.budget.tryRetry()) {
      publish('gaveUp', { origin: this.opts.origin, reason: 'budget', attempts: this.attempt });
      return undefined;
    }
    // Created on the first retry: most requests never need one.
    const o = this.o;
    this.#backoff ??= createBackoff({ jitter: 'full', baseDelayMs: o.baseDelayMs, maxDelayMs: o.maxDelayMs, ...(o.random ? { random: o.random } : {}) });
    const delayMs = Math.max(this.#backoff.next(available - 1), retryAfterMs ?? 0);
    publish('retried', { origin: this.opts.origin, attempt: this.attempt + 1, delayMs, reason });
    return delayMs;
  }

  #schedule(delayMs: number): void {
    this.retryDelayMs += delayMs;
    if (delayMs <= 0) {
      this.start();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.start();
    }, delayMs);
  }

  #fail(err: Error): void {
    const bw = classify(err, { ...(this.opts.origin === undefined ? {} : { host: new URL(String(this.opts.origin)).hostname }) });
    const annotated = new BreakwaterError(bw.code, bw.message, {
      cause: bw.cause ?? err,
      retryable: bw.retryable,
      hint: bw.hint,
      details: { ...bw.details, attempts: this.attempt, retryDelayMs: this.retryDelayMs },
    });
    this.next.onResponseError?.(this.#proxy, annotated);
  }
}
