import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createGenericPool, GENERIC_POOL_PATH } from '../test/bareGenericPool.js';
import { closedPort, LineServer } from '../test/lineServer.js';
import { createPool } from './createPool.js';

/**
 * generic-pool 3.9.0's defects (DEPENDENCIES.md), each shown on bare
 * generic-pool next to the guarded pool, with real sockets and real time.
 * Where the defect would hang or poison the test process (a starved event
 * loop, an unhandled rejection), the bare side runs in a child process.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Runs CommonJS `code` in a child Node; resolves with its JSON lines once it exits or after `killAfterMs` (then SIGKILL). */
function runChild(code: string, killAfterMs: number): Promise<{ lines: unknown[]; killed: boolean }> {
  const child = spawn(process.execPath, ['-e', code, GENERIC_POOL_PATH], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  return new Promise((resolve) => {
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, killAfterMs);
    child.once('exit', () => {
      clearTimeout(timer);
      const lines = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as unknown);
      resolve({ lines, killed });
    });
  });
}

describe('generic-pool defect: a failing create() is retried in a busy loop and acquire() never sees its error', () => {
  it('bare: hundreds of connects in 300 ms, then a TimeoutError; guarded: the connect error, a few spaced attempts, an idle CPU', async () => {
    const port = await closedPort();
    let bareCalls = 0;
    const bare = createGenericPool(
      {
        create: () =>
          new Promise<net.Socket>((resolve, reject) => {
            bareCalls++;
            const s = net.connect(port, '127.0.0.1', () => resolve(s));
            s.once('error', reject);
          }),
        destroy: async (s) => void s.destroy(),
      },
      { max: 1, acquireTimeoutMillis: 300 },
    );
    bare.on('factoryCreateError', () => {});
    const bareCpu = process.cpuUsage();
    const bareError = await bare.acquire().then(
      () => new Error('acquired'),
      (e: Error) => e,
    );
    const bareCpuMs = cpuMs(process.cpuUsage(bareCpu));
    expect(bareError.name).toBe('TimeoutError'); // not ECONNREFUSED: the cause is lost
    expect(bareCalls).toBeGreaterThan(100);

    const pool = createPool({ host: '127.0.0.1', port, max: 2, acquireTimeoutMs: 1_000, reconnectBackoff: { baseDelayMs: 50 } });
    cleanups.push(() => pool.drain());
    const started = performance.now();
    const cpu = process.cpuUsage();
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, () =>
        pool.acquire().then(
          () => ({ code: 'acquired', atMs: 0 }),
          (e: { code: string }) => ({ code: e.code, atMs: performance.now() - started }),
        ),
      ),
    );
    const poolCpuMs = cpuMs(process.cpuUsage(cpu));
    const wallMs = performance.now() - started;
    expect(outcomes.map((o) => o.code)).toEqual(Array(5).fill('BW_ERR_CONNECT_REFUSED'));
    expect(outcomes[0]!.atMs).toBeLessThan(200); // the first caller hears of the first failure at once
    expect(Math.max(...outcomes.map((o) => o.atMs))).toBeLessThan(1_000 + 250);
    // 2 parallel first attempts, then serialised ones ≥ 50, 100, 200, 400 ms apart.
    expect(pool.stats().connectAttempts).toBeLessThanOrEqual(8);
    expect(bareCalls / 0.3).toBeGreaterThan(10 * (pool.stats().connectAttempts / (wallMs / 1_000)));
    expect(poolCpuMs).toBeLessThan(0.3 * wallMs);
    console.log(
      `[generic-pool busy loop] bare: ${bareCalls} connects in 300 ms (${Math.round(bareCpuMs)} ms CPU), ${bareError.name}; ` +
        `guarded: ${pool.stats().connectAttempts} connects in ${Math.round(wallMs)} ms (${Math.round(poolCpuMs)} ms CPU), 5 × BW_ERR_CONNECT_REFUSED`,
    );
    await bare.drain();
    await bare.clear();
  });
});

describe('generic-pool defect: a create() that fails at once starves the event loop', () => {
  it('bare: no timer fires (the child is killed); guarded: a synchronous throw reaches acquire() typed and timers keep time', async () => {
    const bare = await runChild(
      `const gp = require(process.argv[1]);
       const pool = gp.createPool({ create: async () => { throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }); }, destroy: async () => {} }, { max: 1, acquireTimeoutMillis: 100 });
       pool.on('factoryCreateError', () => {});
       setTimeout(() => console.log(JSON.stringify({ timerFired: true })), 50);
       pool.acquire().catch((e) => console.log(JSON.stringify({ acquireError: e.name })));`,
      1_500,
    );
    expect(bare).toEqual({ lines: [], killed: true });

    let calls = 0;
    const pool = createPool({
      connect: () => {
        calls++;
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      },
      acquireTimeoutMs: 500,
      reconnectBackoff: { baseDelayMs: 20 },
    });
    cleanups.push(() => pool.drain());
    let maxLagMs = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const now = performance.now();
      maxLagMs = Math.max(maxLagMs, now - last - 10);
      last = now;
    }, 10);
    const started = performance.now();
    const errors: { code: string }[] = [];
    while (performance.now() - started < 600) {
      errors.push(
        await pool.acquire().then(
          () => ({ code: 'acquired' }),
          (e: { code: string }) => e,
        ),
      );
    }
    clearInterval(ticker);
    expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['BW_ERR_CONNECT_REFUSED']));
    expect(maxLagMs).toBeLessThan(300); // generous: the machine may be busy with other tests
    // Every acquire meets a failure; the attempts are spaced by the backoff (≥ 10, 20, 40, 80 … ms, capped at 2.5 s).
    expect(calls).toBeLessThanOrEqual(12);
    console.log(
      `[generic-pool starvation] bare: no timer fired in 1.5 s; guarded: ${errors.length} typed rejections, ${calls} attempts in 600 ms, max timer lag ${Math.round(maxLagMs)} ms`,
    );
  });
});

describe('generic-pool defect: a validate() that rejects leaks the resource', () => {
  it('bare: size 1 with nothing idle or borrowed, and the next acquire times out; guarded: the connection is replaced and the counts add up', async () => {
    const bare = await runChild(
      `const gp = require(process.argv[1]);
       let unhandled = 0;
       process.on('unhandledRejection', () => { unhandled++; });
       let n = 0;
       let reject = false;
       const pool = gp.createPool({ create: async () => ({ id: ++n }), destroy: async () => {}, validate: () => reject ? Promise.reject(new Error('probe failed')) : Promise.resolve(true) }, { max: 1, testOnBorrow: true, acquireTimeoutMillis: 200 });
       (async () => {
         pool.release(await pool.acquire());
         reject = true;
         const second = await pool.acquire().then(() => 'acquired', (e) => e.name);
         console.log(JSON.stringify({ second, size: pool.size, available: pool.available, borrowed: pool.borrowed, unhandled }));
         process.exit(0);
       })();`,
      5_000,
    );
    expect(bare.lines).toEqual([{ second: 'TimeoutError', size: 1, available: 0, borrowed: 0, unhandled: 1 }]);

    const server = await LineServer.start();
    cleanups.push(() => server.close());
    let probes = 0;
    const pool = createPool({
      host: '127.0.0.1',
      port: server.port,
      max: 1,
      validateAfterIdleMs: 0,
      probe: () => {
        probes++;
        return Promise.reject(new Error('probe failed'));
      },
    });
    cleanups.push(() => pool.drain());
    const first = await pool.acquire();
    pool.release(first);
    const second = await pool.acquire();
    expect(second).not.toBe(first);
    expect(probes).toBe(1);
    const s = pool.stats();
    expect(s).toMatchObject({ size: 1, idle: 0, borrowed: 1, validating: 0, connecting: 0, evicted: { probeFailed: 1 } });
    expect(s.size).toBe(s.idle + s.borrowed + s.validating + s.connecting);
    pool.release(second);
  });
});

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1_000;
}
