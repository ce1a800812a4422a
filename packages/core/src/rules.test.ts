import { describe, expect, it } from 'vitest';
import { FakeClock, monotonicClock } from './Clock.js';
import { backoffRules, intRule, MAX_TIMER_MS, msRule, numberRule, resolveBackoffShape, resolveTunables, validateAtLeast, validateClock } from './rules.js';

const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key } });

describe('shared option rules', () => {
  it('msRule: whole ms up to the timer maximum, naming the range', () => {
    expect(msRule()(MAX_TIMER_MS, 'ackTimeoutMs')).toBe(MAX_TIMER_MS);
    expect(() => msRule()(MAX_TIMER_MS + 1, 'ackTimeoutMs')).toThrow(
      `Expected \`ackTimeoutMs\` to be an integer between 0 and ${MAX_TIMER_MS}, got 2147483648`,
    );
    expect(() => msRule(1, 600_000)(0, 'connectTimeoutMs')).toThrow(invalid('connectTimeoutMs'));
    expect(() => msRule(0, 10)(1.5, 'x')).toThrow(/an integer between 0 and 10/);
    expect(() => msRule(0, MAX_TIMER_MS + 1)).toThrow(RangeError);
  });

  it('intRule and numberRule differ only in fractions', () => {
    expect(() => intRule(0, 10)(0.5, 'count')).toThrow(invalid('count'));
    expect(numberRule(0, 1)(0.5, 'ratio')).toBe(0.5);
    expect(() => numberRule(0, 1)(2, 'ratio')).toThrow('Expected `ratio` to be a number between 0 and 1, got 2');
  });

  it('errors carry a hint naming the fix', () => {
    try {
      msRule(1, 5)(9, 'helloTimeoutMs');
      expect.unreachable();
    } catch (e) {
      expect((e as { hint: string }).hint).toMatch(/`helloTimeoutMs` to an integer between 1 and 5/);
    }
  });

  it('validateClock accepts a Clock and names a bad one', () => {
    const fake = new FakeClock();
    expect(validateClock(fake)).toBe(fake);
    expect(validateClock(monotonicClock, 'clock')).toBe(monotonicClock);
    expect(() => validateClock({ now: () => 0 }, 'clock')).toThrow('Expected `clock` to be a Clock ({ now, setTimeout, clearTimeout }), got an object');
    expect(() => validateClock(null, 'c')).toThrow(invalid('c'));
  });

  it('validateAtLeast: a cap below its base names the cap and both values', () => {
    expect(() => validateAtLeast({ reconnectBaseDelayMs: 500, reconnectMaxDelayMs: 100 }, 'reconnectBaseDelayMs', 'reconnectMaxDelayMs')).toThrow(
      'Expected `reconnectMaxDelayMs` to be >= `reconnectBaseDelayMs` (500), got 100',
    );
    expect(() => validateAtLeast({ a: 1, b: 1 }, 'a', 'b')).not.toThrow();
  });

  it('resolveBackoffShape: defaults, ranges, unknown keys and max >= base', () => {
    const defaults = Object.freeze({ baseDelayMs: 100, maxDelayMs: 5_000 });
    expect(resolveBackoffShape({ baseDelayMs: 10 }, 'backoff', defaults, backoffRules())).toEqual({ baseDelayMs: 10, maxDelayMs: 5_000 });
    expect(() => resolveBackoffShape({ baseDelayMs: 6_000 }, 'backoff', defaults, backoffRules())).toThrow(invalid('maxDelayMs'));
    expect(() => resolveBackoffShape({ maxDelayMs: 70_000 }, 'backoff', defaults, backoffRules(60_000))).toThrow(invalid('maxDelayMs'));
    expect(() => resolveBackoffShape({ baseDelay: 1 }, 'backoff', defaults, backoffRules())).toThrow(
      'Unknown option `baseDelay` in backoff (did you mean `baseDelayMs`?)',
    );
  });

  it('resolveTunables splits tunables from keys without defaults and rejects the rest', () => {
    const defaults: { idleMs: number } = Object.freeze({ idleMs: 10 });
    const onEvent = () => {};
    const r = resolveTunables<{ idleMs: number }, { host: string; onEvent: () => void }>({ host: 'h', onEvent }, 'x()', defaults, { idleMs: msRule() }, [
      'host',
      'onEvent',
    ]);
    expect(r).toEqual({ tunables: { idleMs: 10 }, others: { host: 'h', onEvent } });
    expect(() => resolveTunables({ idleMs: -1 }, 'x()', defaults, { idleMs: msRule() }, [])).toThrow(invalid('idleMs'));
    try {
      resolveTunables({ port: 1 }, 'x()', defaults, { idleMs: msRule() }, ['host']);
      expect.unreachable();
    } catch (e) {
      expect(e).toEqual(invalid('port'));
      expect((e as { hint: string }).hint).toBe('x() takes: idleMs, host. A misspelt option would otherwise be ignored silently.');
    }
  });
});
