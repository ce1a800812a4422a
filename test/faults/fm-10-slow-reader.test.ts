import { describe, expect, it } from 'vitest';
import { type Fm10Raw, fm10Scenario } from '../../packages/scorecard/src/scenarios/fm-10.js';
import { reportResult } from '../support/report.js';
import { observedResult } from '../support/scenario.js';

/**
 * FM-10, slow reader: the scorecard's scenario has the server read 1 KB/s
 * (the chaos proxy's bandwidth fault on client → server) while a client
 * process offers 100 MB in 64 KB messages for 4 s. Naive: socket.write()
 * ignoring its return value — the whole offer lands in the socket's
 * user-space buffer. This file runs it with a 4 MiB bound (half the default)
 * under both policies: 'wait' (send() waits for room) and 'reject' (send()
 * fails with BW_ERR_BACKPRESSURE). Runs on loopback: no root needed.
 */

const BOUND_BYTES = 4 * 1024 * 1024;
const SLACK_BYTES = 20 * 1024 * 1024;
const MB = 1024 * 1024;
// A 64 KB frame takes a minute at 1 KB/s and PINGs wait behind it: this link is slow, not dead.
const SLOW_LINK = { ackTimeoutMs: 120_000, heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 120_000, sendTimeoutMs: 120_000, socket: { stallTimeoutMs: 0 } };

async function run(overflowPolicy: 'wait' | 'reject'): Promise<Fm10Raw> {
  const { result, raw } = await observedResult<Fm10Raw>((observe) =>
    fm10Scenario({ client: { ...SLOW_LINK, maxBufferedBytes: BOUND_BYTES, overflowPolicy }, observe }),
  );
  expect(result.naive.ok, result.naive.text).toBe(true);
  expect(result.breakwater.ok, result.breakwater.text).toBe(true);
  return raw;
}

describe('FM-10 slow reader (1 KB/s) while the client offers 100 MB', () => {
  it('naive writes buffer ~100 MB in user space; the ack client stays under its bound + 20 MB and waits or rejects per policy', async () => {
    const wait = await run('wait');
    expect(wait.naive.buffered).toBeGreaterThan(90 * MB);
    expect(wait.naive.peakRss).toBeGreaterThan(80 * MB);
    expect(wait.breakwater.peakBuffered).toBeLessThanOrEqual(BOUND_BYTES);
    expect(wait.breakwater.peakRss).toBeLessThan(BOUND_BYTES + SLACK_BYTES);
    expect(wait.breakwater.waiting).toBeGreaterThan(0); // send() waited for room
    expect(Object.keys(wait.breakwater.errors).filter((c) => c !== 'BW_ERR_CLOSED')).toEqual([]);

    const reject = await run('reject');
    expect(reject.breakwater.peakBuffered).toBeLessThanOrEqual(BOUND_BYTES);
    expect(reject.breakwater.peakRss).toBeLessThan(BOUND_BYTES + SLACK_BYTES);
    expect(reject.breakwater.errors.BW_ERR_BACKPRESSURE ?? 0).toBeGreaterThan(0);

    const mb = (n: number) => (n / MB).toFixed(1);
    reportResult(
      { fm: 'FM-10', side: 'naive', metric: 'userSpaceBufferedBytes', value: wait.naive.buffered, unit: 'bytes' },
      `100 MB offered to a 1 KB/s reader: writableLength ${mb(wait.naive.buffered)} MB, RSS +${mb(wait.naive.peakRss)} MB`,
    );
    reportResult(
      { fm: 'FM-10', side: 'breakwater', metric: 'rssGrowthBytes', value: Math.max(wait.breakwater.peakRss, reject.breakwater.peakRss), unit: 'bytes' },
      `bound ${mb(BOUND_BYTES)} MB: 'wait' buffered ≤ ${mb(wait.breakwater.peakBuffered)} MB, RSS +${mb(wait.breakwater.peakRss)} MB, ${wait.breakwater.waiting} sends waiting; ` +
        `'reject' buffered ≤ ${mb(reject.breakwater.peakBuffered)} MB, RSS +${mb(reject.breakwater.peakRss)} MB, ${reject.breakwater.errors.BW_ERR_BACKPRESSURE} × BW_ERR_BACKPRESSURE`,
    );
  }, 120_000);
});
