import net from 'node:net';
import { Readable } from 'node:stream';
import { BreakwaterError } from '@breakwater/core';
import { RETRY_CHANNELS } from '@breakwater/retry';
import { afterEach, describe, expect, it } from 'vitest';
import { abortDuringBackoff, client, listen, rejection, server, waitFor } from '../support/reviewRetry.js';

// Review of issue #17 ("one retry decision"): the http retry layer asks @breakwater/retry's RetryStrategy.
// Attacks on real loopback servers: bytes, duplicate writes, Retry-After, deadline, abort, close, budgets.
// retry() and process lifetime: review-retry-process.test.ts.

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('data: never different bytes, never a second non-idempotent write', () => {
  it('a POST lost after its body was sent is sent once and fails with outcome unknown', async () => {
    const { origin, bodies } = await server(cleanups, (_n, req) => req.socket.resetAndDestroy());
    const seen = listen(cleanups, RETRY_CHANNELS.retried);
    const err = await rejection(client(cleanups).request(`${origin}/pay`, { method: 'POST', body: 'charge 10' }));
    expect(bodies.map(String)).toEqual(['charge 10']);
    expect(err).toBeInstanceOf(BreakwaterError);
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ outcome: 'unknown', attempts: 1 });
    expect(seen).toEqual([]);
  });

  it('a POST with idempotencyKey: true lost after its body was sent is resent with the same key and the same bytes', async () => {
    const keys: unknown[] = [];
    const { origin, bodies } = await server(cleanups, (n, req, res) => {
      keys.push(req.headers['idempotency-key']);
      if (n === 1) req.socket.resetAndDestroy();
      else res.end('applied once');
    });
    const res = await client(cleanups, { idempotencyKey: true }).request(`${origin}/pay`, { method: 'POST', body: Readable.from(['charge ', '10']) });
    expect(await res.body.text()).toBe('applied once');
    expect(bodies.map(String)).toEqual(['charge 10', 'charge 10']);
    expect(keys).toHaveLength(2);
    expect(typeof keys[0]).toBe('string');
    expect(keys[1]).toBe(keys[0]);
  });

  it('a POST answered 503 is not retried: the caller gets the 503 and gaveUp says notRetryable', async () => {
    const { origin, bodies } = await server(cleanups, (_n, _req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const seen = listen(cleanups, RETRY_CHANNELS.gaveUp);
    const res = await client(cleanups).request(`${origin}/pay`, { method: 'POST', body: 'charge 10' });
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe('busy');
    expect(bodies).toHaveLength(1);
    expect(seen.map(([, m]) => [m.source, m.reason, m.upstream, m.attempts])).toEqual([['http', 'notRetryable', origin, 1]]);
  });

  it('a streamed PUT larger than maxReplayBodyBytes is not resent after a reset; smaller ones are resent byte for byte', async () => {
    const payload = Buffer.alloc(50_000, 7);
    const { origin, bodies } = await server(cleanups, (n, req, res) => (n === 1 ? req.socket.resetAndDestroy() : res.end('ok')));
    const small = client(cleanups, { maxReplayBodyBytes: 100_000 });
    const ok = await small.request(`${origin}/a`, { method: 'PUT', body: Readable.from([payload.subarray(0, 10), payload.subarray(10)]) });
    expect(await ok.body.text()).toBe('ok');
    expect(bodies.map((b) => b.equals(payload))).toEqual([true, true]);
    bodies.length = 0;
    const { origin: origin2, bodies: bodies2 } = await server(cleanups, (_n, req) => req.socket.resetAndDestroy());
    const err = await rejection(
      client(cleanups, { maxReplayBodyBytes: 1_000 }).request(`${origin2}/b`, {
        method: 'PUT',
        body: Readable.from([payload.subarray(0, 10), payload.subarray(10)]),
      }),
    );
    expect(bodies2).toHaveLength(1);
    expect(err.details).toMatchObject({ notRetried: 'body-not-replayable', attempts: 1 });
  });

  it('an async-iterable PUT is resent with the same bytes after a 503', async () => {
    const { origin, bodies } = await server(cleanups, (n, _req, res) => {
      res.statusCode = n === 1 ? 503 : 200;
      res.end();
    });
    async function* gen() {
      yield 'one,';
      yield Buffer.from('two,');
      yield new Uint8Array([51]);
    }
    const res = await client(cleanups).request(`${origin}/x`, { method: 'PUT', body: gen() as unknown as Readable });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(bodies.map(String)).toEqual(['one,two,3', 'one,two,3']);
  });
});

describe('time: Retry-After, deadline, abort', () => {
  it.each([
    ['garbage', 'soon-ish'],
    ['negative', '-5'],
    ['an HTTP-date in the past', new Date(Date.now() - 60_000).toUTCString()],
  ])('a 503 with a Retry-After that is %s is retried on the backoff', async (_what, value) => {
    const { origin, bodies } = await server(cleanups, (n, _req, res) => {
      res.statusCode = n === 1 ? 503 : 200;
      if (n === 1) res.setHeader('retry-after', value);
      res.end(String(n));
    });
    const res = await client(cleanups).request(`${origin}/x`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('2');
    expect(bodies).toHaveLength(2);
  });

  it('a Retry-After (seconds or HTTP-date) longer than maxRetryAfterMs ends retrying with reason retryAfter and the 503', async () => {
    for (const value of ['99999999999999999999', new Date(Date.now() + 3_600_000).toUTCString()]) {
      const { origin, bodies } = await server(cleanups, (_n, _req, res) => {
        res.statusCode = 503;
        res.setHeader('retry-after', value);
        res.end();
      });
      const seen = listen(cleanups, RETRY_CHANNELS.gaveUp);
      const res = await client(cleanups).request(`${origin}/x`);
      expect(res.statusCode).toBe(503);
      await res.body.dump();
      expect(bodies).toHaveLength(1);
      expect(seen.map(([, m]) => m.reason)).toEqual(['retryAfter']);
    }
  });

  it('a Retry-After the deadline cannot hold: reason deadline, the 503 returned, no second attempt', async () => {
    const { origin, bodies } = await server(cleanups, (_n, _req, res) => {
      res.statusCode = 503;
      res.setHeader('retry-after', '5');
      res.end();
    });
    const seen = listen(cleanups, RETRY_CHANNELS.gaveUp, 'breakwater:http:gaveUp');
    const res = await client(cleanups, { deadlineMs: 2_000 }).request(`${origin}/x`);
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    expect(bodies).toHaveLength(1);
    expect(seen.map(([ch, m]) => [ch, m.reason])).toEqual([
      [RETRY_CHANNELS.gaveUp, 'deadline'],
      ['breakwater:http:gaveUp', 'deadline'],
    ]);
  });

  it('abort during the backoff: rejected with the caller’s reason, no attempt after it, the timer cleared', async () => {
    const { origin, bodies } = await server(cleanups, (_n, _req, res) => {
      res.statusCode = 503;
      res.setHeader('retry-after', '3');
      res.end();
    });
    const seen = listen(cleanups, RETRY_CHANNELS.gaveUp, RETRY_CHANNELS.retried);
    const c = client(cleanups);
    const ac = new AbortController();
    const pending = c.request(`${origin}/x`, { signal: ac.signal });
    await abortDuringBackoff(ac, pending, seen);
    await c.close();
    expect(bodies).toHaveLength(1);
    expect(seen.map(([, m]) => [m.source, m.reason ?? 'retried'])).toEqual([
      ['http', 'retried'],
      ['http', 'aborted'],
    ]);
  });

  it.each([30_000, 0])('abort during the backoff after a refused connect (deadlineMs %i): the caller’s reason, no attempt after it', async (deadlineMs) => {
    const refusing = net.createServer();
    await new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r));
    const { port } = refusing.address() as net.AddressInfo;
    await new Promise((r) => refusing.close(r));
    const seen = listen(cleanups, RETRY_CHANNELS.gaveUp, RETRY_CHANNELS.retried);
    const c = client(cleanups, { baseDelayMs: 60_000, maxDelayMs: 60_000, deadlineMs });
    const ac = new AbortController();
    const pending = c.request(`http://127.0.0.1:${port}/x`, { signal: ac.signal });
    await waitFor(() => seen.length === 1);
    ac.abort(new Error('user left'));
    const err = await rejection(pending);
    expect(err.message).toBe('user left');
    // fetch() rejects at once on its own; the run behind it must stop too (close() waits for it).
    const fetchAbort = new AbortController();
    const fetched = c.fetch(`http://127.0.0.1:${port}/y`, { signal: fetchAbort.signal });
    await waitFor(() => seen.length === 3);
    fetchAbort.abort(new Error('user left'));
    await rejection(fetched);
    await c.close();
    expect(seen.map(([, m]) => m.reason ?? `retried ${m.attempt}`)).toEqual(['retried 2', 'aborted', 'retried 2', 'aborted']);
  });

  it('close() during a backoff waits for the retry, which succeeds', async () => {
    const { origin, bodies } = await server(cleanups, (n, _req, res) => {
      res.statusCode = n === 1 ? 503 : 200;
      if (n === 1) res.setHeader('retry-after', '1');
      res.end('done');
    });
    const seen = listen(cleanups, RETRY_CHANNELS.retried);
    const c = client(cleanups);
    const pending = c.request(`${origin}/x`);
    await waitFor(() => seen.length === 1);
    const closing = c.close();
    const res = await pending;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('done');
    await closing;
    expect(bodies).toHaveLength(2);
  });
});

describe('budgets and forwarded retries', () => {
  it('a forwarded retry is charged once, gets one attempt, and a refusal is BW_ERR_RETRY_BUDGET with gaveUp budget', async () => {
    const { origin, bodies } = await server(cleanups, (_n, _req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const seen = listen(cleanups, RETRY_CHANNELS.gaveUp, 'breakwater:http:gaveUp');
    // A floor of one retry per second, no ratio: the first forwarded retry fits, the second does not.
    const c = client(cleanups, { retryBudget: { ratio: 0, minPerSecond: 1, windowMs: 1_000 } });
    const first = await c.request(`${origin}/x`, { headers: { 'x-breakwater-retry': '2' } });
    expect(first.statusCode).toBe(503);
    await first.body.dump();
    const err = await rejection(c.request(`${origin}/x`, { headers: { 'x-breakwater-retry': '2' } }));
    expect(err.code).toBe('BW_ERR_RETRY_BUDGET');
    expect(err.details).toMatchObject({ attempts: 0 });
    expect(bodies).toHaveLength(1);
    expect(seen.map(([ch, m]) => [ch, m.reason, m.attempts])).toEqual([
      [RETRY_CHANNELS.gaveUp, 'attempts', 1],
      ['breakwater:http:gaveUp', 'attempts', 1],
      [RETRY_CHANNELS.gaveUp, 'budget', 0],
      ['breakwater:http:gaveUp', 'budget', 0],
    ]);
  });
  it('a retry the budget refuses: gaveUp budget, no attempt beyond the floor, the last error with attempts', async () => {
    const { origin, bodies } = await server(cleanups, (_n, req) => req.socket.resetAndDestroy());
    const seen = listen(cleanups, RETRY_CHANNELS.gaveUp);
    // A floor of one retry in the window, no ratio: the second retry is refused.
    const err = await rejection(client(cleanups, { retryBudget: { ratio: 0, minPerSecond: 1, windowMs: 1_000 }, attempts: 5 }).request(`${origin}/x`));
    expect(bodies).toHaveLength(2);
    expect(err).toBeInstanceOf(BreakwaterError);
    expect(err.details).toMatchObject({ attempts: 2 });
    expect(seen.map(([, m]) => [m.reason, m.attempts])).toEqual([['budget', 2]]);
  });
});
