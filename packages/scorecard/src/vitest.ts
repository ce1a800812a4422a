import { BreakwaterError } from '@breakwater/core';
import { assert, type TestContext } from 'vitest';
import { loadConfigSource, type ScorecardConfig, type ScorecardConfigSource } from './config.js';
import { runScorecard, type ScorecardReport } from './runner.js';
import { CONTRACT_SCENARIOS } from './scenarios/contracts.js';
import { fm15 } from './scenarios/fm-15.js';
import { KERNEL_SCENARIOS } from './scenarios/kernel.js';
import { RESILIENCE_SCENARIOS } from './scenarios/resilience.js';
import { TRANSPORT_SCENARIOS } from './scenarios/transport.js';
import type { Scenario, ScorecardRow } from './types.js';
import { twinFailure } from './verdict.js';

/**
 * The scenarios {@link expectScorecard} picks from: FM-01 … FM-17 and the
 * data contracts DC-01 … DC-04. FM-18
 * measures a host doctor (the CLI's): pass `scenarios` with
 * `fm18(doctor)` to include it.
 */
export const LIBRARY_SCENARIOS: readonly Scenario[] = [
  ...[...KERNEL_SCENARIOS, ...TRANSPORT_SCENARIOS, ...RESILIENCE_SCENARIOS, fm15].sort((a, b) => a.id.localeCompare(b.id)),
  ...CONTRACT_SCENARIOS,
];

export interface ExpectScorecardOptions {
  /**
   * The options your service uses (`{ preset, http, socket, pool, ack, drivers }`), or what a
   * `breakwater.config.mjs` may export: a promise of them, or a function returning them (or a
   * promise of them); awaited as `breakwater scorecard --config` does. @defaultValue the defaults
   */
  config?: ScorecardConfigSource;
  /** FM ids to run, e.g. `['FM-02', 'FM-07']`; an unknown id fails the test. */
  only: readonly string[];
  /**
   * The test's context (`test('…', async (ctx) => …)`): kernel rows skipped
   * here (not root) are annotated with their reason, and when every selected
   * row was skipped the test is marked skipped (`ctx.skip`) instead of
   * passing with nothing checked. Without it, every selected row skipped
   * throws `BW_ERR_UNSUPPORTED` listing the reasons.
   */
  ctx?: Pick<TestContext, 'skip' | 'annotate'>;
  /** Scenarios to pick from. @defaultValue {@link LIBRARY_SCENARIOS} */
  scenarios?: readonly Scenario[];
  /** @defaultValue 4 */
  concurrency?: number;
}

/** One failing row, as the assertion says it: each side that did not hold, the healthy twin's failure included. */
export function rowFailure(row: ScorecardRow): string {
  const head = `${row.id} ${row.title}`;
  if (row.verdict === 'error') return `${head}: error: ${row.reason ?? 'unknown'}`;
  const parts: string[] = [];
  if (row.breakwater !== undefined && !row.breakwater.ok) parts.push(`Breakwater: ${row.breakwater.text} (bound: ${row.bound})`);
  if (row.naive !== undefined && !row.naive.ok)
    parts.push(`naive side did not show the failure (${row.naive.text}; expected: ${row.naiveExpectation}), so the row proves nothing`);
  const twin = twinFailure(row);
  if (twin !== undefined) parts.push(twin);
  return `${head}: ${parts.length > 0 ? parts.join('; ') : (row.reason ?? 'failed')}`;
}

/**
 * Runs the selected scorecard rows with `config` and fails the test with
 * each failing row's message, e.g. `FM-02 Write into a blackhole …:
 * Breakwater: no error after 20.0 s: userTimeoutMs 120000, stallTimeoutMs
 * 120000 → a dead peer mid-request is reported after 120 s, bound 20 s`.
 * Kernel rows (FM-01, 02, 03, 05, 06, 08, DC-01) need root, `ip` and `nft`: without
 * them they are skipped (see `ctx`), or fail with `BREAKWATER_REQUIRE_NETNS=1`;
 * every selected row skipped without `ctx` throws `BW_ERR_UNSUPPORTED`, and a
 * `config` that resolves to undefined throws `BW_ERR_INVALID_OPTION`.
 * Resolves to the report (skipped rows carry their `reason`).
 *
 * @example
 * test('our settings still catch FM-02 and FM-07', async (ctx) => {
 *   await expectScorecard({ config, only: ['FM-02', 'FM-07'], ctx });
 * }, 120_000);
 */
export async function expectScorecard(options: ExpectScorecardOptions): Promise<ScorecardReport> {
  const from = options.scenarios ?? LIBRARY_SCENARIOS;
  const only: unknown = options.only;
  const ids = Array.isArray(only) && only.every((id) => typeof id === 'string') ? only.map((id: string) => id.trim().toUpperCase()) : [];
  const unknown = ids.filter((id) => !from.some((s) => s.id === id));
  if (ids.length === 0 || unknown.length > 0) {
    const fm18 = unknown.includes('FM-18') ? ' (FM-18 measures a host doctor: pass `scenarios: [...LIBRARY_SCENARIOS, fm18(doctor)]`)' : '';
    assert.fail(
      `expectScorecard: \`only\` must be an array of scenario ids among ${from.map((s) => s.id).join(', ')}; got ${JSON.stringify(only) ?? String(only)}${fm18}`,
    );
  }
  const config = await loadConfigSource(options.config);
  if (options.config !== undefined && config === undefined) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      'expectScorecard: `config` was given but resolved to undefined (a function without `return`, or a promise of nothing): the rows would have run on the defaults',
      {
        details: { key: 'config' },
        hint: 'return the options ({ preset, http, socket, pool, ack, drivers }) from it, or leave `config` out to check the defaults',
      },
    );
  }
  const report = await runScorecard(
    from.filter((s) => ids.includes(s.id)),
    {
      ...(config === undefined ? {} : { config: config as ScorecardConfig }),
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    },
  );
  const skipped = report.rows.filter((r) => r.verdict === 'skipped');
  const failed = report.rows.filter((r) => r.verdict === 'fail' || r.verdict === 'error');
  if (failed.length > 0)
    assert.fail(`${failed.length} of ${report.rows.length} scorecard rows failed with this configuration:\n${failed.map(rowFailure).join('\n')}`);
  const reasons = skipped.map((r) => `${r.id} skipped: ${r.reason ?? 'unavailable'}`);
  if (options.ctx !== undefined) await skipInContext(options.ctx, reasons, skipped.length === report.rows.length);
  else if (skipped.length > 0 && skipped.length === report.rows.length) nothingChecked(reasons);
  return report;
}

/** Annotates each skipped row, and marks the test skipped when all were. */
async function skipInContext(ctx: NonNullable<ExpectScorecardOptions['ctx']>, reasons: readonly string[], all: boolean): Promise<void> {
  for (const reason of reasons) await ctx.annotate(reason);
  if (all && reasons.length > 0) ctx.skip(reasons.join('; '));
}

/** Every selected row skipped and no `ctx` to mark the test skipped: passing would check nothing, a CI gone green on air. */
function nothingChecked(reasons: readonly string[]): never {
  throw new BreakwaterError('BW_ERR_UNSUPPORTED', `expectScorecard: every selected row was skipped, so nothing was checked: ${reasons.join('; ')}`, {
    details: { skipped: reasons },
    hint: 'run the suite where the rows can run (kernel rows need root, ip and nft), or pass the test context (`ctx`) to mark the test skipped instead',
  });
}
