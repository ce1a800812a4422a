import { describe, expect, it } from 'vitest';
import { formatDefault, readmeDefaults } from '../../../test/support/defaultsTable.js';
import { resolveScorecardOptions, SCORECARD_DEFAULTS } from './defaults.js';

describe('scorecard defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    for (const [key, value] of Object.entries(SCORECARD_DEFAULTS)) expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    expect(table.size).toBe(Object.keys(SCORECARD_DEFAULTS).length);
  });

  it('resolve to the defaults with no options, are frozen, and name the option and range when invalid', () => {
    expect(resolveScorecardOptions()).toEqual(SCORECARD_DEFAULTS);
    expect(Object.isFrozen(SCORECARD_DEFAULTS)).toBe(true);
    expect(() => resolveScorecardOptions({ concurrency: 1.5 })).toThrow('Expected `concurrency` to be an integer between 1 and 64, got 1.5');
    expect(() => resolveScorecardOptions({ cleanupTimeoutMs: 0 })).toThrow(/`cleanupTimeoutMs`/);
  });
});
