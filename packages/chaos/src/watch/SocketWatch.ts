import net from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * Watching a client socket while the kernel misbehaves: every event with
 * its time, "nothing happened for N s" ({@link quietFor}) that still returns
 * early when something did, and the time to the first error. Used by the
 * fault tests and by `breakwater scorecard`, whose naive side must show
 * silence and whose Breakwater side must show an error in time.
 */

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
    // An abort that came before the call fires no 'abort' event: without this the wait would last `timeoutMs`.
    if (signal?.aborted === true) return Promise.resolve(undefined);
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

  /** Resolves when `bytesIn` reaches `bytes`, `timeoutMs` passed or `signal` aborted; with the bytes received. */
  async readBytes(bytes: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (this.bytesIn < bytes && signal?.aborted !== true) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const event = await this.next(['data', 'end', 'close', 'error'], left, signal);
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
 * while the test was still injecting the fault is not missed. An aborted
 * `signal` ends the wait early with `undefined`.
 */
export async function quietFor(
  watches: readonly SocketWatch[],
  ms: number,
  types: readonly SocketEventType[] = QUIET_EVENTS,
  signal?: AbortSignal,
): Promise<SocketEvent | undefined> {
  const early = watches.flatMap((w) => w.eventsSinceMark).find((e) => types.includes(e.type));
  if (early !== undefined) return early;
  if (signal?.aborted === true) return undefined;
  // One signal ends every other watch's wait once the first event (or the caller's abort) arrived.
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const first = await Promise.race(watches.map((w) => w.next(types, ms, controller.signal)));
  signal?.removeEventListener('abort', onAbort);
  controller.abort();
  return first;
}

/** `net.connect()` watched from its first event; resolves once connected, rejects on error or after `timeoutMs`. */
export function connectWatched(host: string, port: number, timeoutMs = 5_000): Promise<SocketWatch> {
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

/** Milliseconds from now to the first error/close, or undefined if none within `ms` (or `signal` aborted first). */
export async function failureWithin(watch: SocketWatch, ms: number, signal?: AbortSignal): Promise<{ atMs: number; error?: Error } | undefined> {
  const started = performance.now();
  const event = await watch.next(['error', 'close'], ms, signal);
  if (event === undefined) return undefined;
  const error = event.type === 'error' ? event.error : (watch.socket.errored ?? undefined);
  return { atMs: performance.now() - started, ...(error ? { error } : {}) };
}
