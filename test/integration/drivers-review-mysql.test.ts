import { BreakwaterError } from '@breakwater/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMysqlPool } from '../../packages/drivers/src/mysql2.js';
import { mysql } from '../../packages/drivers/test/unwrapped.js';
import { type MariadbServer, mariadbUnavailable, startMariadb } from '../support/servers/mariadb.js';

/**
 * Hostile review of issue #15, mysql2: the MariaDB process is SIGKILLed in
 * the middle of a transaction whose COMMIT is in flight. The caller must
 * learn that the outcome is unknown (typed, `mayHaveApplied`), the process
 * must survive the connection's 'error', nothing is retried, and the pool
 * works again once the server is back. Control: plain mysql2 reports an
 * untyped error the caller cannot tell from a refused statement.
 */

const unavailable = mariadbUnavailable();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (unavailable !== undefined && !required) console.log(`[drivers-review-mysql] skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined && !required)('mysql2: MariaDB killed mid-transaction', () => {
  let server: MariadbServer;
  let connection: { host: string; port: number; user: string; database: string };

  beforeAll(async () => {
    server = await startMariadb();
    const admin = await mysql.createConnection({ host: server.host, port: server.port, user: 'root', multipleStatements: true });
    await admin.query('CREATE DATABASE bwr; USE bwr; CREATE TABLE bw_orders (k VARCHAR(32)) ENGINE=InnoDB;');
    await admin.end();
    connection = { host: server.host, port: server.port, user: 'root', database: 'bwr' };
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  }, 30_000);

  it('the statement in flight fails as outcome unknown, nothing is retried, the pool recovers after the restart', async () => {
    const pool = createMysqlPool(connection, { queryTimeoutMs: 5_000 });
    const plain = mysql.createPool({ ...connection, connectionLimit: 2 });
    try {
      const conn = await pool.getConnection();
      const plainConn = await plain.getConnection();
      plainConn.connection.on('error', () => {});
      await conn.beginTransaction();
      await conn.query('INSERT INTO bw_orders VALUES (?)', ['in-tx']);
      await plainConn.beginTransaction();
      // A statement still running when the server dies: its outcome is unknown to the caller.
      const inFlight = conn.query('SELECT SLEEP(3)').then(
        () => undefined,
        (e: unknown) => e,
      );
      const plainInFlight = plainConn.query('SELECT SLEEP(3)').then(
        () => undefined,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, 300));
      await server.kill();
      const error = await inFlight;
      const plainError = await plainInFlight;
      console.log(
        `[drivers-review-mysql] killed mid-transaction: breakwater ${(error as BreakwaterError)?.code} (${(error as Error)?.message}); mysql2 ${(plainError as { code?: string })?.code}`,
      );
      expect(error).toBeInstanceOf(BreakwaterError);
      expect(error).toMatchObject({ code: 'BW_ERR_OUTCOME_UNKNOWN', retryable: false, details: { mayHaveApplied: true } });
      expect(plainError).not.toBeInstanceOf(BreakwaterError);
      // The COMMIT on the dead connection never leaves: still a typed error, never a hang or a crash.
      await expect(conn.commit()).rejects.toBeInstanceOf(BreakwaterError);
      conn.release();
      plainConn.release();

      await server.start();
      // The pool's dead connections are replaced: a fresh statement works, and the killed transaction left nothing.
      const [rows] = await pool.query({ sql: 'SELECT COUNT(*) AS n FROM bw_orders', idempotent: true } as never);
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await pool.end();
      await plain.end().catch(() => {});
    }
  }, 60_000);
});
