import { describe, expect, it } from 'vitest';
import { fm15 } from '../../packages/scorecard/src/scenarios/fm-15.js';
import { reportResult } from '../support/report.js';
import { scenarioResult } from '../support/scenario.js';

/**
 * FM-15, wall-clock jumps: NTP steps, a VM resumed, someone running `date -s`.
 * The scorecard's scenario jumps this process's wall clock (Date) ±1 h a third
 * of the way into 600 ms timeouts: Breakwater's Deadline, connect timeout and
 * stall watchdog read the monotonic clock only and fire on time (it fails on
 * any other error than BW_ERR_CONNECT_TIMEOUT / BW_ERR_STALLED); a timeout
 * computed from Date.now() fires an hour early (or never). This file holds
 * the naive side to tighter numbers: under half the timeout on +1 h, past
 * twice the timeout on −1 h.
 */

const TIMEOUT_MS = 600;
const TOLERANCE_MS = 300;

describe('FM-15 wall-clock jumps change no timeout', () => {
  it('±1 h: Deadline, connect timeout and stall watchdog fire on time; a Date.now() timeout does not', async () => {
    const result = await scenarioResult(fm15);
    expect(result.breakwater.ok, result.breakwater.text).toBe(true);
    // Deadline, connect, stall on +1 h, then the same on −1 h.
    const fired = result.breakwater.series?.points ?? [];
    expect(fired).toHaveLength(6);
    for (const [k, ms] of fired.entries()) {
      const what = `${['Deadline', 'connect timeout', 'stall watchdog'][k % 3]} (${k < 3 ? '+1 h' : '−1 h'})`;
      expect(ms, `${what} fired early`).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(ms, `${what} fired late`).toBeLessThanOrEqual(TIMEOUT_MS + TOLERANCE_MS);
    }
    // Healthy twin: no jump, the same three timers on time.
    expect(result.twin?.ok, result.twin?.text).toBe(true);
    for (const ms of result.twin?.series?.points ?? []) expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
    expect(result.twin?.series?.points).toHaveLength(3);
    // The wall-clock timeout is off by the jump: early on +1 h, late (given up on) on −1 h.
    expect(result.naive.ok, result.naive.text).toBe(true);
    const [forward, backward] = result.naive.series?.points ?? [];
    expect(forward).toBeLessThan(TIMEOUT_MS / 2);
    expect(backward).toBeGreaterThan(TIMEOUT_MS * 2);
    for (const [k, label] of ['+1 h', '-1 h'].entries()) {
      const [deadlineMs, connectMs, stallMs] = fired.slice(k * 3, k * 3 + 3) as [number, number, number];
      reportResult(
        { fm: 'FM-15', side: 'breakwater', metric: `timerErrorMs ${label}`, value: Math.max(deadlineMs, connectMs, stallMs) - TIMEOUT_MS, unit: 'ms' },
        `wall clock ${label} mid-wait: Deadline ${deadlineMs} ms, connect timeout ${connectMs} ms, stall ${stallMs} ms for ${TIMEOUT_MS} ms timeouts; a Date.now() timeout fired after ${k === 0 ? forward : backward} ms${k === 1 ? ' (gave up waiting)' : ''}`,
      );
    }
  });
});
