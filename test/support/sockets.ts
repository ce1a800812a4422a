import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { type ConnectOptions, connect as hardenedConnect } from '@breakwater/socket';
import { run } from '../../packages/chaos/src/netns/command.js';

export type SocketEventType = 'connect' | 'data' | 'end' | 'close' | 'error';

export interface SocketEvent {
  type: SocketEventType;
  /** Milliseconds since the watch started. */
  atMs: number;
  bytes?: number;
  error?: NodeJS.ErrnoException;
}

/** Records everything a socket reports, so a test can assert that nothing happened. */
export class SocketWatch {
  readonly events: SocketEvent[] = [];
  bytesIn = 0;
  #mark = 0;
  readonly #started = performance.now();
  readonly #waiters = new Set<(event: SocketEvent) => void>();

  readonly socket: net.Socket;

  constructor(socket: net.Socket) {
    this.socket = socket;
    const push = (event: SocketEvent) => {
      this.events.push(event);
      for (const waiter of this.#waiters) waiter(event);
    };
    const at = () => performance.now() - this.#started;
    socket.on('connect', () => push({ type: 'connect', atMs: at() }));
    socket.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      push({ type: 'data', atMs: at(), bytes: chunk.length });
    });
    socket.on('end', () => push({ type: 'end', atMs: at() }));
    socket.on('close', () => push({ type: 'close', atMs: at() }));
    socket.on('error', (error) => push({ type: 'error', atMs: at(), error }));
  }

  /** Starts a new observation window for {@link quietFor}: earlier events no longer count. */
  mark(): this {
    this.#mark = this.events.length;
    return this;
  }

  /** Events since the last `mark()` (or since the watch started). */
  get eventsSinceMark(): readonly SocketEvent[] {
    return this.events.slice(this.#mark);
  }

  /** The first event of one of `types` from now on, or undefined after `timeoutMs` (or when `signal` aborts). */
  next(types: readonly SocketEventType[], timeoutMs: number, signal?: AbortSignal): Promise<SocketEvent | undefined> {
    return new Promise((resolve) => {
      const done = (event: SocketEvent | undefined) => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        signal?.removeEventListener('abort', onAbort);
        resolve(event);
      };
      const onAbort = () => done(undefined);
      const waiter = (event: SocketEvent) => {
        if (types.includes(event.type)) done(event);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.#waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Resolves when `bytesIn` reaches `bytes` or `timeoutMs` passed; with the bytes received. */
  async readBytes(bytes: number, timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (this.bytesIn < bytes) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const event = await this.next(['data', 'end', 'close', 'error'], left);
      if (event === undefined || event.type !== 'data') break;
    }
    return this.bytesIn;
  }
}

export const QUIET_EVENTS: readonly SocketEventType[] = ['data', 'end', 'close', 'error'];

/**
 * Waits `ms` unless one of the sockets reports one of `types` first (then
 * resolves early with that event, so a failing assertion does not wait).
 * Events since each watch's last `mark()` count too: a FIN that arrived
 * while the test was still injecting the fault is not missed.
 */
export async function quietFor(
  watches: readonly SocketWatch[],
  ms: number,
  types: readonly SocketEventType[] = QUIET_EVENTS,
): Promise<SocketEvent | undefined> {
  const early = watches.flatMap((w) => w.eventsSinceMark).find((e) => types.includes(e.type));
  if (early !== undefined) return early;
  const controller = new AbortController();
  const first = await Promise.race(watches.map((w) => w.next(types, ms, controller.signal)));
  controller.abort();
  return first;
}

/** Connects and resolves once connected; rejects on error or after `timeoutMs`. */
export function connect(host: string, port: number, timeoutMs = 5_000): Promise<SocketWatch> {
  const socket = net.connect({ host, port });
  const watch = new SocketWatch(socket);
  return watch.next(['connect', 'error', 'close'], timeoutMs).then((event) => {
    if (event?.type === 'connect') return watch;
    socket.destroy();
    throw event?.error ?? new Error(`connect to ${host}:${port} ${event === undefined ? `timed out after ${timeoutMs} ms` : `failed: ${event.type}`}`);
  });
}

/** Writes `text` and waits for the same number of bytes back (an echo server). */
export async function echoRoundTrip(watch: SocketWatch, text: string, timeoutMs = 5_000): Promise<void> {
  const want = watch.bytesIn + Buffer.byteLength(text);
  watch.socket.write(text);
  const got = await watch.readBytes(want, timeoutMs);
  if (got < want) throw new Error(`echo of ${JSON.stringify(text)} did not come back within ${timeoutMs} ms`);
}

export interface TcpInfo {
  state: string;
  /** Segments sent and not acknowledged. */
  unacked: number;
  /** Retransmissions over the connection's life. */
  retransmits: number;
  /** `ss` timer field, e.g. `keepalive,119min,0` or `on,1.6sec,5`. */
  timer: string;
}

/** The kernel's view (`ss -tnoi`) of a root-namespace socket: its local port towards `peer`. */
export async function tcpInfo(socket: net.Socket, peer: string | undefined = socket.remoteAddress): Promise<TcpInfo | undefined> {
  // Local port AND peer: the same local port may be in use towards other
  // destinations at the same time (other tests, other processes).
  const filter = ['sport', '=', `:${socket.localPort ?? 0}`, ...(peer === undefined ? [] : ['and', 'dst', peer])];
  const out = await run('ss', ['-tnoiH', 'state', 'all', ...filter]);
  const text = out.replace(/\s+/g, ' ').trim();
  if (text === '') return undefined;
  return {
    state: text.split(' ')[0] ?? '',
    unacked: Number(/\bunacked:(\d+)/.exec(text)?.[1] ?? 0),
    retransmits: Number(/\bretrans:\d+\/(\d+)/.exec(text)?.[1] ?? 0),
    timer: /\btimer:\(([^)]*)\)/.exec(text)?.[1] ?? '',
  };
}

/** A socket from `@breakwater/socket`'s connect(), watched like {@link connect}'s. */
export async function connectHardened(host: string, port: number, options: Omit<ConnectOptions, 'host' | 'port'> = {}): Promise<SocketWatch> {
  const socket = await hardenedConnect({ host, port, ...options });
  return new SocketWatch(socket);
}

/** Milliseconds from the watch's mark to the first error/close, or undefined if none within `ms`. */
export async function failureWithin(watch: SocketWatch, ms: number): Promise<{ atMs: number; error?: Error } | undefined> {
  const started = performance.now();
  const event = await watch.next(['error', 'close'], ms);
  if (event === undefined) return undefined;
  const error = event.type === 'error' ? event.error : (watch.socket.errored ?? undefined);
  return { atMs: performance.now() - started, ...(error ? { error } : {}) };
}
