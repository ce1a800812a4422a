import { createClient, type HttpClient, resolveHttpOptions } from '@breakwater/http';
import { resolveSocketOptions } from '@breakwater/socket';
import { Agent, request } from 'undici';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, configuredBound, judgeConfigured, keepAliveBoundMs, whose } from './config-support.js';
import { codeOf, progressEvery, scenarioTopology, seconds, untilAborted, wait } from './kernel-support.js';
import { listen } from './resilience-support.js';

// DC-01, slow server (issue #13): a healthy server that thinks 25 s before
// its answer, and the same kind of server dying silently mid-think (its
// path blackholed: no FIN, no RST). Both requests are fully written and
// acknowledged: only the kernel can tell them apart — the slow server's
// kernel answers keepalive probes, the dead one's does not. Naively (undici
// defaults: headersTimeout 300 s, keepalive probes after 60 s idle) the dead
// server's caller hears nothing for as long as the slow one thinks.
// createClient() reports the dead one from its keepalive (then a connect
// timeout per retry of the GET) and answers the slow one — no stall,
// PMTU or deadline error: the healthy twin.

/** The healthy server's think time: past the stall watchdog (10 s), under the default deadline and headers timeout (30 s). */
export const THINK_MS = 25_000;
/** The http options that bound a slow answer: too tight, they cut the slow server's. */
const SLOW_ANSWER_KEYS = ['headersTimeoutMs', 'bodyTimeoutMs', 'attemptTimeoutMs', 'deadlineMs', 'socket.stallTimeoutMs', 'socket.expectResponseAfterWrite'];
/** The http options that decide when the dead server is reported. */
const DEAD_SERVER_KEYS = [
  'socket.keepAliveIdleMs',
  'socket.keepAliveIntervalMs',
  'socket.keepAliveCount',
  'socket.userTimeoutMs',
  'connectTimeoutMs',
  'attempts',
  ...SLOW_ANSWER_KEYS,
];
/** The dying server's path is blackholed this long after the requests went out. */
const FAULT_AT_MS = 1_000;
/** The naive side is watched from the fault until the slow server has answered. */
const WINDOW_MS = THINK_MS - FAULT_AT_MS;

// Two servers in the server namespace: `port` thinks THINK_MS, `dying` never answers. One JSON line per request.
const SERVERS = `
import http from 'node:http';
const make = (ms, name) => http.createServer((req, res) => {
  console.log(JSON.stringify({ hit: name }));
  const timer = setTimeout(() => res.end('answered after ' + ms + ' ms'), ms);
  req.on('close', () => clearTimeout(timer));
});
const [slow, dying] = [make(Number(process.argv[1]), 'slow'), make(3_600_000, 'dying')];
await Promise.all([slow, dying].map((s) => new Promise((r) => s.listen(0, r))));
console.log(JSON.stringify({ port: slow.address().port, dying: dying.address().port }));
`;

interface Outcome {
  ms: number;
  status?: number;
  /** The error's code, with its attempts when it says them: `BW_ERR_CONNECT_TIMEOUT (2 attempts)`. */
  error?: string;
}

/** GET `url`; resolves (never rejects) with when, relative to `from`, it answered or failed. */
async function outcome(call: () => Promise<{ statusCode: number; body: { dump(): Promise<void> } }>, from: number): Promise<Outcome> {
  try {
    const res = await call();
    await res.body.dump();
    return { ms: performance.now() - from, status: res.statusCode };
  } catch (err) {
    const attempts = (err as { details?: { attempts?: unknown } }).details?.attempts;
    return {
      ms: performance.now() - from,
      error: typeof attempts === 'number' ? `${codeOf(err)} (${attempts} attempt${attempts === 1 ? '' : 's'})` : codeOf(err),
    };
  }
}

/** The healthy twin's measurement: a 200 from the slow server, asked once. */
function slowAnswer(o: Outcome, hits: number): Measurement {
  const ok = o.status === 200 && hits === 1;
  return {
    value: Number(seconds(o.ms)),
    unit: 's',
    text: ok ? `200 after ${seconds(o.ms)} s, asked once` : `${o.error ?? o.status} after ${seconds(o.ms)} s, asked ${hits}×`,
    ok,
  };
}

/**
 * Healthy twin on its own loopback server: a GET answered after `thinkMs`
 * through a client from `make` must get its 200, sent once.
 */
export async function slowServerTwin(ctx: ScenarioContext, make: () => HttpClient, thinkMs = THINK_MS): Promise<Measurement> {
  let hits = 0;
  const { port } = await listen(ctx, (req, res) => {
    hits++;
    const timer = setTimeout(() => res.end('answered'), thinkMs);
    req.on('close', () => clearTimeout(timer));
  });
  const client = make();
  ctx.defer(() => client.destroy());
  const started = performance.now();
  const o = await outcome(() => client.request(`http://127.0.0.1:${port}/report`, { signal: ctx.signal }), started);
  ctx.signal.throwIfAborted();
  return slowAnswer(o, hits);
}

/** When the user's http options report a dead server mid-think: keepalive, then a connect timeout per retry of the GET. */
function detection(ctx: ScenarioContext) {
  const http = resolveHttpOptions(ctx.config.http);
  const s = resolveSocketOptions(http.socket);
  // Linux (the row runs in network namespaces): under TCP_USER_TIMEOUT keepalive gives up by it, not by the count.
  const keepAliveMs = keepAliveBoundMs(s);
  const knobs = `keepAliveIdleMs ${s.keepAliveIdleMs}, keepAliveIntervalMs ${s.keepAliveIntervalMs}, keepAliveCount ${s.keepAliveCount}, userTimeoutMs ${s.userTimeoutMs}, connectTimeoutMs ${http.connectTimeoutMs}, attempts ${http.attempts}`;
  return { detectMs: keepAliveMs + (http.attempts - 1) * http.connectTimeoutMs, knobs };
}

export const DC_01: Scenario = {
  id: 'DC-01',
  title: 'Slow server vs one dead mid-think',
  bound: 'dead: error ≤ keepalive idle + interval × count + retries × connect timeout + 2 s; slow: answered',
  naiveExpectation: 'no error for the dead server while the slow one thinks',
  twinExpectation: 'a server thinking 25 s answers: 200, sent once, no stall/PMTU/deadline error',
  requires: ['netns'],
  budgetMs: 40_000,
  async run(ctx) {
    const topo = await scenarioTopology(ctx);
    const servers = topo.server.spawnNode(SERVERS, [String(THINK_MS)]);
    const { port, dying } = (await untilAborted(ctx, servers.ready)) as { port: number; dying: number };
    const base = (p: number) => `http://${topo.server.address}:${p}`;
    const client = createClient(ctx.config.http);
    ctx.defer(() => client.destroy());
    const agent = new Agent(); // undici's defaults: what `fetch()` and `request()` use
    ctx.defer(() => agent.destroy());

    const started = performance.now();
    const healthy = outcome(() => client.request(`${base(port)}/report`, { signal: ctx.signal }), started);
    const dead = outcome(() => client.request(`${base(dying)}/report`, { signal: ctx.signal }), started);
    const naive = outcome(() => request(`${base(dying)}/report`, { dispatcher: agent, signal: ctx.signal }), started);
    await wait(ctx, FAULT_AT_MS);
    await topo.server.nft.blackholePort(dying);
    const faultAt = performance.now() - started;
    progressEvery(ctx, (s) => `a server thinking, another dead mid-think: watching both clients (${s} s of ${seconds(WINDOW_MS)})`);
    const [twinOutcome, bwOutcome] = await untilAborted(ctx, Promise.all([healthy, dead]));
    // The naive request gets its whole window (until the slow server's answer is due), however early the Breakwater requests ended.
    await Promise.race([naive, wait(ctx, Math.max(0, started + THINK_MS - performance.now()))]);
    // The naive request: still pending once the slow server's answer was due?
    const naiveOutcome = await Promise.race([naive, wait(ctx, 0).then(() => undefined)]);

    const hits = servers.messages.filter((m) => (m as { hit?: string }).hit === 'slow').length;
    const { detectMs, knobs } = detection(ctx);
    const { boundMs, defeat } = configuredBound(detectMs, 2_000, WINDOW_MS, knobs, 'a server dead mid-think is reported', 'keepalive');
    const bwMs = bwOutcome.ms - faultAt;
    const watchedMs = performance.now() - started - faultAt;
    return {
      naive:
        naiveOutcome === undefined
          ? { value: Number(seconds(watchedMs)), unit: 's', text: `no error after ${seconds(watchedMs)} s`, ok: watchedMs >= WINDOW_MS - 1_000 }
          : {
              value: Number(seconds(naiveOutcome.ms - faultAt)),
              unit: 's',
              text: `${naiveOutcome.error ?? naiveOutcome.status} after ${seconds(naiveOutcome.ms - faultAt)} s`,
              ok: false,
            },
      breakwater: judgeConfigured(
        ctx,
        {
          value: Number(seconds(bwMs)),
          unit: 's',
          text: bwOutcome.error === undefined ? `${bwOutcome.status} after ${seconds(bwMs)} s` : `${bwOutcome.error} after ${seconds(bwMs)} s`,
          ok: bwOutcome.error !== undefined && bwMs <= boundMs,
        },
        defeat,
        ctx.config.http,
        DEAD_SERVER_KEYS,
      ),
      twin: blameOptions(ctx, slowAnswer(twinOutcome, hits), ctx.config.http, SLOW_ANSWER_KEYS),
      notes: [
        `two servers in a namespace behind a veth; both requests written and acknowledged, then the dying server's port blackholed ${seconds(FAULT_AT_MS)} s later (no FIN, no RST); times from the fault`,
        `naive: undici request() with Agent() defaults (headersTimeout 300 s, TCP keepalive after 60 s idle); Breakwater: ${whose(ctx, 'createClient()', ctx.config.http)}: bound ${seconds(boundMs)} s (keepalive, then a connect timeout per retry of the GET)`,
      ],
    };
  },
};
