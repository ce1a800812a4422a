// A pg.Pool from @breakwater/drivers behind PgBouncer in transaction mode, pointed at PGHOST/PGPORT
// (PgBouncer's address).
//
// Nothing is kept on the session: each statement carries its own statement_timeout (set for that
// statement only, in the same round trip), and `transactionPooling: true` drops statement names, since
// a named prepared statement lives on one server connection and PgBouncer may send the next statement
// to another. Statements are retried only when they cannot have run twice: never sent, or marked
// `idempotent: true`. A statement lost after it was sent fails with BW_ERR_OUTCOME_UNKNOWN.
import { isBreakwaterError } from '@breakwater/core';
import { createPgPool } from '@breakwater/drivers/pg';

const pool = createPgPool(
  {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 6432),
    user: process.env.PGUSER ?? 'postgres',
    database: process.env.PGDATABASE ?? 'postgres',
  },
  { queryTimeoutMs: 2_000, transactionPooling: true },
);

try {
  // A read that is safe to repeat: retried on another connection if its connection dies.
  for (const n of [1, 2, 3]) {
    const { rows } = await pool.query({ name: 'plus-one', text: 'SELECT $1::int + 1 AS n', values: [n], idempotent: true });
    console.log(`plus-one(${n}) -> ${rows[0].n}`);
  }
  const { rows } = await pool.query({ text: "SELECT current_setting('statement_timeout') AS t", queryTimeoutMs: 1_500 });
  console.log(`statement_timeout of this statement: ${rows[0].t}`);
  // A migration step: no deadline for this statement (0), whatever the pool's default.
  await pool.query({ text: 'CREATE TABLE IF NOT EXISTS example_orders (id int PRIMARY KEY)', queryTimeoutMs: 0 });
  try {
    await pool.query('INSERT INTO example_orders VALUES (1) ON CONFLICT DO NOTHING');
    console.log('INSERT done once');
  } catch (error) {
    // The connection died after the INSERT was sent: it may or may not have been applied.
    if (isBreakwaterError(error, 'BW_ERR_OUTCOME_UNKNOWN')) console.log('INSERT outcome unknown: check before retrying');
    else throw error;
  }
  await pool.query({ text: 'DROP TABLE example_orders', queryTimeoutMs: 0 });
} catch (error) {
  if (isBreakwaterError(error)) console.error(`${error.code} (retryable: ${error.retryable}): ${error.hint}`);
  else console.error(error);
  process.exitCode = 1;
} finally {
  await pool.end();
}
