import { FakeClock } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { formatDefault, readmeDefaults } from '../../../test/support/defaultsTable.js';
import { CIRCUIT_DEFAULTS, resolveCircuitOptions } from './defaults.js';
import { CircuitRegistry, circuit, circuitFor } from './registry.js';

const invalid = (key: string) => expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key } });

describe('circuit defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    for (const [key, value] of Object.entries(CIRCUIT_DEFAULTS)) {
      expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    }
    expect(table.size).toBe(Object.keys(CIRCUIT_DEFAULTS).length);
  });

  it('probe again before the rolling window forgets the outage, and bound the probe below a call', () => {
    expect(CIRCUIT_DEFAULTS.resetTimeoutMs).toBeLessThan(CIRCUIT_DEFAULTS.rollingCountTimeoutMs);
    expect(CIRCUIT_DEFAULTS.probeTimeoutMs).toBeLessThanOrEqual(CIRCUIT_DEFAULTS.attemptTimeoutMs);
    expect(CIRCUIT_DEFAULTS.volumeThreshold).toBeGreaterThan(0);
  });

  it('resolve to the defaults with no options and are frozen', () => {
    expect(resolveCircuitOptions()).toMatchObject(CIRCUIT_DEFAULTS);
    expect(Object.isFrozen(CIRCUIT_DEFAULTS)).toBe(true);
  });
});

describe('circuit() / circuitFor()', () => {
  it('keeps one breaker per upstream key', async () => {
    const clock = new FakeClock();
    const registry = new CircuitRegistry();
    const a = registry.circuitFor('a:443', { clock });
    expect(registry.circuitFor('a:443')).toBe(a);
    expect(a.key).toBe('a:443');
    expect(registry.get('a:443')).toBe(a);
    expect(registry.keys()).toEqual(['a:443']);
    expect(registry.delete('a:443')).toBe(true);
    expect(registry.get('a:443')).toBeUndefined();
    registry.circuitFor('b', { clock });
    await registry.close();
    expect(registry.keys()).toEqual([]);
    const shared = circuitFor(`unit-${Math.random()}`, { clock });
    expect(circuitFor(shared.key)).toBe(shared);
    await shared.close();
    const named = circuit(async function getUser() {}, { clock });
    expect(named.key).toBe('getUser');
    await named.close();
  });

  it('reject bad options naming the key, for every export', async () => {
    const bad: [object, string][] = [
      [{ volumeThreshold: -1 }, 'volumeThreshold'],
      [{ errorThresholdPercentage: 101 }, 'errorThresholdPercentage'],
      [{ rollingCountTimeoutMs: 10 }, 'rollingCountTimeoutMs'],
      [{ rollingCountBuckets: 0 }, 'rollingCountBuckets'],
      [{ rollingCountTimeoutMs: 100, rollingCountBuckets: 200 }, 'rollingCountBuckets'],
      [{ resetTimeoutMs: 0 }, 'resetTimeoutMs'],
      [{ resetTimeoutMs: 5_000, maxResetTimeoutMs: 1_000 }, 'maxResetTimeoutMs'],
      [{ resetJitterRatio: 1 }, 'resetJitterRatio'],
      [{ attemptTimeoutMs: 1.5 }, 'attemptTimeoutMs'],
      [{ probeTimeoutMs: 0 }, 'probeTimeoutMs'],
      [{ clock: {} }, 'clock'],
      [{ key: '' }, 'key'],
      [{ isFailure: 'yes' }, 'isFailure'],
      [{ random: 1 }, 'random'],
      [{ timeout: 1_000 }, 'timeout'],
    ];
    for (const [options, key] of bad) {
      expect(() => circuit(() => 1, options as never), key).toThrow(invalid(key));
      if (key !== 'key') expect(() => new CircuitRegistry().circuitFor('k', options as never), key).toThrow(invalid(key));
      expect(() => resolveCircuitOptions(options as never), key).toThrow(invalid(key));
    }
    expect(() => circuit('fn' as never)).toThrow(invalid('fn'));
    expect(() => circuitFor('')).toThrow(invalid('key'));
    const breaker = circuit(() => 1, { clock: new FakeClock() });
    await expect(breaker.run('x' as never)).rejects.toThrow(invalid('fn'));
    await expect(breaker.run(() => 1, { signal: 'x' as never })).rejects.toThrow(invalid('signal'));
    await breaker.close();
  });
});

describe('CircuitRegistry bounds', () => {
  it('drops closed breakers beyond maxCircuits but never an open one', async () => {
    const clock = new FakeClock();
    const registry = new CircuitRegistry({ maxCircuits: 2, clock });
    const failing = registry.circuitFor('failing:443', { clock, volumeThreshold: 1 });
    await failing.run(() => Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' }))).catch(() => {});
    expect(failing.state).toBe('open');
    for (let i = 0; i < 20; i++) registry.circuitFor(`ok${i}:443`, { clock }).admit();
    expect(registry.get('failing:443')).toBe(failing);
    expect(registry.size).toBeLessThanOrEqual(3);
    await registry.close();
  });
});
