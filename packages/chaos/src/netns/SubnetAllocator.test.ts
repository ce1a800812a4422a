import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planSubnet, SUBNET_COUNT, SubnetAllocator, subnetIndexOf, subnetPrefix, subnetsInUse } from './SubnetAllocator.js';

describe('subnet arithmetic', () => {
  it('maps indices onto 198.18.0.0/15 only', () => {
    expect(subnetPrefix(0)).toBe('198.18.0');
    expect(subnetPrefix(255)).toBe('198.18.255');
    expect(subnetPrefix(256)).toBe('198.19.0');
    expect(subnetPrefix(SUBNET_COUNT - 1)).toBe('198.19.255');
    expect(() => subnetPrefix(SUBNET_COUNT)).toThrow(RangeError);
    for (let i = 0; i < SUBNET_COUNT; i++) expect(subnetIndexOf(`${subnetPrefix(i)}.9`)).toBe(i);
    expect(subnetIndexOf('10.0.0.1')).toBeUndefined();
    expect(subnetIndexOf('198.20.0.1')).toBeUndefined();
  });

  it('carves two /30 links out of the /24', () => {
    const plan = planSubnet(300);
    expect(plan.cidr).toBe('198.19.44.0/24');
    expect(plan.first).toEqual({ cidr: '198.19.44.0/30', near: '198.19.44.1', far: '198.19.44.2' });
    expect(plan.second).toEqual({ cidr: '198.19.44.4/30', near: '198.19.44.5', far: '198.19.44.6' });
  });

  it('reads the /24s already used from ip output', () => {
    const output = [
      '4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0',
      '9: bw1-0cs    inet 198.18.7.1/30 scope global bw1-0cs',
      '198.19.3.4/30 via 198.19.3.2 dev bw1-1cr',
      '198.18.0.0/15 via 192.0.2.1 dev eth0',
    ].join('\n');
    expect([...subnetsInUse(output)].sort((a, b) => a - b)).toEqual([7, 259]);
  });
});

describe('SubnetAllocator', () => {
  let lockDir: string;
  beforeEach(() => {
    lockDir = mkdtempSync(join(tmpdir(), 'bw-subnets-'));
  });
  afterEach(() => rmSync(lockDir, { recursive: true, force: true }));

  const sequence = (...values: number[]) => {
    let i = 0;
    return () => (values[i++ % values.length] ?? 0) / SUBNET_COUNT;
  };

  it('never hands out one /24 twice while it is held, and reuses it after release', () => {
    const a = new SubnetAllocator({ lockDir, random: sequence(5), pid: 100, isAlive: () => true, maxAttempts: 3 });
    const b = new SubnetAllocator({ lockDir, random: sequence(5, 5, 6), pid: 200, isAlive: () => true, maxAttempts: 3 });
    const first = a.acquire();
    expect(first.index).toBe(5);
    const second = b.acquire();
    expect(second.index).toBe(6);
    expect(() => a.acquire()).toThrow(/no free \/24/);
    first.release();
    first.release();
    expect(a.acquire().index).toBe(5);
  });

  it('skips /24s in use in the root namespace', () => {
    const lease = new SubnetAllocator({ lockDir, random: sequence(1, 2, 3), pid: 1 }).acquire(new Set([1, 2]));
    expect(lease.index).toBe(3);
  });

  it('takes over the lock of a dead owner, not of a live one', () => {
    writeFileSync(join(lockDir, '198.18.9.0.lock'), '999\n');
    const live = new SubnetAllocator({ lockDir, random: sequence(9), pid: 1, isAlive: () => true, maxAttempts: 2 });
    expect(() => live.acquire()).toThrow(/no free/);
    const lease = new SubnetAllocator({ lockDir, random: sequence(9), pid: 1, isAlive: (pid) => pid !== 999 }).acquire();
    expect(lease.index).toBe(9);
    lease.release();
    expect(readdirSync(lockDir)).toEqual([]);
  });

  it('leaves an empty lock alone: its writer may be mid-write', () => {
    writeFileSync(join(lockDir, '198.18.9.0.lock'), '');
    expect(() => new SubnetAllocator({ lockDir, random: sequence(9), pid: 1, isAlive: () => false, maxAttempts: 2 }).acquire()).toThrow(/no free/);
  });

  it('hands out distinct /24s to many random allocations', () => {
    const leases = Array.from({ length: 100 }, (_, i) => new SubnetAllocator({ lockDir, pid: i + 1, isAlive: () => true, maxAttempts: 512 }).acquire());
    expect(new Set(leases.map((l) => l.index)).size).toBe(100);
    for (const l of leases) l.release();
    expect(readdirSync(lockDir)).toEqual([]);
  });
});
