import { setTimeout as sleep } from 'node:timers/promises';
import { BreakwaterError } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import type { HostSupport } from './requirements.js';
import { type RunnerEvent, runScorecard } from './runner.js';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from './types.js';
import { failureReason, verdictOf } from './verdict.js';

// The runner is under test here, so the scenarios are tiny fakes.
const HOST: HostSupport = { netns: () => ({ available: true }), hasProgram: () => true };
const NO_NETNS: HostSupport = { netns: () => ({ available: false, reason: 'running as uid 1000' }), hasProgram: (p) => p !== 'haproxy' };

const m = (ok: boolean, value = 1): Measurement => ({ value, unit: 'ms', text: `${value} ms`, ok });
const result = (naiveOk = true, bwOk = true): ScenarioResult => ({ naive: m(naiveOk, 1000), breakwater: m(bwOk, 10) });

function scenario(id: string, run: (ctx: ScenarioContext) => Promise<ScenarioResult>, extra: Partial<Scenario> = {}): Scenario {
  return { id, title: `title ${id}`, bound: 'b', naiveExpectation: 'n', requires: [], budgetMs: 5_000, run, ...extra };
}

/** Resolves when the signal aborts, and rejects with its reason, like a well-behaved scenario. */
const untilAborted = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

describe('runScorecard', () => {
  it('gives pass only when the naive side failed and Breakwater met its bound, in the order given', async () => {
    const report = await runScorecard(
      [
        scenario('FM-02', async () => result(true, false)),
        scenario('FM-01', async () => ({ ...result(), notes: ['smaller counts'] })),
        scenario('FM-03', async () => result(false, true)),
      ],
      { host: HOST },
    );
    expect(report.rows.map((r) => [r.id, r.verdict])).toEqual([
      ['FM-02', 'fail'],
      ['FM-01', 'pass'],
      ['FM-03', 'fail'],
    ]);
    expect(report.rows[1]).toMatchObject({ naive: { value: 1000, ok: true }, breakwater: { value: 10 }, notes: ['smaller counts'] });
    expect(report.summary).toMatchObject({ passed: 1, failed: 2, skipped: 0, errors: 0 });
    expect(Object.keys(report).sort()).toEqual(['host', 'rows', 'summary']);
  });

  it('with a healthy twin: pass only when naive failed, Breakwater met its bound and the twin passed; a hurt twin fails the row, saying why', async () => {
    const twin = (ok: boolean): Measurement => ({ value: ok ? 0 : 3, unit: 'errors', text: ok ? 'no error' : '3/20 calls rejected by the breaker', ok });
    const withTwin = { twinExpectation: 'one failure: the breaker stays closed' };
    const report = await runScorecard(
      [
        scenario('FM-12', async () => ({ ...result(), twin: twin(true) }), withTwin),
        scenario('FM-11', async () => ({ ...result(), twin: twin(false) }), withTwin),
        scenario('FM-07', async () => ({ ...result(false, true), twin: twin(false) }), withTwin),
        scenario('FM-13', async () => result(), withTwin), // declared, not measured
        scenario('FM-14', async () => result()), // no twin: judged on the two sides as before
      ],
      { host: HOST },
    );
    expect(report.rows.map((r) => [r.id, r.verdict])).toEqual([
      ['FM-12', 'pass'],
      ['FM-11', 'fail'],
      ['FM-07', 'fail'],
      ['FM-13', 'error'],
      ['FM-14', 'pass'],
    ]);
    const [passed, hurt, both, undeclared, none] = report.rows;
    expect(passed).toMatchObject({ twin: { ok: true, text: 'no error' }, twinExpectation: withTwin.twinExpectation });
    expect(passed!.reason).toBeUndefined();
    expect(hurt!.reason).toBe(
      'the defence fired on healthy traffic (healthy twin: one failure: the breaker stays closed; got: 3/20 calls rejected by the breaker)',
    );
    expect(both!.reason).toMatch(/^the naive side did not show the failure \(expected: n\); the defence fired on healthy traffic/);
    expect(undeclared!.reason).toBe('the scenario declares a healthy twin but returned no twin measurement');
    expect(none).not.toHaveProperty('twin');
    expect(none).not.toHaveProperty('twinExpectation');
    expect(report.summary).toMatchObject({ passed: 2, failed: 2, errors: 1 });
  });

  it('verdictOf and failureReason judge the three checks alone', () => {
    const row = { naiveExpectation: 'n', bound: 'b', naive: m(true), breakwater: m(true) };
    expect([verdictOf(row), failureReason(row)]).toEqual(['pass', undefined]);
    expect(verdictOf({ ...row, twin: m(true) })).toBe('pass');
    expect(verdictOf({ ...row, twin: m(false) })).toBe('fail');
    expect(failureReason({ ...row, twin: m(false) })).toBe('the defence fired on healthy traffic (healthy twin: left untouched; got: 1 ms)');
    expect(verdictOf({ ...row, breakwater: m(false), twin: m(true) })).toBe('fail');
    expect(failureReason({ ...row, breakwater: m(false) })).toBe('Breakwater missed its bound (b): 1 ms');
    expect(verdictOf({ ...row, naive: undefined })).toBe('fail');
  });

  it('aborts a scenario past its budget, runs its cleanups last-first, and reports an error', async () => {
    const order: string[] = [];
    let signalSeen: AbortSignal | undefined;
    const report = await runScorecard(
      [
        scenario(
          'FM-01',
          async (ctx) => {
            signalSeen = ctx.signal;
            ctx.defer(() => order.push('first registered'));
            ctx.defer(async () => {
              await sleep(5);
              order.push('second registered');
            });
            return new Promise(() => {}); // ignores its signal: the runner must not wait for it
          },
          { budgetMs: 50 },
        ),
      ],
      { host: HOST },
    );
    expect(report.rows[0]).toMatchObject({ verdict: 'error', reason: 'exceeded its budget of 50 ms' });
    expect(report.rows[0]!.durationMs).toBeLessThan(2_000);
    expect(order).toEqual(['second registered', 'first registered']);
    expect(signalSeen?.aborted).toBe(true);
  });

  it('turns a throwing scenario or a failing cleanup into an error row, never a rejection', async () => {
    const ran: string[] = [];
    const report = await runScorecard(
      [
        scenario('FM-01', async (ctx) => {
          ctx.defer(() => ran.push('cleanup of a throwing scenario'));
          throw new Error('EADDRINUSE');
        }),
        scenario('FM-02', async (ctx) => {
          ctx.defer(() => ran.push('after the failing one'));
          ctx.defer(() => {
            throw new Error('netns still busy');
          });
          ctx.defer(() => new Promise(() => {})); // hangs
          return result();
        }),
        scenario('FM-03', async () => ({ naive: m(true) }) as unknown as ScenarioResult),
      ],
      { host: HOST, cleanupTimeoutMs: 30 },
    );
    expect(report.rows.map((r) => [r.verdict, r.reason])).toEqual([
      ['error', 'EADDRINUSE'],
      ['error', 'cleanup failed: a cleanup did not finish within 30 ms'],
      ['error', 'the scenario returned no Breakwater measurement'],
    ]);
    expect(report.rows[1]!.notes).toEqual(['cleanup failed: a cleanup did not finish within 30 ms', 'cleanup failed: netns still busy']);
    expect(ran).toEqual(['cleanup of a throwing scenario', 'after the failing one']);
    expect(report.summary.errors).toBe(3);
  });

  it('skips what the host cannot run, saying why; BREAKWATER_REQUIRE_NETNS makes a missing netns an error', async () => {
    const never = async () => expect.unreachable('must not run') as never;
    const scenarios = [
      scenario('FM-01', never, { requires: ['netns'] }),
      scenario('FM-07', never, { requires: ['program'], programs: ['haproxy', 'node'] }),
      scenario('FM-15', async () => result()),
    ];
    const skipped = await runScorecard(scenarios, { host: NO_NETNS, requireNetns: false });
    expect(skipped.rows.map((r) => [r.id, r.verdict, r.reason])).toEqual([
      ['FM-01', 'skipped', 'needs root, ip and nft (network namespaces): running as uid 1000'],
      ['FM-07', 'skipped', 'needs `haproxy` on PATH'],
      ['FM-15', 'pass', undefined],
    ]);
    expect(skipped.host.netns).toEqual({ available: false, reason: 'running as uid 1000' });
    const required = await runScorecard(scenarios, { host: NO_NETNS, requireNetns: true });
    expect(required.rows.map((r) => r.verdict)).toEqual(['error', 'skipped', 'pass']);
    expect(required.rows[0]!.reason).toMatch(/^BREAKWATER_REQUIRE_NETNS=1 but needs root/);
  });

  it('runs at most `concurrency` at once, and exclusive scenarios alone', async () => {
    let inFlight = 0;
    let peak = 0;
    const aloneSeen: number[] = [];
    const timed =
      (ms: number, exclusive = false) =>
      async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        if (exclusive) aloneSeen.push(inFlight);
        await sleep(ms);
        if (exclusive) aloneSeen.push(inFlight);
        inFlight--;
        return result();
      };
    const scenarios = [
      ...Array.from({ length: 6 }, (_, i) => scenario(`FM-0${i + 1}`, timed(30))),
      scenario('FM-15', timed(30, true), { exclusive: true }),
      scenario('FM-18', timed(30, true), { exclusive: true }),
    ];
    const events: RunnerEvent[] = [];
    const report = await runScorecard(scenarios, { host: HOST, concurrency: 2, onEvent: (e) => events.push(e) });
    expect(peak).toBe(2);
    expect(aloneSeen).toEqual([1, 1, 1, 1]);
    expect(report.summary.passed).toBe(8);
    // Exclusive ones first, on a quiet machine; every start has its finish.
    expect(
      events
        .filter((e) => e.type === 'started')
        .map((e) => (e as { id: string }).id)
        .slice(0, 2),
    ).toEqual(['FM-15', 'FM-18']);
    expect(events.filter((e) => e.type === 'finished')).toHaveLength(8);
    await expect(runScorecard([], { concurrency: 0 })).rejects.toThrow('Expected `concurrency` to be an integer between 1 and 64, got 0');
  });

  it('on Ctrl-C aborts what runs, runs its cleanups and skips what has not started', async () => {
    const controller = new AbortController();
    const cleaned: string[] = [];
    const waiting = (id: string) =>
      scenario(id, async (ctx) => {
        ctx.defer(() => cleaned.push(id));
        ctx.progress('waiting for an error');
        return untilAborted(ctx.signal);
      });
    setTimeout(() => controller.abort(), 30);
    const progress: string[] = [];
    const report = await runScorecard([waiting('FM-01'), waiting('FM-02'), waiting('FM-05')], {
      host: HOST,
      concurrency: 2,
      signal: controller.signal,
      onEvent: (e) => e.type === 'progress' && progress.push(`${e.id}: ${e.text}`),
    });
    expect(report.rows.map((r) => [r.verdict, r.reason])).toEqual([
      ['error', 'interrupted'],
      ['error', 'interrupted'],
      ['skipped', 'interrupted before it started'],
    ]);
    expect(cleaned.sort()).toEqual(['FM-01', 'FM-02']);
    expect(progress).toEqual(['FM-01: waiting for an error', 'FM-02: waiting for an error']);
  });

  it("names what interrupted the run when the signal's reason is a BW_ERR_ABORTED (the CLI's SIGTERM)", async () => {
    const controller = new AbortController();
    const waiting = scenario('FM-01', async (ctx) => untilAborted(ctx.signal));
    setTimeout(() => controller.abort(new BreakwaterError('BW_ERR_ABORTED', 'terminated (SIGTERM)')), 30);
    const report = await runScorecard([waiting], { host: HOST, signal: controller.signal });
    expect(report.rows.map((r) => [r.verdict, r.reason])).toEqual([['error', 'terminated (SIGTERM)']]);
  });
});
