import genericPool from 'generic-pool';

/**
 * The slice of generic-pool 3.9.0 Breakwater builds on, typed. The shipped
 * types lack the constructor and the internals below; the version is pinned
 * and `genericPool.test.ts` checks that each piece is still there.
 *
 * The constructor is public: `new Pool(Evictor, Deque, PriorityQueue,
 * factory, options)` takes the evictor, the idle list and the waiting queue
 * as classes; Breakwater subclasses all three.
 * One is not: `_evict()`, the evictor's run, which generic-pool only calls
 * from its own wall-clock interval. Breakwater calls it on its monotonic
 * clock, and at once when an idle connection dies.
 */

/** generic-pool's ResourceRequest (a Deferred): what `acquire()` enqueues. */
export interface ResourceRequest<T> {
  readonly state: 'PENDING' | 'FULFILLED' | 'REJECTED';
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export interface PooledResource<T> {
  readonly obj: T;
}

export interface GenericPool<T> {
  readonly size: number;
  readonly available: number;
  readonly borrowed: number;
  readonly pending: number;
  readonly spareResourceCapacity: number;
  acquire(): Promise<T>;
  release(resource: T): Promise<void>;
  destroy(resource: T): Promise<void>;
  drain(): Promise<void>;
  clear(): Promise<void>;
  isBorrowedResource(resource: T): boolean;
  on(event: 'factoryCreateError' | 'factoryDestroyError', listener: (err: unknown) => void): unknown;
  /** Private in 3.9.0: one eviction run over the idle resources. */
  _evict(): void;
}

export interface GenericPoolOptions {
  max: number;
  min: number;
  fifo?: boolean;
  autostart?: boolean;
  /** Checks this many idle resources per `_evict()` run. */
  numTestsPerEvictionRun?: number;
}

export interface Factory<T> {
  create(): Promise<T>;
  destroy(resource: T): Promise<void>;
}

interface Evictor<T> {
  evict(config: unknown, resource: PooledResource<T>, availableCount: number): boolean;
}

type PoolConstructor = new <T>(
  evictor: new () => Evictor<T>,
  deque: unknown,
  priorityQueue: unknown,
  factory: Factory<T>,
  options: GenericPoolOptions,
) => GenericPool<T>;

interface PriorityQueueLike {
  enqueue(request: unknown, priority?: number): void;
}

interface DequeLike<T> {
  shift(): T | undefined;
}

interface Module {
  Pool: PoolConstructor;
  Deque: new <T>() => DequeLike<T>;
  PriorityQueue: new (size: number) => PriorityQueueLike;
}

const gp = genericPool as unknown as Module;

/**
 * Rejects a waiting request so that generic-pool drops it from its queue:
 * its Queue removes a request whose promise rejects with a `TimeoutError`.
 * Without this, an acquire that gave up (timeout, abort) would leave a
 * request behind that later swallows a connection nobody receives.
 */
class RequestCancelled extends Error {
  override readonly name = 'TimeoutError';
}

export interface Built<T> {
  pool: GenericPool<T>;
  /** The request the latest `pool.acquire()` enqueued (read it right after the call). */
  lastRequest(): ResourceRequest<T>;
  /**
   * The resource generic-pool last took off its idle list to hand to a
   * waiting request. Right after an `acquire()` made with no other request
   * queued (`pending === 0`) that came back fulfilled, it is the one that
   * request received.
   */
  lastDispatched(): T;
  /** Drops a waiting request from generic-pool's queue; a no-op once it is settled. */
  cancel(request: ResourceRequest<T>): void;
  /** Runs the evictor until no idle resource matches `shouldEvict`; returns how many went. */
  evictIdle(): number;
}

/**
 * A generic-pool whose evictor asks `shouldEvict` (on Breakwater's clock, not
 * `Date.now()`) and whose waiting requests can be cancelled.
 */
export function buildGenericPool<T>(factory: Factory<T>, options: GenericPoolOptions, shouldEvict: (resource: T) => boolean): Built<T> {
  let last: ResourceRequest<T> | undefined;
  let dispatched: PooledResource<T> | undefined;
  let evicted = 0;
  class WatchedDeque extends gp.Deque<PooledResource<T>> {
    override shift(): PooledResource<T> | undefined {
      dispatched = super.shift();
      return dispatched;
    }
  }
  class CancellableQueue extends gp.PriorityQueue {
    override enqueue(request: unknown, priority?: number): void {
      last = request as ResourceRequest<T>;
      super.enqueue(request, priority);
    }
  }
  class PoolEvictor implements Evictor<T> {
    evict(_config: unknown, resource: PooledResource<T>): boolean {
      const go = shouldEvict(resource.obj);
      if (go) evicted++;
      return go;
    }
  }
  const pool = new gp.Pool<T>(PoolEvictor, WatchedDeque, CancellableQueue, factory, {
    fifo: true,
    autostart: true,
    ...options,
    // One run looks at every idle resource.
    numTestsPerEvictionRun: Math.max(options.max, 3),
  });
  return {
    pool,
    lastRequest: () => last!,
    lastDispatched: () => dispatched!.obj,
    cancel(request) {
      request.reject(new RequestCancelled('acquire abandoned'));
    },
    evictIdle() {
      // A run restarts from the head after each eviction and can miss one
      // behind it, but it always evicts at least one if any matches.
      const before = evicted;
      for (let guard = 0; guard <= options.max; guard++) {
        const runStart = evicted;
        pool._evict();
        if (evicted === runStart) break;
      }
      return evicted - before;
    },
  };
}
