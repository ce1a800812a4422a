import { BreakwaterError } from './BreakwaterError.js';

/**
 * Option validation that names the key and the legal range, so a typo in a
 * config file reads "Expected `connectTimeoutMs` to be a number between 1 and
 * 600000, got -5" instead of a hang three layers down.
 */

function invalid(key: string, expected: string, got: unknown): BreakwaterError {
  return new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`${key}\` to be ${expected}, got ${describe(got)}`, {
    details: { key },
    hint: `Set \`${key}\` to ${expected}, or leave it out for the default (the package README's defaults table).`,
  });
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return `an object`;
}

export interface NumberRule {
  min?: number;
  max?: number;
  integer?: boolean;
  /** Accept `Infinity` (meaning "no limit"). @defaultValue false */
  allowInfinity?: boolean;
}

export function validateNumber(value: unknown, key: string, rule: NumberRule = {}): number {
  const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY, integer = false, allowInfinity = false } = rule;
  const range =
    `${integer ? 'an integer' : 'a number'}` +
    (Number.isFinite(min) && Number.isFinite(max)
      ? ` between ${min} and ${max}`
      : Number.isFinite(min)
        ? ` >= ${min}`
        : Number.isFinite(max)
          ? ` <= ${max}`
          : '') +
    (allowInfinity ? ' (or Infinity)' : '');
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalid(key, range, value);
  if (value === Number.POSITIVE_INFINITY && allowInfinity) return value;
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) throw invalid(key, range, value);
  return value;
}

export function validateBoolean(value: unknown, key: string): boolean {
  if (typeof value !== 'boolean') throw invalid(key, 'a boolean', value);
  return value;
}

export function validateString(value: unknown, key: string, { nonEmpty = true }: { nonEmpty?: boolean } = {}): string {
  if (typeof value !== 'string' || (nonEmpty && value.length === 0)) throw invalid(key, nonEmpty ? 'a non-empty string' : 'a string', value);
  return value;
}

export function validateOneOf<const T extends readonly (string | number)[]>(value: unknown, key: string, allowed: T): T[number] {
  if (!allowed.includes(value as T[number])) throw invalid(key, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, value);
  return value as T[number];
}

export function validateFunction<F extends (...args: never[]) => unknown>(value: unknown, key: string): F {
  if (typeof value !== 'function') throw invalid(key, 'a function', value);
  return value as F;
}

export function validatePort(value: unknown, key = 'port'): number {
  return validateNumber(value, key, { min: 0, max: 65_535, integer: true });
}

export function validateSignal(value: unknown, key = 'signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw invalid(key, 'an AbortSignal', value);
  return value;
}

/**
 * Checks that `options` is a plain object (or undefined) whose keys are all
 * known, so a misspelt option fails loudly instead of being ignored.
 */
export function validateOptionsObject<T extends object>(options: unknown, where: string, known: readonly string[]): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalid(where, 'an options object', options);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase() || k.startsWith(key) || key.startsWith(k));
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Unknown option \`${key}\` in ${where}${near === undefined ? '' : ` (did you mean \`${near}\`?)`}`, {
        details: { key },
        hint: `${where} takes: ${known.join(', ')}. A misspelt option would otherwise be ignored silently.`,
      });
    }
  }
  return options as Partial<T>;
}

/** Fills `undefined` fields from `defaults`, then validates every field with `rules`. */
export function resolveOptions<D extends object>(
  options: unknown,
  where: string,
  defaults: D,
  rules: { [K in keyof D]: (value: unknown, key: string) => D[K] },
): D {
  const given = validateOptionsObject<D>(options, where, Object.keys(defaults));
  const out = {} as D;
  for (const key of Object.keys(defaults) as (keyof D & string)[]) {
    const value = given[key] === undefined ? defaults[key] : given[key];
    out[key] = rules[key](value, key);
  }
  return out;
}
