import type { Entry } from './Entry.js';

/**
 * The idle connections, least recently returned first (generic-pool's `fifo`
 * order: borrowing the oldest keeps every connection in use, so none sits
 * idle long enough to be closed by a load balancer behind the pool's back).
 *
 * Breakwater keeps this list rather than generic-pool's: generic-pool's idle
 * list is reachable only through its `acquire()`, which always answers with a
 * promise of its own (a request, a loan and two promises per borrow — what
 * issue #18 measured as the overhead), and only its wall-clock evictor can
 * remove an idle resource. Here a borrow is a `shift()`, a dead connection
 * leaves the list the moment it dies, and expiry runs on the pool's clock.
 * The links live on the entries: no node is allocated per push.
 */
export class IdleList {
  #oldest: Entry | undefined;
  #newest: Entry | undefined;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  /** Adds the entry as the most recently returned one. */
  push(entry: Entry): void {
    entry.olderIdle = this.#newest;
    entry.newerIdle = undefined;
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.newerIdle = entry;
    this.#newest = entry;
    this.#length++;
  }

  /** Takes the least recently returned entry. */
  shift(): Entry | undefined {
    const entry = this.#oldest;
    if (entry !== undefined) this.remove(entry);
    return entry;
  }

  /** Unlinks an entry that is on the list. */
  remove(entry: Entry): void {
    const { olderIdle, newerIdle } = entry;
    if (olderIdle === undefined) this.#oldest = newerIdle;
    else olderIdle.newerIdle = newerIdle;
    if (newerIdle === undefined) this.#newest = olderIdle;
    else newerIdle.olderIdle = olderIdle;
    entry.olderIdle = undefined;
    entry.newerIdle = undefined;
    this.#length--;
  }

  /** Oldest first; safe against removing the entry just yielded. */
  *[Symbol.iterator](): IterableIterator<Entry> {
    let entry = this.#oldest;
    while (entry !== undefined) {
      const next = entry.newerIdle;
      yield entry;
      entry = next;
    }
  }
}
