import { createClient } from '@breakwater/http';
import { Agent, request } from 'undici';
import type { Scenario, ScenarioContext } from '../types.js';
import { whose } from './config-support.js';
import { listen, round } from './resilience-support.js';

// FM-14, gray failure: three replicas of one service on 127.0.0.1/.2/.3, same
// port, one answering 10× slower but never failing. Round robin (what DNS
// rotation or a naive pool gives) sends it a third of the traffic;
// createClient()'s P2C + peak-EWMA balancer, with its defaults, steers away.

const FAST_MS = 10;
const SLOW_MS = 100;
const ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3'] as const;
const SLOW = '127.0.0.3';
const REQUESTS = 300;
/** Breakwater's first requests measure every replica; the share is counted after them. */
const WARM_UP = 60;
const WINDOW = 20;

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

const share = (served: readonly string[]) => served.filter((by) => by === SLOW).length / Math.max(1, served.length);
/** The slow replica's share (%) per window of WINDOW consecutive responses. */
const overTime = (served: readonly string[]) =>
  Array.from({ length: Math.floor(served.length / WINDOW) }, (_, i) => round(share(served.slice(i * WINDOW, (i + 1) * WINDOW)) * 100));

export const FM_14: Scenario = {
  id: 'FM-14',
  title: 'Gray failure: one backend slow but "healthy"',
  bound: 'traffic share of the slow one drops below 10%',
  naiveExpectation: 'round robin keeps sending it a third of the traffic',
  requires: [],
  budgetMs: 20_000,
  async run(ctx) {
    let port = 0;
    for (const address of ADDRESSES) {
      // Each replica answers with its own address, after its latency.
      ({ port } = await listen(
        ctx,
        (req, res) => setTimeout(() => res.end(req.socket.localAddress), req.socket.localAddress === SLOW ? SLOW_MS : FAST_MS),
        address,
        port,
      ));
    }

    ctx.progress(`naive: round robin, ${REQUESTS} requests`);
    const agent = new Agent();
    ctx.defer(() => agent.destroy());
    let turn = 0;
    const naive = await drive(ctx, REQUESTS, 8, async () => {
      const res = await request(`http://${ADDRESSES[turn++ % ADDRESSES.length]}:${port}/`, { dispatcher: agent, signal: ctx.signal });
      return res.body.text();
    });

    ctx.progress(`breakwater: createClient(), ${WARM_UP} + ${REQUESTS} requests`);
    // Three A records for one name, as DNS would give them.
    const client = createClient({ ...ctx.config.http, resolve: async () => ADDRESSES.map((address) => ({ address, family: 4 as const, ttlMs: 60_000 })) });
    ctx.defer(() => client.close());
    const bw = await drive(ctx, WARM_UP + REQUESTS, 4, async () => {
      const res = await client.request(`http://replicas.test:${port}/`, { signal: ctx.signal });
      return res.body.text();
    });
    const [naiveShare, bwShare] = [share(naive), share(bw.slice(WARM_UP))];
    return {
      naive: {
        value: round(naiveShare * 100),
        unit: '%',
        text: `${round(naiveShare * 100)} % of ${REQUESTS} requests to the slow replica`,
        ok: naiveShare > 0.3,
        series: { label: `slow replica's share per ${WINDOW} requests (%)`, unit: '%', points: overTime(naive) },
      },
      breakwater: {
        value: round(bwShare * 100),
        unit: '%',
        text: `${round(bwShare * 100)} % of ${REQUESTS} requests after ${WARM_UP} of warm-up`,
        ok: bwShare < 0.1,
        series: { label: `slow replica's share per ${WINDOW} requests, warm-up included (%)`, unit: '%', points: overTime(bw) },
      },
      notes: [
        `replicas on 127.0.0.1–3 answer in ${FAST_MS}, ${FAST_MS} and ${SLOW_MS} ms; ${REQUESTS} requests per side (the test suite: the same); Breakwater: ${whose(ctx, 'createClient()', ctx.config.http)}`,
      ],
    };
  },
};
