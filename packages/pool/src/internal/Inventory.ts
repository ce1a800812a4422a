import type { BreakwaterError } from '@breakwater/core';
import type { ResolvedPoolOptions } from '../defaults.js';
import type { PoolEvents, PoolStatsCounter } from '../stats.js';
import { Connector } from './Connector.js';
import { Entry, type EvictReason } from './Entry.js';
import { createLedger, type Ledger } from './genericPool.js';
import { IdleList } from './IdleList.js';
import { openSocket } from './open.js';
import { Sweeper } from './Sweeper.js';

export interface InventoryHooks {
  /** The pool the entries belong to (release() checks it). */
  owner: object;
  /** Aborted by close(). */
  signal: AbortSignal;
  /** Callers waiting now (a failed connect is retried while anyone waits). */
  waiting(): number;
  /** The current passive-health generation; older connections are evicted. */
  generation(): number;
  closing(): boolean;
  /** A connection just opened: to a waiter, or onto the idle list. */
  offer(entry: Entry, now: number): void;
  onConnectFailure(error: BreakwaterError, attempt: number, retryInMs: number): void;
  emit<K extends 'created' | 'evicted'>(event: K, payload: PoolEvents[K][0]): void;
}

/**
 * Every connection of one pool: opens them (through the backoff-guarded
 * Connector) when callers wait or `minIdle` asks, registers them in
 * generic-pool's ledger, keeps the idle ones, and closes them — expired idle
 * ones at their expiry on the monotonic clock, dead ones the moment they die.
 */
export class Inventory {
  readonly connector: Connector;
  readonly all = new Set<Entry>();
  readonly idle = new IdleList();
  readonly #ledger: Ledger<Entry>;
  readonly #o: ResolvedPoolOptions;
  readonly #h: InventoryHooks;
  readonly #counter: PoolStatsCounter;
  readonly #sweeper: Sweeper;
  /** Connects in progress, until their connection is registered in the ledger. */
  #opening = 0;
  #evictQueued = false;

  constructor(o: ResolvedPoolOptions, hooks: InventoryHooks, counter: PoolStatsCounter) {
    this.#o = o;
    this.#h = hooks;
    this.#counter = counter;
    this.#sweeper = new Sweeper(o.clock, () => this.#sweep());
    this.connector = new Connector({
      clock: o.clock,
      reconnectBackoff: o.reconnectBackoff,
      open: (signal) => openSocket(o, signal),
      host: o.host,
      port: o.port,
      signal: hooks.signal,
      needed: () => hooks.waiting() > 0 || this.size <= o.minIdle,
      onFailure: hooks.onConnectFailure,
    });
    // The pool calls fill() once it is built, to open `minIdle` connections.
    this.#ledger = createLedger<Entry>(o.max, (entry) => this.#destroy(entry));
  }

  /** Connections open or opening. */
  get size(): number {
    return this.#ledger.size + this.#opening;
  }

  staleReason(entry: Entry, now: number): EvictReason | undefined {
    return entry.staleReason(now, this.#o.idleTimeoutMs, this.#h.generation());
  }

  /** Takes the least recently used idle connection, marked `validating`. */
  takeIdle(): Entry | undefined {
    const entry = this.idle.shift();
    entry?.check();
    return entry;
  }

  /** Puts a connection the pool holds onto the idle list. */
  rest(entry: Entry, now: number): void {
    entry.rest(now);
    this.idle.push(entry);
    this.#sweeper.schedule(Math.min(now + this.#o.idleTimeoutMs, entry.retireAt));
  }

  /** Closes a connection the pool holds (not an idle one) and opens a replacement if someone needs it. */
  discard(entry: Entry, reason: EvictReason): undefined {
    entry.reason ??= reason;
    this.#ledger.retire(entry);
    this.fill();
    return undefined;
  }

  /**
   * Starts connects for waiting callers that no connect in progress will
   * serve, and up to `minIdle` connections, within `max`.
   */
  fill(): void {
    const o = this.#o;
    // A full pool (every wait of a busy one) returns before counting anything else.
    if (this.size >= o.max || this.#h.closing()) return;
    const wanted = Math.max(this.#h.waiting() - this.#opening, o.minIdle - this.size);
    for (let i = 0; i < wanted && this.size < o.max; i++) void this.#open();
  }

  /** Removes dead idle connections at once (a FIN or RST arrived), batched per tick. */
  evictSoon(): void {
    if (this.#evictQueued || this.#h.closing()) return;
    this.#evictQueued = true;
    queueMicrotask(() => {
      this.#evictQueued = false;
      if (!this.#h.closing()) this.#evictIdle();
    });
  }

  /** Stops eviction and closes every idle connection (close() has stopped lending). */
  stop(): void {
    this.#sweeper.stop();
    for (const entry of this.idle) this.#evict(entry, 'drained');
  }

  /** Resolves once every connection is retired and its socket closed. */
  async closeAll(): Promise<void> {
    await this.#ledger.close();
    await Promise.all([...this.all].map((e) => e.close('drained')));
  }

  async #open(): Promise<void> {
    const clock = this.#o.clock;
    const started = clock.now();
    this.#opening++;
    let socket: Awaited<ReturnType<Connector['create']>>;
    try {
      socket = await this.connector.create();
    } catch {
      // Reported through onConnectFailure (a waiter got the error), or close() stopped it.
      this.#opening--;
      return;
    }
    this.#opening--;
    if (this.#h.closing()) {
      socket.destroy();
      return;
    }
    const now = clock.now();
    const lifetime = this.#o.maxLifetimeMs * (1 - Math.random() * this.#o.maxLifetimeJitterRatio);
    const entry = new Entry(this.#h.owner, socket, now, now + lifetime, this.#h.generation(), () => this.evictSoon());
    this.all.add(entry);
    this.#counter.created++;
    this.#h.emit('created', { conn: socket, id: entry.id, elapsedMs: now - started });
    const registered = await this.#ledger.register(entry);
    if (this.#h.closing()) this.discard(registered, 'drained');
    else this.#h.offer(registered, clock.now());
  }

  async #destroy(entry: Entry): Promise<void> {
    const reason = entry.reason ?? (this.#h.closing() ? 'drained' : 'closed');
    const closed = entry.close(reason);
    this.all.delete(entry);
    this.#counter.evicted(reason);
    this.#h.emit('evicted', { conn: entry.socket, id: entry.id, reason });
    await closed;
  }

  #evict(entry: Entry, reason: EvictReason): void {
    this.idle.remove(entry);
    entry.check();
    this.discard(entry, reason);
  }

  /** Evicts the idle connections that must not be lent any more. */
  #evictIdle(): void {
    const now = this.#o.clock.now();
    for (const entry of this.idle) {
      const reason = this.staleReason(entry, now);
      if (reason !== undefined) this.#evict(entry, reason);
    }
  }

  /** Evicts expired idle connections; returns the next idle or lifetime expiry. */
  #sweep(): number {
    if (this.#h.closing()) return Number.POSITIVE_INFINITY;
    this.#evictIdle();
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.idle) next = Math.min(next, e.idleSince + this.#o.idleTimeoutMs, e.retireAt);
    return next;
  }
}
