// A real mysql2 pool (promise form) from @breakwater/drivers, pointed at MYSQL_HOST/MYSQL_PORT
// (default 127.0.0.1:3306).
//
// Its sockets have NODELAY and a 5 s keepalive (a dead server is noticed in 15 s, not 2 h), idle
// connections close before the server's wait_timeout (here 8 h), each statement gives up after 2 s,
// reads are retried on a dropped connection, and connection failures are BreakwaterErrors; SQL
// errors keep mysql2's code and errno.
import { isBreakwaterError } from '@breakwater/core';
import { createMysqlPool } from '@breakwater/drivers/mysql2';

const pool = createMysqlPool(
  {
    host: process.env.MYSQL_HOST ?? '127.0.0.1',
    port: Number(process.env.MYSQL_PORT ?? 3306),
    user: process.env.MYSQL_USER ?? 'root',
  },
  { queryTimeoutMs: 2_000, serverIdleTimeoutMs: 28_800_000 },
);

try {
  const [rows] = await pool.query('SELECT 1 + 1 AS two');
  console.log(`SELECT 1 + 1 -> ${rows[0].two}`);
  await pool.query('SELECT * FROM no_such_db.no_such_table').catch((error) => {
    // The server's answer about the statement itself passes through unchanged.
    console.log(`SQL error ${error.code} (BreakwaterError: ${isBreakwaterError(error)})`);
  });
} catch (error) {
  // Connection-level: BW_ERR_CONNECT_REFUSED, BW_ERR_DEADLINE, BW_ERR_PEER_CLOSED…, mysql2's error as `cause`.
  if (isBreakwaterError(error)) console.error(`${error.code} (retryable: ${error.retryable}): ${error.hint}`);
  process.exitCode = 1;
} finally {
  console.log(`idleTimeout ${pool.pool.config.idleTimeout}`);
  await pool.end();
}
