import { BreakwaterError } from './BreakwaterError.js';
import type { Clock } from './Clock.js';
import { describe, resolveOptions, validateNumber, validateOptionsObject } from './validate.js';

/**
 * The rule builders every package's `resolve*Options()` uses, so "an integer
 * number of ms", "a Clock" and "max ≥ base" mean the same everywhere.
 */

/** Checks one option and returns it typed; throws BW_ERR_INVALID_OPTION naming `key`. */
export type Rule<T> = (value: unknown, key: string) => T;

/** A rule per field of a resolved options object. */
export type Rules<D> = { [K in keyof D]: Rule<D[K]> };

/**
 * The longest delay `setTimeout` honours: 2³¹ − 1 ms (≈ 24.8 days). Node fires a
 * longer one after 1 ms (with a TimeoutOverflowWarning), so no ms option may exceed it.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** An integer in [min, max]: counts, sizes, bytes. */
export function intRule(min: number, max: number): Rule<number> {
  return (v, k) => validateNumber(v, k, { min, max, integer: true });
}

/** A number (fractions allowed) in [min, max]: ratios, percentages, rates. */
export function numberRule(min: number, max: number): Rule<number> {
  return (v, k) => validateNumber(v, k, { min, max });
}

/**
 * A whole number of milliseconds in [min, max]; `max` is at most {@link MAX_TIMER_MS}
 * (the default), since every such number ends up in a timer.
 */
export function msRule(min = 0, max = MAX_TIMER_MS): Rule<number> {
  if (max > MAX_TIMER_MS) throw new RangeError(`msRule(): max ${max} exceeds the timer maximum ${MAX_TIMER_MS}`);
  return intRule(min, max);
}

/** A {@link Clock}: `now`, `setTimeout` and `clearTimeout` functions. */
export function validateClock(value: unknown, key = 'clock'): Clock {
  const c = value as Partial<Clock> | null;
  if (typeof c !== 'object' || c === null || typeof c.now !== 'function' || typeof c.setTimeout !== 'function' || typeof c.clearTimeout !== 'function') {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`${key}\` to be a Clock ({ now, setTimeout, clearTimeout }), got ${describe(value)}`, {
      details: { key },
      hint: 'Pass monotonicClock or a FakeClock from @breakwater/core, or leave it out.',
    });
  }
  return value as Clock;
}

/**
 * "`maxKey` ≥ `baseKey`": a cap below its base would make every delay the cap
 * (or a ceiling below a floor). Throws naming `maxKey`.
 */
export function validateAtLeast<O extends object>(options: O, baseKey: keyof O & string, maxKey: keyof O & string): void {
  const base = options[baseKey] as number;
  const max = options[maxKey] as number;
  if (max >= base) return;
  throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`${maxKey}\` to be >= \`${baseKey}\` (${base}), got ${max}`, {
    details: { key: maxKey },
    hint: `Raise \`${maxKey}\` to at least ${base}, or lower \`${baseKey}\`.`,
  });
}

/** The shape of an exponential backoff: a base delay and its cap, in ms. */
export interface BackoffShape {
  /** Base of the exponential, in ms. */
  baseDelayMs: number;
  /** Cap: no delay exceeds it, in ms (≥ `baseDelayMs`). */
  maxDelayMs: number;
}

/** Rules of {@link BackoffShape}: both in [0, maxMs] ms. */
export function backoffRules(maxMs = MAX_TIMER_MS): Rules<BackoffShape> {
  return { baseDelayMs: msRule(0, maxMs), maxDelayMs: msRule(0, maxMs) };
}

/**
 * Resolves a nested backoff options object (`{ baseDelayMs, maxDelayMs, ... }`):
 * unknown keys, out-of-range values and a cap below the base throw
 * BW_ERR_INVALID_OPTION. `rules` may narrow the ranges or add fields (a jitter).
 */
export function resolveBackoffShape<D extends BackoffShape>(options: unknown, where: string, defaults: D, rules: Rules<D>): D {
  const o = resolveOptions<D>(options, where, defaults, rules);
  validateAtLeast<BackoffShape>(o, 'baseDelayMs', 'maxDelayMs');
  return o;
}

/**
 * Options objects mix tunables (every field has a default and a rule) with
 * keys without defaults (a host, a callback, a signal). Checks that every key
 * is one of the two, resolves the tunables, and hands the others back unvalidated.
 */
export function resolveTunables<D extends object, O extends object>(
  options: unknown,
  where: string,
  defaults: D,
  rules: Rules<D>,
  otherKeys: readonly (keyof O & string)[],
): { tunables: D; others: Partial<O> } {
  const given = validateOptionsObject<Record<string, unknown>>(options, where, [...Object.keys(defaults), ...otherKeys]);
  const tunableGiven: Record<string, unknown> = {};
  const others: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(given)) {
    if (Object.hasOwn(defaults, k)) tunableGiven[k] = v;
    else others[k] = v;
  }
  return { tunables: resolveOptions<D>(tunableGiven, where, defaults, rules), others: others as Partial<O> };
}
