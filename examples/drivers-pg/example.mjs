// A real pg.Pool from @breakwater/drivers, pointed at PGHOST/PGPORT (default 127.0.0.1:5432).
//
// Its sockets have NODELAY and a 5 s keepalive (a dead server is noticed in 15 s, not 2 h), idle
// connections close before the server's idle_session_timeout (here 5 min), each query gives up after
// 2 s, and connection failures are BreakwaterErrors; SQL errors keep pg's SQLSTATE.
import { isBreakwaterError } from '@breakwater/core';
import { createPgPool } from '@breakwater/drivers/pg';

const pool = createPgPool(
  {
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    user: process.env.PGUSER ?? 'postgres',
    database: process.env.PGDATABASE ?? 'postgres',
  },
  { queryTimeoutMs: 2_000, serverIdleTimeoutMs: 300_000 },
);

try {
  const { rows } = await pool.query('SELECT 1 + 1 AS two');
  console.log(`SELECT 1 + 1 -> ${rows[0].two}`);
  await pool.query('SELECT * FROM no_such_table').catch((error) => {
    // The server's answer about the query itself passes through unchanged.
    console.log(`SQL error ${error.code} (BreakwaterError: ${isBreakwaterError(error)})`);
  });
} catch (error) {
  // Connection-level: BW_ERR_CONNECT_REFUSED, BW_ERR_DEADLINE, BW_ERR_PEER_CLOSED…, pg's error as `cause`.
  if (isBreakwaterError(error)) console.error(`${error.code} (retryable: ${error.retryable}): ${error.hint}`);
  process.exitCode = 1;
} finally {
  console.log(`idleTimeoutMillis ${pool.options.idleTimeoutMillis}`);
  await pool.end();
}
