import os from 'node:os';
import type { ProcReader } from './ProcReader.js';

/** /proc/net/tcp state numbers (include/net/tcp_states.h). */
export const TCP_STATE = Object.freeze({ ESTABLISHED: 0x01, TIME_WAIT: 0x06, CLOSE_WAIT: 0x08, LISTEN: 0x0a });

export interface TcpEntry {
  local: string;
  remote: string;
  state: number;
  uid: number;
  inode: number;
}

/** `0100007F` → 127.0.0.1; IPv6 is four 32-bit words, each in host byte order. */
export function decodeAddress(hex: string, little = os.endianness() === 'LE'): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => {
    const b = (w.match(/../g) ?? []).map((x) => Number.parseInt(x, 16));
    return little ? b.reverse() : b;
  });
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

function endpoint(field: string): string {
  const [addr = '', port = '0'] = field.split(':');
  const ip = decodeAddress(addr);
  return `${ip.includes(':') ? `[${ip}]` : ip}:${Number.parseInt(port, 16)}`;
}

/** Parses /proc/net/tcp or tcp6; malformed lines are ignored. */
export function parseTcpTable(text: string): TcpEntry[] {
  const out: TcpEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^[0-9A-F]+:[0-9A-F]{4}$/i.test(f[1]!)) continue;
    out.push({ local: endpoint(f[1]!), remote: endpoint(f[2]!), state: Number.parseInt(f[3]!, 16), uid: Number(f[7]), inode: Number(f[9]) });
  }
  return out;
}

/** Both TCP tables; undefined when neither could be read (recorded in `skipped`). */
export function readTcpTables(proc: ProcReader): TcpEntry[] | undefined {
  const v4 = proc.read('net/tcp');
  const v6 = proc.read('net/tcp6', { absentIsNormal: true });
  if (v4 === undefined && v6 === undefined) return undefined;
  return [...parseTcpTable(v4 ?? ''), ...parseTcpTable(v6 ?? '')];
}

export interface SocketOwner {
  pid: number;
  command: string;
}

/**
 * inode → owning process, by reading the `socket:[inode]` links in
 * /proc/<pid>/fd. Only processes whose fd directory is readable (all as
 * root, your own otherwise) are seen; `denied` counts the others.
 */
export function ownersOf(proc: ProcReader, inodes: ReadonlySet<number>): { owners: Map<number, SocketOwner>; denied: number } {
  const owners = new Map<number, SocketOwner>();
  let denied = 0;
  for (const name of proc.list('.') ?? []) {
    if (!/^\d+$/.test(name) || owners.size === inodes.size) continue;
    const fds = proc.list(`${name}/fd`);
    if (fds === undefined) {
      denied++;
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = proc.readlink(`${name}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = Number(/^socket:\[(\d+)\]$/.exec(target)?.[1]);
      if (inodes.has(inode) && !owners.has(inode)) {
        const command = proc.read(`${name}/comm`, { absentIsNormal: true })?.trim() ?? '?';
        owners.set(inode, { pid: Number(name), command });
      }
    }
  }
  return { owners, denied };
}
