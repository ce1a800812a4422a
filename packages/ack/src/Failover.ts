import type net from 'node:net';
import { BreakwaterError, publisher, type TimerHandle } from '@breakwater/core';
import { type Backoff, createBackoff, type RetryBudget } from '@breakwater/retry';
import { AckLink } from './AckLink.js';
import type { ResolvedAckClientOptions } from './defaults.js';

const publish = publisher('ack');

export interface FailoverHandler {
  /** A connection to `endpoint` is up (not yet greeted). */
  dialed(socket: net.Socket, endpoint: string): void;
  /** Connecting to `endpoint` failed; the next endpoint is tried after a backoff. */
  dialFailed(endpoint: string, error: unknown): void;
}

/**
 * Which endpoint the client connects to, and when: one dial at a time, the
 * next endpoint in order after a failure, with a jittered backoff drawn
 * through the retry budget (a spent budget waits the longest backoff instead).
 * Owns the connect in progress and the reconnect timer; `stop()` ends both.
 */
export class Failover {
  readonly #o: ResolvedAckClientOptions;
  readonly #budget: RetryBudget;
  readonly #handler: FailoverHandler;
  readonly #backoff: Backoff;
  #index = 0;
  #connecting: AbortController | undefined;
  #timer: TimerHandle | undefined;
  #stopped = false;
  /** Reconnects scheduled so far. */
  reconnects = 0;

  constructor(o: ResolvedAckClientOptions, budget: RetryBudget, handler: FailoverHandler) {
    this.#o = o;
    this.#budget = budget;
    this.#handler = handler;
    this.#backoff = createBackoff({ ...o.reconnectBackoff });
  }

  /** Dials the current endpoint. */
  connect(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    const ep = this.#o.endpoints[this.#index]!;
    const endpoint = `${ep.host}:${ep.port}`;
    const controller = new AbortController();
    this.#connecting = controller;
    AckLink.dial(ep, this.#o, controller.signal).then(
      (socket) => {
        this.#connecting = undefined;
        if (this.#stopped) return void socket.destroy();
        this.#handler.dialed(socket, endpoint);
      },
      (error: unknown) => {
        this.#connecting = undefined;
        if (this.#stopped) return;
        publish('connectFailed', { endpoint, error });
        this.#handler.dialFailed(endpoint, error);
        this.next();
      },
    );
  }

  /** The server greeted us: the next failure starts the backoff from its base again. */
  greeted(): void {
    this.#backoff.reset();
  }

  /** Next endpoint, after a jittered backoff drawn through the retry budget. */
  next(): void {
    if (this.#stopped) return;
    this.#index = (this.#index + 1) % this.#o.endpoints.length;
    this.reconnects++;
    let delayMs = this.#backoff.next();
    if (!this.#budget.tryRetry()) {
      delayMs = this.#o.reconnectBackoff.maxDelayMs;
      publish('reconnectThrottled', { delayMs });
    }
    this.#timer = this.#o.clock.setTimeout(() => this.connect(), delayMs);
  }

  /** Clears the reconnect timer and aborts a connect in progress. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#connecting?.abort(new BreakwaterError('BW_ERR_CLOSED', 'the ack client was closed'));
  }
}
