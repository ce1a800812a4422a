import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { describeNetns, topology, useCleanup } from '../support/netns.js';
import { REQUEST_CLIENT, SIZED_RESPONSE_SERVER } from '../support/programs.js';
import { reportResult } from '../support/report.js';

/**
 * FM-03 with the defence: the client namespace has 100 ephemeral ports
 * (40000–40099). 2,000 requests through @breakwater/pool reuse at most `max`
 * connections: 0 errors. The same 2,000 with a connection per request run
 * out of ports (each client-closed port sits in TIME_WAIT for 60 s) and fail
 * with EADDRNOTAVAIL. Afterwards a fresh pool in the exhausted namespace gets
 * BW_ERR_PORTS_EXHAUSTED with the FM-03 hint instead of a bare errno.
 *
 * The pool runs inside the client namespace: a child Node loads the
 * workspace's TypeScript sources through test/support/ts-hooks.ts.
 */

const REQUESTS = 2_000;
const PORTS = 100;
const POOL_MAX = 10;
const CALLERS = 20;

const HOOKS = new URL('../support/ts-hooks.ts', import.meta.url).href;

/** argv: host port count mode (`pool` | `exhausted`). Prints one JSON line. */
const POOL_CLIENT = `
await import(${JSON.stringify(HOOKS)});
const { createPool } = await import('@breakwater/pool');
const [host, portText, countText, mode] = process.argv.slice(1);
const port = Number(portText);
const count = Number(countText);

function request(conn) {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (chunk) => { got += chunk.length; if (got >= 4) done(); };
    const onError = (error) => done(error);
    const onClose = () => done(Object.assign(new Error('closed mid-reply'), { code: 'ECONNRESET' }));
    function done(error) {
      conn.off('data', onData).off('error', onError).off('close', onClose);
      error ? reject(error) : resolve();
    }
    conn.on('data', onData).on('error', onError).on('close', onClose);
    conn.write('4\\n');
  });
}

const started = performance.now();
const pool = createPool({ host, port, max: ${POOL_MAX} });
const result = { ok: 0, errors: {}, created: 0, elapsedMs: 0 };
if (mode === 'exhausted') {
  try {
    await pool.acquire();
    result.ok++;
  } catch (error) {
    result.errors[error.code] = 1;
    result.hint = error.hint;
  }
} else {
  let next = 0;
  await Promise.all(Array.from({ length: ${CALLERS} }, async () => {
    while (next < count) {
      next++;
      try {
        await pool.use(request);
        result.ok++;
      } catch (error) {
        result.errors[error.code ?? 'ERROR'] = (result.errors[error.code ?? 'ERROR'] ?? 0) + 1;
      }
    }
  }));
}
result.created = pool.stats().created;
await pool.drain();
result.elapsedMs = Math.round(performance.now() - started);
console.log(JSON.stringify(result));
`;

interface Counts {
  ok: number;
  errors: Record<string, number>;
  created?: number;
  hint?: string;
  elapsedMs: number;
}

describeNetns('FM-03 ephemeral port exhaustion, with @breakwater/pool', () => {
  const defer = useCleanup();

  it('2,000 requests through the pool with 100 ports: 0 errors; a connection per request fails', async () => {
    expect(fileURLToPath(HOOKS)).toMatch(/ts-hooks\.ts$/);
    const topo = await topology(defer, { clientNamespace: true });
    await topo.client.sysctl('net.ipv4.ip_local_port_range', `40000 ${40000 + PORTS - 1}`);
    const server = topo.server.spawnNode(SIZED_RESPONSE_SERVER);
    const { port } = (await server.ready) as { port: number };
    const args = (mode: string) => [topo.server.address, String(port), String(REQUESTS), mode];

    // The pool first: its few connections leave at most POOL_MAX ports in TIME_WAIT.
    const pooled = (await topo.client.spawnNode(POOL_CLIENT, args('pool'), { readyTimeoutMs: 60_000 }).ready) as Counts;
    expect(pooled).toMatchObject({ ok: REQUESTS, errors: {} });
    expect(pooled.created).toBeLessThanOrEqual(POOL_MAX);

    const naive = (await topo.client.spawnNode(REQUEST_CLIENT, args('per-request'), { readyTimeoutMs: 60_000 }).ready) as Counts;
    const exhausted = naive.errors.EADDRNOTAVAIL ?? 0;
    expect(naive.ok).toBeLessThanOrEqual(PORTS);
    expect(exhausted).toBeGreaterThanOrEqual(REQUESTS - PORTS);
    expect(naive.ok + exhausted).toBe(REQUESTS);

    // Every port is now in TIME_WAIT: a new pool says so, in words.
    const after = (await topo.client.spawnNode(POOL_CLIENT, args('exhausted'), { readyTimeoutMs: 30_000 }).ready) as Counts;
    expect(after.errors).toEqual({ BW_ERR_PORTS_EXHAUSTED: 1 });
    expect(after.hint).toMatch(/FM-03/);

    reportResult(
      { fm: 'FM-03', side: 'naive', metric: 'EADDRNOTAVAIL', value: exhausted, unit: 'requests' },
      `${REQUESTS} connection-per-request exchanges with ${PORTS} ports: ${naive.ok} ok, ${exhausted} EADDRNOTAVAIL (${naive.elapsedMs} ms)`,
    );
    reportResult(
      { fm: 'FM-03', side: 'breakwater', metric: 'errors', value: 0, unit: 'requests' },
      `${REQUESTS} requests through @breakwater/pool (max ${POOL_MAX}, ${CALLERS} callers) with ${PORTS} ports: ${pooled.ok} ok, 0 errors, ${pooled.created} connections (${pooled.elapsedMs} ms); then a new pool: BW_ERR_PORTS_EXHAUSTED`,
    );
  });
});
