import { randomUUID } from 'node:crypto';
import { BreakwaterError, type Clock, classify, type Deadline, publisher } from '@breakwater/core';
import {
  createRetryStrategy,
  type GaveUpReason,
  isRetryRequest,
  parseRetryAfterMs,
  RETRY_MARKER_HEADER,
  RETRYABLE_STATUS,
  type RetryBudget,
  type RetryStrategy,
} from '@breakwater/retry';
import { isStaleSocketError } from '../connector.js';
import { NO_CONTROLLER } from '../internal/forward.js';
import { firstValue, getHeader, replayable, withHeader } from '../internal/headers.js';
import { encodeFormData, isFormDataLike, isReusableBody, ReplayableBody } from '../internal/replay.js';
import { isUsageError } from '../internal/rewrite.js';
import { kDeadline, kFresh, kNoPropagate } from '../internal/symbols.js';
import { DEADLINE_HEADER } from './deadline.js';
import type { Controller, Dispatch, DispatchOptions, Handler, Layer } from './types.js';

const publish = publisher('http');
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

// Deprecated, published for one more release: `breakwater:http:retried` / `gaveUp` with `origin`, beside
// `breakwater:retry:*` where every retry decision now is (`source: 'http'`). Remove with HTTP_CHANNELS.retried/gaveUp.
function publishDeprecated(event: 'retried' | 'gaveUp', origin: unknown, m: { attempt?: number; attempts?: number; delayMs?: number; reason?: unknown }): void {
  publish(event, { origin, ...m });
}

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
  return {
    role: 'retry',
    description: 'idempotent retries within a per-origin budget, full jitter, Retry-After, one stale-socket resend',
    interceptor: (dispatch) => (opts, handler) => {
      const method = (opts.method ?? 'GET').toUpperCase();
      // Read once (a one-shot iterable of headers is read here and nowhere else); names keep their case.
      let headers = replayable(opts.headers);
      if (o.idempotencyKey === true && (method === 'POST' || method === 'PATCH') && getHeader(headers, 'idempotency-key') === undefined) {
        headers = withHeader(headers, 'idempotency-key', randomUUID());
      }
      const idempotent = IDEMPOTENT.has(method) || getHeader(headers, 'idempotency-key') !== undefined;
      const origin = String(opts.origin ?? '');
      const budget = o.budgetFor(origin);
      const marker = getHeader(headers, RETRY_MARKER_HEADER);
      const forwarded = marker !== undefined && isRetryRequest({ [RETRY_MARKER_HEADER]: marker });
      // A forwarded retry is retry traffic, not new demand: it is charged to this tier's budget, so the
      // retries leaving any tier stay within one budget wherever they started (FM-11).
      if (!strategy.admit(budget, { incomingIsRetry: forwarded, upstream: origin })) {
        const err = new BreakwaterError('BW_ERR_RETRY_BUDGET', `retry budget for ${origin} exhausted forwarding a retried request`, {
          details: { upstream: origin, attempts: 0, retryDelayMs: 0 },
        });
        publishDeprecated('gaveUp', origin, { reason: 'budget', attempts: 0 });
        handler.onResponseError?.(NO_CONTROLLER, err);
        return true;
      }
      // A one-shot body (stream, iterator, fetch's body, FormData) is recorded as it goes out, so any
      // attempt sends the bytes the first one sent; a reusable one (string, bytes, Blob) is sent as is.
      let replay: ReplayableBody | undefined;
      const body = opts.body;
      if (!isReusableBody(body)) {
        const form = isFormDataLike(body) ? encodeFormData(body) : undefined;
        if (form !== undefined) {
          replay = new ReplayableBody(form.stream, o.maxReplayBodyBytes);
          if (getHeader(headers, 'content-type') === undefined) headers = withHeader(headers, 'content-type', form.contentType);
        } else if (!isFormDataLike(body)) {
          replay = new ReplayableBody(body as AsyncIterable<unknown>, o.maxReplayBodyBytes);
          // undici listens for a stream body's errors from dispatch on; the recorder reads it later.
          if (typeof (body as { on?: unknown }).on === 'function') (body as NodeJS.EventEmitter).on('error', noop);
        }
      }
      // The caller's options as they are: start() copies them per attempt anyway, with these headers.
      const run = new RetryRun(dispatch, opts as DispatchOptions, headers, handler, o, strategy, budget, idempotent, forwarded, replay);
      run.start();
      return true;
    },
  };
}

const noop = () => {};

/** The deadline layer above aborts with BW_ERR_DEADLINE; anything else is the caller's cancellation. */
const abortReason = (reason: unknown): GaveUpReason => (reason instanceof BreakwaterError && reason.code === 'BW_ERR_DEADLINE' ? 'deadline' : 'aborted');

type Headers = Parameters<NonNullable<Handler['onResponseStart']>>[2];
type RawHeaders = Controller['rawHeaders'];

/**
 * One request across its attempts. It is also the controller the caller's handler sees, for the whole
 * run whichever attempt is in flight (undici's RetryHandler does the same with a RetryController):
 * `rawHeaders`/`rawTrailers` of the current attempt (fetch builds its Headers from them), `pause()`
 * carried over to the next attempt, `abort()` reaching the attempt in flight or cancelling the backoff.
 */
class RetryRun implements Handler {
  attempt = 0;
  retryDelayMs = 0;
  #staleResent = false;
  #forwarded = false; // the response (or an error) has gone to the caller: no more retries
  #swallowing: { delayMs: number } | undefined;
  #current: Controller | undefined;
  #cancelTimer: (() => void) | undefined;
  #aborted: Error | undefined;
  #paused = false;
  #startedUp = false;
  #bodyBlocked = false; // a retry was wanted, but the one-shot body can no longer be replayed
  #lastDelayMs: number | undefined;

  readonly dispatch: Dispatch;
  readonly opts: DispatchOptions;
  /** The request's headers for every attempt (a record, or a flat array; names as the caller wrote them). */
  readonly headers: unknown;
  readonly next: Handler;
  readonly o: RetryLayerOptions;
  readonly strategy: RetryStrategy;
  readonly budget: RetryBudget;
  readonly idempotent: boolean;
  /** The request carried the retry marker: one attempt (FM-11). */
  readonly forwardedRetry: boolean;
  readonly replay: ReplayableBody | undefined;

  constructor(
    dispatch: Dispatch,
    opts: DispatchOptions,
    headers: unknown,
    next: Handler,
    o: RetryLayerOptions,
    strategy: RetryStrategy,
    budget: RetryBudget,
    idempotent: boolean,
    forwardedRetry: boolean,
    replay: ReplayableBody | undefined,
  ) {
    this.dispatch = dispatch;
    this.opts = opts;
    this.headers = headers;
    this.next = next;
    this.o = o;
    this.strategy = strategy;
    this.budget = budget;
    this.idempotent = idempotent;
    this.forwardedRetry = forwardedRetry;
    this.replay = replay;
  }

  // ---- The controller the caller sees ----

  get aborted(): boolean {
    return this.#aborted !== undefined || (this.#current?.aborted ?? false);
  }

  get paused(): boolean {
    return this.#paused || (this.#current?.paused ?? false);
  }

  get reason(): Error | null {
    return this.#aborted ?? this.#current?.reason ?? null;
  }

  get rawHeaders(): RawHeaders {
    return this.#current?.rawHeaders ?? null;
  }

  set rawHeaders(value: RawHeaders) {
    if (this.#current !== undefined) this.#current.rawHeaders = value;
  }

  get rawTrailers(): RawHeaders {
    return this.#current?.rawTrailers ?? null;
  }

  set rawTrailers(value: RawHeaders) {
    if (this.#current !== undefined) this.#current.rawTrailers = value;
  }

  abort(reason: Error): void {
    if (this.#aborted !== undefined) return;
    this.#aborted = reason;
    if (this.#cancelTimer !== undefined) {
      this.#cancelTimer();
      this.#cancelTimer = undefined;
      this.#gaveUp(abortReason(reason), reason);
      this.#fail(reason);
    } else this.#current?.abort(reason);
  }

  pause(): void {
    this.#paused = true;
    this.#current?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#current?.resume();
  }

  get #deadline(): Deadline | undefined {
    return this.opts[kDeadline] as Deadline | undefined;
  }

  start(fresh = false): void {
    this.attempt++;
    this.#swallowing = undefined;
    this.#current = undefined;
    let headers = this.headers;
    // Origins outside `propagate` (third-party APIs) get neither header.
    const propagate = this.opts[kNoPropagate] !== true;
    if (this.attempt > 1 && propagate) headers = withHeader(headers, RETRY_MARKER_HEADER, String(this.attempt));
    const deadline = this.#deadline;
    if (deadline !== undefined && this.attempt > 1 && propagate) headers = withHeader(headers, DEADLINE_HEADER, String(Math.floor(deadline.remainingMs())));
    try {
      // A copy per attempt: some dispatchers (undici's ProxyAgent) rewrite the options they are given.
      const opts: DispatchOptions = { ...this.opts, headers: headers as DispatchOptions['headers'] };
      if (this.replay !== undefined) opts.body = this.replay.body() as unknown as DispatchOptions['body'];
      if (fresh) (opts as Record<symbol, unknown>)[kFresh] = true;
      this.dispatch(opts, this);
    } catch (err) {
      this.onResponseError(NO_CONTROLLER, err as Error);
    }
  }

  // ---- The handler each attempt reports to ----

  onRequestStart(controller: Controller, context: unknown): void {
    this.#current = controller;
    if (this.#aborted !== undefined) controller.abort(this.#aborted);
    else if (this.#paused) controller.pause();
    if (!this.#startedUp) {
      this.#startedUp = true;
      this.next.onRequestStart?.(this, context);
    }
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Headers, socket: never): void {
    this.#current = controller;
    this.#forwarded = true;
    this.replay?.close();
    this.next.onRequestUpgrade?.(this, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.next.onResponseStarted?.();
  }

  onRequestSent(): void {
    this.next.onRequestSent?.();
  }

  onBodySent(chunk: Buffer): void {
    this.next.onBodySent?.(chunk);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Headers, message?: string): void {
    this.#current = controller;
    if (RETRYABLE_STATUS.has(statusCode) && this.#aborted === undefined) {
      const retryAfterMs = parseRetryAfterMs(firstValue(headers['retry-after']));
      const delayMs = this.#decide({ status: statusCode }, retryAfterMs);
      if (delayMs !== undefined) {
        // Drain this response quietly and try again: the caller only ever sees the last one.
        this.#swallowing = { delayMs };
        return;
      }
    }
    this.#forwarded = true;
    this.next.onResponseStart?.(this, statusCode, headers, message);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.#swallowing === undefined) this.next.onResponseData?.(this, chunk);
  }

  onResponseEnd(_controller: Controller, trailers: Headers): void {
    if (this.#swallowing !== undefined) this.#schedule(this.#swallowing.delayMs);
    else {
      // The request is over: a one-shot source the server did not read to its end (an early 413 or
      // 401) is destroyed, as undici does without Breakwater (an fs stream would keep its fd open).
      this.replay?.close();
      this.next.onResponseEnd?.(this, trailers);
    }
  }

  onResponseError(_controller: Controller, err: Error): void {
    if (this.#forwarded || this.#aborted !== undefined) {
      if (!this.#forwarded) this.#gaveUp(abortReason(this.#aborted ?? err), this.#aborted ?? err);
      this.#fail(this.#aborted ?? err);
      return;
    }
    this.#swallowing = undefined;
    if (this.idempotent && !this.#staleResent && isStaleSocketError(err) && this.#replayable()) {
      // The peer closed an idle connection as we reused it: nothing was processed. Resend at once on a
      // new connection, outside the budget (this is not extra load on a failing upstream).
      this.#staleResent = true;
      publish('staleRetried', { origin: this.opts.origin, attempt: this.attempt + 1, error: err });
      this.start(true);
      return;
    }
    const delayMs = this.#decide(err, undefined);
    if (delayMs === undefined) this.#fail(err);
    else this.#schedule(delayMs);
  }

  #replayable(): boolean {
    if (this.replay === undefined || this.replay.replayable) return true;
    this.#bodyBlocked = true;
    return false;
  }

  /** The backoff before another attempt, or undefined to give up: the strategy's decision (it charges the budget). */
  #decide(error: unknown, retryAfterMs: number | undefined): number | undefined {
    const decision = this.strategy.decide({
      attempt: this.attempt,
      error,
      retryAfterMs,
      timeLeftMs: this.#deadline?.remainingMs() ?? Number.POSITIVE_INFINITY,
      budget: this.budget,
      idempotent: this.idempotent,
      incomingIsRetry: this.forwardedRetry,
      // Never a different body: a one-shot body that outgrew its recording ends retrying here.
      replayable: this.replay?.replayable ?? true,
      previousDelayMs: this.#lastDelayMs,
      upstream: this.#origin,
      retryDelayMs: this.retryDelayMs,
    });
    if (!decision.retry) {
      if (decision.reason === 'notReplayable') this.#bodyBlocked = true;
      publishDeprecated('gaveUp', this.opts.origin, { reason: decision.reason, attempts: this.attempt });
      return undefined;
    }
    this.#lastDelayMs = decision.delayMs;
    publishDeprecated('retried', this.opts.origin, { attempt: this.attempt + 1, delayMs: decision.delayMs, reason: error });
    return decision.delayMs;
  }

  get #origin(): string {
    return String(this.opts.origin ?? '');
  }

  #gaveUp(reason: GaveUpReason, error: unknown): void {
    this.strategy.gaveUp(reason, { attempts: this.attempt, upstream: this.#origin, retryDelayMs: this.retryDelayMs, error });
    publishDeprecated('gaveUp', this.opts.origin, { reason, attempts: this.attempt });
  }

  #schedule(delayMs: number): void {
    this.retryDelayMs += delayMs;
    if (delayMs <= 0) {
      this.start();
      return;
    }
    // On the strategy's clock (monotonic; a FakeClock in tests), holding the process as a pending request does.
    this.#cancelTimer = this.strategy.schedule(() => {
      this.#cancelTimer = undefined;
      this.start();
    }, delayMs);
  }

  /**
   * Ends the run with `err`. The caller's own abort reason and undici's usage errors (an invalid option
   * or header) reach the caller unchanged, as they would without Breakwater; anything else becomes a
   * BreakwaterError with the original as `cause` and the run's attempts in `details`.
   */
  #fail(err: Error): void {
    this.replay?.close();
    if ((err === this.#aborted && !(err instanceof BreakwaterError)) || isUsageError(err)) {
      this.next.onResponseError?.(this, err);
      return;
    }
    const bw = classify(err, { ...(this.opts.origin === undefined ? {} : { host: new URL(String(this.opts.origin)).hostname }) });
    const blocked = this.#bodyBlocked && this.replay !== undefined;
    // Not idempotent and already being written (undici calls onRequestStart as it writes): the server may
    // have applied it, so `retryable: true` would invite a duplicate write. The outcome is unknown.
    const unknown = !blocked && !this.idempotent && this.#startedUp && bw.retryable;
    const annotated = new BreakwaterError(bw.code, bw.message, {
      cause: bw.cause ?? err,
      retryable: blocked || unknown ? false : bw.retryable,
      hint: blocked
        ? `Not retried: the request body is one-shot (a stream or iterator) and ${this.replay.readBytes} bytes of it had been sent, more than \`maxReplayBodyBytes\` (${this.o.maxReplayBodyBytes}) kept for a replay. Pass a Buffer, string or Blob, or raise \`maxReplayBodyBytes\`.`
        : unknown
          ? `The connection failed after the ${this.opts.method} was sent: the server may or may not have applied it (details.outcome: 'unknown'). Check before sending it again, or send it with an Idempotency-Key (\`idempotencyKey: true\`) so it is retried safely.`
          : bw.hint,
      details: {
        ...bw.details,
        attempts: this.attempt,
        retryDelayMs: this.retryDelayMs,
        ...(blocked ? { notRetried: 'body-not-replayable', bodyBytesSent: this.replay.readBytes, maxReplayBodyBytes: this.o.maxReplayBodyBytes } : {}),
        ...(unknown ? { outcome: 'unknown', notRetried: 'not-idempotent' } : {}),
      },
    });
    this.next.onResponseError?.(this, annotated);
  }
}
