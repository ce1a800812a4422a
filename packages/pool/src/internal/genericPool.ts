import genericPool, { type Pool } from 'generic-pool';

/**
 * generic-pool 3.9.0 as Breakwater uses it: through its public API only
 * (`createPool`, `acquire`, `destroy`, `drain`, `clear`, the counters). It is
 * the ledger of the pool's connections: every open connection is one of its
 * resources, counted against `max`, lent to Breakwater from the moment it
 * opens until it is destroyed through it (its factory's `destroy` closes it).
 *
 * What its public API cannot do, Breakwater owns, each for a stated reason:
 * - **Opening** (`Connector`): generic-pool retries a failing `create()` in a
 *   busy loop and never shows the error to `acquire()` (DEPENDENCIES.md).
 *   Breakwater opens the socket first, with backoff, and only then registers
 *   it here: the factory's `create()` hands over that socket and never fails,
 *   so the busy loop cannot start. No `validate` is configured, so its
 *   validate-rejection leak cannot fire either.
 * - **The idle list** (`IdleList`) and **the waiting queue** (`Waiters`):
 *   its `acquire()` cannot be cancelled (no signal; its timeout is a timer per
 *   request on the wall clock), and it answers even an idle resource with a
 *   request, a loan and two promises (issue #18).
 * - **Idle eviction** (`Sweeper`): its evictor runs only on a wall-clock
 *   interval, and cannot evict a connection the moment it dies.
 */
export interface Ledger<T> {
  /** Connections registered (open), plus registrations in progress. */
  readonly size: number;
  /**
   * Registers an opened connection; resolves with the connection generic-pool
   * lent back (with several in flight, not necessarily the same one). Only
   * call it while `size < max`: then generic-pool creates at once instead of
   * queueing the request behind a release that will never come.
   */
  register(resource: T): Promise<T>;
  /** Unregisters a connection and closes it through the factory's `destroy`. */
  retire(resource: T): void;
  /** Refuses new registrations and resolves once every connection is retired and closed. */
  close(): Promise<void>;
}

export function createLedger<T>(max: number, destroy: (resource: T) => Promise<void>): Ledger<T> {
  // The connection handed to the `create()` that `register()` starts: generic-pool
  // calls `create()` synchronously inside `acquire()` when it has spare capacity.
  const handing: T[] = [];
  const pool: Pool<T> = genericPool.createPool<T>(
    {
      create: () => {
        const resource = handing.shift();
        // Unreachable while register() is only called below `max`.
        if (resource === undefined) return Promise.reject(new Error('@breakwater/pool: create() without a connection to register'));
        return Promise.resolve(resource);
      },
      destroy,
    },
    { max, min: 0, fifo: true },
  );
  return {
    get size() {
      return pool.size;
    },
    register(resource) {
      handing.push(resource);
      return pool.acquire();
    },
    retire(resource) {
      pool.destroy(resource).catch(() => {});
    },
    async close() {
      await pool.drain();
      await pool.clear();
    },
  };
}
