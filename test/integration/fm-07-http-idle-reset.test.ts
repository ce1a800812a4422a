import { describe, expect, it } from 'vitest';
import { fm07Scenario } from '../../packages/scorecard/src/scenarios/fm-07.js';
import { observedResult } from '../support/scenario.js';

// FM-07, stale pooled connection: the scorecard's scenario puts a load
// balancer (the chaos proxy's idleReset) that resets any connection reused
// after T = 500 ms idle in front of a server, and sends 1,000 GETs in waves of
// 50 spaced 0.6 T … 1.4 T apart. undici's defaults keep idle sockets 4 s (> T)
// and never resend: some requests fail. createClient()'s defaults (4 s idle
// too) resend a request that died on a reused connection once, on a fresh one:
// none fail. This file adds a client that keeps idle sockets T/2 (< T): none fail either.

const T = 500;

describe('FM-07: stale pooled connections behind an idle-resetting load balancer', () => {
  it('undici defaults fail some of 1,000 requests; Breakwater (the resend alone, or with idle < T) fails none', async () => {
    const { result, raw } = await observedResult<number[]>((observe) => fm07Scenario({ variants: [{ keepAliveTimeoutMs: T / 2 }], observe }));
    const [shortIdleFailed] = raw;
    console.log(
      `[FM-07] undici defaults ${result.naive.text}; Breakwater (stale-socket resend, 4 s idle) ${result.breakwater.text}; idle ${T / 2} ms: ${shortIdleFailed} failed`,
    );
    expect(result.naive.value).toBeGreaterThan(0);
    expect(result.breakwater.value).toBe(0);
    expect(shortIdleFailed).toBe(0);
  }, 60_000);
});
