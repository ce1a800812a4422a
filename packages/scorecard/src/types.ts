/**
 * The scorecard's contract. One {@link Scenario} per failure-mode id
 * (FM-01 … FM-18, see docs/failure-modes.md) and per data contract
 * (DC-01 … DC-04: slow server, replayed bodies, restarted outbox,
 * write-like reads) reproduces the fault for real
 * and measures the same thing twice: once the naive way (Node's defaults,
 * `http.Agent`, undici defaults, p-retry defaults) and once through
 * Breakwater. A row passes when the naive side really shows the failure and
 * the Breakwater side meets its bound — so a row cannot pass vacuously — and,
 * where the scenario has one, its healthy twin passes: healthy but unusual
 * traffic, run with the same Breakwater options, that the defence must leave
 * alone (a defence that fires on healthy traffic fails the row).
 */

import type { ResolvedScorecardConfig } from './config.js';

/** What a scenario needs from the host; the runner skips (with the reason) what it cannot provide. */
export type Requirement =
  /** root + `ip netns` + `nft` (kernel faults: blackholes, SYN drops, MTU hops, port ranges). */
  | 'netns'
  /** A program on PATH, e.g. `haproxy`. Named in {@link Scenario.programs}. */
  | 'program';

export type Unit = 's' | 'ms' | 'errors' | '%' | '×' | 'MB' | 'count' | 'findings';

/** One side's number. */
export interface Measurement {
  /** The headline number, in {@link unit}. For "nothing happened in 20 s" give 20 and say so in {@link text}. */
  value: number;
  unit: Unit;
  /** Short human text for the table cell, e.g. `no error after 20 s`, `ETIMEDOUT after 11.1 s`, `300/400 EADDRNOTAVAIL`. */
  text: string;
  /**
   * naive side: true when the failure was reproduced (the row's negative control held).
   * breakwater side: true when the bound was met.
   * healthy twin: true when the healthy traffic passed untouched by the defence.
   */
  ok: boolean;
  /** Optional series for the HTML chart (e.g. per-request latencies in ms, memory over time). Keep ≤ 200 points. */
  series?: { label: string; unit: Unit; points: number[] };
}

export interface ScenarioResult {
  naive: Measurement;
  breakwater: Measurement;
  /**
   * The healthy twin: healthy but unusual traffic (a peer thinking longer
   * than the detection bound, one failure among successes…) run in the same
   * scenario with the same Breakwater options; `ok` when the defence left it
   * alone. Scenarios with a {@link Scenario.twinExpectation} must return it.
   */
  twin?: Measurement;
  /** Anything worth a footnote: counts used (smaller than the test suite's), host quirks. */
  notes?: string[];
}

export interface ScenarioContext {
  /** Aborted when the scenario exceeds its budget or the user presses Ctrl-C: stop, clean up, reject. */
  signal: AbortSignal;
  /**
   * Register cleanup; the runner runs every registered function (last first)
   * after the scenario settles, on every path, including abort.
   */
  defer(fn: () => unknown): void;
  /** Progress text for the indicator, e.g. `naive: waiting for an error (12 s)`. */
  progress(text: string): void;
  /**
   * The user's options per package (validated, preset applied; the defaults
   * when none were given). The Breakwater side builds its client, socket or
   * pool from them under the scenario's own knobs, and checks the bound they
   * give — never past the row's catalogue ceiling.
   */
  config: ResolvedScorecardConfig;
}

export interface Scenario {
  /** `FM-01` … `FM-18`, `DC-01` … `DC-04`. */
  id: string;
  /** The failure, as in the catalogue's second column, short: `Zombie connection (idle peer gone, no FIN)`. */
  title: string;
  /** The bound the Breakwater side must show, from FAILURE-MODES.md, e.g. `error ≤ idle + interval × count + 2 s`. */
  bound: string;
  /** What the naive side must show for the row to count, e.g. `no error in the window`. */
  naiveExpectation: string;
  /** What the healthy twin must show, e.g. `one failure among successes: the breaker stays closed`. Set when the scenario runs one. */
  twinExpectation?: string;
  requires: readonly Requirement[];
  /** Programs that must be on PATH (with `requires` including 'program'). */
  programs?: readonly string[];
  /** Hard upper bound on wall time; the runner aborts the scenario after it. Keep the sum under 5 minutes. */
  budgetMs: number;
  /**
   * Timing-sensitive (latency percentiles, timer accuracy): the runner runs
   * it alone, never beside another scenario. Others run concurrently.
   */
  exclusive?: boolean;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

export type Verdict = 'pass' | 'fail' | 'skipped' | 'error';

/** One row of the scorecard, as printed, as in `--json`, as in the HTML report. */
export interface ScorecardRow {
  id: string;
  title: string;
  bound: string;
  naiveExpectation: string;
  /** The scenario's {@link Scenario.twinExpectation}, when it has a healthy twin. */
  twinExpectation?: string;
  verdict: Verdict;
  /** Present unless skipped or errored before measuring. */
  naive?: Measurement;
  breakwater?: Measurement;
  /** The healthy twin's measurement, when the scenario has one. */
  twin?: Measurement;
  notes?: string[];
  /** Why it was skipped, the error that stopped it, or (fail) which of the three checks did not hold. */
  reason?: string;
  durationMs: number;
}
