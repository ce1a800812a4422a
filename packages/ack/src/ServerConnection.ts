import type net from 'node:net';
import { BreakwaterError, type Clock, type TimerHandle } from '@breakwater/core';
import type { DedupWindow, Outcome, Session } from './DedupWindow.js';
import type { ResolvedAckServerOptions } from './defaults.js';
import { FrameDecoder } from './FrameDecoder.js';
import { FrameWriter } from './FrameWriter.js';
import { encodeHello, encodeNack, type Frame, FrameType } from './frames.js';

/** What every connection of one server shares: options, the dedup window, counters, the memory budget. */
export interface ServerShared<Tx> {
  o: ResolvedAckServerOptions<Tx>;
  dedup: DedupWindow;
  stats: { handled: number; failed: number; duplicates: number; storeFailures: number };
  started(): void;
  finished(): void;
  /** Bytes this connection holds changed by `delta` (unfinished frames, queued frames, running payloads). */
  adjustBuffered(delta: number): void;
  overBudget(): boolean;
  protocolFailed(remote: string, error: BreakwaterError): void;
  storeFailed(remote: string, error: BreakwaterError): void;
}

/**
 * One accepted connection: decodes frames, runs handlers through the dedup
 * window (and the store), answers. Reads are held while `maxConcurrency`
 * handlers run, while decoded frames wait for a slot, while ACKs do not
 * drain, and while the server is over its memory budget.
 */
export class ServerConnection<Tx> {
  readonly remote: string;
  failure: Error | undefined;
  readonly #socket: net.Socket;
  readonly #o: ResolvedAckServerOptions<Tx>;
  readonly #shared: ServerShared<Tx>;
  readonly #clock: Clock;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  /** Nesting depth of #pump (a handler that finishes synchronously pumps again from inside): replies are flushed when the outermost returns. */
  #pumping = 0;
  /** TLS client-certificate identity, or the remote address: the owner of the sessions opened here. */
  readonly #peer: string;
  readonly #identity: string | undefined;
  #sessionKey: string | undefined;
  #session: Session | undefined;
  /** Decoded frames waiting for a handler slot: one read's worth at most, since reading stops meanwhile. */
  #backlog: Frame[] = [];
  #backlogHead = 0;
  #backlogBytes = 0;
  #runningBytes = 0;
  #held = 0;
  #running = 0;
  #writeBlocked = false;
  #paused = false;
  #lastProgressAt: number;
  /** The clock when the read being handled arrived (set only while #onData runs): handlers finishing inside it reuse it. */
  #readAt: number | undefined;
  /** Told the outcome of each message this connection started or attached to: one function for all of them. */
  readonly #replyTo = (outcome: Outcome, id: number): void => this.#reply(id, outcome);
  #idleTimer: TimerHandle | undefined;
  #helloTimer: TimerHandle | undefined;
  #disposed = false;

  constructor(socket: net.Socket, shared: ServerShared<Tx>, identity: string | undefined) {
    this.#socket = socket;
    this.#o = shared.o;
    this.#shared = shared;
    this.#clock = shared.o.clock;
    this.#decoder = new FrameDecoder({ maxFrameBytes: this.#o.maxFrameBytes, skipOversizedData: true });
    this.#writer = new FrameWriter(socket);
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#identity = identity;
    this.#peer = identity ?? socket.remoteAddress ?? '';
    this.#lastProgressAt = this.#clock.now();
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => {
      this.#writeBlocked = false;
      this.#pump();
    });
    socket.on('error', (error) => {
      this.failure ??= error;
    });
    this.#helloTimer = this.#clock.setTimeout(() => {
      if (this.#disposed || this.#sessionKey !== undefined) return;
      this.#close(
        new BreakwaterError('BW_ERR_STALLED', `${this.remote} sent no HELLO within ${this.#o.helloTimeoutMs} ms: closing`, {
          details: { helloTimeoutMs: this.#o.helloTimeoutMs },
        }),
      );
    }, this.#o.helloTimeoutMs);
    this.#armIdle(this.#o.idleTimeoutMs);
  }

  get running(): number {
    return this.#running;
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#clock.clearTimeout(this.#idleTimer);
    this.#clock.clearTimeout(this.#helloTimer);
    if (this.#session !== undefined) this.#shared.dedup.release(this.#session);
    this.#backlog = [];
    this.#backlogHead = 0;
    this.#backlogBytes = 0;
    // Running handlers keep their payload until they finish (#finish gives it back).
    this.#account();
  }

  /** Re-evaluates whether to read (the server calls it when its memory budget frees up). */
  updateFlow(): void {
    if (this.#disposed || this.#paused) return;
    const hold = this.#writeBlocked || this.#backlogHead < this.#backlog.length || this.#running >= this.#o.maxConcurrency || this.#shared.overBudget();
    if (hold && !this.#socket.isPaused()) this.#socket.pause();
    else if (!hold && this.#socket.isPaused()) this.#socket.resume();
  }

  #close(error: BreakwaterError): void {
    this.failure ??= error;
    this.#socket.destroy();
  }

  #armIdle(delayMs: number): void {
    this.#idleTimer = this.#clock.setTimeout(() => {
      if (this.#disposed) return;
      const idle = this.#clock.now() - this.#lastProgressAt;
      // Running handlers or queued frames are the server's doing, not the peer's silence.
      if (idle < this.#o.idleTimeoutMs || this.#running > 0 || this.#backlogHead < this.#backlog.length) {
        return this.#armIdle(Math.max(1, this.#o.idleTimeoutMs - idle));
      }
      this.#close(
        new BreakwaterError('BW_ERR_STALLED', `no complete frame from ${this.remote} for ${Math.round(idle)} ms: closing`, {
          details: { idleTimeoutMs: this.#o.idleTimeoutMs, partialFrameBytes: this.#decoder.bufferedBytes },
        }),
      );
    }, delayMs);
  }

  #account(): void {
    const held = (this.#disposed ? 0 : this.#decoder.bufferedBytes) + this.#backlogBytes + this.#runningBytes;
    if (held !== this.#held) {
      const delta = held - this.#held;
      this.#held = held;
      this.#shared.adjustBuffered(delta);
    }
  }

  #onData(chunk: Buffer): void {
    if (this.#disposed) return;
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.#fail(error as BreakwaterError);
      return;
    }
    // Only a complete frame is progress: bytes trickled into one that never completes are not.
    if (frames.length > 0) this.#lastProgressAt = this.#readAt = this.#clock.now();
    for (const f of frames) {
      this.#backlog.push(f);
      if (f.type === 'data') this.#backlogBytes += f.payload.length;
    }
    this.#account();
    try {
      this.#pump();
    } finally {
      this.#readAt = undefined;
    }
  }

  /** Handles queued frames while a handler slot is free: maxConcurrency holds per frame, not per read. */
  #pump(): void {
    if (this.#disposed) return;
    this.#socket.cork();
    this.#pumping++;
    try {
      while (this.#backlogHead < this.#backlog.length && this.#running < this.#o.maxConcurrency && !this.#writeBlocked && !this.#disposed) {
        const frame = this.#backlog[this.#backlogHead++]!;
        if (frame.type === 'data') this.#backlogBytes -= frame.payload.length;
        this.#onFrame(frame);
      }
    } catch (error) {
      this.#fail(error instanceof BreakwaterError ? error : new BreakwaterError('BW_ERR_PROTOCOL', String(error), { cause: error }));
    } finally {
      if (--this.#pumping === 0) this.#flushWrites();
      this.#socket.uncork();
    }
    if (this.#backlogHead === this.#backlog.length) {
      this.#backlog = [];
      this.#backlogHead = 0;
    }
    this.#account();
    this.updateFlow();
  }

  #fail(error: BreakwaterError): void {
    this.failure ??= error;
    this.#shared.protocolFailed(this.remote, error);
    this.#socket.destroy();
  }

  #onFrame(frame: Frame): void {
    switch (frame.type) {
      case 'hello': {
        if (this.#sessionKey !== undefined) throw new BreakwaterError('BW_ERR_PROTOCOL', 'ack protocol: a second HELLO on one connection');
        this.#clock.clearTimeout(this.#helloTimer);
        const hex = frame.session.toString('hex');
        // Bound to the verified certificate: another client names another key, whatever bytes it sends.
        this.#sessionKey = this.#identity === undefined ? hex : `${this.#identity}/${hex}`;
        // The dedup session is opened by the first DATA: a HELLO alone costs no dedup state.
        this.#write(encodeHello(frame.session, this.#o.maxWindow));
        return;
      }
      case 'ping':
        this.#writeId(FrameType.PONG, frame.token);
        return;
      case 'data':
        if (frame.oversizedBytes !== undefined) this.#refuseOversized(frame.id, frame.oversizedBytes);
        else this.#onDataFrame(frame.id, frame.floor, frame.payload);
        return;
      default:
        throw new BreakwaterError('BW_ERR_PROTOCOL', `ack protocol: a client sent ${frame.type.toUpperCase()}`);
    }
  }

  /**
   * A DATA frame over `maxFrameBytes` (its body was discarded unread): a
   * NACK the client cannot retry, never the handler. Closing the connection
   * instead would only bring the same frame back on the next one, and every
   * message behind it with it.
   */
  #refuseOversized(id: number, frameBytes: number): void {
    if (this.#sessionKey === undefined) throw new BreakwaterError('BW_ERR_PROTOCOL', 'ack protocol: DATA before HELLO');
    this.#write(encodeNack(id, false, `frame of ${frameBytes} bytes exceeds the server's maxFrameBytes (${this.#o.maxFrameBytes})`));
  }

  #onDataFrame(id: number, floor: number, payload: Buffer): void {
    if (this.#sessionKey === undefined) throw new BreakwaterError('BW_ERR_PROTOCOL', 'ack protocol: DATA before HELLO');
    this.#session ??= this.#shared.dedup.open(this.#sessionKey, this.#peer);
    const session = this.#session;
    const verdict = this.#shared.dedup.admit(session, id, floor, this.#replyTo, this.#readAt);
    switch (verdict) {
      case 'stale':
      case 'duplicate':
        this.#shared.stats.duplicates++;
        this.#writeId(FrameType.ACK, id);
        return;
      case 'attached':
        this.#shared.stats.duplicates++;
        return;
      case 'outOfWindow':
        throw new BreakwaterError(
          'BW_ERR_PROTOCOL',
          `ack protocol: DATA id ${id} is outside the window [${session.floor}, ${session.floor + this.#o.maxWindow})`,
        );
      case 'absurdFloor':
        throw new BreakwaterError(
          'BW_ERR_PROTOCOL',
          `ack protocol: DATA floor ${floor} runs more than \`maxFloorAdvance\` (${this.#o.maxFloorAdvance}) ahead of the highest id this session sent (${session.highest})`,
          { details: { floor, highest: session.highest } },
        );
      case 'run':
        this.#run(session, id, payload);
    }
  }

  #run(session: Session, id: number, payload: Buffer): void {
    this.#running++;
    this.#runningBytes += payload.length;
    this.#shared.started();
    const store = this.#o.dedupStore;
    if (store === undefined) {
      // No closure per message: a handler that returns synchronously settles right here.
      const outcome = runHandler(this.#o.handler, payload, { id, session: session.key, tx: undefined as Tx });
      if (outcome instanceof Promise) outcome.then((o: Outcome) => this.#settle(session, id, payload.length, o));
      else this.#settle(session, id, payload.length, outcome);
      return;
    }
    const settle = (outcome: Outcome | undefined, storeError?: unknown, fromStore = false) =>
      this.#settle(session, id, payload.length, outcome, storeError, fromStore);
    store.begin({ session: session.key, id }).then(
      (claim) => {
        if (claim === 'done') {
          settle({ ok: true }, undefined, true);
          return;
        }
        const finish = (outcome: Outcome) => {
          const end = outcome.ok ? claim.commit() : claim.rollback();
          end.then(
            () => settle(outcome),
            (error: unknown) => settle(undefined, error),
          );
        };
        const outcome = runHandler(this.#o.handler, payload, { id, session: session.key, tx: claim.tx });
        if (outcome instanceof Promise) outcome.then(finish);
        else finish(outcome);
      },
      (error: unknown) => settle(undefined, error),
    );
  }

  /** A message's handler finished. `outcome` undefined: unknown (the store failed); `fromStore`: answered from a record, not handled here. */
  #settle(session: Session, id: number, payloadBytes: number, outcome: Outcome | undefined, storeError?: unknown, fromStore = false): void {
    const dedup = this.#shared.dedup;
    if (outcome === undefined) dedup.abandon(session, id);
    else {
      if (fromStore) this.#shared.stats.duplicates++;
      else if (outcome.ok) this.#shared.stats.handled++;
      else this.#shared.stats.failed++;
      dedup.complete(session, id, outcome);
    }
    this.#running--;
    this.#runningBytes -= payloadBytes;
    this.#lastProgressAt = this.#readAt ?? this.#clock.now();
    this.#shared.finished();
    // Accounted even when the connection is gone: its running payloads are part of the budget until now.
    this.#account();
    if (storeError !== undefined) this.#storeFailed(storeError);
    this.#pump();
  }

  /** The store could not say or record what happened: answer nothing, close; the client's retransmit asks again. */
  #storeFailed(cause: unknown): void {
    const error =
      cause instanceof BreakwaterError
        ? cause
        : new BreakwaterError('BW_ERR_NETWORK', `dedup store failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.#shared.stats.storeFailures++;
    this.failure ??= error;
    this.#shared.storeFailed(this.remote, error);
    this.#socket.destroy();
  }

  #reply(id: number, outcome: Outcome): void {
    if (this.#disposed || this.#socket.destroyed) return;
    if (outcome.ok) this.#writeId(FrameType.ACK, id);
    else this.#write(encodeNack(id, outcome.retryable, outcome.reason));
    // A reply from outside #pump (an asynchronous handler of another connection's message) goes out now.
    if (this.#pumping === 0) this.#flushWrites();
  }

  #write(frame: Buffer): void {
    if (!this.#writer.frame(frame)) this.#blocked();
  }

  /** ACK or PONG, gathered with the other replies of this pump. */
  #writeId(type: typeof FrameType.ACK | typeof FrameType.PONG, id: number): void {
    if (!this.#writer.idFrame(type, id)) this.#blocked();
  }

  #flushWrites(): void {
    if (this.#socket.destroyed) return;
    if (!this.#writer.flush()) this.#blocked();
  }

  #blocked(): void {
    this.#writeBlocked = true;
    this.updateFlow();
  }
}

/** Every success is the same outcome: shared, not one object per message. */
const OK: Outcome = Object.freeze({ ok: true });

/** The handler's outcome: at once when it returns synchronously (or throws), else a promise of it (never rejecting). */
function runHandler<Tx>(
  handler: ResolvedAckServerOptions<Tx>['handler'],
  payload: Buffer,
  context: { id: number; session: string; tx: Tx },
): Outcome | Promise<Outcome> {
  let result: unknown;
  try {
    result = handler(payload, context);
  } catch (error) {
    return failure(error);
  }
  if (typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function') {
    return Promise.resolve(result).then(() => OK, failure);
  }
  return OK;
}

function failure(error: unknown): Outcome {
  const retryable = typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
  return { ok: false, retryable, reason: error instanceof Error ? error.message : String(error) };
}
