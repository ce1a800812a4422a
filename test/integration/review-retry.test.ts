import { spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import type http from 'node:http';
import net from 'node:net';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { BreakwaterError, Deadline } from '@breakwater/core';
import { createClient } from '@breakwater/http';
import { RETRY_CHANNELS, RetryBudget, retry } from '@breakwater/retry';
import { afterEach, describe, expect, it } from 'vitest';
import { listenHttp } from '../support/httpServer.js';

// Review of issue #17 ("one retry decision"): the http retry layer and retry() both ask one
// RetryStrategy. Attacks on real loopback servers: bytes, duplicate writes, time, budgets, events and
// process lifetime.

const HOOKS = fileURLToPath(new URL('../support/ts-hooks.ts', import.meta.url));
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function listen(...names: string[]): [string, Record<string, unknown>][] {
  const seen: [string, Record<string, unknown>][] = [];
  for (const name of names) {
    const fn = (m: unknown) => seen.push([name, m as Record<string, unknown>]);
    diagnosticsChannel.subscribe(name, fn);
    cleanups.push(() => diagnosticsChannel.unsubscribe(name, fn));
  }
  return seen;
}

/** A server answering each request with `answer(n, req, res)`, n = 1 for the first; it records every body. */
async function server(answer: (n: number, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void) {
  const bodies: Buffer[] = [];
  const port = await listenHttp((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      bodies.push(body);
      answer(bodies.length, req, res, body);
    });
  }, cleanups);
  return { origin: `http://127.0.0.1:${port}`, bodies };
}

function client(options: Parameters<typeof createClient>[0] = {}) {
  const c = createClient({ baseDelayMs: 1, maxDelayMs: 5, ...options });
  cleanups.push(() => c.close());
  return c;
}

const rejection = async (p: Promise<unknown>): Promise<BreakwaterError> => {
  try {
    await p;
  } catch (err) {
    return err as BreakwaterError;
  }
  throw new Error('expected a rejection');
};

describe('data: never different bytes, never a second non-idempotent write', () => {
  it('a POST lost after its body was sent is sent once and fails with outcome unknown', async () => {
    const { origin, bodies } = await server((_n, req) => req.socket.resetAndDestroy());
    const seen = listen(RETRY_CHANNELS.retried);
    const err = await rejection(client().request(`${origin}/pay`, { method: 'POST', body: 'charge 10' }));
    expect(bodies.map(String)).toEqual(['charge 10']);
    expect(err).toBeInstanceOf(BreakwaterError);
    expect(err.retryable).toBe(false);
    expect(err.details).toMatchObject({ outcome: 'unknown', attempts: 1 });
    expect(seen).toEqual([]);
  });

  it('a POST with idempotencyKey: true lost after its body was sent is resent with the same key and the same bytes', async () => {
    const keys: unknown[] = [];
    const { origin, bodies } = await server((n, req, res) => {
      keys.push(req.headers['idempotency-key']);
      if (n === 1) req.socket.resetAndDestroy();
      else res.end('applied once');
    });
    const res = await client({ idempotencyKey: true }).request(`${origin}/pay`, { method: 'POST', body: Readable.from(['charge ', '10']) });
    expect(await res.body.text()).toBe('applied once');
    expect(bodies.map(String)).toEqual(['charge 10', 'charge 10']);
    expect(keys).toHaveLength(2);
    expect(typeof keys[0]).toBe('string');
    expect(keys[1]).toBe(keys[0]);
  });

  it('a POST answered 503 is not retried: the caller gets the 503 and gaveUp says notRetryable', async () => {
    const { origin, bodies } = await server((_n, _req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const seen = listen(RETRY_CHANNELS.gaveUp);
    const res = await client().request(`${origin}/pay`, { method: 'POST', body: 'charge 10' });
    expect(res.statusCode).toBe(503);
    expect(await res.body.text()).toBe('busy');
    expect(bodies).toHaveLength(1);
    expect(seen.map(([, m]) => [m.source, m.reason, m.upstream, m.attempts])).toEqual([['http', 'notRetryable', origin, 1]]);
  });

  it('a streamed PUT larger than maxReplayBodyBytes is not resent after a reset; smaller ones are resent byte for byte', async () => {
    const payload = Buffer.alloc(50_000, 7);
    const { origin, bodies } = await server((n, req, res) => (n === 1 ? req.socket.resetAndDestroy() : res.end('ok')));
    const small = client({ maxReplayBodyBytes: 100_000 });
    const ok = await small.request(`${origin}/a`, { method: 'PUT', body: Readable.from([payload.subarray(0, 10), payload.subarray(10)]) });
    expect(await ok.body.text()).toBe('ok');
    expect(bodies.map((b) => b.equals(payload))).toEqual([true, true]);
    bodies.length = 0;
    const { origin: origin2, bodies: bodies2 } = await server((_n, req) => req.socket.resetAndDestroy());
    const err = await rejection(
      client({ maxReplayBodyBytes: 1_000 }).request(`${origin2}/b`, { method: 'PUT', body: Readable.from([payload.subarray(0, 10), payload.subarray(10)]) }),
    );
    expect(bodies2).toHaveLength(1);
    expect(err.details).toMatchObject({ notRetried: 'body-not-replayable', attempts: 1 });
  });

  it('an async-iterable PUT is resent with the same bytes after a 503', async () => {
    const { origin, bodies } = await server((n, _req, res) => {
      res.statusCode = n === 1 ? 503 : 200;
      res.end();
    });
    async function* gen() {
      yield 'one,';
      yield Buffer.from('two,');
      yield new Uint8Array([51]);
    }
    const res = await client().request(`${origin}/x`, { method: 'PUT', body: gen() as unknown as Readable });
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
    const { origin, bodies } = await server((n, _req, res) => {
      res.statusCode = n === 1 ? 503 : 200;
      if (n === 1) res.setHeader('retry-after', value);
      res.end(String(n));
    });
    const res = await client().request(`${origin}/x`);
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('2');
    expect(bodies).toHaveLength(2);
  });

  it('a Retry-After (seconds or HTTP-date) longer than maxRetryAfterMs ends retrying with reason retryAfter and the 503', async () => {
    for (const value of ['99999999999999999999', new Date(Date.now() + 3_600_000).toUTCString()]) {
      const { origin, bodies } = await server((_n, _req, res) => {
        res.statusCode = 503;
        res.setHeader('retry-after', value);
        res.end();
      });
      const seen = listen(RETRY_CHANNELS.gaveUp);
      const res = await client().request(`${origin}/x`);
      expect(res.statusCode).toBe(503);
      await res.body.dump();
      expect(bodies).toHaveLength(1);
      expect(seen.map(([, m]) => m.reason)).toEqual(['retryAfter']);
    }
  });

  it('a Retry-After the deadline cannot hold: reason deadline, the 503 returned, no second attempt', async () => {
    const { origin, bodies } = await server((_n, _req, res) => {
      res.statusCode = 503;
      res.setHeader('retry-after', '5');
      res.end();
    });
    const seen = listen(RETRY_CHANNELS.gaveUp, 'breakwater:http:gaveUp');
    const res = await client({ deadlineMs: 2_000 }).request(`${origin}/x`);
    expect(res.statusCode).toBe(503);
    await res.body.dump();
    expect(bodies).toHaveLength(1);
    expect(seen.map(([ch, m]) => [ch, m.reason])).toEqual([
      [RETRY_CHANNELS.gaveUp, 'deadline'],
      ['breakwater:http:gaveUp', 'deadline'],
    ]);
  });

  it('abort during the backoff: rejected with the caller’s reason, no attempt after it, the timer cleared', async () => {
    const { origin, bodies } = await server((_n, _req, res) => {
      res.statusCode = 503;
      res.setHeader('retry-after', '3');
      res.end();
    });
    const seen = listen(RETRY_CHANNELS.gaveUp, RETRY_CHANNELS.retried);
    const c = client();
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
    const seen = listen(RETRY_CHANNELS.gaveUp, RETRY_CHANNELS.retried);
    const c = client({ baseDelayMs: 60_000, maxDelayMs: 60_000, deadlineMs });
    const ac = new AbortController();
    const pending = c.request(`http://127.0.0.1:${port}/x`, { signal: ac.signal });
    await vi_waitFor(() => seen.length === 1);
    ac.abort(new Error('user left'));
    const err = await rejection(pending);
    expect(err.message).toBe('user left');
    // fetch() rejects at once on its own; the run behind it must stop too (close() waits for it).
    const fetchAbort = new AbortController();
    const fetched = c.fetch(`http://127.0.0.1:${port}/y`, { signal: fetchAbort.signal });
    await vi_waitFor(() => seen.length === 3);
    fetchAbort.abort(new Error('user left'));
    await rejection(fetched);
    await c.close();
    expect(seen.map(([, m]) => m.reason ?? `retried ${m.attempt}`)).toEqual(['retried 2', 'aborted', 'retried 2', 'aborted']);
  });

  it('close() during a backoff waits for the retry, which succeeds', async () => {
    const { origin, bodies } = await server((n, _req, res) => {
      res.statusCode = n === 1 ? 503 : 200;
      if (n === 1) res.setHeader('retry-after', '1');
      res.end('done');
    });
    const seen = listen(RETRY_CHANNELS.retried);
    const c = client();
    const pending = c.request(`${origin}/x`);
    await vi_waitFor(() => seen.length === 1);
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
    const { origin, bodies } = await server((_n, _req, res) => {
      res.statusCode = 503;
      res.end();
    });
    const seen = listen(RETRY_CHANNELS.gaveUp, 'breakwater:http:gaveUp');
    // A floor of one retry per second, no ratio: the first forwarded retry fits, the second does not.
    const c = client({ retryBudget: { ratio: 0, minPerSecond: 1, windowMs: 1_000 } });
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
    const { origin, bodies } = await server((_n, req) => req.socket.resetAndDestroy());
    const seen = listen(RETRY_CHANNELS.gaveUp);
    // A floor of one retry in the window, no ratio: the second retry is refused.
    const err = await rejection(client({ retryBudget: { ratio: 0, minPerSecond: 1, windowMs: 1_000 }, attempts: 5 }).request(`${origin}/x`));
    expect(bodies).toHaveLength(2);
    expect(err).toBeInstanceOf(BreakwaterError);
    expect(err.details).toMatchObject({ attempts: 2 });
    expect(seen.map(([, m]) => [m.reason, m.attempts])).toEqual([['budget', 2]]);
  });
});

describe('retry()', () => {
  it('rejects options of the wrong type naming the key, and an unknown hook', async () => {
    const fn = () => 1;
    for (const [key, value] of [
      ['attempts', '3'],
      ['baseDelayMs', -1],
      ['signal', {}],
      ['retryOn', 'yes'],
      ['idempotent', 1],
      ['onFailedAttempt', () => {}],
    ] as const) {
      const err = await rejection(retry(fn, { [key]: value } as never));
      expect(err.code).toBe('BW_ERR_INVALID_OPTION');
      expect(err.message).toContain(`\`${key}\``);
    }
  });

  it('an abort during the backoff: the caller’s reason, no attempt after it, the timer cleared, gaveUp aborted', async () => {
    const seen = listen(RETRY_CHANNELS.gaveUp, RETRY_CHANNELS.retried);
    const ac = new AbortController();
    let calls = 0;
    const pending = retry(
      () => {
        calls++;
        throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
      },
      { signal: ac.signal, baseDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'equal' },
    );
    await abortDuringBackoff(ac, pending, seen);
    expect(calls).toBe(1);
    expect(seen.map(([, m]) => [m.source, m.reason ?? 'retried'])).toEqual([
      ['retry', 'retried'],
      ['retry', 'aborted'],
    ]);
  });

  it('a forwarded retry is charged once and gets one attempt; a deadline ending mid-attempt is BW_ERR_DEADLINE', async () => {
    const seen = listen(RETRY_CHANNELS.gaveUp);
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 10 });
    let calls = 0;
    const refused = () => {
      calls++;
      throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    };
    await rejection(retry(refused, { budget, incomingIsRetry: true }));
    expect(calls).toBe(1);
    expect(budget.stats().retries).toBe(1);
    const err = await rejection(
      retry(
        ({ signal }) =>
          new Promise((_, reject) => {
            calls++;
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          }),
        { deadline: Deadline.after(50), idempotent: true },
      ),
    );
    expect(err.code).toBe('BW_ERR_DEADLINE');
    expect(err.details).toMatchObject({ attempts: 1 });
    expect(calls).toBe(2);
    expect(seen.map(([, m]) => [m.source, m.reason])).toEqual([
      ['retry', 'attempts'],
      ['retry', 'deadline'],
    ]);
  });

  it('a non-Error throw is rethrown as is, after the attempts, with no TypeError from p-retry', async () => {
    let calls = 0;
    const thrown = await retry(
      () => {
        calls++;
        throw 'plain string';
      },
      { attempts: 3, retryOn: () => true, baseDelayMs: 1, maxDelayMs: 1 },
    ).catch((e: unknown) => e);
    expect(thrown).toBe('plain string');
    expect(calls).toBe(3);
  });
});

describe('process lifetime (child processes)', () => {
  const run = (script: string, origin: string) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--experimental-transform-types', '--no-warnings', '--import', HOOKS, '--input-type=module', '-e', script, '--', origin],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (c) => (out += String(c)));
      // A failure-detection bound, not a speed assertion: a process held open is killed here.
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', (code) => {
        clearTimeout(kill);
        resolve({ code, out });
      });
    });

  it('an http request in backoff keeps the process alive; a finished client does not hold it open', async () => {
    const { origin, bodies } = await server((n, req, res) => {
      // /hold asks for a minute: a backoff timer left behind by the abort would hold the child past its kill bound.
      const hold = req.url === '/hold';
      res.statusCode = n === 1 || hold ? 503 : 200;
      if (n === 1 || hold) res.setHeader('retry-after', hold ? '60' : '1');
      res.end('fine');
    });
    const script = `
      const { createClient } = await import('@breakwater/http');
      const c = createClient({ maxRetryAfterMs: 120000, deadlineMs: 0 });
      const res = await c.request(process.argv[1] + '/x');
      console.log(res.statusCode, await res.body.text());
      const again = await c.request(process.argv[1] + '/y');
      await again.body.dump();
      const held = await c.request(process.argv[1] + '/hold', { signal: AbortSignal.timeout(200) }).catch((e) => e.name);
      console.log(held, 'exiting without close');
    `;
    const { code, out } = await run(script, origin);
    expect(out).toBe('200 fine\nTimeoutError exiting without close\n');
    expect(code).toBe(0);
    expect(bodies).toHaveLength(4);
  });

  it('retry() in backoff keeps the process alive', async () => {
    const script = `
      const { retry } = await import('@breakwater/retry');
      let n = 0;
      const v = await retry(() => { if (++n === 1) throw Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }); return n; }, { baseDelayMs: 300, maxDelayMs: 300, jitter: 'equal' });
      console.log('value', v);
    `;
    const { code, out } = await run(script, '');
    expect(out).toBe('value 2\n');
    expect(code).toBe(0);
  });
});

/** Aborts once the first retry is decided; checks the rejection is the caller's reason and the backoff's timer went with it. */
async function abortDuringBackoff(ac: AbortController, pending: Promise<unknown>, seen: unknown[]): Promise<void> {
  await vi_waitFor(() => seen.length === 1);
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const inBackoff = timers();
  ac.abort(new Error('user left'));
  const err = await rejection(pending);
  expect(err.message).toBe('user left');
  expect(timers()).toBeLessThan(inBackoff);
}

async function vi_waitFor(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 5));
}
