import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BreakwaterError } from '@breakwater/core';
import { createClient } from '@breakwater/http';
import { Agent, interceptors, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Hostile review of issues 13/20: client.close() while one request waits for its answer and another
// sleeps in a retry backoff (a 503 with Retry-After: 1). Before the fix close() resolved as soon as the
// in-flight request ended, with the backoff timer still pending; the retry then found its Agent closed
// and the caller got "the client was destroyed" after close() had returned.

const hits = new Map<string, number>();
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const id = String(req.headers['x-case']);
    const n = (hits.get(id) ?? 0) + 1;
    hits.set(id, n);
    if (req.url === '/busy-once' && n === 1) {
      res.writeHead(503, { 'retry-after': '1' }).end('busy');
      return;
    }
    const timer = setTimeout(() => res.end('ok'), req.url === '/slow' ? 500 : 0);
    req.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('client.close() with requests in flight and a retry backoff pending', () => {
  it('lets both finish (the retry is sent), then closes; later requests get BW_ERR_CLOSED without being sent', async () => {
    const client = createClient({ maxRetryAfterMs: 5_000, retryBudget: { minPerSecond: 100 }, circuit: false });
    const settled: string[] = [];
    const slow = client.request(`${base}/slow`, { headers: { 'x-case': 'slow' } }).then(async (r) => {
      settled.push(`slow ${r.statusCode} ${await r.body.text()}`);
    });
    const retried = client.request(`${base}/busy-once`, { headers: { 'x-case': 'backoff' } }).then(async (r) => {
      settled.push(`backoff ${r.statusCode} ${await r.body.text()}`);
    });
    await until(() => hits.get('backoff') === 1 && hits.get('slow') === 1);
    const started = performance.now();
    await client.close();
    const closeMs = performance.now() - started;
    // Both requests ended before close() resolved: the retry went out after its backoff.
    expect(settled.sort()).toEqual(['backoff 200 ok', 'slow 200 ok']);
    expect(hits.get('backoff')).toBe(2);
    expect(closeMs).toBeGreaterThanOrEqual(900);
    await Promise.all([slow, retried]);

    const after = await client.request(`${base}/`, { headers: { 'x-case': 'after' } }).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(BreakwaterError);
    expect(after).toMatchObject({ code: 'BW_ERR_CLOSED', details: { attempts: 0 } });
    const afterFetch = await client.fetch(`${base}/`, { headers: { 'x-case': 'after' } }).catch((e: unknown) => e);
    expect((afterFetch as Error).cause).toMatchObject({ code: 'BW_ERR_CLOSED' });
    expect(hits.get('after')).toBeUndefined();
    // Our side closed every connection: the server holds none.
    const connections = () => new Promise<number>((r) => server.getConnections((_e, n) => r(n)));
    let open = await connections();
    for (let i = 0; i < 100 && open > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      open = await connections();
    }
    expect(open).toBe(0);
    console.log(`[issue-20] close() with a 1 s Retry-After backoff pending: resolved after ${closeMs.toFixed(0)} ms, retry sent, 0 connections left`);
  });

  it('naive: a plain Agent with undici’s retry interceptor closes with the backoff pending, and the retry fails', async () => {
    const agent = new Agent();
    const dispatcher = agent.compose(interceptors.retry({ statusCodes: [503], maxRetries: 1, minTimeout: 1_000, timeoutFactor: 1 }));
    const outcome = undiciRequest(`${base}/busy-once`, { headers: { 'x-case': 'naive' }, dispatcher }).then(
      async (r) => `${r.statusCode} ${await r.body.text()}`,
      (e: Error) => `error: ${e.message}`,
    );
    await until(() => hits.get('naive') === 1);
    let closedFirst = false;
    await agent.close().then(() => {
      closedFirst = true;
    });
    const result = await outcome;
    console.log(`[issue-20] naive close() during a retry backoff: close resolved first: ${closedFirst}; request: ${result}; server hits ${hits.get('naive')}`);
    expect(result).toMatch(/^error: /);
    expect(hits.get('naive')).toBe(1);
  });
});
