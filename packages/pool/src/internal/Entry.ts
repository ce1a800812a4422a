import type net from 'node:net';

export type EntryState = 'idle' | 'validating' | 'borrowed' | 'closed';

/** Why a connection left the pool (the `evicted` event's `reason`). */
export type EvictReason =
  /** Idle longer than `idleTimeoutMs`. */
  | 'idle'
  /** Older than its (jittered) `maxLifetimeMs`. */
  | 'lifetime'
  /** The peer closed or reset it, or the socket errored. */
  | 'closed'
  /** Unread bytes or a pending FIN found on borrow or release. */
  | 'invalid'
  /** The caller's probe returned false, threw, rejected or timed out. */
  | 'probeFailed'
  /** Released with `{ failed: true }`, or `use()` rejected with a connection-level error. */
  | 'failed'
  /** Opened before the endpoint was marked unhealthy. */
  | 'unhealthy'
  /** The caller called `destroy(conn)`. */
  | 'destroyed'
  /** `close()` or `destroy()` closed the pool with it. */
  | 'drained';

let nextId = 1;
const kEntry = Symbol('breakwater.pool.entry');

/** The entry of a pooled socket (a property lookup: cheaper than a Map on the hot path). */
export function entryOf(socket: net.Socket): Entry | undefined {
  return (socket as unknown as Record<symbol, Entry | undefined>)[kEntry];
}

/**
 * One pooled connection and what the pool knows about it. Its state changes
 * only through the methods below, each from the states named there:
 *
 *   (opened) → validating → borrowed → validating → idle → validating → …
 *                    any state → closed
 *
 * `validating` is every moment the pool holds it outside the idle list:
 * handed over to a caller but not yet checked, being probed, or on its way
 * back from a release.
 */
export class Entry {
  readonly id = nextId++;
  #state: EntryState = 'validating';
  /** Its neighbours on the idle list (IdleList links them; no node object per push). */
  olderIdle: Entry | undefined;
  newerIdle: Entry | undefined;
  /** Monotonic time it was last returned (or created). */
  idleSince: number;
  borrowedAt = 0;
  /** Stack of the borrower, when leak detection is on. */
  borrowStack: { stack?: string } | undefined;
  /** Set once the peer closed or reset it, or the socket errored. */
  dead = false;
  /** Bytes arrived while nobody had borrowed it. */
  unsolicited = false;
  /** Aborts the signal of the `use()` holding it (close() calls it before destroying a stranded loan). */
  abortUse: ((reason: unknown) => void) | undefined;
  /** Why the pool removed it, once it did. */
  reason: EvictReason | undefined;
  readonly closed: Promise<void>;
  readonly #unwatch: () => void;

  readonly socket: net.Socket;
  readonly createdAt: number;
  /** When its lifetime ends (created + jittered maxLifetimeMs). */
  readonly retireAt: number;
  /** The health generation it was opened in. */
  readonly generation: number;
  /** The pool it belongs to. */
  readonly owner: object;

  constructor(owner: object, socket: net.Socket, createdAt: number, retireAt: number, generation: number, onIdleDeath: (entry: Entry) => void) {
    this.owner = owner;
    this.socket = socket;
    (socket as unknown as Record<symbol, Entry>)[kEntry] = this;
    this.createdAt = createdAt;
    this.retireAt = retireAt;
    this.generation = generation;
    this.idleSince = createdAt;
    this.closed = new Promise((resolve) => {
      if (socket.destroyed && socket.closed) resolve();
      else socket.once('close', () => resolve());
    });
    const die = () => {
      this.dead = true;
      if (this.#state === 'idle') onIdleDeath(this);
    };
    // Errors on an idle socket (ECONNRESET) must not crash the process; a
    // borrower's own listener still sees them.
    socket.on('error', () => die());
    socket.once('close', () => die());
    socket.once('end', () => die());
    // A FIN behind unread bytes never emits 'end' on a paused socket, which
    // then sits in CLOSE_WAIT (FM-17). Watching what the stream pushes sees
    // the FIN as it arrives, without a 'data' listener that would change the
    // socket's flowing mode for the borrower.
    const entry = this;
    const ownPush = Object.hasOwn(socket, 'push');
    const push = socket.push;
    socket.push = function watchedPush(this: net.Socket, chunk: unknown, encoding?: BufferEncoding): boolean {
      const result = push.call(this, chunk, encoding);
      if (chunk === null) die();
      else if (entry.#state === 'idle') entry.unsolicited = true;
      return result;
    };
    this.#unwatch = () => {
      if (ownPush) socket.push = push;
      else delete (socket as Partial<net.Socket>).push;
    };
  }

  get state(): EntryState {
    return this.#state;
  }

  /** idle/validating → validating: taken off the idle list (or handed over) to be checked before it is lent. */
  check(): void {
    if (this.#state === 'closed' || this.#state === 'borrowed') throw illegal(this, 'check');
    this.#state = 'validating';
  }

  /** validating → borrowed, at `now`. */
  lend(now: number): void {
    if (this.#state !== 'validating') throw illegal(this, 'lend');
    this.#state = 'borrowed';
    this.borrowedAt = now;
  }

  /** borrowed → validating: the caller gave it back (release, discard, or close took it). */
  takeBack(): void {
    if (this.#state !== 'borrowed') throw illegal(this, 'takeBack');
    this.#state = 'validating';
  }

  /** validating → idle, idle since `now` (the idle list links it). */
  rest(now: number): void {
    if (this.#state !== 'validating') throw illegal(this, 'rest');
    this.#state = 'idle';
    this.idleSince = now;
  }

  /**
   * Whether the socket can carry a request now, judged without a round trip:
   * no FIN or RST received, nothing unread, still writable.
   */
  usable(): boolean {
    // `dead` already covers 'end', 'close', 'error' and a FIN pushed behind unread bytes.
    const s = this.socket;
    return !this.dead && !this.unsolicited && !s.destroyed && s.readableLength === 0 && s.writable && !s.connecting;
  }

  /**
   * Why it must not be lent (or kept), or undefined: the free checks, the
   * health generation, the lifetime and, unless borrowed, the idle time.
   */
  staleReason(now: number, idleTimeoutMs: number, generation: number): EvictReason | undefined {
    if (this.dead) return 'closed';
    if (!this.usable()) return 'invalid';
    if (this.generation !== generation) return 'unhealthy';
    if (now >= this.retireAt) return 'lifetime';
    if (this.#state !== 'borrowed' && now - this.idleSince >= idleTimeoutMs) return 'idle';
    return undefined;
  }

  /** Why a returned connection must not go back to the idle list; the socket-level checks wait for the next borrow. */
  returnReason(now: number, generation: number): EvictReason | undefined {
    if (this.dead) return 'closed';
    if (this.generation !== generation) return 'unhealthy';
    if (now >= this.retireAt) return 'lifetime';
    return undefined;
  }

  /** Destroys the socket and resolves once it has closed. */
  close(reason: EvictReason): Promise<void> {
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.reason ??= reason;
      this.#unwatch();
      this.socket.destroy();
    }
    return this.closed;
  }
}

/** A transition the pool never makes: a bug in the pool, not a caller's mistake. */
function illegal(entry: Entry, transition: string): Error {
  return new Error(`@breakwater/pool: connection #${entry.id} cannot ${transition} while ${entry.state}`);
}
