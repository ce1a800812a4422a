import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runScorecard } from '../../packages/scorecard/src/runner.js';
import { fm04 } from '../../packages/scorecard/src/scenarios/fm-04.js';
import { fm07 } from '../../packages/scorecard/src/scenarios/fm-07.js';
import { fm13 } from '../../packages/scorecard/src/scenarios/fm-13.js';
import { fm16 } from '../../packages/scorecard/src/scenarios/fm-16.js';
import { fm17 } from '../../packages/scorecard/src/scenarios/fm-17.js';
import { TRANSPORT_SCENARIOS } from '../../packages/scorecard/src/scenarios/transport.js';
import { haproxyBinary } from '../../packages/scorecard/src/scenarios/transport-support.js';
import type { Scenario, ScorecardRow } from '../../packages/scorecard/src/types.js';

// The transport scenarios of `breakwater scorecard` (FM-04, 07, 13, 16, 17),
// run by the scorecard's own runner as the CLI runs them (FM-04 alone, the
// others side by side), checked against the catalogue's bounds, and checked
// to leave no server, socket or child process behind, also when aborted.

/** Open servers, sockets and child processes of this process. */
const handles = () =>
  process
    .getActiveResourcesInfo()
    .filter((r) => /TCPServerWrap|TCPSocketWrap|UDPWrap|ProcessWrap/.test(r))
    .sort();

/** Waits (≤ 1 s) for `probe` to return `expected` again: a closed handle leaves the list a turn of the loop later, more on a busy machine. */
async function settlesTo<T>(probe: () => T, expected: T): Promise<T> {
  for (let waited = 0; waited < 1_000 && JSON.stringify(probe()) !== JSON.stringify(expected); waited += 20)
    await new Promise((resolve) => setTimeout(resolve, 20));
  return probe();
}

/** Our children still alive (by parent pid, from /proc). */
function children(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(process.pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Runs `scenarios` through runScorecard (abort after `abortAfterMs` if given); asserts nothing is left open afterwards. */
async function score(scenarios: Scenario[], abortAfterMs?: number): Promise<Map<string, ScorecardRow>> {
  const [handlesBefore, childrenBefore] = [await settlesTo(handles, []), children()];
  const signal = abortAfterMs === undefined ? undefined : AbortSignal.timeout(abortAfterMs);
  const report = await runScorecard(scenarios, { signal });
  for (const row of report.rows) {
    const sides = row.naive === undefined ? row.reason : `naive: ${row.naive.text}; breakwater: ${row.breakwater!.text}`;
    console.log(`[scorecard ${row.id}] ${row.verdict} in ${row.durationMs} ms: ${sides}\n  ${row.notes?.join('\n  ') ?? ''}`);
  }
  expect(await settlesTo(handles, handlesBefore), 'handles left open').toEqual(handlesBefore);
  expect(await settlesTo(children, childrenBefore), 'child processes left').toEqual(childrenBefore);
  return new Map(report.rows.map((row) => [row.id, row]));
}

const hasHaproxy = haproxyBinary() !== undefined;
if (!hasHaproxy) console.log('[scorecard FM-16] skipped: no haproxy binary on PATH or in /usr/sbin (apt-get install haproxy)');

describe('scorecard: transport scenarios', () => {
  it('registers FM-04, 07, 13, 16, 17; FM-04 and FM-13 run alone, FM-16 needs haproxy', () => {
    expect(TRANSPORT_SCENARIOS.map((s) => s.id)).toEqual(['FM-04', 'FM-07', 'FM-13', 'FM-16', 'FM-17']);
    expect(TRANSPORT_SCENARIOS.filter((s) => s.exclusive).map((s) => s.id)).toEqual(['FM-04', 'FM-13']);
    expect(fm16).toMatchObject({ requires: ['program'], programs: ['haproxy'] });
    for (const s of TRANSPORT_SCENARIOS) expect(s.budgetMs).toBeLessThanOrEqual(35_000);
  });

  it('FM-04 and FM-13, one after the other: naive p50 ≥ 40 ms, Breakwater p99 < 2 ms; the new address within its TTL, NXDOMAIN within the cap', async () => {
    const rows = await score([fm04, fm13]);
    const fm04Row = rows.get('FM-04')!;
    expect(fm04Row.verdict, fm04Row.reason).toBe('pass');
    expect(fm04Row.naive!.value).toBeGreaterThanOrEqual(40);
    expect(fm04Row.breakwater!.value).toBeLessThan(2);
    expect(fm04Row.breakwater!.series!.points.length).toBeLessThanOrEqual(200);
    // Its healthy twin: 1 MB messages as fast on connect() as on net.connect(), none failed.
    expect(fm04Row.twin?.ok, fm04Row.twin?.text).toBe(true);
    expect(fm04Row.twin!.text).toMatch(/^8\/8 × 1 MB answered/);

    const fm13Row = rows.get('FM-13')!;
    expect(fm13Row.verdict, fm13Row.reason).toBe('pass');
    expect(fm13Row.naive!.text).toBe('old address after 2.00 s');
    expect(fm13Row.breakwater!.value).toBeLessThanOrEqual(1_000); // the record's TTL
    expect(fm13Row.breakwater!.text).toMatch(/new name in (0|1)\.\d+ s/); // within the 2 s negative cap
  }, 35_000);

  it('FM-07, 16, 17 side by side: every naive side fails, every Breakwater side meets its bound', async () => {
    const rows = await score([fm07, fm16, fm17]);
    for (const id of ['FM-07', 'FM-17', ...(hasHaproxy ? ['FM-16'] : [])]) expect(rows.get(id)!.verdict, `${id}: ${rows.get(id)!.reason}`).toBe('pass');

    const fm07Row = rows.get('FM-07')!;
    expect(fm07Row.naive!.value).toBeGreaterThan(0);
    expect(fm07Row.breakwater!.value).toBe(0);
    expect(fm07Row.breakwater!.text).toBe('0/1000 failed');

    expect(rows.get('FM-17')!.naive!.value).toBe(10);
    expect(rows.get('FM-17')!.breakwater!.value).toBe(0);
    expect(rows.get('FM-17')!.twin).toMatchObject({ value: 0, ok: true });

    const fm16Row = rows.get('FM-16')!;
    if (!hasHaproxy) expect(fm16Row.verdict).toBe('skipped');
    else {
      expect(fm16Row.naive!.value).toBeGreaterThan(0);
      expect(fm16Row.breakwater!.value).toBe(0);
      expect(fm16Row.twin).toMatchObject({ value: 1, ok: true });
    }
  }, 40_000);

  // 300 ms: while servers, proxies and HAProxy are being opened; 2.5 s: requests in flight.
  it.each([300, 2_500])(
    'an abort (Ctrl-C) after %i ms ends FM-07 and FM-16 as errors, and leaves no server, socket or child process',
    async (afterMs) => {
      const rows = await score([fm07, fm16], afterMs);
      expect(rows.get('FM-07')).toMatchObject({ verdict: 'error', reason: 'interrupted' });
      expect(rows.get('FM-16')).toMatchObject(hasHaproxy ? { verdict: 'error', reason: 'interrupted' } : { verdict: 'skipped' });
    },
    20_000,
  );
});
