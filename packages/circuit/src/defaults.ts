import {
  BreakwaterError,
  type Clock,
  intRule,
  monotonicClock,
  msRule,
  numberRule,
  type Rules,
  resolveTunables,
  validateAtLeast,
  validateClock,
  validateFunction,
  validateString,
} from '@breakwater/core';

/** Decides whether an outcome counts against the upstream. `threw`: `outcome` is an error, else a result. */
export type IsFailure = (outcome: unknown, info: { threw: boolean }) => boolean;

/** The tunable options of a breaker: every field is in the README defaults table. */
export interface CircuitPolicyOptions {
  /** Calls in the rolling window before the breaker may open. @defaultValue 10 @example 20 */
  volumeThreshold?: number;
  /** Failure percentage in the window above which it opens. @defaultValue 50 @example 25 */
  errorThresholdPercentage?: number;
  /** Length of the rolling window of counts, in ms. @defaultValue 10_000 @example 30_000 */
  rollingCountTimeoutMs?: number;
  /** Buckets in the window: counts age out one bucket at a time. @defaultValue 10 @example 30 */
  rollingCountBuckets?: number;
  /** Open → half-open after this, in ms (before jitter); doubled after each failed probe. @defaultValue 5_000 @example 10_000 */
  resetTimeoutMs?: number;
  /** Cap of the doubled reset timeout, in ms. @defaultValue 60_000 @example 30_000 */
  maxResetTimeoutMs?: number;
  /**
   * Each reset timeout is shortened by up to this fraction at random, so the
   * clients of one upstream do not probe in lockstep. Never lengthened.
   * @defaultValue 0.2 @example 0.5
   */
  resetJitterRatio?: number;
  /** Time limit of a call, in ms; it aborts that call's signal only. 0: none. @defaultValue 10_000 @example 2_000 */
  attemptTimeoutMs?: number;
  /** Time limit of the half-open probe, in ms (the lower of this and attemptTimeoutMs). @defaultValue 5_000 @example 1_000 */
  probeTimeoutMs?: number;
  /** Injected for tests. @defaultValue the monotonic clock */
  clock?: Clock;
}

export type ResolvedCircuitPolicyOptions = Required<CircuitPolicyOptions>;

export const CIRCUIT_DEFAULTS = Object.freeze({
  volumeThreshold: 10,
  errorThresholdPercentage: 50,
  rollingCountTimeoutMs: 10_000,
  rollingCountBuckets: 10,
  resetTimeoutMs: 5_000,
  maxResetTimeoutMs: 60_000,
  resetJitterRatio: 0.2,
  attemptTimeoutMs: 10_000,
  probeTimeoutMs: 5_000,
  clock: monotonicClock,
}) satisfies ResolvedCircuitPolicyOptions;

export interface CircuitOptions extends CircuitPolicyOptions {
  /** The upstream this breaker guards, in errors and events. @defaultValue fn.name, else 'circuit' */
  key?: string;
  /**
   * What counts as a failure. Default: connection-level errors (connect,
   * peer, stall, timeout, DNS, TLS, protocol codes, errno errors) and a
   * `status`/`statusCode` ≥ 500 on an error or a result. Client errors (4xx,
   * validation, caller aborts) neither open nor close the breaker.
   */
  isFailure?: IsFailure;
  /** Random numbers in [0, 1) for the reset jitter. @defaultValue Math.random */
  random?: () => number;
}

export interface ResolvedCircuitOptions extends ResolvedCircuitPolicyOptions {
  key: string;
  isFailure: IsFailure | undefined;
  random: () => number;
}

/** Longest reset, window or call limit: one hour. */
const MAX_CIRCUIT_MS = 3_600_000;

export const CIRCUIT_OPTION_RULES = {
  volumeThreshold: intRule(0, 1_000_000),
  errorThresholdPercentage: numberRule(0, 100),
  rollingCountTimeoutMs: msRule(100, MAX_CIRCUIT_MS),
  rollingCountBuckets: intRule(1, 1_000),
  resetTimeoutMs: msRule(1, MAX_CIRCUIT_MS),
  maxResetTimeoutMs: msRule(1, MAX_CIRCUIT_MS),
  resetJitterRatio: numberRule(0, 0.99),
  attemptTimeoutMs: msRule(0, MAX_CIRCUIT_MS),
  probeTimeoutMs: msRule(1, MAX_CIRCUIT_MS),
  clock: validateClock,
} satisfies Rules<ResolvedCircuitPolicyOptions>;

const CALL_KEYS = ['key', 'isFailure', 'random'] as const;

/** Validates and fills in defaults; throws BW_ERR_INVALID_OPTION naming the key. */
export function resolveCircuitOptions(options?: CircuitOptions, where = 'circuit()', fallbackKey = 'circuit'): ResolvedCircuitOptions {
  const { tunables: o, others } = resolveTunables<ResolvedCircuitPolicyOptions, CircuitOptions>(
    options,
    where,
    CIRCUIT_DEFAULTS,
    CIRCUIT_OPTION_RULES,
    CALL_KEYS,
  );
  const { key, isFailure, random } = others;
  validateAtLeast(o, 'resetTimeoutMs', 'maxResetTimeoutMs');
  if (o.rollingCountTimeoutMs < o.rollingCountBuckets) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`rollingCountBuckets\` to be <= \`rollingCountTimeoutMs\`, got ${o.rollingCountBuckets}`, {
      details: { key: 'rollingCountBuckets' },
    });
  }
  return {
    ...o,
    key: key === undefined ? fallbackKey : validateString(key, 'key'),
    isFailure: isFailure === undefined ? undefined : validateFunction<IsFailure>(isFailure, 'isFailure'),
    random: random === undefined ? Math.random : validateFunction<() => number>(random, 'random'),
  };
}
