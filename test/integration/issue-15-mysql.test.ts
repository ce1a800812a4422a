import { BreakwaterError } from '@breakwater/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMysqlPool } from '../../packages/drivers/src/mysql2.js';
import { mysql } from '../../packages/drivers/test/unwrapped.js';
import { oldRuleSaysRead } from '../support/oldReadRule.js';
import { type MariadbServer, mariadbUnavailable, startMariadb } from '../support/servers/mariadb.js';

/**
 * Issue #15, mysql2: a statement whose connection is killed mid-query
 * (KILL CONNECTION from a second connection while SLEEP runs) is not run
 * again unless it is marked idempotent. Each case runs the new default and
 * the old rule's decision (`idempotent: true`), with a MariaDB sequence or a
 * MyISAM table (neither is rolled back by the kill) counting the executions.
 */

const unavailable = mariadbUnavailable();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (unavailable !== undefined && !required) console.log(`[issue-15-mysql] skipped: ${unavailable}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Pool = ReturnType<typeof createMysqlPool>;

const CASES = [
  { name: 'NEXTVAL()', old: 'ran it twice', sql: (k: string) => `SELECT NEXTVAL(${k}) AS v, SLEEP(1)` },
  { name: 'GET_LOCK()', old: 'ran it twice', sql: (k: string) => `SELECT GET_LOCK('bw', 5), NEXTVAL(${k}) AS v, SLEEP(1)` },
  { name: 'a function that writes', old: 'ran it twice', sql: (k: string) => `SELECT bw_write('${k}') AS v` },
  { name: 'SELECT … FOR UPDATE', old: 'not a read either', sql: (k: string) => `SELECT NEXTVAL(${k}) AS v, SLEEP(1) FROM bw_t FOR UPDATE` },
];

describe.skipIf(unavailable !== undefined && !required)('issue #15: mysql2 never runs a statement twice after a mid-query kill', () => {
  let server: MariadbServer;
  let connection: { host: string; port: number; user: string; database: string };
  let admin: Awaited<ReturnType<typeof mysql.createConnection>>;
  let n = 0;

  beforeAll(async () => {
    expect(unavailable, 'BREAKWATER_REQUIRE_NETNS=1: MariaDB must be installed').toBeUndefined();
    server = await startMariadb();
    admin = await mysql.createConnection({ host: server.host, port: server.port, user: 'root', multipleStatements: true });
    await admin.query('CREATE DATABASE bw15; USE bw15; CREATE TABLE bw_t (v INT) ENGINE=InnoDB; INSERT INTO bw_t VALUES (0);');
    await admin.query('CREATE TABLE bw_log (k VARCHAR(32)) ENGINE=MyISAM');
    await admin.query(
      'CREATE FUNCTION bw_write(k VARCHAR(32)) RETURNS INT NOT DETERMINISTIC MODIFIES SQL DATA BEGIN INSERT INTO bw_log VALUES (k); DO SLEEP(1); RETURN 1; END',
    );
    connection = { host: server.host, port: server.port, user: 'root', database: 'bw15' };
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
  }, 30_000);

  /** A fresh counter: a sequence (its next value minus one) or rows in the MyISAM log. */
  async function freshCounter(): Promise<string> {
    n += 1;
    await admin.query(`CREATE SEQUENCE bw_s${n}`);
    return `bw_s${n}`;
  }
  async function runs(k: string, name: string): Promise<number> {
    if (name === 'a function that writes') {
      const [rows] = await admin.query('SELECT COUNT(*) AS c FROM bw_log WHERE k = ?', [k]);
      return Number((rows as { c: number }[])[0]?.c);
    }
    const [rows] = await admin.query(`SELECT NEXTVAL(${k}) AS v`);
    return Number((rows as { v: number }[])[0]?.v) - 1;
  }

  /** KILL CONNECTION on the first session running a statement containing `marker` for 300 ms, once. */
  async function killOnce(marker: string): Promise<boolean> {
    const until = performance.now() + 3_000;
    while (performance.now() < until) {
      const [rows] = await admin.query('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID() AND TIME_MS > 300', [
        `%${marker}%`,
      ]);
      const id = (rows as { id: number }[])[0]?.id;
      if (id !== undefined) {
        await admin.query(`KILL CONNECTION ${Number(id)}`);
        return true;
      }
      await sleep(20);
    }
    return false;
  }

  async function runKilled(pool: Pool, statement: string | { sql: string; idempotent: boolean }, given: string) {
    // Inside a stored function the process list shows the function's own statement, not the caller's.
    const marker = (typeof statement === 'string' ? statement : statement.sql).includes('bw_write(') ? 'DO SLEEP(1)' : given;
    const [outcome, killed] = await Promise.all([
      pool.query(statement as string).then(
        () => ({ error: undefined }),
        (error: unknown) => ({ error }),
      ),
      killOnce(marker),
    ]);
    expect(killed, 'the session was found and killed').toBe(true);
    return outcome;
  }

  it.each(CASES)(
    '$name: not run again (BW_ERR_OUTCOME_UNKNOWN); the old rule: $old',
    async ({ name, sql }) => {
      const pool = createMysqlPool(connection);
      try {
        const [mine, old] = [await freshCounter(), await freshCounter()];
        const outcome = await runKilled(pool, `/* bw-new-${mine} */ ${sql(mine)}`, `bw-new-${mine}`);
        expect(outcome.error).toBeInstanceOf(BreakwaterError);
        expect(outcome.error).toMatchObject({
          code: 'BW_ERR_OUTCOME_UNKNOWN',
          retryable: false,
          details: { mayHaveApplied: true, lostWith: 'BW_ERR_PEER_CLOSED' },
        });
        const applied = await runs(mine, name);
        const wasRead = oldRuleSaysRead(sql(old));
        let oldApplied: number | undefined;
        if (wasRead) {
          const control = await runKilled(pool, { sql: `/* bw-old-${old} */ ${sql(old)}`, idempotent: true }, `bw-old-${old}`);
          expect(control.error, 'the old rule retried it and the caller saw success').toBeUndefined();
          oldApplied = await runs(old, name);
        }
        console.log(`[issue-15-mysql] ${name}: breakwater ran it ${applied} time(s); old rule (${wasRead ? 'a read' : 'not a read'}) ${oldApplied ?? '-'}`);
        expect(applied).toBe(1);
        if (wasRead) expect(oldApplied).toBe(2);
        else expect(name).toBe('SELECT … FOR UPDATE');
      } finally {
        await pool.end();
      }
    },
    20_000,
  );
});
