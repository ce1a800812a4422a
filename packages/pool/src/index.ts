export { ConnectionPool, type ReleaseOptions, type UseFn, type UseOptions } from './ConnectionPool.js';
export { createPool } from './createPool.js';
export {
  COMMON_PATH_IDLE_MS,
  type ConnectFactory,
  IDLE_TIMEOUT_RATIO,
  POOL_DEFAULTS,
  type PoolOptions,
  type PoolSocketOptions,
  type PoolTunables,
  type Probe,
  presetForPathIdle,
  type ResolvedPoolOptions,
  resolvePoolOptions,
} from './defaults.js';
export type { EvictReason, PoolEvents, PoolStats } from './stats.js';
