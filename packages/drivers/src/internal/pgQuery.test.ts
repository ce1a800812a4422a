import { describe, expect, it } from 'vitest';
import { callTimeoutMs, makeQuery } from './pgQuery.js';

const prefixed = (q: unknown) => (q as { constructor: { name: string } }).constructor.name === 'TimedQuery';

describe('makeQuery()', () => {
  it.each([
    ['SELECT 1', true],
    ['  /* a */ -- b\n INSERT INTO t VALUES (1)', true],
    ['VACUUM t', false],
    ['/* migration */ CREATE INDEX CONCURRENTLY i ON t (a)', false],
    ['create unique index concurrently i on t (a)', false],
    ['REINDEX TABLE CONCURRENTLY t', false],
    ['CREATE DATABASE x', false],
    ['BEGIN', false],
    ['COMMIT', false],
    ['ROLLBACK', false],
    ['', false],
  ])('%j gets the statement_timeout prefix: %s', (text, expected) => {
    expect(prefixed(makeQuery([text], 5_000, false, false))).toBe(expected);
  });

  it('sends no setting for 0 outside a transaction, and 0 inside one', () => {
    expect(prefixed(makeQuery(['SELECT 1'], 0, false, false))).toBe(false);
    expect(prefixed(makeQuery(['SELECT 1'], 0, true, false))).toBe(true);
  });

  it('keeps values and the client-side deadline, and drops statement names under transaction pooling', () => {
    const q = makeQuery([{ name: 'n', text: 'SELECT $1::int' }, [1]], 1_500, false, true) as unknown as {
      name?: string;
      values: unknown[];
      query_timeout: number;
    };
    expect(q).toMatchObject({ values: [1], query_timeout: 1_500 });
    expect(q.name).toBeUndefined();
    expect((makeQuery([{ name: 'n', text: 'SELECT 1' }], 1_500, false, false) as unknown as { name: string }).name).toBe('n');
  });
});

describe('callTimeoutMs()', () => {
  it('takes the call option, else the pool default, and names the option when it is wrong', () => {
    expect(callTimeoutMs({ text: 'x', queryTimeoutMs: 0 }, 5_000)).toBe(0);
    expect(callTimeoutMs('SELECT 1', 5_000)).toBe(5_000);
    expect(() => callTimeoutMs({ queryTimeoutMs: -1 }, 5_000)).toThrow(/`queryTimeoutMs`/);
    expect(() => callTimeoutMs({ queryTimeoutMs: 1.5 }, 5_000)).toThrow(/`queryTimeoutMs`/);
  });
});
