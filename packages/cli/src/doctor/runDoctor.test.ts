import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BROKEN, CLEAN, FOOTGUNS, writeTree } from '../../test-fixtures/procTrees.js';
import { DOCTOR_CHECKS, runDoctor } from './runDoctor.js';
import { decodeAddress, parseTcpTable } from './sockets.js';
import { retransmitGiveUpMs } from './timeoutChecks.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'bw-doctor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tree = (name: string, t: Parameters<typeof writeTree>[1]) => writeTree(path.join(tmp, name), t);
const roots = (dir: string) => ({ procRoot: path.join(dir, 'proc'), etcRoot: path.join(dir, 'etc') });

describe('doctor on a tree with every footgun (FM-18)', async () => {
  const report = await runDoctor(roots(tree('footguns', FOOTGUNS)));
  const byId = (id: string) => report.findings.filter((f) => f.id === id);
  const one = (id: string) => {
    const [f] = byId(id);
    expect(f, `finding ${id}`).toBeDefined();
    return f!;
  };

  it.each([
    ['keepalive-sysctls', 'warning', 'sysctl -w net.ipv4.tcp_keepalive_time=280'],
    ['tcp-retries2', 'warning', 'sysctl -w net.ipv4.tcp_retries2=8'],
    ['tcp-tw-recycle', 'error', 'sysctl -w net.ipv4.tcp_tw_recycle=0'],
    ['tcp-tw-reuse', 'warning', 'sysctl -w net.ipv4.tcp_tw_reuse=1'],
    ['ip-local-port-range', 'error', 'sysctl -w net.ipv4.ip_local_port_range="10240 65535"'],
    ['tcp-fin-timeout', 'warning', 'sysctl -w net.ipv4.tcp_fin_timeout=60'],
    ['socket-buffers', 'warning', 'sysctl -w net.ipv4.tcp_rmem="4096 87380 16777216"'],
    ['tcp-window-scaling', 'error', 'sysctl -w net.ipv4.tcp_window_scaling=1'],
    ['tcp-sack', 'warning', 'sysctl -w net.ipv4.tcp_sack=1'],
    ['tcp-slow-start-after-idle', 'warning', 'sysctl -w net.ipv4.tcp_slow_start_after_idle=0'],
    ['tcp-mtu-probing', 'warning', 'sysctl -w net.ipv4.tcp_mtu_probing=1'],
    ['bbr-without-fq', 'warning', 'sysctl -w net.core.default_qdisc=fq'],
    ['listen-backlog', 'warning', 'sysctl -w net.core.somaxconn=4096'],
    ['conntrack-usage', 'error', 'sysctl -w net.netfilter.nf_conntrack_max=262144'],
    ['tcp-memory-pressure', 'warning', 'sysctl -w net.ipv4.tcp_mem="20000 40000 80000"'],
    ['time-wait-per-destination', 'warning', 'sysctl -w net.ipv4.tcp_tw_reuse=1'],
  ])('reports %s (%s) with its sysctl fix and /etc/sysctl.d line', (id, severity, command) => {
    const f = one(id);
    expect(f.severity).toBe(severity);
    expect(f.fix.commands).toContain(command);
    expect(f.fix.file).toBe('/etc/sysctl.d/90-breakwater.conf');
    const [key, value] = command.replace('sysctl -w ', '').split('=') as [string, string];
    expect(f.fix.persist).toContain(`${key} = ${value.replaceAll('"', '')}`);
    expect(f.why).toMatch(new RegExp(`[( ]${f.failureModes[0]}\\)`));
    expect(Object.keys(f.current).length).toBeGreaterThan(0);
  });

  it('explains the 15-minute hang with the kernel’s arithmetic (FM-02)', () => {
    expect(retransmitGiveUpMs(15)).toBe(924_600);
    expect(one('tcp-retries2').title).toContain('15.4 min');
    expect(one('ip-local-port-range').title).toContain('≈ 1 new connections/s');
  });

  it('finds tcp_tw_recycle left in old sysctl files', () => {
    const f = one('tcp-tw-recycle-config');
    expect(Object.keys(f.current)).toEqual([path.join(tmp, 'footguns/etc/sysctl.conf')]);
    expect(f.fix.commands[0]).toMatch(/^sed -i '\/tcp_tw_recycle\/d' /);
  });

  it('lists CLOSE_WAIT sockets by process, then by uid where fds are unreadable (FM-17)', () => {
    const cw = byId('close-wait');
    expect(cw.map((f) => [f.severity, f.current.command, f.current.closeWait])).toEqual([
      ['warning', 'leaky-node', 12],
      ['info', undefined, 2],
      ['info', 'api', 1],
    ]);
    expect(cw[0]!.current).toMatchObject({ pid: 4242, peers: '10.0.0.9:6379 ×12' });
    expect(cw[1]!.title).toContain('uid 1001');
    expect(cw[2]!.current.peers).toBe('[::1]:8080 ×1');
    expect(report.skipped.some((s) => s.reason.includes('grouped by uid'))).toBe(true);
  });

  it('reports every check as a finding, errors first', () => {
    expect(new Set(report.findings.map((f) => f.id))).toEqual(new Set(DOCTOR_CHECKS.map((c) => c.id)));
    expect(report.passed).toEqual([]);
    const ranks = report.findings.map((f) => ['error', 'warning', 'info'].indexOf(f.severity));
    expect(ranks).toEqual([...ranks].sort());
    expect(report.summary).toEqual({ errors: 4, warnings: 14, infos: 2 });
  });
});

describe('doctor on a clean tree', () => {
  it('reports no warnings or errors, and every check passes', async () => {
    const report = await runDoctor(roots(tree('clean', CLEAN)));
    expect(report.findings).toEqual([]);
    expect(report.skipped).toEqual([]);
    expect(report.passed).toEqual(DOCTOR_CHECKS.map((c) => c.id));
  });
});

describe('doctor on a tree it cannot fully read', () => {
  it('lists what it skipped and why, and does not crash', async () => {
    const dir = tree('broken', BROKEN);
    const report = await runDoctor(roots(dir));
    const reasons = Object.fromEntries(report.skipped.map((s) => [s.what.replace(`${dir}/proc/`, ''), s.reason]));
    expect(reasons['sys/net/ipv4/tcp_retries2']).toBe('is a directory, expected a file');
    expect(reasons['net.ipv4.ip_local_port_range']).toBe('unparseable value "lots"');
    expect(reasons['sys/net/ipv4/tcp_keepalive_intvl']).toBe('not present');
    expect(reasons['net/tcp']).toBe('not present');
    expect(reasons['sys/net/netfilter/nf_conntrack_count']).toMatch(/nf_conntrack is not loaded/);
    if (process.getuid?.() !== 0) expect(reasons['sys/net/ipv4/tcp_keepalive_time']).toMatch(/permission denied/);
    expect(report.passed).toEqual(['tcp-tw-recycle', 'tcp-tw-recycle-config', 'tcp-tw-reuse']);
    expect(report.findings).toEqual([]);
  });

  it('refuses a directory that is not a procfs tree', async () => {
    await expect(runDoctor({ procRoot: tmp + '/nowhere' })).rejects.toMatchObject({ code: 'BW_ERR_UNSUPPORTED' });
  });

  it('names the option and its range for bad input', async () => {
    await expect(runDoctor({ connRate: -1 })).rejects.toThrow(/Expected `connRate` to be a number between/);
  });
});

describe('/proc/net/tcp parsing', () => {
  it('decodes little-endian IPv4 and IPv6 addresses', () => {
    expect(decodeAddress('0100007F', true)).toBe('127.0.0.1');
    expect(decodeAddress('7F000001', false)).toBe('127.0.0.1');
    expect(decodeAddress('00000000000000000000000001000000', true)).toBe('::1');
    expect(decodeAddress('B80D0120000000000000000001000000', true)).toBe('2001:db8::1');
  });

  it('skips headers and malformed lines', () => {
    const text = `header\n   0: 0100007F:1F90 0500000A:1538 08 00000000:00000000 00:00000000 00000000  1000 0 4242 1\nnonsense\n`;
    expect(parseTcpTable(text)).toEqual([{ local: '127.0.0.1:8080', remote: '10.0.0.5:5432', state: 8, uid: 1000, inode: 4242 }]);
  });
});
