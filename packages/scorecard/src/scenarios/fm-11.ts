import type http from 'node:http';
import { createClient, type HttpClient, propagationHeaders } from '@breakwater/http';
import pRetry from 'p-retry';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, whose } from './config-support.js';
import { httpGet, keepAliveAgent, listen, round } from './resilience-support.js';

// FM-11, retry storm: client → A → B → C on loopback, C answers 503 to
// everything. Naively every caller retries (p-retry, 3 attempts) and the
// attempts multiply: 3 × 3 × 3 = 27 requests at C per request sent to A.
// With createClient() (defaults) in every tier, forwarding the retry marker
// and the deadline (propagationHeaders), each tier has a retry budget and a
// breaker per upstream, and only the tier nearest the failure retries.
// Healthy twin: one transient 503 from a healthy upstream must be retried
// once and succeed, by a client built the same way.

export const REQUESTS = 100;

/** How a caller reaches `next` while serving `incoming` (undefined: the outside client). */
export type Call = (next: number, incoming: http.IncomingMessage | undefined) => Promise<number>;

const httpError = (status: number) => Object.assign(new Error(`HTTP ${status}`), { status });

function naiveCaller(ctx: ScenarioContext): Call {
  const agent = keepAliveAgent(ctx);
  // p-retry as commonly configured (retries: 2, i.e. 3 attempts); its own
  // default of 10 retries would make 11³ = 1,331 requests. Delays shortened
  // from 1 s: they do not change the count.
  return (next) =>
    pRetry(
      async () => {
        const status = await httpGet(next, { agent, signal: ctx.signal });
        if (status >= 500) throw httpError(status);
        return status;
      },
      { retries: 2, minTimeout: 2, factor: 2, signal: ctx.signal },
    );
}

/** How the scenario builds a Breakwater client (one per tier); the healthy twin gets the same. */
export type MakeClient = () => HttpClient;

function breakwaterCaller(ctx: ScenarioContext, make: MakeClient): Call {
  const client = make();
  ctx.defer(() => client.close());
  return async (next, incoming) => {
    const res = await client.request(`http://127.0.0.1:${next}/`, { headers: incoming === undefined ? {} : propagationHeaders(incoming), signal: ctx.signal });
    await res.body.dump();
    return res.statusCode;
  };
}

/**
 * Builds C ← B ← A and sends REQUESTS to A at once; returns the requests each
 * tier received and how many of the REQUESTS got an answer below 500 (`served`).
 */
export async function storm(ctx: ScenarioContext, make: (ctx: ScenarioContext) => Call): Promise<{ a: number; b: number; c: number; served: number }> {
  const hits = { a: 0, b: 0, c: 0, served: 0 };
  const { port: c } = await listen(ctx, (_req, res) => {
    hits.c++;
    res.writeHead(503).end();
  });
  const tier = async (name: 'a' | 'b', next: number) => {
    const call = make(ctx);
    const { port } = await listen(ctx, (req, res) => {
      hits[name]++;
      call(next, req).then(
        (status) => res.writeHead(status).end(),
        () => res.writeHead(503).end(),
      );
    });
    return port;
  };
  const a = await tier('a', await tier('b', c));
  const client = make(ctx);
  const statuses = await Promise.all(Array.from({ length: REQUESTS }, () => client(a, undefined).catch(() => 503)));
  hits.served = statuses.filter((status) => status < 500).length;
  ctx.signal.throwIfAborted();
  return hits;
}

/**
 * Healthy twin: an upstream answers its first request 503 (a transient
 * failure: a restart, a full queue), then 200. A client from `make` must
 * retry it once and succeed: 2 requests upstream, status 200.
 */
export async function transientFailureTwin(ctx: ScenarioContext, make: MakeClient): Promise<Measurement> {
  let hits = 0;
  const { port } = await listen(ctx, (_req, res) => {
    hits++;
    res.writeHead(hits === 1 ? 503 : 200).end();
  });
  const call = breakwaterCaller(ctx, make);
  const status = await call(port, undefined).catch((err: unknown) => (err as { code?: string }).code ?? String(err));
  return {
    value: hits,
    unit: 'count',
    text: status === 200 && hits === 2 ? 'one 503, retried once: 200' : `one 503, then ${status} after ${hits} request(s) upstream`,
    ok: status === 200 && hits === 2,
  };
}

/** The options that bound the storm (and the twin's one retry): the stack, its attempts, deadline and breaker. */
const STORM_KEYS = ['attempts', 'deadlineMs', 'circuit'];

const perTier = (h: { a: number; b: number; c: number }) => `A ${h.a}, B ${h.b}, C ${h.c} requests for ${REQUESTS}`;

export const FM_11: Scenario = {
  id: 'FM-11',
  title: 'Retry storm (3 layers × 3 retries)',
  bound: 'amplification ≤ 1.3× at the bottom',
  naiveExpectation: 'amplification ≥ 27× at the bottom',
  twinExpectation: 'a single transient 503 from a healthy upstream: retried once, 200',
  requires: [],
  budgetMs: 20_000,
  async run(ctx) {
    ctx.progress('naive: p-retry in each of 3 tiers, bottom fails 100%');
    const naive = await storm(ctx, naiveCaller);
    ctx.progress('breakwater: createClient() in each of 3 tiers');
    const makeClient: MakeClient = () => createClient(ctx.config.http); // the user's options, for every tier and the twin
    const bw = await storm(ctx, (c) => breakwaterCaller(c, makeClient));
    ctx.progress('healthy twin: one transient 503');
    const twin = blameOptions(ctx, await transientFailureTwin(ctx, makeClient), ctx.config.http, ['layers', ...STORM_KEYS, 'maxRetryAfterMs']);
    const [naiveX, bwX] = [naive.c / REQUESTS, bw.c / REQUESTS];
    return {
      naive: { value: round(naiveX), unit: '×', text: `${round(naiveX)}× at the bottom (${perTier(naive)})`, ok: naiveX >= 27 },
      breakwater: blameOptions(
        ctx,
        { value: round(bwX, 2), unit: '×', text: `${round(bwX, 2)}× at the bottom (${perTier(bw)})`, ok: bwX <= 1.3 },
        ctx.config.http,
        ['layers', ...STORM_KEYS, 'retryBudget'],
      ),
      twin,
      notes: [
        `${REQUESTS} requests sent at once to the top of client → A → B → C (the test suites: the same); C answers 503 to all`,
        `naive: p-retry with retries: 2 (3 attempts; its default of 10 would be 1,331×), delays shortened to 2 ms; Breakwater: ${whose(ctx, 'createClient()', ctx.config.http)} in every tier, forwarding propagationHeaders(); the budget stops the retries and each tier's breaker opens after its first failures, so later requests are shed (503 at once) instead of reaching C`,
      ],
    };
  },
};
