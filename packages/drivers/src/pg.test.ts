import { BreakwaterError } from '@breakwater/core';
import { guardOf } from '@breakwater/socket';
import { describe, expect, it } from 'vitest';
import { createPgPool } from './pg.js';

describe('createPgPool()', () => {
  it('builds a pg.Pool with the preset idle limit below the server idle limit', async () => {
    const pool = createPgPool({ host: '127.0.0.1', port: 1 }, { serverIdleTimeoutMs: 2_000, queryTimeoutMs: 1_500 });
    expect(pool.options.idleTimeoutMillis).toBe(1_000);
    // No session-level timeouts: the deadline travels with each statement (PgBouncer refuses statement_timeout as a startup parameter).
    expect((pool.options as { query_timeout?: number }).query_timeout).toBeUndefined();
    expect((pool.options as { statement_timeout?: number }).statement_timeout).toBeUndefined();
    expect(pool.options.keepAlive).toBe(false);
    const stream = (pool.options as unknown as { stream: () => import('node:net').Socket }).stream();
    expect(guardOf(stream)?.applied.noDelay).toBe(true);
    stream.destroy();
    await pool.end();
  });

  it('maps a refused connection to a typed error with the pg error as cause', async () => {
    const pool = createPgPool({ host: '127.0.0.1', port: 1 });
    const error = await pool.query('SELECT 1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BreakwaterError);
    expect(error).toMatchObject({ code: 'BW_ERR_CONNECT_REFUSED' });
    expect((error as Error).cause).toMatchObject({ code: 'ECONNREFUSED' });
    await pool.end();
  });

  it('rejects unknown options naming them', () => {
    expect(() => createPgPool({}, { queryTimeout: 5 } as never)).toThrow(/`queryTimeout`.*`queryTimeoutMs`/);
  });
});
