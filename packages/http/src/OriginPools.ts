import type { EventEmitter } from 'node:events';
import { type buildConnector, Client, Dispatcher, errors, Pool } from 'undici';
import { NO_CONTROLLER } from './internal/forward.js';
import { type LookupFunction, pinnedLookup, type Resolution, resolverLookup } from './internal/lookup.js';
import { kAddress, kResolution } from './internal/symbols.js';
import type { DispatchOptions, Handler } from './layers/types.js';

export interface OriginPoolsOptions {
  /** Options of each Pool (undici's Agent options without `connect`). */
  pool: Omit<Pool.Options, 'connect' | 'factory'>;
  /** The connector of a new pool, given how its connections look the name up (undefined: Node's dns.lookup). */
  connectorFor: (lookup: LookupFunction | undefined) => buildConnector.connector;
  /** Most pools kept; past it the least recently used idle pool is closed. @defaultValue 1_000 (maxOrigins) */
  maxPools?: number;
}

type Entry = { pool: Pool | Client; key: string; origin: string };
type Stats = Record<'connected' | 'free' | 'pending' | 'queued' | 'running' | 'size', number>;
// Pools looked at, oldest first, for an idle one to close: bounded so a burst of busy pools costs O(1).
const EVICTION_SCAN = 32;

/**
 * The connection pools under the layers, in place of undici's Agent: one pool per origin as the Agent
 * keeps, and one per (origin, address) when the dns/balance layers chose an address (`kAddress`). The
 * origin stays the name in every case, so `Host`, TLS SNI, proxies and msw see the name; the address is
 * given to `net.connect()` through `lookup`. Unlike the Agent, the pools are bounded: a client fed 20,000
 * host names keeps at most `maxPools`, closing the least recently used idle one (issue #13). A pool
 * whose connections have all closed is dropped, as the Agent does.
 */
export class OriginPools extends Dispatcher {
  readonly #o: OriginPoolsOptions;
  readonly #max: number;
  // Insertion order = recency: a dispatch moves its pool to the end (unless it is there already).
  readonly #pools = new Map<string, Entry>();
  /** The pool of the last dispatch (the most recent in #pools), and what it was looked up by; cleared when a pool is dropped. */
  #last: { entry: Entry; origin: string; address: string | undefined; resolved: boolean; h1: boolean } | undefined;
  #closed = false;
  #destroyed = false;

  constructor(o: OriginPoolsOptions) {
    super();
    this.#o = o;
    this.#max = o.maxPools ?? 1_000;
  }

  /** How many pools are open. */
  get size(): number {
    return this.#pools.size;
  }

  /** As undici's Agent: close() or destroy() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** As undici's Agent: destroy() was called. */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * As undici's Agent: each origin's pool stats (`connected`, `free`, `pending`, `queued`, `running`, `size`),
   * keyed by origin; an origin with a pool per address gets their sums.
   */
  get stats(): Record<string, Stats> {
    const out: Record<string, Stats> = {};
    for (const { pool, origin } of this.#pools.values()) {
      const s = pool.stats as unknown as Partial<Record<keyof Stats, number | boolean>>;
      const sum = out[origin] ?? { connected: 0, free: 0, pending: 0, queued: 0, running: 0, size: 0 };
      out[origin] = sum;
      for (const k of Object.keys(sum) as (keyof Stats)[]) sum[k] += Number(s[k] ?? 0);
    }
    return out;
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Handler): boolean {
    if (this.#closed) {
      handler.onResponseError?.(NO_CONTROLLER, new errors.ClientClosedError());
      return false;
    }
    const o = opts as DispatchOptions;
    if (typeof o.origin !== 'string' && !(o.origin instanceof URL)) {
      handler.onResponseError?.(NO_CONTROLLER, new errors.InvalidArgumentError('opts.origin must be a non-empty string or URL.'));
      return false;
    }
    const origin = String(o.origin);
    const address = o[kAddress] as string | undefined;
    const resolution = o[kResolution] as Resolution | undefined;
    const h1 = (o as { allowH2?: boolean }).allowH2 === false;
    // The same pool as the last dispatch (the usual case): no key to build and hash, no reordering.
    const last = this.#last;
    if (last !== undefined && last.origin === origin && last.address === address && last.resolved === (resolution !== undefined) && last.h1 === h1) {
      return last.entry.pool.dispatch(opts, handler);
    }
    const key = `${origin}${address !== undefined ? `@${address}` : resolution !== undefined ? '#resolved' : ''}${h1 ? '#h1' : ''}`;
    let entry = this.#pools.get(key);
    if (entry === undefined) entry = this.#add(key, o.origin, address, resolution, h1);
    else if (this.#pools.size > 1) {
      this.#pools.delete(key);
      this.#pools.set(key, entry);
    }
    this.#last = { entry, origin, address, resolved: resolution !== undefined, h1 };
    return entry.pool.dispatch(opts, handler);
  }

  #add(key: string, origin: string | URL, address: string | undefined, resolution: Resolution | undefined, h1: boolean): Entry {
    const url = new URL(String(origin));
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    const lookup = address !== undefined ? pinnedLookup(address) : resolution !== undefined ? resolverLookup(resolution, port) : undefined;
    const options = { ...this.#o.pool, ...(h1 ? { allowH2: false } : {}), connect: this.#o.connectorFor(lookup) };
    const pool = this.#o.pool.connections === 1 ? new Client(origin, options) : new Pool(origin, options);
    const entry: Entry = { pool, key, origin: url.origin };
    const dropIfUnused = () => {
      if (this.#pools.get(key) !== entry || !idle(pool, true)) return;
      this.#pools.delete(key);
      this.#last = undefined;
      void pool.close();
    };
    // A caller told to wait (dispatch() returned false) waits for 'drain', as on undici's Agent (undici's
    // types omit the `targets` argument it passes).
    const drain = (o: URL, targets: Dispatcher[]) => void (this as EventEmitter).emit('drain', o, [this, ...targets]);
    pool.on('drain', drain as unknown as (origin: URL) => void);
    pool
      .on('connect', (o, targets) => this.emit('connect', o, [this, ...targets]))
      .on('disconnect', (o, targets, err) => {
        dropIfUnused();
        this.emit('disconnect', o, [this, ...targets], err);
      })
      .on('connectionError', (o, targets, err) => {
        dropIfUnused();
        this.emit('connectionError', o, [this, ...targets], err);
      });
    // Room is made before the new pool joins: it has nothing in flight yet, and must not be the one closed.
    if (this.#pools.size >= this.#max) this.#evict();
    this.#pools.set(key, entry);
    return entry;
  }

  /** Closes the least recently used pool with nothing in flight (none idle among the oldest: over the cap until one is). */
  #evict(): void {
    let scanned = 0;
    for (const [key, entry] of this.#pools) {
      if (++scanned > EVICTION_SCAN || this.#pools.size < this.#max) return;
      if (!idle(entry.pool, false)) continue;
      this.#pools.delete(key);
      this.#last = undefined;
      void entry.pool.close();
    }
  }

  override close(callback: () => void): void;
  override close(): Promise<void>;
  override close(callback?: () => void): Promise<void> | undefined {
    this.#closed = true;
    const all = Promise.all([...this.#pools.values()].map((e) => e.pool.close())).then(() => undefined);
    this.#pools.clear();
    this.#last = undefined;
    if (callback === undefined) return all;
    void all.then(callback);
    return undefined;
  }

  override destroy(err: Error | null, callback: () => void): void;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null): Promise<void>;
  override destroy(): Promise<void>;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | undefined {
    const callback = typeof a === 'function' ? a : b;
    const err = typeof a === 'function' ? null : (a ?? null);
    this.#closed = true;
    this.#destroyed = true;
    const all = Promise.all([...this.#pools.values()].map((e) => e.pool.destroy(err))).then(() => undefined);
    this.#pools.clear();
    this.#last = undefined;
    if (callback === undefined) return all;
    void all.then(callback);
    return undefined;
  }
}

/** Nothing queued or running; `unconnected` also asks for no open connection (all closed by the peer or timeout). */
function idle(pool: Pool | Client, unconnected: boolean): boolean {
  const s = pool.stats as { connected: number | boolean; pending: number; running: number; size: number };
  return s.pending === 0 && s.running === 0 && s.size === 0 && (!unconnected || s.connected === 0 || s.connected === false);
}
