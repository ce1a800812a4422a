import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { BreakwaterError, type Clock, classify, publisher, type TimerHandle, validateOptionsObject, validatePort, validateString } from '@breakwater/core';
import { harden } from '@breakwater/socket';
import { DedupWindow, type Outcome, type Session } from './DedupWindow.js';
import { type AckServerOptions, type ResolvedAckServerOptions, resolveAckServerOptions } from './defaults.js';
import { FrameDecoder } from './FrameDecoder.js';
import { encodeAck, encodeHello, encodeNack, encodePong, type Frame } from './frames.js';

const publish = publisher('ack');

export interface AckServerStats {
  connections: number;
  sessions: number;
  /** Dedup entries held (bounded by maxSessions × maxWindow). */
  dedupEntries: number;
  /** Handler calls that resolved. */
  handled: number;
  /** Handler calls that threw (NACKed). */
  failed: number;
  /** Retransmits answered from the dedup window without calling the handler. */
  duplicates: number;
  protocolErrors: number;
}

export interface AckServerEvents {
  connectionOpened: [{ remote: string }];
  connectionClosed: [{ remote: string; error: Error | undefined }];
  protocolFailed: [{ remote: string; error: BreakwaterError }];
  closed: [];
}

/**
 * The receiving side: runs the handler once per session + id, ACKs after it
 * resolves, NACKs when it throws (see {@link createAckServer}).
 */
export class AckServer extends EventEmitter<AckServerEvents> {
  readonly #o: ResolvedAckServerOptions;
  readonly #server: net.Server;
  readonly #dedup: DedupWindow;
  readonly #connections = new Set<ServerConnection>();
  readonly #stats = { handled: 0, failed: 0, duplicates: 0, protocolErrors: 0 };
  #running = 0;
  #idleWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createAckServer}. */
  constructor(options: AckServerOptions) {
    super();
    this.#o = resolveAckServerOptions(options);
    this.#dedup = new DedupWindow({ maxSessions: this.#o.maxSessions, maxWindow: this.#o.maxWindow, horizonMs: this.#o.dedupHorizonMs, clock: this.#o.clock });
    const onSocket = (socket: net.Socket) => this.#accept(socket);
    this.#server = this.#o.tls === undefined ? net.createServer({ allowHalfOpen: false }, onSocket) : tls.createServer(this.#o.tls, onSocket);
    this.#server.on('error', () => {});
  }

  /** Starts listening; resolves with the bound address. @defaultValue host '127.0.0.1', port 0 (a free port) */
  listen(options: { host?: string; port?: number } = {}): Promise<{ host: string; port: number }> {
    const o = validateOptionsObject<{ host?: string; port?: number }>(options, 'listen()', ['host', 'port']);
    const host = validateString(o.host ?? '127.0.0.1', 'host');
    const port = validatePort(o.port ?? 0);
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(classify(error, { host, port, phase: 'connect' }));
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve(this.address);
      });
    });
  }

  get address(): { host: string; port: number } {
    const a = this.#server.address();
    if (a === null || typeof a === 'string') throw new BreakwaterError('BW_ERR_CLOSED', 'the ack server is not listening');
    return { host: a.address, port: a.port };
  }

  stats(): AckServerStats {
    return { ...this.#stats, connections: this.#connections.size, sessions: this.#dedup.sessions, dedupEntries: this.#dedup.entries };
  }

  /**
   * Stops accepting, lets running handlers finish (their ACKs are sent),
   * then closes every connection. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const c of this.#connections) c.pause();
      if (this.#running > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      for (const c of this.#connections) c.destroy();
      await stopped;
      this.emit('closed');
    })();
    return this.#closing;
  }

  #accept(socket: net.Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    // The server only answers; the client's heartbeats keep the connection busy.
    harden(socket, { expectResponseAfterWrite: false, clock: this.#o.clock });
    const connection = new ServerConnection(socket, this.#o, {
      dedup: this.#dedup,
      stats: this.#stats,
      started: () => this.#running++,
      finished: () => {
        if (--this.#running === 0) for (const w of this.#idleWaiters.splice(0)) w();
      },
      protocolFailed: (remote, error) => {
        this.#stats.protocolErrors++;
        publish('protocolFailed', { remote, error });
        this.emit('protocolFailed', { remote, error });
      },
    });
    this.#connections.add(connection);
    this.emit('connectionOpened', { remote: connection.remote });
    socket.once('close', () => {
      this.#connections.delete(connection);
      connection.dispose();
      this.emit('connectionClosed', { remote: connection.remote, error: connection.failure });
    });
  }
}

interface Shared {
  dedup: DedupWindow;
  stats: { handled: number; failed: number; duplicates: number };
  started(): void;
  finished(): void;
  protocolFailed(remote: string, error: BreakwaterError): void;
}

/** One accepted connection: decodes frames, runs handlers through the dedup window, answers. */
class ServerConnection {
  readonly remote: string;
  failure: Error | undefined;
  readonly #socket: net.Socket;
  readonly #o: ResolvedAckServerOptions;
  readonly #shared: Shared;
  readonly #clock: Clock;
  readonly #decoder: FrameDecoder;
  #session: Session | undefined;
  #running = 0;
  #writeBlocked = false;
  #paused = false;
  #lastReceivedAt: number;
  #idleTimer: TimerHandle | undefined;
  #disposed = false;

  constructor(socket: net.Socket, o: ResolvedAckServerOptions, shared: Shared) {
    this.#socket = socket;
    this.#o = o;
    this.#shared = shared;
    this.#clock = o.clock;
    this.#decoder = new FrameDecoder({ maxFrameBytes: o.maxFrameBytes });
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#lastReceivedAt = o.clock.now();
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => {
      this.#writeBlocked = false;
      this.#updateFlow();
    });
    socket.on('error', (error) => {
      this.failure ??= error;
    });
    this.#armIdle(o.idleTimeoutMs);
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  dispose(): void {
    this.#disposed = true;
    this.#clock.clearTimeout(this.#idleTimer);
    if (this.#session !== undefined) this.#shared.dedup.release(this.#session);
  }

  #armIdle(delayMs: number): void {
    this.#idleTimer = this.#clock.setTimeout(() => {
      if (this.#disposed) return;
      const idle = this.#clock.now() - this.#lastReceivedAt;
      if (idle < this.#o.idleTimeoutMs) return this.#armIdle(this.#o.idleTimeoutMs - idle);
      this.failure ??= new BreakwaterError('BW_ERR_STALLED', `no frame from ${this.remote} for ${Math.round(idle)} ms: closing`, {
        details: { idleTimeoutMs: this.#o.idleTimeoutMs },
      });
      this.#socket.destroy();
    }, delayMs);
  }

  #onData(chunk: Buffer): void {
    this.#lastReceivedAt = this.#clock.now();
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.#fail(error as BreakwaterError);
      return;
    }
    this.#socket.cork();
    try {
      for (const frame of frames) {
        if (this.#disposed) return;
        this.#onFrame(frame);
      }
    } catch (error) {
      this.#fail(error instanceof BreakwaterError ? error : new BreakwaterError('BW_ERR_PROTOCOL', String(error), { cause: error }));
    } finally {
      this.#socket.uncork();
    }
  }

  #fail(error: BreakwaterError): void {
    this.failure ??= error;
    this.#shared.protocolFailed(this.remote, error);
    this.#socket.destroy();
  }

  #onFrame(frame: Frame): void {
    switch (frame.type) {
      case 'hello': {
        if (this.#session !== undefined) throw new BreakwaterError('BW_ERR_PROTOCOL', 'ack protocol: a second HELLO on one connection');
        this.#session = this.#shared.dedup.open(frame.session.toString('hex'));
        this.#write(encodeHello(frame.session, this.#o.maxWindow));
        return;
      }
      case 'ping':
        this.#write(encodePong(frame.token));
        return;
      case 'data':
        this.#onDataFrame(frame.id, frame.floor, frame.payload);
        return;
      default:
        throw new BreakwaterError('BW_ERR_PROTOCOL', `ack protocol: a client sent ${frame.type.toUpperCase()}`);
    }
  }

  #onDataFrame(id: number, floor: number, payload: Buffer): void {
    const session = this.#session;
    if (session === undefined) throw new BreakwaterError('BW_ERR_PROTOCOL', 'ack protocol: DATA before HELLO');
    const reply = (outcome: Outcome) => this.#reply(id, outcome);
    const verdict = this.#shared.dedup.admit(session, id, floor, reply);
    switch (verdict) {
      case 'stale':
      case 'duplicate':
        this.#shared.stats.duplicates++;
        this.#write(encodeAck(id));
        return;
      case 'attached':
        this.#shared.stats.duplicates++;
        return;
      case 'outOfWindow':
        throw new BreakwaterError(
          'BW_ERR_PROTOCOL',
          `ack protocol: DATA id ${id} is outside the window [${session.floor}, ${session.floor + this.#o.maxWindow})`,
        );
      case 'run':
        this.#run(session, id, payload);
    }
  }

  #run(session: Session, id: number, payload: Buffer): void {
    this.#running++;
    this.#shared.started();
    this.#updateFlow();
    const finish = (outcome: Outcome) => {
      if (outcome.ok) this.#shared.stats.handled++;
      else this.#shared.stats.failed++;
      this.#shared.dedup.complete(session, id, outcome);
      this.#running--;
      this.#shared.finished();
      this.#updateFlow();
    };
    let result: unknown;
    try {
      result = this.#o.handler(payload, { id, session: session.key });
    } catch (error) {
      finish(failure(error));
      return;
    }
    if (result instanceof Promise || (typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function')) {
      Promise.resolve(result).then(
        () => finish({ ok: true }),
        (error: unknown) => finish(failure(error)),
      );
    } else {
      finish({ ok: true });
    }
  }

  #reply(id: number, outcome: Outcome): void {
    if (this.#disposed || this.#socket.destroyed) return;
    this.#write(outcome.ok ? encodeAck(id) : encodeNack(id, outcome.retryable, outcome.reason));
  }

  #write(frame: Buffer): void {
    if (!this.#socket.write(frame)) {
      this.#writeBlocked = true;
      this.#updateFlow();
    }
  }

  /** Reads only while handlers have room and the client takes our answers: TCP pushes back otherwise (FM-10). */
  #updateFlow(): void {
    if (this.#disposed || this.#paused) return;
    const hold = this.#writeBlocked || this.#running >= this.#o.maxConcurrency;
    if (hold && !this.#socket.isPaused()) this.#socket.pause();
    else if (!hold && this.#socket.isPaused()) this.#socket.resume();
  }
}

function failure(error: unknown): Outcome {
  const retryable = typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
  return { ok: false, retryable, reason: error instanceof Error ? error.message : String(error) };
}

/**
 * Creates the receiving side of an ack channel. The handler runs once per
 * client session + message id — a retransmit of an id already handled gets
 * its ACK again without a call, one that arrives while the handler runs waits
 * for its outcome. ACK is sent only after the handler's promise resolves;
 * a throw or rejection sends a NACK with the error's message (`retryable`
 * when the error says so). Call `listen()` next.
 *
 * @example
 * const server = createAckServer({ handler: async (payload) => { await db.insert(JSON.parse(payload.toString())); } });
 * const { port } = await server.listen({ port: 7400, host: '0.0.0.0' });
 */
export function createAckServer(options: AckServerOptions): AckServer {
  return new AckServer(options);
}
