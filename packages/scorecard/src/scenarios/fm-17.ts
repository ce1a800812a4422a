import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createPool, type PoolOptions } from '@breakwater/pool';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, whose } from './config-support.js';
import { listen, pause, settleBeforeCleanup } from './transport-support.js';

/**
 * FM-17, CLOSE_WAIT leaks: the server closes idle connections after a
 * goodbye line (MySQL does this at wait_timeout). A pooled plain socket
 * nobody reads never emits 'end' behind the unread bytes, so Node never
 * closes its side: CLOSE_WAIT for as long as the pool keeps it. Breakwater's
 * pool sees the FIN as it arrives and closes and evicts the connection.
 * Healthy twin: beside both sides, a server that keeps its connections open
 * and answers; the pool's connections sit idle between rounds far longer than
 * the closing server allows, then are borrowed again: every one must still
 * be there (no eviction, no reconnect) and answer.
 */

const CONNECTIONS = 10;
const SERVER_IDLE_MS = 200;
/** After the server's last close, both sides get this long before the count. */
const SETTLE_MS = 500;

/** The twin's rounds: borrow every connection, one request on each, release, then TWIN_IDLE_MS idle. */
const TWIN_ROUNDS = 3;
const TWIN_IDLE_MS = 1_500;

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

/** Answers each `PING` line with `PONG`, never closes a connection; counts the connections. */
function keepingServer(): { server: net.Server; connections: () => number } {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.on('error', () => {});
    socket.setEncoding('utf8').on('data', (chunk: string) => socket.write('PONG\n'.repeat(chunk.split('\n').length - 1)));
  });
  return { server, connections: () => connections };
}

/** One request on a borrowed connection: true when the answer came back. */
async function ping(conn: net.Socket, signal: AbortSignal): Promise<boolean> {
  const answer = once(conn, 'data', { signal });
  conn.write('PING\n');
  const [chunk] = await answer;
  return String(chunk) === 'PONG\n';
}

/**
 * The user's pool options under the row's `max` of CONNECTIONS: a `minIdle`
 * above it (valid with their own, larger `max`) is capped to it, and the
 * note says so, instead of the pool refusing the options.
 */
export function underRowMax<T extends { minIdle?: number }>(options: T): { options: T & { max: number }; note?: string } {
  if (options.minIdle === undefined || options.minIdle <= CONNECTIONS) return { options: { ...options, max: CONNECTIONS } };
  return {
    options: { ...options, max: CONNECTIONS, minIdle: CONNECTIONS },
    note: `pool.minIdle ${options.minIdle} (your option) capped at the row's ${CONNECTIONS} connections`,
  };
}

/**
 * Healthy twin: a pool built from `options` (the user's, under the
 * scenario's host, port and max; no probe) to a server that keeps its connections
 * open. TWIN_ROUNDS times: borrow all CONNECTIONS at once, one request on
 * each, release, idle TWIN_IDLE_MS. Healthy: every request answered on the
 * connections of the first round (none evicted, none reopened).
 */
export async function longLivedTwin(ctx: ScenarioContext, options: Omit<PoolOptions, 'host' | 'port' | 'connect'>): Promise<Measurement> {
  const { server, connections } = keepingServer();
  const port = await listen(ctx, server);
  // A `probe` speaks the user's protocol, not this server's: left out (it would fail on healthy connections here, not there).
  const pool = createPool({ ...underRowMax(options).options, probe: undefined, host: '127.0.0.1', port });
  ctx.defer(() => pool.close());
  let answered = 0;
  for (let round = 0; round < TWIN_ROUNDS; round++) {
    if (round > 0) await pause(TWIN_IDLE_MS, ctx.signal);
    const results = await Promise.allSettled(
      Array.from({ length: CONNECTIONS }, () => pool.use((conn, signal) => ping(conn, signal), { signal: ctx.signal, deadlineMs: 2_000 })),
    );
    ctx.signal.throwIfAborted();
    answered += results.filter((r) => r.status === 'fulfilled' && r.value).length;
  }
  const { created, evicted } = pool.stats();
  const reasons = Object.entries(evicted).filter(([, n]) => n > 0);
  const requests = TWIN_ROUNDS * CONNECTIONS;
  const reopened = created - CONNECTIONS;
  return {
    value: reopened,
    unit: 'count',
    text:
      `${CONNECTIONS} connections idle ${TWIN_ROUNDS - 1} × ${TWIN_IDLE_MS / 1_000} s: ${answered}/${requests} answered, ${reopened} reopened` +
      `${reasons.length > 0 ? ` (evicted: ${reasons.map(([reason, n]) => `${reason} ×${n}`).join(', ')})` : ''}; the server saw ${connections()}`,
    ok: answered === requests && created === CONNECTIONS && reasons.length === 0,
  };
}

export const fm17: Scenario = {
  id: 'FM-17',
  title: 'CLOSE_WAIT leaks',
  bound: '0 CLOSE_WAIT sockets after the server closed them',
  naiveExpectation: 'every idle pooled socket in CLOSE_WAIT',
  twinExpectation: `${CONNECTIONS} connections to a server that keeps them open, idle ${TWIN_IDLE_MS / 1_000} s between rounds: kept, every request answered, 0 reopened`,
  requires: [],
  budgetMs: 15_000,
  run: settleBeforeCleanup(async (ctx) => {
    const naiveSide = idleClosingServer();
    const bwSide = idleClosingServer();
    const [naivePort, bwPort] = [await listen(ctx, naiveSide.server), await listen(ctx, bwSide.server)];
    // Beside both sides, on its own server: nothing it does touches their counts.
    const twin = longLivedTwin(ctx, ctx.config.pool).then((m) =>
      blameOptions(ctx, m, ctx.config.pool, ['idleTimeoutMs', 'maxLifetimeMs', 'validateAfterIdleMs', 'minIdle']),
    );
    twin.catch(() => {});

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
    const rowPool = underRowMax(ctx.config.pool);
    const pool = createPool({ ...rowPool.options, host: '127.0.0.1', port: bwPort });
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
      // minIdle reopens what the server closed: the pool is not empty, and the row names it.
      breakwater: blameOptions(
        ctx,
        { value: bwCount, unit: 'count', text: `${bwCount}/${CONNECTIONS} in CLOSE_WAIT, pool size ${stats.size}`, ok: bwCount === 0 && stats.size === 0 },
        ctx.config.pool,
        ['minIdle'],
      ),
      twin: await twin,
      notes: [
        `${CONNECTIONS} idle connections per side; the server sends a goodbye line and closes each after ${SERVER_IDLE_MS} ms; counted ${SETTLE_MS} ms later from /proc/net/tcp. ` +
          `Naive: plain net.connect() sockets kept for reuse; Breakwater: ${whose(ctx, 'createPool()', ctx.config.pool)}, max ${CONNECTIONS} (evicted: ${stats.evicted.closed} closed, ${stats.evicted.invalid} invalid). ` +
          `Healthy twin: the same pool options (without a probe), ${CONNECTIONS} connections to a server that never closes them, borrowed all at once ${TWIN_ROUNDS} times, ${TWIN_IDLE_MS} ms idle in between.`,
        ...(rowPool.note === undefined ? [] : [rowPool.note]),
      ],
    };
  }),
};
