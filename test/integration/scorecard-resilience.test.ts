import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runScorecard } from '../../packages/scorecard/src/runner.js';
import { RESILIENCE_SCENARIOS } from '../../packages/scorecard/src/scenarios/resilience.js';
import type { ScorecardRow } from '../../packages/scorecard/src/types.js';

// The scorecard's FM-09, 10, 11, 12 and 14 scenarios through the real runner:
// each must reproduce the failure naively and meet the catalogue's bound
// with Breakwater. None needs root: loopback and child processes only.

const byId = (rows: ScorecardRow[]) => Object.fromEntries(rows.map((r) => [r.id, r]));

/** Our scenarios' children (`node --input-type=module -e …`) still alive under this process, as `pid state`. */
function children(): string[] {
  const out = execFileSync('ps', ['-o', 'pid=,stat=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes('--input-type=module'))
    .map((line) => line.trim().split(/\s+/).slice(0, 2).join(' '));
}

/** Listening servers of this process; a closed server's handle goes away a loop turn after its 'close' event. */
async function listeningServers(): Promise<number> {
  await new Promise((r) => setTimeout(r, 100));
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
}

describe('scorecard: resilience scenarios (FM-09, 10, 11, 12, 14)', () => {
  it('each reproduces the naive failure and meets its bound', async () => {
    const report = await runScorecard(RESILIENCE_SCENARIOS, { concurrency: 2 });
    for (const row of report.rows)
      console.log(`[${row.id}] ${row.verdict} (${row.durationMs} ms): naive ${row.naive?.text}; breakwater ${row.breakwater?.text}`);
    const rows = byId(report.rows);
    for (const row of report.rows) {
      expect({ id: row.id, verdict: row.verdict, reason: row.reason }).toEqual({ id: row.id, verdict: 'pass', reason: undefined });
      for (const m of [row.naive, row.breakwater]) expect(m?.series?.points.length ?? 0).toBeLessThanOrEqual(200);
    }
    // FM-09: 100 writes reported OK, none processed; no ack-client message lost or handled twice.
    expect(rows['FM-09']?.naive?.value).toBe(100);
    expect(rows['FM-09']?.breakwater?.value).toBe(0);
    // FM-10: naive RSS beyond the 8 MiB bound + 20 MB slack; Breakwater within it.
    expect(rows['FM-10']?.naive?.value).toBeGreaterThan(28);
    expect(rows['FM-10']?.breakwater?.value).toBeLessThan(28);
    // FM-11: ≥ 27× naive, ≤ 1.3× with Breakwater.
    expect(rows['FM-11']?.naive?.value).toBeGreaterThanOrEqual(27);
    expect(rows['FM-11']?.breakwater?.value).toBeLessThanOrEqual(1.3);
    // FM-12: p99 while open < 5 ms (recovery is checked by the scenario's ok).
    expect(rows['FM-12']?.breakwater?.value).toBeLessThan(5);
    // FM-14: the slow replica's share, in %.
    expect(rows['FM-14']?.naive?.value).toBeGreaterThan(30);
    expect(rows['FM-14']?.breakwater?.value).toBeLessThan(10);
    // FM-14's healthy twin: three replicas alike each get a third ± 40 %.
    expect(rows['FM-14']?.twin?.ok, rows['FM-14']?.twin?.text).toBe(true);
  }, 90_000);

  it('an interrupted run leaves no child process (a SIGSTOPped one included) and no server behind', async () => {
    const servers = await listeningServers();
    const controller = new AbortController();
    let seen: string[] = [];
    let serversAtAbort = 0;
    // Interrupt once FM-09 has frozen a server (SIGSTOP: state T); FM-10 has its proxy and a client child up by then.
    const poll = setInterval(() => {
      if (controller.signal.aborted) return;
      seen = children();
      if (seen.length >= 2 && seen.some((c) => c.split(' ')[1]?.startsWith('T'))) {
        serversAtAbort = process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
        controller.abort();
      }
    }, 100);
    const scenarios = RESILIENCE_SCENARIOS.filter((s) => s.id === 'FM-09' || s.id === 'FM-10');
    const report = await runScorecard(scenarios, { concurrency: 2, signal: controller.signal }).finally(() => clearInterval(poll));
    expect(seen.filter((c) => c.split(' ')[1]?.startsWith('T'))).toHaveLength(1);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(serversAtAbort).toBeGreaterThan(servers); // FM-10's ack server and fault proxy
    for (const row of report.rows) expect({ id: row.id, verdict: row.verdict }).toEqual({ id: row.id, verdict: 'error' });
    expect(children()).toEqual([]);
    expect(await listeningServers()).toBe(servers);
  }, 30_000);
});
