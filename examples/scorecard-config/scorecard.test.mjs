import { expectScorecard } from '@breakwater/scorecard/vitest';
import { expect, test } from 'vitest';
import defeats from './defeats-fm02-fm07.config.mjs';
import sound from './sound.config.mjs';

// A service's CI asserting its own configuration: the scorecard rows that
// matter to it, run with the options it ships. FM-02 is a kernel row (network
// namespaces): without root it is skipped and annotated with the reason.

test('our configuration still catches a blackholed peer (FM-02) and survives the LB idle close (FM-07)', async (ctx) => {
  const report = await expectScorecard({ config: sound(), only: ['FM-02', 'FM-07'], ctx });
  expect(report.rows.find((r) => r.id === 'FM-07')?.verdict).toBe('pass');
}, 120_000);

test('a configuration that drops the retry layer loses requests to the LB idle close (FM-07), and says why', async () => {
  await expect(expectScorecard({ config: defeats, only: ['FM-07'] })).rejects.toThrow(
    /FM-07 Stale pooled connection.*: Breakwater: [1-9]\d*\/1000 failed .*layers \(your stack, without retry\), keepAliveTimeoutMs 120000 → requests on a connection the LB closed/,
  );
}, 120_000);
