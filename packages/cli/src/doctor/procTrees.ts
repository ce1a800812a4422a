/**
 * Fixture /proc and /etc trees for the doctor, written into a temp dir by
 * the tests and by the scorecard's FM-18 scenario (symlinks and unreadable
 * files do not survive git well, nor an npm tarball).
 * `FOOTGUNS` has every host footgun the doctor knows; `CLEAN` has none.
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type Entry = string | { symlink: string } | { dir: true } | { mode: number; text: string };
export type Tree = Record<string, Entry>;

export function writeTree(root: string, tree: Tree): string {
  for (const [rel, entry] of Object.entries(tree)) {
    const file = path.join(root, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    if (typeof entry === 'string') writeFileSync(file, entry);
    else if ('symlink' in entry) symlinkSync(entry.symlink, file);
    else if ('dir' in entry) mkdirSync(file, { recursive: true });
    else {
      writeFileSync(file, entry.text);
      chmodSync(file, entry.mode);
    }
  }
  return root;
}

/** sysctl key → `sys/...` file holding `value\n`. */
export function sysctls(values: Record<string, string | number>): Tree {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [`proc/sys/${k.replaceAll('.', '/')}`, `${v}\n`]));
}

const v4 = (ip: string, port: number) =>
  `${ip
    .split('.')
    .map((n) => Number(n).toString(16).padStart(2, '0'))
    .reverse()
    .join('')
    .toUpperCase()}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
const V6_LOOPBACK = (port: number) => `00000000000000000000000001000000:${port.toString(16).padStart(4, '0').toUpperCase()}`;

const HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';

/** One /proc/net/tcp line; state in hex as the kernel prints it. */
export function tcpLine(sl: number, local: string, remote: string, state: string, uid: number, inode: number): string {
  return `${String(sl).padStart(4)}: ${local} ${remote} ${state} 00000000:00000000 00:00000000 00000000 ${String(uid).padStart(5)}        0 ${inode} 1 0000000000000000 20 4 30 10 -1\n`;
}

function footgunSockets(): Tree {
  const lines: string[] = [tcpLine(0, v4('0.0.0.0', 8080), v4('0.0.0.0', 0), '0A', 0, 100)];
  // 60 TIME_WAIT to one destination with a 100-port range: FM-03 in progress.
  for (let i = 0; i < 60; i++) lines.push(tcpLine(lines.length, v4('10.0.0.2', 40000 + i), v4('10.0.0.5', 5432), '06', 0, 0));
  // 12 CLOSE_WAIT in pid 4242 (a leak), 2 whose owner's fds are unreadable.
  for (let i = 0; i < 12; i++) lines.push(tcpLine(lines.length, v4('10.0.0.2', 41000 + i), v4('10.0.0.9', 6379), '08', 1000, 5000 + i));
  lines.push(tcpLine(lines.length, v4('10.0.0.2', 42000), v4('10.0.0.7', 443), '08', 1001, 6000));
  lines.push(tcpLine(lines.length, v4('10.0.0.2', 42001), v4('10.0.0.7', 443), '08', 1001, 6001));
  const tree: Tree = {
    'proc/net/tcp': HEADER + lines.join(''),
    'proc/net/tcp6': HEADER + tcpLine(0, V6_LOOPBACK(39000), V6_LOOPBACK(8080), '08', 1000, 7000),
    'proc/4242/comm': 'leaky-node\n',
    'proc/4242/fd/0': { symlink: '/dev/null' },
    'proc/777/comm': 'api\n',
    'proc/777/fd/3': { symlink: 'socket:[7000]' },
    'proc/31337/comm': 'someone-else\n',
  };
  for (let i = 0; i < 12; i++) tree[`proc/4242/fd/${10 + i}`] = { symlink: `socket:[${5000 + i}]` };
  return tree;
}

export const FOOTGUNS: Tree = {
  ...sysctls({
    'net.ipv4.tcp_keepalive_time': 7200,
    'net.ipv4.tcp_keepalive_intvl': 75,
    'net.ipv4.tcp_keepalive_probes': 9,
    'net.ipv4.tcp_retries2': 15,
    'net.ipv4.tcp_tw_recycle': 1,
    'net.ipv4.tcp_tw_reuse': 0,
    'net.ipv4.ip_local_port_range': '40000\t40099',
    'net.ipv4.tcp_fin_timeout': 5,
    'net.core.rmem_max': 212992,
    'net.core.wmem_max': 212992,
    'net.ipv4.tcp_rmem': '4096\t87380\t174760',
    'net.ipv4.tcp_wmem': '4096\t16384\t131072',
    'net.ipv4.tcp_window_scaling': 0,
    'net.ipv4.tcp_sack': 0,
    'net.ipv4.tcp_slow_start_after_idle': 1,
    'net.ipv4.tcp_mtu_probing': 0,
    'net.ipv4.tcp_congestion_control': 'bbr',
    'net.core.default_qdisc': 'pfifo_fast',
    'net.core.somaxconn': 128,
    'net.ipv4.tcp_max_syn_backlog': 128,
    'net.netfilter.nf_conntrack_count': 63_000,
    'net.netfilter.nf_conntrack_max': 65_536,
    'net.ipv4.tcp_mem': '10000\t20000\t40000',
  }),
  'proc/net/sockstat': 'sockets: used 300\nTCP: inuse 5 orphan 0 tw 60 alloc 7 mem 25000\nUDP: inuse 1 mem 0\n',
  ...footgunSockets(),
  'etc/sysctl.conf': '# legacy playbook\nnet.ipv4.tcp_tw_recycle = 1\n',
  'etc/sysctl.d/README': 'not a .conf file\n',
};

export const CLEAN: Tree = {
  ...sysctls({
    'net.ipv4.tcp_keepalive_time': 300,
    'net.ipv4.tcp_keepalive_intvl': 30,
    'net.ipv4.tcp_keepalive_probes': 5,
    'net.ipv4.tcp_retries2': 8,
    'net.ipv4.tcp_tw_reuse': 1,
    'net.ipv4.ip_local_port_range': '10240\t65535',
    'net.ipv4.tcp_fin_timeout': 60,
    'net.core.rmem_max': 16_777_216,
    'net.core.wmem_max': 16_777_216,
    'net.ipv4.tcp_rmem': '4096\t131072\t16777216',
    'net.ipv4.tcp_wmem': '4096\t16384\t16777216',
    'net.ipv4.tcp_window_scaling': 1,
    'net.ipv4.tcp_sack': 1,
    'net.ipv4.tcp_slow_start_after_idle': 0,
    'net.ipv4.tcp_mtu_probing': 1,
    'net.ipv4.tcp_congestion_control': 'cubic',
    'net.core.default_qdisc': 'fq_codel',
    'net.core.somaxconn': 4096,
    'net.ipv4.tcp_max_syn_backlog': 4096,
    'net.netfilter.nf_conntrack_count': 120,
    'net.netfilter.nf_conntrack_max': 262_144,
    'net.ipv4.tcp_mem': '10000\t20000\t40000',
  }),
  'proc/net/sockstat': 'sockets: used 30\nTCP: inuse 5 orphan 0 tw 2 alloc 7 mem 12\n',
  'proc/net/tcp':
    HEADER +
    tcpLine(0, v4('0.0.0.0', 8080), v4('0.0.0.0', 0), '0A', 0, 100) +
    tcpLine(1, v4('10.0.0.2', 41000), v4('10.0.0.5', 5432), '01', 1000, 101) +
    tcpLine(2, v4('10.0.0.2', 41001), v4('10.0.0.5', 5432), '06', 0, 0),
  'proc/net/tcp6': HEADER,
  'etc/sysctl.d/90-breakwater.conf': 'net.ipv4.tcp_tw_reuse = 1\n',
};

/** Missing files, a directory where a file belongs, garbage, and (when not root) an unreadable file. */
export const BROKEN: Tree = {
  ...sysctls({ 'net.ipv4.ip_local_port_range': 'lots', 'net.ipv4.tcp_tw_reuse': 1 }),
  'proc/sys/net/ipv4/tcp_retries2': { dir: true },
  'proc/sys/net/ipv4/tcp_keepalive_time': { mode: 0o000, text: '7200\n' },
  'proc/net/sockstat': 'garbage\n',
  'proc/12/comm': 'x\n',
};
