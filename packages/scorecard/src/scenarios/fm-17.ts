import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createPool } from '@breakwater/pool';
import type { Scenario, ScenarioContext } from '../types.js';
import { whose } from './config-support.js';
import { listen, pause, settleBeforeCleanup } from './transport-support.js';

/**
 * FM-17, CLOSE_WAIT leaks: the server closes idle connections after a
 * goodbye line (MySQL does this at wait_timeout). A pooled plain socket
 * nobody reads never emits 'end' behind the unread bytes, so Node never
 * closes its side: CLOSE_WAIT for as long as the pool keeps it. Breakwater's
 * pool sees the FIN as it arrives and closes and evicts the connection.
 */

const CONNECTIONS = 10;
const SERVER_IDLE_MS = 200;
/** After the server's last close, both sides get this long before the count. */
const SETTLE_MS = 500;

/** Closes each connection after SERVER_IDLE_MS, saying why first; counts the closes. */
function idleClosingServer(): { server: net.Server; closed: () => number } {
  let closed = 0;
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.resume();
    const timer = setTimeout(() => {
      closed++;
      socket.end('ERR idle timeout, closing\n');
    }, SERVER_IDLE_MS);
    socket.once('close', () => clearTimeout(timer));
  });
  return { server, closed: () => closed };
}

/** This host's TCP sockets in CLOSE_WAIT whose peer is `port` on loopback, from /proc/net/tcp (no `ss` needed). */
export function closeWaitTo(port: number): number {
  const CLOSE_WAIT = '08';
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter(([, , remote, state]) => state === CLOSE_WAIT && Number.parseInt(remote?.split(':')[1] ?? '', 16) === port).length;
}

async function until(ctx: ScenarioContext, done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(10, ctx.signal);
  }
}

export const fm17: Scenario = {
  id: 'FM-17',
  title: 'CLOSE_WAIT leaks',
  bound: '0 CLOSE_WAIT sockets after the server closed them',
  naiveExpectation: 'every idle pooled socket in CLOSE_WAIT',
  requires: [],
  budgetMs: 10_000,
  run: settleBeforeCleanup(async (ctx) => {
    const naiveSide = idleClosingServer();
    const bwSide = idleClosingServer();
    const [naivePort, bwPort] = [await listen(ctx, naiveSide.server), await listen(ctx, bwSide.server)];

    // Naive: a hand-rolled pool of plain net sockets, connected and left idle.
    const idle: net.Socket[] = [];
    ctx.defer(() => {
      for (const socket of idle) socket.destroy();
    });
    for (let i = 0; i < CONNECTIONS; i++) {
      const socket = net.connect({ host: '127.0.0.1', port: naivePort });
      socket.on('error', () => {});
      idle.push(socket);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    }
    const pool = createPool({ ...ctx.config.pool, host: '127.0.0.1', port: bwPort, max: CONNECTIONS });
    ctx.defer(() => pool.drain());
    const borrowed = await Promise.all(Array.from({ length: CONNECTIONS }, () => pool.acquire(ctx.signal)));
    for (const conn of borrowed) pool.release(conn);

    ctx.progress('waiting for the servers to close idle connections');
    await until(ctx, () => naiveSide.closed() === CONNECTIONS && bwSide.closed() === CONNECTIONS, 5_000, 'the servers to close idle connections');
    await pause(SETTLE_MS, ctx.signal);
    const naiveCount = closeWaitTo(naivePort);
    const bwCount = closeWaitTo(bwPort);
    const stats = pool.stats();

    return {
      naive: {
        value: naiveCount,
        unit: 'count',
        text: `${naiveCount}/${CONNECTIONS} in CLOSE_WAIT`,
        ok: naiveCount === CONNECTIONS,
      },
      breakwater: {
        value: bwCount,
        unit: 'count',
        text: `${bwCount}/${CONNECTIONS} in CLOSE_WAIT, pool size ${stats.size}`,
        ok: bwCount === 0 && stats.size === 0,
      },
      notes: [
        `${CONNECTIONS} idle connections per side; the server sends a goodbye line and closes each after ${SERVER_IDLE_MS} ms; counted ${SETTLE_MS} ms later from /proc/net/tcp. ` +
          `Naive: plain net.connect() sockets kept for reuse; Breakwater: ${whose(ctx, 'createPool()', ctx.config.pool)}, max ${CONNECTIONS} (evicted: ${stats.evicted.closed} closed, ${stats.evicted.invalid} invalid).`,
      ],
    };
  }),
};
