import { expect, it } from 'vitest';
import { type Fm01Outcome, fm01 } from '../../packages/scorecard/src/scenarios/fm-01.js';
import { describeNetns } from '../support/netns.js';
import { reportResult, seconds } from '../support/report.js';
import { scenarioResult } from '../support/scenario.js';
import { tcpInfo } from '../support/sockets.js';

/**
 * FM-01, the zombie connection: the peer of an idle connection crashes and
 * no FIN or RST ever arrives (power loss, a dropped NAT entry, a blackholed
 * route). The scorecard's scenario reproduces it with the server in a
 * namespace: every packet of its port is dropped both ways, then the server
 * process is SIGKILLed, so the FIN its kernel sends is dropped too (without
 * the blackhole the client would see that FIN at once, which is what makes
 * the naive assertion able to fail). This file runs it twice, watching 30 s:
 * the naive socket with keepalive off, then with setKeepAlive(true); the
 * Breakwater socket with its defaults, then with the native binding off
 * (Node 24: its own 4-argument setKeepAlive; Node 22: libuv's 1 s × 10 probes).
 * Each run's healthy twin (a live peer idle through a brief path outage) must
 * stay connected with the same options.
 */

const WAIT_MS = 30_000;

const runs = [
  { naive: 'keepalive off', naiveMetric: 'silentSecondsKeepAliveOff', naiveKeepAlive: false, breakwater: 'defaults', bwMetric: 'detectSeconds', socket: {} },
  {
    naive: "setKeepAlive(true), Node's default delay",
    naiveMetric: 'silentSecondsKeepAliveDefault',
    naiveKeepAlive: true,
    breakwater: 'native: false',
    bwMetric: 'detectSecondsNativeOff',
    socket: { native: false },
  },
] as const;

describeNetns('FM-01 zombie connection (idle peer gone without FIN)', () => {
  for (const run of runs) {
    it.concurrent(`naive (${run.naive}) sees nothing for 30 s; Breakwater (${run.breakwater}) reports the dead peer within idle + interval × count + 2 s (≤ 20 s)`, async () => {
      let seen: (Fm01Outcome & { state?: string; timer?: string }) | undefined;
      const result = await scenarioResult(
        fm01({
          windowMs: WAIT_MS,
          naiveKeepAlive: run.naiveKeepAlive,
          socket: run.socket,
          async inspect(outcome) {
            const info = await tcpInfo(outcome.naive.socket);
            seen = { ...outcome, ...(info === undefined ? {} : { state: info.state, timer: info.timer }) };
          },
        }),
      );
      expect(seen?.naiveEvent, 'the client noticed the dead peer: the blackhole did not hold').toBeUndefined();
      expect(result.naive.ok, result.naive.text).toBe(true);
      expect(seen?.state).toBe('ESTAB');
      reportResult(
        { fm: 'FM-01', side: 'naive', metric: run.naiveMetric, value: Number(seconds(WAIT_MS)), unit: 's' },
        `no error after ${seconds(WAIT_MS)} s (${run.naive}; socket ${seen?.state}, kernel timer ${seen?.timer || 'none'})`,
      );

      const applied = seen!.keepAlive;
      // The catalogue's bound (idle + interval × count + 2 s); the kernel may answer sooner under TCP_USER_TIMEOUT.
      const bound = Math.max(applied?.detectWithinMs ?? 0, (applied?.idleMs ?? 0) + (applied?.intervalMs ?? 0) * (applied?.count ?? 0)) + 2_000;
      expect(applied?.detectWithinMs).toBeLessThanOrEqual(18_000);
      expect(seen?.failure, `${run.breakwater}: no error within 30 s`).toBeDefined();
      expect(seen?.failure?.error).toMatchObject({ code: 'BW_ERR_PEER_TIMEOUT', retryable: true });
      expect(seen?.failure?.atMs).toBeLessThanOrEqual(bound);
      expect(result.breakwater.ok, result.breakwater.text).toBe(true);
      reportResult(
        { fm: 'FM-01', side: 'breakwater', metric: run.bwMetric, value: Number(seconds(seen?.failure?.atMs ?? 0)), unit: 's' },
        `${run.breakwater} (${applied?.mechanism}, bound ${seconds(bound)} s): ${result.breakwater.text}`,
      );

      // The healthy twin, with the same options: a live peer idle for the whole window through a 4 s path outage.
      console.log(`[FM-01] healthy twin (${run.breakwater}): ${result.twin?.text}`);
      expect(result.twin?.ok, result.twin?.text).toBe(true);
      expect(result.twin?.text).toBe(`idle ${seconds(WAIT_MS)} s (path down 6.0–10.0 s): no error, echo answered`);
    });
  }
});
