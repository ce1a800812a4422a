import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { BreakwaterError, type Closeable, classify, closeDeadlineMs, publisher, validateOptionsObject, validatePort, validateString } from '@breakwater/core';
import { harden } from '@breakwater/socket';
import { DedupWindow } from './DedupWindow.js';
import { type AckServerOptions, type ResolvedAckServerOptions, resolveAckServerOptions } from './defaults.js';
import type { CloseOptions } from './Lifecycle.js';
import { ServerConnection, type ServerShared } from './ServerConnection.js';

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
  /** Retransmits answered from the dedup window or the store without calling the handler. */
  duplicates: number;
  protocolErrors: number;
  /** Connections closed on arrival because `maxConnections` were open. */
  rejectedConnections: number;
  /** Sessions forgotten to make room for new ones (`maxSessions`), not by the horizon. */
  sessionEvictions: number;
  /** Bytes held across connections (unfinished and queued frames, running payloads); bounded by `maxTotalBufferedBytes` + one read per connection. */
  bufferedBytes: number;
  /** Messages whose store transaction could not begin or commit: connection closed, no answer (the client retransmits). */
  storeFailures: number;
  /** Handlers still running when `close()` gave up waiting (`closeTimeoutMs`). */
  abandonedHandlers: number;
}

export interface AckServerEvents {
  connectionOpened: [{ remote: string }];
  connectionClosed: [{ remote: string; error: Error | undefined }];
  protocolFailed: [{ remote: string; error: BreakwaterError }];
  /** A connection arrived while `maxConnections` were open: closed at once. */
  connectionRejected: [{ remote: string }];
  storeFailed: [{ remote: string; error: BreakwaterError }];
  closed: [];
}

/**
 * The receiving side: runs the handler once per session + id, ACKs after it
 * resolves, NACKs when it throws (see {@link createAckServer}).
 */
export class AckServer<Tx = undefined> extends EventEmitter<AckServerEvents> implements Closeable {
  readonly #o: ResolvedAckServerOptions<Tx>;
  readonly #server: net.Server;
  readonly #dedup: DedupWindow;
  readonly #connections = new Set<ServerConnection<Tx>>();
  readonly #stats = { handled: 0, failed: 0, duplicates: 0, protocolErrors: 0, rejectedConnections: 0, storeFailures: 0, abandonedHandlers: 0 };
  readonly #shared: ServerShared<Tx>;
  #buffered = 0;
  #running = 0;
  #idleWaiters: (() => void)[] = [];
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createAckServer}. */
  constructor(options: AckServerOptions<Tx>) {
    super();
    const o = resolveAckServerOptions(options);
    this.#o = o;
    this.#dedup = new DedupWindow({
      maxSessions: o.maxSessions,
      maxWindow: o.maxWindow,
      horizonMs: o.dedupHorizonMs,
      clock: o.clock,
      maxFloorAdvance: o.maxFloorAdvance,
    });
    this.#shared = {
      o,
      dedup: this.#dedup,
      stats: this.#stats,
      started: () => this.#running++,
      finished: () => {
        if (--this.#running === 0) for (const w of this.#idleWaiters.splice(0)) w();
      },
      adjustBuffered: (delta) => this.#adjustBuffered(delta),
      overBudget: () => this.#buffered > o.maxTotalBufferedBytes,
      protocolFailed: (remote, error) => {
        this.#stats.protocolErrors++;
        publish('protocolFailed', { remote, error });
        this.emit('protocolFailed', { remote, error });
      },
      storeFailed: (remote, error) => {
        publish('storeFailed', { remote, error });
        this.emit('storeFailed', { remote, error });
      },
    };
    const onSocket = (socket: net.Socket) => this.#accept(socket);
    // The TLS handshake counts against the HELLO deadline; a user's own handshakeTimeout wins.
    this.#server =
      o.tls === undefined ? net.createServer({ allowHalfOpen: false }, onSocket) : tls.createServer({ handshakeTimeout: o.helloTimeoutMs, ...o.tls }, onSocket);
    // Node closes connections past the limit as they arrive (before any TLS work) and emits 'drop'.
    this.#server.maxConnections = o.maxConnections;
    this.#server.on('drop', (data?: { remoteAddress?: string; remotePort?: number }) => {
      this.#stats.rejectedConnections++;
      const event = { remote: `${data?.remoteAddress}:${data?.remotePort}` };
      publish('connectionRejected', event);
      this.emit('connectionRejected', event);
    });
    this.#server.on('error', () => {});
  }

  /** Starts listening; resolves with the bound address. @defaultValue host '127.0.0.1', port 0 (a free port) */
  listen(options: { host?: string; port?: number } = {}): Promise<{ host: string; port: number }> {
    const o = validateOptionsObject<{ host?: string; port?: number }>(options, 'listen()', ['host', 'port']);
    const host = validateString(o.host ?? '127.0.0.1', 'host');
    const port = validatePort(o.port ?? 0);
    if (this.#closing !== undefined) {
      return Promise.reject(
        new BreakwaterError('BW_ERR_CLOSED', 'the ack server was closed: it cannot listen again', { hint: 'Create a new server with createAckServer().' }),
      );
    }
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
    return {
      ...this.#stats,
      connections: this.#connections.size,
      sessions: this.#dedup.sessions,
      dedupEntries: this.#dedup.entries,
      sessionEvictions: this.#dedup.evictions,
      bufferedBytes: this.#buffered,
    };
  }

  /**
   * Stops accepting, lets running handlers finish (their ACKs are sent) for
   * up to `deadlineMs` (default `closeTimeoutMs`), then closes every connection anyway: a handler
   * that never finishes cannot hold the server open. Idempotent: a later call
   * returns the same promise, except that a later `deadlineMs` (or `destroy()`) still cuts the wait short.
   */
  close(options: CloseOptions = {}): Promise<void> {
    let given: number | undefined;
    try {
      given = closeDeadlineMs(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const waitMs = given ?? this.#o.closeTimeoutMs;
    if (this.#closing !== undefined) {
      // A later, shorter deadline cuts the wait for running handlers short.
      if (given !== undefined) this.#cutWaitAfter(waitMs);
      return this.#closing;
    }
    this.#closing = (async () => {
      const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const c of this.#connections) c.pause();
      if (this.#running > 0) {
        const clock = this.#o.clock;
        let timer: ReturnType<typeof clock.setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          this.#idleWaiters.push(resolve);
          timer = clock.setTimeout(resolve, waitMs);
        });
        clock.clearTimeout(timer);
        for (const settle of this.#idleWaiters.splice(0)) settle(); // a later call's shorter wait, if any
        // Their outcomes are never sent: the clients retransmit (a store rolls back what did not commit).
        this.#stats.abandonedHandlers = this.#running;
      }
      for (const c of this.#connections) c.destroy();
      await stopped;
      this.emit('closed');
    })();
    return this.#closing;
  }

  #cutWaitAfter(ms: number): void {
    const release = () => {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    };
    if (ms === 0 || this.#idleWaiters.length === 0) return void (ms === 0 && release());
    const clock = this.#o.clock;
    const timer = clock.setTimeout(release, ms);
    this.#idleWaiters.push(() => clock.clearTimeout(timer));
  }

  /** Closes at once: running handlers' outcomes are not sent (clients retransmit), every connection is destroyed. */
  destroy(): Promise<void> {
    return this.close({ deadlineMs: 0 });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #adjustBuffered(delta: number): void {
    const wasOver = this.#buffered > this.#o.maxTotalBufferedBytes;
    this.#buffered += delta;
    if (wasOver && this.#buffered <= this.#o.maxTotalBufferedBytes) for (const c of this.#connections) c.updateFlow();
  }

  #accept(socket: net.Socket): void {
    if (this.#closing !== undefined) {
      socket.destroy();
      return;
    }
    // The server only answers; the client's heartbeats keep the connection busy.
    harden(socket, { expectResponseAfterWrite: false, clock: this.#o.clock });
    const connection = new ServerConnection<Tx>(socket, this.#shared, identityOf(socket));
    this.#connections.add(connection);
    this.emit('connectionOpened', { remote: connection.remote });
    socket.once('close', () => {
      this.#connections.delete(connection);
      connection.dispose();
      this.emit('connectionClosed', { remote: connection.remote, error: connection.failure });
    });
  }
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
export function createAckServer<Tx = undefined>(options: AckServerOptions<Tx>): AckServer<Tx> {
  return new AckServer<Tx>(options);
}

/** The verified client certificate's SHA-256 fingerprint (hex), when TLS client authentication succeeded. */
function identityOf(socket: net.Socket): string | undefined {
  if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return undefined;
  const fingerprint = socket.getPeerCertificate()?.fingerprint256;
  return typeof fingerprint === 'string' && fingerprint.length > 0 ? fingerprint.replaceAll(':', '').toLowerCase() : undefined;
}
