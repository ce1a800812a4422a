import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { listenHttp } from '../../../test/support/httpServer.js';
import { createClient } from './createClient.js';
import { HTTP_METRICS, HTTP_SPAN_EVENTS, instrumentHttpMetrics, instrumentHttpTracing } from './otel.js';

// The real OpenTelemetry SDK (in-memory exporters) behind @opentelemetry/api's interfaces: names, kinds and
// attributes as a collector would receive them.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server on 127.0.0.1 answering `statuses` in turn (the last one repeated). */
function server(statuses: number[]): Promise<number> {
  let n = 0;
  return listenHttp((_req, res) => {
    res.statusCode = statuses[Math.min(n++, statuses.length - 1)]!;
    res.end('x');
  }, cleanups);
}

/** A client for the name `api.test`, resolved to 127.0.0.1 by Breakwater's resolver. */
function client(options: Parameters<typeof createClient>[0] = {}) {
  const c = createClient({ baseDelayMs: 1, maxDelayMs: 1, resolve: async () => [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }], ...options });
  cleanups.push(() => c.close());
  return c;
}

function tracing() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const stop = instrumentHttpTracing(provider.getTracer('test'));
  cleanups.push(stop);
  return Object.assign(exporter, { stop });
}

class Reader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

describe('instrumentHttpTracing (OpenTelemetry SDK)', () => {
  it('one CLIENT span per request with the semconv attributes, its retry an event, the name (not an address) as server.address', async () => {
    const exporter = tracing();
    const port = await server([503, 200]);
    const res = await client().request(`http://api.test:${port}/users/1?x=1`);
    await res.body.text();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span.name).toBe('GET');
    expect(span.kind).toBe(2); // SpanKind.CLIENT
    expect(span.attributes).toEqual({
      'http.request.method': 'GET',
      'url.full': `http://api.test:${port}/users/1?x=1`,
      'server.address': 'api.test',
      'server.port': port,
      'http.response.status_code': 200,
      'http.request.resend_count': 1,
    });
    expect(span.events.map((e) => [e.name, e.attributes?.['http.request.resend_count']])).toEqual([[HTTP_SPAN_EVENTS.retry, 1]]);
    expect(span.status.code).toBe(0); // UNSET
  });

  it('a failed request: error status, error.type the BreakwaterError code, the exception recorded; nothing after stop', async () => {
    const exporter = tracing();
    const port = await server([200]);
    const c = client({ attempts: 1, circuit: false });
    // A port nobody listens on (a server closed just now): refused.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const err = await c.request(`http://127.0.0.1:${deadPort}/`, { method: 'PUT', body: 'x' }).catch((e: { code?: string }) => e);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('PUT');
    expect(span?.status.code).toBe(2); // ERROR
    expect(span?.attributes['error.type']).toMatch(/^BW_ERR_/);
    expect(span?.attributes['error.type']).toBe((err as { code?: string }).code);
    expect(span?.events.map((e) => e.name)).toContain('exception');

    exporter.stop();
    await (await c.request(`http://127.0.0.1:${port}/`)).body.text();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
  });
});

describe('instrumentHttpMetrics: circuit metrics (OpenTelemetry SDK)', () => {
  it('counts the transition to open and the rejections, by server.address, server.port and state', async () => {
    const reader = new Reader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
    const provider = new MeterProvider({ readers: [reader] });
    cleanups.push(() => provider.shutdown());
    cleanups.push(instrumentHttpMetrics(provider.getMeter('test')));
    const port = await server([500]);
    const c = client({ attempts: 1, circuit: { volumeThreshold: 3 } });
    for (let i = 0; i < 3; i++) await (await c.request(`http://api.test:${port}/`)).body.dump();
    for (let i = 0; i < 2; i++) await expect(c.request(`http://api.test:${port}/`)).rejects.toMatchObject({ code: 'BW_ERR_CIRCUIT_OPEN' });

    const { resourceMetrics } = await reader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const points = (name: string) => metrics.find((m) => m.descriptor.name === name)?.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }));
    const server_ = { 'server.address': 'api.test', 'server.port': port };
    expect(points(HTTP_METRICS.circuitTransitions)).toEqual([{ attributes: { ...server_, state: 'open' }, value: 1 }]);
    expect(points(HTTP_METRICS.circuitRejections)).toEqual([{ attributes: { ...server_, state: 'open' }, value: 2 }]);
  });
});
