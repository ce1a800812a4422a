import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy } from '../../packages/chaos/src/index.js';
import { hardenServer, resolvePreset } from '../../packages/presets/src/index.js';
import { freePort, type Haproxy, haproxyBinary, startHaproxy } from '../support/haproxy.js';
import { reportResult } from '../support/report.js';

// FM-16, the ALB 502: a load balancer reuses an idle keep-alive connection to
// a server that is closing it. Client → HAProxy (`http-reuse always`, one
// thread) → chaos proxy (latency on the LB↔server hop) → Node http server.
//
// On bare loopback the server's FIN reaches HAProxy in microseconds and the
// race is almost never lost. The latency fault delays HAProxy's request by
// LATENCY_MS on its way to the server (a FIN with nothing queued before it is
// not delayed), so a request HAProxy sends in (serverIdle − LATENCY_MS,
// serverIdle) after the previous response left the server arrives after the
// server closed: HAProxy gets the FIN/RST instead of a response → 502. The
// client waits SPACING_MS after each response, which lands HAProxy's request
// in the middle of that window every time.
//
// Naive: Node's default keepAliveTimeout (5 s, plus Node 24's 1 s
// keepAliveTimeoutBuffer), shorter than HAProxy's idle server connections.
// Breakwater: the same server after hardenServer(server, preset), with the
// preset's load balancer numbers scaled down to this HAProxy's.

const LATENCY_MS = 400;
const ROUNDS = 6;
// HAProxy 2.6 closes an idle server connection after ≈ 2–3 pool-purge-delays (measured: 4 s → 8–12 s),
// never later than `timeout server` here; its client keep-alive is `timeout http-keep-alive`.
const PURGE_DELAY_S = 4;
const SERVER_TIMEOUT_S = 15;
const CLIENT_KEEP_ALIVE_S = 10;

const binary = haproxyBinary();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (binary === undefined && !required) console.log('[FM-16] skipped: no haproxy binary on PATH or in /usr/sbin (apt-get install haproxy)');

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

async function listen(server: http.Server): Promise<number> {
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

/** One request on a fresh client connection (so only HAProxy's server-side reuse is under test). */
function get(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'ERROR'));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'ERROR'));
  });
}

/** ROUNDS requests, each SPACING_MS after the previous response; after a failure, one immediate request re-opens a server connection. */
async function series(port: number, spacingMs: number): Promise<{ outcomes: (number | string)[]; failures: number }> {
  const outcomes: (number | string)[] = [await get(port)];
  for (let round = 0; round < ROUNDS; round++) {
    await sleep(spacingMs);
    const outcome = await get(port);
    outcomes.push(outcome);
    if (outcome !== 200) outcomes.push(await get(port));
  }
  return { outcomes, failures: outcomes.filter((o) => o !== 200).length };
}

function haproxyConfig(frontends: { port: number; target: number }[]): string {
  return [
    'global',
    '  nbthread 1',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    `  timeout client ${SERVER_TIMEOUT_S}s`,
    `  timeout server ${SERVER_TIMEOUT_S}s`,
    `  timeout http-keep-alive ${CLIENT_KEEP_ALIVE_S}s`,
    '  http-reuse always',
    `  default-server pool-purge-delay ${PURGE_DELAY_S}s`,
    ...frontends.flatMap(({ port, target }, i) => [
      `frontend fe${i}`,
      `  bind 127.0.0.1:${port}`,
      `  default_backend be${i}`,
      `backend be${i}`,
      `  server s${i} 127.0.0.1:${target}`,
    ]),
    '',
  ].join('\n');
}

describe.skipIf(binary === undefined && !required)('FM-16: stale keep-alive behind a load balancer (the ALB 502)', () => {
  it('Node’s default keep-alive behind HAProxy gives 502s; hardenServer() above the LB idle gives none', async () => {
    expect(binary, 'BREAKWATER_REQUIRE_NETNS=1: haproxy must be installed (apt-get install haproxy)').toBeDefined();
    const preset = resolvePreset({
      infra: 'haproxy',
      env: 'production',
      overrides: {
        loadBalancer: {
          idleTimeoutMs: CLIENT_KEEP_ALIVE_S * 1_000,
          upstreamIdleTimeoutMs: SERVER_TIMEOUT_S * 1_000,
          responseTimeoutMs: SERVER_TIMEOUT_S * 1_000,
        },
      },
    });

    const handler: http.RequestListener = (_req, res) => res.end('ok');
    const naive = http.createServer(handler);
    const hardened = http.createServer(handler);
    const applied = hardenServer(hardened, preset);
    expect(hardened.keepAliveTimeout).toBe(SERVER_TIMEOUT_S * 1_000 + 5_000);

    const [naiveProxy, hardenedProxy] = await Promise.all([latencyProxy(await listen(naive)), latencyProxy(await listen(hardened))]);
    const frontends = [
      { port: await freePort(), target: naiveProxy.port },
      { port: await freePort(), target: hardenedProxy.port },
    ];
    const haproxy: Haproxy = await startHaproxy(binary!, haproxyConfig(frontends), [frontends[0]!.port, frontends[1]!.port]);
    cleanups.push(() => haproxy.stop());

    // When the naive server really closes an idle connection (Node ≥ 24.6 adds keepAliveTimeoutBuffer).
    const naiveIdleMs = naive.keepAliveTimeout + ((naive as { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer ?? 0);
    const spacingMs = naiveIdleMs - Math.round(1.5 * LATENCY_MS);
    const [before, after] = await Promise.all([series(frontends[0]!.port, spacingMs), series(frontends[1]!.port, spacingMs)]);

    const requests = (s: { outcomes: unknown[] }) => s.outcomes.length;
    reportResult(
      { fm: 'FM-16', side: 'naive', metric: 'failed requests', value: before.failures, unit: 'requests' },
      `server keepAliveTimeout ${naive.keepAliveTimeout} ms (closes at ${naiveIdleMs} ms) behind HAProxy idle ≥ ${PURGE_DELAY_S * 2} s: ` +
        `${before.failures} of ${requests(before)} failed, spaced ${spacingMs} ms, ${LATENCY_MS} ms LB↔server latency [${before.outcomes.join(' ')}]`,
    );
    reportResult(
      { fm: 'FM-16', side: 'breakwater', metric: 'failed requests', value: after.failures, unit: 'requests' },
      `hardenServer(): keepAliveTimeout ${applied.keepAliveTimeoutMs} ms, headersTimeout ${applied.headersTimeoutMs} ms: ` +
        `${after.failures} of ${requests(after)} failed [${after.outcomes.join(' ')}]`,
    );
    expect(before.failures, `naive outcomes: ${before.outcomes.join(' ')}\n${haproxy.output()}`).toBeGreaterThanOrEqual(1);
    expect(after.failures, `hardened outcomes: ${after.outcomes.join(' ')}\n${haproxy.output()}`).toBe(0);
  }, 60_000);
});
