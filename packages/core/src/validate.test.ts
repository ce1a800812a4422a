import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveOptions, validateBoolean, validateNumber, validateOneOf, validateOptionsObject, validatePort, validateSignal } from './validate.js';

const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key } });

describe('validation helpers', () => {
  it('name the key and the legal range', () => {
    expect(() => validateNumber(1.5, 'ratio', { min: 0, max: 1 })).toThrow('Expected `ratio` to be a number between 0 and 1, got 1.5');
    expect(() => validateNumber(2.5, 'count', { min: 1, integer: true })).toThrow('Expected `count` to be an integer >= 1, got 2.5');
    expect(() => validateNumber('5', 'connectTimeoutMs', { min: 1 })).toThrow(invalid('connectTimeoutMs'));
    expect(() => validateNumber(Number.POSITIVE_INFINITY, 'x')).toThrow(/got Infinity/);
    expect(validateNumber(Number.POSITIVE_INFINITY, 'x', { allowInfinity: true })).toBe(Number.POSITIVE_INFINITY);
    expect(() => validateBoolean(1, 'noDelay')).toThrow(invalid('noDelay'));
    expect(() => validateOneOf('x', 'jitter', ['full', 'equal'] as const)).toThrow('Expected `jitter` to be one of "full", "equal", got "x"');
    expect(() => validatePort(70_000)).toThrow(invalid('port'));
    expect(() => validateSignal({}, 'signal')).toThrow(invalid('signal'));
  });

  it('reject unknown keys and suggest the near one', () => {
    expect(() => validateOptionsObject({ timeout: 1 }, 'connect()', ['timeoutMs'])).toThrow(
      'Unknown option `timeout` in connect() (did you mean `timeoutMs`?)',
    );
    expect(() => validateOptionsObject('x', 'connect()', [])).toThrow(invalid('connect()'));
    expect(validateOptionsObject(undefined, 'connect()', [])).toEqual({});
  });

  it('resolve defaults then validate every field', () => {
    const defaults = Object.freeze({ ratio: 0.1, minPerSecond: 10 });
    const rules = {
      ratio: (v: unknown, k: string) => validateNumber(v, k, { min: 0, max: 1 }),
      minPerSecond: (v: unknown, k: string) => validateNumber(v, k, { min: 0 }),
    };
    expect(resolveOptions<{ ratio: number; minPerSecond: number }>({ ratio: 0.2 }, 'RetryBudget', defaults, rules)).toEqual({ ratio: 0.2, minPerSecond: 10 });
    expect(() => resolveOptions<{ ratio: number; minPerSecond: number }>({ ratio: 2 }, 'RetryBudget', defaults, rules)).toThrow(invalid('ratio'));
  });

  it('accept exactly the numbers inside the range (property)', () => {
    fc.assert(
      fc.property(
        fc.double({ noNaN: true }),
        fc.double({ min: -1e6, max: 1e6, noNaN: true }),
        fc.double({ min: 0, max: 1e6, noNaN: true }),
        (v, min, width) => {
          const max = min + width;
          const inside = Number.isFinite(v) && v >= min && v <= max;
          let threw = false;
          try {
            validateNumber(v, 'k', { min, max });
          } catch {
            threw = true;
          }
          return threw === !inside;
        },
      ),
    );
  });
});
