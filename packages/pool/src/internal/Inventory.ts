import type { BreakwaterError } from '@breakwater/core';
import type { ResolvedPoolOptions } from '../defaults.js';
import type { PoolEvents, PoolStatsCounter } from '../stats.js';
import { Connector } from './Connector.js';
import { Entry, type EvictReason } from './Entry.js';
import { type Built, buildGenericPool } from './genericPool.js';
import { openSocket } from './open.js';
import { Sweeper } from './Sweeper.js';

export interface InventoryHooks {
  /** The pool the entries belong to (release() checks it). */
  owner: object;
  /** Aborted by drain(). */
  signal: AbortSignal;
  /** Callers waiting now (a failed connect is retried while anyone waits). */
  waiting(): number;
  /** The current passive-health generation; older connections are evicted. */
  generation(): number;
  closing(): boolean;
  onConnectFailure(error: BreakwaterError, attempt: number, retryInMs: number): void;
  emit<K extends 'created' | 'evicted'>(event: K, payload: PoolEvents[K][0]): void;
}

/**
 * Every connection of one pool: generic-pool holds them and the waiting
 * queue; this opens them (through the backoff-guarded Connector), closes
 * them, and evicts idle ones on the monotonic clock — expired ones at their
 * expiry, dead ones the moment they die.
 */
export class Inventory {
  readonly gp: Built<Entry>;
  readonly connector: Connector;
  readonly all = new Set<Entry>();
  readonly #o: ResolvedPoolOptions;
  readonly #h: InventoryHooks;
  readonly #counter: PoolStatsCounter;
  readonly #sweeper: Sweeper;
  #evictQueued = false;

  constructor(o: ResolvedPoolOptions, hooks: InventoryHooks, counter: PoolStatsCounter) {
    this.#o = o;
    this.#h = hooks;
    this.#counter = counter;
    this.#sweeper = new Sweeper(o.clock, () => this.#sweep());
    this.connector = new Connector({
      clock: o.clock,
      reconnectBackoffMs: o.reconnectBackoffMs,
      reconnectBackoffMaxMs: o.reconnectBackoffMaxMs,
      open: (signal) => openSocket(o, signal),
      host: o.host,
      port: o.port,
      signal: hooks.signal,
      needed: () => hooks.waiting() > 0 || this.gp.pool.size <= o.minIdle,
      onFailure: hooks.onConnectFailure,
    });
    // Built last: generic-pool starts creating `min` connections in its constructor.
    this.gp = buildGenericPool<Entry>({ create: () => this.#create(), destroy: (entry) => this.#destroy(entry) }, { max: o.max, min: o.minIdle }, (entry) => {
      const reason = hooks.closing() ? 'drained' : this.staleReason(entry, o.clock.now());
      if (reason !== undefined) entry.reason ??= reason;
      return reason !== undefined;
    });
  }

  staleReason(entry: Entry, now: number): EvictReason | undefined {
    return entry.staleReason(now, this.#o.idleTimeoutMs, this.#h.generation());
  }

  /** Destroys a loaned entry through generic-pool (which calls #destroy). */
  discard(entry: Entry, reason: EvictReason): undefined {
    entry.reason ??= reason;
    this.gp.pool.destroy(entry).catch(() => {});
    return undefined;
  }

  /** Returns a loaned entry to the idle list. */
  putBack(entry: Entry, now: number): void {
    entry.state = 'idle';
    entry.idleSince = now;
    void this.gp.pool.release(entry);
    this.#sweeper.schedule(Math.min(now + this.#o.idleTimeoutMs, entry.retireAt));
  }

  /** Removes dead idle connections at once (a FIN or RST arrived), batched per tick. */
  evictSoon(): void {
    if (this.#evictQueued || this.#h.closing()) return;
    this.#evictQueued = true;
    queueMicrotask(() => {
      this.#evictQueued = false;
      if (!this.#h.closing()) this.gp.evictIdle();
    });
  }

  /** Stops eviction; after drain() has taken every loan back, closes everything. */
  stop(): void {
    this.#sweeper.stop();
  }

  async closeAll(): Promise<void> {
    await this.gp.pool.clear();
    await Promise.all([...this.all].map((e) => e.close('drained')));
  }

  async #create(): Promise<Entry> {
    const clock = this.#o.clock;
    const started = clock.now();
    const socket = await this.connector.create();
    const now = clock.now();
    const lifetime = this.#o.maxLifetimeMs * (1 - Math.random() * this.#o.maxLifetimeJitterRatio);
    const entry = new Entry(this.#h.owner, socket, now, now + lifetime, this.#h.generation(), () => this.evictSoon());
    this.all.add(entry);
    this.#counter.created++;
    this.#h.emit('created', { conn: socket, id: entry.id, elapsedMs: now - started });
    this.#sweeper.schedule(Math.min(now + this.#o.idleTimeoutMs, entry.retireAt));
    return entry;
  }

  async #destroy(entry: Entry): Promise<void> {
    const reason = entry.reason ?? (this.#h.closing() ? 'drained' : 'closed');
    const closed = entry.close(reason);
    this.all.delete(entry);
    this.#counter.evicted(reason);
    this.#h.emit('evicted', { conn: entry.socket, id: entry.id, reason });
    await closed;
  }

  /** Evicts expired idle connections; returns the next idle or lifetime expiry. */
  #sweep(): number {
    if (this.#h.closing()) return Number.POSITIVE_INFINITY;
    this.gp.evictIdle();
    let next = Number.POSITIVE_INFINITY;
    for (const e of this.all) if (e.state === 'idle') next = Math.min(next, e.idleSince + this.#o.idleTimeoutMs, e.retireAt);
    return next;
  }
}
