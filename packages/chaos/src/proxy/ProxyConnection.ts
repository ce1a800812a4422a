import { Socket } from 'node:net';
import type { Clock, TimerHandle } from '@breakwater/core';
import type { Rng } from '../internal/rng.js';
import { countBytes, createFaultState, type FaultState, type Flow } from './FaultState.js';
import { appliesTo, type ResolvedFault } from './faults.js';
import { Pipe, type Timed } from './Pipe.js';
import { delay, slice, throttle } from './shape.js';

export type { Flow } from './FaultState.js';

export interface ConnectionContext {
  readonly id: number;
  readonly clock: Clock;
  /** This connection's own generator (a fork of the proxy's). */
  readonly rng: Rng;
  readonly target: { readonly host: string; readonly port: number };
  readonly maxBufferedBytes: number;
  readonly faults: Iterable<ResolvedFault>;
  onApplied(connection: ProxyConnection, fault: ResolvedFault): void;
  onWritten(flow: Flow, bytes: number): void;
  onClosed(connection: ProxyConnection, reason: string): void;
}

const otherFlow = (flow: Flow): Flow => (flow === 'upstream' ? 'downstream' : 'upstream');

/**
 * Closes with an RST (SO_LINGER 0). A socket still connecting is just
 * destroyed, and so is one whose FIN is being sent: libuv refuses to reset a
 * handle while its shutdown is in flight, and Node then emits EINVAL and
 * never closes the socket (a leaked fd and a close() that never resolves).
 */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.pending || (socket.writableEnded && !socket.writableFinished)) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * One client connection and its upstream twin. Data goes through one Pipe per
 * direction; faults decide, per chunk, whether it is dropped, cut short,
 * reshaped in time, or ends the connection.
 */
export class ProxyConnection {
  readonly id: number;
  readonly client: Socket;
  readonly upstream: Socket;
  /** Resolves once both sockets are closed and every timer is cleared. */
  readonly closed: Promise<void>;
  readonly #ctx: ConnectionContext;
  readonly #pipes: Record<Flow, Pipe>;
  readonly #states = new Map<string, FaultState>();
  readonly #timers = new Set<TimerHandle>();
  /** Strongest close already sent (or scheduled) in each direction. */
  readonly #propagated: Record<Flow, 'none' | 'end' | 'reset'> = { upstream: 'none', downstream: 'none' };
  #lastTrafficAt: number;
  #openSockets = 2;
  #upstreamConnected = false;
  /** Set by reset() and destroy(): closes are no longer propagated (both sockets are going). */
  #ending = false;
  /** A reset is due once the bytes before its threshold are written: drop everything else. */
  #doomed = false;
  #finished = false;
  #reason: string | undefined;
  #resolveClosed!: () => void;

  constructor(client: Socket, ctx: ConnectionContext) {
    this.id = ctx.id;
    this.#ctx = ctx;
    this.client = client;
    this.upstream = new Socket({ allowHalfOpen: true });
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#lastTrafficAt = ctx.clock.now();
    // The proxy must not add a Nagle delay of its own (FM-04).
    client.setNoDelay(true);
    this.upstream.setNoDelay(true);
    const pipe = (source: Socket, dest: Socket, flow: Flow) =>
      new Pipe(source, dest, { clock: ctx.clock, maxBufferedBytes: ctx.maxBufferedBytes, onWritten: (n) => ctx.onWritten(flow, n) });
    this.#pipes = { upstream: pipe(client, this.upstream, 'upstream'), downstream: pipe(this.upstream, client, 'downstream') };
    this.#wire(client, 'upstream');
    this.#wire(this.upstream, 'downstream');
    this.upstream.once('connect', () => {
      this.#upstreamConnected = true;
      // The client was accepted paused: its bytes have nowhere to go before now.
      if (!this.#ending) client.resume();
    });

    for (const fault of ctx.faults) this.attach(fault);
    if (!this.#ending) this.upstream.connect({ host: ctx.target.host, port: ctx.target.port });
  }

  /** Draws whether `fault` applies to this connection and starts its timers (a fault added at run time starts now). */
  attach(fault: ResolvedFault): void {
    if (this.#finished || this.#states.has(fault.id)) return;
    const { rng } = this.#ctx;
    const applies = fault.probability >= 1 || (fault.probability > 0 && rng.next() < fault.probability);
    const state = createFaultState(fault, applies, rng.fork());
    this.#states.set(fault.id, state);
    if (!applies || this.#ending) return;
    if ((fault.type === 'reset' || fault.type === 'halfClose') && fault.afterBytes === undefined) {
      if (fault.afterMs === undefined) this.#fire(state);
      else state.timer = this.#later(fault.afterMs, () => this.#fire(state));
    }
  }

  /** Stops a fault for future data and closes; data already delayed keeps its schedule. */
  detach(id: string): void {
    const state = this.#states.get(id);
    if (state === undefined) return;
    this.#states.delete(id);
    this.#cancel(state.timer);
  }

  /** Closes both sockets (FIN, or RST if unread data is pending) and clears every timer. */
  destroy(reason = 'proxyClosed'): void {
    this.#reason ??= reason;
    this.#ending = true;
    this.#pipes.upstream.destroy();
    this.#pipes.downstream.destroy();
    this.client.destroy();
    this.upstream.destroy();
  }

  /** RST to the client, and the upstream closed too. */
  reset(reason: string): void {
    this.#reason ??= reason;
    this.#ending = true;
    this.#pipes.upstream.destroy();
    this.#pipes.downstream.destroy();
    resetSocket(this.client);
    resetSocket(this.upstream);
  }

  #wire(socket: Socket, flow: Flow): void {
    socket.on('data', (chunk: Buffer) => this.#onData(flow, chunk));
    // A FIN travels in the same direction as the data its sender sent.
    socket.on('end', () => this.#propagateClose(flow, 'end'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#reason ??= `${flow === 'upstream' ? 'client' : 'upstream'} ${err.code ?? err.message}`;
    });
    socket.once('close', (hadError: boolean) => this.#onSocketClosed(flow, hadError));
  }

  #onSocketClosed(flow: Flow, hadError: boolean): void {
    this.#openSockets--;
    // Nothing can be written to the socket that closed any more.
    this.#pipes[otherFlow(flow)].destroy();
    if (this.#openSockets === 0) {
      this.#finish();
      return;
    }
    // An upstream that never connected (refused, unreachable) is reported to the client as a reset.
    const reset = hadError || (flow === 'downstream' && !this.#upstreamConnected);
    this.#propagateClose(flow, reset ? 'reset' : 'end');
  }

  /** Tells the far side of `flow` that its peer closed, after any slowClose delay. */
  #propagateClose(flow: Flow, kind: 'end' | 'reset'): void {
    if (this.#ending || this.#propagated[flow] === 'reset' || this.#propagated[flow] === kind) return;
    this.#propagated[flow] = kind;
    let delayMs = 0;
    for (const state of this.#active(flow)) {
      if (state.fault.type !== 'slowClose') continue;
      delayMs = Math.max(delayMs, state.fault.delayMs);
      this.#markApplied(state);
    }
    const run = () => {
      if (kind === 'end') this.#pipes[flow].end();
      else resetSocket(flow === 'upstream' ? this.upstream : this.client);
    };
    if (delayMs > 0) this.#later(delayMs, run);
    else run();
  }

  #onData(flow: Flow, chunk: Buffer): void {
    if (this.#ending || this.#doomed) return;
    const now = this.#ctx.clock.now();
    const idleForMs = now - this.#lastTrafficAt;
    this.#lastTrafficAt = now;
    if (flow === 'upstream') {
      for (const state of this.#active(flow)) {
        if (state.fault.type === 'idleReset' && idleForMs >= state.fault.idleMs) {
          this.#fire(state);
          return;
        }
      }
    }
    const pipe = this.#pipes[flow];
    if (!pipe.accepting) return;
    for (const state of this.#active(flow)) {
      if (state.fault.type === 'blackhole') {
        this.#markApplied(state);
        return;
      }
    }
    const { data, triggered } = countBytes(this.#active(flow), flow, chunk);
    let pieces: Timed[] = data.length === 0 ? [] : [{ data, at: now }];
    for (const type of ['slicer', 'latency', 'bandwidth'] as const) {
      for (const state of this.#active(flow)) {
        const f = state.fault;
        if (f.type !== type || pieces.length === 0) continue;
        this.#markApplied(state);
        if (f.type === 'slicer') pieces = slice(pieces, f.averageSize, f.sizeVariation, f.delayMs, state.rng, state.cursors[flow]);
        else if (f.type === 'latency') pieces = delay(pieces, f.latencyMs, f.jitterMs, state.rng);
        else if (f.type === 'bandwidth') pieces = throttle(pieces, f.bytesPerSecond, state.cursors[flow]);
      }
    }
    const resets = triggered.filter((s) => s.fault.type === 'reset');
    // The bytes before the threshold go out first; then the RST.
    pipe.push(pieces, resets.length === 0 ? undefined : () => this.#fire(resets[0]!));
    if (resets.length > 0) this.#doomed = true;
    for (const state of triggered) if (state.fault.type !== 'reset') this.#fire(state);
  }

  /** Runs a one-shot fault. */
  #fire(state: FaultState): void {
    if (state.fired || this.#finished) return;
    state.fired = true;
    this.#markApplied(state);
    switch (state.fault.type) {
      case 'reset':
      case 'idleReset':
        this.reset(state.fault.type);
        break;
      case 'halfClose':
        // FIN to the client once what is queued for it is written; its own bytes keep flowing.
        this.#pipes.downstream.end();
        break;
      case 'limitData':
        this.#pipes.upstream.end();
        this.#pipes.downstream.end();
        break;
    }
  }

  *#active(flow: Flow): Generator<FaultState> {
    for (const state of this.#states.values()) {
      if (state.applies && appliesTo(state.fault.direction, flow)) yield state;
    }
  }

  #markApplied(state: FaultState): void {
    if (state.applied) return;
    state.applied = true;
    this.#ctx.onApplied(this, state.fault);
  }

  #later(delayMs: number, fn: () => void): TimerHandle {
    const handle = this.#ctx.clock.setTimeout(() => {
      this.#timers.delete(handle);
      if (!this.#finished) fn();
    }, delayMs);
    this.#timers.add(handle);
    return handle;
  }

  #cancel(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    this.#ctx.clock.clearTimeout(handle);
    this.#timers.delete(handle);
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#ending = true;
    for (const handle of this.#timers) this.#ctx.clock.clearTimeout(handle);
    this.#timers.clear();
    this.#pipes.upstream.destroy();
    this.#pipes.downstream.destroy();
    this.#ctx.onClosed(this, this.#reason ?? 'closed');
    this.#resolveClosed();
  }
}
