import { resolvePreset } from '@breakwater/presets';
import { describe, expect, it } from 'vitest';
import { formatDefault, readmeDefaults } from '../../../test/support/defaultsTable.js';
import { DRIVER_DEFAULTS, resolveDriverOptions } from './defaults.js';

describe('driver defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    for (const [key, value] of Object.entries(DRIVER_DEFAULTS)) {
      expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    }
    expect(table.size).toBe(Object.keys(DRIVER_DEFAULTS).length);
    expect(Object.isFrozen(DRIVER_DEFAULTS)).toBe(true);
  });

  it('review: a wrong `preset` or `socket` is refused at creation, naming the key (not a TypeError, nor a failure at first connect)', () => {
    const bad = (options: unknown, key: string, message: RegExp) =>
      expect(() => resolveDriverOptions(options as never)).toThrow(
        expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key }, message: expect.stringMatching(message) }),
      );
    bad({ preset: 5 }, 'preset', /`preset`/);
    bad({ preset: { infra: 'aws-alb' } }, 'preset', /resolvePreset/);
    bad({ socket: 5 }, 'socket', /`socket`/);
    bad({ socket: { keepAliveIdle: 1_000 } }, 'keepAliveIdle', /did you mean/);
    bad({ socket: { stallTimeoutMs: -1 } }, 'stallTimeoutMs', /`stallTimeoutMs`/);
    // Healthy but unusual: a partial socket override on top of a preset.
    const preset = resolvePreset({ infra: 'aws-nlb' });
    expect(resolveDriverOptions({ preset, socket: { stallTimeoutMs: 0 } }).socket).toMatchObject({ ...preset.socket, stallTimeoutMs: 0 });
  });

  it('take the pool idle limit from the preset, below the server idle limit', () => {
    const preset = resolvePreset({ infra: 'aws-alb' });
    expect(resolveDriverOptions({ preset }).idleTimeoutMs).toBe(preset.pool.idleTimeoutMs);
    expect(resolveDriverOptions({ preset, serverIdleTimeoutMs: 2_000 }).idleTimeoutMs).toBe(1_000);
    expect(resolveDriverOptions({ preset, serverIdleTimeoutMs: 20_000 }).idleTimeoutMs).toBe(Math.min(preset.pool.idleTimeoutMs, 18_000));
  });

  it('merge socket overrides over the preset socket section', () => {
    const o = resolveDriverOptions({ socket: { keepAliveIdleMs: 10_000 } });
    expect(o.socket).toMatchObject({ keepAliveIdleMs: 10_000, noDelay: true });
  });

  it.each([
    [{ queryTimeoutMs: -1 }, /`queryTimeoutMs`/],
    [{ serverIdleTimeoutMs: 1.5 }, /`serverIdleTimeoutMs`/],
    [{ queryTimeout: 5 }, /Unknown option `queryTimeout`/],
  ])('rejects %j naming the option', (options, message) => {
    expect(() => resolveDriverOptions(options as never)).toThrow(message);
  });
});
