import { EventEmitter } from 'node:events';
import { BreakwaterError, type Closeable, Deadline, publisher } from '@breakwater/core';
import { RetryBudget } from '@breakwater/retry';
import type { AckClientEvents, AckClientStats, SendOptions } from './AckClientEvents.js';
import { AckLink, type AckLinkHandler } from './AckLink.js';
import { ClientSession } from './ClientSession.js';
import { type AckClientOptions, type ResolvedAckClientOptions, resolveAckClientOptions } from './defaults.js';
import { Failover } from './Failover.js';
import { DATA_OVERHEAD_BYTES, type Frame } from './frames.js';
import { type CloseOptions, closeWithin, Lifecycle } from './Lifecycle.js';
import { type Ack, abortError, type Message, SendWindow } from './SendWindow.js';
import { ProcessHold, validatePayload, validateSend } from './sendInput.js';

const publish = publisher('ack');

// The resolving functions of the send() promise being made: a shared executor saves a closure per send.
let capturedResolve: ((ack: Ack) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;
function capture(resolve: (ack: Ack) => void, reject: (error: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

export type { Ack } from './SendWindow.js';

/**
 * The sending side of an ack channel (see {@link createAckClient}): a state
 * machine over one connection at a time. The messages and their deadlines
 * live in SendWindow, the connection (socket, decoder, heartbeats, probe) in
 * AckLink, the session and outbox in ClientSession, endpoint order and
 * reconnect backoff in Failover; this class decides what to send when and
 * emits the events.
 */
export class AckClient extends EventEmitter<AckClientEvents> implements Closeable {
  /** 16 random bytes (hex) naming this client's session on the servers' dedup windows. */
  readonly session: string;
  /** The session, its ids and the outbox. */
  readonly #ids: ClientSession;
  readonly #o: ResolvedAckClientOptions;
  readonly #budget: RetryBudget;
  readonly #failover: Failover;
  readonly #stats = { acked: 0, retransmits: 0 };
  readonly #window: SendWindow;
  #link: AckLink | undefined;
  #batching = false;
  readonly #life = new Lifecycle();
  #closed: Promise<void> | undefined;
  #tornDown: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;
  /** Holds the event loop open while a send() is pending. */
  readonly #hold = new ProcessHold();

  /** @internal Use {@link createAckClient}. */
  constructor(options: AckClientOptions) {
    super();
    this.#o = resolveAckClientOptions(options);
    // With messages to resend, the outbox resumes their session (so the servers' dedup windows recognise
    // them) and hands out ids above any it used before; with none, a fresh session.
    this.#ids = new ClientSession(this.#o);
    this.session = this.#ids.hex;
    this.#budget = this.#o.retryBudget ?? new RetryBudget({ clock: this.#o.clock });
    this.#window = new SendWindow(this.#o, (m, error) => this.#settle(m, error));
    for (const { id, payload } of this.#ids.takeRecovered()) this.#recover(id, payload);
    this.#failover = new Failover(this.#o, this.#budget, {
      dialed: (socket, endpoint) => {
        this.#link = new AckLink(socket, endpoint, this.#ids.bytes, this.#o, this.#linkHandler);
      },
      dialFailed: (endpoint, error) => this.emit('connectFailed', { endpoint, error }),
    });
    this.#failover.connect();
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
      reconnects: this.#failover.reconnects,
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
  send(payload: Uint8Array | string, options?: SendOptions): Promise<Ack> {
    const maxBytes = Math.min(this.#o.maxFrameBytes - DATA_OVERHEAD_BYTES, this.#o.maxBufferedBytes);
    let buf: Buffer;
    let signal: AbortSignal | undefined;
    let deadline: Deadline | undefined;
    let deadlineMs: number | undefined;
    try {
      // Without options (the common call) there is nothing to check but the payload.
      if (options === undefined) buf = validatePayload(payload, maxBytes);
      else ({ buf, signal, deadline, deadlineMs } = validateSend(payload, options, maxBytes, this.#o.serverDedupHorizonMs));
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#life.phase !== 'running') return Promise.reject(new BreakwaterError('BW_ERR_CLOSED', 'the ack client is closed'));
    if (signal?.aborted) return Promise.reject(abortError(signal.reason));
    if (deadline?.expired) return Promise.reject(deadline.signal.reason);
    // Fast path for a full client under 'reject': no timer, no listener, nothing to clean up.
    if (this.#o.overflowPolicy === 'reject' && !this.#window.admissible(buf.length)) return Promise.reject(this.#window.backpressureError());
    this.#budget.recordRequest();
    // The message keeps the caller's resolving functions itself: no closure per send.
    const promise = new Promise<Ack>(capture);
    const m = this.#window.create(buf, capturedResolve!, capturedReject!);
    capturedResolve = undefined;
    capturedReject = undefined;
    m.holdsProcess = true;
    this.#hold.hold();
    try {
      this.#window.watchExpiry(m, signal, deadlineMs === undefined ? deadline : Deadline.after(deadlineMs, { clock: this.#o.clock }), deadlineMs !== undefined);
      if (this.#window.admissible(buf.length)) this.#admit(m);
      else this.#window.wait(m);
    } catch (error) {
      this.#settle(m, error instanceof Error ? error : new Error(String(error)));
    }
    return promise;
  }

  /**
   * Stops accepting messages, waits until every accepted one is settled
   * (each within its own deadline; with `deadlineMs`, at most that long, then
   * as `destroy()`), then closes the connection and every timer. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    return closeWithin(
      this.#o.clock,
      options,
      () => this.#drained(),
      () => this.destroy(),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #drained(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      this.#life.advance('draining');
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
    this.#life.advance('draining');
    this.#ids.keep();
    const error = new BreakwaterError('BW_ERR_CLOSED', 'the ack client was destroyed before the message was acknowledged');
    for (const m of this.#window.all()) this.#settle(m, error);
    this.#checkDrained(); // a close() in progress resolves with this teardown
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
    if (m.holdsProcess) this.#hold.release();
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
    if (this.#life.phase !== 'running' && this.#window.empty) this.#onDrained?.();
  }

  /** Writes queued messages that fit the window, until write() says the socket buffer is full (FM-10). */
  #flush(): void {
    const link = this.#link;
    if (this.#batching || link === undefined || !link.open || link.blocked) return;
    // A full window has nothing sendable: every in-flight id lies in [floor, floor + window), so
    // `window` of them fill it. Checked here because each send() flushes, and walking the window
    // to find nothing cost O(window) per message.
    if (this.#window.inFlight >= link.window) return;
    const floor = this.#window.floor(this.#ids.nextId);
    let corked = false;
    let now = 0;
    for (const m of this.#window.sendable(floor, link.window)) {
      if (!corked) {
        link.socket.cork();
        corked = true;
        now = this.#o.clock.now();
      }
      this.#transmit(link, m, floor, now);
      if (link.blocked) break;
    }
    if (corked) {
      link.flushWrites();
      link.socket.uncork();
    }
  }

  #transmit(link: AckLink, m: Message, floor: number, now: number): void {
    this.#window.sent(m, link.endpoint, now);
    link.writeData(m.id, floor, m.payload);
    if (m.attempts > 1) {
      this.#stats.retransmits++;
      const event = { id: m.id, attempts: m.attempts, endpoint: link.endpoint };
      publish('retransmitted', event);
      this.emit('retransmitted', event);
    }
  }

  readonly #linkHandler: AckLinkHandler = {
    isCurrent: (link) => link === this.#link,
    data: (link, chunk) => this.#onData(link, chunk),
    drained: () => this.#flush(),
    closed: (link) => this.#onLinkClosed(link),
    unacked: () => ({ count: this.#window.inFlight, oldestSentAt: this.#window.oldestSentAt() }),
  };

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
        this.#failover.greeted();
        const event = { endpoint: link.endpoint, retransmitting: this.#window.unsettled };
        publish('connected', event);
        this.emit('connected', event);
        return;
      }
      case 'ack': {
        const m = this.#answered(frame.id, 'ACK');
        if (m === undefined || m.state === 'parked') return; // settled already (deadline) or a late duplicate
        this.#stats.acked++;
        // The clock as this read arrived (decode() took it): one read per batch of ACKs, not per ACK.
        this.#settle(m, { id: m.id, attempts: m.attempts, elapsedMs: link.lastReceivedAt - m.startedAt, endpoint: link.endpoint });
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

  /**
   * The message an ACK or NACK answers. An answer for an id never admitted,
   * or for one admitted but not written on this connection, cannot come from
   * an honest server (it answers only DATA it received there): a protocol
   * error, so that no send resolves without a handler having seen it.
   */
  #answered(id: number, what: 'ACK' | 'NACK'): Message | undefined {
    const m = this.#window.get(id);
    if (m === undefined ? id >= this.#ids.nextId : m.state === 'queued') {
      throw new BreakwaterError('BW_ERR_PROTOCOL', `ack protocol: the server sent ${what} ${id} for a message not sent on this connection`, {
        details: { id, state: m?.state ?? 'never admitted' },
      });
    }
    return m;
  }

  #onNack(id: number, retryable: boolean, reason: string): void {
    const m = this.#answered(id, 'NACK');
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
    const now = this.#o.clock.now();
    link.socket.cork();
    for (const m of overdue) {
      this.#transmit(link, m, floor, now);
      if (link.blocked) break;
    }
    link.flushWrites();
    link.socket.uncork();
  }

  #onLinkClosed(link: AckLink): void {
    if (link !== this.#link) return;
    this.#link = undefined;
    // Everything unacknowledged goes out again, same ids, on the next connection.
    const event = { endpoint: link.endpoint, error: link.failure, unacked: this.#window.requeueInFlight(link.failure) };
    publish('disconnected', event);
    this.emit('disconnected', event);
    if (this.#life.phase !== 'closed') this.#failover.next();
  }

  /** Runs once; every later call returns the same promise. */
  #teardown(): Promise<void> {
    this.#tornDown ??= this.#closeAll();
    return this.#tornDown;
  }

  async #closeAll(): Promise<void> {
    this.#life.advance('closed');
    this.#failover.stop();
    this.#window.stop();
    const link = this.#link;
    this.#link = undefined;
    await link?.destroy();
    this.#ids.close();
    publish('closed', { session: this.session });
    this.emit('closed');
  }
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
