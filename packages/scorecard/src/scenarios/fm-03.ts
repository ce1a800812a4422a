import { REQUEST_CLIENT, SIZED_RESPONSE_SERVER } from '@breakwater/chaos';
import type { Scenario } from '../types.js';
import { childImportArgs, readyPort, scenarioTopology, untilAborted } from './kernel-support.js';

// FM-03, ephemeral port exhaustion: a connection per request where the
// client closes first leaves each client port in TIME_WAIT for 60 s. The
// client namespace gets 100 ephemeral ports (40000–40099). Breakwater runs
// first: 2,000 requests through @breakwater/pool with its defaults (its few
// connections leave at most `max` ports in TIME_WAIT). Then the naive client:
// 400 requests, a new connection each, which run out of ports.

const PORTS = 100;
const NAIVE_REQUESTS = 400;
const POOLED_REQUESTS = 2_000;
const CALLERS = 20;

/**
 * argv: hooks poolSpecifier host port count batchSize. 4-byte requests to a
 * SIZED_RESPONSE_SERVER through createPool() with its defaults, from
 * `CALLERS` concurrent callers. Prints `{ ok, errors, batchErrors, created, elapsedMs }`.
 */
const POOL_CLIENT = `
const [hooks, poolSpecifier, host, portText, countText, batchText] = process.argv.slice(1);
if (hooks !== '') await import(hooks);
const { createPool } = await import(poolSpecifier);
const count = Number(countText);
const batchSize = Number(batchText);
const deadline = performance.now() + 30_000;

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
const pool = createPool({ host, port: Number(portText) });
const result = { ok: 0, errors: {}, batchErrors: Array(Math.ceil(count / batchSize)).fill(0), created: 0, elapsedMs: 0 };
let next = 0;
await Promise.all(Array.from({ length: ${CALLERS} }, async () => {
  while (next < count && performance.now() < deadline) {
    const index = next++;
    try {
      await pool.use(request);
      result.ok++;
    } catch (error) {
      const code = error.code ?? 'ERROR';
      result.errors[code] = (result.errors[code] ?? 0) + 1;
      result.batchErrors[Math.floor(index / batchSize)]++;
    }
  }
}));
result.created = pool.stats().created;
await pool.drain();
result.elapsedMs = Math.round(performance.now() - started);
console.log(JSON.stringify(result));
`;

interface Counts {
  ok: number;
  errors: Record<string, number>;
  batchErrors: number[];
  created?: number;
  elapsedMs: number;
}

const errorCount = (c: Counts) => Object.values(c.errors).reduce((a, b) => a + b, 0);
const describeErrors = (c: Counts) =>
  Object.entries(c.errors)
    .map(([code, n]) => `${n} ${code}`)
    .join(', ');

export const FM_03: Scenario = {
  id: 'FM-03',
  title: 'Ephemeral port exhaustion (TIME_WAIT on the client)',
  bound: `0 errors over ${POOLED_REQUESTS.toLocaleString('en')} requests with ${PORTS} ports`,
  naiveExpectation: `a connection per request fails (EADDRNOTAVAIL) within ${NAIVE_REQUESTS} requests`,
  requires: ['netns'],
  budgetMs: 45_000,
  async run(ctx) {
    const topo = await scenarioTopology(ctx, { clientNamespace: true });
    await topo.client.sysctl('net.ipv4.ip_local_port_range', `40000 ${40000 + PORTS - 1}`);
    const port = await readyPort(ctx, topo.server.spawnNode(SIZED_RESPONSE_SERVER).ready);
    const target = [topo.server.address, String(port)];

    ctx.progress(`breakwater: ${POOLED_REQUESTS} requests through the pool with ${PORTS} ports`);
    const pooledChild = topo.client.spawnNode(POOL_CLIENT, [...childImportArgs('@breakwater/pool'), ...target, String(POOLED_REQUESTS), '100'], {
      readyTimeoutMs: 35_000,
    });
    const pooled = (await untilAborted(ctx, pooledChild.ready)) as Counts;

    ctx.progress(`naive: ${NAIVE_REQUESTS} requests, a connection each`);
    const naiveChild = topo.client.spawnNode(REQUEST_CLIENT, [...target, String(NAIVE_REQUESTS), 'per-request', '20'], { readyTimeoutMs: 35_000 });
    const naive = (await untilAborted(ctx, naiveChild.ready)) as Counts;

    const exhausted = naive.errors.EADDRNOTAVAIL ?? 0;
    return {
      naive: {
        value: errorCount(naive),
        unit: 'errors',
        text: `${exhausted}/${NAIVE_REQUESTS} EADDRNOTAVAIL`,
        ok: exhausted > 0,
        series: { label: 'naive: failed requests per 20', unit: 'errors', points: naive.batchErrors },
      },
      breakwater: {
        value: errorCount(pooled),
        unit: 'errors',
        text: `${errorCount(pooled)}/${POOLED_REQUESTS} errors over ${pooled.created ?? '?'} connections`,
        ok: errorCount(pooled) === 0 && pooled.ok === POOLED_REQUESTS,
        series: { label: 'breakwater: failed requests per 100', unit: 'errors', points: pooled.batchErrors },
      },
      notes: [
        `client namespace with ${PORTS} ephemeral ports (40000–40099); each client-closed port sits in TIME_WAIT for 60 s`,
        `naive: ${naive.ok} ok${errorCount(naive) > 0 ? `, ${describeErrors(naive)}` : ''} in ${naive.elapsedMs} ms`,
        `breakwater: createPool() defaults, ${CALLERS} concurrent callers: ${pooled.ok} ok in ${pooled.elapsedMs} ms`,
      ],
    };
  },
};
