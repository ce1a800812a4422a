import dns from 'node:dns';
import { BreakwaterError, type Clock, classify, IdleMap, monotonicClock, publisher } from '@breakwater/core';

const publish = publisher('http');

/** One address with the time its DNS answer may be cached. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
  ttlMs: number;
}

/** hostname → addresses. Reject with an error whose `code` is ENOTFOUND or ENODATA for a negative answer. */
export type ResolveFn = (hostname: string) => Promise<ResolvedAddress[]>;

export interface ResolverOptions {
  maxTtlMs: number;
  negativeTtlMs: number;
  staleMs: number;
  servers?: string[] | undefined;
  resolve?: ResolveFn | undefined;
  clock?: Clock;
  /** Most names cached. @defaultValue 1_000 */
  maxNames?: number;
  /** A name not looked up for this long is dropped when new names come (no timer). @defaultValue 60_000 */
  idleMs?: number;
}

type Entry = { addresses: ResolvedAddress[]; expiresAt: number; staleUntil: number } | { error: unknown; expiresAt: number };

const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME']);
// Names answered from /etc/hosts carry no TTL.
const HOSTS_TTL_MS = 5_000;

function codeOf(err: unknown): string | undefined {
  const c = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof c === 'string' ? c : undefined;
}

/** node:dns `resolve4`/`resolve6` with TTLs; falls back to `lookup` (/etc/hosts) when no servers were given. */
export function systemResolve(servers?: string[]): ResolveFn {
  const resolver = new dns.promises.Resolver({ timeout: 1_000, tries: 2 });
  if (servers !== undefined) resolver.setServers(servers);
  return async (hostname) => {
    try {
      const v4 = await resolver.resolve4(hostname, { ttl: true }).catch((err: unknown) => {
        if (codeOf(err) === 'ENODATA') return [];
        throw err;
      });
      if (v4.length > 0) return v4.map((r) => ({ address: r.address, family: 4 as const, ttlMs: r.ttl * 1000 }));
      const v6 = await resolver.resolve6(hostname, { ttl: true });
      return v6.map((r) => ({ address: r.address, family: 6 as const, ttlMs: r.ttl * 1000 }));
    } catch (err) {
      if (servers !== undefined || !NEGATIVE.has(codeOf(err) ?? '')) throw err;
      const all = await dns.promises.lookup(hostname, { all: true });
      return all.map((r) => ({ address: r.address, family: r.family === 6 ? (6 as const) : (4 as const), ttlMs: HOSTS_TTL_MS }));
    }
  };
}

/**
 * A DNS cache that honours TTLs, caps them (`maxTtlMs`), caches negative
 * answers no longer than `negativeTtlMs`, serves the last good answer for up
 * to `staleMs` while the resolver fails, and forgets an answer on demand
 * after connection errors (FM-13). Concurrent lookups of one name share one
 * query.
 */
export class Resolver {
  readonly #o: ResolverOptions;
  readonly #resolve: ResolveFn;
  readonly #clock: Clock;
  readonly #cache: IdleMap<string, Entry>;
  readonly #inflight = new Map<string, Promise<ResolvedAddress[]>>();

  constructor(o: ResolverOptions) {
    this.#o = o;
    this.#resolve = o.resolve ?? systemResolve(o.servers);
    this.#clock = o.clock ?? monotonicClock;
    this.#cache = new IdleMap({ maxEntries: o.maxNames ?? 1_000, idleMs: o.idleMs ?? 60_000, clock: this.#clock });
  }

  /** How many names are cached. */
  get size(): number {
    return this.#cache.size;
  }

  /** Cached addresses if fresh, without waiting; undefined otherwise. */
  peek(hostname: string): ResolvedAddress[] | undefined {
    const e = this.#cache.get(hostname);
    return e !== undefined && 'addresses' in e && e.expiresAt > this.#clock.now() ? e.addresses : undefined;
  }

  /** Whether the name has an answer cached, fresh, expired or negative: it was resolved before. */
  knows(hostname: string): boolean {
    return this.#cache.peek(hostname) !== undefined;
  }

  async lookup(hostname: string): Promise<ResolvedAddress[]> {
    const now = this.#clock.now();
    const e = this.#cache.get(hostname);
    if (e !== undefined && e.expiresAt > now) {
      if ('addresses' in e) return e.addresses;
      throw e.error;
    }
    let p = this.#inflight.get(hostname);
    if (p === undefined) {
      p = this.#refresh(hostname).finally(() => this.#inflight.delete(hostname));
      this.#inflight.set(hostname, p);
    }
    return p;
  }

  /** After a connection error: the next lookup asks the resolver again (the old answer stays as a stale fallback). */
  invalidate(hostname: string): void {
    const e = this.#cache.peek(hostname);
    if (e !== undefined && 'addresses' in e) e.expiresAt = Math.min(e.expiresAt, this.#clock.now());
  }

  clear(): void {
    this.#cache.clear();
  }

  async #refresh(hostname: string): Promise<ResolvedAddress[]> {
    const previous = this.#cache.peek(hostname);
    try {
      const addresses = await this.#resolve(hostname);
      if (addresses.length === 0) throw Object.assign(new Error(`no addresses for ${hostname}`), { code: 'ENODATA' });
      const ttl = Math.min(this.#o.maxTtlMs, ...addresses.map((a) => a.ttlMs));
      const now = this.#clock.now();
      this.#cache.set(hostname, { addresses, expiresAt: now + ttl, staleUntil: now + ttl + this.#o.staleMs });
      publish('resolved', { hostname, addresses: addresses.map((a) => a.address), ttlMs: ttl });
      return addresses;
    } catch (err) {
      const now = this.#clock.now();
      const code = codeOf(err);
      const negative = code !== undefined && NEGATIVE.has(code);
      let error = classify(err, { host: hostname, phase: 'connect' });
      // A negative answer is cached: retrying it before the cap ends would only fail again at once.
      if (negative) error = new BreakwaterError(error.code, error.message, { cause: err, retryable: false, hint: error.hint, details: error.details });
      if (negative) {
        this.#cache.set(hostname, { error, expiresAt: now + this.#o.negativeTtlMs });
        throw error;
      }
      // The resolver itself failed (timeout, refused, SERVFAIL): the last good answer beats none.
      if (previous !== undefined && 'addresses' in previous && previous.staleUntil > now) {
        publish('servedStale', { hostname, error });
        return previous.addresses;
      }
      throw error;
    }
  }
}
