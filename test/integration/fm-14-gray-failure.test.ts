import { describe, expect, it } from 'vitest';
import { FM_14 } from '../../packages/scorecard/src/scenarios/fm-14.js';
import { scenarioResult } from '../support/scenario.js';

// FM-14, gray failure: the scorecard's scenario runs three replicas of one
// service on 127.0.0.1/.2/.3, same port, one answering 10× slower but never
// failing. Round robin (what DNS rotation or a naive pool gives) sends it a
// third of the traffic; Breakwater's P2C + peak-EWMA balancer sends it < 10 %
// after warm-up. This file asserts the same numbers the scorecard does and
// that the balancer still tried the slow replica (it is measured, not banned).

describe('FM-14: one replica 10× slower', () => {
  it('round robin gives it ~33 %; Breakwater < 10 % after warm-up', async () => {
    const result = await scenarioResult(FM_14);
    console.log(`[FM-14] slow replica's share: round robin ${result.naive.text}; Breakwater ${result.breakwater.text}`);
    expect(result.naive.value).toBeGreaterThan(30);
    expect(result.naive.ok).toBe(true);
    expect(result.breakwater.value).toBeLessThan(10);
    expect(result.breakwater.ok).toBe(true);
    // During warm-up every replica got measured: the slow one served some requests.
    expect(result.breakwater.series?.points.some((p) => p > 0)).toBe(true);
    // Healthy twin: three replicas alike, each a third of the traffic ± 40 %.
    console.log(`[FM-14] healthy twin: ${result.twin?.text}`);
    expect(result.twin?.ok, result.twin?.text).toBe(true);
  });
});
