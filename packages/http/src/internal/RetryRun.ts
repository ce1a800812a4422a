import { BreakwaterError, classify, type Deadline, publisher } from '@breakwater/core';
import { type GaveUpReason, parseRetryAfterMs, RETRY_MARKER_HEADER, RETRYABLE_STATUS, type RetryBudget, type RetryStrategy } from '@breakwater/retry';
import { isStaleSocketError } from '../connector.js';
import { DEADLINE_HEADER } from '../layers/deadline.js';
import type { RetryLayerOptions } from '../layers/retry.js';
import type { Controller, Dispatch, DispatchOptions, Handler } from '../layers/types.js';
import { NO_CONTROLLER } from './forward.js';
import { firstValue, withHeader } from './headers.js';
import type { ReplayableBody } from './replay.js';
import { isUsageError } from './rewrite.js';
import { kDeadline, kFresh, kNoPropagate } from './symbols.js';

const publish = publisher('http');

// Deprecated, published for one more release: `breakwater:http:retried` / `gaveUp` with `origin`, beside
// `breakwater:retry:*` where every retry decision now is (`source: 'http'`). Remove with HTTP_CHANNELS.retried/gaveUp.
export function publishDeprecated(
  event: 'retried' | 'gaveUp',
  origin: unknown,
  m: { attempt?: number; attempts?: number; delayMs?: number; reason?: unknown },
): void {
  publish(event, { origin, ...m });
}

export const noop = (): void => {};

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
export class RetryRun implements Handler {
  attempt = 0;
  retryDelayMs = 0;
  #staleResent = false;
  #forwarded = false; // the response (or an error) has gone to the caller: no more retries
  #swallowing: { delayMs: number } | undefined;
  #current: Controller | undefined;
  #cancelTimer: (() => void) | undefined;
  #aborted: Error | undefined;
  #paused = false;
  #startedUp = false; // an attempt reached onRequestStart: its bytes may have been written
  #handedUp = false; // the caller's handler has this run as its controller
  #bodyBlocked = false; // a retry was wanted, but the one-shot body can no longer be replayed
  #lastDelayMs: number | undefined;

  readonly dispatch: Dispatch;
  readonly opts: DispatchOptions;
  readonly next: Handler;
  readonly o: RetryLayerOptions;
  readonly strategy: RetryStrategy;
  // Set once by prepareRetry() (layers/retry.ts), before the first attempt.
  /** The request's headers for every attempt (a record, or a flat array; names as the caller wrote them). */
  headers: unknown = undefined;
  budget!: RetryBudget;
  idempotent = false;
  /** The request carried the retry marker: one attempt (FM-11). */
  forwardedRetry = false;
  replay: ReplayableBody | undefined = undefined;

  constructor(dispatch: Dispatch, opts: DispatchOptions, next: Handler, o: RetryLayerOptions, strategy: RetryStrategy) {
    this.dispatch = dispatch;
    this.opts = opts;
    this.next = next;
    this.o = o;
    this.strategy = strategy;
  }

  // ---- Where the run meets the layers around it; FusedRun overrides these to be those layers itself ----

  /** The request's total deadline (the deadline layer's), if any. */
  protected deadlineOf(): Deadline | undefined {
    return this.opts[kDeadline] as Deadline | undefined;
  }

  /** Whether the origin gets the deadline and retry-marker headers (`propagate`). */
  protected propagates(): boolean {
    return this.opts[kNoPropagate] !== true;
  }

  /** One attempt's options: a copy per attempt, as some dispatchers (undici's ProxyAgent) rewrite the options they are given. */
  protected attemptOptions(headers: unknown): DispatchOptions {
    return { ...this.opts, headers: headers as DispatchOptions['headers'] };
  }

  /** Sends one attempt, reporting to this run. */
  protected sendAttempt(opts: DispatchOptions): void {
    this.dispatch(opts, this);
  }

  protected upStart(context: unknown): void {
    this.next.onRequestStart?.(this, context);
  }

  protected upResponseStart(statusCode: number, headers: Headers, message?: string): void {
    this.next.onResponseStart?.(this, statusCode, headers, message);
  }

  protected upEnd(trailers: Headers): void {
    this.next.onResponseEnd?.(this, trailers);
  }

  protected upError(err: Error): void {
    this.next.onResponseError?.(this, err);
  }

  protected upUpgrade(statusCode: number, headers: Headers, socket: never): void {
    this.next.onRequestUpgrade?.(this, statusCode, headers, socket);
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

  start(fresh = false): void {
    this.attempt++;
    this.#swallowing = undefined;
    this.#current = undefined;
    let headers = this.headers;
    // Origins outside `propagate` (third-party APIs) get neither header.
    const propagate = this.propagates();
    if (this.attempt > 1 && propagate) headers = withHeader(headers, RETRY_MARKER_HEADER, String(this.attempt));
    const deadline = this.deadlineOf();
    if (deadline !== undefined && this.attempt > 1 && propagate) headers = withHeader(headers, DEADLINE_HEADER, String(Math.floor(deadline.remainingMs())));
    try {
      const opts = this.attemptOptions(headers);
      if (this.replay !== undefined) opts.body = this.replay.body() as unknown as DispatchOptions['body'];
      if (fresh) opts[kFresh] = true;
      this.sendAttempt(opts);
    } catch (err) {
      this.onResponseError(NO_CONTROLLER, err as Error);
    }
  }

  // ---- The handler each attempt reports to ----

  onRequestStart(controller: Controller, context: unknown): void {
    this.#current = controller;
    if (this.#aborted !== undefined) controller.abort(this.#aborted);
    else if (this.#paused) controller.pause();
    this.#startedUp = true;
    this.#handUp(context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Headers, socket: never): void {
    this.#current = controller;
    this.#forwarded = true;
    this.replay?.close();
    this.upUpgrade(statusCode, headers, socket);
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
    this.upResponseStart(statusCode, headers, message);
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
      this.upEnd(trailers);
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
      timeLeftMs: this.deadlineOf()?.remainingMs() ?? Number.POSITIVE_INFINITY,
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
      const deadline = this.deadlineOf();
      if (deadline !== undefined && deadline.remainingMs() <= 0) this.#awaitDeadline(deadline);
      else this.start();
    }, delayMs);
    // After a refused connect no attempt has reached onRequestStart, so the caller's handler (request()'s
    // signal, fetch's abort, the deadline layer) has no controller: give it this run now, so an abort
    // during the backoff ends the run at once instead of after every remaining attempt. Last: an abort
    // heard at once finds the timer to cancel.
    this.#handUp(null);
  }

  #handUp(context: unknown): void {
    if (this.#handedUp) return;
    this.#handedUp = true;
    this.upStart(context);
  }

  /**
   * The backoff is clamped to the time left, so it ends at the deadline's edge, and a timer may fire late:
   * once the time is up no attempt is sent (it could not finish). The deadline's own timer fires within
   * its tick and ends the run as an abort during the backoff would (reason `deadline`).
   */
  #awaitDeadline(deadline: Deadline): void {
    const onExpired = (reason: unknown): void => this.abort(reason as Error);
    this.#cancelTimer = () => deadline.offAbort(onExpired);
    deadline.onAbort(onExpired);
  }

  /**
   * Ends the run with `err`. The caller's own abort reason and undici's usage errors (an invalid option
   * or header) reach the caller unchanged, as they would without Breakwater; anything else becomes a
   * BreakwaterError with the original as `cause` and the run's attempts in `details`.
   */
  #fail(err: Error): void {
    this.replay?.close();
    if ((err === this.#aborted && !(err instanceof BreakwaterError)) || isUsageError(err)) {
      this.upError(err);
      return;
    }
    const bw = classify(err, { ...(this.opts.origin === undefined ? {} : { host: new URL(String(this.opts.origin)).hostname }) });
    const replay = this.replay;
    const blocked = this.#bodyBlocked && replay !== undefined;
    // Not idempotent and already being written (undici calls onRequestStart as it writes): the server may
    // have applied it, so `retryable: true` would invite a duplicate write. The outcome is unknown.
    const unknown = !blocked && !this.idempotent && this.#startedUp && bw.retryable;
    const annotated = new BreakwaterError(bw.code, bw.message, {
      cause: bw.cause ?? err,
      retryable: blocked || unknown ? false : bw.retryable,
      hint: blocked
        ? `Not retried: the request body is one-shot (a stream or iterator) and ${replay?.readBytes} bytes of it had been sent, more than \`maxReplayBodyBytes\` (${this.o.maxReplayBodyBytes}) kept for a replay. Pass a Buffer, string or Blob, or raise \`maxReplayBodyBytes\`.`
        : unknown
          ? `The connection failed after the ${this.opts.method} was sent: the server may or may not have applied it (details.outcome: 'unknown'). Check before sending it again, or send it with an Idempotency-Key (\`idempotencyKey: true\`) so it is retried safely.`
          : bw.hint,
      details: {
        ...bw.details,
        attempts: this.attempt,
        retryDelayMs: this.retryDelayMs,
        ...(blocked ? { notRetried: 'body-not-replayable', bodyBytesSent: replay?.readBytes, maxReplayBodyBytes: this.o.maxReplayBodyBytes } : {}),
        ...(unknown ? { outcome: 'unknown', notRetried: 'not-idempotent' } : {}),
      },
    });
    this.upError(annotated);
  }
}
