import net from 'node:net';
import { type Clock, monotonicClock } from '@breakwater/core';
import { connect } from '@breakwater/socket';
import { describe, expect, it } from 'vitest';
import { largeWritesTwin, messageServer } from '../../packages/scorecard/src/scenarios/fm-04.js';
import { uniformReplicasTwin } from '../../packages/scorecard/src/scenarios/fm-14.js';
import { onTimeTwin } from '../../packages/scorecard/src/scenarios/fm-15.js';
import { listen } from '../../packages/scorecard/src/scenarios/transport-support.js';
import type { ScenarioContext } from '../../packages/scorecard/src/types.js';
import { scenarioContext } from '../support/scenario.js';
import { expectTwin, twinRow } from '../support/twins.js';

// The timing-sensitive healthy twins (FM-04, FM-14, FM-15), in the
// one-at-a-time `timing` project as their scenarios are; FM-04's and FM-15's
// rows run alone (`exclusive`) as theirs do. Defaults pass; a defence made
// too eager or too strict fails the row. FM-14 has no such option (below).

async function largeWrites(ctx: ScenarioContext, socket: { stallTimeoutMs?: number }) {
  const port = await listen(ctx, messageServer(2));
  return largeWritesTwin(ctx, port, () => connect({ ...socket, host: '127.0.0.1', port, signal: ctx.signal }));
}

/** FM-15's twin against a server that accepts and never answers (its stall watchdog needs a silent peer). */
async function timersOnTime(ctx: ScenarioContext, clock: Clock) {
  const port = await listen(
    ctx,
    net.createServer((s) => s.on('error', () => {})),
  );
  return onTimeTwin(ctx, port, clock);
}

/** A clock whose timers round their delay up to whole seconds, as a coarse timer wheel does. */
const wholeSecondTimers: Clock = {
  now: () => monotonicClock.now(),
  setTimeout: (callback, delayMs) => monotonicClock.setTimeout(callback, Math.ceil(delayMs / 1_000) * 1_000),
  clearTimeout: (handle) => monotonicClock.clearTimeout(handle),
};

describe('timing-sensitive healthy twins fail when the defence is too eager', () => {
  it('FM-04: 1 MB messages to a reader handling each chunk are as fast on connect() as on net.connect(); a 10 ms stall timeout kills the connection', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('FM-04', (ctx) => largeWrites(ctx, {}), { exclusive: true }),
      twinRow('FM-04 eager', (ctx) => largeWrites(ctx, { stallTimeoutMs: 10 }), { exclusive: true }),
    );
    expect(passed.text).toMatch(/^8\/8 × 1 MB answered/);
    expect(hurt.text).toMatch(/^BW_ERR_STALLED on 1 MB message 1 of 9/);
  }, 30_000);

  it('FM-15: with no jump, 600 ms timers fire on time on the monotonic clock; on timers rounded up to whole seconds they fire 400 ms late', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('FM-15', (ctx) => timersOnTime(ctx, monotonicClock), { exclusive: true }),
      twinRow('FM-15 coarse', (ctx) => timersOnTime(ctx, wholeSecondTimers), { exclusive: true }),
    );
    expect(passed.value).toBeLessThanOrEqual(300);
    expect(hurt.value).toBeGreaterThanOrEqual(395);
    for (const ms of hurt.series!.points) expect(ms).toBeGreaterThanOrEqual(995);
  }, 30_000);

  // No createClient() option makes FM-14's balancer skew alike replicas: it ejects on failures only
  // (they have none), alike scores are ties (settled at random) and a passed-over score decays whatever
  // balanceDecayMs is (so one unlucky sample does not starve a replica, even with the longest). This pins
  // that down: if a change (say, ejection on latency) makes the balancer chase jitter, it fails here.
  it('FM-14: three replicas alike get an even share with the defaults, the longest balanceDecayMs and ejection after one failure', async () => {
    for (const options of [{}, { balanceDecayMs: 600_000 }, { outlierFailures: 1, outlierEjectionMs: 3_600_000 }]) {
      const ctx = scenarioContext();
      try {
        const twin = await uniformReplicasTwin(ctx, options);
        console.log(`[FM-14 twin] ${JSON.stringify(options)}: ${twin.text}`);
        expect(twin.ok, twin.text).toBe(true);
        expect(twin.value).toBeLessThanOrEqual(40);
      } finally {
        await ctx.cleanup();
      }
    }
  }, 30_000);
});
