import type { Check } from './Check.js';
import { ownersOf, readTcpTables, TCP_STATE } from './sockets.js';
import { type Finding, sysctlFix } from './types.js';

const conntrack: Check = {
  id: 'conntrack-usage',
  run({ proc, o }) {
    const count = proc.sysctlInt('net.netfilter.nf_conntrack_count', { absentIsNormal: true });
    const max = proc.sysctlInt('net.netfilter.nf_conntrack_max', { absentIsNormal: true });
    if (count === undefined || max === undefined) {
      if (!proc.skipped.some((s) => s.what.includes('nf_conntrack'))) {
        proc.skip(proc.path('sys/net/netfilter/nf_conntrack_count'), 'not present: nf_conntrack is not loaded here (no table that can fill up)');
      }
      return undefined;
    }
    const ratio = max > 0 ? count / max : 1;
    if (ratio < o.conntrackWarnRatio) return [];
    return [
      {
        id: 'conntrack-usage',
        severity: ratio >= 0.95 ? 'error' : 'warning',
        title: `The conntrack table is ${(ratio * 100).toFixed(0)}% full (${count} of ${max})`,
        why: 'When it is full the kernel drops new packets with only a "nf_conntrack: table full" line in dmesg: connections fail as silent SYN drops (FM-05).',
        failureModes: ['FM-05'],
        current: { 'net.netfilter.nf_conntrack_count': count, 'net.netfilter.nf_conntrack_max': max },
        fix: sysctlFix(
          [['net.netfilter.nf_conntrack_max', Math.max(262_144, max * 2)]],
          'Each entry costs ≈ 320 bytes. Also consider net.netfilter.nf_conntrack_tcp_timeout_time_wait = 60.',
        ),
      },
    ];
  },
};

const tcpMemory: Check = {
  id: 'tcp-memory-pressure',
  run({ proc }) {
    const sockstat = proc.read('net/sockstat');
    const limits = proc.sysctlInts('net.ipv4.tcp_mem', 3);
    if (sockstat === undefined || limits === undefined) return undefined;
    const m = /^TCP:.*\bmem (\d+)/m.exec(sockstat);
    if (m === null) return proc.skip(proc.path('net/sockstat'), 'no "TCP: … mem N" line');
    const pages = Number(m[1]);
    if (pages < limits[1]!) return [];
    return [
      {
        id: 'tcp-memory-pressure',
        severity: pages >= limits[2]! ? 'error' : 'warning',
        title: `TCP memory is under pressure (${pages} pages used, pressure at ${limits[1]})`,
        why: 'Above the pressure threshold the kernel shrinks every socket buffer; at the hard limit it drops data and orphaned sockets: throughput falls and connections stall (FM-10).',
        failureModes: ['FM-10'],
        current: { 'net.ipv4.tcp_mem': limits.join(' '), 'sockstat TCP mem': pages },
        fix: sysctlFix(
          [['net.ipv4.tcp_mem', limits.map((l) => l * 2).join(' ')]],
          'Find what holds the memory first: often readers that stopped reading (FM-10).',
        ),
      },
    ];
  },
};

function top(counts: Map<string, number>, n: number): [string, number][] {
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n);
}

const timeWait: Check = {
  id: 'time-wait-per-destination',
  run({ proc }) {
    const entries = readTcpTables(proc);
    const range = proc.sysctlInts('net.ipv4.ip_local_port_range', 2);
    if (entries === undefined || range === undefined) return undefined;
    const ports = range[1]! - range[0]! + 1;
    const byDest = new Map<string, number>();
    for (const e of entries) if (e.state === TCP_STATE.TIME_WAIT) byDest.set(e.remote, (byDest.get(e.remote) ?? 0) + 1);
    const [worst] = top(byDest, 1);
    if (worst === undefined || worst[1] < ports / 2) return [];
    return [
      {
        id: 'time-wait-per-destination',
        severity: worst[1] >= ports * 0.9 ? 'error' : 'warning',
        title: `${worst[1]} sockets in TIME_WAIT to ${worst[0]}, of ${ports} local ports`,
        why: 'A connection per request to one destination is using up the ephemeral ports; when they run out, connect() fails with EADDRNOTAVAIL (FM-03).',
        failureModes: ['FM-03'],
        current: Object.fromEntries(top(byDest, 3)),
        fix: sysctlFix([['net.ipv4.tcp_tw_reuse', 1]], 'Reuse connections (a pool, HTTP keep-alive); widen ip_local_port_range.'),
      },
    ];
  },
};

const closeWait: Check = {
  id: 'close-wait',
  run({ proc, o }) {
    const entries = readTcpTables(proc);
    if (entries === undefined) return undefined;
    const stuck = entries.filter((e) => e.state === TCP_STATE.CLOSE_WAIT);
    if (stuck.length === 0) return [];
    const { owners, denied } = ownersOf(proc, new Set(stuck.map((e) => e.inode)));
    if (owners.size < stuck.length && denied > 0) {
      proc.skip(
        `${proc.path('<pid>/fd')} (${denied} processes)`,
        'not readable (other users’ processes; run as root to see them): their CLOSE_WAIT sockets are grouped by uid',
      );
    }
    const groups = new Map<string, { pid?: number; command?: string; uid: number; count: number; peers: Map<string, number> }>();
    for (const e of stuck) {
      const owner = owners.get(e.inode);
      const key = owner === undefined ? `uid ${e.uid}` : `pid ${owner.pid}`;
      const g = groups.get(key) ?? { ...owner, uid: e.uid, count: 0, peers: new Map() };
      g.count++;
      g.peers.set(e.remote, (g.peers.get(e.remote) ?? 0) + 1);
      groups.set(key, g);
    }
    return [...groups.values()]
      .sort((a, b) => b.count - a.count)
      .map((g): Finding => {
        const who = g.pid === undefined ? `a process of uid ${g.uid} (not readable)` : `${g.command} (pid ${g.pid})`;
        return {
          id: 'close-wait',
          severity: g.count >= o.closeWaitWarnCount ? 'warning' : 'info',
          title: `${g.count} socket${g.count === 1 ? '' : 's'} in CLOSE_WAIT held by ${who}`,
          why: 'The peer closed these connections but the process never closed its end: a leak that holds file descriptors and pool slots until the process exits (FM-17).',
          failureModes: ['FM-17'],
          current: {
            ...(g.pid === undefined ? {} : { pid: g.pid, command: g.command ?? '?' }),
            uid: g.uid,
            closeWait: g.count,
            peers: top(g.peers, 3)
              .map(([p, n]) => `${p} ×${n}`)
              .join(', '),
          },
          fix: {
            commands: g.pid === undefined ? [] : [`ls -l /proc/${g.pid}/fd | grep socket:`],
            persist: [],
            note: 'Fix the code: close or destroy the socket when the peer ends it (the "end"/"close" events); pools must evict closed connections. Restarting the process releases them now.',
          },
        };
      });
  },
};

export const tableChecks: readonly Check[] = [conntrack, tcpMemory, timeWait, closeWait];
