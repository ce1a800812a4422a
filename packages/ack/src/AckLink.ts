import type net from 'node:net';
import { BreakwaterError, type TimerHandle } from '@breakwater/core';
import { connect } from '@breakwater/socket';
import type { AckEndpoint, ResolvedAckClientOptions } from './defaults.js';
import { FrameDecoder } from './FrameDecoder.js';
import { FrameWriter } from './FrameWriter.js';
import { encodeHello, type Frame, FrameType } from './frames.js';

export type AckLinkOptions = Pick<
  ResolvedAckClientOptions,
  'clock' | 'maxFrameBytes' | 'maxInFlight' | 'ackTimeoutMs' | 'heartbeatIntervalMs' | 'heartbeatTimeoutMs'
>;

/** What a link asks of its client. */
export interface AckLinkHandler {
  /** Whether `link` is still the client's connection (a replaced one only cleans up). */
  isCurrent(link: AckLink): boolean;
  data(link: AckLink, chunk: Buffer): void;
  drained(link: AckLink): void;
  closed(link: AckLink): void;
  /** When the oldest unacknowledged message was written, and how many are unacknowledged. */
  unacked(): { count: number; oldestSentAt: number | undefined };
}

/** `handshaking`: HELLO sent, not answered; `open`: the server's HELLO came (its window is known). */
export type AckLinkState = 'handshaking' | 'open';

/**
 * One TCP (or TLS) connection to one endpoint: the socket, its decoder, the
 * handshake, heartbeats and the overdue-ACK probe. It knows nothing of
 * messages beyond writing DATA frames; the client decides what to send.
 */
export class AckLink {
  readonly socket: net.Socket;
  readonly endpoint: string;
  state: AckLinkState = 'handshaking';
  /** write() returned false: wait for 'drain' (FM-10). */
  blocked = false;
  /** Effective window: min(maxInFlight, the server's limit). */
  window: number;
  lastReceivedAt: number;
  /** Set while a PING (or the HELLO) awaits its answer. */
  pingSentAt: number | undefined;
  /** The PING was sent because an ACK is overdue: on PONG, retransmit the overdue messages. */
  probing = false;
  failure: Error | undefined;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #o: AckLinkOptions;
  readonly #handler: AckLinkHandler;
  #pingToken = 0;
  #nextPingToken = 1;
  #tick: TimerHandle | undefined;

  constructor(socket: net.Socket, endpoint: string, session: Buffer, o: AckLinkOptions, handler: AckLinkHandler) {
    const now = o.clock.now();
    this.socket = socket;
    this.endpoint = endpoint;
    this.#o = o;
    this.#handler = handler;
    this.#decoder = new FrameDecoder({ maxFrameBytes: o.maxFrameBytes });
    this.#writer = new FrameWriter(socket);
    this.window = o.maxInFlight;
    this.lastReceivedAt = now;
    this.pingSentAt = now; // the HELLO counts as a PING: no answer within heartbeatTimeoutMs → next endpoint
    socket.on('data', (chunk: Buffer) => handler.data(this, chunk));
    socket.on('drain', () => {
      this.blocked = false;
      handler.drained(this);
    });
    socket.on('error', (error) => {
      this.failure ??= error;
    });
    socket.once('close', () => {
      this.stop();
      handler.closed(this);
    });
    socket.write(encodeHello(session, o.maxInFlight));
    this.#armTick();
  }

  /** Connects to `ep` with the client's socket hardening, TLS and connect timeout. */
  static dial(ep: AckEndpoint, o: Pick<ResolvedAckClientOptions, 'socket' | 'tls' | 'connectTimeoutMs' | 'clock'>, signal: AbortSignal): Promise<net.Socket> {
    return connect({
      ...o.socket,
      host: ep.host,
      port: ep.port,
      connectTimeoutMs: o.connectTimeoutMs,
      clock: o.clock,
      // One-way stream with its own heartbeats: the watchdog only watches writes drain.
      expectResponseAfterWrite: false,
      signal,
      ...(o.tls === undefined ? {} : { tls: o.tls }),
    });
  }

  get open(): boolean {
    return this.state === 'open';
  }

  /** Frames in `chunk` (throws BW_ERR_PROTOCOL on a malformed one). */
  decode(chunk: Buffer): Frame[] {
    this.lastReceivedAt = this.#o.clock.now();
    return this.#decoder.push(chunk);
  }

  /** The server's HELLO: the link is open with window `serverWindow` (capped by ours). */
  opened(serverWindow: number): void {
    if (this.state === 'open') throw new BreakwaterError('BW_ERR_PROTOCOL', 'ack protocol: a second HELLO from the server');
    this.state = 'open';
    this.pingSentAt = undefined;
    this.window = Math.min(this.#o.maxInFlight, serverWindow);
  }

  /** A PONG: true when it answers a probe, so the overdue messages are worth retransmitting now. */
  pong(token: number): boolean {
    if (token !== this.#pingToken) return false;
    this.pingSentAt = undefined;
    return this.probing;
  }

  /** Gathered with the other frames of this batch: call {@link flushWrites} when the batch ends. */
  writeData(id: number, floor: number, payload: Buffer): void {
    if (!this.#writer.data(id, floor, payload)) this.blocked = true;
  }

  /** Writes the frames gathered by writeData(). */
  flushWrites(): void {
    if (!this.#writer.flush()) this.blocked = true;
  }

  drop(error: Error): void {
    this.failure ??= error;
    this.socket.destroy();
  }

  /** Stops the heartbeat timer. */
  stop(): void {
    this.#o.clock.clearTimeout(this.#tick);
    this.#tick = undefined;
  }

  /** Destroys the socket and resolves once it is closed. */
  async destroy(): Promise<void> {
    this.stop();
    if (this.socket.closed) return;
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.destroy();
    await closed;
  }

  #ping(): void {
    this.#pingToken = this.#nextPingToken++;
    this.pingSentAt = this.#o.clock.now();
    this.#writer.idFrame(FrameType.PING, this.#pingToken);
    this.#writer.flush();
  }

  #armTick(): void {
    const o = this.#o;
    const period = Math.max(5, Math.min(1_000, Math.min(o.ackTimeoutMs, o.heartbeatIntervalMs, o.heartbeatTimeoutMs) / 4));
    this.#tick = o.clock.setTimeout(() => this.#onTick(), period);
  }

  /** Heartbeats and ack timeouts, a few times per the shortest of their periods. */
  #onTick(): void {
    this.#tick = undefined;
    if (!this.#handler.isCurrent(this)) return;
    const o = this.#o;
    const now = o.clock.now();
    if (this.pingSentAt !== undefined && now - this.pingSentAt >= o.heartbeatTimeoutMs) {
      const silentMs = Math.round(now - this.lastReceivedAt);
      this.drop(
        new BreakwaterError(
          'BW_ERR_ACK_TIMEOUT',
          `${this.endpoint} answered no ${this.open ? 'PING' : 'HELLO'} within ${o.heartbeatTimeoutMs} ms (silent for ${silentMs} ms)`,
          {
            details: { endpoint: this.endpoint, heartbeatTimeoutMs: o.heartbeatTimeoutMs, silentMs, unacked: this.#handler.unacked().count },
          },
        ),
      );
      return;
    }
    if (this.open && this.pingSentAt === undefined) {
      const { oldestSentAt } = this.#handler.unacked();
      if (oldestSentAt !== undefined && now - oldestSentAt >= o.ackTimeoutMs) {
        this.probing = true;
        this.#ping();
      } else if (now - this.lastReceivedAt >= o.heartbeatIntervalMs) {
        this.#ping();
      }
    }
    this.#armTick();
  }
}
