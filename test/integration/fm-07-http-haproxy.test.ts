// Not the scorecard's FM-07 scenario: this runs the failure through a real HAProxy and proves the haproxy preset, where the scenario uses the chaos proxy's idleReset and createClient() defaults.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
// undici 8 is a dependency of @breakwater/http only; the naive side uses that very copy.
import { Agent, request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy } from '../../packages/chaos/src/index.js';
import { createClient } from '../../packages/http/src/index.js';
import { resolvePreset } from '../../packages/presets/src/index.js';
import { freePort, type Haproxy, haproxyBinary, startHaproxy } from '../support/haproxy.js';

// FM-07 through a real load balancer: client → chaos proxy (latency on the
// client↔LB hop) → HAProxy (closes a client connection idle T: `timeout
// http-keep-alive` and `timeout client`) → Node http server.
//
// HAProxy sends a response at t0 and closes the connection at t0 + T. The
// response reaches the client at t0 + L; a request the client sends s after
// that reaches HAProxy at t0 + 2L + s. With T − 2L < s < T − L the client has
// not seen the FIN yet when it reuses the connection, and the request arrives
// after HAProxy closed it: reset, a failed request. The waves are spaced
// across that window (and either side of it). undici's defaults keep idle
// sockets 4 s (> T); the haproxy preset, told HAProxy's T, closes them first.

const T_MS = 2_000;
const LATENCY_MS = 300;
const WAVES = 12;
const WAVE = 25;

const binary = haproxyBinary();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (binary === undefined && !required) console.log('[FM-07/haproxy] skipped: no haproxy binary on PATH or in /usr/sbin (apt-get install haproxy)');

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => {});
});

async function backend(): Promise<number> {
  const server = http.createServer((_req, res) => res.end('ok'));
  // Far above HAProxy's server-side idle: only the client↔HAProxy hop is under test.
  server.keepAliveTimeout = 60_000;
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

async function latencyProxy(port: number): Promise<FaultProxy> {
  const proxy = await createFaultProxy({ target: { port }, faults: [{ type: 'latency', latencyMs: LATENCY_MS, direction: 'both' }] });
  cleanups.push(() => proxy.close());
  return proxy;
}

function haproxyConfig(port: number, target: number): string {
  return [
    'global',
    '  nbthread 1',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    `  timeout client ${T_MS}ms`,
    `  timeout http-keep-alive ${T_MS}ms`,
    '  timeout server 30s',
    'frontend fe',
    `  bind 127.0.0.1:${port}`,
    '  default_backend be',
    'backend be',
    `  server s 127.0.0.1:${target}`,
    '',
  ].join('\n');
}

/** WAVES waves of WAVE concurrent GETs, each wave sent s ∈ [T − 2.5L, T − 0.5L] after the previous one ended; returns failures. */
async function run(get: () => Promise<void>, seed: number): Promise<{ failed: number; errors: Map<string, number> }> {
  let failed = 0;
  const errors = new Map<string, number>();
  let x = seed;
  const rand = () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
  for (let w = 0; w < WAVES; w++) {
    const results = await Promise.allSettled(Array.from({ length: WAVE }, get));
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      failed++;
      const code = (r.reason as { code?: string }).code ?? String(r.reason);
      errors.set(code, (errors.get(code) ?? 0) + 1);
    }
    if (w < WAVES - 1) await sleep(T_MS - 2.5 * LATENCY_MS + 2 * LATENCY_MS * rand());
  }
  return { failed, errors };
}

describe.skipIf(binary === undefined && !required)('FM-07 through HAProxy: stale pooled connections the LB closed', () => {
  it('undici defaults fail some requests; createClient from the haproxy preset fails none', async () => {
    expect(binary, 'BREAKWATER_REQUIRE_NETNS=1: haproxy must be installed (apt-get install haproxy)').toBeDefined();
    const preset = resolvePreset({ infra: 'haproxy', overrides: { loadBalancer: { idleTimeoutMs: T_MS, upstreamIdleTimeoutMs: 30_000 } } });
    expect(preset.http.keepAliveTimeoutMs).toBeLessThan(T_MS);

    const frontend = await freePort();
    const haproxy: Haproxy = await startHaproxy(binary!, haproxyConfig(frontend, await backend()), [frontend]);
    cleanups.push(() => haproxy.stop());
    const [naiveHop, bwHop] = await Promise.all([latencyProxy(frontend), latencyProxy(frontend)]);

    const naive = new Agent();
    cleanups.push(() => naive.close());
    const bw = createClient({ keepAliveTimeoutMs: preset.http.keepAliveTimeoutMs });
    cleanups.push(() => bw.close());

    const naiveGet = async () => {
      const res = await request(`http://127.0.0.1:${naiveHop.port}/`, { dispatcher: naive });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    };
    const bwGet = async () => {
      const res = await bw.request(`http://127.0.0.1:${bwHop.port}/`);
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
    };

    const started = performance.now();
    const [before, after] = await Promise.all([run(naiveGet, 7), run(bwGet, 7)]);
    const total = WAVES * WAVE;
    const show = (m: Map<string, number>) => [...m].map(([k, v]) => `${k}×${v}`).join(', ') || 'none';
    console.log(
      `[FM-07/haproxy] failed of ${total} (HAProxy idle ${T_MS} ms, ${LATENCY_MS} ms latency each way client↔LB): ` +
        `undici defaults ${before.failed} (${show(before.errors)}); ` +
        `createClient(haproxy preset, keepAliveTimeoutMs ${preset.http.keepAliveTimeoutMs}) ${after.failed} (${show(after.errors)}) ` +
        `(${Math.round(performance.now() - started)} ms)`,
    );
    expect(before.failed, haproxy.output()).toBeGreaterThan(0);
    expect(after.failed, haproxy.output()).toBe(0);
  }, 40_000);
});
