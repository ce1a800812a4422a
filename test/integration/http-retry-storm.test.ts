import type http from 'node:http';
// undici 8 is a dependency of @breakwater/http only; the naive side uses that very copy.
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, propagationHeaders } from '../../packages/http/src/index.js';
import { listenHttp } from '../support/httpServer.js';

// FM-11 over real HTTP tiers: client → A → B → C, C answers 503 to everything.
// Naive: each caller tries 3 times → 27 requests at C per request. Breakwater:
// createClient() in every tier, forwarding the retry marker and the deadline
// (propagationHeaders): the budget and the marker keep C's load ≤ 1.3×.

const REQUESTS = 100;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const listen = (handler: http.RequestListener) => listenHttp(handler, cleanups);

type Call = (port: number, incoming: http.IncomingMessage | undefined) => Promise<number>;

function naiveCaller(): Call {
  const agent = new Agent();
  cleanups.push(() => agent.close());
  return async (port) => {
    let status = 0;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: agent });
      await res.body.dump();
      status = res.statusCode;
      if (status < 500) break;
    }
    return status;
  };
}

function breakwaterCaller(): Call {
  // Floor sized to this test's traffic (100 requests per 10 s window), as for an upstream's steady rate.
  const client = createClient({ retryBudget: { ratio: 0.1, minPerSecond: 0.1 }, baseDelayMs: 2, maxDelayMs: 20, circuit: false });
  cleanups.push(() => client.close());
  return async (port, incoming) => {
    const res = await client.request(`http://127.0.0.1:${port}/`, { headers: incoming === undefined ? {} : propagationHeaders(incoming) });
    await res.body.dump();
    return res.statusCode;
  };
}

async function amplification(make: () => Call): Promise<number> {
  let atC = 0;
  const c = await listen((_req, res) => {
    atC++;
    res.writeHead(503).end();
  });
  const tier = async (next: number) => {
    const call = make();
    return listen((req, res) => {
      call(next, req).then(
        (status) => res.writeHead(status).end(),
        () => res.writeHead(503).end(),
      );
    });
  };
  const a = await tier(await tier(c));
  const client = make();
  const statuses = await Promise.all(Array.from({ length: REQUESTS }, () => client(a, undefined)));
  expect(statuses.every((s) => s === 503)).toBe(true);
  return atC / REQUESTS;
}

describe('FM-11 over HTTP: three tiers of createClient()', () => {
  it('naive 3 attempts per tier gives 27×; Breakwater ≤ 1.3×', async () => {
    const naive = await amplification(naiveCaller);
    const bw = await amplification(breakwaterCaller);
    console.log(`[FM-11/http] requests at C per request: naive ${naive.toFixed(1)}; Breakwater ${bw.toFixed(2)}`);
    expect(naive).toBeGreaterThanOrEqual(27);
    expect(bw).toBeLessThanOrEqual(1.3);
    expect(bw).toBeGreaterThanOrEqual(1);
  });
});
