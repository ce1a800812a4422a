import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Check, seconds } from './Check.js';
import { type Finding, sysctlFix } from './types.js';

const KA = ['net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes'] as const;

/** Time for unacknowledged data to fail: RTO from 200 ms, doubling, capped at 120 s, retries2 + 1 timeouts. */
export function retransmitGiveUpMs(retries2: number): number {
  let total = 0;
  for (let i = 0; i <= retries2; i++) total += Math.min(200 * 2 ** i, 120_000);
  return total;
}

const keepalive: Check = {
  id: 'keepalive-sysctls',
  run({ proc, o }) {
    const [time, intvl, probes] = KA.map((k) => proc.sysctlInt(k));
    if (time === undefined || intvl === undefined || probes === undefined) return undefined;
    const idleS = o.pathIdleTimeoutMs / 1000;
    const detectS = time + intvl * probes;
    if (time < idleS && detectS <= 900) return [];
    const want = [Math.min(time, 300, Math.floor(idleS * 0.8)), Math.min(intvl, 30), Math.min(probes, 5)] as const;
    return [
      {
        id: 'keepalive-sysctls',
        severity: 'warning',
        title: `TCP keepalive starts after ${seconds(time)} and detects a dead peer after ${seconds(detectS)}`,
        why:
          `A NAT or load balancer on the path forgets an idle flow after ${seconds(idleS)}; sockets that do not set their own keepalive ` +
          `send the first probe after ${seconds(time)}, so a crashed or vanished peer goes unnoticed for ${seconds(detectS)} (FM-01).`,
        failureModes: ['FM-01'],
        current: Object.fromEntries(KA.map((k, i) => [k, [time, intvl, probes][i]!])),
        fix: sysctlFix(
          KA.map((k, i) => [k, want[i]!]),
          'Breakwater sockets set their own keepalive (5 s / 2 s × 5); this protects every other client on the host.',
        ),
      },
    ];
  },
};

const retries2: Check = {
  id: 'tcp-retries2',
  run({ proc, o }) {
    const r = proc.sysctlInt('net.ipv4.tcp_retries2');
    if (r === undefined) return undefined;
    const ms = retransmitGiveUpMs(r);
    if (ms <= o.maxRetransmitMs) return [];
    let want = 5;
    while (want < r && retransmitGiveUpMs(want + 1) <= o.maxRetransmitMs) want++;
    return [
      {
        id: 'tcp-retries2',
        severity: 'warning',
        title: `Unacknowledged data hangs ≈ ${seconds(ms / 1000)} before the kernel gives up (tcp_retries2 = ${r})`,
        why: `A peer that vanishes while a write is in flight is retried ${r} times with exponential backoff: a request blocks for ≈ ${seconds(ms / 1000)} (the 15-minute hang, FM-02).`,
        failureModes: ['FM-02'],
        current: { 'net.ipv4.tcp_retries2': r },
        fix: sysctlFix(
          [['net.ipv4.tcp_retries2', want]],
          `≈ ${seconds(retransmitGiveUpMs(want) / 1000)}. Breakwater sockets set TCP_USER_TIMEOUT per socket instead, which bounds it to seconds.`,
        ),
      },
    ];
  },
};

const twRecycle: Check = {
  id: 'tcp-tw-recycle',
  run({ proc }) {
    const v = proc.sysctlInt('net.ipv4.tcp_tw_recycle', { absentIsNormal: true });
    if (v === undefined || v === 0) return [];
    return [
      {
        id: 'tcp-tw-recycle',
        severity: 'error',
        title: 'tcp_tw_recycle is on: clients behind one NAT are dropped at random',
        why: 'It rejects SYNs whose TCP timestamps go backwards per source IP; clients sharing a NAT have unrelated clocks, so some connect and some hang (SYN drop, FM-05). Linux removed it in 4.12.',
        failureModes: ['FM-05', 'FM-18'],
        current: { 'net.ipv4.tcp_tw_recycle': v },
        fix: sysctlFix([['net.ipv4.tcp_tw_recycle', 0]], 'Remove the key from every sysctl file; use tcp_tw_reuse = 1 for outbound connections.'),
      },
    ];
  },
};

/** Old playbooks still write tcp_tw_recycle; on ≥ 4.12 `sysctl --system` fails on it, on older kernels it is live. */
const twRecycleConfig: Check = {
  id: 'tcp-tw-recycle-config',
  run({ o }) {
    const files = [path.join(o.etcRoot, 'sysctl.conf')];
    try {
      const dir = path.join(o.etcRoot, 'sysctl.d');
      for (const f of readdirSync(dir).sort()) if (f.endsWith('.conf')) files.push(path.join(dir, f));
    } catch {}
    const hits: Record<string, string> = {};
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch {
        continue;
      }
      const line = text.split('\n').find((l) => /^\s*net[./]ipv4[./]tcp_tw_recycle\s*=/.test(l));
      if (line !== undefined) hits[f] = line.trim();
    }
    if (Object.keys(hits).length === 0) return [];
    return [
      {
        id: 'tcp-tw-recycle-config',
        severity: 'warning',
        title: `tcp_tw_recycle is still set in ${Object.keys(hits).join(', ')}`,
        why: 'The key was removed in Linux 4.12: `sysctl --system` reports an error for it, and on an older kernel it drops clients behind NAT (FM-05).',
        failureModes: ['FM-05', 'FM-18'],
        current: hits,
        fix: {
          commands: Object.keys(hits).map((f) => `sed -i '/tcp_tw_recycle/d' ${f}`),
          persist: [],
          note: 'Delete the line; set net.ipv4.tcp_tw_reuse = 1 instead.',
        },
      },
    ];
  },
};

const twReuse: Check = {
  id: 'tcp-tw-reuse',
  run({ proc }) {
    const v = proc.sysctlInt('net.ipv4.tcp_tw_reuse');
    if (v === undefined) return undefined;
    if (v === 1) return [];
    return [
      {
        id: 'tcp-tw-reuse',
        severity: v === 0 ? 'warning' : 'info',
        title: v === 0 ? 'tcp_tw_reuse is off' : 'tcp_tw_reuse reuses TIME_WAIT ports for loopback only (the default, 2)',
        why: 'Outbound connections to one destination cannot reuse a port still in TIME_WAIT (60 s), so short-lived connections run out of ports (EADDRNOTAVAIL, FM-03). Reuse is safe for outbound connections, behind NAT too.',
        failureModes: ['FM-03'],
        current: { 'net.ipv4.tcp_tw_reuse': v },
        fix: sysctlFix([['net.ipv4.tcp_tw_reuse', 1]]),
      },
    ];
  },
};

const portRange: Check = {
  id: 'ip-local-port-range',
  run({ proc, o }) {
    const range = proc.sysctlInts('net.ipv4.ip_local_port_range', 2);
    if (range === undefined) return undefined;
    const [lo, hi] = range as [number, number];
    const ports = hi - lo + 1;
    const perSecond = ports / 60;
    if (o.connRate <= perSecond / 2) return [];
    const finding: Finding = {
      id: 'ip-local-port-range',
      severity: o.connRate > perSecond ? 'error' : 'warning',
      title: `${ports} ephemeral ports allow ≈ ${Math.floor(perSecond)} new connections/s to one destination; expected ${o.connRate}/s`,
      why: `Every closed connection holds its port in TIME_WAIT for 60 s, so ${ports} ports / 60 s is the ceiling per destination ip:port; above it connect() fails with EADDRNOTAVAIL (FM-03).`,
      failureModes: ['FM-03'],
      current: { 'net.ipv4.ip_local_port_range': `${lo} ${hi}` },
      fix: sysctlFix(
        [['net.ipv4.ip_local_port_range', '10240 65535']],
        `≈ 921 connections/s per destination. ${o.connRate > 921 ? 'No range is enough for this rate: ' : ''}Pool and reuse connections (Breakwater pools do by default) and set tcp_tw_reuse = 1.`,
      ),
    };
    return [finding];
  },
};

const finTimeout: Check = {
  id: 'tcp-fin-timeout',
  run({ proc }) {
    const v = proc.sysctlInt('net.ipv4.tcp_fin_timeout');
    if (v === undefined) return undefined;
    if (v >= 30) return [];
    return [
      {
        id: 'tcp-fin-timeout',
        severity: 'warning',
        title: `tcp_fin_timeout lowered to ${v} s, probably to shorten TIME_WAIT`,
        why: 'It only bounds FIN_WAIT_2; TIME_WAIT stays 60 s on Linux, so it does not prevent port exhaustion (FM-03) and only drops slow peers’ last data. Pool connections instead.',
        failureModes: ['FM-03'],
        current: { 'net.ipv4.tcp_fin_timeout': v },
        fix: sysctlFix([['net.ipv4.tcp_fin_timeout', 60]]),
      },
    ];
  },
};

export const timeoutChecks: readonly Check[] = [keepalive, retries2, twRecycle, twRecycleConfig, twReuse, portRange, finTimeout];
