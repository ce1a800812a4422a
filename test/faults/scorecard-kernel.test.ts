import { expect, it } from 'vitest';
import { listNetnsResources, type Topology } from '../../packages/chaos/src/netns/index.js';
import { monotonicClock } from '../../packages/core/src/index.js';
import type { ScorecardConfig } from '../../packages/scorecard/src/config.js';
import { runScorecard } from '../../packages/scorecard/src/runner.js';
import { idlePeerTwin } from '../../packages/scorecard/src/scenarios/fm-01.js';
import { thinkingServerTwin } from '../../packages/scorecard/src/scenarios/fm-02.js';
import { slowAcceptTwin } from '../../packages/scorecard/src/scenarios/fm-05.js';
import { KERNEL_SCENARIOS } from '../../packages/scorecard/src/scenarios/kernel.js';
import { scenarioTopology } from '../../packages/scorecard/src/scenarios/kernel-support.js';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult, ScorecardRow } from '../../packages/scorecard/src/types.js';
import { describeNetns } from '../support/netns.js';
import { runScenario } from '../support/scenario.js';

/**
 * The scorecard's kernel scenarios (FM-01, 02, 03, 05, 06, 08), each run the
 * way `breakwater scorecard` runs it: a signal aborted at the budget, defers
 * run last first on every path. Each must show the naive failure and the
 * Breakwater bound, and an abort mid-run must leave no namespace, veth, nft
 * table or child process of this worker behind.
 */

const mine = async () => (await listNetnsResources()).filter((r) => r.ownerPid === process.pid);

/** What each row must show beyond `ok`: the numbers against FAILURE-MODES.md. */
const BOUNDS: Record<string, (r: ScenarioResult) => void> = {
  'FM-01': (r) => {
    expect(r.naive).toMatchObject({ value: 20, unit: 's', text: 'no error after 20.0 s' });
    expect(r.breakwater.value).toBeLessThanOrEqual(17);
  },
  'FM-02': (r) => {
    expect(r.naive).toMatchObject({ value: 20, unit: 's' });
    expect(r.breakwater.value).toBeLessThanOrEqual(11);
  },
  'FM-03': (r) => {
    expect(r.naive.unit).toBe('errors');
    expect(r.naive.value).toBeGreaterThanOrEqual(250);
    expect(r.breakwater).toMatchObject({ value: 0, unit: 'errors' });
    expect(r.naive.series?.points.length).toBeGreaterThan(1);
    expect(r.twin).toMatchObject({ value: 0, unit: 'errors', text: expect.stringMatching(/^40\/40 ok over \d+ connections/) });
  },
  'FM-05': (r) => {
    expect(r.naive).toMatchObject({ value: 10, unit: 's' });
    expect(r.breakwater.value).toBeLessThanOrEqual(3.5);
  },
  'FM-06': (r) => {
    expect(r.naive.value).toBeLessThan(100 * 1024);
    expect(r.breakwater.value).toBeLessThanOrEqual(11);
    expect(r.naive.series?.points.length).toBeGreaterThan(5);
    expect(r.twin?.text).toMatch(/^4\.0 MB in \d+\.\d s \(first byte after \d+\.\d s/);
  },
  'FM-08': (r) => {
    expect(r.breakwater.value).toBeLessThanOrEqual(5);
    expect(r.twin).toMatchObject({ value: 6, text: expect.stringMatching(/^6\/6 answered in .*never marked unhealthy/) });
  },
};

describeNetns('scorecard: kernel scenarios (naive vs Breakwater defaults)', () => {
  it('lists FM-01, 02, 03, 05, 06 and 08, each within a 45 s budget', () => {
    expect(KERNEL_SCENARIOS.map((s) => s.id)).toEqual(['FM-01', 'FM-02', 'FM-03', 'FM-05', 'FM-06', 'FM-08']);
    for (const s of KERNEL_SCENARIOS) {
      expect(s.requires).toContain('netns');
      expect(s.budgetMs).toBeLessThanOrEqual(45_000);
    }
  });

  for (const scenario of KERNEL_SCENARIOS) {
    it.concurrent(`${scenario.id}: naive shows the failure, Breakwater meets its bound`, async () => {
      const run = await runScenario(scenario);
      if (run.error !== undefined) throw run.error;
      const result = run.result as ScenarioResult;
      console.log(`[scorecard ${scenario.id}] naive: ${result.naive.text} | breakwater: ${result.breakwater.text} (${(run.durationMs / 1000).toFixed(1)} s)`);
      expect(result.naive.ok, `naive did not reproduce the failure: ${result.naive.text}`).toBe(true);
      expect(result.breakwater.ok, `breakwater missed the bound: ${result.breakwater.text}`).toBe(true);
      if (scenario.twinExpectation !== undefined) expect(result.twin?.ok, `the healthy twin was hurt: ${result.twin?.text}`).toBe(true);
      BOUNDS[scenario.id]?.(result);
      for (const m of [result.naive, result.breakwater]) expect(m.series?.points.length ?? 0).toBeLessThanOrEqual(200);
      expect(run.durationMs).toBeLessThan(scenario.budgetMs);
    });
  }
});

describeNetns('scorecard: kernel scenarios aborted mid-run', () => {
  for (const scenario of KERNEL_SCENARIOS) {
    it(`${scenario.id}: an abort mid-run (at its first step, or after 2 s) rejects and leaves nothing behind`, async () => {
      const before = await mine();
      // FM-03 can finish in under 2 s on a quiet host: abort at its first step instead.
      const run = await runScenario(scenario, { abortAfterMs: 2_000, abortOnProgress: true });
      expect(run.error, `${scenario.id} settled without noticing the abort`).toBeDefined();
      expect(run.durationMs).toBeLessThan(2_000 + 5_000);
      expect((await mine()).filter((r) => !before.some((b) => b.name === r.name))).toEqual([]);
    });
  }
});

describeNetns('scorecard: a kernel scenario through the real runner', () => {
  it('FM-05 becomes a passing row, and an interrupted run leaves nothing behind', async () => {
    const fm05 = KERNEL_SCENARIOS.filter((s) => s.id === 'FM-05');
    const report = await runScorecard(fm05, { requireNetns: true });
    expect(report.rows[0]).toMatchObject({ id: 'FM-05', verdict: 'pass', naive: { ok: true }, breakwater: { ok: true } });

    const before = await mine();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1_500);
    const interrupted = await runScorecard(fm05, { requireNetns: true, signal: controller.signal });
    expect(interrupted.rows[0]?.verdict).toBe('error');
    expect((await mine()).filter((r) => !before.some((b) => b.name === r.name))).toEqual([]);
  });
});

describeNetns('scorecard: kernel healthy twins fail when the defence is too eager', () => {
  const held: Measurement = { value: 0, unit: 'count', text: 'held', ok: true };
  it('FM-05: a server dropping SYNs for 0.5 s is reached by connect() defaults; a 700 ms connect timeout gives up before the retransmit', async () => {
    const twinRow = (id: string, connectTimeoutMs?: number): Scenario => ({
      id,
      title: id,
      bound: 'b',
      naiveExpectation: 'n',
      twinExpectation: 'a slow-accepting server: connects',
      requires: ['netns'],
      budgetMs: 20_000,
      run: async (ctx) => ({
        naive: held,
        breakwater: held,
        twin: await slowAcceptTwin(ctx, await scenarioTopology(ctx), connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
      }),
    });
    const report = await runScorecard([twinRow('FM-05'), twinRow('FM-05 eager', 700)], { requireNetns: true, concurrency: 2 });
    const [good, bad] = report.rows;
    console.log(`[FM-05 twin] defaults: ${good?.twin?.text} | eager: ${bad?.twin?.text}`);
    expect({ verdict: good?.verdict, reason: good?.reason }).toEqual({ verdict: 'pass', reason: undefined });
    expect(good?.twin?.value).toBeGreaterThanOrEqual(0.5); // on the retransmit, not the first SYN
    expect(bad?.verdict).toBe('fail');
    expect(bad?.twin?.text).toMatch(/^BW_ERR_CONNECT_TIMEOUT after 0\.\d s$/);
    expect(bad?.reason).toMatch(/^the defence fired on healthy traffic/);
  });

  /** The kernel row `id` through the real runner with a user's `config` that makes its defence too eager: its twin fails it. */
  async function eagerRow(id: string, config: ScorecardConfig): Promise<ScorecardRow> {
    const report = await runScorecard(
      KERNEL_SCENARIOS.filter((s) => s.id === id),
      { requireNetns: true, config },
    );
    const row = report.rows[0] as ScorecardRow;
    console.log(
      `[${id} twin, ${JSON.stringify(config)}] ${row.verdict}: naive ${row.naive?.text} | breakwater ${row.breakwater?.text} | twin ${row.twin?.text}`,
    );
    expect(row.verdict).toBe('fail');
    expect(row.naive?.ok, row.naive?.text).toBe(true);
    expect(row.twin?.ok).toBe(false);
    expect(row.reason).toMatch(/the defence fired on healthy traffic \(healthy twin: .+; got: /);
    return row;
  }

  it.concurrent('FM-03: a burst of 40 slow requests queues through a default pool; maxWaiting 25 refuses part of it', async () => {
    const row = await eagerRow('FM-03', { pool: { maxWaiting: 25 } });
    // The Breakwater side's 20 callers never make 25 wait: only the twin fails the row.
    expect(row.breakwater?.ok, row.breakwater?.text).toBe(true);
    expect(row.twin?.text).toMatch(/^\d+\/40 ok, \d+ BW_ERR_POOL_EXHAUSTED: maxWaiting 25 \(your option\)$/);
  });

  it.concurrent('FM-03: max 1, acquireTimeoutMs 1, maxWaiting 1 fails both pools naming them; a probe and a clock (no JSON for the child) are left out and named', async () => {
    const clock = { ...monotonicClock }; // a plain object of methods: JSON makes it {}
    const row = await eagerRow('FM-03', { pool: { max: 1, acquireTimeoutMs: 1, maxWaiting: 1, probe: async () => true, clock } });
    const named = ': max 1, acquireTimeoutMs 1, maxWaiting 1 (your options)';
    expect(row.breakwater?.ok).toBe(false);
    expect(row.breakwater?.text.endsWith(named), row.breakwater?.text).toBe(true);
    expect(row.twin?.text.endsWith(named), row.twin?.text).toBe(true);
    expect(row.notes).toContainEqual(
      expect.stringMatching(/^not applied: pool\.probe, pool\.clock \(your options\): the client process gets the options as JSON/),
    );
    expect(row.notes).toContainEqual(expect.stringMatching(/^breakwater: createPool\(\) with your options \(max 1, acquireTimeoutMs 1, maxWaiting 1\)/));
  });

  it.concurrent('FM-06: a server thinking 2 s before 4 MB passes the default stall timeout; stallTimeoutMs 1500 takes it for a black hole', async () => {
    const row = await eagerRow('FM-06', { socket: { stallTimeoutMs: 1_500 } });
    expect(row.twin?.text).toMatch(/^BW_ERR_STALLED after \d+\.\d s with 0\.0 of 4\.0 MB.*: stallTimeoutMs 1500 \(your option\)$/);
  });

  it.concurrent('FM-08: a slow-but-correct backend stays in a default pool; a pool socket stallTimeoutMs of 1500 ejects it', async () => {
    const row = await eagerRow('FM-08', { pool: { socket: { stallTimeoutMs: 1_500 } } });
    expect(row.twin?.text).toMatch(/^5 BW_ERR_STALLED, 1 BW_ERR_CIRCUIT_OPEN; marked unhealthy.*: socket\.stallTimeoutMs 1500 \(your option\)$/);
  });

  it.concurrent('FM-08: a 300 ms pool stall timeout that marks unhealthy at the first failure is named in the twin', async () => {
    const row = await eagerRow('FM-08', { pool: { socket: { stallTimeoutMs: 300 }, unhealthyAfterFailures: 1 } });
    expect(row.twin?.text).toMatch(/: socket\.stallTimeoutMs 300, unhealthyAfterFailures 1 \(your options\)$/);
  });

  it.concurrent('FM-02: a stall watchdog owing a reply within 3 s cuts the thinking server; the twin names both options', async () => {
    const row = await eagerRow('FM-02', { socket: { expectResponseAfterWrite: true, stallTimeoutMs: 3_000 } });
    expect(row.twin?.text).toMatch(
      /^BW_ERR_STALLED after \d+\.\d s \(server thinking 12\.0 s\): socket\.stallTimeoutMs 3000, socket\.expectResponseAfterWrite true \(your options\)$/,
    );
  });

  it.concurrent('FM-01: keepalive 1 s + 1 s × 1 with a 1 s user timeout declares the idle live peer dead; the twin names the options', async () => {
    const row = await eagerRow('FM-01', { socket: { keepAliveIdleMs: 1_000, keepAliveIntervalMs: 1_000, keepAliveCount: 1, userTimeoutMs: 1_000 } });
    expect(row.twin?.text).toMatch(
      /^BW_ERR_PEER_TIMEOUT after .*: keepAliveIdleMs 1000, keepAliveIntervalMs 1000, keepAliveCount 1, userTimeoutMs 1000 \(your options\)$/,
    );
  });

  /** A row whose naive and Breakwater sides hold, so only its twin (in its own topology) can fail it. */
  const kernelTwinRow = (id: string, twin: (ctx: ScenarioContext, topo: Topology) => Promise<Measurement>): Scenario => ({
    id,
    title: id,
    bound: 'b',
    naiveExpectation: 'n',
    twinExpectation: 'healthy traffic passes untouched',
    requires: ['netns'],
    budgetMs: 40_000,
    run: async (ctx) => ({ naive: held, breakwater: held, twin: await twin(ctx, await scenarioTopology(ctx)) }),
  });

  it('FM-01: a live peer idle 14 s through a 4 s path outage stays up with connect() defaults; keepalive 1 s + 1 s × 2 with a 2 s user timeout declares it dead', async () => {
    const eager = { keepAliveIdleMs: 1_000, keepAliveIntervalMs: 1_000, keepAliveCount: 2, userTimeoutMs: 2_000 };
    const report = await runScorecard(
      [
        kernelTwinRow('FM-01', (ctx, topo) => idlePeerTwin(ctx, topo, {}, 14_000)),
        kernelTwinRow('FM-01 eager', (ctx, topo) => idlePeerTwin(ctx, topo, eager, 14_000)),
      ],
      { requireNetns: true, concurrency: 2 },
    );
    const [good, bad] = report.rows;
    console.log(`[FM-01 twin] defaults: ${good?.twin?.text} | eager: ${bad?.twin?.text}`);
    expect({ verdict: good?.verdict, reason: good?.reason }).toEqual({ verdict: 'pass', reason: undefined });
    expect(good?.twin?.text).toBe('idle 14.0 s (path down 6.0–10.0 s): no error, echo answered');
    expect(bad?.verdict).toBe('fail');
    expect(bad?.twin?.text).toMatch(/^BW_ERR_PEER_TIMEOUT after \d+\.\d s idle \(path down 6\.0–10\.0 s\)$/);
    // Not before the outage: the eager keepalive was answered until the path went down.
    expect(bad?.twin?.value).toBeGreaterThanOrEqual(6);
    expect(bad?.reason).toMatch(/^the defence fired on healthy traffic/);
  });

  it('FM-02: a POST a live server acknowledged and answers after 12 s succeeds with createClient() defaults and with a preset; a stall watchdog owing a reply within 10 s cuts it', async () => {
    const report = await runScorecard(
      [
        kernelTwinRow('FM-02', (ctx, topo) => thinkingServerTwin(ctx, topo, {}, 12_000)),
        // A preset's socket section (every socket default, a raw socket's expectResponseAfterWrite: true included) used to reach HTTP.
        kernelTwinRow('FM-02 preset', (ctx, topo) => thinkingServerTwin(ctx, topo, { preset: { infra: 'aws-alb', env: 'production' } }, 12_000)),
        kernelTwinRow('FM-02 eager', (ctx, topo) => thinkingServerTwin(ctx, topo, { socket: { expectResponseAfterWrite: true } }, 12_000)),
      ],
      { requireNetns: true, concurrency: 3 },
    );
    const [good, preset, bad] = report.rows;
    console.log(`[FM-02 twin] defaults: ${good?.twin?.text} | ALB preset: ${preset?.twin?.text} | eager: ${bad?.twin?.text}`);
    for (const row of [good, preset]) {
      expect({ verdict: row?.verdict, reason: row?.reason }).toEqual({ verdict: 'pass', reason: undefined });
      expect(row?.twin?.text).toMatch(/^answered 200 after \d+\.\d s \(server thinking 12\.0 s\)$/);
      expect(row?.twin?.value).toBeGreaterThanOrEqual(12);
    }
    expect(bad?.verdict).toBe('fail');
    expect(bad?.twin?.text).toMatch(/^BW_ERR_STALLED after \d+\.\d s \(server thinking 12\.0 s\)$/);
    expect(bad?.twin?.value).toBeLessThan(12);
    expect(bad?.reason).toMatch(/^the defence fired on healthy traffic/);
  });
});

describeNetns('scorecard: FM-01 under a user config (keepalive with TCP_USER_TIMEOUT)', () => {
  const fm01Row = async (config: ScorecardConfig): Promise<ScorecardRow> => {
    const report = await runScorecard(
      KERNEL_SCENARIOS.filter((s) => s.id === 'FM-01'),
      { requireNetns: true, config },
    );
    const row = report.rows[0] as ScorecardRow;
    console.log(`[FM-01, ${JSON.stringify(config)}] ${row.verdict}: breakwater ${row.breakwater?.text} | notes ${row.notes?.join(' / ')}`);
    return row;
  };

  it.concurrent('a user timeout of 18 s over keepalive 10 s + 1 s × 5: the kernel reports at ≈ 18 s, inside the bound the options give (20 s)', async () => {
    const row = await fm01Row({
      socket: { keepAliveIdleMs: 10_000, keepAliveIntervalMs: 1_000, keepAliveCount: 5, userTimeoutMs: 18_000, stallTimeoutMs: 18_500 },
    });
    expect(row.breakwater?.ok, row.breakwater?.text).toBe(true);
    expect(row.notes).toContainEqual(expect.stringMatching(/bound 20\.0 s$/));
  });

  it.concurrent('keepAliveIdleMs 0: the row fails saying keepalive is off, not "after Infinity s"', async () => {
    const row = await fm01Row({ socket: { keepAliveIdleMs: 0 } });
    expect(row.breakwater?.ok).toBe(false);
    // Only what the user set is named, not the applied interval and count keepalive-off leaves at 0.
    expect(row.breakwater?.text).toMatch(/: keepAliveIdleMs 0 → an idle dead peer is reported never \(keepalive is off\), bound 20 s$/);
  });
});
