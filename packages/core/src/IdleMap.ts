import { type Clock, monotonicClock } from './Clock.js';
import { validateNumber } from './validate.js';

export interface IdleMapOptions<K, V> {
  /** Most entries kept. Entries `canEvict` refuses may go past it (an open circuit). */
  maxEntries: number;
  /** An entry unused this long is dropped when a later insertion comes across it. */
  idleMs: number;
  /** Whether an entry may go now; never asked for entries being looked up. @defaultValue always */
  canEvict?: (value: V, key: K) => boolean;
  /** Called with each entry dropped (to shut it down). */
  onEvict?: (value: V, key: K) => void;
  /** @defaultValue the monotonic clock */
  clock?: Clock;
}

interface Slot<V> {
  value: V;
  usedAt: number;
  /** Looked up since `usedAt`: the sweep that next sees it stamps it with its own time (no clock read per lookup). */
  used: boolean;
}

/** Entries looked at per insertion: enough to keep up with any insertion rate, constant work. */
const SWEEP = 4;

/**
 * Per-key state (one per origin, name or address) that cannot grow without bound: at most `maxEntries`,
 * and entries unused for `idleMs` are dropped. No timer at all: each insertion looks at a few of the
 * least recently inserted entries, moving live ones to the back and dropping idle ones, so idle state
 * goes as fast as new state comes; over the cap the oldest evictable entry goes. A lookup only marks the
 * entry used, reading no clock: the next sweep that comes across it counts it used then, so an entry may
 * outlive `idleMs` by up to one more `idleMs`, never go sooner.
 * @example
 * const budgets = new IdleMap<string, RetryBudget>({ maxEntries: 1_000, idleMs: 60_000 });
 * const b = budgets.get(origin) ?? budgets.set(origin, new RetryBudget());
 */
export class IdleMap<K, V> {
  readonly #map = new Map<K, Slot<V>>();
  readonly #o: Required<Omit<IdleMapOptions<K, V>, 'canEvict' | 'onEvict'>> & Pick<IdleMapOptions<K, V>, 'canEvict' | 'onEvict'>;

  constructor(options: IdleMapOptions<K, V>) {
    validateNumber(options.maxEntries, 'maxEntries', { min: 1, max: 100_000_000, integer: true });
    validateNumber(options.idleMs, 'idleMs', { min: 0, allowInfinity: true });
    this.#o = { clock: monotonicClock, ...options };
  }

  get size(): number {
    return this.#map.size;
  }

  /** The value of `key`, marking it used. */
  get(key: K): V | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  /** Without marking it used. */
  peek(key: K): V | undefined {
    return this.#map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  /** Inserts (or replaces, moving it to the back) and returns `value`; then sweeps a little. */
  set(key: K, value: V): V {
    const now = this.#o.clock.now();
    const old = this.#map.get(key);
    if (old !== undefined) this.#map.delete(key);
    this.#map.set(key, { value, usedAt: now, used: false });
    this.#sweep(key, now);
    return value;
  }

  /** Removes `key` without calling `onEvict`. */
  delete(key: K): boolean {
    return this.#map.delete(key);
  }

  keys(): IterableIterator<K> {
    return this.#map.keys();
  }

  *values(): IterableIterator<V> {
    for (const slot of this.#map.values()) yield slot.value;
  }

  *entries(): IterableIterator<[K, V]> {
    for (const [k, slot] of this.#map) yield [k, slot.value];
  }

  /** Removes everything, calling `onEvict` for each. */
  clear(): void {
    const all = [...this.#map];
    this.#map.clear();
    for (const [k, slot] of all) this.#o.onEvict?.(slot.value, k);
  }

  #evictable(key: K, slot: Slot<V>): boolean {
    return this.#o.canEvict === undefined || this.#o.canEvict(slot.value, key);
  }

  #evict(key: K, slot: Slot<V>): void {
    this.#map.delete(key);
    this.#o.onEvict?.(slot.value, key);
  }

  #sweep(inserted: K, now: number): void {
    const o = this.#o;
    // Idle entries: look at the few oldest; a live one goes to the back so the next look sees others.
    let looked = 0;
    for (const [k, slot] of this.#map) {
      if (looked++ >= SWEEP || k === inserted) break;
      if (slot.used) {
        slot.used = false;
        slot.usedAt = now;
      }
      if (now - slot.usedAt >= o.idleMs && this.#evictable(k, slot)) this.#evict(k, slot);
      else {
        this.#map.delete(k);
        this.#map.set(k, slot);
      }
    }
    // Over the cap: the oldest evictable entry goes, whether idle or not; the rest move to the back.
    let budget = this.#map.size;
    while (this.#map.size > o.maxEntries && budget-- > 0) {
      const first = this.#map.entries().next();
      if (first.done === true) return;
      const [k, slot] = first.value;
      if (k !== inserted && this.#evictable(k, slot)) this.#evict(k, slot);
      else {
        this.#map.delete(k);
        this.#map.set(k, slot);
      }
    }
  }
}
