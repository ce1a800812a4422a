import { describe, expect, it } from 'vitest';
import { rng } from '../../../../test/support/rng.js';
import { type Balancer, hookOf } from '../internal/hooks.js';
import { Resolver } from '../Resolver.js';
import { balanceLayer } from './balance.js';

// The balancer's choice between two scored addresses, on a seeded sequence of
// picks. With one call at a time nothing is pending, so only the latency
// scores decide: alike replicas must share, a gray failure must not.

const ADDRESSES = ['198.18.0.1', '198.18.0.2', '198.18.0.3'].map((address) => ({ address, family: 4 as const, ttlMs: 60_000 }));

function balancer(): Balancer {
  const random = rng(7);
  const resolver = new Resolver({ maxTtlMs: 60_000, negativeTtlMs: 1_000, staleMs: 0, resolve: async () => ADDRESSES });
  const hook = hookOf(balanceLayer(resolver, { decayMs: 5_000, outlierFailures: 5, outlierEjectionMs: 1_000, random }));
  if (hook?.role !== 'balance') throw new Error('the balance layer carries no hook');
  return hook.balancer;
}

/** Scores each address (ms, just sampled, nothing pending), then counts `n` choices. */
function choices(ewmaMs: readonly number[], n: number): number[] {
  const b = balancer();
  const now = performance.now();
  for (const [i, ms] of ewmaMs.entries()) Object.assign(b.peerOf(`${ADDRESSES[i]!.address}:80`), { ewmaMs: ms, updatedAt: now });
  const counts = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const chosen = b.choose('80', ADDRESSES);
    const k = ADDRESSES.findIndex((a) => a.address === chosen);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  console.log(`[balance] scores ${ewmaMs.join('/')} ms: chosen ${counts.join('/')} of ${n}`);
  return counts;
}

describe('balance: choosing between scored addresses, one call at a time', () => {
  it('alike replicas (scores 5.5, 6 and 6.8 ms) each get about a third; a strict comparison gave the 6.8 ms one nothing', () => {
    const counts = choices([5.5, 6, 6.8], 3_000);
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });

  it('sub-millisecond differences are noise: 0.2, 0.3 and 1.1 ms share too', () => {
    for (const c of choices([0.2, 0.3, 1.1], 3_000)) expect(c).toBeGreaterThan(800);
  });

  it('a gray failure is avoided: 10, 10 and 100 ms — the slow one is never chosen, the other two share', () => {
    const [a, b, slow] = choices([10, 10, 100], 3_000);
    expect(slow).toBe(0);
    expect(a).toBeGreaterThan(1_200);
    expect(b).toBeGreaterThan(1_200);
  });

  it('a replica twice as slow gets none of the traffic it is paired for', () => {
    expect(choices([10, 10, 20], 3_000)[2]).toBe(0);
  });
});
