import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { BreakwaterError, Deadline, publisher, type TimerHandle, validateOptionsObject, validateSignal } from '@breakwater/core';
import { type Backoff, createBackoff, RetryBudget } from '@breakwater/retry';
import { connect } from '@breakwater/socket';
import { AckLink, type AckLinkHandler } from './AckLink.js';
import { ClientSession } from './ClientSession.js';
import { type AckClientOptions, type ResolvedAckClientOptions, resolveAckClientOptions } from './defaults.js';
import { DATA_OVERHEAD_BYTES, type Frame } from './frames.js';
import { type Ack, abortError, type Message, SendWindow } from './SendWindow.js';

const publish = publisher('ack');

export type { Ack } from './SendWindow.js';

export interface SendOptions {
  /** Cancels the send: BW_ERR_ABORTED (the message may still have been processed if it was already written). */
  signal?: AbortSignal;
  /** When to give up. @defaultValue `sendTimeoutMs` from now */
  deadline?: Deadline;
}

export interface AckClientStats {
  /** Written on the current connection, not yet acknowledged. */
  inFlight: number;
  /** Accepted, waiting for the window (retransmits included). */
  queued: number;
  /** `send()` calls waiting for room (overflowPolicy 'wait'). */
  waiting: number;
  /** Payload bytes held for queued and in-flight messages (≤ maxBufferedBytes). */
  bufferedBytes: number;
  connected: boolean;
  endpoint: string | undefined;
  acked: number;
  retransmits: number;
  reconnects: number;
}

export interface AckClientEvents {
  connected: [{ endpoint: string; retransmitting: number }];
  disconnected: [{ endpoint: string; error: Error | undefined; unacked: number }];
  connectFailed: [{ endpoint: string; error: unknown }];
  retransmitted: [{ id: number; attempts: number; endpoint: string }];
  nacked: [{ id: number; reason: string; retryable: boolean }];
  /** A message recovered from the outbox at start settled (nobody awaits it: this is its outcome). */
  recovered: [{ id: number; ack: Ack | undefined; error: unknown }];
  /**
   * A settled message could not be deleted from the outbox (BW_ERR_OUTBOX_WRITE). Its send settled
   * anyway; the row is retried with the next delete, and if it is still there at the next start it is
   * resent, which the server answers from its dedup window within `dedupHorizonMs`.
   */
  outboxDeleteFailed: [{ id: number; error: BreakwaterError }];
  closed: [];
}

/**
 * The sending side of an ack channel (see {@link createAckClient}): a state
 * machine over one connection at a time. Parsing lives in FrameDecoder; this
 * class owns ids, the window, the queue, retransmission, heartbeats and
 * reconnects.
 */
export class AckClient extends EventEmitter<AckClientEvents> {
  /** 16 random bytes (hex) naming this client's session on the servers' dedup windows. */
  readonly session: string;
  /** The session, its ids and the outbox. */
  readonly #ids: ClientSession;
  readonly #o: ResolvedAckClientOptions;
  readonly #budget: RetryBudget;
  readonly #backoff: Backoff;
  readonly #stats = { acked: 0, retransmits: 0, reconnects: 0 };
  readonly #window: SendWindow;
  #endpointIndex = 0;
  #link: AckLink | undefined;
  #connecting: AbortController | undefined;
  #reconnectTimer: TimerHandle | undefined;
  #batching = false;
  #closing = false;
  #destroyed = false;
  #closed: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;
  /** send() calls not yet settled; while > 0, {@link #keepAlive} holds the event loop open. */
  #pendingSends = 0;
  #keepAlive: NodeJS.Timeout | undefined;

  /** @internal Use {@link createAckClient}. */
  constructor(options: AckClientOptions) {
    super();
    this.#o = resolveAckClientOptions(options);
    // With messages to resend, the outbox resumes their session (so the servers' dedup windows recognise
    // them) and hands out ids above any it used before; with none, a fresh session.
    this.#ids = new ClientSession(this.#o);
    this.session = this.#ids.hex;
    this.#budget = this.#o.retryBudget ?? new RetryBudget({ clock: this.#o.clock });
    this.#backoff = createBackoff({ baseDelayMs: this.#o.reconnectBaseDelayMs, maxDelayMs: this.#o.reconnectMaxDelayMs });
    this.#window = new SendWindow(this.#o, (m, error) => this.#settle(m, error));
    for (const { id, payload } of this.#ids.takeRecovered()) this.#recover(id, payload);
    this.#connect();
  }

  #recover(id: number, payload: Buffer): void {
    const report = (ack: Ack | undefined, error: unknown) => this.emit('recovered', { id, ack, error });
    const m = this.#window.create(
      payload,
      (ack) => report(ack, undefined),
      (error) => report(undefined, error),
    );
    this.#window.admit(m, id);
    this.#window.watchExpiry(m, undefined, undefined);
  }

  stats(): AckClientStats {
    return {
      ...this.#stats,
      inFlight: this.#window.inFlight,
      queued: this.#window.unsettled - this.#window.inFlight,
      waiting: this.#window.waiting,
      bufferedBytes: this.#window.bufferedBytes,
      connected: this.#link?.open === true,
      endpoint: this.#link?.endpoint,
    };
  }

  /**
   * Sends one message; resolves once the server's handler has processed it
   * (an ACK came back). Rejects with BW_ERR_BACKPRESSURE (overflowPolicy
   * 'reject' and no room), BW_ERR_ACK_TIMEOUT (written but not acknowledged
   * by the deadline: it may or may not have been processed), BW_ERR_DEADLINE
   * (never written), BW_ERR_ABORTED, BW_ERR_CLOSED, or the NACK (see
   * `nackPolicy`). The payload must not be modified until the promise settles.
   */
  send(payload: Uint8Array | string, options: SendOptions = {}): Promise<Ack> {
    let buf: Buffer;
    let signal: AbortSignal | undefined;
    let deadline: Deadline | undefined;
    try {
      const o = validateOptionsObject<SendOptions>(options, 'send() options', ['signal', 'deadline']);
      signal = validateSignal(o.signal);
      if (o.deadline !== undefined && !(o.deadline instanceof Deadline)) {
        throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `deadline` to be a Deadline', { details: { key: 'deadline' } });
      }
      deadline = o.deadline;
      buf = toBuffer(payload);
      const max = Math.min(this.#o.maxFrameBytes - DATA_OVERHEAD_BYTES, this.#o.maxBufferedBytes);
      if (buf.length > max) {
        throw new BreakwaterError(
          'BW_ERR_INVALID_OPTION',
          `Expected \`payload\` to be at most ${max} bytes (maxFrameBytes, maxBufferedBytes), got ${buf.length}`,
          {
            details: { key: 'payload' },
          },
        );
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closing) return Promise.reject(new BreakwaterError('BW_ERR_CLOSED', 'the ack client is closed'));
    if (signal?.aborted) return Promise.reject(abortError(signal.reason));
    if (deadline?.expired) return Promise.reject(deadline.signal.reason);
    // Fast path for a full client under 'reject': no timer, no listener, nothing to clean up.
    if (this.#o.overflowPolicy === 'reject' && !this.#window.admissible(buf.length)) return Promise.reject(this.#backpressureError());
    this.#budget.recordRequest();
    this.#holdProcess();
    const settled = () => this.#releaseProcess();
    return new Promise<Ack>((resolve, reject) => {
      const m = this.#window.create(
        buf,
        (ack) => {
          settled();
          resolve(ack);
        },
        (error) => {
          settled();
          reject(error);
        },
      );
      this.#window.watchExpiry(m, signal, deadline);
      if (this.#window.admissible(buf.length)) return this.#admit(m);
      this.#window.wait(m);
    });
  }

  /**
   * Every timer of the client is unref'd, so a pending send alone would not
   * keep Node running: `await client.send(m, { deadline })` at the end of a
   * script would exit with an unsettled promise (code 13) instead of settling
   * by its deadline. Like a socket with a request in flight, the client keeps
   * the process alive exactly while a send() is pending.
   */
  #holdProcess(): void {
    if (this.#pendingSends++ === 0) this.#keepAlive = setInterval(() => {}, 2 ** 31 - 1);
  }

  #releaseProcess(): void {
    if (--this.#pendingSends === 0) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }

  #backpressureError(): BreakwaterError {
    return new BreakwaterError(
      'BW_ERR_BACKPRESSURE',
      `send window and queue are full (${this.#window.unsettled} messages, ${this.#window.bufferedBytes} bytes buffered)`,
      {
        details: { maxInFlight: this.#o.maxInFlight, maxQueuedMessages: this.#o.maxQueuedMessages, maxBufferedBytes: this.#o.maxBufferedBytes },
      },
    );
  }

  /**
   * Stops accepting messages, waits until every accepted one is settled
   * (each within its own deadline), then closes the connection and every
   * timer. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#closing = true;
      this.#onDrained = () => {
        this.#onDrained = undefined;
        void this.#teardown().then(resolve);
      };
      this.#checkDrained();
    });
    return this.#closed;
  }

  /** Closes at once: every unsettled send rejects with BW_ERR_CLOSED (with an outbox, they stay there for the next start). */
  destroy(): Promise<void> {
    this.#closing = true;
    this.#ids.keep();
    const error = new BreakwaterError('BW_ERR_CLOSED', 'the ack client was destroyed before the message was acknowledged');
    for (const m of this.#window.all()) this.#settle(m, error);
    this.#onDrained = undefined;
    const done = this.#teardown();
    this.#closed ??= done;
    return done;
  }

  #admit(m: Message): void {
    // Durable before it can reach the socket: a crash from here on is recovered on restart. If the
    // disk refuses, the send fails and nothing is transmitted (the id is not used either).
    let id: number;
    try {
      id = this.#ids.admit(m.payload);
    } catch (error) {
      this.#settle(m, error as Error);
      return;
    }
    this.#window.admit(m, id);
    this.#flush();
  }

  #admitWaiters(): void {
    for (let m = this.#window.nextWaiter(); m !== undefined; m = this.#window.nextWaiter()) this.#admit(m);
  }

  #settle(m: Message, outcome: Ack | Error): void {
    const done = this.#window.settle(m);
    if (done === undefined) return;
    const { admitted } = done;
    if (admitted) this.#forget(m.id);
    if (outcome instanceof Error) m.reject(outcome);
    else m.resolve(outcome);
    if (admitted) {
      this.#admitWaiters();
      this.#flush();
    }
    this.#checkDrained();
  }

  #forget(id: number): void {
    const error = this.#ids.settle(id);
    if (error === undefined) return;
    const event = { id, error };
    publish('outboxDeleteFailed', event);
    this.emit('outboxDeleteFailed', event);
  }

  #checkDrained(): void {
    if (this.#closing && this.#window.empty) this.#onDrained?.();
  }

  /** Writes queued messages that fit the window, until write() says the socket buffer is full (FM-10). */
  #flush(): void {
    const link = this.#link;
    if (this.#batching || link === undefined || !link.open || link.blocked) return;
    const floor = this.#window.floor(this.#ids.nextId);
    let corked = false;
    for (const m of this.#window.sendable(floor, link.window)) {
      if (!corked) {
        link.socket.cork();
        corked = true;
      }
      this.#transmit(link, m, floor);
      if (link.blocked) break;
    }
    if (corked) link.socket.uncork();
  }

  #transmit(link: AckLink, m: Message, floor: number): void {
    this.#window.sent(m, link.endpoint);
    link.writeData(m.id, floor, m.payload);
    if (m.attempts > 1) {
      this.#stats.retransmits++;
      const event = { id: m.id, attempts: m.attempts, endpoint: link.endpoint };
      publish('retransmitted', event);
      this.emit('retransmitted', event);
    }
  }

  #connect(): void {
    this.#reconnectTimer = undefined;
    if (this.#destroyed) return;
    const ep = this.#o.endpoints[this.#endpointIndex]!;
    const endpoint = `${ep.host}:${ep.port}`;
    const controller = new AbortController();
    this.#connecting = controller;
    connect({
      ...this.#o.socket,
      host: ep.host,
      port: ep.port,
      connectTimeoutMs: this.#o.connectTimeoutMs,
      clock: this.#o.clock,
      // One-way stream with its own heartbeats: the watchdog only watches writes drain.
      expectResponseAfterWrite: false,
      signal: controller.signal,
      ...(this.#o.tls === undefined ? {} : { tls: this.#o.tls }),
    }).then(
      (socket) => {
        this.#connecting = undefined;
        if (this.#destroyed) return void socket.destroy();
        this.#attach(socket, endpoint);
      },
      (error: unknown) => {
        this.#connecting = undefined;
        if (this.#destroyed) return;
        publish('connectFailed', { endpoint, error });
        this.emit('connectFailed', { endpoint, error });
        this.#failover();
      },
    );
  }

  readonly #linkHandler: AckLinkHandler = {
    isCurrent: (link) => link === this.#link,
    data: (link, chunk) => this.#onData(link, chunk),
    drained: () => this.#flush(),
    closed: (link) => this.#onLinkClosed(link),
    unacked: () => ({ count: this.#window.inFlight, oldestSentAt: this.#window.oldestSentAt() }),
  };

  #attach(socket: net.Socket, endpoint: string): void {
    this.#link = new AckLink(socket, endpoint, this.#ids.bytes, this.#o, this.#linkHandler);
  }

  #onData(link: AckLink, chunk: Buffer): void {
    if (link !== this.#link) return;
    this.#batching = true;
    try {
      for (const frame of link.decode(chunk)) {
        if (link !== this.#link) return;
        this.#onFrame(link, frame);
      }
    } catch (error) {
      publish('protocolFailed', { endpoint: link.endpoint, error });
      link.drop(error as Error);
    } finally {
      this.#batching = false;
      this.#flush();
    }
  }

  #onFrame(link: AckLink, frame: Frame): void {
    switch (frame.type) {
      case 'hello': {
        link.opened(frame.window);
        this.#backoff.reset();
        const event = { endpoint: link.endpoint, retransmitting: this.#window.unsettled };
        publish('connected', event);
        this.emit('connected', event);
        return;
      }
      case 'ack': {
        const m = this.#window.get(frame.id);
        if (m === undefined || m.state === 'parked') return; // settled already (deadline) or a late duplicate
        this.#stats.acked++;
        this.#settle(m, { id: m.id, attempts: m.attempts, elapsedMs: this.#o.clock.now() - m.startedAt, endpoint: link.endpoint });
        return;
      }
      case 'nack':
        this.#onNack(frame.id, frame.retryable, frame.reason);
        return;
      case 'pong': {
        if (link.pong(frame.token)) this.#retransmitOverdue(link);
        return;
      }
      default:
        throw new BreakwaterError('BW_ERR_PROTOCOL', `ack protocol: a server sent ${frame.type.toUpperCase()}`);
    }
  }

  #onNack(id: number, retryable: boolean, reason: string): void {
    const m = this.#window.get(id);
    if (m === undefined || m.state !== 'inflight') return;
    const event = { id, reason, retryable };
    publish('nacked', event);
    this.emit('nacked', event);
    const error = new BreakwaterError('BW_ERR_NACKED', `the peer's handler failed message ${id}: ${reason}`, {
      retryable,
      details: { nack: true, id, reason, attempts: m.attempts },
    });
    if (this.#o.nackPolicy === 'reject' || !retryable || !this.#budget.tryRetry()) {
      this.#settle(m, error);
      return;
    }
    // Parked out of the window's way until its backoff ends; same id, so the server still dedups it.
    this.#window.park(m, error, () => this.#flush());
  }

  #retransmitOverdue(link: AckLink): void {
    link.probing = false;
    if (!link.open || link.blocked) return;
    const overdue = this.#window.overdue(this.#o.ackTimeoutMs);
    if (overdue.length === 0) return;
    const floor = this.#window.floor(this.#ids.nextId);
    link.socket.cork();
    for (const m of overdue) {
      this.#transmit(link, m, floor);
      if (link.blocked) break;
    }
    link.socket.uncork();
  }

  #onLinkClosed(link: AckLink): void {
    if (link !== this.#link) return;
    this.#link = undefined;
    // Everything unacknowledged goes out again, same ids, on the next connection.
    const event = { endpoint: link.endpoint, error: link.failure, unacked: this.#window.requeueInFlight(link.failure) };
    publish('disconnected', event);
    this.emit('disconnected', event);
    if (!this.#destroyed) this.#failover();
  }

  /** Next endpoint, after a jittered backoff drawn through the retry budget. */
  #failover(): void {
    this.#endpointIndex = (this.#endpointIndex + 1) % this.#o.endpoints.length;
    this.#stats.reconnects++;
    let delayMs = this.#backoff.next();
    if (!this.#budget.tryRetry()) {
      delayMs = this.#o.reconnectMaxDelayMs;
      publish('reconnectThrottled', { delayMs });
    }
    this.#reconnectTimer = this.#o.clock.setTimeout(() => this.#connect(), delayMs);
  }

  async #teardown(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#o.clock.clearTimeout(this.#reconnectTimer);
    this.#window.stop();
    this.#connecting?.abort(new BreakwaterError('BW_ERR_CLOSED', 'the ack client was closed'));
    const link = this.#link;
    this.#link = undefined;
    await link?.destroy();
    this.#ids.close();
    publish('closed', { session: this.session });
    this.emit('closed');
  }
}

function toBuffer(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `payload` to be a Buffer, a Uint8Array or a string', { details: { key: 'payload' } });
}

/**
 * Opens an ack channel to one server or a list (failover in order). `send()`
 * resolves only after the peer's handler processed the message: ids,
 * retransmission with the same id after a timeout or on reconnect,
 * heartbeats against frozen peers (FM-09), a bounded window and queue
 * (FM-10), reconnects with jittered backoff through a retry budget.
 *
 * @example
 * const client = createAckClient({ endpoints: [{ host: 'ingest-a', port: 7400 }, { host: 'ingest-b', port: 7400 }] });
 * const ack = await client.send(JSON.stringify(event), { deadline: Deadline.after(5_000) });
 */
export function createAckClient(options: AckClientOptions): AckClient {
  return new AckClient(options);
}
