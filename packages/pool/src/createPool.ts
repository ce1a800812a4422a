import { ConnectionPool } from './ConnectionPool.js';
import { type PoolOptions, resolvePoolOptions } from './defaults.js';

/**
 * Creates a connection pool for any TCP protocol. Connections come from
 * `@breakwater/socket`'s `connect({ host, port, ...socket })` or your
 * `connect` factory; `probe` is the protocol's own check, run on borrow
 * after `validateAfterIdleMs` of idleness.
 *
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` naming the key.
 * @example
 * const pool = createPool({ host: 'cache.internal', port: 11211, probe: ping });
 * const value = await pool.use((conn) => get(conn, 'user:42'));
 */
export function createPool(options: PoolOptions): ConnectionPool {
  return new ConnectionPool(resolvePoolOptions(options));
}
