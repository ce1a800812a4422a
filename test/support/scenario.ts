import { performance } from 'node:perf_hooks';
import {
  DEFAULT_SCORECARD_CONFIG,
  resolveScorecardConfig,
  type Scenario,
  type ScenarioContext,
  type ScenarioResult,
  type ScorecardConfig,
} from '@breakwater/scorecard';

/**
 * Running the scorecard's scenarios (and their shared helpers) from a test:
 * one implementation per failure mode, which the test then asserts more on.
 */

export interface ScenarioRun {
  result?: ScenarioResult;
  error?: unknown;
  durationMs: number;
  progress: string[];
}

/**
 * A runner in miniature, as `runScorecard()` does it for one scenario: a
 * signal aborted at `abortAfterMs` (default: the scenario's budget) or at the
 * first progress line (`abortOnProgress`), and every defer run last first,
 * even when one throws; `config` is the user's configuration it runs with.
 */
export async function runScenario(
  scenario: Scenario,
  options: { abortAfterMs?: number; abortOnProgress?: boolean; config?: ScorecardConfig } = {},
): Promise<ScenarioRun> {
  const controller = new AbortController();
  const abortAfterMs = options.abortAfterMs ?? scenario.budgetMs;
  const defers: (() => unknown)[] = [];
  const progress: string[] = [];
  const timer = setTimeout(() => controller.abort(new Error(`aborted after ${abortAfterMs} ms`)), abortAfterMs);
  const started = performance.now();
  const run: ScenarioRun = { durationMs: 0, progress };
  const onProgress = (text: string) => {
    progress.push(text);
    // Mid-run for certain: the first step has started (setup is done), however fast the host.
    if (options.abortOnProgress === true) setImmediate(() => controller.abort(new Error(`aborted at "${text}"`)));
  };
  try {
    run.result = await scenario.run({
      signal: controller.signal,
      defer: (fn) => defers.push(fn),
      progress: onProgress,
      config: options.config === undefined ? DEFAULT_SCORECARD_CONFIG : resolveScorecardConfig(options.config),
    });
  } catch (error) {
    run.error = error;
  } finally {
    clearTimeout(timer);
    const deferError = await runDefers(defers);
    run.error ??= deferError;
    run.durationMs = performance.now() - started;
  }
  return run;
}

/** The scenario's result, or its error thrown. */
export async function scenarioResult(scenario: Scenario): Promise<ScenarioResult> {
  const run = await runScenario(scenario);
  if (run.error !== undefined) throw run.error;
  return run.result as ScenarioResult;
}

/** Runs the scenario `make` builds around an `observe` hook: its result and what it observed. */
export async function observedResult<T>(make: (observe: (raw: T) => void) => Scenario): Promise<{ result: ScenarioResult; raw: T }> {
  let raw: T | undefined;
  const result = await scenarioResult(
    make((r) => {
      raw = r;
    }),
  );
  if (raw === undefined) throw new Error('the scenario returned without calling observe');
  return { result, raw };
}

/**
 * A context for calling a scenario's helpers directly; `cleanup()` runs what
 * they deferred (last first). Pass it to vitest's `onTestFinished` or an `afterEach`.
 */
export function scenarioContext(signal: AbortSignal = new AbortController().signal): ScenarioContext & { cleanup(): Promise<void> } {
  const defers: (() => unknown)[] = [];
  return {
    signal,
    defer: (fn) => void defers.push(fn),
    progress: () => {},
    config: DEFAULT_SCORECARD_CONFIG,
    async cleanup() {
      const error = await runDefers(defers);
      if (error !== undefined) throw error;
    },
  };
}

/** Runs every cleanup, last registered first, even after one throws; returns the first error. */
export async function runDefers(defers: (() => unknown)[]): Promise<unknown> {
  let first: unknown;
  for (let fn = defers.pop(); fn !== undefined; fn = defers.pop()) {
    try {
      await fn();
    } catch (error) {
      first ??= error;
    }
  }
  return first;
}
