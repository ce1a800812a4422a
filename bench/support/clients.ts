/**
 * The clients the HTTP benches compare, each as a user would set it up to
 * GET one origin and read the whole body. Breakwater runs from the compiled
 * packages (`tsc -b` first), as a user would, with every default layer on and
 * the origin's name resolved by its `resolve` option; so does the undici
 * `interceptors.dns()` peer, through its `lookup` option.
 *
 * Peers load lazily: a bench naming three clients does not import axios.
 */
import http from 'node:http';
import { createRequire } from 'node:module';
import { createClient } from '../../packages/http/dist/index.js';

// The undici, axios and got that @breakwater/http itself resolves (its dependency and devDependencies).
const require = createRequire(new URL('../../packages/http/package.json', import.meta.url));
export const undici = require('undici') as typeof import('undici');

/** `--clients` keys → the labels in the benches' output (and in bench/results/*.json). */
export const LABELS = {
  breakwater: 'breakwater',
  origin: 'breakwater origin handle',
  pool: 'undici Pool',
  agent: 'undici request(url), Agent',
  interceptors: 'undici Agent + interceptors.retry() + dns()',
  cockatiel: 'undici + cockatiel retry + breaker',
  'http-agent': 'http.Agent',
  fetch: 'global fetch',
  axios: 'axios',
  got: 'got',
} as const;
export type ClientKey = keyof typeof LABELS;
export const ALL_CLIENTS = Object.keys(LABELS) as ClientKey[];

/**
 * The idle time both clients get in the heap and origins benches. With their defaults (Breakwater 4 s;
 * undici 4 s, stretched to 59 s by the server's `Keep-Alive: timeout=60`) a pass over 10,000 origins or
 * connections outlasts Breakwater's, and the bench would measure reconnects instead of the cost of
 * keeping them (seen: 1,084 against 197 µs of CPU per request at 10,000 origins).
 */
export const LONG_KEEP_ALIVE_MS = 120_000;

/** The name Breakwater and the dns interceptor resolve; nothing else sees it. */
export const BENCH_HOST = 'bench.internal';
export const resolveToLoopback = async () => [{ address: '127.0.0.1', family: 4 as const, ttlMs: 60_000 }];

// axios and got are @breakwater/http's devDependencies, not the root's: their types do not resolve from here.
interface Axios {
  get(url: string, config: { httpAgent: http.Agent; responseType: 'arraybuffer' }): Promise<unknown>;
}
interface Got {
  extend(o: { agent: { http: http.Agent }; retry: { limit: number } }): { get(url: string): { buffer(): Promise<Buffer> } };
}

interface Made {
  call: () => Promise<unknown>;
  close: () => Promise<void> | void;
}

async function make(name: ClientKey, port: number, connections: number): Promise<Made> {
  const url = `http://127.0.0.1:${port}/`;
  const named = `http://${BENCH_HOST}:${port}/`;
  switch (name) {
    case 'breakwater': {
      const bw = createClient({ resolve: resolveToLoopback, connections });
      return { call: async () => (await bw.request(named)).body.arrayBuffer(), close: () => bw.close() };
    }
    case 'origin': {
      // The same client and layers, through client.origin(o): no URL parsed per request, as pool.request({ path }).
      const bw = createClient({ resolve: resolveToLoopback, connections });
      const handle = bw.origin(`http://${BENCH_HOST}:${port}`);
      return { call: async () => (await handle.request({ path: '/', method: 'GET' })).body.arrayBuffer(), close: () => bw.close() };
    }
    case 'pool': {
      const pool = new undici.Pool(`http://127.0.0.1:${port}`, { connections });
      return { call: async () => (await pool.request({ path: '/', method: 'GET' })).body.arrayBuffer(), close: () => pool.close() };
    }
    case 'agent': {
      // Not a goal, a reference: the path Breakwater's client takes (a URL per call, a pool per origin).
      const agent = new undici.Agent({ connections });
      return { call: async () => (await undici.request(url, { dispatcher: agent })).body.arrayBuffer(), close: () => agent.close() };
    }
    case 'interceptors': {
      // What a user wanting retries and a DNS cache from undici alone writes; each interceptor with its defaults.
      const agent = new undici.Agent({ connections });
      const lookup = (_origin: URL, _o: unknown, cb: (err: null, addresses: { address: string; family: 4; ttl: number }[]) => void) =>
        cb(null, [{ address: '127.0.0.1', family: 4, ttl: 60_000 }]);
      const composed = agent.compose(undici.interceptors.retry(), undici.interceptors.dns({ lookup }));
      return { call: async () => (await undici.request(named, { dispatcher: composed })).body.arrayBuffer(), close: () => agent.close() };
    }
    case 'cockatiel': {
      // cockatiel's README composition, verbatim: 3 attempts with exponential backoff around a breaker
      // that opens after 5 consecutive failures (its cheapest breaker; SamplingBreaker does more per call).
      const { ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleAll, retry, wrap } = await import('cockatiel');
      const policy = wrap(
        retry(handleAll, { maxAttempts: 3, backoff: new ExponentialBackoff() }),
        circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
      );
      const agent = new undici.Agent({ connections });
      return {
        call: () => policy.execute(async ({ signal }) => (await undici.request(url, { dispatcher: agent, signal })).body.arrayBuffer()),
        close: () => agent.close(),
      };
    }
    case 'http-agent': {
      const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
      return {
        call: () =>
          new Promise((resolve, reject) => {
            http
              .get(url, { agent }, (res) => {
                res.resume();
                res.on('end', resolve);
                res.on('error', reject);
              })
              .on('error', reject);
          }),
        close: () => agent.destroy(),
      };
    }
    case 'fetch':
      // Node's own bundled undici and its global dispatcher (no connection limit can be set).
      return { call: async () => (await globalThis.fetch(url)).arrayBuffer(), close: () => {} };
    case 'axios': {
      const axios = (require('axios') as { default: Axios }).default;
      const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
      return { call: () => axios.get(url, { httpAgent: agent, responseType: 'arraybuffer' }), close: () => agent.destroy() };
    }
    case 'got': {
      const got = ((await import(require.resolve('got'))) as { default: Got }).default;
      const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
      const client = got.extend({ agent: { http: agent }, retry: { limit: 0 } });
      return { call: () => client.get(url).buffer(), close: () => agent.destroy() };
    }
  }
}

/** Checks a comma-separated `--clients` list of keys (or `all`) against the known ones. */
export function clientKeys(list: string): ClientKey[] {
  if (list === 'all') return [...ALL_CLIENTS];
  const keys = list.split(',').map((s) => s.trim());
  for (const k of keys) if (!Object.hasOwn(LABELS, k)) throw new Error(`unknown client "${k}"; known: ${ALL_CLIENTS.join(', ')}`);
  return keys as ClientKey[];
}

/** Builds the clients against one port of 127.0.0.1, each allowed `connections` connections; keyed by label. */
export async function makeClients(keys: readonly ClientKey[], o: { port: number; connections: number }) {
  const made = new Map<string, Made>();
  for (const k of keys) made.set(LABELS[k], await make(k, o.port, o.connections));
  return {
    calls: Object.fromEntries([...made].map(([n, m]) => [n, m.call])) as Record<string, () => Promise<unknown>>,
    close: async () => {
      await Promise.all([...made.values()].map((m) => m.close()));
    },
  };
}
