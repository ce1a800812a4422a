import type http from 'node:http';
import { CIRCUIT_DEFAULTS, CircuitBreaker } from '@breakwater/circuit';
import { BreakwaterError } from '@breakwater/core';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { notApplied } from './config-support.js';
import { callLoop, closeServer, httpGet, listen, percentile, round, thin, wait } from './resilience-support.js';

// FM-12, cascading failure into a dead dependency: a loopback backend goes
// down (closed: ECONNREFUSED), then comes back on the same port. Naively
// every call goes to the network and waits for its failure. A breaker with
// its defaults opens after the first failures, fails calls in microseconds
// while open, and closes on the first probe after the backend is back.
// Healthy twin: a live backend that resets one connection among successes;
// a breaker built the same way must stay closed and let every call through.

/** Shorter than the catalogue's 5 s so the first probe (4–5 s after opening) finds the backend up. */
const DOWN_MS = 3_000;
/** The twin's calls: successes before and after its one failure. */
const TWIN_CALLS = 40;
const TWIN_FAILS_AT = 10;

/** How the scenario builds its breaker; the healthy twin gets the same. */
export type MakeBreaker = (key: string) => CircuitBreaker;

/**
 * Healthy twin: a live backend resets one connection (call TWIN_FAILS_AT of
 * TWIN_CALLS, after a history of successes, as the main side has); a breaker
 * from `make` must stay closed and send every call to the backend.
 */
export async function oneFailureTwin(ctx: ScenarioContext, make: MakeBreaker): Promise<Measurement> {
  let served = 0;
  const { port } = await listen(ctx, (req, res) => {
    if (++served === TWIN_FAILS_AT) req.socket.destroy();
    else res.writeHead(200).end('ok');
  });
  const breaker = make(`127.0.0.1:${port}`);
  ctx.defer(() => breaker.close());
  let opened = 0;
  breaker.on('opened', () => opened++);
  const outcomes: ('ok' | 'failed' | 'rejected')[] = [];
  for (let i = 0; i < TWIN_CALLS; i++) {
    ctx.signal.throwIfAborted();
    outcomes.push(
      await breaker
        .run(({ signal }) => httpGet(port, { agent: false, signal }))
        .then(
          () => 'ok' as const,
          (err: unknown) => (err instanceof BreakwaterError && err.code === 'BW_ERR_CIRCUIT_OPEN' ? 'rejected' : 'failed'),
        ),
    );
  }
  const rejected = outcomes.filter((o) => o === 'rejected').length;
  const failed = outcomes.filter((o) => o === 'failed').length;
  return {
    value: rejected,
    unit: 'errors',
    text:
      rejected === 0 && opened === 0
        ? `${TWIN_CALLS - failed}/${TWIN_CALLS} ok, 1 reset: breaker stayed closed`
        : `breaker opened ${opened}× on 1 failure: ${rejected}/${TWIN_CALLS} calls refused`,
    ok: failed === 1 && rejected === 0 && opened === 0,
    series: { label: 'twin: 1 ok, 0 reset, −1 refused by the breaker', unit: 'count', points: outcomes.map((o) => (o === 'ok' ? 1 : o === 'failed' ? 0 : -1)) },
  };
}

export const FM_12: Scenario = {
  id: 'FM-12',
  title: 'Cascading failure into a dead dependency',
  bound: 'while open p99 < 5 ms per call; recovers within reset timeout + one probe',
  naiveExpectation: 'every call goes to the dead backend and waits for its failure',
  twinExpectation: `one reset among ${TWIN_CALLS} calls to a live backend: the breaker stays closed, no call refused`,
  requires: [],
  budgetMs: 20_000,
  exclusive: true,
  async run(ctx) {
    const handler: http.RequestListener = (_req, res) => res.writeHead(200).end('ok');
    const first = await listen(ctx, handler);
    const { port } = first;
    const makeBreaker: MakeBreaker = (key) => new CircuitBreaker(undefined, { key });
    const breaker = makeBreaker(`127.0.0.1:${port}`);
    ctx.defer(() => breaker.close());
    const guarded = () => breaker.run(({ signal }) => httpGet(port, { agent: false, signal }));
    // A history of successes, as a live service has: the breaker must first see the failures outweigh it.
    for (let i = 0; i < 10; i++) await guarded();

    ctx.progress(`backend down for ${DOWN_MS / 1000} s: naive and breaker calls side by side`);
    await closeServer(first.server);
    const naive = callLoop(ctx, () => httpGet(port, { agent: false }));
    const withBreaker = callLoop(ctx, guarded);
    await wait(ctx, DOWN_MS);
    await naive.stop();

    ctx.progress('backend up again: waiting for the breaker to close');
    const closed = new Promise<number>((resolve) => breaker.once('closed', () => resolve(performance.now())));
    const retryInMs = breaker.stats().retryInMs;
    await listen(ctx, handler, '127.0.0.1', port);
    const upAt = performance.now();
    const closedAt = await Promise.race([closed, wait(ctx, CIRCUIT_DEFAULTS.maxResetTimeoutMs).then(() => Number.NaN)]);
    await withBreaker.stop();

    const open = withBreaker.samples.filter((s) => s.error instanceof BreakwaterError && s.error.code === 'BW_ERR_CIRCUIT_OPEN');
    const reached = withBreaker.samples.length - open.length;
    const refused = naive.samples.filter((s) => (s.error as { code?: string } | undefined)?.code === 'ECONNREFUSED').length;
    const naiveP99 = percentile(
      naive.samples.map((s) => s.ms),
      99,
    );
    const openP99 = percentile(
      open.map((s) => s.ms),
      99,
    );
    const recoveryMs = closedAt - upAt;
    // The call that closed it was the probe: the last one that reached the backend.
    const probeMs = withBreaker.samples.findLast((s) => s.error === undefined)?.ms ?? Number.NaN;
    ctx.progress('healthy twin: one reset among successes');
    const twin = await oneFailureTwin(ctx, makeBreaker);
    return {
      naive: {
        value: round(naiveP99, 2),
        unit: 'ms',
        text: `${refused}/${naive.samples.length} calls hit the dead backend (ECONNREFUSED), p99 ${round(naiveP99, 2)} ms`,
        ok: naive.samples.length > 0 && refused === naive.samples.length,
        series: { label: 'latency per call while down (ms)', unit: 'ms', points: thin(naive.samples.map((s) => round(s.ms, 3))) },
      },
      breakwater: {
        value: round(openP99, 3),
        unit: 'ms',
        text: `p99 ${round(openP99, 3)} ms while open; ${reached}/${withBreaker.samples.length} calls reached the backend; closed ${round(recoveryMs / 1000, 2)} s after it came back`,
        ok: open.length > 50 && openP99 < 5 && recoveryMs <= CIRCUIT_DEFAULTS.resetTimeoutMs + probeMs,
        series: { label: 'latency per call (ms)', unit: 'ms', points: thin(withBreaker.samples.map((s) => round(s.ms, 3))) },
      },
      twin,
      notes: [
        `backend down ${DOWN_MS / 1000} s (the catalogue: 5 s; shorter so the first probe finds it up), then up on the same port; calls 2 ms apart; CircuitBreaker defaults (10 calls, 50 %, reset 5 s)`,
        `healthy twin: a breaker built the same way, ${TWIN_FAILS_AT - 1} successes, then 1 connection reset by a live backend, then ${TWIN_CALLS - TWIN_FAILS_AT} more calls`,
        `the first probe was due ${round(retryInMs / 1000, 2)} s after the backend came back; bound: reset timeout ${CIRCUIT_DEFAULTS.resetTimeoutMs / 1000} s + one probe (${round(probeMs, 1)} ms)`,
        ...notApplied(
          ctx,
          "it measures a CircuitBreaker with its defaults; the config has no circuit section (`http.circuit` is the HTTP client's, run in FM-07, FM-11, FM-13, FM-14)",
        ),
      ],
    };
  },
};
