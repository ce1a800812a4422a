import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { main } from '../../packages/cli/src/main.js';
import type { Io } from '../../packages/cli/src/output.js';
import type { ScorecardReport } from '../../packages/scorecard/src/runner.js';
import { fm05 } from '../../packages/scorecard/src/scenarios/fm-05.js';
import { describeNetns } from '../support/netns.js';
import { runScenario } from '../support/scenario.js';

/**
 * `breakwater scorecard --config` on the two configurations of
 * examples/scorecard-config, rows FM-02 (kernel: a blackholed peer with bytes
 * in flight) and FM-07 (an LB idle close): the sound one passes both, the one
 * that raises the timeouts and drops the retry layer fails both, each row
 * saying which option defeated it. The configs import @breakwater/presets,
 * so they are loaded from the example (its node_modules, compiled packages).
 */

const example = fileURLToPath(new URL('../../examples/scorecard-config/', import.meta.url));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'bw-scorecard-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function scorecard(config: string): Promise<{ code: number; report: ScorecardReport }> {
  const out: string[] = [];
  const io: Io = { out: (t) => void out.push(t), err: () => {}, color: false };
  const code = await main(['scorecard', '--only', 'FM-02,FM-07', '--json', '--config', path.join(example, config)], io);
  return { code, report: JSON.parse(out.join('')) as ScorecardReport };
}

describeNetns('breakwater scorecard --config (FM-02, FM-07)', () => {
  it('sound.config.mjs (ALB preset, longer deadline) passes both; defeats-fm02-fm07.config.mjs fails both with the option named', async () => {
    const [sound, defeated] = await Promise.all([scorecard('sound.config.mjs'), scorecard('defeats-fm02-fm07.config.mjs')]);
    writeFileSync(path.join(tmp, 'outputs.json'), JSON.stringify({ sound: sound.report, defeated: defeated.report }, null, 2));

    expect(sound.report.rows.map((r) => [r.id, r.verdict, r.reason])).toEqual([
      ['FM-02', 'pass', undefined],
      ['FM-07', 'pass', undefined],
    ]);
    expect(sound.code).toBe(0);
    expect(sound.report.rows[0]?.notes).toContainEqual(
      expect.stringMatching(/^breakwater: connect\(\) with your options \(.*stallTimeoutMs 10000.*bound 11\.0 s/),
    );

    const [fm02, fm07] = defeated.report.rows;
    expect(defeated.code).toBe(1);
    expect(fm02?.verdict).toBe('fail');
    // The naive side still reproduced the hang: the row fails on Breakwater's side alone.
    expect(fm02?.naive?.ok).toBe(true);
    expect(fm02?.breakwater?.text).toBe(
      'no error after 20.0 s: userTimeoutMs 120000, stallTimeoutMs 120000 → a dead peer mid-request is reported after 120 s, bound 20 s',
    );
    expect(fm07?.verdict).toBe('fail');
    expect(fm07?.naive?.ok).toBe(true);
    expect(fm07?.breakwater?.text).toMatch(
      /^[1-9]\d*\/1000 failed \(.+\): layers \(your stack, without retry\), keepAliveTimeoutMs 120000 → requests on a connection the LB closed after 500 ms idle fail instead of being resent, bound 0$/,
    );
  }, 120_000);

  it('FM-05 with connectTimeoutMs 30000: fails within its window, saying the option, instead of waiting 30 s', async () => {
    const run = await runScenario(fm05(), { config: { socket: { connectTimeoutMs: 30_000 } } });
    expect(run.error).toBeUndefined();
    expect(run.result?.naive.ok).toBe(true);
    expect(run.result?.breakwater).toMatchObject({
      ok: false,
      text: 'still connecting after 10.0 s: connectTimeoutMs 30000 → a dropped SYN is reported after 30 s, bound 10 s',
    });
    expect(run.durationMs).toBeLessThan(20_000);
  }, 60_000);
});
