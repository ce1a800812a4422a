import os from 'node:os';
import { BreakwaterError, isBreakwaterError } from '@breakwater/core';
import { DEFAULT_SCORECARD_CONFIG, type ResolvedScorecardConfig, resolveScorecardConfig, type ScorecardConfig } from './config.js';
import { resolveScorecardOptions } from './defaults.js';
import { type HostSupport, REAL_HOST, unmetRequirement } from './requirements.js';
import type { Measurement, Scenario, ScenarioResult, ScorecardRow } from './types.js';
import { failureReason, verdictOf } from './verdict.js';

/** What the progress indicator hears, in order per scenario: started, any progress, finished. */
export type RunnerEvent =
  | { type: 'started'; id: string; title: string }
  | { type: 'progress'; id: string; text: string }
  | { type: 'finished'; row: ScorecardRow };

export interface RunScorecardOptions {
  /** Scenarios run at the same time (exclusive ones always run alone). @defaultValue 4 */
  concurrency?: number;
  /** Aborts every running scenario (Ctrl-C); their cleanups still run and scenarios not started are skipped. */
  signal?: AbortSignal;
  /** A scenario needing netns on a host without it is an error, not a skip. @defaultValue `BREAKWATER_REQUIRE_NETNS === '1'` */
  requireNetns?: boolean;
  /** Longest wait for one cleanup function before it is reported as hung. @defaultValue 10_000 */
  cleanupTimeoutMs?: number;
  onEvent?: (event: RunnerEvent) => void;
  /** The user's options per package, every scenario runs with them (see {@link ScorecardConfig}). @defaultValue every package's defaults */
  config?: ScorecardConfig;
  /** Injected in tests. @defaultValue the real host */
  host?: HostSupport;
}

export interface ScorecardHost {
  hostname: string;
  platform: NodeJS.Platform;
  release: string;
  arch: string;
  node: string;
  uid: number | undefined;
  cpus: number;
  netns: { available: boolean; reason?: string };
  startedAt: string;
}

export interface ScorecardSummary {
  passed: number;
  failed: number;
  skipped: number;
  errors: number;
  durationMs: number;
}

/** The scorecard as `--json` prints it and the HTML report draws it. */
export interface ScorecardReport {
  rows: ScorecardRow[];
  summary: ScorecardSummary;
  host: ScorecardHost;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Runs `scenarios`, at most `concurrency` at once, exclusive ones alone
 * (first, while the machine is quiet), and resolves to one row per
 * scenario in the order given. Never rejects: a scenario that throws, hangs
 * past its budget or leaves a failing cleanup becomes an `error` row.
 *
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` (before anything runs) when `options.config` is invalid, naming the key.
 */
export async function runScorecard(scenarios: readonly Scenario[], options: RunScorecardOptions = {}): Promise<ScorecardReport> {
  const { concurrency, cleanupTimeoutMs } = resolveScorecardOptions({ concurrency: options.concurrency, cleanupTimeoutMs: options.cleanupTimeoutMs });
  const config = options.config === undefined ? DEFAULT_SCORECARD_CONFIG : resolveScorecardConfig(options.config);
  const host = options.host ?? REAL_HOST;
  const requireNetns = options.requireNetns ?? process.env.BREAKWATER_REQUIRE_NETNS === '1';
  const emit = options.onEvent ?? (() => {});
  const started = performance.now();
  const hostInfo = describeHost(host, scenarios);
  const rows = new Map<Scenario, ScorecardRow>();

  const finish = (scenario: Scenario, row: ScorecardRow) => {
    rows.set(scenario, row);
    emit({ type: 'finished', row });
  };
  const runnable: Scenario[] = [];
  for (const scenario of scenarios) {
    const unmet = unmetRequirement(scenario, host);
    if (unmet === undefined) runnable.push(scenario);
    else if (unmet.netns && requireNetns) finish(scenario, base(scenario, 'error', 0, `BREAKWATER_REQUIRE_NETNS=1 but ${unmet.reason}`));
    else finish(scenario, base(scenario, 'skipped', 0, unmet.reason));
  }

  const runOne = async (scenario: Scenario) => {
    if (options.signal?.aborted) return finish(scenario, base(scenario, 'skipped', 0, 'interrupted before it started'));
    emit({ type: 'started', id: scenario.id, title: scenario.title });
    finish(scenario, await runScenario(scenario, config, options.signal, cleanupTimeoutMs, (text) => emit({ type: 'progress', id: scenario.id, text })));
  };
  for (const scenario of runnable.filter((s) => s.exclusive === true)) await runOne(scenario);
  const queue = runnable.filter((s) => s.exclusive !== true);
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await runOne(next);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, queue.length)) }, worker));

  const ordered = scenarios.map((s) => rows.get(s)!);
  const count = (v: ScorecardRow['verdict']) => ordered.filter((r) => r.verdict === v).length;
  return {
    rows: ordered,
    summary: {
      passed: count('pass'),
      failed: count('fail'),
      skipped: count('skipped'),
      errors: count('error'),
      durationMs: Math.round(performance.now() - started),
    },
    host: hostInfo,
  };
}

function base(scenario: Scenario, verdict: ScorecardRow['verdict'], durationMs: number, reason?: string): ScorecardRow {
  return {
    id: scenario.id,
    title: scenario.title,
    bound: scenario.bound,
    naiveExpectation: scenario.naiveExpectation,
    ...(scenario.twinExpectation === undefined ? {} : { twinExpectation: scenario.twinExpectation }),
    verdict,
    ...(reason === undefined ? {} : { reason }),
    durationMs: Math.round(durationMs),
  };
}

/**
 * Why a row was cut short by the caller's signal: the caller's own
 * `BW_ERR_ABORTED` reason when it gave one (the CLI names the signal:
 * "interrupted (Ctrl-C)", "terminated (SIGTERM)"), else plain "interrupted".
 */
function interruption(reason: unknown): BreakwaterError {
  return isBreakwaterError(reason, 'BW_ERR_ABORTED') ? reason : new BreakwaterError('BW_ERR_ABORTED', 'interrupted');
}

async function runScenario(
  scenario: Scenario,
  config: ResolvedScorecardConfig,
  outer: AbortSignal | undefined,
  cleanupTimeoutMs: number,
  progress: (text: string) => void,
): Promise<ScorecardRow> {
  const started = performance.now();
  const controller = new AbortController();
  const cleanups: (() => unknown)[] = [];
  const abort = (reason: unknown) => controller.abort(reason);
  const onOuterAbort = () => abort(interruption(outer?.reason));
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  const budget = setTimeout(
    () => abort(new BreakwaterError('BW_ERR_DEADLINE', `exceeded its budget of ${scenario.budgetMs} ms`, { details: { budgetMs: scenario.budgetMs } })),
    scenario.budgetMs,
  );
  budget.unref();
  // The scenario should reject soon after the abort; one that ignores its
  // signal is not waited for: the cleanups below are what stop it.
  const aborted = new Promise<never>((_, reject) => {
    if (controller.signal.aborted) reject(controller.signal.reason);
    controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
  });
  let result: ScenarioResult | undefined;
  let failure: unknown;
  try {
    const running = Promise.resolve().then(() =>
      scenario.run({
        signal: controller.signal,
        defer: (fn) => void cleanups.push(fn),
        progress: (text) => progress(text),
        config,
      }),
    );
    running.catch(() => {});
    result = await Promise.race([running, aborted]);
  } catch (err) {
    failure = controller.signal.aborted ? controller.signal.reason : err;
  } finally {
    clearTimeout(budget);
    outer?.removeEventListener('abort', onOuterAbort);
  }
  if (!controller.signal.aborted) controller.abort(new BreakwaterError('BW_ERR_ABORTED', 'scenario settled'));
  const cleanupErrors = await runCleanups(cleanups, cleanupTimeoutMs);
  const durationMs = performance.now() - started;

  let row: ScorecardRow;
  const invalid = failure === undefined ? validateResult(scenario, result) : undefined;
  if (failure !== undefined) row = base(scenario, 'error', durationMs, message(failure));
  else if (invalid !== undefined) row = base(scenario, 'error', durationMs, invalid);
  else {
    const { naive, breakwater, twin, notes } = result!;
    row = { ...base(scenario, 'pass', durationMs), naive, breakwater, ...(twin === undefined ? {} : { twin }), ...(notes?.length ? { notes } : {}) };
    row.verdict = verdictOf(row);
    const why = failureReason(row);
    if (why !== undefined) row.reason = why;
  }
  if (cleanupErrors.length > 0) {
    row.notes = [...(row.notes ?? []), ...cleanupErrors.map((e) => `cleanup failed: ${e}`)];
    // A cleanup that failed may have left a namespace or a process behind: that is never a pass.
    if (row.verdict === 'pass' || row.verdict === 'fail') {
      row.verdict = 'error';
      row.reason = `cleanup failed: ${cleanupErrors[0]}`;
    }
  }
  return row;
}

/** Runs every cleanup, last registered first; collects errors (and hangs) instead of throwing. */
async function runCleanups(cleanups: (() => unknown)[], timeoutMs: number): Promise<string[]> {
  const errors: string[] = [];
  for (let fn = cleanups.pop(); fn !== undefined; fn = cleanups.pop()) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`a cleanup did not finish within ${timeoutMs} ms`)), timeoutMs);
      });
      await Promise.race([Promise.resolve().then(fn), hung]);
    } catch (err) {
      errors.push(message(err));
    } finally {
      clearTimeout(timer);
    }
  }
  return errors;
}

function isMeasurement(m: unknown): m is Measurement {
  const v = m as Measurement | undefined;
  return typeof v === 'object' && v !== null && typeof v.value === 'number' && typeof v.text === 'string' && typeof v.ok === 'boolean';
}

function validateResult(scenario: Scenario, result: ScenarioResult | undefined): string | undefined {
  if (!isMeasurement(result?.naive)) return 'the scenario returned no naive measurement';
  if (!isMeasurement(result?.breakwater)) return 'the scenario returned no Breakwater measurement';
  // A twin it declares must be measured: a missing one would pass the row unchecked.
  if ((scenario.twinExpectation !== undefined || result.twin !== undefined) && !isMeasurement(result.twin))
    return 'the scenario declares a healthy twin but returned no twin measurement';
  return undefined;
}

function describeHost(host: HostSupport, scenarios: readonly Scenario[]): ScorecardHost {
  // Probe the harness only when something needs it: the probe creates a namespace.
  const netns = scenarios.some((s) => s.requires.includes('netns')) ? host.netns() : { available: false, reason: 'not needed by the selected scenarios' };
  return {
    hostname: os.hostname(),
    platform: process.platform,
    release: os.release(),
    arch: process.arch,
    node: process.version,
    uid: process.getuid?.(),
    cpus: os.availableParallelism(),
    netns,
    startedAt: new Date().toISOString(),
  };
}
