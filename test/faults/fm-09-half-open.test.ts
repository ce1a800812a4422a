import { describe, expect, it } from 'vitest';
import { BreakwaterError } from '../../packages/core/src/index.js';
import { type Fm09Raw, fm09Scenario } from '../../packages/scorecard/src/scenarios/fm-09.js';
import { reportResult } from '../support/report.js';
import { observedResult } from '../support/scenario.js';

/**
 * FM-09, half-open: write() succeeded, nobody received. The scorecard's
 * scenario runs two ack servers as child processes and freezes the first
 * with SIGSTOP mid-stream (its kernel keeps ACKing and buffering); a plain
 * socket's write callbacks report success for every message, none is
 * processed. This file runs it with 400 sends, a 250 ms heartbeat and a 10 s
 * deadline per send, frozen as is and frozen then killed with SIGKILL once
 * its kernel holds the bytes: the ack client fails over to the second server
 * and retransmits; every send resolves within its deadline, and each resolved
 * message was handled by the server that acknowledged it.
 */

const MESSAGES = 400;
const FREEZE_AFTER = 100;
const DEADLINE_MS = 10_000;

async function run(kill: boolean): Promise<Fm09Raw> {
  const { result, raw } = await observedResult<Fm09Raw>((observe) =>
    fm09Scenario({
      client: { heartbeatIntervalMs: 250, heartbeatTimeoutMs: 750, ackTimeoutMs: 1_000, reconnectBaseDelayMs: 20 },
      messages: MESSAGES,
      freezeAfter: FREEZE_AFTER,
      deadlineMs: DEADLINE_MS,
      kill,
      observe,
    }),
  );
  expect(result.naive.ok, result.naive.text).toBe(true);
  expect(result.breakwater.ok, result.breakwater.text).toBe(true);
  return raw;
}

function check({ naive, breakwater: r }: Fm09Raw, label: string) {
  // Naive: every write callback said OK, nothing after the freeze was processed.
  expect(naive.writesOk).toBe(100);
  expect(naive.processed).toBe(0);

  expect(r.outcomes).toHaveLength(MESSAGES);
  const failed = r.outcomes.filter((o) => o.error !== undefined);
  for (const o of failed) expect(o.error).toBeInstanceOf(BreakwaterError);
  // Each send settled within its deadline (+ 0.5 s for timer and event-loop slack).
  for (const o of r.outcomes) expect(o.ms).toBeLessThan(DEADLINE_MS + 500);
  expect(failed).toEqual([]);
  // Nothing silently lost: each resolved message was handled by the server that acknowledged it.
  const lost = r.outcomes.filter((o) => !(Number(o.ack?.endpoint.split(':')[1]) === r.portB ? r.seenB : r.seenA).includes(o.i));
  expect(lost).toEqual([]);
  const byB = r.outcomes.filter((o) => Number(o.ack?.endpoint.split(':')[1]) === r.portB);
  expect(byB.length).toBeGreaterThanOrEqual(MESSAGES - FREEZE_AFTER - 64);
  expect(r.retransmits).toBeGreaterThan(0);
  const slowest = Math.max(...r.outcomes.map((o) => o.ms));
  reportResult(
    { fm: 'FM-09', side: 'naive', metric: `unprocessedWritesReportedOk ${label}`, value: naive.writesOk - naive.processed, unit: 'messages' },
    `${label}: ${naive.writesOk}/100 plain writes reported success, ${naive.processed} processed`,
  );
  reportResult(
    { fm: 'FM-09', side: 'breakwater', metric: `lostOrUntypedSends ${label}`, value: lost.length + failed.length, unit: 'messages' },
    `${label}: ${MESSAGES} sends resolved (${byB.length} by the second server after failover, ${r.retransmits} retransmits, ` +
      `${r.disconnects.length} disconnects: ${r.disconnects.join(', ')}); slowest ${Math.round(slowest)} ms; 0 lost`,
  );
}

describe('FM-09 half-open: frozen or killed server mid-stream', () => {
  it('SIGSTOP: plain writes report success for unprocessed messages; ack client fails over, every send resolves, nothing lost', async () => {
    const raw = await run(false);
    check(raw, 'SIGSTOP');
    // Detected by the heartbeat (the frozen kernel never resets anything).
    expect(raw.breakwater.disconnects[0]).toBe('BW_ERR_ACK_TIMEOUT');
  }, 60_000);

  it('SIGKILL after the kernel took the bytes: plain writes report success; ack client retransmits to the second server', async () => {
    check(await run(true), 'SIGKILL');
  }, 60_000);
});
