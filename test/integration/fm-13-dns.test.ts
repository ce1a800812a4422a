import dns from 'node:dns';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { fm13Scenario } from '../../packages/scorecard/src/scenarios/fm-13.js';
import { scenarioResult } from '../support/scenario.js';

// FM-13, DNS: the scorecard's scenario runs a tiny authoritative server on
// 127.0.0.1 whose record moves from 127.0.0.2 to 127.0.0.3. Naive: undici
// resolving at connect time keeps its pooled connection to the old address
// while traffic flows; Breakwater re-resolves when the TTL ends and forgets an
// NXDOMAIN within its cap. This file runs it with a 500 ms negative cap (the
// bound) and the name created 250 ms after its NXDOMAIN, then adds: with the
// resolver dead and the TTL over, the last answer is served.

const NEGATIVE_CAP_MS = 500;

describe('FM-13: DNS changes, NXDOMAIN and a dead resolver', () => {
  it('uses the new address within its TTL, forgets NXDOMAIN within the cap and serves stale while the resolver is down', async () => {
    let stale: { resolverDown: string; answer: string } | undefined;
    const scenario = fm13Scenario({
      // No breaker here: polling a missing name every 50 ms is what a breaker rightly stops.
      client: { dnsNegativeTtlMs: NEGATIVE_CAP_MS, circuit: false },
      createAfterMs: 250,
      createdPollMs: 50,
      async afterwards({ stopDns, bwGet }) {
        // The resolver dies; svc.test's 1 s TTL runs out: the last answer is served.
        stopDns();
        await sleep(1_100);
        const resolverDown = await new dns.promises.Resolver({ timeout: 300, tries: 1 }).resolve4('svc.test').then(
          () => 'resolved',
          (e: { code: string }) => e.code,
        );
        stale = { resolverDown, answer: await bwGet() };
      },
    });
    const result = await scenarioResult(scenario);
    console.log(`[FM-13] naive: ${result.naive.text}; breakwater: ${result.breakwater.text}; resolver down: ${JSON.stringify(stale)}`);
    expect(result.naive.ok, result.naive.text).toBe(true);
    expect(result.naive.text).toBe('old address after 2.00 s');
    // ok: moved within the 1 s TTL, BW_ERR_DNS for the missing name, then found within the 500 ms cap.
    expect(result.breakwater.ok, result.breakwater.text).toBe(true);
    expect(result.breakwater.value).toBeLessThanOrEqual(1_000);
    expect(stale?.resolverDown).not.toBe('resolved');
    expect(stale?.answer).toBe('127.0.0.3');
  }, 20_000);
});
