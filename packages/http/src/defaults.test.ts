import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatDefault } from '../../../test/support/defaultsTable.js';
import { HTTP_DEFAULTS, resolveHttpOptions } from './defaults.js';

// test/support's readmeDefaults() reads names of letters only; `allowH2` has a digit.
function readmeDefaults(url: URL): Map<string, string> {
  const section =
    readFileSync(url, 'utf8')
      .split(/^## Defaults\s*$/m)[1]
      ?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const m = /^\|\s*`([A-Za-z0-9]+)`\s*\|\s*([^|]+?)\s*\|/.exec(line);
    if (m) rows.set(m[1]!, m[2]!.replace(/[_\s`]/g, ''));
  }
  return rows;
}

describe('http defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    for (const [key, value] of Object.entries(HTTP_DEFAULTS)) {
      expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    }
    expect(table.size).toBe(Object.keys(HTTP_DEFAULTS).length);
  });

  it('keep idle connections below the common load-balancer and Node server idle timeouts (FM-07)', () => {
    expect(HTTP_DEFAULTS.keepAliveTimeoutMs).toBeLessThan(5_000);
    expect(HTTP_DEFAULTS.allowH2).toBe(false);
    expect(Number.isFinite(HTTP_DEFAULTS.connections)).toBe(true);
  });

  it('resolve to the defaults and are frozen', () => {
    expect(resolveHttpOptions()).toMatchObject(HTTP_DEFAULTS);
    expect(Object.isFrozen(HTTP_DEFAULTS)).toBe(true);
  });

  it('reject maxDelayMs below baseDelayMs, naming the key', () => {
    expect(() => resolveHttpOptions({ baseDelayMs: 100, maxDelayMs: 10 })).toThrow(/`maxDelayMs`/);
  });
});
