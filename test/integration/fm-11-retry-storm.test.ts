import { describe, expect, it, onTestFinished } from 'vitest';
import { markRetry, RetryBudget, retry, retryContextFrom } from '../../packages/retry/src/index.js';
import { type Call, FM_11, REQUESTS, storm } from '../../packages/scorecard/src/scenarios/fm-11.js';
import { httpGet, keepAliveAgent } from '../../packages/scorecard/src/scenarios/resilience-support.js';
import { scenarioContext, scenarioResult } from '../support/scenario.js';

// FM-11, retry storm: client → A → B → C on loopback, C answers 503 to
// everything. The scorecard's scenario runs it: naive p-retry in every tier
// multiplies to 27 requests at C per request sent to A; createClient() in every
// tier stays ≤ 1.3×. This file adds the same storm with the bare
// @breakwater/retry parts (a RetryBudget per caller, the retry marker read with
// retryContextFrom): the budget, not only the client around it, keeps C ≤ 1.3×.

const httpError = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });

function retryPackageCaller(ctx: Parameters<typeof storm>[0]): Call {
  const agent = keepAliveAgent(ctx);
  // One budget per caller for its upstream. The floor is sized to the traffic of
  // this test (100 requests in a 10 s window: 1 retry), as it would be to an
  // upstream's steady rate in production (see README: `minPerSecond`).
  const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 0.1, windowMs: 10_000 });
  return (next, incoming) =>
    retry(
      async ({ attempt, isRetry, signal }) => {
        const status = await httpGet(next, { agent, headers: isRetry ? markRetry({}, attempt) : {}, signal });
        if (status >= 500) throw httpError(status);
        return status;
      },
      { ...(incoming === undefined ? {} : retryContextFrom(incoming)), budget, idempotent: true, attempts: 3, baseDelayMs: 2, maxDelayMs: 20 },
    );
}

describe('FM-11: retry storm across three tiers', () => {
  it('the scenario: naive p-retry multiplies to 27 requests at C per request sent to A; createClient() stays ≤ 1.3', async () => {
    const result = await scenarioResult(FM_11);
    console.log(`[FM-11] naive: ${result.naive.text}; breakwater: ${result.breakwater.text}`);
    expect(result.naive.ok, result.naive.text).toBe(true);
    expect(result.naive.value).toBeGreaterThanOrEqual(27);
    expect(result.breakwater.ok, result.breakwater.text).toBe(true);
    expect(result.breakwater.value).toBeLessThanOrEqual(1.3);
  });

  it('the retry package alone (RetryBudget + retryContextFrom in every tier) keeps C ≤ 1.3×, each request reaching it once', async () => {
    const ctx = scenarioContext();
    onTestFinished(() => ctx.cleanup());
    const hits = await storm(ctx, retryPackageCaller);
    const ratio = hits.c / REQUESTS;
    console.log(`[FM-11] retry package: ${ratio.toFixed(2)} requests at C per request at A`);
    expect(hits.served).toBe(0);
    expect(ratio).toBeLessThanOrEqual(1.3);
    // Every request at A still reached C once: the budget sheds retries, not requests.
    expect(ratio).toBeGreaterThanOrEqual(1);
  });
});
