import { guardOf } from '@breakwater/socket';
import { expect, it } from 'vitest';
import { type Fm06Outcome, fm06 } from '../../packages/scorecard/src/scenarios/fm-06.js';
import { describeNetns } from '../support/netns.js';
import { reportResult, seconds } from '../support/report.js';
import { scenarioResult } from '../support/scenario.js';

/**
 * FM-06, PMTU black hole: client — router — server, the router's
 * client-facing hop has a 1400 MTU while both endpoints keep 1500 (so they
 * negotiate a 1460 MSS), and the router drops the ICMP "fragmentation
 * needed" it should send back. Full-size response segments die at the
 * router; small messages pass. The scorecard's scenario measures it; this
 * file runs it again as the control (the same topology without the ICMP
 * drop: PMTU discovery shrinks the segments and the transfer completes,
 * which proves the black hole is what stalls it), and with a 3 s stall
 * timeout, as shipped and with guard.expect() (a protocol layer that knows
 * the response size).
 */

const SMALL = 500;
const LARGE = 100 * 1024;
const STALL_TIMEOUT_MS = 3_000;

/** The scenario's result, and what it saw after its window. */
async function run(options: Parameters<typeof fm06>[0]) {
  let seen: Fm06Outcome | undefined;
  const inspect = (outcome: Fm06Outcome) => {
    seen = outcome;
  };
  const result = await scenarioResult(fm06({ ...options, inspect }));
  return { result, seen: seen as Fm06Outcome };
}

describeNetns('FM-06 PMTU black hole (1400-MTU hop, ICMP dropped)', () => {
  it('naive: 500 B responses arrive, a 100 KB response stalls; without the ICMP drop it arrives', async () => {
    // Both at once: the stall costs its full window, the control takes milliseconds (and then waits out its own).
    const [hole, control] = await Promise.all([run({}), run({ dropIcmp: false, windowMs: 8_000 })]);
    expect(hole.seen.small).toEqual([SMALL, SMALL]);
    expect(control.seen.naiveLarge, 'PMTU discovery failed even without the ICMP drop: the topology is broken').toBe(LARGE);
    expect(hole.seen.naiveLarge).toBeLessThan(LARGE);
    expect(hole.result.naive.ok, hole.result.naive.text).toBe(true);
    reportResult(
      { fm: 'FM-06', side: 'naive', metric: 'bytesAfterStallWait', value: hole.seen.naiveLarge, unit: 'B' },
      `${LARGE / 1024} KB response: ${hole.result.naive.text}`,
    );
    reportResult(
      { fm: 'FM-06', side: 'control', metric: 'largeResponseBytes', value: control.seen.naiveLarge, unit: 'B' },
      `ICMP not dropped: all ${LARGE / 1024} KB arrived (PMTU discovery works)`,
    );
  });

  it('breakwater: small responses still work, a 100 KB response ends in BW_ERR_STALLED within stall timeout + 1 s', async () => {
    const variants = [
      // As shipped (a write makes a response owed until its first byte).
      { label: 'response owed after write (default)', options: { socket: { stallTimeoutMs: STALL_TIMEOUT_MS } } },
      // As a protocol layer that knows the response size uses it (expect → settle).
      {
        label: 'guard.expect() until 100 KB arrived',
        options: {
          socket: { stallTimeoutMs: STALL_TIMEOUT_MS, expectResponseAfterWrite: false },
          beforeLarge: (w: Fm06Outcome['hardened']) => guardOf(w.socket)?.expect(),
        },
      },
    ];
    const runs = await Promise.all(variants.map((v) => run({ windowMs: STALL_TIMEOUT_MS + 4_000, ...v.options })));
    runs.forEach(({ result, seen }, i) => {
      const label = variants[i]?.label;
      expect(seen.small[1]).toBe(SMALL);
      expect(seen.failure, `${label}: still hanging`).toBeDefined();
      expect(seen.failure?.error).toMatchObject({ code: 'BW_ERR_STALLED', hint: expect.stringMatching(/PMTU black hole/) });
      expect(seen.failure?.atMs).toBeLessThanOrEqual(STALL_TIMEOUT_MS + 1_000);
      expect(result.breakwater.ok, result.breakwater.text).toBe(true);
      reportResult(
        {
          fm: 'FM-06',
          side: 'breakwater',
          metric: i === 0 ? 'stalledSeconds' : 'stalledSecondsExpect',
          value: Number(seconds(seen.failure?.atMs ?? 0)),
          unit: 's',
        },
        `${label}: ${result.breakwater.text} (stallTimeoutMs ${STALL_TIMEOUT_MS}); ${SMALL} B responses still complete`,
      );
    });
  });
});
