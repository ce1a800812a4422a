import { describe, expect, it } from 'vitest';
import { isPidAlive, MAX_INTERFACE_NAME_LENGTH, MAX_TOPOLOGY_INDEX, ownerPidOf, probeNamespaceName, topologyNames } from './names.js';

describe('topologyNames', () => {
  it('puts the owner pid in every name', () => {
    const names = topologyNames(4242, 51);
    expect(names.namespace('server')).toBe('bw-4242-1f-server');
    expect(names.link('client', 'router')).toBe('bw4242-1fcr');
    expect(names.link('router', 'client')).toBe('bw4242-1frc');
    expect(names.rootTable).toBe('bw_4242_1f');
    for (const name of [names.namespace('client'), names.link('server', 'router'), names.rootTable, probeNamespaceName(4242, 3)]) {
      expect(ownerPidOf(name)).toBe(4242);
    }
  });

  it('keeps veth names within IFNAMSIZ for the largest pid and index', () => {
    const names = topologyNames(4_194_304, MAX_TOPOLOGY_INDEX);
    for (const [a, b] of [
      ['client', 'router'],
      ['router', 'server'],
      ['server', 'client'],
    ] as const) {
      expect(names.link(a, b).length).toBeLessThanOrEqual(MAX_INTERFACE_NAME_LENGTH);
    }
  });

  it('gives every end of every topology of a process a distinct name', () => {
    const seen = new Set<string>();
    for (let index = 0; index < 200; index++) {
      const n = topologyNames(77, index);
      for (const name of [
        n.link('client', 'server'),
        n.link('server', 'client'),
        n.link('client', 'router'),
        n.link('router', 'client'),
        n.namespace('server'),
      ]) {
        expect(seen.has(name)).toBe(false);
        seen.add(name);
      }
    }
  });

  it('rejects pids and indices it cannot encode', () => {
    expect(() => topologyNames(0, 0)).toThrow(RangeError);
    expect(() => topologyNames(4_194_305, 0)).toThrow(RangeError);
    expect(() => topologyNames(1, MAX_TOPOLOGY_INDEX + 1)).toThrow(RangeError);
    expect(() => topologyNames(1, -1)).toThrow(RangeError);
  });
});

describe('ownerPidOf', () => {
  it('ignores names that are not the harness’s', () => {
    for (const name of ['eth0', 'lo', 'bwtest', 'bw-x-1-server', 'docker0', 'table', 'bw_abc_1']) expect(ownerPidOf(name)).toBeUndefined();
  });
});

describe('isPidAlive', () => {
  it('is true for this process and false for a pid that cannot exist', () => {
    expect(isPidAlive(process.pid)).toBe(true);
    expect(isPidAlive(4_194_304 + 1)).toBe(false);
  });
});
