import { describe, expect, it } from 'vitest';
import { rng } from '../../../../test/support/rng.js';
import { type Balancer, hookOf } from '../internal/hooks.js';
import { Resolver } from '../Resolver.js';
import { balanceLayer } from './balance.js';

// The balancer's choice between scored addresses, on a seeded sequence of
// picks, one call at a time (nothing pending, so only the latency scores
// decide). Each chosen address "answers" in its latency and is settled, as a
// real call is: alike replicas must share, a gray failure must not, and one
// unlucky sample must not starve a healthy replica.

const ADDRESSES = ['198.18.0.1', '198.18.0.2', '198.18.0.3'].map((address) => ({ address, family: 4 as const, ttlMs: 60_000 }));

function balancer(): Balancer {
  const random = rng(7);
  const resolver = new Resolver({ maxTtlMs: 60_000, negativeTtlMs: 1_000, staleMs: 0, resolve: async () => ADDRESSES });
  const hook = hookOf(balanceLayer(resolver, { decayMs: 5_000, outlierFailures: 5, outlierEjectionMs: 1_000, random }));
  if (hook?.role !== 'balance') throw new Error('the balance layer carries no hook');
  return hook.balancer;
}

/**
 * Scores each address with its first sample `firstMs` (ms), then makes `n` calls one at a time, each
 * answered by its address in `answerMs` and settled; returns how many each address got.
 */
function calls(firstMs: readonly number[], answerMs: readonly number[], n: number): number[] {
  const b = balancer();
  const now = performance.now();
  for (const [i, ms] of firstMs.entries()) Object.assign(b.peerOf(`${ADDRESSES[i]!.address}:80`), { ewmaMs: ms, updatedAt: now });
  const counts = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const address = b.choose('80', ADDRESSES);
    const k = ADDRESSES.findIndex((a) => a.address === address);
    counts[k] = (counts[k] ?? 0) + 1;
    const peer = b.peerOf(`${address}:80`);
    peer.pending++;
    b.settle({ peer, startedAt: performance.now() - answerMs[k]!, hostname: 'replicas', address, port: '80' }, false);
  }
  console.log(`[balance] first ${firstMs.join('/')} ms, answering in ${answerMs.join('/')} ms: ${counts.join('/')} of ${n}`);
  return counts;
}

describe('balance: choosing between scored addresses, one call at a time', () => {
  it('alike replicas (5.5, 6 and 6.8 ms) each get about a third; a strict comparison gave the 6.8 ms one nothing', () => {
    for (const c of calls([5.5, 6, 6.8], [5.5, 6, 6.8], 3_000)) expect(c).toBeGreaterThan(800);
  });

  it('sub-millisecond differences are noise: 0.2, 0.3 and 1.1 ms share too', () => {
    for (const c of calls([0.2, 0.3, 1.1], [0.2, 0.3, 1.1], 3_000)) expect(c).toBeGreaterThan(800);
  });

  it('one unlucky sample (40 ms, a GC pause) does not starve a 6 ms replica: measured again within 60 calls', () => {
    const b = balancer();
    const now = performance.now();
    for (const [i, ms] of [6, 6, 40].entries()) Object.assign(b.peerOf(`${ADDRESSES[i]!.address}:80`), { ewmaMs: ms, updatedAt: now });
    let first = -1;
    for (let i = 0; i < 300 && first < 0; i++) {
      const address = b.choose('80', ADDRESSES);
      if (address === ADDRESSES[2]!.address) first = i;
    }
    expect(first).toBeGreaterThanOrEqual(0);
    expect(first).toBeLessThan(60);
    // Over 300 calls it gets close to its third again (time alone, 5 s, gave it nothing in these 300).
    expect(calls([6, 6, 40], [6, 6, 6], 300)[2]).toBeGreaterThan(70);
  });

  it('a gray failure is avoided: 10, 10 and 100 ms — the slow one gets a few % (re-measured), the other two share', () => {
    const [a, b, slow] = calls([10, 10, 100], [10, 10, 100], 3_000);
    expect(slow).toBeGreaterThan(0);
    expect(slow).toBeLessThan(150);
    expect(a).toBeGreaterThan(1_300);
    expect(b).toBeGreaterThan(1_300);
  });

  it('a replica twice as slow gets less than its third, and is never starved', () => {
    const slow = calls([10, 10, 20], [10, 10, 20], 3_000)[2]!;
    expect(slow).toBeGreaterThan(100);
    expect(slow).toBeLessThan(800);
  });
});
