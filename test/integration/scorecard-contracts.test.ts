import { createClient } from '@breakwater/http';
import { resolvePreset } from '@breakwater/presets';
import { describe, expect, it } from 'vitest';
import { createPgPool } from '../../packages/drivers/src/pg.js';
import { runScorecard } from '../../packages/scorecard/src/runner.js';
import { CONTRACT_SCENARIOS } from '../../packages/scorecard/src/scenarios/contracts.js';
import { slowServerTwin } from '../../packages/scorecard/src/scenarios/dc-01.js';
import { bigUploadTwin } from '../../packages/scorecard/src/scenarios/dc-02.js';
import { cleanRestartTwin } from '../../packages/scorecard/src/scenarios/dc-03.js';
import { markedReadTwin, startDatabase } from '../../packages/scorecard/src/scenarios/dc-04.js';
import type { ScorecardRow } from '../../packages/scorecard/src/types.js';
import { expectTwin, twinRow } from '../support/twins.js';

// The data-contract rows (DC-01 … DC-04) through the real runner: each must
// show the harm naively, keep its contract with Breakwater and leave its
// healthy twin alone; then each twin must fail when the defence is made too
// strict (the pattern of scorecard-twins.test.ts).

const byId = (rows: ScorecardRow[]) => Object.fromEntries(rows.map((r) => [r.id, r]));

describe('scorecard: data-contract rows', () => {
  it('DC-02, 03, 04 each show the naive harm, keep their contract with Breakwater and pass their healthy twin', async () => {
    // DC-01 needs network namespaces: test/faults/dc-01-slow-server.test.ts runs it.
    const report = await runScorecard(
      CONTRACT_SCENARIOS.filter((s) => !s.requires.includes('netns')),
      { concurrency: 3 },
    );
    for (const row of report.rows)
      console.log(
        `[${row.id}] ${row.verdict} (${row.durationMs} ms): naive ${row.naive?.text}; breakwater ${row.breakwater?.text}; twin ${row.twin?.text}${row.reason === undefined ? '' : `; ${row.reason}`}`,
      );
    const rows = byId(report.rows);
    for (const row of report.rows) {
      if (row.verdict === 'skipped') continue;
      expect({ id: row.id, verdict: row.verdict, reason: row.reason }).toEqual({ id: row.id, verdict: 'pass', reason: undefined });
      for (const m of [row.naive, row.breakwater, row.twin]) expect(m?.ok).toBe(true);
    }
    // DC-02: the naive retry's accepted body is empty; Breakwater's is the 48 KiB sent; the twin went out once.
    expect(rows['DC-02']?.naive).toMatchObject({ value: 0, unit: '%' });
    expect(rows['DC-02']?.naive?.text).toMatch(/^200: server accepted 0 B/);
    expect(rows['DC-02']?.breakwater).toMatchObject({ value: 100, unit: '%' });
    expect(rows['DC-02']?.breakwater?.text).toMatch(/sent 49,152 B then 49,152 B$/);
    expect(rows['DC-02']?.twin).toMatchObject({ value: 1, text: '10 MB streamed PUT: 1 attempt, bytes intact, 200' });
    // DC-03: naive loses what its queue held at the kill; the outbox client loses none and doubles none.
    expect(rows['DC-03']?.naive?.value).toBeGreaterThanOrEqual(150);
    expect(rows['DC-03']?.breakwater).toMatchObject({ value: 0 });
    expect(rows['DC-03']?.breakwater?.text).toMatch(/^300\/300 handled, 0 twice \(\d+ before the kill; [1-9]\d* resent from the outbox/);
    expect(rows['DC-03']?.twin).toMatchObject({ value: 0, text: 'clean restart: 0 resent, 40/40 handled once' });
    // DC-04: 3 write-like reads ran twice each naively, once each with Breakwater; the marked read was retried once.
    expect(rows['DC-04']?.verdict).toEqual(process.env.BREAKWATER_REQUIRE_NETNS === '1' ? 'pass' : expect.stringMatching(/^(pass|skipped)$/));
    if (rows['DC-04']?.verdict === 'pass') {
      expect(rows['DC-04'].naive).toMatchObject({ value: 6, text: '3/3 reported done once, ran 6× (nextval() 2×, SELECT f() 2×, WITH … INSERT 2×)' });
      expect(rows['DC-04'].breakwater).toMatchObject({ value: 3 });
      expect(rows['DC-04'].breakwater?.text).toMatch(/^3\/3 BW_ERR_OUTCOME_UNKNOWN \(mayHaveApplied\), ran 3×/);
      expect(rows['DC-04'].twin).toMatchObject({ value: 2, ok: true });
    }
  }, 120_000);
});

describe('data-contract rows with your configuration', () => {
  it('DC-02 holds with a small maxReplayBodyBytes (a typed refusal, nothing wrong accepted); DC-04 fails when isIdempotent vouches for every statement', async () => {
    const only = CONTRACT_SCENARIOS.filter((s) => s.id === 'DC-02' || s.id === 'DC-04');
    const report = await runScorecard(only, { concurrency: 2, config: { http: { maxReplayBodyBytes: 1_024 }, drivers: { isIdempotent: () => true } } });
    const rows = byId(report.rows);
    for (const row of report.rows) console.log(`[${row.id} with config] ${row.verdict}: breakwater ${row.breakwater?.text}`);
    expect(rows['DC-02']).toMatchObject({ verdict: 'pass', breakwater: { value: 0, ok: true } });
    expect(rows['DC-02']?.breakwater?.text).toMatch(/^BW_ERR_\w+, not retried \(body-not-replayable\): nothing wrong accepted; sent 49,152 B$/);
    if (rows['DC-04']?.verdict === 'skipped') return;
    expect(rows['DC-04']).toMatchObject({ verdict: 'fail', breakwater: { value: 6, ok: false } });
    expect(rows['DC-04']?.reason).toMatch(/^Breakwater missed its bound/);
  }, 60_000);
});

describe('data-contract healthy twins fail when the defence is too strict', () => {
  it('DC-02: a 10 MB streamed PUT goes out once with the defaults; a 50 ms deadline cuts the healthy upload', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('DC-02', (ctx) => bigUploadTwin(ctx, () => createClient())),
      twinRow('DC-02 strict', (ctx) => bigUploadTwin(ctx, () => createClient({ deadlineMs: 50 }))),
    );
    expect(passed).toMatchObject({ value: 1, ok: true });
    expect(hurt.text).toMatch(/^10 MB streamed PUT: BW_ERR_DEADLINE after [01] attempt/);
  }, 60_000);

  it('DC-04: a read marked idempotent is retried after its answer was lost; a retry policy of 1 attempt surfaces the loss', async () => {
    const once = resolvePreset({ infra: 'direct', overrides: { retry: { attempts: 1 } } });
    const { passed, hurt } = await expectTwin(
      twinRow('DC-04', async (ctx) => markedReadTwin(ctx, await startDatabase(ctx), (config) => createPgPool(config))),
      twinRow('DC-04 strict', async (ctx) => markedReadTwin(ctx, await startDatabase(ctx), (config) => createPgPool(config, { preset: once }))),
    );
    expect(passed).toMatchObject({ value: 2, ok: true });
    expect(hurt).toMatchObject({ value: 1, ok: false });
    expect(hurt.text).toMatch(/^answer lost once: BW_ERR_PEER_(CLOSED|RESET) after 1 attempt/);
  }, 90_000);

  it('DC-03: a clean restart beside a slow handler resends nothing with the defaults; an ack timeout below the handler time resends', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('DC-03', (ctx) => cleanRestartTwin(ctx, {})),
      twinRow('DC-03 eager', (ctx) => cleanRestartTwin(ctx, { ackTimeoutMs: 30 })),
    );
    expect(passed).toMatchObject({ value: 0, ok: true });
    expect(hurt.value).toBeGreaterThan(0);
    expect(hurt.text).toMatch(/^clean restart: [1-9]\d* resent/);
  }, 60_000);

  it('DC-01: a server thinking 25 s answers the defaults; the old watchdog rule (a reply owed within the stall timeout) cuts it', async () => {
    const { passed, hurt } = await expectTwin(
      twinRow('DC-01', (ctx) => slowServerTwin(ctx, () => createClient()), { budgetMs: 40_000 }),
      twinRow('DC-01 strict', (ctx) => slowServerTwin(ctx, () => createClient({ attempts: 1, socket: { expectResponseAfterWrite: true } })), {
        budgetMs: 40_000,
      }),
    );
    expect(passed.text).toMatch(/^200 after 2\d\.\d s, asked once$/);
    expect(hurt.text).toMatch(/^BW_ERR_STALLED \(1 attempt\) after \d+\.\d s, asked 1×$/);
  }, 60_000);
});
