import { describe, expect, it } from 'vitest';
import { MAX_SEED, Rng, randomSeed } from './rng.js';

const take = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());

describe('Rng', () => {
  it('replays the same sequence from the same seed, and another from another seed', () => {
    expect(take(new Rng(42), 20)).toEqual(take(new Rng(42), 20));
    expect(take(new Rng(42), 20)).not.toEqual(take(new Rng(43), 20));
    // Tiny seeds are spread over the whole state: 0 and 1 do not start alike.
    expect(new Rng(0).next()).not.toBeCloseTo(new Rng(1).next(), 3);
  });

  it('stays in [0, 1) and int(n) in [0, n), roughly uniformly', () => {
    const rng = new Rng(7);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) {
      const x = rng.next();
      expect(x >= 0 && x < 1).toBe(true);
      const k = rng.int(10);
      expect(Number.isInteger(k) && k >= 0 && k < 10).toBe(true);
      buckets[k]!++;
    }
    for (const count of buckets) expect(Math.abs(count - 2_000)).toBeLessThan(200);
  });

  it('forks deterministic, independent generators', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    const forkA = a.fork();
    const forkB = b.fork();
    expect(take(forkA, 10)).toEqual(take(forkB, 10));
    // Drawing from a fork does not move the parent.
    expect(take(a, 5)).toEqual(take(b, 5));
    expect(take(a.fork(), 10)).not.toEqual(take(a.fork(), 10));
  });

  it('takes random seeds from the whole 32-bit range', () => {
    const seeds = Array.from({ length: 50 }, randomSeed);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0 && s <= MAX_SEED).toBe(true);
    expect(new Set(seeds).size).toBeGreaterThan(45);
  });
});
