import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { bytes, type Check, MiB, pow2AtLeast } from './Check.js';
import { type Finding, sysctlFix } from './types.js';

const run = promisify(execFile);

const buffers: Check = {
  id: 'socket-buffers',
  run({ proc, o }) {
    const rmemMax = proc.sysctlInt('net.core.rmem_max');
    const wmemMax = proc.sysctlInt('net.core.wmem_max');
    const tcpRmem = proc.sysctlInts('net.ipv4.tcp_rmem', 3);
    const tcpWmem = proc.sysctlInts('net.ipv4.tcp_wmem', 3);
    if (rmemMax === undefined || wmemMax === undefined || tcpRmem === undefined || tcpWmem === undefined) return undefined;
    const bdp = Math.round(((o.bandwidthMbps * 1e6) / 8) * (o.rttMs / 1000));
    const want = Math.max(16 * MiB, pow2AtLeast(2 * bdp));
    // Autotuning (what Node's sockets use) is capped by tcp_rmem/tcp_wmem[2];
    // rmem_max/wmem_max cap only an explicit SO_RCVBUF/SO_SNDBUF.
    const autoShort = tcpRmem[2]! < bdp || tcpWmem[2]! < bdp;
    const explicitShort = rmemMax < bdp || wmemMax < bdp;
    if (!autoShort && !explicitShort) return [];
    const smallest = Math.min(...(autoShort ? [tcpRmem[2]!, tcpWmem[2]!] : [rmemMax, wmemMax]));
    const capMbps = ((smallest * 8) / (o.rttMs / 1000) / 1e6).toFixed(1);
    return [
      {
        id: 'socket-buffers',
        severity: autoShort ? 'warning' : 'info',
        title: `Socket buffers (${bytes(smallest)}) are below the bandwidth-delay product (${bytes(bdp)} for ${o.bandwidthMbps} Mbit/s × ${o.rttMs} ms)`,
        why:
          `TCP cannot have more unacknowledged data in flight than the buffer holds: one connection tops out near ${capMbps} Mbit/s on this path` +
          (autoShort
            ? ' (FM-18).'
            : ' (FM-18) for sockets that set SO_RCVBUF/SO_SNDBUF themselves (autotuned sockets are capped by tcp_rmem/tcp_wmem, which are large enough).'),
        failureModes: ['FM-18'],
        current: {
          'net.core.rmem_max': rmemMax,
          'net.core.wmem_max': wmemMax,
          'net.ipv4.tcp_rmem': tcpRmem.join(' '),
          'net.ipv4.tcp_wmem': tcpWmem.join(' '),
        },
        fix: sysctlFix([
          ['net.core.rmem_max', Math.max(rmemMax, want)],
          ['net.core.wmem_max', Math.max(wmemMax, want)],
          ['net.ipv4.tcp_rmem', `${tcpRmem[0]} ${tcpRmem[1]} ${Math.max(tcpRmem[2]!, want)}`],
          ['net.ipv4.tcp_wmem', `${tcpWmem[0]} ${tcpWmem[1]} ${Math.max(tcpWmem[2]!, want)}`],
        ]),
      },
    ];
  },
};

/** A boolean-ish sysctl whose bad value is one number. */
function flag(spec: Omit<Finding, 'current' | 'fix'> & { key: string; bad: number; good: number; note?: string }): Check {
  return {
    id: spec.id,
    run({ proc }) {
      const v = proc.sysctlInt(spec.key);
      if (v === undefined) return undefined;
      if (v !== spec.bad) return [];
      const { key, bad: _bad, good, note, ...finding } = spec;
      return [{ ...finding, current: { [key]: v }, fix: sysctlFix([[key, good]], note) }];
    },
  };
}

const windowScaling = flag({
  id: 'tcp-window-scaling',
  key: 'net.ipv4.tcp_window_scaling',
  bad: 0,
  good: 1,
  severity: 'error',
  title: 'TCP window scaling is off: windows are capped at 64 KiB',
  why: 'Without RFC 7323 scaling one connection carries at most 64 KiB per round trip: ≈ 5 Mbit/s at 100 ms RTT, whatever the link (a long fat network, FM-18).',
  failureModes: ['FM-18'],
});

const sack = flag({
  id: 'tcp-sack',
  key: 'net.ipv4.tcp_sack',
  bad: 0,
  good: 1,
  severity: 'warning',
  title: 'Selective acknowledgements (SACK) are off',
  why: 'Several losses in one window are then repaired one round trip at a time, so lossy paths look like stalls (FM-18).',
  failureModes: ['FM-18'],
});

const slowStartAfterIdle = flag({
  id: 'tcp-slow-start-after-idle',
  key: 'net.ipv4.tcp_slow_start_after_idle',
  bad: 1,
  good: 0,
  severity: 'warning',
  title: 'Pooled connections fall back to slow start after each idle period',
  why: 'The congestion window collapses after one RTO of idle, so the first large response on a kept-alive connection costs extra round trips: pooling loses much of its gain (FM-18).',
  failureModes: ['FM-18'],
});

const mtuProbing = flag({
  id: 'tcp-mtu-probing',
  key: 'net.ipv4.tcp_mtu_probing',
  bad: 0,
  good: 1,
  severity: 'warning',
  title: 'Packetization-layer PMTU discovery is off',
  why: 'When a firewall drops the ICMP "fragmentation needed" messages, large segments vanish while small ones pass: big responses hang (PMTU black hole, FM-06). With probing (RFC 4821) the kernel shrinks the MSS after a black hole.',
  failureModes: ['FM-06'],
  note: 'Also allow ICMP type 3 code 4 through firewalls.',
});

/** Root qdisc per device from `tc qdisc show`, or undefined when tc is missing. */
async function qdiscs(): Promise<Map<string, string[]> | undefined> {
  try {
    const { stdout } = await run('tc', ['qdisc', 'show'], { timeout: 2_000 });
    const byDev = new Map<string, string[]>();
    for (const m of stdout.matchAll(/^qdisc (\S+) \S+ dev (\S+)/gm)) byDev.set(m[2]!, [...(byDev.get(m[2]!) ?? []), m[1]!]);
    return byDev;
  } catch {
    return undefined;
  }
}

const bbrWithoutFq: Check = {
  id: 'bbr-without-fq',
  async run({ proc, liveHost }) {
    const cc = proc.sysctl('net.ipv4.tcp_congestion_control');
    const qdisc = proc.sysctl('net.core.default_qdisc');
    if (cc === undefined || qdisc === undefined) return undefined;
    if (cc !== 'bbr') return [];
    const current: Record<string, string> = { 'net.ipv4.tcp_congestion_control': cc, 'net.core.default_qdisc': qdisc };
    const commands: string[] = [];
    if (liveHost) {
      const devs = await qdiscs();
      if (devs === undefined) proc.skip('tc qdisc show', 'tc is not installed or failed; per-device qdiscs not checked');
      for (const [dev, kinds] of devs ?? []) {
        if (dev === 'lo' || kinds.includes('fq') || kinds.includes('noqueue')) continue;
        current[`qdisc ${dev}`] = kinds.join(',');
        commands.push(`tc qdisc replace dev ${dev} root fq`);
      }
    }
    if (qdisc === 'fq' && commands.length === 0) return [];
    const fix = sysctlFix(
      qdisc === 'fq' ? [] : [['net.core.default_qdisc', 'fq']],
      'default_qdisc applies to qdiscs created later: replace the root qdisc of existing devices with tc (or reboot).',
    );
    fix.commands.push(...commands);
    return [
      {
        id: 'bbr-without-fq',
        severity: 'warning',
        title: `BBR congestion control without the fq qdisc (${commands.length > 0 ? Object.keys(current).slice(2).join(', ') : `default_qdisc = ${qdisc}`})`,
        why: 'BBR paces packets; without fq its pacing is weaker (kernel < 4.13 has none at all), so it sends in bursts that overflow shallow buffers and lose packets (FM-18).',
        failureModes: ['FM-18'],
        current,
        fix,
      },
    ];
  },
};

const backlog: Check = {
  id: 'listen-backlog',
  run({ proc, o }) {
    const somaxconn = proc.sysctlInt('net.core.somaxconn');
    const syn = proc.sysctlInt('net.ipv4.tcp_max_syn_backlog');
    if (somaxconn === undefined || syn === undefined) return undefined;
    if (somaxconn >= o.minBacklog && syn >= o.minBacklog) return [];
    return [
      {
        id: 'listen-backlog',
        severity: 'warning',
        title: `Listen queues are short (somaxconn = ${somaxconn}, tcp_max_syn_backlog = ${syn})`,
        why: `listen(backlog) is silently capped at somaxconn; when the accept or SYN queue is full the kernel drops SYNs without a reset, and clients wait out SYN retransmissions (≈ 1, 3, 7 s…: FM-05).`,
        failureModes: ['FM-05'],
        current: { 'net.core.somaxconn': somaxconn, 'net.ipv4.tcp_max_syn_backlog': syn },
        fix: sysctlFix([
          ['net.core.somaxconn', Math.max(somaxconn, 4096)],
          ['net.ipv4.tcp_max_syn_backlog', Math.max(syn, 4096)],
        ]),
      },
    ];
  },
};

export const throughputChecks: readonly Check[] = [buffers, windowScaling, sack, slowStartAfterIdle, mtuProbing, bbrWithoutFq, backlog];
