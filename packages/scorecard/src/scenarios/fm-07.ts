import http from 'node:http';
import { createFaultProxy } from '@breakwater/chaos';
import { createClient, type HttpClient, type HttpClientOptions } from '@breakwater/http';
import { Agent, request } from 'undici';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, stackOf, whose } from './config-support.js';
import { listen, pause, seeded, settleBeforeCleanup } from './transport-support.js';

/**
 * FM-07, stale pooled connection: a load balancer (the chaos proxy's
 * `idleReset`) resets any connection reused after T of silence, so the
 * request meets the LB's close in flight. Waves of concurrent GETs spaced
 * 0.6 T … 1.4 T apart. undici's defaults keep idle sockets 4 s (> T) and
 * never resend; Breakwater's createClient() resends a request that died on a
 * reused connection once, on a fresh one.
 * Healthy twin: requests one after another on one connection, each just
 * below T after the last, behind the same LB: the client must keep and
 * reuse that connection (no close, no reset, no resend).
 */

const T_MS = 500;
const WAVES = 20;
const WAVE = 50;
const TOTAL = WAVES * WAVE;
/** The twin's requests, each TWIN_GAP × T after the previous answer: reuse just below the LB's idle limit. */
const TWIN_REQUESTS = 8;
const TWIN_GAP = 0.7;

type Get = () => Promise<void>;

/** Runs the waves; failures per wave, and the error codes seen. */
async function waves(ctx: ScenarioContext, side: string, get: Get): Promise<{ perWave: number[]; codes: Map<string, number> }> {
  const rand = seeded(1);
  const perWave: number[] = [];
  const codes = new Map<string, number>();
  for (let w = 0; w < WAVES; w++) {
    ctx.signal.throwIfAborted();
    const results = await Promise.allSettled(Array.from({ length: WAVE }, get));
    let failed = 0;
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      failed++;
      const code = (r.reason as { code?: string }).code ?? String(r.reason);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    perWave.push(failed);
    if (side === 'naive') ctx.progress(`wave ${w + 1}/${WAVES}`);
    await pause(T_MS * (0.6 + 0.8 * rand()), ctx.signal);
  }
  return { perWave, codes };
}

/** Why the user's options lost requests the defaults do not: said in the row's text. */
function defeated(ctx: ScenarioContext): string {
  if (!ctx.config.given) return '';
  const http = ctx.config.http;
  const knobs = [
    stackOf(http),
    http.keepAliveTimeoutMs === undefined ? undefined : `keepAliveTimeoutMs ${http.keepAliveTimeoutMs}`,
    http.dispatcher === undefined ? undefined : 'dispatcher',
  ].filter((k) => k !== undefined);
  const by = knobs.length === 0 ? 'your http options' : knobs.join(', ');
  return `: ${by} → requests on a connection the LB closed after ${T_MS} ms idle fail instead of being resent, bound 0`;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const show = (codes: Map<string, number>) => [...codes].map(([code, n]) => `${code} ×${n}`).join(', ');

/** Variants for the test suites; the scorecard runs the defaults. */
export interface Fm07Options {
  /** More Breakwater clients (createClient options), each behind its own LB, through the same waves beside the two sides. */
  variants?: readonly HttpClientOptions[];
  /** Gets each variant's failed requests (of the same total), in `variants` order. */
  observe?: (variantsFailed: number[]) => void;
}

/**
 * Healthy twin: TWIN_REQUESTS sequential GETs through a fresh LB with the
 * same idle reset T, each TWIN_GAP × T after the last answer, by a client
 * from `make`. Healthy: all succeed over the one connection the LB accepted.
 */
export async function reuseBelowIdleTwin(ctx: ScenarioContext, backendPort: number, make: () => HttpClient): Promise<Measurement> {
  const proxy = await createFaultProxy({ target: { host: '127.0.0.1', port: backendPort }, faults: [{ type: 'idleReset', idleMs: T_MS }] });
  ctx.defer(() => proxy.close());
  const client = make();
  ctx.defer(() => client.close());
  let failed = 0;
  // A gap the event loop stretched to near T (a loaded CI host) lets the LB close the connection for real:
  // such a gap excuses one new connection (and its reset); a defence that drops healthy connections has none.
  let lateGaps = 0;
  let answeredAt = 0;
  for (let i = 0; i < TWIN_REQUESTS; i++) {
    if (i > 0) {
      await pause(T_MS * TWIN_GAP, ctx.signal);
      if (performance.now() - answeredAt >= T_MS * 0.9) lateGaps++;
    }
    try {
      const res = await client.request(`http://127.0.0.1:${proxy.port}/`, { signal: ctx.signal });
      await res.body.text();
      if (res.statusCode !== 200) failed++;
    } catch {
      ctx.signal.throwIfAborted();
      failed++;
    }
    answeredAt = performance.now();
  }
  const { accepted, faultsApplied } = proxy.stats();
  const resets = faultsApplied.idleReset ?? 0;
  return {
    value: accepted,
    unit: 'count',
    text:
      `${TWIN_REQUESTS - failed}/${TWIN_REQUESTS} ok ${TWIN_GAP * T_MS} ms apart over ${accepted} connection${accepted === 1 ? '' : 's'}` +
      `${resets > 0 ? `, ${resets} reset` : ''}${lateGaps > 0 ? `, ${lateGaps} gap${lateGaps === 1 ? '' : 's'} stretched past ${T_MS * 0.9} ms by the host` : ''}`,
    ok: failed === 0 && accepted <= 1 + lateGaps && resets <= lateGaps,
  };
}

export function fm07Scenario(options: Fm07Options = {}): Scenario {
  return {
    id: 'FM-07',
    title: 'Stale pooled connection after server/LB idle close',
    bound: `0 failed requests over ${TOTAL.toLocaleString('en-US')} spaced around the LB idle T`,
    naiveExpectation: 'some requests fail',
    twinExpectation: `a connection reused ${TWIN_GAP * T_MS} ms after its last request (LB idle T ${T_MS} ms): kept, ${TWIN_REQUESTS}/${TWIN_REQUESTS} ok on 1 connection`,
    requires: [],
    budgetMs: 35_000,
    run: settleBeforeCleanup(async (ctx) => {
      const backend = http.createServer((_req, res) => res.end('ok'));
      backend.keepAliveTimeout = 60_000;
      const port = await listen(ctx, backend);
      const lb = async () => {
        const proxy = await createFaultProxy({ target: { host: '127.0.0.1', port }, faults: [{ type: 'idleReset', idleMs: T_MS }] });
        ctx.defer(() => proxy.close());
        return proxy;
      };
      const [naiveLb, bwLb] = [await lb(), await lb()];

      const naive = new Agent();
      ctx.defer(() => naive.destroy());
      // The user's createClient() options (a preset, layers, keep-alive…): the row fails when they lose requests; the twin uses them too.
      const makeClient = () => createClient(ctx.config.http);
      const bw = makeClient();
      ctx.defer(() => bw.close());

      const naiveGet: Get = async () => {
        const res = await request(`http://127.0.0.1:${naiveLb.port}/`, { dispatcher: naive, signal: ctx.signal });
        await res.body.text();
      };
      const clientGet =
        (client: typeof bw, proxy: typeof bwLb): Get =>
        async () => {
          const res = await client.request(`http://127.0.0.1:${proxy.port}/`, { signal: ctx.signal });
          await res.body.text();
          if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
        };
      const variants = await Promise.all(
        (options.variants ?? []).map(async (variant) => {
          const client = createClient(variant);
          ctx.defer(() => client.close());
          return clientGet(client, await lb());
        }),
      );
      const [before, after, ...others] = await Promise.all([
        waves(ctx, 'naive', naiveGet),
        waves(ctx, 'breakwater', clientGet(bw, bwLb)),
        ...variants.map((get, i) => waves(ctx, `variant ${i + 1}`, get)),
      ]);
      options.observe?.(others.map((o) => sum(o.perWave)));
      // After the waves, not beside them: 1,000 requests in this event loop stretch its 350 ms gaps.
      const twin = blameOptions(ctx, await reuseBelowIdleTwin(ctx, port, makeClient), ctx.config.http, ['keepAliveTimeoutMs', 'keepAliveTimeoutThresholdMs']);
      const naiveFailed = sum(before.perWave);
      const bwFailed = sum(after.perWave);
      const resets = { naive: naiveLb.stats().faultsApplied.idleReset ?? 0, breakwater: bwLb.stats().faultsApplied.idleReset ?? 0 };

      return {
        naive: {
          value: naiveFailed,
          unit: 'errors',
          text: `${naiveFailed}/${TOTAL} failed${naiveFailed > 0 ? ` (${show(before.codes)})` : ''}`,
          ok: naiveFailed > 0,
          series: { label: 'naive failures per wave', unit: 'errors', points: before.perWave },
        },
        breakwater: {
          value: bwFailed,
          unit: 'errors',
          text: `${bwFailed}/${TOTAL} failed${bwFailed > 0 ? ` (${show(after.codes)})${defeated(ctx)}` : ''}`,
          ok: bwFailed === 0,
          series: { label: 'Breakwater failures per wave', unit: 'errors', points: after.perWave },
        },
        // Beside the waves, behind its own LB: it adds no wall time.
        twin,
        notes: [
          `A proxy resets any connection reused after ≥ ${T_MS} ms idle; ${WAVES} waves of ${WAVE} GETs spaced ${0.6 * T_MS}–${1.4 * T_MS} ms. ` +
            `Naive: undici Agent() defaults (idle sockets kept 4 s, no resend); Breakwater: ${whose(ctx, 'createClient()', ctx.config.http)} (a request reset on a reused connection is resent once on a fresh one). ` +
            `Idle resets applied: naive ${resets.naive}, Breakwater ${resets.breakwater}.`,
        ],
      };
    }),
  };
}

export const fm07: Scenario = fm07Scenario();
