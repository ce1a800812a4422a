import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { formatDefault, readmeDefaults } from '../../../test/support/defaultsTable.js';
import { capabilities } from './capabilities.js';
import { resolveSocketOptions, SOCKET_DEFAULTS } from './defaults.js';

describe('socket defaults', () => {
  it('are documented in the README exactly', () => {
    const table = readmeDefaults(new URL('../README.md', import.meta.url));
    for (const [key, value] of Object.entries(SOCKET_DEFAULTS)) {
      expect(table.get(key), `README row for \`${key}\``).toBe(formatDefault(value));
    }
    expect(table.size).toBe(Object.keys(SOCKET_DEFAULTS).length);
  });

  it('detect a dead idle peer within 20 s (FM-01)', () => {
    const d = SOCKET_DEFAULTS;
    expect(d.keepAliveIdleMs + d.keepAliveIntervalMs * d.keepAliveCount).toBeLessThanOrEqual(20_000);
    // libuv's fallback of 1 s × 10 probes keeps the same bound.
    expect(d.keepAliveIdleMs + 1_000 * 10).toBeLessThanOrEqual(20_000);
  });

  it('resolve to the defaults with no options and are frozen', () => {
    expect(resolveSocketOptions()).toEqual(SOCKET_DEFAULTS);
    expect(Object.isFrozen(SOCKET_DEFAULTS)).toBe(true);
  });
});

describe('capabilities()', () => {
  it('reports each option and matches the running Node', () => {
    const c = capabilities();
    expect(c.node).toBe(process.versions.node);
    const nodeHasInterval = net.Socket.prototype.setKeepAlive.length >= 4;
    if (nodeHasInterval) expect(c.options.keepAliveInterval).toBe('node');
    else expect(c.options.keepAliveInterval).toBe(c.nativeBinding.available ? 'native' : 'libuv-default');
    expect(c.options.stallWatchdog).toBe('emulated');
    if (c.nativeBinding.available) expect(c.options.userTimeout).toBe(process.platform === 'linux' ? 'native' : 'emulated');
    else expect(c.nativeBinding.reason).toMatch(/koffi|BREAKWATER_NATIVE|Linux/);
    if (process.env.BREAKWATER_EXPECT_NATIVE === '1') {
      expect(c.nativeBinding, 'koffi should load on Linux x64').toEqual({ available: true });
      expect(c.options.userTimeout).toBe('native');
    }
  });
});
