import { describe, expect, it } from 'vitest';
import { flattenDefaults, formatDefault, readmeDefaults } from '../../../test/support/defaultsTable.js';
import { COMMON_PATH_IDLE_MS, IDLE_TIMEOUT_RATIO, POOL_DEFAULTS, presetForPathIdle, resolvePoolOptions } from './defaults.js';

describe('pool defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    const rows = flattenDefaults(POOL_DEFAULTS);
    for (const [key, value] of rows) expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    expect(table.size).toBe(rows.size);
  });

  it('resolve to the defaults with only a port, and are frozen', () => {
    const { host, port, connect, socket, probe, ...tunables } = resolvePoolOptions({ port: 7000 });
    expect(tunables).toEqual(POOL_DEFAULTS);
    expect({ host, port, connect, socket, probe }).toEqual({ host: 'localhost', port: 7000, connect: undefined, socket: {}, probe: undefined });
    expect(Object.isFrozen(POOL_DEFAULTS)).toBe(true);
  });

  it('close idle connections before the common load-balancer idle timeout (FM-07)', () => {
    expect(POOL_DEFAULTS.idleTimeoutMs).toBe(COMMON_PATH_IDLE_MS * IDLE_TIMEOUT_RATIO);
    expect(POOL_DEFAULTS.idleTimeoutMs).toBeLessThan(COMMON_PATH_IDLE_MS);
    expect(presetForPathIdle(COMMON_PATH_IDLE_MS)).toEqual({
      idleTimeoutMs: POOL_DEFAULTS.idleTimeoutMs,
      validateAfterIdleMs: POOL_DEFAULTS.validateAfterIdleMs,
    });
  });

  it('let a preset lower the idle timeout below a shorter path idle', () => {
    expect(presetForPathIdle(300)).toEqual({ idleTimeoutMs: 150, validateAfterIdleMs: 30 });
    expect(presetForPathIdle(350_000)).toEqual({ idleTimeoutMs: 175_000, validateAfterIdleMs: 1_000 });
    expect(() => presetForPathIdle(-1)).toThrow(/`pathIdleMs`/);
  });

  it('wait longer for a connection than a connect may take', () => {
    expect(POOL_DEFAULTS.acquireTimeoutMs).toBeGreaterThan(3_000); // @breakwater/socket's connectTimeoutMs
  });
});

describe('resolvePoolOptions()', () => {
  it.each([
    [{ port: 7000, max: 0 }, 'max', /Expected `max` to be an integer between 1 and 100000, got 0/],
    [{ port: 7000, idleTimeoutMs: -5 }, 'idleTimeoutMs', /`idleTimeoutMs`/],
    [{ port: 7000, maxLifetimeJitterRatio: 0.9 }, 'maxLifetimeJitterRatio', /between 0 and 0.5/],
    [{ port: 7000, minIdle: 11 }, 'minIdle', /`minIdle` to be at most `max` \(10\)/],
    [{ port: 7000, reconnectBackoffMs: 500, reconnectBackoffMaxMs: 100 }, 'reconnectBackoffMaxMs', /to be >= `reconnectBackoffMs` \(500\), got 100/],
    [{ port: 7000, reconnectBackoff: { baseDelayMs: 500, maxDelayMs: 100 } }, 'reconnectBackoff.maxDelayMs', /to be >= `reconnectBackoff.baseDelayMs` \(500\)/],
    [{ port: 7000, reconnectBackoff: { baseDelayMs: 0 } }, 'reconnectBackoff.baseDelayMs', /between 1 and 2147483647, got 0/],
    [{ port: 7000, reconnectBackoff: { base: 5 } }, 'reconnectBackoff.base', /Unknown option `reconnectBackoff.base`/],
    [{ port: 7000, reconnectBackoffMs: 0 }, 'reconnectBackoffMs', /between 1 and/],
    [
      { port: 7000, reconnectBackoff: { baseDelayMs: 50 }, reconnectBackoffMs: 50 },
      'reconnectBackoff',
      /either `reconnectBackoff` or its deprecated flat form/,
    ],
    [{ port: 7000, maxWaiting: 0 }, 'maxWaiting', /`maxWaiting`/],
    [{ port: 7000, probe: 'PING' }, 'probe', /`probe` to be a function/],
    [{ port: 7000, connect: 5 }, 'connect', /`connect` to be a function/],
    [{ port: 7000, socket: 5 }, 'socket', /`socket`/],
    [{ port: 7000, clock: {} }, 'clock', /`clock` to be a Clock/],
    [{ host: 'db' }, 'port', /`port`.*or a `connect` factory/],
    [{ port: 70_000 }, 'port', /`port`/],
    [{ port: 7000, idleTimeout: 5 }, 'idleTimeout', /Unknown option `idleTimeout`.*did you mean `idleTimeoutMs`/],
  ])('rejects %j naming `%s`', (options, key, message) => {
    let caught: unknown;
    try {
      resolvePoolOptions(options as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key } });
    expect((caught as Error).message).toMatch(message);
  });

  it('takes the reconnect backoff nested, or by its deprecated flat names', () => {
    expect(resolvePoolOptions({ port: 7000, reconnectBackoff: { maxDelayMs: 800 } }).reconnectBackoff).toEqual({ baseDelayMs: 100, maxDelayMs: 800 });
    expect(resolvePoolOptions({ port: 7000, reconnectBackoffMs: 20, reconnectBackoffMaxMs: 40 }).reconnectBackoff).toEqual({ baseDelayMs: 20, maxDelayMs: 40 });
    expect(resolvePoolOptions({ port: 7000, reconnectBackoffMs: 20 })).not.toHaveProperty('reconnectBackoffMs');
  });

  it('rejects no options at all', () => {
    expect(() => resolvePoolOptions(undefined as never)).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION' }));
  });

  it('accepts a connect factory instead of a port', () => {
    const connect = () => Promise.reject(new Error('unused'));
    expect(resolvePoolOptions({ connect }).connect).toBe(connect);
  });
});
