import type http from 'node:http';
import { CIRCUIT_DEFAULTS, CircuitBreaker } from '@breakwater/circuit';
import { BreakwaterError } from '@breakwater/core';
import type { Scenario } from '../types.js';
import { notApplied } from './config-support.js';
import { callLoop, closeServer, httpGet, listen, percentile, round, thin, wait } from './resilience-support.js';

// FM-12, cascading failure into a dead dependency: a loopback backend goes
// down (closed: ECONNREFUSED), then comes back on the same port. Naively
// every call goes to the network and waits for its failure. A breaker with
// its defaults opens after the first failures, fails calls in microseconds
// while open, and closes on the first probe after the backend is back.

/** Shorter than the catalogue's 5 s so the first probe (4–5 s after opening) finds the backend up. */
const DOWN_MS = 3_000;

export const FM_12: Scenario = {
  id: 'FM-12',
  title: 'Cascading failure into a dead dependency',
  bound: 'while open p99 < 5 ms per call; recovers within reset timeout + one probe',
  naiveExpectation: 'every call goes to the dead backend and waits for its failure',
  requires: [],
  budgetMs: 20_000,
  exclusive: true,
  async run(ctx) {
    const handler: http.RequestListener = (_req, res) => res.writeHead(200).end('ok');
    const first = await listen(ctx, handler);
    const { port } = first;
    const breaker = new CircuitBreaker(undefined, { key: `127.0.0.1:${port}` });
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
      notes: [
        `backend down ${DOWN_MS / 1000} s (the catalogue: 5 s; shorter so the first probe finds it up), then up on the same port; calls 2 ms apart; CircuitBreaker defaults (10 calls, 50 %, reset 5 s)`,
        `the first probe was due ${round(retryInMs / 1000, 2)} s after the backend came back; bound: reset timeout ${CIRCUIT_DEFAULTS.resetTimeoutMs / 1000} s + one probe (${round(probeMs, 1)} ms)`,
        ...notApplied(
          ctx,
          "it measures a CircuitBreaker with its defaults; the config has no circuit section (`http.circuit` is the HTTP client's, run in FM-07, FM-11, FM-13, FM-14)",
        ),
      ],
    };
  },
};
