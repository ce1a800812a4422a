import { describe, expect, it } from 'vitest';
import type { Measurement, Scenario, ScorecardRow } from './types.js';
import { expectScorecard, rowFailure } from './vitest.js';

const held: Measurement = { value: 0, unit: 'count', text: 'held', ok: true };

function row(overrides: Partial<ScorecardRow>): ScorecardRow {
  return {
    id: 'FM-99',
    title: 'A row',
    bound: 'b ≤ 1 s',
    naiveExpectation: 'hangs',
    verdict: 'fail',
    naive: held,
    breakwater: held,
    durationMs: 1,
    ...overrides,
  };
}

describe('rowFailure', () => {
  it('says the healthy twin failed when only the twin did (it was an empty message)', () => {
    const message = rowFailure(row({ twinExpectation: 'a slow server answers', twin: { value: 3, unit: 'count', text: '3 reconnects, 1 reset', ok: false } }));
    expect(message).toBe('FM-99 A row: the defence fired on healthy traffic (healthy twin: a slow server answers; got: 3 reconnects, 1 reset)');
  });

  it('lists every side that did not hold, the twin last', () => {
    const message = rowFailure(
      row({
        naive: { ...held, text: 'answered in 1 ms', ok: false },
        breakwater: { ...held, text: 'no error after 20 s', ok: false },
        twin: { ...held, text: 'refused', ok: false },
      }),
    );
    expect(message).toBe(
      'FM-99 A row: Breakwater: no error after 20 s (bound: b ≤ 1 s); naive side did not show the failure (answered in 1 ms; expected: hangs), so the row proves nothing; ' +
        'the defence fired on healthy traffic (healthy twin: left untouched; got: refused)',
    );
  });

  it('says the error of an errored row', () => {
    expect(rowFailure(row({ verdict: 'error', reason: 'exceeded its budget of 10 ms' }))).toBe('FM-99 A row: error: exceeded its budget of 10 ms');
  });
});

/** A row the runner skips on any host: it needs a program nobody has. */
const unavailable = (id: string): Scenario => ({
  id,
  title: `${id} needs a program`,
  bound: 'b',
  naiveExpectation: 'n',
  requires: ['program'],
  programs: ['breakwater-no-such-program'],
  budgetMs: 1_000,
  run: () => Promise.reject(new Error('must not run')),
});
const runnable = (id: string): Scenario => ({ ...unavailable(id), requires: [], run: async () => ({ naive: held, breakwater: held }) });

/** A test context that records what expectScorecard asks of it; `skip` throws as vitest's does. */
function recordingContext() {
  const seen = { annotations: [] as string[], skipped: undefined as string | undefined };
  const ctx = {
    annotate: async (message: string) => void seen.annotations.push(message),
    skip: (note?: string) => {
      seen.skipped = note ?? '';
      throw new Error('skipped');
    },
  } as unknown as NonNullable<Parameters<typeof expectScorecard>[0]['ctx']>;
  return { ctx, seen };
}

describe('expectScorecard skips what the host cannot run', () => {
  const reason = 'FM-98 skipped: needs `breakwater-no-such-program` on PATH';

  it('annotates a skipped row and marks the test skipped when every selected row was skipped', async () => {
    const { ctx, seen } = recordingContext();
    await expect(expectScorecard({ only: ['FM-98'], scenarios: [unavailable('FM-98'), runnable('FM-97')], ctx })).rejects.toThrow('skipped');
    expect(seen).toEqual({ annotations: [reason], skipped: reason });
  });

  it('annotates a skipped row but passes when another selected row ran', async () => {
    const { ctx, seen } = recordingContext();
    const report = await expectScorecard({ only: ['fm-98', 'FM-97'], scenarios: [unavailable('FM-98'), runnable('FM-97')], ctx });
    expect(report.rows.map((r) => r.verdict)).toEqual(['skipped', 'pass']);
    expect(seen).toEqual({ annotations: [reason], skipped: undefined });
  });

  it('without ctx, throws when every selected row was skipped (it would pass having checked nothing), naming the reasons', async () => {
    await expect(expectScorecard({ only: ['FM-98'], scenarios: [unavailable('FM-98'), runnable('FM-97')] })).rejects.toMatchObject({
      code: 'BW_ERR_UNSUPPORTED',
      message: `expectScorecard: every selected row was skipped, so nothing was checked: ${reason}`,
      details: { skipped: [reason] },
    });
    // One row ran: the skip is no reason to fail.
    const report = await expectScorecard({ only: ['FM-98', 'FM-97'], scenarios: [unavailable('FM-98'), runnable('FM-97')] });
    expect(report.rows.map((r) => r.verdict)).toEqual(['skipped', 'pass']);
  });

  it('fails with the twin’s failure when only the twin failed', async () => {
    const twinFails: Scenario = {
      ...runnable('FM-96'),
      twinExpectation: 'healthy traffic passes',
      run: async () => ({ naive: held, breakwater: held, twin: { ...held, text: 'closed 10 healthy connections', ok: false } }),
    };
    await expect(expectScorecard({ only: ['FM-96'], scenarios: [twinFails] })).rejects.toThrow(
      /FM-96 FM-96 needs a program: the defence fired on healthy traffic \(healthy twin: healthy traffic passes; got: closed 10 healthy connections\)/,
    );
  });
});

describe('expectScorecard arguments', () => {
  it('fails with a clear assertion, not a TypeError, when `only` is missing or a string', async () => {
    const scenarios = [runnable('FM-97')];
    await expect(expectScorecard({ scenarios } as unknown as Parameters<typeof expectScorecard>[0])).rejects.toThrow(
      /`only` must be an array of scenario ids among FM-97; got undefined/,
    );
    await expect(expectScorecard({ only: 'FM-97' as unknown as string[], scenarios })).rejects.toThrow(/`only` must be an array .*got "FM-97"/);
  });

  it('hints how to include FM-18', async () => {
    await expect(expectScorecard({ only: ['FM-18'] })).rejects.toThrow(/pass `scenarios: \[\.\.\.LIBRARY_SCENARIOS, fm18\(doctor\)\]`/);
  });

  it('awaits a promise config and calls a function config, as the CLI does with a config file', async () => {
    const sawDeadline: Scenario = {
      ...runnable('FM-95'),
      run: async (ctx) => ({ naive: held, breakwater: { ...held, ok: ctx.config.http.deadlineMs === 50 } }),
    };
    const http = { deadlineMs: 50 };
    for (const config of [Promise.resolve({ http }), () => ({ http }), async () => ({ http })]) {
      const report = await expectScorecard({ only: ['FM-95'], scenarios: [sawDeadline], config });
      expect(report.rows[0]?.verdict).toBe('pass');
    }
    await expect(expectScorecard({ only: ['FM-95'], scenarios: [sawDeadline], config: { http: { deadlineMs: 60 } } })).rejects.toThrow(
      /1 of 1 scorecard rows failed/,
    );
  });

  it('refuses a config that was given but resolves to undefined, instead of running the defaults', async () => {
    const scenarios = [runnable('FM-95')];
    const forgotReturn = () => {
      // forgot `return { http: { deadlineMs: 50 } }`
    };
    for (const config of [forgotReturn, Promise.resolve(undefined), async () => undefined]) {
      await expect(expectScorecard({ only: ['FM-95'], scenarios, config: config as never })).rejects.toMatchObject({
        code: 'BW_ERR_INVALID_OPTION',
        details: { key: 'config' },
        message: expect.stringMatching(/`config` was given but resolved to undefined/),
      });
    }
    // Left out (or undefined): the defaults, on purpose.
    expect((await expectScorecard({ only: ['FM-95'], scenarios, config: undefined })).rows[0]?.verdict).toBe('pass');
  });
});
