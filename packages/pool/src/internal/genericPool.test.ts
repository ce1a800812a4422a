import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { createLedger } from './genericPool.js';

const require = createRequire(import.meta.url);

describe('generic-pool as the ledger (public API only)', () => {
  it('is the pinned 3.9.0', () => {
    expect((require('generic-pool/package.json') as { version: string }).version).toBe('3.9.0');
  });

  it('registers opened resources up to max, lends each back, and closes them through destroy', async () => {
    const destroyed: number[] = [];
    const ledger = createLedger<{ id: number }>(2, async (r) => {
      destroyed.push(r.id);
    });
    const a = { id: 1 };
    const b = { id: 2 };
    const registering = [ledger.register(a), ledger.register(b)];
    expect(ledger.size).toBe(2); // counted at once, before the loans settle
    const lent = await Promise.all(registering);
    expect(new Set(lent)).toEqual(new Set([a, b]));
    ledger.retire(a);
    expect(ledger.size).toBe(1);
    expect(destroyed).toEqual([1]);
    // A retire of something not lent is a no-op, not an unhandled rejection.
    ledger.retire({ id: 9 });
    const closing = ledger.close();
    ledger.retire(b);
    await closing;
    expect(destroyed).toEqual([1, 2]);
    expect(ledger.size).toBe(0);
  });

  it('never calls create() without a connection in hand, so a failing create cannot loop', async () => {
    let creates = 0;
    const ledger = createLedger<{ id: number }>(1, async () => {});
    const first = await ledger.register({ id: 1 });
    creates++;
    ledger.retire(first);
    // Nothing is pending in generic-pool's queue: no create runs on its own after a destroy (min is 0).
    await new Promise((resolve) => setImmediate(resolve));
    expect(ledger.size).toBe(0);
    expect(creates).toBe(1);
    await ledger.close();
  });
});
