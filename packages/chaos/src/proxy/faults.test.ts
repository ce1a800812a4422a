import { readFileSync } from 'node:fs';
import net from 'node:net';
import { BreakwaterError } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { FAULT_PROXY_DEFAULTS, resolveFaultProxyOptions } from './defaults.js';
import { createFaultProxy } from './FaultProxy.js';
import { FAULT_DEFAULTS, FAULT_TYPES } from './faults.js';
import { resolveFault } from './validateFault.js';

/** The BreakwaterError thrown by `fn`, or a failure. */
function thrown(fn: () => unknown): BreakwaterError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BreakwaterError) return err;
    throw err;
  }
  throw new Error('expected a BreakwaterError');
}

describe('fault specs', () => {
  it('fill in their defaults', () => {
    expect(resolveFault({ type: 'latency', latencyMs: 10 }, 'f')).toEqual({
      id: 'f',
      type: 'latency',
      latencyMs: 10,
      jitterMs: 0,
      probability: 1,
      direction: 'both',
    });
    expect(resolveFault({ type: 'reset', afterBytes: 0, direction: 'upstream', probability: 0.5 }, 'f')).toMatchObject({
      afterBytes: 0,
      afterMs: undefined,
      direction: 'upstream',
      probability: 0.5,
    });
  });

  it.each([
    [{ type: 'latencee', latencyMs: 1 }, /`type` to be one of "latency", .*got "latencee"/],
    [{ latencyMs: 1 }, /`type`/],
    [{ type: 'latency', latencyMs: -1 }, /Expected `latencyMs` to be a number between 0 and 2147483647, got -1/],
    [{ type: 'latency' }, /`latencyMs`.*got undefined/],
    [{ type: 'latency', latencyMs: 1, jitterMs: Number.NaN }, /`jitterMs`/],
    [{ type: 'latency', latencyMs: 1, probability: 1.5 }, /Expected `probability` to be a number between 0 and 1, got 1\.5/],
    [{ type: 'blackhole', probability: -0.1 }, /`probability`/],
    [{ type: 'blackhole', direction: 'sideways' }, /`direction` to be one of "upstream", "downstream", "both"/],
    [{ type: 'bandwidth', bytesPerSecond: 0 }, /`bytesPerSecond` to be a number >= 1/],
    [{ type: 'slicer', averageSize: 1.5 }, /`averageSize` to be an integer/],
    [{ type: 'slicer', averageSize: 10, sizeVariation: -1 }, /`sizeVariation`/],
    [{ type: 'reset', afterMs: -5 }, /`afterMs`/],
    [{ type: 'reset', afterMs: 5, afterBytes: 5 }, /only one of `afterMs` and `afterBytes`/],
    [{ type: 'halfClose', afterBytes: 1.5 }, /`afterBytes` to be an integer/],
    [{ type: 'slowClose', delayMs: 3e9 }, /`delayMs`/],
    [{ type: 'limitData', bytes: -1 }, /`bytes`/],
    [{ type: 'idleReset', idleMs: -1 }, /`idleMs`/],
    [{ type: 'idleReset', idleMs: 10, direction: 'upstream' }, /Unknown option `direction` in the idleReset fault spec/],
    [{ type: 'latency', latncyMs: 1 }, /Unknown option `latncyMs`/],
    ['latency', /Expected `fault` to be a fault object/],
    [null, /Expected `fault` to be a fault object/],
  ])('reject %j naming the key', (spec, message) => {
    const err = thrown(() => resolveFault(spec, 'f'));
    expect(err.code).toBe('BW_ERR_INVALID_OPTION');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(message);
  });
});

describe('createFaultProxy() options', () => {
  it('resolve with defaults and a random seed', () => {
    const o = resolveFaultProxyOptions({ target: { port: 5432 } });
    expect(o).toMatchObject({ target: { host: '127.0.0.1', port: 5432 }, listen: { host: '127.0.0.1', port: 0 }, faults: [], maxBufferedBytes: 1_048_576 });
    expect(Number.isInteger(o.seed)).toBe(true);
  });

  it.each([
    [undefined, /`target`/],
    [{}, /`target`/],
    [{ target: { port: 0 } }, /`target.port` to be an integer between 1 and 65535, got 0/],
    [{ target: { host: '', port: 1 } }, /`target.host`/],
    [{ target: { port: 1, hots: 'x' } }, /Unknown option `hots`/],
    [{ target: { port: 1 }, listen: { port: 70_000 } }, /`listen.port` to be an integer between 0 and 65535, got 70000/],
    [{ target: { port: 1 }, seed: -1 }, /`seed` to be an integer between 0 and 4294967295/],
    [{ target: { port: 1 }, seed: 1.5 }, /`seed`/],
    [{ target: { port: 1 }, maxBufferedBytes: 0 }, /`maxBufferedBytes`/],
    [{ target: { port: 1 }, faults: { type: 'latency' } }, /`faults` to be an array/],
    [{ target: { port: 1 }, fault: [] }, /Unknown option `fault`.*did you mean `faults`/],
  ])('reject %j naming the key', (options, message) => {
    const err = thrown(() => resolveFaultProxyOptions(options));
    expect(err.code).toBe('BW_ERR_INVALID_OPTION');
    expect(err.message).toMatch(message);
  });

  it('reject a bad fault in the list by its index, before taking a port', async () => {
    const faults = [
      { type: 'latency', latencyMs: 1 },
      { type: 'bandwidth', bytesPerSecond: -5 },
    ] as const;
    await expect(createFaultProxy({ target: { port: 1 }, faults: faults as never })).rejects.toMatchObject({
      code: 'BW_ERR_INVALID_OPTION',
      message: expect.stringContaining('`faults[1].bytesPerSecond`'),
    });
  });

  it('report a taken listen port as a classified error', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(createFaultProxy({ target: { port: 1 }, listen: { port } })).rejects.toMatchObject({ details: { errno: 'EADDRINUSE' } });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('leave the faults unchanged when addFault() or setFaults() gets a bad spec', async () => {
    await using proxy = await createFaultProxy({ target: { port: 1 }, faults: [{ type: 'blackhole' }] });
    const before = proxy.faults;
    expect(() => proxy.addFault({ type: 'latency', latencyMs: -1 })).toThrow(/`latencyMs`/);
    expect(() => proxy.setFaults([{ type: 'blackhole' }, { type: 'limitData', bytes: -1 }])).toThrow(/`faults\[1\]\.bytes`/);
    expect(proxy.faults).toEqual(before);
  });
});

describe('README.md', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const cells = (line: string) =>
    line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  const rows = readme
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map(cells);

  it('lists every fault field with the default the code uses', () => {
    const documented = new Map<string, string>();
    for (const [fault, field, , value] of rows) {
      const type = /^`(\w+)`$/.exec(fault ?? '')?.[1];
      const name = /^`(\w+)`$/.exec(field ?? '')?.[1];
      if (type !== undefined && (FAULT_TYPES as readonly string[]).includes(type)) documented.set(`${type}.${name ?? '—'}`, value ?? '');
    }
    for (const type of FAULT_TYPES) {
      const fields = Object.keys(resolveFault(minimal(type), 'f')).filter((k) => !['id', 'type', 'probability', 'direction'].includes(k));
      if (fields.length === 0) expect(documented.has(`${type}.—`), `README row for ${type}`).toBe(true);
      for (const field of fields) {
        const expected = (FAULT_DEFAULTS[type] as Record<string, unknown>)[field];
        const shown = documented.get(`${type}.${field}`);
        expect(shown, `README row for ${type}.${field}`).toBeDefined();
        if (expected !== undefined) expect(shown).toBe(String(expected));
        else expect(['required', 'none']).toContain(shown);
      }
    }
  });

  it('gives the common field defaults and the proxy defaults the code uses', () => {
    const byFirst = new Map(rows.map((r) => [r[0], r]));
    for (const type of FAULT_TYPES) expect(FAULT_DEFAULTS[type].probability).toBe(1);
    expect(byFirst.get('`probability`')?.[1]).toBe('1');
    expect(byFirst.get('`direction`')?.[1]).toBe(`\`'${FAULT_DEFAULTS.latency.direction}'\``);
    expect(byFirst.get('`maxBufferedBytes`')?.[1]?.replace(/_/g, '')).toBe(String(FAULT_PROXY_DEFAULTS.maxBufferedBytes));
    expect(byFirst.get('`listen.port`')?.[1]).toBe(String(FAULT_PROXY_DEFAULTS.listenPort));
    expect(byFirst.get('`listen.host`')?.[1]).toBe(`\`'${FAULT_PROXY_DEFAULTS.listenHost}'\``);
  });
});

/** The smallest valid spec of each type, to list its resolved fields. */
function minimal(type: (typeof FAULT_TYPES)[number]): unknown {
  const required: Record<string, Record<string, number>> = {
    latency: { latencyMs: 1 },
    bandwidth: { bytesPerSecond: 1 },
    slicer: { averageSize: 1 },
    slowClose: { delayMs: 1 },
    limitData: { bytes: 1 },
    idleReset: { idleMs: 1 },
  };
  return { type, ...required[type] };
}
