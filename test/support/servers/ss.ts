import { execFile } from 'node:child_process';
import type net from 'node:net';

/**
 * The kernel's timer field (`ss -tno`) for this established connection, by
 * both ports: `keepalive,4.9sec,0` when keepalive is on, '' when it is off.
 * Undefined when `ss` is missing or the connection is not found.
 */
export function establishedTimer(socket: net.Socket): Promise<string | undefined> {
  const filter = ['sport', '=', `:${socket.localPort ?? 0}`, 'and', 'dport', '=', `:${socket.remotePort ?? 0}`];
  return new Promise((resolve) => {
    execFile('ss', ['-tnoH', 'state', 'established', ...filter], (error, stdout) => {
      const line = stdout?.trim();
      if (error || !line) return resolve(undefined);
      resolve(/\btimer:\(([^)]*)\)/.exec(line)?.[1] ?? '');
    });
  });
}
