import { RetryBudget } from '@breakwater/retry';
import { describe, expect, it } from 'vitest';
import { Resolver } from '../Resolver.js';
import { balanceLayer } from './balance.js';
import { circuitLayer } from './circuit.js';
import { deadlineLayer } from './deadline.js';
import { dnsLayer } from './dns.js';
import { retryLayer } from './retry.js';
import type { Controller, DispatchOptions, Handler, Layer } from './types.js';

// The controller contract of undici's handler API, checked for every layer with a fake inner dispatcher:
// what the caller's handler receives must be what undici gave (raw headers, pause/resume/abort and their
// state, upgrade, onResponseStarted), and an error undici reports with no controller must reach the
// caller. A future layer that drops a field fails here.

const resolver = () =>
  new Resolver({ maxTtlMs: 60_000, negativeTtlMs: 1_000, staleMs: 0, resolve: async () => [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }] });
const LAYERS: [string, (attempts?: number) => Layer][] = [
  ['deadline', () => deadlineLayer(10_000)],
  [
    'retry',
    (attempts = 3) =>
      retryLayer({
        attempts,
        baseDelayMs: 0,
        maxDelayMs: 0,
        maxRetryAfterMs: 0,
        budgetFor: () => new RetryBudget({ minPerSecond: 100 }),
        maxReplayBodyBytes: 1024,
      }),
  ],
  ['circuit', () => circuitLayer({})],
  ['balance', () => balanceLayer(resolver(), { decayMs: 1_000, outlierFailures: 5, outlierEjectionMs: 1_000 })],
  ['dns', () => dnsLayer(resolver())],
];

function fakeController(name: string) {
  const c = {
    name,
    rawHeaders: [Buffer.from('X-Custom'), Buffer.from(name)] as Buffer[] | null,
    rawTrailers: [Buffer.from('X-Trailer'), Buffer.from('t')] as Buffer[] | null,
    paused: false,
    aborted: false,
    reason: null as Error | null,
    calls: [] as string[],
    pause() {
      c.paused = true;
      c.calls.push('pause');
    },
    resume() {
      c.paused = false;
      c.calls.push('resume');
    },
    abort(reason: Error) {
      c.aborted = true;
      c.reason = reason;
      c.calls.push('abort');
    },
  };
  return c;
}

function recorder() {
  const r = {
    events: [] as string[],
    controller: undefined as Controller | undefined,
    error: undefined as Error | undefined,
    handler: {
      onRequestStart: (c: Controller) => {
        r.controller = c;
        r.events.push('requestStart');
      },
      onRequestUpgrade: (c: Controller, status: number) => {
        r.controller = c;
        r.events.push(`upgrade ${status}`);
      },
      onResponseStarted: () => r.events.push('responseStarted'),
      onResponseStart: (c: Controller, status: number) => {
        r.controller = c;
        r.events.push(`responseStart ${status}`);
      },
      onResponseData: (_c: Controller, chunk: Buffer) => r.events.push(`data ${chunk}`),
      onResponseEnd: () => r.events.push('end'),
      onResponseError: (_c: Controller, err: Error) => {
        r.error = err;
        r.events.push('error');
      },
      onRequestSent: () => r.events.push('requestSent'),
      onBodySent: (chunk: Buffer) => r.events.push(`bodySent ${chunk}`),
    } satisfies Handler,
  };
  return r;
}

async function dispatchThrough(layer: Layer, opts: Partial<DispatchOptions> = {}) {
  const inner: { opts: DispatchOptions; handler: Handler }[] = [];
  const dispatch = layer.interceptor((o, h) => {
    inner.push({ opts: o as DispatchOptions, handler: h });
    return true;
  });
  const outer = recorder();
  dispatch({ origin: 'http://svc.test:8080', path: '/x', method: 'GET', headers: { 'X-Case': 'Kept' }, ...opts } as DispatchOptions, outer.handler);
  for (let i = 0; i < 50 && inner.length === 0 && outer.error === undefined; i++) await new Promise((r) => setImmediate(r));
  return { inner, outer };
}

describe.each(LAYERS)('the %s layer keeps undici’s controller contract', (_role, make) => {
  it('passes every callback up, with a controller exposing the inner raw headers, pause/resume/abort and their state', async () => {
    const { inner, outer } = await dispatchThrough(make());
    expect(inner).toHaveLength(1);
    const { handler: h, opts } = inner[0]!;
    // Header names keep their case; nothing but what the layer must add.
    expect(JSON.stringify(opts.headers)).toContain('"X-Case"');
    const c = fakeController('one');
    h.onRequestStart?.(c, {});
    h.onRequestSent?.();
    h.onBodySent?.(Buffer.from('b'));
    h.onResponseStarted?.();
    h.onResponseStart?.(c, 200, { 'x-custom': 'one' }, 'OK');
    const seen = outer.controller!;
    expect(seen.rawHeaders).toBe(c.rawHeaders);
    seen.pause();
    expect(c.paused).toBe(true);
    expect(seen.paused).toBe(true);
    seen.resume();
    expect(c.paused).toBe(false);
    expect(seen.paused).toBe(false);
    h.onResponseData?.(c, Buffer.from('body'));
    h.onResponseEnd?.(c, {});
    expect(seen.rawTrailers).toBe(c.rawTrailers);
    expect(outer.events).toEqual(['requestStart', 'requestSent', 'bodySent b', 'responseStarted', 'responseStart 200', 'data body', 'end']);
  });

  it('hands the caller’s abort reason to the request in flight and back, unchanged', async () => {
    const { inner, outer } = await dispatchThrough(make());
    const { handler: h } = inner[0]!;
    const c = fakeController('one');
    h.onRequestStart?.(c, {});
    const reason = new Error('custom reason');
    outer.controller!.abort(reason);
    expect(c.calls).toContain('abort');
    expect(c.reason).toBe(reason);
    expect(outer.controller!.aborted).toBe(true);
    expect(outer.controller!.reason).toBe(reason);
    h.onResponseError?.(c, reason);
    expect(outer.error).toBe(reason);
  });

  it('reports an error undici gives with no controller (nothing started), with the original as cause', async () => {
    const { inner, outer } = await dispatchThrough(make(1));
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8080'), { code: 'ECONNREFUSED' });
    expect(() => inner[0]!.handler.onResponseError?.(null as unknown as Controller, refused)).not.toThrow();
    expect(outer.events).toEqual(['error']);
    const err = outer.error as Error & { cause?: unknown };
    expect(err === refused || err.cause === refused).toBe(true);
  });

  it('passes an upgrade up with the raw headers of the response', async () => {
    const { inner, outer } = await dispatchThrough(make(), { upgrade: 'websocket' });
    const { handler: h } = inner[0]!;
    const c = fakeController('upgrade');
    h.onRequestStart?.(c, {});
    h.onRequestUpgrade?.(c, 101, { upgrade: 'websocket' }, {} as never);
    expect(outer.events).toEqual(['requestStart', 'upgrade 101']);
    expect(outer.controller!.rawHeaders).toBe(c.rawHeaders);
  });
});

describe('the retry layer across attempts', () => {
  it('shows the current attempt’s raw headers and carries a pause into the next attempt', async () => {
    const { inner, outer } = await dispatchThrough(LAYERS[1]![1]());
    const first = fakeController('first');
    inner[0]!.handler.onRequestStart?.(first, {});
    outer.controller!.pause();
    inner[0]!.handler.onResponseStart?.(first, 503, {}, 'busy');
    inner[0]!.handler.onResponseEnd?.(first, {});
    expect(outer.events).toEqual(['requestStart']); // the 503 is drained quietly
    await new Promise((r) => setTimeout(r, 5));
    expect(inner).toHaveLength(2);
    const second = fakeController('second');
    inner[1]!.handler.onRequestStart?.(second, {});
    expect(second.paused).toBe(true);
    inner[1]!.handler.onResponseStart?.(second, 200, {}, 'OK');
    expect(outer.controller!.rawHeaders).toBe(second.rawHeaders);
    outer.controller!.resume();
    expect(second.paused).toBe(false);
    expect(outer.events).toEqual(['requestStart', 'responseStart 200']);
  });

  it('an abort during the backoff ends the run with the caller’s reason and sends nothing more', async () => {
    const { inner, outer } = await dispatchThrough(
      retryLayer({
        attempts: 3,
        baseDelayMs: 1_000,
        maxDelayMs: 1_000,
        maxRetryAfterMs: 0,
        budgetFor: () => new RetryBudget({ minPerSecond: 100 }),
        maxReplayBodyBytes: 0,
        random: () => 0.99,
      }),
    );
    const c = fakeController('first');
    inner[0]!.handler.onRequestStart?.(c, {});
    inner[0]!.handler.onResponseStart?.(c, 503, {}, 'busy');
    inner[0]!.handler.onResponseEnd?.(c, {});
    const reason = new Error('stop');
    outer.controller!.abort(reason);
    expect(outer.error).toBe(reason);
    await new Promise((r) => setTimeout(r, 5));
    expect(inner).toHaveLength(1);
  });
});
