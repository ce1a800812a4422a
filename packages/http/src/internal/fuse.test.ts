import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, type HttpClient, type HttpClientOptions, type Layer, withoutLayers } from '../index.js';
import { FusedRun } from './FusedRun.js';
import { fusable } from './fuse.js';

// The default stack runs fused (one FusedRun per request, the layers as hooks on it); any other list is
// composed from the layers' interceptors. Both must behave alike: each scenario runs on a fused client and
// on a composed one (the same defaults plus a pass-through user layer), against the same real server, and
// the outcomes (status, body, error code, attempts, what the server saw) must be equal.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const c of cleanups.splice(0).reverse()) await c();
});

const passThrough: Layer = { role: 'audit', description: 'does nothing', interceptor: (dispatch) => (opts, handler) => dispatch(opts, handler) };

async function server(handle: (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void) {
  const seen: Record<string, string | string[] | undefined>[] = [];
  const s = http.createServer((req, res) => {
    seen.push(req.headers);
    handle(req, res, seen.length);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const close = () => {
    s.closeAllConnections();
    return new Promise((r) => s.close(r));
  };
  cleanups.push(close);
  return { port: (s.address() as AddressInfo).port, seen, close };
}

function clients(options: HttpClientOptions = {}): Record<'fused' | 'composed', HttpClient> {
  const base: HttpClientOptions = {
    baseDelayMs: 1,
    maxDelayMs: 5,
    resolve: async () => [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }],
    ...options,
  };
  const fused = createClient(base);
  const composed = createClient({ ...base, layers: (d) => [...(options.layers?.(d) ?? d), passThrough] });
  cleanups.push(
    () => fused.destroy(),
    () => composed.destroy(),
  );
  return { fused, composed };
}

async function outcome(c: HttpClient, url: string, init: Parameters<HttpClient['request']>[1] = {}) {
  try {
    const res = await c.request(url, init);
    return { status: res.statusCode, body: await res.body.text() };
  } catch (err) {
    const e = err as { code?: string; details?: Record<string, unknown> };
    return { code: e.code, attempts: e.details?.attempts, waitingFor: e.details?.waitingFor };
  }
}

/** The same scenario on both clients (fused first), each against a fresh server; returns both outcomes and what each server saw. */
async function both(handle: Parameters<typeof server>[0], path: string, init?: Parameters<HttpClient['request']>[1], options?: HttpClientOptions) {
  const { fused, composed } = clients(options);
  const out = [];
  for (const c of [fused, composed]) {
    const s = await server(handle);
    const o = await outcome(c, `http://users.internal:${s.port}${path}`, init);
    out.push({ ...o, requests: s.seen.length, headers: s.seen.map((h) => [h['x-breakwater-retry'], h['x-breakwater-deadline-ms'] !== undefined]) });
  }
  return out;
}

describe('the fused request path', () => {
  it('is taken for the default stack and for built-ins removed from it, never for a user layer or a reordered list', async () => {
    const { fused, composed } = clients();
    expect(fusable(fused.layers)).toBeDefined();
    expect(fusable(withoutLayers('circuit', 'balance')(fused.layers.slice()))).toBeDefined();
    expect(fusable(composed.layers)).toBeUndefined();
    expect(fusable([...fused.layers].reverse())).toBeUndefined();
    expect(fusable(fused.layers.map((l) => ({ ...l })))).toBeUndefined();
    expect(fusable(fused.layers.filter((l) => l.role !== 'retry'))).toBeUndefined();
    const begin = vi.spyOn(FusedRun.prototype, 'begin');
    const s = await server((_req, res) => res.end('ok'));
    await (await fused.request(`http://users.internal:${s.port}/`)).body.text();
    expect(begin).toHaveBeenCalledTimes(1);
    await (await composed.request(`http://users.internal:${s.port}/`)).body.text();
    expect(begin).toHaveBeenCalledTimes(1);
  });

  it('answers a GET, retries a 503 with the marker and the time left, gives up after `attempts`, as composed', async () => {
    const ok = await both((_req, res) => res.end('ok'), '/');
    expect(ok[0]).toEqual({ status: 200, body: 'ok', requests: 1, headers: [[undefined, true]] });
    expect(ok[1]).toEqual(ok[0]);
    const flaky = await both((_req, res, n) => (n < 3 ? res.writeHead(503).end('busy') : res.end('ok')), '/');
    expect(flaky[0]).toEqual({
      status: 200,
      body: 'ok',
      requests: 3,
      headers: [
        [undefined, true],
        ['2', true],
        ['3', true],
      ],
    });
    expect(flaky[1]).toEqual(flaky[0]);
    const down = await both((_req, res) => res.writeHead(503).end('busy'), '/', {}, { attempts: 2 });
    expect(down[0]).toMatchObject({ status: 503, requests: 2 });
    expect(down[1]).toEqual(down[0]);
    const post = await both((_req, res) => res.writeHead(503).end('busy'), '/', { method: 'POST', body: 'x' });
    expect(post[0]).toMatchObject({ status: 503, requests: 1 });
    expect(post[1]).toEqual(post[0]);
  });

  it('ends a request at its deadline, and a refused connection with the same error and attempts, as composed', async () => {
    const hang = await both(() => {}, '/', { deadlineMs: 150 });
    expect(hang[0]).toMatchObject({ code: 'BW_ERR_DEADLINE', waitingFor: 'headers', requests: 1 });
    expect(hang[1]).toEqual(hang[0]);
    const { fused, composed } = clients({ attempts: 2 });
    const closed = await server(() => {});
    const url = `http://users.internal:${closed.port}/`;
    await closed.close();
    const refused = [await outcome(fused, url), await outcome(composed, url)];
    expect(refused[0]).toMatchObject({ code: 'BW_ERR_CONNECT_REFUSED', attempts: 2 });
    expect(refused[1]).toEqual(refused[0]);
  });

  it('opens the breaker after 5xx answers and then fails fast, as composed', async () => {
    const circuit = { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 };
    const { fused, composed } = clients({ attempts: 1, circuit });
    const runs = [];
    for (const c of [fused, composed]) {
      const s = await server((_req, res) => res.writeHead(500).end('no'));
      const url = `http://users.internal:${s.port}/`;
      const seq = [];
      for (let i = 0; i < 5; i++) seq.push(await outcome(c, url));
      runs.push({ seq, requests: s.seen.length });
    }
    expect(runs[0]?.seq.at(-1)).toMatchObject({ code: 'BW_ERR_CIRCUIT_OPEN' });
    expect(runs[0]?.requests).toBeLessThan(5);
    expect(runs[1]).toEqual(runs[0]);
  });

  it('keeps the client in flight until the body is read, so close() waits for it', async () => {
    const { fused } = clients();
    const s = await server((_req, res) => {
      res.write('a');
      setTimeout(() => res.end('b'), 50);
    });
    const res = await fused.request(`http://users.internal:${s.port}/`);
    let closed = false;
    const closing = fused.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(false);
    expect(await res.body.text()).toBe('ab');
    await closing;
    expect(closed).toBe(true);
    await expect(fused.request(`http://users.internal:${s.port}/`)).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
  });
});
