import type { EventEmitter } from 'node:events';
import { publisher } from '@breakwater/core';
import type { PoolEvents } from '../stats.js';

const publish = publisher('pool');

/**
 * Publishes `event` on `breakwater:pool:<event>` (with `pool` added) and
 * emits it. A throwing listener must not corrupt the pool's state: its error
 * is rethrown from a microtask, like any uncaught error.
 */
export function emitSafely<K extends keyof PoolEvents>(pool: EventEmitter<PoolEvents>, event: K, payload: PoolEvents[K][0]): void {
  publish(event, { pool, ...payload });
  try {
    (pool.emit as (e: string, p: unknown) => boolean)(event, payload);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}
