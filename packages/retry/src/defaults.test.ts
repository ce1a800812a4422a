import { describe, expect, it } from 'vitest';
import { formatDefault, readmeDefaults } from '../../../test/support/defaultsTable.js';
import { RETRY_BUDGET_DEFAULTS, RETRY_DEFAULTS, resolveRetryBudgetOptions, resolveRetryOptions } from './defaults.js';

describe('retry defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    const all = { ...RETRY_BUDGET_DEFAULTS, ...RETRY_DEFAULTS };
    for (const [key, value] of Object.entries(all)) {
      expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    }
    expect(table.size).toBe(Object.keys(all).length);
  });

  it('bound the load a total outage adds: at most ratio + floor/traffic per request, never the attempt count', () => {
    expect(RETRY_BUDGET_DEFAULTS.ratio).toBeLessThanOrEqual(0.2);
    expect(RETRY_DEFAULTS.attempts).toBeLessThanOrEqual(3);
    expect(RETRY_DEFAULTS.idempotent).toBe(false);
  });

  it('resolve to the defaults with no options and are frozen', () => {
    expect(resolveRetryBudgetOptions()).toEqual(RETRY_BUDGET_DEFAULTS);
    expect(resolveRetryOptions()).toMatchObject(RETRY_DEFAULTS);
    expect(Object.isFrozen(RETRY_DEFAULTS)).toBe(true);
    expect(Object.isFrozen(RETRY_BUDGET_DEFAULTS)).toBe(true);
  });
});
