import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../packages/circuit/src/index.js';
import { BreakwaterError } from '../../packages/core/src/index.js';
import { callLoop, httpGet, percentile } from '../../packages/scorecard/src/scenarios/resilience-support.js';
import { scenarioContext } from '../support/scenario.js';

// The call loop and the GET are the scorecard's FM-12 helpers (its scenario runs with the breaker's defaults;
// this file with short timers, and adds the half-open probe under load).
const ctx = scenarioContext();
const get = (port: number, signal?: AbortSignal) => httpGet(port, { agent: false, ...(signal === undefined ? {} : { signal }) }).then((status) => ({ status }));
const p99 = (samples: number[]) => percentile(samples, 99);
const loop = (call: () => Promise<unknown>) => callLoop(ctx, call);

// FM-12, cascading failure into a dead dependency: a loopback backend goes
// down (closed: ECONNREFUSED) for 5 s, as in the catalogue, then
// comes back. Naively every call goes to the network and waits for its
// failure. With the breaker, calls while open fail in microseconds without
// touching the network, one probe at a time checks the backend, and the
// breaker closes on the first probe after the backend is back.

const DOWN_MS = 5_000;
const OPTIONS = { key: 'backend', volumeThreshold: 5, resetTimeoutMs: 500, maxResetTimeoutMs: 1_000, probeTimeoutMs: 500, attemptTimeoutMs: 1_000 };

let server: http.Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s?.listening) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

describe('FM-12: circuit breaker on a dead dependency', () => {
  it('fails fast while open, lets one probe through in half-open, and closes on the first probe after recovery', async () => {
    let hits = 0;
    let slowMs = 0;
    const handler: http.RequestListener = (_req, res) => {
      hits++;
      setTimeout(() => res.writeHead(200).end('ok'), slowMs);
    };
    server = http.createServer(handler);
    await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;

    const breaker = new CircuitBreaker(undefined, OPTIONS);
    const guarded = () => breaker.run(({ signal }) => get(port, signal));
    for (let i = 0; i < 10; i++) await expect(guarded()).resolves.toEqual({ status: 200 });

    // Down: nothing listens on the port.
    server.closeAllConnections();
    await new Promise<void>((r) => server?.close(() => r()));
    const naive = loop(() => get(port));
    const withBreaker = loop(guarded);
    await delay(DOWN_MS);
    await Promise.all([naive.stop(), withBreaker.stop()]);

    const rejected = withBreaker.samples.filter((s) => s.error instanceof BreakwaterError && s.error.code === 'BW_ERR_CIRCUIT_OPEN');
    const reachedNetwork = withBreaker.samples.length - rejected.length;
    const naiveP99 = p99(naive.samples.map((s) => s.ms));
    const openP99 = p99(rejected.map((s) => s.ms));
    expect(naive.samples.every((s) => (s.error as { code?: string }).code === 'ECONNREFUSED')).toBe(true);
    expect(rejected.length).toBeGreaterThan(50);
    expect(openP99).toBeLessThan(5);
    // The trip — 11 failures to pass 50 % after the 10 warm-up successes in
    // the window — then one probe per reset timeout (≤ 500, then ≤ 1 000 ms).
    expect(reachedNetwork).toBeLessThanOrEqual(11 + Math.ceil(DOWN_MS / 400));

    // Up again, on the same port. Each request now takes 100 ms, so the probe
    // is still in flight while the other calls arrive.
    slowMs = 100;
    server = http.createServer(handler);
    await new Promise<void>((r) => server?.listen(port, '127.0.0.1', r));
    const upAt = performance.now();
    const waitForProbeMs = breaker.stats().retryInMs;
    if (breaker.state !== 'halfOpen') await new Promise((r) => breaker.once('halfOpened', r));
    const hitsBefore = hits;
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, guarded));
    const closedAfterMs = performance.now() - upAt;
    const admitted = outcomes.filter((o) => o.status === 'fulfilled');
    const shed = outcomes.filter((o) => o.status === 'rejected' && (o.reason as BreakwaterError).code === 'BW_ERR_CIRCUIT_OPEN');
    expect(admitted).toHaveLength(1);
    expect(shed).toHaveLength(19);
    expect(hits - hitsBefore).toBe(1);
    expect(breaker.state).toBe('closed');
    // Within the reset timeout that was pending at recovery, plus one probe (100 ms); generous margin for a busy 2-core machine.
    expect(closedAfterMs).toBeLessThanOrEqual(waitForProbeMs + 100 + 1_000);
    await expect(guarded()).resolves.toEqual({ status: 200 });

    console.log(
      `[FM-12] naive: ${naive.samples.length}/${naive.samples.length} calls reached the dead backend, p99 ${naiveP99.toFixed(2)} ms each; ` +
        `breakwater: ${reachedNetwork}/${withBreaker.samples.length} reached it, open p99 ${openP99.toFixed(3)} ms; ` +
        `closed ${closedAfterMs.toFixed(0)} ms after recovery (probe was due in ${waitForProbeMs.toFixed(0)} ms); half-open: 1 of 20 concurrent calls reached the backend`,
    );
    await breaker.close();
  });
});
