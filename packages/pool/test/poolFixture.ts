import { FakeClock } from '@breakwater/core';
import { afterEach } from 'vitest';
import { createPool } from '../src/createPool.js';
import type { PoolOptions } from '../src/defaults.js';
import { LineServer, type LineServerOptions } from './lineServer.js';

/**
 * Per test file: `setup()` starts a LineServer and a pool on a FakeClock against it; both (and whatever a
 * test adds to `cleanups`) are torn down after each test, the pool with `destroy()`, last in first out.
 */
export function poolFixture() {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  async function setup(options: Partial<PoolOptions> = {}, serverOptions: LineServerOptions = {}) {
    const server = await LineServer.start(serverOptions);
    const clock = new FakeClock(1_000);
    const pool = createPool({ host: '127.0.0.1', port: server.port, clock, ...options });
    cleanups.push(() => server.close());
    cleanups.push(() => pool.destroy());
    return { server, clock, pool };
  }
  return { cleanups, setup };
}
