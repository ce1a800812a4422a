import type net from 'node:net';
import { BreakwaterError } from '@breakwater/core';
import { guardOf } from '@breakwater/socket';
import { describe, expect, it } from 'vitest';
import { createMysqlPool, isIdempotentStatement } from './mysql2.js';

type CoreConfig = {
  connectionConfig: { stream: (o: { config: { host: string; port: number } }) => net.Socket; enableKeepAlive: boolean };
  idleTimeout: number;
  maxIdle: number;
  connectionLimit: number;
};

describe('createMysqlPool()', () => {
  it('builds a mysql2 pool with hardened streams and the idle limit below wait_timeout', async () => {
    const pool = createMysqlPool({ host: '127.0.0.1', port: 1 }, { serverIdleTimeoutMs: 10_000 });
    const config = (pool.pool as unknown as { config: CoreConfig }).config;
    // 10 % below the server's 10 s, minus mysql2's one-second sweep.
    expect(config.idleTimeout).toBe(8_000);
    expect(config.maxIdle).toBe(config.connectionLimit - 1);
    expect(config.connectionConfig.enableKeepAlive).toBe(false);
    const stream = config.connectionConfig.stream({ config: { host: '127.0.0.1', port: 1 } });
    stream.on('error', () => {});
    expect(guardOf(stream)?.applied.noDelay).toBe(true);
    stream.destroy();
    await pool.end();
  });

  it('maps a refused connection to a typed error with the mysql2 error as cause', async () => {
    const pool = createMysqlPool({ host: '127.0.0.1', port: 1 });
    const error = await pool.query('INSERT INTO t VALUES (1)').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BreakwaterError);
    expect(error).toMatchObject({ code: 'BW_ERR_CONNECT_REFUSED' });
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    await pool.end();
  });

  it('rejects unknown options naming them', () => {
    expect(() => createMysqlPool({}, { queryTimeout: 5 } as never)).toThrow(/`queryTimeout`.*`queryTimeoutMs`/);
  });
});

describe('isIdempotentStatement()', () => {
  // No "looks read-only" rule (issue #15): each of these reads like a read and changes state.
  it.each([
    'SELECT 1',
    "SELECT nextval('s')",
    'SELECT my_write_fn()',
    'EXPLAIN ANALYZE UPDATE t SET a = 1',
    "SELECT GET_LOCK('x', 1)",
    'SELECT pg_advisory_lock(1)',
    'SELECT * FROM t FOR UPDATE',
    { sql: 'SHOW TABLES' },
  ])('%j is not retried unless marked', (statement) => {
    expect(isIdempotentStatement(statement)).toBe(false);
  });

  it('follows the statement flag first, then the pool predicate', () => {
    expect(isIdempotentStatement({ sql: 'UPDATE t SET a = 1 WHERE id = 1', idempotent: true })).toBe(true);
    expect(isIdempotentStatement({ text: 'SELECT 1', idempotent: true })).toBe(true);
    const all = () => true;
    expect(isIdempotentStatement('SELECT 1', all)).toBe(true);
    expect(isIdempotentStatement({ sql: 'SELECT 1', idempotent: false }, all)).toBe(false);
    expect(isIdempotentStatement({ sql: 'SELECT 1', idempotent: 'yes' })).toBe(false);
  });
});
