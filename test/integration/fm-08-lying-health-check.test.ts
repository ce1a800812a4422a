// Not the scorecard's FM-08 scenario (a PMTU black hole in network namespaces): this one runs on loopback against generic-pool with testOnBorrow and checks the pool's probe, eviction and fail-fast counts exactly.
import net from 'node:net';
import { createPool } from '@breakwater/pool';
import { afterEach, expect, it } from 'vitest';
import { createGenericPool } from '../../packages/pool/test/bareGenericPool.js';
import { exchange, LineServer } from '../../packages/pool/test/lineServer.js';
import { reportResult } from '../support/report.js';

/**
 * FM-08, health checks that lie: the server answers the small `PING` probe
 * but resets every real request (as a backend behind a PMTU black hole, or a
 * proxy answering for a dead backend, would). A pool that trusts its probe
 * keeps handing out connections that pass it, and every request fails.
 * Breakwater's pool counts failures on real traffic: each evicts its
 * connection, and after N in a row the endpoint is marked unhealthy and
 * callers fail fast without reaching it.
 */

const N = 3;
const REQUESTS = 20;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A server that answers `PING` and resets on anything else; counts both. */
async function lyingServer(): Promise<{ port: number; probes: number; realRequests: number }> {
  const counts = { port: 0, probes: 0, realRequests: 0 };
  const server = await LineServer.start({
    answer: (line) => {
      if (line === 'PING') {
        counts.probes++;
        return 'PONG';
      }
      counts.realRequests++;
      return 'RESET';
    },
  });
  cleanups.push(() => server.close());
  counts.port = server.port;
  return counts;
}

const probe = async (conn: net.Socket, signal?: AbortSignal) => (await exchange(conn, 'PING', signal)) === 'PONG';

it(`FM-08: connections that pass the probe but fail real requests are evicted and the endpoint is marked unhealthy within ${N} failures`, async () => {
  const [naiveServer, bwServer] = await Promise.all([lyingServer(), lyingServer()]);

  // Naive: generic-pool validating every borrow with the probe.
  const naive = createGenericPool(
    {
      create: () =>
        new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect(naiveServer.port, '127.0.0.1', () => resolve(s));
          s.once('error', reject);
        }),
      destroy: async (s) => void s.destroy(),
      validate: (s) => probe(s).catch(() => false),
    },
    { max: N, testOnBorrow: true },
  );
  cleanups.push(async () => {
    await naive.drain();
    await naive.clear();
  });
  const naiveErrors: string[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    await naive.use((conn) => exchange(conn, 'GET /report')).catch((e: { code?: string }) => naiveErrors.push(e.code ?? 'error'));
  }
  expect(naiveErrors).toHaveLength(REQUESTS);
  expect(naiveServer.realRequests).toBe(REQUESTS);
  expect(naiveServer.probes).toBeGreaterThanOrEqual(REQUESTS);

  // Breakwater: the same probe on warm connections, plus passive health.
  const pool = createPool({ host: '127.0.0.1', port: bwServer.port, max: N, minIdle: N, validateAfterIdleMs: 0, unhealthyAfterFailures: N, probe });
  cleanups.push(() => pool.drain());
  const marked: number[] = [];
  pool.on('markedUnhealthy', ({ consecutiveFailures }) => marked.push(consecutiveFailures));
  while (pool.stats().idle < N) await new Promise((resolve) => setTimeout(resolve, 5));
  const errors: string[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    await pool.use((conn) => exchange(conn, 'GET /report')).catch((e: { code?: string }) => errors.push(e.code ?? 'error'));
  }
  expect(bwServer.probes).toBe(N); // the probes passed: each warm connection was checked and looked fine
  expect(bwServer.realRequests).toBe(N);
  expect(marked).toEqual([N]);
  expect(errors.slice(N)).toEqual(Array(REQUESTS - N).fill('BW_ERR_CIRCUIT_OPEN'));
  expect(pool.stats()).toMatchObject({ healthy: false, consecutiveFailures: N, evicted: { failed: N } });

  reportResult(
    { fm: 'FM-08', side: 'naive', metric: 'requests sent to the bad endpoint', value: naiveServer.realRequests, unit: 'requests' },
    `generic-pool with a PING validate: ${naiveServer.probes} probes passed, ${REQUESTS} of ${REQUESTS} requests sent and failed, endpoint never marked`,
  );
  reportResult(
    { fm: 'FM-08', side: 'breakwater', metric: 'requests sent to the bad endpoint', value: bwServer.realRequests, unit: 'requests' },
    `@breakwater/pool: ${N} probes passed, ${N} requests failed and evicted their connections, endpoint marked unhealthy after ${marked[0]}; the other ${REQUESTS - N} failed fast with BW_ERR_CIRCUIT_OPEN`,
  );
});
