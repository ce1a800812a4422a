import net from 'node:net';
import { BreakwaterError } from '@breakwater/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgPool } from '../../packages/drivers/src/pg.js';
import { pg } from '../../packages/drivers/test/unwrapped.js';
import { oldRuleSaysRead } from '../support/oldReadRule.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../support/servers/postgres.js';

/**
 * Issue #15, pg: a statement whose connection is killed mid-query
 * (pg_terminate_backend from a second connection while pg_sleep runs) is not
 * run again unless it is marked idempotent, for every kind of statement that
 * the old "looks read-only" rule took for a read. Each case runs the new
 * default and the old rule's decision (`idempotent: true`, what the rule
 * gave these statements), with a sequence counting the executions.
 */

const unavailable = postgresUnavailable();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (unavailable !== undefined && !required) console.log(`[issue-15-pg] skipped: ${unavailable}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CASES = [
  { name: 'nextval()', old: 'ran it twice', sql: (s: string) => `SELECT nextval('${s}') AS v, pg_sleep(1)` },
  { name: 'a function that writes', old: 'ran it twice', sql: (s: string) => `SELECT bw_write('${s}') AS v` },
  { name: 'EXPLAIN ANALYZE UPDATE', old: 'ran it twice', sql: (s: string) => `EXPLAIN ANALYZE UPDATE bw_t SET v = bw_write('${s}')` },
  { name: 'pg_advisory_lock()', old: 'ran it twice', sql: (s: string) => `SELECT pg_advisory_lock(15), nextval('${s}') AS v, pg_sleep(1)` },
  { name: 'setval()', old: 'ran it twice', sql: (s: string) => `SELECT setval('${s}', nextval('${s}') + 10) AS v, pg_sleep(1)` },
  { name: 'SELECT … FOR UPDATE', old: 'not a read either', sql: (s: string) => `SELECT nextval('${s}') AS v, pg_sleep(1) FROM bw_t FOR UPDATE` },
  // Review: a data-modifying CTE ends in a SELECT, but the statement starts with WITH.
  {
    name: 'CTE with INSERT',
    old: 'not a read either',
    sql: (s: string) => `WITH w AS (INSERT INTO bw_t VALUES (nextval('${s}')) RETURNING v) SELECT v, pg_sleep(1) FROM w`,
  },
];

describe.skipIf(unavailable !== undefined && !required)('issue #15: pg never runs a statement twice after a mid-query kill', () => {
  let server: PostgresServer;
  let connection: pg.PoolConfig;
  let admin: pg.Client;
  let seq = 0;

  beforeAll(async () => {
    expect(unavailable, 'BREAKWATER_REQUIRE_NETNS=1: PostgreSQL must be installed').toBeUndefined();
    server = await startPostgres();
    connection = { host: server.host, port: server.port, user: 'postgres', database: 'postgres' };
    admin = new pg.Client(connection);
    await admin.connect();
    await admin.query(`CREATE FUNCTION bw_write(s regclass) RETURNS bigint LANGUAGE plpgsql AS $$
      DECLARE v bigint; BEGIN v := nextval(s); PERFORM pg_sleep(1); RETURN v; END $$`);
    await admin.query('CREATE TABLE bw_t (v bigint); INSERT INTO bw_t VALUES (0)');
  }, 60_000);
  afterAll(async () => {
    await admin?.end();
    await server?.stop();
  }, 30_000);

  /** A fresh sequence; its `last_value` counts how often the statement ran. */
  async function freshSequence(): Promise<string> {
    seq += 1;
    await admin.query(`CREATE SEQUENCE bw_s${seq}`);
    return `bw_s${seq}`;
  }
  const lastValue = async (s: string) => Number((await admin.query(`SELECT last_value FROM ${s}`)).rows[0].last_value);

  /** Terminates the first backend running a statement that contains `marker` for 300 ms (well into its pg_sleep), once. */
  async function killOnce(marker: string): Promise<boolean> {
    const until = performance.now() + 3_000;
    while (performance.now() < until) {
      const { rows } = await admin.query(
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE $1 AND clock_timestamp() - query_start > interval '300 ms'",
        [`%${marker}%`],
      );
      if (rows.length > 0) return true;
      await sleep(20);
    }
    return false;
  }

  async function runKilled(pool: pg.Pool, statement: string | pg.QueryConfig, marker: string) {
    const [outcome, killed] = await Promise.all([
      pool.query(statement as string).then(
        (r) => ({ rows: r.rows as unknown[], error: undefined }),
        (error: unknown) => ({ rows: undefined, error }),
      ),
      killOnce(marker),
    ]);
    expect(killed, 'the backend was found and terminated').toBe(true);
    return outcome;
  }

  it.each(CASES)(
    '$name: not run again (BW_ERR_OUTCOME_UNKNOWN); the old rule: $old',
    async ({ name, sql }) => {
      const pool = createPgPool(connection);
      try {
        const [mine, old] = [await freshSequence(), await freshSequence()];
        const text = sql(mine);
        const outcome = await runKilled(pool, `/* bw-new-${mine} */ ${text}`, `bw-new-${mine}`);
        expect(outcome.error).toBeInstanceOf(BreakwaterError);
        expect(outcome.error).toMatchObject({
          code: 'BW_ERR_OUTCOME_UNKNOWN',
          retryable: false,
          details: { mayHaveApplied: true, lostWith: 'BW_ERR_PEER_CLOSED' },
        });
        expect(((outcome.error as Error).cause as BreakwaterError).cause).toMatchObject({ code: '57P01' });
        const applied = await lastValue(mine);

        // The control: what the removed rule decided for this text.
        const oldText = sql(old);
        const wasRead = oldRuleSaysRead(oldText);
        let oldApplied: number | undefined;
        if (wasRead) {
          const control = await runKilled(pool, { text: `/* bw-old-${old} */ ${oldText}`, idempotent: true }, `bw-old-${old}`);
          expect(control.error, 'the old rule retried it and the caller saw success').toBeUndefined();
          oldApplied = await lastValue(old);
        }
        console.log(`[issue-15-pg] ${name}: breakwater ran it to sequence ${applied}; old rule (${wasRead ? 'a read' : 'not a read'}) ${oldApplied ?? '-'}`);
        expect(applied).toBe(name === 'setval()' ? 11 : 1);
        if (name === 'SELECT … FOR UPDATE' || name === 'CTE with INSERT') expect(wasRead).toBe(false);
        else expect(oldApplied).toBe(name === 'setval()' ? 22 : 2);
      } finally {
        await pool.end();
      }
    },
    20_000,
  );

  it('an idempotent-marked statement is retried after the kill and its caller sees one success (healthy but unusual: killed, not down)', async () => {
    const pool = createPgPool(connection);
    try {
      const outcome = await runKilled(pool, { text: '/* bw-idem */ SELECT 42 AS v, pg_sleep(0.5)', idempotent: true }, 'bw-idem');
      expect(outcome.error).toBeUndefined();
      expect(outcome.rows?.[0]).toMatchObject({ v: 42 });
    } finally {
      await pool.end();
    }
  }, 20_000);

  it('a statement that never reached the server is retried whatever it is (first connection reset before the startup message)', async () => {
    let accepted = 0;
    const proxy = net.createServer((socket) => {
      accepted += 1;
      if (accepted === 1) return socket.resetAndDestroy();
      const upstream = net.connect(server.port, server.host);
      socket.pipe(upstream).pipe(socket);
      const close = () => {
        socket.destroy();
        upstream.destroy();
      };
      socket.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const { port } = proxy.address() as net.AddressInfo;
    const pool = createPgPool({ ...connection, host: '127.0.0.1', port });
    try {
      const s = await freshSequence();
      const { rows } = await pool.query(`SELECT nextval('${s}') AS v`);
      expect(accepted).toBe(2);
      expect(rows[0]).toMatchObject({ v: '1' });
      expect(await lastValue(s)).toBe(1);
    } finally {
      await pool.end();
      proxy.close();
    }
  }, 20_000);
});
