import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { buildGenericPool } from './genericPool.js';

const require = createRequire(import.meta.url);

describe('generic-pool internals Breakwater relies on', () => {
  it('is the pinned 3.9.0, with the constructor arguments and _evict() this package uses', () => {
    expect((require('generic-pool/package.json') as { version: string }).version).toBe('3.9.0');
    const gp = require('generic-pool') as Record<string, { prototype: Record<string, unknown> }>;
    expect(typeof gp.Pool?.prototype._evict).toBe('function');
    expect(typeof gp.Deque?.prototype.shift).toBe('function');
    expect(typeof gp.PriorityQueue?.prototype.enqueue).toBe('function');
  });

  it('hands out the resource it just took off the idle list, and cancels a waiting request', async () => {
    let n = 0;
    const built = buildGenericPool<{ id: number }>({ create: async () => ({ id: ++n }), destroy: async () => {} }, { max: 1, min: 0 }, () => false);
    const first = await built.pool.acquire();
    await built.pool.release(first);
    const again = built.pool.acquire();
    expect(built.lastRequest().state).toBe('FULFILLED');
    expect(built.lastDispatched()).toBe(first);
    expect(await again).toBe(first);

    const waiting = built.pool.acquire();
    const request = built.lastRequest();
    expect(built.pool.pending).toBe(1);
    built.cancel(request);
    await expect(waiting).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(built.pool.pending).toBe(0);
    await built.pool.release(first);
    expect(built.pool.available).toBe(1); // not swallowed by the cancelled request
    await built.pool.drain();
    await built.pool.clear();
  });

  it('evicts every idle resource the predicate names, even when one hides behind another', async () => {
    let n = 0;
    const doomed = new Set<number>();
    const built = buildGenericPool<{ id: number }>({ create: async () => ({ id: ++n }), destroy: async () => {} }, { max: 5, min: 0 }, (r) => doomed.has(r.id));
    const all = await Promise.all(Array.from({ length: 5 }, () => built.pool.acquire()));
    for (const r of all) await built.pool.release(r);
    for (const id of [2, 3, 5]) doomed.add(id);
    expect(built.evictIdle()).toBe(3);
    expect(built.pool.size).toBe(2);
    await built.pool.drain();
    await built.pool.clear();
  });
});
