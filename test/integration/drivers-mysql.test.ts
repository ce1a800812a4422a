import net from 'node:net';
import { guardOf } from '@breakwater/socket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMysqlPool } from '../../packages/drivers/src/mysql2.js';
import { mysql } from '../../packages/drivers/test/unwrapped.js';
import { getTcpOption, LINUX } from '../../packages/socket/src/internal/native.js';
import { describeRace, expectDeadlineWhileNaiveHangs, raceFrozen } from '../support/frozenRace.js';
import { type MariadbServer, mariadbUnavailable, startMariadb } from '../support/servers/mariadb.js';

const unavailable = mariadbUnavailable();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (unavailable !== undefined && !required) console.log(`[drivers-mysql] skipped: ${unavailable}`);

const SERVER_IDLE_MS = 2_000;
const QUERY_TIMEOUT_MS = 2_000;
const NAIVE_WAIT_MS = 30_000;
const TCP_NODELAY = 1;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Pool = ReturnType<typeof mysql.createPool>;
type Connection = Awaited<ReturnType<Pool['getConnection']>>;
const streamOf = (connection: Connection) => (connection as unknown as { connection: { stream: net.Socket } }).connection.stream;

/** Errors the pool's connections emit on their own (mysql2 drops such a connection): the server killed it. */
function connectionErrors(pool: Pool): unknown[] {
  const errors: unknown[] = [];
  pool.pool.on('connection', (connection) => connection.on('error', (e) => errors.push(e)));
  return errors;
}

const settle = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe.skipIf(unavailable !== undefined && !required)('@breakwater/drivers/mysql2 against a real MariaDB', () => {
  let server: MariadbServer;
  let connection: { host: string; port: number; user: string };

  beforeAll(async () => {
    expect(unavailable, 'BREAKWATER_REQUIRE_NETNS=1: MariaDB must be installed (apt-get install mariadb-server)').toBeUndefined();
    server = await startMariadb({ 'wait-timeout': SERVER_IDLE_MS / 1_000 });
    connection = { host: server.host, port: server.port, user: 'root' };
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  }, 30_000);

  /** Opens `n` connections at once, leaves them idle past `wait_timeout`, then queries again. */
  async function idleKill(pool: Pool, n: number) {
    const errors = connectionErrors(pool);
    const burst = () => Promise.all(Array.from({ length: n }, () => settle(pool.query('SELECT SLEEP(0.05)'))));
    await burst();
    await sleep(SERVER_IDLE_MS + 1_000);
    const failures = (await burst()).filter((e) => e !== undefined);
    await pool.end();
    return { staleErrors: errors.length, failedQueries: failures.length, errors, failures };
  }

  it('server idle kill: no stale-connection errors, while the server kills every idle connection of a default pool', async () => {
    const [hardened, plain] = await Promise.all([
      idleKill(createMysqlPool(connection, { serverIdleTimeoutMs: SERVER_IDLE_MS }), 4),
      idleKill(mysql.createPool(connection), 4),
    ]);
    console.log(
      `[drivers-mysql] idle kill after ${SERVER_IDLE_MS + 1_000} ms: breakwater ${hardened.staleErrors} stale errors (${hardened.failedQueries} failed), mysql2 ${plain.staleErrors} (${plain.failedQueries} failed: ${plain.failures.map((e) => (e as { code?: string }).code).join(', ')})`,
    );
    expect(hardened).toMatchObject({ staleErrors: 0, failedQueries: 0 });
    expect(plain.staleErrors).toBe(4);
    // The server's close arrives as a FIN (PROTOCOL_CONNECTION_LOST) or, with a packet unread, an RST.
    for (const error of plain.errors) expect(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET']).toContain((error as { code?: string }).code);
  }, 30_000);

  it('frozen server: each query fails typed within its deadline, while mysql2 is still waiting after 30 s', async () => {
    const pool = createMysqlPool(connection, { queryTimeoutMs: QUERY_TIMEOUT_MS, serverIdleTimeoutMs: SERVER_IDLE_MS });
    const plain = mysql.createPool(connection);
    await Promise.all([1, 2, 3].map(() => pool.query('SELECT SLEEP(0.05)')));
    await plain.query('SELECT 1');
    server.freeze();
    try {
      // Both sides at once: the naive one is watched for the full 30 s.
      const race = await raceFrozen(
        ['SELECT 1', 'SELECT 2', 'INSERT INTO nowhere VALUES (1)'].map((sql) => () => pool.query(sql)),
        () => plain.query('SELECT 1'),
        NAIVE_WAIT_MS,
      );
      console.log(`[drivers-mysql] frozen: ${describeRace(race)}`);
      expectDeadlineWhileNaiveHangs(race, QUERY_TIMEOUT_MS, NAIVE_WAIT_MS);
    } finally {
      server.resume();
    }
    await pool.end();
    await plain.end();
  }, 60_000);

  it('sockets: NODELAY and 5 s keepalive as hardened; mysql2 alone: 2 h keepalive, and no NODELAY on a stream it is given', async () => {
    const pool = createMysqlPool(connection);
    const plain = mysql.createPool(connection);
    // mysql2 sets NODELAY only on sockets it creates; an application's own `stream` gets nothing.
    const plainStream = mysql.createPool({ ...connection, stream: () => net.connect(connection.port, connection.host) });
    const [c, p, s] = await Promise.all([pool.getConnection(), plain.getConnection(), plainStream.getConnection()]);
    try {
      const socket = streamOf(c);
      const applied = guardOf(socket)?.applied;
      expect(applied?.noDelay).toBe(true);
      expect(applied?.keepAlive).toMatchObject({ idleMs: 5_000 });
      expect(guardOf(streamOf(p))).toBeUndefined();
      const measured = {
        breakwater: {
          noDelay: getTcpOption(socket, TCP_NODELAY),
          keepIdleS: getTcpOption(socket, LINUX.TCP_KEEPIDLE),
          userTimeoutMs: getTcpOption(socket, LINUX.TCP_USER_TIMEOUT),
        },
        mysql2: { noDelay: getTcpOption(streamOf(p), TCP_NODELAY), keepIdleS: getTcpOption(streamOf(p), LINUX.TCP_KEEPIDLE) },
        mysql2Stream: { noDelay: getTcpOption(streamOf(s), TCP_NODELAY), keepIdleS: getTcpOption(streamOf(s), LINUX.TCP_KEEPIDLE) },
      };
      console.log(`[drivers-mysql] getsockopt: ${JSON.stringify(measured)}`);
      if (measured.breakwater.noDelay !== undefined) {
        expect(measured.breakwater).toEqual({ noDelay: 1, keepIdleS: 5, userTimeoutMs: 10_000 });
        expect(measured.mysql2).toEqual({ noDelay: 1, keepIdleS: 7_200 });
        expect(measured.mysql2Stream).toEqual({ noDelay: 0, keepIdleS: 7_200 });
      }
    } finally {
      c.release();
      p.release();
      s.release();
      await Promise.all([pool.end(), plain.end(), plainStream.end()]);
    }
  });

  /** Warms `n` idle connections, restarts the server on the same port (no query in flight), then runs `n * 3` reads. */
  async function restartThenRead(pool: Pool, n: number) {
    const errors = connectionErrors(pool);
    await Promise.all(Array.from({ length: n }, () => pool.query('SELECT SLEEP(0.05)')));
    return {
      errors,
      after: async () => {
        const outcomes = await Promise.all(Array.from({ length: n * 3 }, () => settle(pool.query('SELECT 1 AS one'))));
        await pool.end();
        return outcomes.filter((e) => e !== undefined);
      },
    };
  }

  // Measured: a normal shutdown closes each session (FIN), mysql2 drops a pooled connection on its
  // 'end', so neither pool hands out a dead connection after a plain restart (0 failed both sides);
  // what differs is that the server's close reaches mysql2 as PROTOCOL_CONNECTION_LOST on every idle
  // connection. The dead-connection case needs the FIN to be lost: test/faults/drivers-blackhole.test.ts.
  it('server restart: 0 failed reads after the restart on either side (mysql2 drops connections on FIN)', async () => {
    const [hardened, plain] = await Promise.all([
      restartThenRead(createMysqlPool(connection, { serverIdleTimeoutMs: SERVER_IDLE_MS }), 4),
      restartThenRead(mysql.createPool(connection), 4),
    ]);
    await server.restart();
    const [hardenedFailed, plainFailed] = await Promise.all([hardened.after(), plain.after()]);
    console.log(
      `[drivers-mysql] restart: breakwater ${hardenedFailed.length} failed of 12 (${hardened.errors.length} connection errors), mysql2 ${plainFailed.length} failed of 12 (${plain.errors.length} connection errors)`,
    );
    expect(hardenedFailed).toEqual([]);
    expect(plainFailed).toEqual([]);
    expect(plain.errors.length).toBe(4);
  }, 60_000);
});
