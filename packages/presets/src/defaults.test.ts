import { describe, expect, it } from 'vitest';
import { formatDefault, readmeDefaults } from '../../../test/support/defaultsTable.js';
import { clientIdleCeilingMs, PRESET_DEFAULTS, worstBackoffMs } from './defaults.js';
import { INFRA_NAMES, INFRA_PRESETS } from './infra.js';

describe('presets defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    for (const [key, value] of Object.entries(PRESET_DEFAULTS)) expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    expect(table.size).toBe(Object.keys(PRESET_DEFAULTS).length);
  });

  it('keep the client max(1 s, 10 %) below the load balancer', () => {
    expect(clientIdleCeilingMs(60_000)).toBe(54_000);
    expect(clientIdleCeilingMs(5_000)).toBe(4_000);
    expect(clientIdleCeilingMs(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
  });

  it('bound the backoff of every jitter', () => {
    const base = { baseDelayMs: 100, maxDelayMs: 10_000 };
    expect(worstBackoffMs({ ...base, jitter: 'full' }, 3)).toBe(300);
    expect(worstBackoffMs({ ...base, jitter: 'equal' }, 1)).toBe(0);
    expect(worstBackoffMs({ ...base, jitter: 'decorrelated' }, 3)).toBe(300 + 900);
    expect(worstBackoffMs({ ...base, jitter: 'full' }, 10)).toBe(100 + 200 + 400 + 800 + 1_600 + 3_200 + 6_400 + 10_000 + 10_000);
  });

  it('cite a source for every infrastructure number', () => {
    for (const name of INFRA_NAMES) {
      const spec = INFRA_PRESETS[name];
      expect(Object.isFrozen(spec)).toBe(true);
      if (name !== 'direct') expect(spec.sources.length, name).toBeGreaterThan(0);
      // A layer-7 proxy holds its own upstream connections; a layer-4 flow has none.
      expect(Number.isFinite(spec.upstreamIdleTimeoutMs)).toBe(spec.layer === 7);
    }
  });
});
