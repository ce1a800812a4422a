import { describe, expect, it } from 'vitest';
import { backoffRule, foldBackoffAliases } from './backoffOption.js';
import { msRule } from './rules.js';

const defaults = Object.freeze({ baseDelayMs: 100, maxDelayMs: 5_000 });
const aliases = { baseDelayMs: 'retryBaseMs', maxDelayMs: 'retryMaxMs' } as const;
const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: expect.objectContaining({ key }) });

describe('backoffRule()', () => {
  const rule = backoffRule(defaults);

  it('fills fields left out from the defaults and hands the defaults back as they are', () => {
    expect(rule({ maxDelayMs: 900 }, 'retryBackoff')).toEqual({ baseDelayMs: 100, maxDelayMs: 900 });
    expect(rule(defaults, 'retryBackoff')).toBe(defaults);
  });

  it('names the full path of a bad, unknown or inverted field', () => {
    expect(() => rule({ baseDelayMs: 1.5 }, 'retryBackoff')).toThrow(invalid('retryBackoff.baseDelayMs'));
    expect(() => rule({ baseDelayMs: 9_000 }, 'retryBackoff')).toThrow(invalid('retryBackoff.maxDelayMs'));
    expect(() => rule({ jitter: 'full' }, 'retryBackoff')).toThrow(invalid('retryBackoff.jitter'));
    expect(() => rule([], 'retryBackoff')).toThrow(invalid('retryBackoff'));
    expect(() => backoffRule(defaults, { baseDelayMs: msRule(1), maxDelayMs: msRule(1) })({ baseDelayMs: 0 }, 'b')).toThrow(invalid('b.baseDelayMs'));
  });
});

describe('foldBackoffAliases()', () => {
  it('moves the flat names into the nested option, checked under the names given', () => {
    const folded = foldBackoffAliases({ port: 1, retryMaxMs: 300 }, 'retryBackoff', aliases, defaults);
    expect(folded).toEqual({ port: 1, retryBackoff: { baseDelayMs: 100, maxDelayMs: 300 } });
    expect(() => foldBackoffAliases({ retryBaseMs: 500, retryMaxMs: 300 }, 'retryBackoff', aliases, defaults)).toThrow(invalid('retryMaxMs'));
  });

  it('leaves options without aliases alone, and refuses an alias beside the nested option', () => {
    expect(foldBackoffAliases({ retryBackoff: { baseDelayMs: 5 } }, 'retryBackoff', aliases, defaults)).toEqual({ retryBackoff: { baseDelayMs: 5 } });
    expect(foldBackoffAliases(undefined, 'retryBackoff', aliases, defaults)).toBeUndefined();
    expect(() => foldBackoffAliases({ retryBackoff: {}, retryBaseMs: 5 }, 'retryBackoff', aliases, defaults)).toThrow(invalid('retryBackoff'));
  });
});
