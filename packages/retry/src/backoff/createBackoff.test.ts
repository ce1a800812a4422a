import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JITTERS } from '../defaults.js';
import { createBackoff, jitteredDelayMs } from './createBackoff.js';

const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key } });
const seq = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('createBackoff', () => {
  it('full jitter: random in [0, min(cap, base × 2ⁿ)]', () => {
    const b = createBackoff({ baseDelayMs: 100, maxDelayMs: 1_000, random: () => 0.999_999 });
    const delays = Array.from({ length: 6 }, () => Math.round(b.next()));
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    const zero = createBackoff({ random: () => 0 });
    expect(zero.next()).toBe(0);
  });

  it('equal jitter keeps half of the exponential fixed', () => {
    const b = createBackoff({ jitter: 'equal', baseDelayMs: 100, maxDelayMs: 10_000, random: () => 0 });
    expect([b.next(), b.next(), b.next()]).toEqual([50, 100, 200]);
  });

  it('decorrelated jitter: random in [base, 3 × previous], capped', () => {
    const b = createBackoff({ jitter: 'decorrelated', baseDelayMs: 100, maxDelayMs: 1_000, random: () => 1 });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([300, 900, 1_000, 1_000]);
    b.reset();
    expect(b.next()).toBe(300);
  });

  it('never waits past the deadline', () => {
    const b = createBackoff({ baseDelayMs: 1_000, random: () => 0.9 });
    expect(b.next(250)).toBe(250);
    expect(b.next(-5)).toBe(0);
  });

  it('keeps its bounds even with a broken RNG', () => {
    for (const r of [Number.NaN, -1, 2, Number.POSITIVE_INFINITY]) {
      const d = createBackoff({ baseDelayMs: 10, maxDelayMs: 50, random: () => r }).next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(50);
    }
  });

  it('every delay lies in [0, cap] and within the remaining deadline (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...JITTERS),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.array(fc.record({ r: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), remaining: fc.option(fc.integer({ min: 0, max: 200_000 })) }), {
          minLength: 1,
          maxLength: 80,
        }),
        (jitter, baseDelayMs, extra, steps) => {
          const maxDelayMs = baseDelayMs + extra;
          const randoms = steps.map((s) => s.r);
          const b = createBackoff({ jitter, baseDelayMs, maxDelayMs, random: seq(...randoms) });
          return steps.every(({ remaining }) => {
            const d = b.next(remaining ?? undefined);
            return d >= 0 && d <= maxDelayMs && (remaining === null || d <= remaining);
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('does not overflow to NaN after many retries', () => {
    expect(jitteredDelayMs('full', 5_000, 0, { baseDelayMs: 0, maxDelayMs: 10, random: () => 0.5 })).toBe(0);
    expect(jitteredDelayMs('full', 5_000, 0, { baseDelayMs: 1, maxDelayMs: 10, random: () => 0.5 })).toBe(5);
  });

  it('rejects bad options naming the key', () => {
    expect(() => createBackoff({ jitter: 'none' as never })).toThrow(invalid('jitter'));
    expect(() => createBackoff({ baseDelayMs: -1 })).toThrow(invalid('baseDelayMs'));
    expect(() => createBackoff({ baseDelayMs: 500, maxDelayMs: 100 })).toThrow(invalid('maxDelayMs'));
    expect(() => createBackoff({ random: 0.5 as never })).toThrow(invalid('random'));
    expect(() => createBackoff({ base: 1 } as never)).toThrow(invalid('base'));
    expect(() => createBackoff().next(Number.NaN)).toThrow(invalid('remainingMs'));
  });
});
