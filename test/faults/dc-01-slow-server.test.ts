import { expect, it } from 'vitest';
import { runScorecard } from '../../packages/scorecard/src/runner.js';
import { DC_01 } from '../../packages/scorecard/src/scenarios/dc-01.js';
import { describeNetns } from '../support/netns.js';

/**
 * DC-01, the scorecard's slow-server row (issue #13): a server in a
 * namespace thinking 25 s, and another dying mid-think (its port blackholed
 * 1 s after the requests were written and acknowledged). Undici's defaults
 * hear nothing from the dead one while the slow one thinks; createClient()
 * reports the dead one from its keepalive (≤ 15 s + a connect timeout per
 * retry + 2 s = 23 s) and answers the slow one, asked once. The twin's
 * too-strict variant (the old watchdog rule) is in
 * test/integration/scorecard-contracts.test.ts.
 */

describeNetns('DC-01 slow server vs the same server dead mid-think', () => {
  it('naive: no error for 24 s; Breakwater: the dead server reported in ≤ 23 s; the 25 s server answered once', { timeout: 60_000 }, async () => {
    const report = await runScorecard([DC_01]);
    const [row] = report.rows;
    console.log(`[DC-01] ${row?.verdict} (${row?.durationMs} ms): naive ${row?.naive?.text}; breakwater ${row?.breakwater?.text}; twin ${row?.twin?.text}`);
    expect({ verdict: row?.verdict, reason: row?.reason }).toEqual({ verdict: 'pass', reason: undefined });
    expect(row?.naive?.text).toMatch(/^no error after 2\d\.\d s$/);
    expect(row?.breakwater?.value).toBeLessThanOrEqual(23);
    expect(row?.breakwater?.text).toMatch(/^BW_ERR_\w+ .*after \d+\.\d s$/);
    expect(row?.twin?.text).toMatch(/^200 after 2\d\.\d s, asked once$/);
  });

  it('headersTimeoutMs 5000 cuts the 25 s server: the twin fails naming it, and the naive side is still watched its full window', {
    timeout: 60_000,
  }, async () => {
    const report = await runScorecard([DC_01], { config: { http: { headersTimeoutMs: 5_000 } } });
    const [row] = report.rows;
    console.log(`[DC-01 headersTimeoutMs 5000] ${row?.verdict}: naive ${row?.naive?.text}; breakwater ${row?.breakwater?.text}; twin ${row?.twin?.text}`);
    expect(row?.verdict).toBe('fail');
    // The Breakwater requests end after ≈ 5 s; the naive one is judged once the slow server's answer is due, not then.
    expect(row?.naive?.ok, row?.naive?.text).toBe(true);
    expect(row?.naive?.text).toMatch(/^no error after 2\d\.\d s$/);
    expect(row?.twin?.ok).toBe(false);
    expect(row?.twin?.text).toMatch(/: headersTimeoutMs 5000 \(your option\)$/);
  });
});
