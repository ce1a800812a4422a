import { BreakwaterError } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { createTopology } from './createTopology.js';
import { resolveTopologyOptions, TOPOLOGY_DEFAULTS } from './defaults.js';

function keyOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BreakwaterError);
    expect((error as BreakwaterError).code).toBe('BW_ERR_INVALID_OPTION');
    return (error as BreakwaterError).details.key;
  }
  throw new Error('expected an error');
}

describe('resolveTopologyOptions', () => {
  it('defaults to a root-namespace client joined straight to the server', () => {
    expect(resolveTopologyOptions()).toEqual({ router: false, clientNamespace: false, mtu: { clientRouter: 1500, routerServer: 1500 } });
    expect(resolveTopologyOptions({ router: true, mtu: { clientRouter: 1400 } }).mtu).toEqual({ clientRouter: 1400, routerServer: 1500 });
    expect(Object.isFrozen(TOPOLOGY_DEFAULTS)).toBe(true);
  });

  it('names the offending key', () => {
    expect(keyOf(() => resolveTopologyOptions({ router: 'yes' as never }))).toBe('router');
    expect(keyOf(() => resolveTopologyOptions({ clientNamespace: 1 as never }))).toBe('clientNamespace');
    expect(keyOf(() => resolveTopologyOptions({ routr: true } as never))).toBe('routr');
    expect(keyOf(() => resolveTopologyOptions({ router: true, mtu: { clientRouter: 40 } }))).toBe('mtu.clientRouter');
    expect(keyOf(() => resolveTopologyOptions({ router: true, mtu: { routerServer: 1400.5 } }))).toBe('mtu.routerServer');
    expect(keyOf(() => resolveTopologyOptions({ router: true, mtu: 1400 as never }))).toBe('mtu');
    expect(keyOf(() => resolveTopologyOptions({ mtu: { clientRouter: 1400 } }))).toBe('mtu');
    expect(keyOf(() => resolveTopologyOptions('router' as never))).toBe('createTopology() options');
  });

  it('rejects bad options before checking for root', async () => {
    await expect(createTopology({ router: 1 as never })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'router' } });
  });
});
