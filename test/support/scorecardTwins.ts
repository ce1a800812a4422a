import { expect } from 'vitest';
import { runScorecard } from '../../packages/scorecard/src/runner.js';
import type { Measurement, Scenario, ScenarioContext } from '../../packages/scorecard/src/types.js';

// Checking that a healthy twin can fail: the twin run with the defaults must
// pass, and with a defence made too eager (or too strict) must fail its row
// through the real runner, with the twin's reason.

const held: Measurement = { value: 0, unit: 'count', text: 'held', ok: true };

/** A row whose naive and Breakwater sides hold, so only its twin can fail it. */
export function twinRow(id: string, twin: (ctx: ScenarioContext) => Promise<Measurement>, budgetMs = 30_000): Scenario {
  return {
    id,
    title: `${id} healthy twin`,
    bound: 'b',
    naiveExpectation: 'n',
    twinExpectation: 'healthy traffic passes untouched',
    requires: [],
    budgetMs,
    run: async (ctx) => ({ naive: held, breakwater: held, twin: await twin(ctx) }),
  };
}

/** Runs both rows side by side: `defaults` must pass, `eager` must fail on its twin. Resolves to both twins' measurements. */
export async function expectTwin(defaults: Scenario, eager: Scenario): Promise<{ passed: Measurement; hurt: Measurement }> {
  const report = await runScorecard([defaults, eager], { concurrency: 2 });
  const [good, bad] = report.rows;
  for (const row of report.rows) console.log(`[${row.id}] ${row.verdict}: twin ${row.twin?.text}`);
  expect({ verdict: good!.verdict, reason: good!.reason }).toEqual({ verdict: 'pass', reason: undefined });
  expect(bad!.verdict).toBe('fail');
  expect(bad!.reason).toMatch(/^the defence fired on healthy traffic \(healthy twin: healthy traffic passes untouched; got: /);
  return { passed: good!.twin!, hurt: bad!.twin! };
}
