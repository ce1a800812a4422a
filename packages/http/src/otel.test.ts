import { channel } from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RETRY_CHANNELS } from '@breakwater/retry';
import type { Meter } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from './createClient.js';
import { HTTP_METRICS, instrumentHttpMetrics } from './otel.js';
import { HTTP_CHANNELS } from './telemetry.js';

type Point = { value: number; attributes: Record<string, unknown> | undefined };

/** A Meter with the API's shape that keeps every data point. */
function fakeMeter() {
  const points = new Map<string, Point[]>();
  const instrument = (name: string) => {
    points.set(name, []);
    const push = (value: number, attributes?: Record<string, unknown>) => points.get(name)!.push({ value, attributes });
    return { add: push, record: push };
  };
  const meter = { createCounter: instrument, createHistogram: instrument } as unknown as Meter;
  const sum = (name: string, where: Record<string, unknown> = {}) =>
    (points.get(name) ?? []).filter((p) => Object.entries(where).every(([k, v]) => p.attributes?.[k] === v)).reduce((s, p) => s + p.value, 0);
  return { meter, points, sum };
}

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Answers 503 to every other request (the first included), 200 otherwise. */
async function flakyServer(): Promise<string> {
  let n = 0;
  const server = http.createServer((_req, res) => {
    res.statusCode = n++ % 2 === 0 ? 503 : 200;
    res.end('x');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('instrumentHttpMetrics', () => {
  it('records requests, durations and retries from real requests, and nothing after unsubscribing', async () => {
    const origin = await flakyServer();
    const client = createClient({ baseDelayMs: 1, maxDelayMs: 1 });
    cleanups.push(() => client.close());
    const { meter, points, sum } = fakeMeter();
    const stop = instrumentHttpMetrics(meter);
    cleanups.push(stop);

    for (let i = 0; i < 3; i++) {
      const res = await client.request(`${origin}/a`);
      await res.body.text();
      expect(res.statusCode).toBe(200);
    }
    const res = await client.fetch(`${origin}/b`, { method: 'GET' });
    await res.text();

    expect(sum(HTTP_METRICS.requests)).toBe(4);
    expect(sum(HTTP_METRICS.requests, { origin, method: 'GET', outcome: 'ok' })).toBe(4);
    // Each request met one 503 first, then was retried once.
    expect(sum(HTTP_METRICS.retries, { origin, reason: '503' })).toBe(4);
    const durations = points.get(HTTP_METRICS.duration)!;
    expect(durations).toHaveLength(4);
    for (const d of durations) expect(d.value).toBeGreaterThan(0);
    for (const d of durations) expect(d.value).toBeLessThan(5);
    // The same points under the OTel semantic-convention name and attributes.
    const semconv = points.get(HTTP_METRICS.semconvDuration)!;
    expect(semconv).toHaveLength(4);
    const u = new URL(origin);
    expect(semconv[0]!.attributes).toEqual({
      'http.request.method': 'GET',
      'server.address': u.hostname,
      'server.port': Number(u.port),
      'http.response.status_code': 200,
    });

    stop();
    const again = await client.request(`${origin}/c`);
    await again.body.text();
    expect(sum(HTTP_METRICS.requests)).toBe(4);
    expect(sum(HTTP_METRICS.retries)).toBe(4);
    expect(points.get(HTTP_METRICS.duration)).toHaveLength(4);
  });

  it('counts failures by error code', async () => {
    const client = createClient({ attempts: 1, connectTimeoutMs: 500, circuit: false });
    cleanups.push(() => client.close());
    const { meter, sum } = fakeMeter();
    cleanups.push(instrumentHttpMetrics(meter));
    // A port nobody listens on: bound and released.
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));

    const error = await client.request(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    const code = (error as { code?: string }).code;
    expect(code).toMatch(/^BW_ERR_/);
    expect(sum(HTTP_METRICS.requests, { outcome: code })).toBe(1);
    await expect(client.fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    expect(sum(HTTP_METRICS.requests, { outcome: code })).toBe(2);
  });

  it('maps the other channels to counters', () => {
    const { meter, sum } = fakeMeter();
    const stop = instrumentHttpMetrics(meter);
    channel(HTTP_CHANNELS.staleRetried).publish({ origin: 'http://a', attempt: 2, error: new Error('reset') });
    channel(RETRY_CHANNELS.gaveUp).publish({ source: 'http', upstream: 'http://a', reason: 'budget', attempts: 1, retryDelayMs: 0 });
    // retry() publishes on the same channel: not an HTTP metric.
    channel(RETRY_CHANNELS.gaveUp).publish({ source: 'retry', upstream: 'http://a', reason: 'budget', attempts: 1, retryDelayMs: 0 });
    // The deprecated http alias is not counted twice.
    channel(HTTP_CHANNELS.gaveUp).publish({ origin: 'http://a', reason: 'budget', attempts: 1 });
    channel(HTTP_CHANNELS.ejected).publish({ hostname: 'a', address: '10.0.0.1', port: 80, failures: 5, forMs: 10_000 });
    channel(HTTP_CHANNELS.servedStale).publish({ hostname: 'a', error: new Error('SERVFAIL') });
    stop();
    stop();
    channel(HTTP_CHANNELS.ejected).publish({ hostname: 'a', address: '10.0.0.1', port: 80, failures: 5, forMs: 10_000 });
    expect(sum(HTTP_METRICS.staleRetried, { origin: 'http://a' })).toBe(1);
    expect(sum(HTTP_METRICS.gaveUp, { origin: 'http://a', reason: 'budget' })).toBe(1);
    expect(sum(HTTP_METRICS.budgetRefusals, { origin: 'http://a' })).toBe(1);
    expect(sum(HTTP_METRICS.ejected, { hostname: 'a' })).toBe(1);
    expect(sum(HTTP_METRICS.servedStale, { hostname: 'a' })).toBe(1);
  });
});
