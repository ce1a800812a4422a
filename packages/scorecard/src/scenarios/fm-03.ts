import { REQUEST_CLIENT, SIZED_RESPONSE_SERVER, SLOW_RESPONSE_SERVER, type Topology } from '@breakwater/chaos';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, droppedNote, jsonOptions, whose } from './config-support.js';
import { childImportArgs, readyPort, scenarioTopology, seconds, untilAborted } from './kernel-support.js';

// FM-03, ephemeral port exhaustion: a connection per request where the
// client closes first leaves each client port in TIME_WAIT for 60 s. The
// client namespace gets 100 ephemeral ports (40000–40099). Breakwater runs
// first: 2,000 requests through @breakwater/pool with its defaults (its few
// connections leave at most `max` ports in TIME_WAIT). Then the naive client:
// 400 requests, a new connection each, which run out of ports.
// Healthy twin, beside the pooled run in the same 100 ports: a burst of 40
// requests at once, more than the pool's `max`, to a backend taking 150 ms
// each. They must queue and all complete, none refused or timed out.

const PORTS = 100;
const NAIVE_REQUESTS = 400;
const POOLED_REQUESTS = 2_000;
const CALLERS = 20;
/** The twin's burst: this many callers at once (4× the default `max`), each request TWIN_THINK_MS at the backend. */
const BURST = 40;
const TWIN_THINK_MS = 150;
/** The pool options that decide whether a caller gets a connection, and how many ports the pool leaves in TIME_WAIT. */
const POOL_KEYS = ['max', 'acquireTimeoutMs', 'maxWaiting', 'idleTimeoutMs', 'maxLifetimeMs'];

/**
 * argv: hooks poolSpecifier host port count batchSize max mode options(JSON: the user's pool options) callers. 4-byte requests
 * to a SIZED_RESPONSE_SERVER through createPool() (its defaults; `max` when
 * not 0), from `CALLERS` concurrent callers. Prints `{ ok, errors,
 * batchErrors, created, elapsedMs }`. Mode `exhausted`: one acquire() only,
 * with the error's `hint`.
 */
const POOL_CLIENT = `
const [hooks, poolSpecifier, host, portText, countText, batchText, maxText, mode, optionsJson, callersText] = process.argv.slice(1);
if (hooks !== '') await import(hooks);
const { createPool } = await import(poolSpecifier);
const count = mode === 'exhausted' ? 0 : Number(countText);
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
const pool = createPool({ ...JSON.parse(optionsJson ?? '{}'), host, port: Number(portText), ...(maxText === '0' ? {} : { max: Number(maxText) }) });
const result = { ok: 0, errors: {}, batchErrors: Array(Math.ceil(count / batchSize)).fill(0), created: 0, elapsedMs: 0 };
if (mode === 'exhausted') {
  try {
    pool.release(await pool.acquire());
    result.ok++;
  } catch (error) {
    result.errors[error.code ?? 'ERROR'] = 1;
    result.hint = error.hint;
  }
}
let next = 0;
await Promise.all(Array.from({ length: Number(callersText) }, async () => {
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

/** What a client child prints. */
export interface Fm03Counts {
  ok: number;
  errors: Record<string, number>;
  batchErrors: number[];
  created?: number;
  /** Mode `exhausted`: the error's hint. */
  hint?: string;
  elapsedMs: number;
}
type Counts = Fm03Counts;

/** The scenario's lab, for a test's extra steps: the client namespace with its few ports, the server, and clients to run there. */
export interface Fm03Lab {
  ctx: ScenarioContext;
  topology: Topology;
  /** A connection per request (`per-request`) or one reused connection (`reused`), `count` requests. */
  requests(mode: 'per-request' | 'reused', count: number): Promise<Fm03Counts>;
  /**
   * `count` requests through a pool (its defaults, or `max`) from `callers` at once (default 20), to
   * `port` (default: the scenario's server); mode `exhausted`: one acquire() with its error.
   */
  pool(count: number, options?: { max?: number; mode?: 'exhausted'; callers?: number; port?: number }): Promise<Fm03Counts>;
}

export interface Fm03Options {
  /** Requests of the naive side, a connection each. @defaultValue 400 */
  naiveRequests?: number;
  /** Requests through the pool. @defaultValue 2_000 */
  pooledRequests?: number;
  /** The pool's `max`; its default when absent. */
  poolMax?: number;
  /** Runs in the lab before the naive side exhausts the ports; `twin`: the healthy burst's counts. */
  beforeNaive?(lab: Fm03Lab, pooled: Fm03Counts, twin: Fm03Counts): Promise<void>;
  /** Runs in the lab after the naive side, every port in TIME_WAIT. */
  afterNaive?(lab: Fm03Lab, naive: Fm03Counts): Promise<void>;
}

const errorCount = (c: Counts) => Object.values(c.errors).reduce((a, b) => a + b, 0);
const describeErrors = (c: Counts) =>
  Object.entries(c.errors)
    .map(([code, n]) => `${n} ${code}`)
    .join(', ');

/** FM-03 with other counts, and a test's extra steps in its lab. */
export const fm03 = (options: Fm03Options = {}): Scenario => {
  const naiveRequests = options.naiveRequests ?? NAIVE_REQUESTS;
  const pooledRequests = options.pooledRequests ?? POOLED_REQUESTS;
  return {
    id: 'FM-03',
    title: 'Ephemeral port exhaustion (TIME_WAIT on the client)',
    bound: `0 errors over ${pooledRequests.toLocaleString('en')} requests with ${PORTS} ports`,
    naiveExpectation: `a connection per request fails (EADDRNOTAVAIL) within ${naiveRequests} requests`,
    twinExpectation: `a burst of ${BURST} requests at once to a backend taking ${TWIN_THINK_MS} ms each (more than the pool's max: they queue): all complete, none refused`,
    requires: ['netns'],
    budgetMs: 45_000,
    async run(ctx) {
      const topo = await scenarioTopology(ctx, { clientNamespace: true });
      await topo.client.sysctl('net.ipv4.ip_local_port_range', `40000 ${40000 + PORTS - 1}`);
      const [port, twinPort] = await Promise.all([
        readyPort(ctx, topo.server.spawnNode(SIZED_RESPONSE_SERVER).ready),
        readyPort(ctx, topo.server.spawnNode(SLOW_RESPONSE_SERVER, [String(TWIN_THINK_MS)]).ready),
      ]);
      // The client runs in its own namespace and gets the options as JSON: what does not survive it is left out and named.
      const { sent, dropped } = jsonOptions(ctx.config.pool);
      const child = async (source: string, args: string[]) =>
        (await untilAborted(ctx, topo.client.spawnNode(source, args, { readyTimeoutMs: 35_000 }).ready)) as Counts;
      const lab: Fm03Lab = {
        ctx,
        topology: topo,
        requests: (mode, count) => child(REQUEST_CLIENT, [topo.server.address, String(port), String(count), mode, '20']),
        pool: (count, o = {}) =>
          child(POOL_CLIENT, [
            ...childImportArgs('@breakwater/pool'),
            topo.server.address,
            String(o.port ?? port),
            String(count),
            '100',
            String(o.max ?? 0),
            o.mode ?? 'requests',
            JSON.stringify(sent),
            String(o.callers ?? CALLERS),
          ]),
      };

      ctx.progress(`breakwater: ${pooledRequests} requests through the pool with ${PORTS} ports`);
      // The twin beside it, through its own pool with the same options: it adds no wall time.
      const [pooled, twin] = await Promise.all([
        lab.pool(pooledRequests, options.poolMax === undefined ? {} : { max: options.poolMax }),
        lab.pool(BURST, { port: twinPort, callers: BURST }),
      ]);
      await options.beforeNaive?.(lab, pooled, twin);

      ctx.progress(`naive: ${naiveRequests} requests, a connection each`);
      const naive = await lab.requests('per-request', naiveRequests);
      await options.afterNaive?.(lab, naive);

      const exhausted = naive.errors.EADDRNOTAVAIL ?? 0;
      const blame = (m: Measurement) => blameOptions(ctx, m, sent, POOL_KEYS);
      return {
        naive: {
          value: errorCount(naive),
          unit: 'errors',
          text: `${exhausted}/${naiveRequests} EADDRNOTAVAIL`,
          ok: exhausted > 0,
          series: { label: 'naive: failed requests per 20', unit: 'errors', points: naive.batchErrors },
        },
        breakwater: blame({
          value: errorCount(pooled),
          unit: 'errors',
          text: `${errorCount(pooled)}/${pooledRequests} errors over ${pooled.created ?? '?'} connections`,
          ok: errorCount(pooled) === 0 && pooled.ok === pooledRequests,
          series: { label: 'breakwater: failed requests per 100', unit: 'errors', points: pooled.batchErrors },
        }),
        twin: blame({
          value: errorCount(twin),
          unit: 'errors',
          text:
            errorCount(twin) === 0
              ? `${twin.ok}/${BURST} ok over ${twin.created ?? '?'} connections in ${seconds(twin.elapsedMs)} s`
              : `${twin.ok}/${BURST} ok, ${describeErrors(twin)}`,
          ok: errorCount(twin) === 0 && twin.ok === BURST,
        }),
        notes: [
          `client namespace with ${PORTS} ephemeral ports (40000–40099); each client-closed port sits in TIME_WAIT for 60 s`,
          `naive: ${naive.ok} ok${errorCount(naive) > 0 ? `, ${describeErrors(naive)}` : ''} in ${naive.elapsedMs} ms`,
          `breakwater: ${whose(ctx, 'createPool()', sent)} (as JSON in the client's namespace), ${CALLERS} concurrent callers: ${pooled.ok} ok in ${pooled.elapsedMs} ms`,
          ...droppedNote('pool', dropped),
        ],
      };
    },
  };
};

export const FM_03: Scenario = fm03();
