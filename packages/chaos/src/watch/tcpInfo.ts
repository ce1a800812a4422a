import type net from 'node:net';
import { run } from '../netns/command.js';

export interface TcpInfo {
  state: string;
  /** Segments sent and not acknowledged. */
  unacked: number;
  /** Retransmissions over the connection's life. */
  retransmits: number;
  /** `ss` timer field, e.g. `keepalive,119min,0` or `on,1.6sec,5`. */
  timer: string;
}

/** The kernel's view (`ss -tnoi`) of a root-namespace socket: its local port towards `peer`. */
export async function tcpInfo(socket: net.Socket, peer: string | undefined = socket.remoteAddress): Promise<TcpInfo | undefined> {
  // Local port AND peer: the same local port may be in use towards other
  // destinations at the same time (other tests, other processes).
  const filter = ['sport', '=', `:${socket.localPort ?? 0}`, ...(peer === undefined ? [] : ['and', 'dst', peer])];
  const out = await run('ss', ['-tnoiH', 'state', 'all', ...filter]);
  const text = out.replace(/\s+/g, ' ').trim();
  if (text === '') return undefined;
  return {
    state: text.split(' ')[0] ?? '',
    unacked: Number(/\bunacked:(\d+)/.exec(text)?.[1] ?? 0),
    retransmits: Number(/\bretrans:\d+\/(\d+)/.exec(text)?.[1] ?? 0),
    timer: /\btimer:\(([^)]*)\)/.exec(text)?.[1] ?? '',
  };
}
