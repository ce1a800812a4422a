import { resolveScorecardOptions, SCORECARD_DEFAULTS } from '@breakwater/scorecard';
import { describe, expect, it } from 'vitest';
import { formatDefault, readmeDefaults } from '../../../test/support/defaultsTable.js';
import { DOCTOR_DEFAULTS, PROBE_DEFAULTS, resolveDoctorOptions, resolveProbeOptions } from './defaults.js';

describe('cli defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    // `breakwater scorecard --concurrency` documents the scorecard's defaults here too.
    const all = { ...DOCTOR_DEFAULTS, ...PROBE_DEFAULTS, ...SCORECARD_DEFAULTS };
    for (const [key, value] of Object.entries(all)) expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    expect(table.size).toBe(Object.keys(all).length);
  });

  it('resolve to the defaults with no options and are frozen', () => {
    expect(resolveDoctorOptions()).toEqual(DOCTOR_DEFAULTS);
    expect(resolveProbeOptions()).toEqual(PROBE_DEFAULTS);
    expect(resolveScorecardOptions()).toEqual(SCORECARD_DEFAULTS);
    expect(Object.isFrozen(DOCTOR_DEFAULTS) && Object.isFrozen(PROBE_DEFAULTS) && Object.isFrozen(SCORECARD_DEFAULTS)).toBe(true);
  });

  it('keep the default path within what default Linux ports and buffers carry', () => {
    // 28,232 default ports / 60 s ≈ 470/s: the default rate must not warn on a default host.
    expect(DOCTOR_DEFAULTS.connRate).toBeLessThanOrEqual(28_232 / 60 / 2);
    // The default BDP fits the default tcp_rmem max (6 MiB).
    expect(((DOCTOR_DEFAULTS.bandwidthMbps * 1e6) / 8) * (DOCTOR_DEFAULTS.rttMs / 1000)).toBeLessThan(6 * 1024 * 1024);
  });

  it('name the option and the range when invalid', () => {
    expect(() => resolveProbeOptions({ echoBytes: -1 })).toThrow('Expected `echoBytes` to be an integer between 0 and 1073741824, got -1');
    expect(() => resolveDoctorOptions({ conntrackWarnRatio: 2 })).toThrow(/`conntrackWarnRatio`/);
    expect(() => resolveScorecardOptions({ concurrency: 1.5 })).toThrow('Expected `concurrency` to be an integer between 1 and 64, got 1.5');
    expect(() => resolveDoctorOptions({ rtt: 5 } as never)).toThrow(/Unknown option `rtt`.*did you mean `rttMs`/);
  });
});
