// Not the scorecard's FM-17 scenario: the naive side here is generic-pool (whose size still counts the dead sockets), and it bounds how fast @breakwater/pool shrinks (< 100 ms after the last close).
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { createPool } from '@breakwater/pool';
import { afterEach, expect, it } from 'vitest';
import { createGenericPool } from '../../packages/pool/test/bareGenericPool.js';
import { LineServer, until } from '../../packages/pool/test/lineServer.js';
import { reportResult } from '../support/report.js';

/**
 * FM-17, CLOSE_WAIT leaks: a server closes idle connections after sending a
 * goodbye line first (MySQL does this at wait_timeout). A pooled socket
 * nobody reads is paused, so Node never emits 'end' behind the unread bytes,
 * never closes its side, and the socket sits in CLOSE_WAIT while the pool
 * still counts it. Breakwater's pool sees the FIN as it arrives and evicts.
 */

const run = promisify(execFile);

const CONNECTIONS = 5;
const SERVER_IDLE_MS = 200;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Client sockets in CLOSE_WAIT towards `port` (loopback). */
async function closeWait(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-tanH', 'state', 'close-wait', `( dport = :${port} )`]);
  return stdout.split('\n').filter((line) => line.trim().length > 0).length;
}

async function server(): Promise<LineServer> {
  const s = await LineServer.start({ idleCloseMs: SERVER_IDLE_MS, goodbye: 'ERR idle timeout, closing\n' });
  cleanups.push(() => s.close());
  return s;
}

it('FM-17: after the server closes idle connections, 0 sockets in CLOSE_WAIT and the pool shrinks within 100 ms; naive pooled sockets stay in CLOSE_WAIT', async () => {
  const [naiveServer, bwServer] = await Promise.all([server(), server()]);

  // Naive: generic-pool with plain sockets, warmed up and left idle.
  const naive = createGenericPool(
    {
      create: () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(naiveServer.port, '127.0.0.1', () => resolve(s));
          s.on('error', reject);
        }),
      destroy: async (s) => void s.destroy(),
    },
    { max: CONNECTIONS },
  );
  cleanups.push(async () => {
    await naive.drain();
    await naive.clear();
  });
  const pool = createPool({ host: '127.0.0.1', port: bwServer.port, max: CONNECTIONS });
  cleanups.push(() => pool.drain());

  const naiveConns = await Promise.all(Array.from({ length: CONNECTIONS }, () => naive.acquire()));
  for (const c of naiveConns) await naive.release(c);
  const conns = await Promise.all(Array.from({ length: CONNECTIONS }, () => pool.acquire()));
  for (const c of conns) pool.release(c);

  await until(() => bwServer.idleClosedAt.length === CONNECTIONS && naiveServer.idleClosedAt.length === CONNECTIONS, 5_000, 'the server idle closes');
  const lastClose = Math.max(...bwServer.idleClosedAt);
  await until(() => pool.stats().size === 0, 1_000, 'the pool to shrink');
  const shrankAfterMs = performance.now() - lastClose;
  expect(shrankAfterMs).toBeLessThan(100);
  expect(await closeWait(bwServer.port)).toBe(0);
  const { closed, invalid } = pool.stats().evicted;
  expect(closed + invalid).toBe(CONNECTIONS);

  // Give the naive side the same time and more: nothing changes.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const naiveCloseWait = await closeWait(naiveServer.port);
  expect(naiveCloseWait).toBe(CONNECTIONS);
  expect(naive.size).toBe(CONNECTIONS);
  expect(await closeWait(bwServer.port)).toBe(0);

  reportResult(
    { fm: 'FM-17', side: 'naive', metric: 'CLOSE_WAIT', value: naiveCloseWait, unit: 'sockets' },
    `generic-pool with plain sockets: ${naiveCloseWait} of ${CONNECTIONS} idle sockets in CLOSE_WAIT 200 ms after the server closed them; pool size still ${naive.size}`,
  );
  reportResult(
    { fm: 'FM-17', side: 'breakwater', metric: 'CLOSE_WAIT', value: 0, unit: 'sockets' },
    `@breakwater/pool: 0 CLOSE_WAIT, pool size 0 within ${Math.round(shrankAfterMs)} ms of the server's last close`,
  );
});
