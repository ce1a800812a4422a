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

/**
 * A request as Breakwater's queue sees it: generic-pool's resolve() is
 * replaced, so its promise never settles (nobody awaits it; that saves a
 * promise resolution and the reaction generic-pool's own queue attached to
 * it). The resource lands in `resource`, and `onResolve` is called with it.
 */
export interface Request<T> extends ResourceRequest<T> {
  /** Set once generic-pool has handed this request its resource (synchronously inside acquire() when one was idle). */
  resource: T | undefined;
  /** Called when the resource arrives later (a waiting caller). */
  onResolve: ((resource: T, request: Request<T>) => void) | undefined;
  /** Whoever waits on it (for a shared `onResolve`: no closure per request). */
  waiter: unknown;
}

export interface Built<T> {
  pool: GenericPool<T>;
  /** Makes a request; `request.resource` is set at once when an idle resource was free. */
  acquire(): Request<T>;
  /** Drops a waiting request from generic-pool's queue; a no-op once it is settled. */
  cancel(request: ResourceRequest<T>): void;
  /** Runs the evictor until no idle resource matches `shouldEvict`; returns how many went. */
  evictIdle(): number;
}

/** Replaces Deferred.prototype.resolve on Breakwater's requests (`this` is the request). */
function resolveInPlace<T>(this: Request<T> & { _state: string }, resource: T): void {
  if (this._state !== 'PENDING') return;
  this._state = 'FULFILLED';
  this.resource = resource;
  this.onResolve?.(resource, this);
}

/**
 * A generic-pool whose evictor asks `shouldEvict` (on Breakwater's clock, not
 * `Date.now()`), whose requests hand their resource over without a promise,
 * and whose waiting requests can be cancelled.
 */
export function buildGenericPool<T>(factory: Factory<T>, options: GenericPoolOptions, shouldEvict: (resource: T) => boolean): Built<T> {
  let last: Request<T> | undefined;
  let evicted = 0;
  class CancellableQueue extends gp.PriorityQueue {
    override enqueue(request: unknown, priority?: number): void {
      const r = request as Request<T>;
      r.resource = undefined;
      r.onResolve = undefined;
      r.waiter = undefined;
      r.resolve = resolveInPlace;
      last = r;
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
  const pool = new gp.Pool<T>(PoolEvictor, gp.Deque, CancellableQueue, factory, {
    fifo: true,
    autostart: true,
    ...options,
    // One run looks at every idle resource.
    numTestsPerEvictionRun: Math.max(options.max, 3),
  });
  return {
    pool,
    acquire() {
      last = undefined;
      // Its promise never settles (see Request); a cancel()'s rejection is handled by generic-pool's queue.
      const promise = pool.acquire();
      if (last === undefined) {
        // Draining: generic-pool rejected without queueing (Breakwater checks before it gets here).
        promise.catch(() => {});
        throw new Error('generic-pool is draining');
      }
      return last;
    },
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
