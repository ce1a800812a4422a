import { intRule, msRule, resolveOptions } from '@breakwater/core';

export interface ScorecardOptions {
  /**
   * Scenarios run side by side. Most wait on kernel timers, so running them
   * together keeps the scorecard well under a few minutes; timing-sensitive
   * ones (`exclusive`) always run alone.
   * @defaultValue 4
   */
  concurrency?: number;
  /** Longest wait for one scenario cleanup (closing servers, removing namespaces) before it is reported as hung. @defaultValue 10_000 */
  cleanupTimeoutMs?: number;
}

export type ResolvedScorecardOptions = Required<ScorecardOptions>;

export const SCORECARD_DEFAULTS = Object.freeze({
  concurrency: 4,
  cleanupTimeoutMs: 10_000,
}) satisfies ResolvedScorecardOptions;

export function resolveScorecardOptions(options: ScorecardOptions = {}): ResolvedScorecardOptions {
  return resolveOptions<ResolvedScorecardOptions>(options, 'scorecard', SCORECARD_DEFAULTS, {
    concurrency: intRule(1, 64),
    cleanupTimeoutMs: msRule(1, 600_000),
  });
}
