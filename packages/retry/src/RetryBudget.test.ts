import { FakeClock } from '@breakwater/core';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { budgetFor, PROCESS_WIDE, RetryBudget, RetryBudgetRegistry } from './RetryBudget.js';

const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key } });

describe('RetryBudget', () => {
  afterEach(() => vi.restoreAllMocks());

  it('allows the floor with no traffic, then ratio × requests', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 0.2, windowMs: 10_000, clock }); // floor: 2
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
    for (let i = 0; i < 30; i++) budget.recordRequest();
    expect(budget.stats()).toEqual({ requests: 30, retries: 2, available: 3, ratio: 0.1, minPerSecond: 0.2, windowMs: 10_000 });
    let granted = 0;
    while (budget.tryRetry()) granted++;
    expect(granted).toBe(3);
  });

  it('forgets requests and retries after the window slides past them', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0, windowMs: 1_000, clock });
    for (let i = 0; i < 10; i++) budget.recordRequest();
    clock.advance(500);
    expect(budget.stats()).toMatchObject({ requests: 10, available: 5 });
    for (let i = 0; i < 5; i++) expect(budget.tryRetry()).toBe(true);
    expect(budget.canRetry()).toBe(false);
    // Requests leave the count first (they must lie wholly inside the window) …
    clock.advance(600);
    expect(budget.stats()).toMatchObject({ requests: 0, retries: 5, available: 0 });
    // … and the retries one bucket later, so bucketing only ever makes it stricter.
    clock.advance(1_000);
    expect(budget.stats()).toMatchObject({ requests: 0, retries: 0 });
  });

  it('recordRetry counts even when over budget (a retry that happened anyway)', () => {
    const budget = new RetryBudget({ minPerSecond: 0, clock: new FakeClock() });
    budget.recordRetry();
    expect(budget.stats()).toMatchObject({ retries: 1, available: 0 });
    expect(budget.canRetry()).toBe(false);
  });

  it('never allows more than ratio × requests + floor retries in the window ending at any retry (property)', () => {
    const event = fc.oneof(
      fc.record({ kind: fc.constant('request' as const), n: fc.integer({ min: 1, max: 20 }) }),
      fc.record({ kind: fc.constant('retry' as const), n: fc.integer({ min: 1, max: 20 }) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
    );
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 5, noNaN: true }),
        fc.integer({ min: 10, max: 5_000 }),
        fc.integer({ min: 0, max: 1e9 }),
        fc.array(event, { maxLength: 120 }),
        (ratio, minPerSecond, windowMs, start, events) => {
          const clock = new FakeClock(start);
          const budget = new RetryBudget({ ratio, minPerSecond, windowMs, clock });
          const floor = (minPerSecond * windowMs) / 1000;
          const requests: number[] = [];
          const retries: number[] = [];
          for (const e of events) {
            if (e.kind === 'advance') clock.advance(e.ms);
            else if (e.kind === 'request')
              for (let i = 0; i < e.n; i++) {
                budget.recordRequest();
                requests.push(clock.now());
              }
            else
              for (let i = 0; i < e.n; i++) {
                if (!budget.tryRetry()) continue;
                const t = clock.now();
                retries.push(t);
                const inWindow = (xs: number[]) => xs.filter((x) => x > t - windowMs && x <= t).length;
                if (inWindow(retries) > ratio * inWindow(requests) + floor + 1e-9) return false;
              }
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is unaffected by ±1 h wall-clock jumps (FM-15)', () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 0, windowMs: 10_000, clock });
    for (let i = 0; i < 100; i++) budget.recordRequest();
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.now() + 3_600_000);
    expect(budget.stats()).toMatchObject({ requests: 100, available: 10 });
    now.mockReturnValue(Date.now() - 3_600_000);
    clock.advance(9_000);
    expect(budget.stats()).toMatchObject({ requests: 100, available: 10 });
    clock.advance(1_000);
    expect(budget.stats()).toMatchObject({ requests: 0 });
  });

  it('rejects bad options naming the key', () => {
    expect(() => new RetryBudget({ ratio: 1.5 })).toThrow('Expected `ratio` to be a number between 0 and 1, got 1.5');
    expect(() => new RetryBudget({ minPerSecond: -1 })).toThrow(invalid('minPerSecond'));
    expect(() => new RetryBudget({ windowMs: 0 })).toThrow(invalid('windowMs'));
    expect(() => new RetryBudget({ clock: {} as never })).toThrow(invalid('clock'));
    expect(() => new RetryBudget({ window: 5 } as never)).toThrow(invalid('window'));
  });
});

describe('budgetFor / RetryBudgetRegistry', () => {
  it('shares one budget per upstream key, and a process-wide one without a key', () => {
    const registry = new RetryBudgetRegistry({ minPerSecond: 1 });
    const a = registry.budgetFor('a:443');
    expect(registry.budgetFor('a:443')).toBe(a);
    expect(registry.budgetFor('b:443')).not.toBe(a);
    expect(a.minPerSecond).toBe(1);
    expect(registry.budgetFor()).toBe(registry.budgetFor(PROCESS_WIDE));
    expect(registry.budgetFor('c', { ratio: 0.5 }).ratio).toBe(0.5);
    expect(registry.delete('a:443')).toBe(true);
    expect(registry.has('a:443')).toBe(false);
    registry.clear();
    expect(registry.has('b:443')).toBe(false);
    expect(budgetFor('x.test:1')).toBe(budgetFor('x.test:1'));
    expect(budgetFor()).toBe(budgetFor(PROCESS_WIDE));
  });

  it('rejects bad keys and options naming the key', () => {
    expect(() => budgetFor('')).toThrow(invalid('key'));
    expect(() => budgetFor('k-bad-opts', { ratio: -1 })).toThrow(invalid('ratio'));
    expect(() => new RetryBudgetRegistry({ windowMs: 'x' } as never)).toThrow(invalid('windowMs'));
  });
});
