import { expect } from 'vitest';
import { runScorecard } from '../../packages/scorecard/src/runner.js';
import type { Measurement, Scenario, ScenarioContext } from '../../packages/scorecard/src/types.js';

/**
 * Each healthy twin must be able to fail: run with the defaults it passes;
 * with a defence made too eager (or too strict) it fails, and through the
 * real runner that fails the row with the twin's reason.
 */

const held: Measurement = { value: 0, unit: 'count', text: 'held', ok: true };

/** A row whose naive and Breakwater sides hold, so only its twin can fail it; `exclusive` for timing-sensitive twins. */
export function twinRow(
  id: string,
  twin: (ctx: ScenarioContext) => Promise<Measurement>,
  { exclusive = false, budgetMs = 30_000 }: { exclusive?: boolean; budgetMs?: number } = {},
): Scenario {
  return {
    id,
    title: `${id} healthy twin`,
    bound: 'b',
    naiveExpectation: 'n',
    twinExpectation: 'healthy traffic passes untouched',
    requires: [],
    budgetMs,
    exclusive,
    run: async (ctx) => ({ naive: held, breakwater: held, twin: await twin(ctx) }),
  };
}

/** Runs both rows through runScorecard: `defaults` must pass, `eager` fail on its twin alone. */
export async function expectTwin(defaults: Scenario, eager: Scenario): Promise<{ passed: Measurement; hurt: Measurement }> {
  const report = await runScorecard([defaults, eager], { concurrency: 2 });
  const [good, bad] = report.rows;
  for (const row of report.rows) console.log(`[${row.id}] ${row.verdict}: twin ${row.twin?.text}`);
  expect({ verdict: good!.verdict, reason: good!.reason }).toEqual({ verdict: 'pass', reason: undefined });
  expect(bad!.verdict).toBe('fail');
  expect(bad!.reason).toMatch(/^the defence fired on healthy traffic \(healthy twin: healthy traffic passes untouched; got: /);
  return { passed: good!.twin!, hurt: bad!.twin! };
}
