import http from 'node:http';
import { createFaultProxy } from '@breakwater/chaos';
import { createClient, HTTP_DEFAULTS, type HttpClient } from '@breakwater/http';
import { hardenServer, resolvePreset } from '@breakwater/presets';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { notApplied, whose } from './config-support.js';
import { freePort, haproxyBinary, listen, pause, settleBeforeCleanup, startHaproxy } from './transport-support.js';

/**
 * FM-16, the ALB 502: client → HAProxy (`http-reuse always`) → latency on
 * the LB↔server hop (the chaos proxy) → Node http server. HAProxy reuses an
 * idle server connection the server is closing: with the latency, its
 * request arrives after the server's close, so HAProxy answers 502. The
 * client waits just under the naive server's idle close between requests,
 * which lands HAProxy's request in that window every time. Naive: Node's
 * default keepAliveTimeout (5 s, + 1 s keepAliveTimeoutBuffer on Node ≥ 24.6),
 * below HAProxy's. Breakwater: the same server after hardenServer() with the
 * haproxy preset told this HAProxy's timeouts.
 * Healthy twin: beside both sides, behind its own HAProxy of the same
 * configuration, a server that keeps idle connections 60 s, and the
 * Breakwater client built from the user's http options sending requests
 * spaced well inside every idle limit on the path: one client connection
 * reused throughout, no 502, no reset.
 */

const LATENCY_MS = 400;
/** Spaced requests per server (each followed, after a failure, by one that re-opens a server connection). */
const ROUNDS = 3;
/** Servers per side, side by side: twice the samples in the same 20 s (a round is lost only ~1 time in 7). */
const PAIRS = 2;
// HAProxy closes an idle server connection after ≈ 2–3 pool-purge-delays (4 s → 8–12 s), never after `timeout server`.
const PURGE_DELAY_S = 4;
const SERVER_TIMEOUT_S = 15;
const CLIENT_KEEP_ALIVE_S = 10;
/** The twin's requests, each TWIN_GAP_MS after the last answer: inside the client's default idle (4 s), HAProxy's (10 s) and the server's. */
const TWIN_REQUESTS = 6;
const TWIN_GAP_MS = 1_500;
const TWIN_SERVER_KEEP_ALIVE_MS = 60_000;
/** A gap the host stretched this long (near the client's default idle) excuses one new connection. */
const STRETCHED_GAP_MS = 0.9 * HTTP_DEFAULTS.keepAliveTimeoutMs;

function haproxyConfig(frontends: { port: number; target: number }[]): string {
  const defaults = [`timeout client ${SERVER_TIMEOUT_S}s`, `timeout server ${SERVER_TIMEOUT_S}s`, `timeout http-keep-alive ${CLIENT_KEEP_ALIVE_S}s`];
  return [
    'global\n  nbthread 1\ndefaults\n  mode http\n  timeout connect 2s\n  http-reuse always',
    `  default-server pool-purge-delay ${PURGE_DELAY_S}s`,
    ...defaults.map((line) => `  ${line}`),
    ...frontends.map(
      ({ port, target }, i) => `frontend fe${i}\n  bind 127.0.0.1:${port}\n  default_backend be${i}\nbackend be${i}\n  server s${i} 127.0.0.1:${target}`,
    ),
    '',
  ].join('\n');
}

/** One GET on a fresh client connection (only HAProxy's server-side reuse is under test): the status or the error code. */
function get(ctx: ScenarioContext, port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 10_000, signal: ctx.signal }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'ERROR'));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'ERROR'));
  });
}

/** One GET through the Breakwater client: the status or the error code. */
async function clientGet(ctx: ScenarioContext, client: HttpClient, port: number): Promise<number | string> {
  try {
    const res = await client.request(`http://127.0.0.1:${port}/`, { signal: ctx.signal });
    await res.body.text();
    return res.statusCode;
  } catch (error) {
    ctx.signal.throwIfAborted();
    return (error as { code?: string }).code ?? 'ERROR';
  }
}

/** ROUNDS requests, each `spacingMs` after the previous response. */
async function series(ctx: ScenarioContext, port: number, spacingMs: number): Promise<(number | string)[]> {
  const outcomes = [await get(ctx, port)];
  for (let round = 0; round < ROUNDS; round++) {
    await pause(spacingMs, ctx.signal);
    const outcome = await get(ctx, port);
    outcomes.push(outcome);
    if (outcome !== 200) outcomes.push(await get(ctx, port));
    ctx.signal.throwIfAborted();
  }
  return outcomes;
}

const failures = (outcomes: (number | string)[]) => outcomes.filter((o) => o !== 200).length;
/** `4/10 failed (502 ×3, ECONNRESET ×1)` */
function describe(outcomes: (number | string)[]): string {
  const counts = new Map<number | string, number>();
  for (const o of outcomes) if (o !== 200) counts.set(o, (counts.get(o) ?? 0) + 1);
  const detail = [...counts].map(([o, n]) => `${o} ×${n}`).join(', ');
  return `${failures(outcomes)}/${outcomes.length} failed${detail === '' ? '' : ` (${detail})`}`;
}

/** The haproxy preset told this HAProxy's timeouts: what the Breakwater side's servers are hardened with. */
export function fm16Preset() {
  return resolvePreset({
    infra: 'haproxy',
    env: 'production',
    overrides: {
      loadBalancer: {
        idleTimeoutMs: CLIENT_KEEP_ALIVE_S * 1_000,
        upstreamIdleTimeoutMs: SERVER_TIMEOUT_S * 1_000,
        responseTimeoutMs: SERVER_TIMEOUT_S * 1_000,
      },
    },
  });
}

/** HAProxy's `timeout server` in this scenario (its idle server connections live at most this long). */
export const FM16_SERVER_TIMEOUT_MS = SERVER_TIMEOUT_S * 1_000;

/**
 * The scenario's path for each of `servers`: HAProxy (this scenario's
 * configuration, one process for all) → LATENCY_MS each way → the server.
 * Resolves the HAProxy frontend port of each server, in order.
 */
async function albPath(ctx: ScenarioContext, binary: string, servers: readonly http.Server[]): Promise<number[]> {
  const frontend = async (server: http.Server) => {
    server.on('clientError', (_error, socket) => socket.destroy());
    const proxy = await createFaultProxy({
      target: { host: '127.0.0.1', port: await listen(ctx, server) },
      faults: [{ type: 'latency', latencyMs: LATENCY_MS, direction: 'both' }],
    });
    ctx.defer(() => proxy.close());
    return { port: await freePort(), target: proxy.port };
  };
  const frontends = await Promise.all(servers.map(frontend));
  const ports = frontends.map((f) => f.port);
  const haproxy = await startHaproxy(binary, haproxyConfig(frontends), ports, 5_000, ctx.signal);
  ctx.defer(() => haproxy.stop());
  return ports;
}

/**
 * Healthy twin: a server keeping idle connections TWIN_SERVER_KEEP_ALIVE_MS
 * behind its own {@link albPath}, and a client from `make` sending
 * TWIN_REQUESTS GETs, each TWIN_GAP_MS after the last answer, through a
 * fault-free proxy that counts its connections. Healthy: every GET answered
 * 200 by one server request, over one client connection.
 */
export async function longKeepAliveTwin(ctx: ScenarioContext, binary: string, make: () => HttpClient): Promise<Measurement> {
  let served = 0;
  let serverConnections = 0;
  const server = http.createServer((_req, res) => {
    served++;
    res.end('ok');
  });
  server.keepAliveTimeout = TWIN_SERVER_KEEP_ALIVE_MS;
  server.on('connection', () => serverConnections++);
  const [lb] = await albPath(ctx, binary, [server]);
  const counter = await createFaultProxy({ target: { host: '127.0.0.1', port: lb! } });
  ctx.defer(() => counter.close());
  const client = make();
  ctx.defer(() => client.close());
  const outcomes: (number | string)[] = [];
  let lateGaps = 0;
  let answeredAt = 0;
  for (let i = 0; i < TWIN_REQUESTS; i++) {
    if (i > 0) {
      await pause(TWIN_GAP_MS, ctx.signal);
      if (performance.now() - answeredAt >= STRETCHED_GAP_MS) lateGaps++;
    }
    outcomes.push(await clientGet(ctx, client, counter.port));
    answeredAt = performance.now();
  }
  const { accepted } = counter.stats();
  const ok = TWIN_REQUESTS - failures(outcomes);
  return {
    value: accepted,
    unit: 'count',
    text:
      `${ok}/${TWIN_REQUESTS} ok ${TWIN_GAP_MS / 1_000} s apart over ${accepted} client connection${accepted === 1 ? '' : 's'}` +
      `${ok < TWIN_REQUESTS ? ` (${describe(outcomes)})` : ''}; the server answered ${served} on ${serverConnections}` +
      `${lateGaps > 0 ? `, ${lateGaps} gap${lateGaps === 1 ? '' : 's'} stretched past ${STRETCHED_GAP_MS} ms by the host` : ''}`,
    ok: ok === TWIN_REQUESTS && served === TWIN_REQUESTS && accepted <= 1 + lateGaps,
  };
}

export const fm16: Scenario = {
  id: 'FM-16',
  title: 'Stale keep-alive behind a load balancer (the ALB 502)',
  bound: '0 resets or 502s over the run',
  naiveExpectation: 'some 502s or resets',
  twinExpectation: `requests ${TWIN_GAP_MS / 1_000} s apart through HAProxy to a server keeping idle connections ${TWIN_SERVER_KEEP_ALIVE_MS / 1_000} s: ${TWIN_REQUESTS}/${TWIN_REQUESTS} ok on 1 client connection, no 502 or reset`,
  requires: ['program'],
  programs: ['haproxy'],
  budgetMs: 35_000,
  run: settleBeforeCleanup(async (ctx) => {
    const binary = haproxyBinary();
    if (binary === undefined) throw new Error('haproxy is not on PATH or in /usr/sbin (apt-get install haproxy)');
    const preset = fm16Preset();
    const handler: http.RequestListener = (_req, res) => res.end('ok');
    const naive = Array.from({ length: PAIRS }, () => http.createServer(handler));
    const hardened = Array.from({ length: PAIRS }, () => http.createServer(handler));
    const applied = hardened.map((server) => hardenServer(server, preset))[0]!;
    ctx.progress('starting HAProxy');
    const ports = await albPath(ctx, binary, [...naive, ...hardened]);
    // Beside both sides, behind its own HAProxy: the user's http options on a healthy path.
    const twin = longKeepAliveTwin(ctx, binary, () => createClient(ctx.config.http));
    twin.catch(() => {});

    // When the naive server really closes an idle connection (Node ≥ 24.6 adds keepAliveTimeoutBuffer).
    const naiveIdleMs = naive[0]!.keepAliveTimeout + ((naive[0] as { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer ?? 0);
    const spacingMs = naiveIdleMs - Math.round(1.5 * LATENCY_MS);
    ctx.progress(`${ROUNDS} requests per server, ${spacingMs} ms apart`);
    const outcomes = await Promise.all(ports.map((port) => series(ctx, port, spacingMs)));
    const before = outcomes.slice(0, PAIRS).flat();
    const after = outcomes.slice(PAIRS).flat();
    const naiveFailed = failures(before);
    const bwFailed = failures(after);

    return {
      naive: {
        value: naiveFailed,
        unit: 'errors',
        text: describe(before),
        ok: naiveFailed > 0,
      },
      breakwater: {
        value: bwFailed,
        unit: 'errors',
        text: describe(after),
        ok: bwFailed === 0,
      },
      twin: await twin,
      notes: [
        `Client → HAProxy (http-reuse always, idle server connections kept ≥ ${2 * PURGE_DELAY_S} s) → ${LATENCY_MS} ms latency each way → Node http server; ` +
          `${PAIRS} servers per side, ${ROUNDS} requests each ${spacingMs} ms apart (after a failure one more re-opens the server connection). ` +
          `Naive: http.createServer() defaults, idle close at ${naiveIdleMs} ms; Breakwater: hardenServer(server, resolvePreset({ infra: 'haproxy' }) with this HAProxy's timeouts): ` +
          `keepAliveTimeout ${applied.keepAliveTimeoutMs} ms, headersTimeout ${applied.headersTimeoutMs} ms. ` +
          `Healthy twin: a server keeping idle connections ${TWIN_SERVER_KEEP_ALIVE_MS / 1_000} s behind its own HAProxy; ${whose(ctx, 'createClient()', ctx.config.http)}.`,
        ...notApplied(
          ctx,
          "the server side is hardened for this HAProxy's own timeouts (your preset describes your load balancer, not this one); only the healthy twin's client is built from your http options",
        ),
      ],
    };
  }),
};
