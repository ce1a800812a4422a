import { createClient, type HttpClientOptions } from '@breakwater/http';
import { Agent, request } from 'undici';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, whose } from './config-support.js';
import { listen, round } from './resilience-support.js';

// FM-14, gray failure: three replicas of one service on 127.0.0.1/.2/.3, same
// port, one answering 10× slower but never failing. Round robin (what DNS
// rotation or a naive pool gives) sends it a third of the traffic;
// createClient()'s P2C + peak-EWMA balancer, with its defaults, steers away.
// Healthy twin: three replicas alike (5 ms plus a little jitter, as real
// ones answer); a client built the same way must spread its traffic evenly.

const FAST_MS = 10;
const SLOW_MS = 100;
const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'] as const;
const SLOW = '127.0.0.3';
const REQUESTS = 300;
/** Breakwater's first requests measure every replica; the share is counted after them. */
const WARM_UP = 60;
const WINDOW = 20;
/** The twin's replicas: each answers after TWIN_MS plus up to TWIN_JITTER_MS, at random. */
const TWIN_MS = 5;
const TWIN_JITTER_MS = 2;
const TWIN_REQUESTS = 240;
/** Then one at a time (a quiet service's traffic): a strict P2C comparison of noisy scores starved a replica there. */
const TWIN_ONE_AT_A_TIME = 300;
/** Each replica's share may be off an even third by this much (relative): 20–47 %. */
const EVEN_WITHIN = 0.4;
/** As many in flight as the Breakwater side (P2C weighs calls in flight, so one at a time is not the same traffic). */
const CONCURRENCY = 4;

/** Sends `n` requests, `concurrency` at a time; returns who served each, in completion order. */
async function drive(ctx: ScenarioContext, n: number, concurrency: number, get: () => Promise<string>): Promise<string[]> {
  const served: string[] = [];
  let left = n;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0 && !ctx.signal.aborted) served.push(await get());
    }),
  );
  ctx.signal.throwIfAborted();
  return served;
}

const shareOf = (served: readonly string[], address: string) => served.filter((by) => by === address).length / Math.max(1, served.length);
const share = (served: readonly string[]) => shareOf(served, SLOW);
/** A replica's share (%) per window of WINDOW consecutive responses; the slow one's by default. */
const overTime = (served: readonly string[], address: string = SLOW) =>
  Array.from({ length: Math.floor(served.length / WINDOW) }, (_, i) => round(shareOf(served.slice(i * WINDOW, (i + 1) * WINDOW), address) * 100));

/** Three replicas on 127.0.0.1–3 (one port), each answering with its own address after `latencyMs()`. */
async function replicas(ctx: ScenarioContext, latencyMs: (address: string | undefined) => number): Promise<number> {
  let port = 0;
  for (const address of ADDRESSES)
    ({ port } = await listen(ctx, (req, res) => setTimeout(() => res.end(req.socket.localAddress), latencyMs(req.socket.localAddress)), address, port));
  return port;
}

/** A client on the scenario's options whose name `replicas.test` has the three addresses, as DNS would give them. */
function replicaClient(ctx: ScenarioContext, options: HttpClientOptions) {
  const client = createClient({ ...options, resolve: async () => ADDRESSES.map((address) => ({ address, family: 4 as const, ttlMs: 60_000 })) });
  ctx.defer(() => client.close());
  return (port: number) => async () => {
    const res = await client.request(`http://replicas.test:${port}/`, { signal: ctx.signal });
    return res.body.text();
  };
}

/**
 * Healthy twin: three replicas alike (TWIN_MS + up to TWIN_JITTER_MS each),
 * TWIN_REQUESTS requests after the warm-up through a client on `options`,
 * CONCURRENCY in flight, then TWIN_ONE_AT_A_TIME one at a time. Passes when
 * every replica's share of each is within EVEN_WITHIN of a third.
 */
export async function uniformReplicasTwin(ctx: ScenarioContext, options: HttpClientOptions): Promise<Measurement> {
  const port = await replicas(ctx, () => TWIN_MS + Math.random() * TWIN_JITTER_MS);
  const get = replicaClient(ctx, options)(port);
  const served = (await drive(ctx, WARM_UP + TWIN_REQUESTS, CONCURRENCY, get)).slice(WARM_UP);
  const oneAtATime = await drive(ctx, TWIN_ONE_AT_A_TIME, 1, get);
  const sharesOf = (s: readonly string[]) => ADDRESSES.map((address) => shareOf(s, address));
  const [shares, sequential] = [sharesOf(served), sharesOf(oneAtATime)];
  const worst = Math.max(...[...shares, ...sequential].map((s) => Math.abs(s * ADDRESSES.length - 1)));
  const percent = (s: readonly number[]) => s.map((x) => Math.round(x * 100)).join('/');
  return {
    value: round(worst * 100),
    unit: '%',
    text: `shares ${percent(shares)} % of ${TWIN_REQUESTS} at ${CONCURRENCY} in flight, ${percent(sequential)} % of ${TWIN_ONE_AT_A_TIME} one at a time (even: 33 % ± ${EVEN_WITHIN * 100} %)`,
    ok: worst <= EVEN_WITHIN,
    series: { label: `twin: 127.0.0.1's share per ${WINDOW} requests (%)`, unit: '%', points: overTime(served, ADDRESSES[0]) },
  };
}

export const FM_14: Scenario = {
  id: 'FM-14',
  title: 'Gray failure: one backend slow but "healthy"',
  bound: 'traffic share of the slow one drops below 10%',
  naiveExpectation: 'round robin keeps sending it a third of the traffic',
  twinExpectation: `three replicas alike (${TWIN_MS}–${TWIN_MS + TWIN_JITTER_MS} ms): each gets a third of the traffic ± ${EVEN_WITHIN * 100} %, ${CONCURRENCY} in flight and one at a time`,
  requires: [],
  budgetMs: 20_000,
  async run(ctx) {
    const port = await replicas(ctx, (address) => (address === SLOW ? SLOW_MS : FAST_MS));

    ctx.progress(`naive: round robin, ${REQUESTS} requests`);
    const agent = new Agent();
    ctx.defer(() => agent.destroy());
    let turn = 0;
    const naive = await drive(ctx, REQUESTS, 8, async () => {
      const res = await request(`http://${ADDRESSES[turn++ % ADDRESSES.length]}:${port}/`, { dispatcher: agent, signal: ctx.signal });
      return res.body.text();
    });

    ctx.progress(`breakwater: createClient(), ${WARM_UP} + ${REQUESTS} requests`);
    const bw = await drive(ctx, WARM_UP + REQUESTS, CONCURRENCY, replicaClient(ctx, ctx.config.http)(port));
    ctx.progress(`healthy twin: three replicas alike, ${WARM_UP} + ${TWIN_REQUESTS} requests`);
    const twin = blameOptions(ctx, await uniformReplicasTwin(ctx, ctx.config.http), ctx.config.http, ['layers']);
    const [naiveShare, bwShare] = [share(naive), share(bw.slice(WARM_UP))];
    return {
      naive: {
        value: round(naiveShare * 100),
        unit: '%',
        text: `${round(naiveShare * 100)} % of ${REQUESTS} requests to the slow replica`,
        ok: naiveShare > 0.3,
        series: { label: `slow replica's share per ${WINDOW} requests (%)`, unit: '%', points: overTime(naive) },
      },
      breakwater: blameOptions(
        ctx,
        {
          value: round(bwShare * 100),
          unit: '%',
          text: `${round(bwShare * 100)} % of ${REQUESTS} requests after ${WARM_UP} of warm-up`,
          ok: bwShare < 0.1,
          series: { label: `slow replica's share per ${WINDOW} requests, warm-up included (%)`, unit: '%', points: overTime(bw) },
        },
        ctx.config.http,
        ['layers'],
      ),
      twin,
      notes: [
        `replicas on 127.0.0.1–3 answer in ${FAST_MS}, ${FAST_MS} and ${SLOW_MS} ms; ${REQUESTS} requests per side (the test suite: the same); Breakwater: ${whose(ctx, 'createClient()', ctx.config.http)}`,
        `healthy twin: three more replicas answering in ${TWIN_MS}–${TWIN_MS + TWIN_JITTER_MS} ms, ${TWIN_REQUESTS} requests after ${WARM_UP} of warm-up, ${CONCURRENCY} in flight, then ${TWIN_ONE_AT_A_TIME} one at a time, through a client built the same way`,
      ],
    };
  },
};
