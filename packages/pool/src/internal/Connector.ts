import type net from 'node:net';
import { type BackoffShape, BreakwaterError, type Clock, classify, sleep } from '@breakwater/core';
import { closedError } from './errors.js';

export interface ConnectorOptions {
  clock: Clock;
  reconnectBackoff: BackoffShape;
  /** Opens one socket (may throw synchronously: that is caught like a rejection). */
  open: (signal: AbortSignal) => net.Socket | Promise<net.Socket>;
  /** Where the errors say they tried to connect. */
  host: string;
  port: number | undefined;
  /** Aborted by close(): stops sleeps and connects in flight. */
  signal: AbortSignal;
  /** Whether a failed attempt should be retried (someone waits, or the pool is below `minIdle`). */
  needed: () => boolean;
  onFailure: (error: BreakwaterError, attempt: number, retryInMs: number) => void;
}

/**
 * The delay before reconnect attempt `failures + 1`: exponential, capped,
 * with equal jitter (half fixed, half random) so every delay is at least
 * half the nominal one — that floor is what bounds the attempt rate.
 * @see https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function reconnectDelayMs(failures: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  if (failures <= 0) return 0;
  const nominal = Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
  return nominal / 2 + random() * (nominal / 2);
}

/**
 * Implements generic-pool's `factory.create()` so that its defects cannot
 * fire (DEPENDENCIES.md): generic-pool calls `create()` again as soon as one
 * rejects while anyone waits — a busy loop that, with a synchronous throw,
 * starves the event loop so that even its acquire timeout never fires — and
 * never shows the error to the waiting `acquire()`. Here one `create()` keeps
 * trying with backoff for as long as a connection is needed, reports each
 * failure through `onFailure` (the pool rejects a waiter with it), and only
 * rejects when nobody needs the connection any more; then generic-pool finds
 * no waiter and stops. While the endpoint is failing, attempts from all
 * concurrent creates are serialised, so the attempt rate is bounded by the
 * backoff, not by the number of callers.
 */
export class Connector {
  readonly #o: ConnectorOptions;
  #failures = 0;
  #nextAttemptAt = 0;
  #serialAttempt: Promise<void> | undefined;
  #inFlight = 0;
  /** Every attempt started (for tests and stats). */
  attempts = 0;

  constructor(options: ConnectorOptions) {
    this.#o = options;
  }

  /** Creates in progress (attempting or backing off). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Consecutive failed attempts; 0 after a success. */
  get failures(): number {
    return this.#failures;
  }

  async create(): Promise<net.Socket> {
    this.#inFlight++;
    try {
      for (;;) {
        const done = await this.#turn();
        let outcome: net.Socket | BreakwaterError;
        try {
          outcome = await this.#attempt();
        } finally {
          done?.();
        }
        if (!(outcome instanceof BreakwaterError)) return outcome;
        if (this.#o.signal.aborted || !this.#o.needed()) throw outcome;
      }
    } finally {
      this.#inFlight--;
    }
  }

  /**
   * Waits until this create may attempt. While the endpoint is failing, one
   * attempt runs at a time: the turn is claimed synchronously and the
   * returned function hands it back.
   */
  async #turn(): Promise<(() => void) | undefined> {
    const { clock, signal } = this.#o;
    for (;;) {
      if (signal.aborted) throw closedError();
      if (this.#failures === 0) return undefined;
      if (this.#serialAttempt !== undefined) {
        await this.#serialAttempt;
        continue;
      }
      const waitMs = this.#nextAttemptAt - clock.now();
      if (waitMs <= 0) {
        let release!: () => void;
        const claim = new Promise<void>((resolve) => {
          release = resolve;
        });
        this.#serialAttempt = claim;
        return () => {
          if (this.#serialAttempt === claim) this.#serialAttempt = undefined;
          release();
        };
      }
      await sleep(waitMs, { clock, signal }).catch(() => {});
    }
  }

  /** One connect; resolves with the socket or the classified error, never rejects. */
  async #attempt(): Promise<net.Socket | BreakwaterError> {
    const { clock, signal, host, port } = this.#o;
    this.attempts++;
    const started = clock.now();
    try {
      const socket = await this.#o.open(signal);
      if (signal.aborted) {
        socket.destroy();
        throw closedError();
      }
      this.#failures = 0;
      return socket;
    } catch (err) {
      const error = signal.aborted
        ? closedError()
        : classify(err, { host, ...(port === undefined ? {} : { port }), phase: 'connect', elapsedMs: clock.now() - started });
      if (signal.aborted) return error;
      this.#failures++;
      const delayMs = reconnectDelayMs(this.#failures, this.#o.reconnectBackoff.baseDelayMs, this.#o.reconnectBackoff.maxDelayMs);
      this.#nextAttemptAt = clock.now() + delayMs;
      this.#o.onFailure(error, this.#failures, delayMs);
      return error;
    }
  }
}
