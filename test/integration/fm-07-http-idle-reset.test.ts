// undici 8 is a dependency of @breakwater/http only; the naive side uses that very copy.
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy } from '../../packages/chaos/src/index.js';
import { createClient } from '../../packages/http/src/index.js';
import { listenHttp } from '../support/httpServer.js';

// FM-07, stale pooled connection: a load balancer (the chaos proxy) resets any
// connection reused after T = 500 ms idle: the request meets the LB's close.
// 1,000 GETs in waves of 50, the waves spaced 0.6 T … 1.4 T apart. undici's
// defaults keep idle sockets 4 s (> T) and never resend: some requests fail.
// Breakwater keeps them 250 ms (< T) and resends a request that died on a
// reused connection once, on a fresh one.

const T = 500;
const WAVES = 20;
const WAVE = 50;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function backend(): Promise<number> {
  return listenHttp(
    (_req, res) => res.end('ok'),
    cleanups,
    (server) => {
      server.keepAliveTimeout = 60_000;
    },
  );
}

async function lb(port: number): Promise<FaultProxy> {
  const proxy = await createFaultProxy({ target: { port }, faults: [{ type: 'idleReset', idleMs: T }] });
  cleanups.push(() => proxy.close());
  return proxy;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the waves; returns the number of failed requests. */
async function run(get: () => Promise<void>, seed: number): Promise<number> {
  let failed = 0;
  let x = seed;
  const rand = () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
  for (let w = 0; w < WAVES; w++) {
    const results = await Promise.allSettled(Array.from({ length: WAVE }, get));
    failed += results.filter((r) => r.status === 'rejected').length;
    await sleep(T * (0.6 + 0.8 * rand()));
  }
  return failed;
}

describe('FM-07: stale pooled connections behind an idle-resetting load balancer', () => {
  it('undici defaults fail some of 1,000 requests; Breakwater fails none', async () => {
    const port = await backend();
    const [naiveLb, bwLb, retryOnlyLb] = await Promise.all([lb(port), lb(port), lb(port)]);

    const naive = new Agent();
    cleanups.push(() => naive.close());
    const bw = createClient({ keepAliveTimeoutMs: T / 2 });
    cleanups.push(() => bw.close());
    // The stale-socket resend alone, with undici's 4 s idle time.
    const retryOnly = createClient({ keepAliveTimeoutMs: 4_000 });
    cleanups.push(() => retryOnly.close());

    const naiveGet = async () => {
      const res = await request(`http://127.0.0.1:${naiveLb.port}/`, { dispatcher: naive });
      await res.body.text();
    };
    const bwGet = (c: typeof bw, p: FaultProxy) => async () => {
      const res = await c.request(`http://127.0.0.1:${p.port}/`);
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
      await res.body.text();
    };
    const started = performance.now();
    const [naiveFailed, bwFailed, retryOnlyFailed] = await Promise.all([run(naiveGet, 1), run(bwGet(bw, bwLb), 1), run(bwGet(retryOnly, retryOnlyLb), 1)]);
    const total = WAVES * WAVE;
    console.log(
      `[FM-07] failed of ${total}: undici defaults ${naiveFailed}; Breakwater ${bwFailed}; stale-socket resend alone ${retryOnlyFailed} ` +
        `(${Math.round(performance.now() - started)} ms)`,
    );
    expect(naiveFailed).toBeGreaterThan(0);
    expect(bwFailed).toBe(0);
    expect(retryOnlyFailed).toBe(0);
  }, 60_000);
});
