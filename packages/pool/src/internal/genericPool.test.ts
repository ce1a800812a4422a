import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { buildGenericPool } from './genericPool.js';

const require = createRequire(import.meta.url);

describe('generic-pool internals Breakwater relies on', () => {
  it('is the pinned 3.9.0, with the constructor arguments and _evict() this package uses', () => {
    expect((require('generic-pool/package.json') as { version: string }).version).toBe('3.9.0');
    const gp = require('generic-pool') as Record<string, { prototype: Record<string, unknown> }>;
    expect(typeof gp.Pool?.prototype._evict).toBe('function');
    expect(typeof gp.PriorityQueue?.prototype.enqueue).toBe('function');
    // Requests are Deferreds whose resolve() Breakwater replaces, keeping their `_state`.
    const Deferred = require('generic-pool/lib/Deferred.js') as { prototype: Record<string, unknown>; PENDING: string };
    expect(typeof Deferred.prototype.resolve).toBe('function');
    expect(Deferred.PENDING).toBe('PENDING');
  });

  it('hands a free resource over inside acquire() without a promise, a later one through onResolve, and cancels a waiting request', async () => {
    let n = 0;
    const built = buildGenericPool<{ id: number }>({ create: async () => ({ id: ++n }), destroy: async () => {} }, { max: 1, min: 0 }, () => false);
    const created = built.acquire();
    const first = await new Promise<{ id: number }>((resolve) => {
      created.onResolve = resolve;
    });
    expect(created.resource).toBe(first);
    await built.pool.release(first);
    const again = built.acquire();
    expect(again.state).toBe('FULFILLED');
    expect(again.resource).toBe(first);

    const waiting = built.acquire();
    expect(waiting.resource).toBeUndefined();
    expect(built.pool.pending).toBe(1);
    built.cancel(waiting);
    await expect(waiting.promise).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(built.pool.pending).toBe(0);
    await built.pool.release(first);
    expect(built.pool.available).toBe(1); // not swallowed by the cancelled request

    // A late cancel() of a request already served is a no-op.
    const served = built.acquire();
    built.cancel(served);
    expect(served.state).toBe('FULFILLED');
    await built.pool.release(first);
    await built.pool.drain();
    await built.pool.clear();
  });

  it('evicts every idle resource the predicate names, even when one hides behind another', async () => {
    let n = 0;
    const doomed = new Set<number>();
    const built = buildGenericPool<{ id: number }>({ create: async () => ({ id: ++n }), destroy: async () => {} }, { max: 5, min: 0 }, (r) => doomed.has(r.id));
    const take = () => {
      const request = built.acquire();
      return request.resource !== undefined ? Promise.resolve(request.resource) : new Promise<{ id: number }>((resolve) => (request.onResolve = resolve));
    };
    const all = await Promise.all(Array.from({ length: 5 }, take));
    for (const r of all) await built.pool.release(r);
    for (const id of [2, 3, 5]) doomed.add(id);
    expect(built.evictIdle()).toBe(3);
    expect(built.pool.size).toBe(2);
    await built.pool.drain();
    await built.pool.clear();
  });
});
