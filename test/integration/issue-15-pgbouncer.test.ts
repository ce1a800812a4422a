import { BreakwaterError } from '@breakwater/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgPool } from '../../packages/drivers/src/pg.js';
import { pg } from '../../packages/drivers/test/unwrapped.js';
import { type PgBouncerServer, pgbouncerUnavailable, startPgBouncer } from '../support/servers/pgbouncer.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../support/servers/postgres.js';

/**
 * Issue #15, pg: `statement_timeout` per statement (`queryTimeoutMs` per
 * call, 0 for none) with nothing left on the session, and a pool that works
 * behind a real PgBouncer in transaction mode. Controls: the old
 * session-level settings (refused by PgBouncer) and named prepared
 * statements with plain pg (prepared on one server connection, executed on
 * another).
 */

const unavailable = postgresUnavailable() ?? pgbouncerUnavailable();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (unavailable !== undefined && !required) console.log(`[issue-15-pgbouncer] skipped: ${unavailable}`);

const settle = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ value, error: undefined }),
    (error: unknown) => ({ value: undefined, error }),
  );

describe.skipIf(unavailable !== undefined && !required)('issue #15: per-statement timeouts, and pg behind PgBouncer in transaction mode', () => {
  let server: PostgresServer;
  let bouncer: PgBouncerServer;
  let direct: pg.PoolConfig;
  let pooled: pg.PoolConfig;

  beforeAll(async () => {
    expect(unavailable, 'BREAKWATER_REQUIRE_NETNS=1: postgresql and pgbouncer must be installed').toBeUndefined();
    server = await startPostgres();
    // Two server connections used in turn: consecutive statements of one client land on different ones.
    bouncer = await startPgBouncer(server, { pool_mode: 'transaction', default_pool_size: 2, min_pool_size: 2, server_round_robin: 1 });
    direct = { host: server.host, port: server.port, user: 'postgres', database: 'postgres' };
    pooled = { host: bouncer.host, port: bouncer.port, user: 'postgres', database: 'postgres' };
  }, 60_000);
  afterAll(async () => {
    await bouncer?.stop();
    await server?.stop();
  }, 30_000);

  it('each statement carries its own statement_timeout (simple and extended protocol); the session keeps none', async () => {
    const pool = createPgPool(direct, { queryTimeoutMs: 4_000 });
    try {
      const simple = await pool.query({ text: "SELECT current_setting('statement_timeout') AS t", queryTimeoutMs: 1_234 });
      const extended = await pool.query({
        text: "SELECT current_setting('statement_timeout') AS t, $1::int AS x",
        values: [7],
        queryTimeoutMs: 1_234,
      });
      const byDefault = await pool.query('SELECT current_setting($1) AS t', ['statement_timeout']);
      expect(simple.rows).toEqual([{ t: '1234ms' }]);
      expect(extended.rows).toEqual([{ t: '1234ms', x: 7 }]);
      expect(byDefault.rows).toEqual([{ t: '4s' }]);
      expect(simple.command).toBe('SELECT');
      const client = await pool.connect();
      try {
        const after = await client.query({ text: 'SHOW statement_timeout', queryTimeoutMs: 0 });
        expect(after.rows).toEqual([{ statement_timeout: '0' }]);
        // Inside a transaction an earlier statement's limit must not carry over to one asking for none.
        await client.query('BEGIN');
        await client.query({ text: 'SELECT 1', queryTimeoutMs: 300 });
        const none = await client.query({ text: "SELECT current_setting('statement_timeout') AS t, pg_sleep(0.5)", queryTimeoutMs: 0 });
        expect(none.rows[0]).toMatchObject({ t: '0' });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  }, 20_000);

  it('migrations: `queryTimeoutMs: 0` lets a long statement run; VACUUM and CREATE INDEX CONCURRENTLY run under the default', async () => {
    const pool = createPgPool(direct, { queryTimeoutMs: 500 });
    try {
      const limited = await settle(pool.query('SELECT pg_sleep(1)'));
      const unlimited = await settle(pool.query({ text: 'SELECT pg_sleep(1) AS slept', queryTimeoutMs: 0 }));
      console.log(
        `[issue-15-pgbouncer] 1 s statement, 500 ms default: ${(limited.error as BreakwaterError)?.code ?? (limited.error as { code?: string })?.code}; with queryTimeoutMs 0: ${unlimited.error ?? 'ok'}`,
      );
      expect(limited.error).toBeDefined();
      expect(unlimited.error).toBeUndefined();
      await pool.query('CREATE TABLE IF NOT EXISTS bw_m (id int)');
      await pool.query('CREATE INDEX CONCURRENTLY IF NOT EXISTS bw_m_id ON bw_m (id)');
      await pool.query('VACUUM bw_m');
      const bad = await settle(pool.query({ text: 'SELECT 1', queryTimeoutMs: -1 }));
      expect(bad.error).toBeInstanceOf(BreakwaterError);
      expect(bad.error).toMatchObject({ code: 'BW_ERR_INVALID_OPTION', message: expect.stringContaining('`queryTimeoutMs`') });
    } finally {
      await pool.end();
    }
  }, 20_000);

  it('behind PgBouncer: the old session-level timeouts are refused; Breakwater queries, times out per statement and leaves no setting behind', async () => {
    // What createPgPool passed before issue #15: statement_timeout as a startup parameter.
    const old = new pg.Pool({ ...pooled, statement_timeout: 5_000, query_timeout: 5_000 } as pg.PoolConfig);
    const refused = await settle(old.query('SELECT 1'));
    await old.end();
    const pool = createPgPool(pooled, { queryTimeoutMs: 2_000, transactionPooling: true });
    try {
      const { rows } = await pool.query({
        text: "SELECT current_setting('statement_timeout') AS t, $1::int AS x",
        values: [1],
        queryTimeoutMs: 900,
      });
      const started = performance.now();
      const slow = await settle(pool.query({ text: 'SELECT pg_sleep(3)', queryTimeoutMs: 500 }));
      const slowMs = performance.now() - started;
      const after = await pool.query('SELECT 2 AS two');
      // Every server connection behind PgBouncer, asked by a plain client: no statement_timeout left on any.
      const plain = new pg.Pool({ ...pooled, max: 2 });
      const leftovers = await Promise.all([1, 2, 3, 4].map(() => plain.query('SHOW statement_timeout')));
      await plain.end();
      console.log(
        `[issue-15-pgbouncer] old startup statement_timeout: "${(refused.error as Error)?.message}"; breakwater: statement_timeout ${rows[0].t}, 3 s statement ended after ${Math.round(slowMs)} ms (${(slow.error as { code?: string })?.code})`,
      );
      expect((refused.error as Error)?.message).toMatch(/unsupported startup parameter: statement_timeout/);
      expect(rows).toEqual([{ t: '900ms', x: 1 }]);
      expect(slow.error).toBeDefined();
      expect(slowMs).toBeLessThan(1_500);
      expect(after.rows).toEqual([{ two: 2 }]);
      expect(leftovers.map((r) => r.rows[0].statement_timeout)).toEqual(['0', '0', '0', '0']);
    } finally {
      await pool.end();
    }
  }, 20_000);

  it('behind PgBouncer: named prepared statements fail with plain pg on the other server connection; with transactionPooling they all succeed', async () => {
    const run = async (pool: pg.Pool) => {
      // Two server connections open (an earlier test may have had one closed): round robin then alternates.
      const warm = new pg.Pool({ ...pooled, max: 2 });
      await Promise.all([1, 2].map(() => warm.query('SELECT pg_sleep(0.2)')));
      await warm.end();
      const outcomes = [];
      for (let i = 0; i < 6; i += 1) outcomes.push(await settle(pool.query({ name: 'bw-by-id', text: 'SELECT $1::int AS v', values: [i] })));
      await pool.end();
      return outcomes.filter((o) => o.error !== undefined).map((o) => (o.error as { code?: string }).code);
    };
    const plain = await run(new pg.Pool({ ...pooled, max: 1 }));
    const mine = await run(createPgPool({ ...pooled, max: 1 }, { transactionPooling: true }));
    console.log(
      `[issue-15-pgbouncer] named prepared statement × 6 through PgBouncer: pg.Pool ${plain.length} failed (${[...new Set(plain)].join(', ')}), breakwater ${mine.length}`,
    );
    expect(plain.length).toBeGreaterThan(0);
    expect(plain).toContain('26000');
    expect(mine).toEqual([]);
  }, 20_000);
});
