import { monotonicClock, type TimerHandle } from './Clock.js';
import { MAX_TIMER_MS } from './rules.js';

/** What the wheel holds: anything with a monotonic expiry time. */
export interface WheelEntry {
  readonly expiresAt: number;
}

/**
 * Resolution of the shared deadline timer: an entry fires in the first tick
 * of `TICK_MS` at or after its `expiresAt`, so never early and at most this
 * much late (plus event-loop lag, as any timer).
 */
export const DEADLINE_TICK_MS = 1;

/**
 * One Node timer for every Deadline on the monotonic clock, instead of a
 * setTimeout/clearTimeout pair per deadline: deadlines are put in buckets
 * by the tick they expire in, and the timer is armed for the earliest
 * bucket that still holds one. Most deadlines are disposed long before they
 * fire (the request finished), which is then a Set delete.
 *
 * Times come from the monotonic clock only (FM-15): a wall-clock jump moves
 * no bucket.
 */
export class DeadlineWheel<E extends WheelEntry> {
  readonly #buckets = new Map<number, Set<E>>();
  readonly #expire: (entry: E) => void;
  /** Bucket ticks, a binary min-heap; a tick whose bucket emptied is skipped when it surfaces. */
  readonly #ticks: number[] = [];
  #timer: TimerHandle | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  /** `expire` is called for each entry whose time came. */
  constructor(expire: (entry: E) => void) {
    this.#expire = expire;
  }

  /** Schedules `entry`; returns the tick to pass to remove(). */
  add(entry: E): number {
    const tick = Math.ceil(entry.expiresAt / DEADLINE_TICK_MS);
    let bucket = this.#buckets.get(tick);
    if (bucket === undefined) {
      bucket = new Set();
      this.#buckets.set(tick, bucket);
      this.#push(tick);
    }
    bucket.add(entry);
    if (tick < this.#armedFor) this.#arm(tick);
    return tick;
  }

  remove(entry: E, tick: number): void {
    const bucket = this.#buckets.get(tick);
    if (bucket === undefined) return;
    bucket.delete(entry);
    // The timer may stay armed for an emptied bucket: one wake-up for nothing costs less than re-arming per dispose.
    if (bucket.size === 0) this.#buckets.delete(tick);
  }

  /** Entries scheduled now (for tests). */
  get size(): number {
    let n = 0;
    for (const b of this.#buckets.values()) n += b.size;
    return n;
  }

  #arm(tick: number): void {
    monotonicClock.clearTimeout(this.#timer);
    this.#armedFor = tick;
    // Node fires a delay above 2^31-1 ms after 1 ms: wait at most that long, then look again.
    this.#timer = monotonicClock.setTimeout(() => this.#fire(), Math.min(MAX_TIMER_MS, tick * DEADLINE_TICK_MS - monotonicClock.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = monotonicClock.now();
    const heap = this.#ticks;
    while (heap.length > 0) {
      const tick = heap[0]!;
      const bucket = this.#buckets.get(tick);
      if (bucket !== undefined && tick * DEADLINE_TICK_MS > now) {
        this.#arm(tick);
        return;
      }
      this.#pop();
      if (bucket === undefined) continue;
      this.#buckets.delete(tick);
      for (const entry of bucket) {
        try {
          this.#expire(entry);
        } catch (error) {
          // A throwing abort listener must not strand the other deadlines: surface it like any uncaught error.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    }
  }

  #push(tick: number): void {
    const h = this.#ticks;
    let i = h.push(tick) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]! <= tick) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = tick;
  }

  #pop(): void {
    const h = this.#ticks;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]! < h[l]! ? r : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
