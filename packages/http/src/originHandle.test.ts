import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BreakwaterError } from '@breakwater/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, HTTP_CHANNELS } from './index.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A loopback server: 503 for the first `busy` requests, then 200 echoing the method, path and our headers. */
async function server(busy = 0, hang = false) {
  const seen: http.IncomingHttpHeaders[] = [];
  const s = http.createServer((req, res) => {
    seen.push(req.headers);
    if (hang) return;
    if (seen.length <= busy) res.writeHead(503).end('busy');
    else res.end(`${req.method} ${req.url}`);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => s.close(r)));
  cleanups.push(() => s.closeAllConnections());
  return { origin: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

function client(options: Parameters<typeof createClient>[0] = {}) {
  const c = createClient(options);
  cleanups.push(() => c.destroy());
  return c;
}

describe('client.origin(o).request({ path, method })', () => {
  it('goes through the same layers as request(url): retried on 503, deadline and retry headers sent', async () => {
    const { origin, seen } = await server(1);
    const users = client({ baseDelayMs: 1, maxDelayMs: 5 }).origin(`${origin}/`);
    expect(users.origin).toBe(origin);
    const res = await users.request({ path: '/u/1?x=2', method: 'GET' });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('GET /u/1?x=2');
    expect(seen.map((h) => h['x-breakwater-retry'])).toEqual([undefined, '2']);
    expect(Number(seen[0]?.['x-breakwater-deadline-ms'])).toBeGreaterThan(0);
  });

  it('fails with BW_ERR_DEADLINE naming the request, and takes per-request deadlineMs', async () => {
    const { origin } = await server(0, true);
    const err = await client()
      .origin(origin)
      .request({ path: '/slow', method: 'GET', deadlineMs: 100 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BreakwaterError);
    expect((err as BreakwaterError).code).toBe('BW_ERR_DEADLINE');
    expect((err as BreakwaterError).message).toContain(`GET ${origin}/slow`);
  });

  it('refuses anything but an origin, and passes undici’s own usage errors unchanged', async () => {
    const c = client();
    for (const bad of ['http://h/v1', 'http://h/?q=1', 'ftp://h', 'not a url', 'http://u:p@h']) {
      expect(() => c.origin(bad)).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION' }));
    }
    const { origin } = await server();
    const err = await c
      .origin(origin)
      .request({ path: 'no-slash', method: 'GET' })
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('UND_ERR_INVALID_ARG');
  });

  it('is refused after close() and publishes breakwater:http:completed as request(url) does', async () => {
    const { origin } = await server();
    const c = createClient();
    const events: { origin: string; statusCode?: number }[] = [];
    const onCompleted = (m: unknown) => events.push(m as { origin: string; statusCode?: number });
    diagnostics.subscribe(HTTP_CHANNELS.completed, onCompleted);
    cleanups.push(() => diagnostics.unsubscribe(HTTP_CHANNELS.completed, onCompleted));
    const handle = c.origin(origin);
    await (await handle.request({ path: '/', method: 'GET' })).body.text();
    expect(events).toEqual([expect.objectContaining({ origin, method: 'GET', statusCode: 200 })]);
    await c.close();
    const err = await handle.request({ path: '/', method: 'GET' }).catch((e: unknown) => e);
    expect((err as BreakwaterError).code).toBe('BW_ERR_CLOSED');
  });
});
