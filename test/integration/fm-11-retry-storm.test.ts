import http from 'node:http';
import type { AddressInfo } from 'node:net';
// The naive tiers use p-retry directly, as an application would.
import pRetry from 'p-retry';
import { afterEach, describe, expect, it } from 'vitest';
import { markRetry, RetryBudget, retry, retryContextFrom } from '../../packages/retry/src/index.js';

// FM-11, retry storm: client → A → B → C on loopback. The client and each
// tier call the next with 3 attempts; C fails every request with 503. Naively
// the attempts multiply: 3 × 3 × 3 = 27 requests at C per request sent to A.
// With Breakwater each caller has a retry budget (10 % of its requests), and a
// tier serving a retried request (x-breakwater-retry) makes a single attempt
// charged to its own budget, so the retries leaving any tier stay within one
// budget: C sees at most ≈ 1.1 requests per request sent to A.

const REQUESTS_AT_A = 100;
const servers: http.Server[] = [];
const agents: http.Agent[] = [];

afterEach(async () => {
  for (const a of agents.splice(0)) a.destroy();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

async function listen(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function get(agent: http.Agent, port: number, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, headers, ...(signal === undefined ? {} : { signal }) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

const httpError = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });

/** One caller's way to call `next` while serving `incoming` (undefined: the client). */
type Caller = (incoming: http.IncomingMessage | undefined, next: number, agent: http.Agent) => Promise<number>;

// p-retry as commonly configured: retries: 2 (3 attempts). Delays shortened
// from its 1 s default to keep the test quick; they do not change the count.
const naive: Caller = (_incoming, next, agent) =>
  pRetry(
    async () => {
      const status = await get(agent, next);
      if (status >= 500) throw httpError(status);
      return status;
    },
    { retries: 2, minTimeout: 2, factor: 2 },
  );

function breakwater(): Caller {
  // One budget per tier for its upstream. The floor is sized to the traffic of
  // this test (100 requests in a 10 s window: 1 retry), as it would be to an
  // upstream's steady rate in production (see README: `minPerSecond`).
  const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 0.1, windowMs: 10_000 });
  return (incoming, next, agent) =>
    retry(
      async ({ attempt, isRetry, signal }) => {
        const status = await get(agent, next, isRetry ? markRetry({}, attempt) : {}, signal);
        if (status >= 500) throw httpError(status);
        return status;
      },
      { ...(incoming === undefined ? {} : retryContextFrom(incoming)), budget, idempotent: true, attempts: 3, baseDelayMs: 2, maxDelayMs: 20 },
    );
}

/** Builds C ← B ← A; returns A's port and the count of requests C received. */
async function topology(makeCaller: () => Caller) {
  let atC = 0;
  const c = await listen((_req, res) => {
    atC++;
    res.writeHead(503).end();
  });
  const tier = async (next: number) => {
    const call = makeCaller();
    const agent = new http.Agent({ keepAlive: true });
    agents.push(agent);
    return listen((req, res) => {
      call(req, next, agent).then(
        (status) => res.writeHead(status).end(),
        () => res.writeHead(503).end(),
      );
    });
  };
  const a = await tier(await tier(c));
  return { a, atC: () => atC };
}

async function amplification(makeCaller: () => Caller): Promise<number> {
  const { a, atC } = await topology(makeCaller);
  const agent = new http.Agent({ keepAlive: true });
  agents.push(agent);
  const client = makeCaller();
  const outcomes = await Promise.allSettled(Array.from({ length: REQUESTS_AT_A }, () => client(undefined, a, agent)));
  expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
  return atC() / REQUESTS_AT_A;
}

describe('FM-11: retry storm across three tiers', () => {
  it('naive p-retry multiplies to 27 requests at C per request sent to A; Breakwater stays ≤ 1.3', async () => {
    const naiveRatio = await amplification(() => naive);
    const breakwaterRatio = await amplification(breakwater);
    console.log(`[FM-11] naive: ${naiveRatio.toFixed(1)} requests at C per request at A; breakwater: ${breakwaterRatio.toFixed(2)}`);
    expect(naiveRatio).toBeGreaterThanOrEqual(27);
    expect(breakwaterRatio).toBeLessThanOrEqual(1.3);
    // Every request at A still reached C once: the budget sheds retries, not requests.
    expect(breakwaterRatio).toBeGreaterThanOrEqual(1);
  });
});
