import diagnosticsChannel from 'node:diagnostics_channel';
import type http from 'node:http';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createClient,
  DEADLINE_HEADER,
  deadlineFrom,
  HTTP_CHANNELS,
  type HttpClient,
  inboundDeadline,
  MAX_DEADLINE_HEADER_MS,
  propagationHeaders,
} from '../../packages/http/src/index.js';
import { listenHttp } from '../support/httpServer.js';

// Issue 13, deadline propagation across three real tiers: test → A → B → C, each tier an http server
// calling the next through createClient(). A tier thinks, then calls on: what C receives must be the time
// the original caller still waits (its budget minus the elapsed time, measured here), not the budget A
// or B was given when its request arrived.

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const listen = (handler: http.RequestListener) => listenHttp(handler, cleanups);

function client(options?: Parameters<typeof createClient>[0]): HttpClient {
  const c = createClient(options);
  cleanups.push(() => c.close());
  return c;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen {
  header: string | undefined;
  retry: string | undefined;
  at: number;
}

/** The bottom tier: records what arrived and when. */
async function bottom(): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const port = await listen((req, res) => {
    seen.push({
      header: req.headers[DEADLINE_HEADER] as string | undefined,
      retry: req.headers['x-breakwater-retry'] as string | undefined,
      at: performance.now(),
    });
    res.end('ok');
  });
  return { url: `http://127.0.0.1:${port}/`, seen };
}

type Mode = 'ambient' | 'explicit' | 'naive';

/** A middle tier: records its inbound header, thinks `thinkMs`, calls `next`, answers with the status. */
async function middle(mode: Mode, thinkMs: number, next: string, seen: Seen[]): Promise<string> {
  const c = client();
  const serve = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push({ header: req.headers[DEADLINE_HEADER] as string | undefined, retry: undefined, at: performance.now() });
    if (mode === 'explicit') deadlineFrom(req); // captured on arrival
    await sleep(thinkMs);
    const headers =
      mode === 'explicit'
        ? propagationHeaders(req)
        : mode === 'naive'
          ? // What propagationHeaders() did before: forward the budget as it arrived.
            { [DEADLINE_HEADER]: String(req.headers[DEADLINE_HEADER]) }
          : {};
    try {
      const r = await c.request(next, { headers });
      await r.body.text();
      res.end(String(r.statusCode));
    } catch (error) {
      res.writeHead(504).end((error as { code?: string }).code);
    }
  };
  const port = await listen(mode === 'ambient' ? inboundDeadline(serve) : serve);
  return `http://127.0.0.1:${port}/`;
}

async function chain(mode: Mode) {
  const c = await bottom();
  const seenA: Seen[] = [];
  const seenB: Seen[] = [];
  const b = await middle(mode, 300, c.url, seenB);
  const a = await middle(mode, 200, b, seenA);
  const caller = client({ deadlineMs: 2_000 });
  const started = performance.now();
  const res = await caller.request(a);
  expect(await res.body.text()).toBe('200');
  const at = (s: Seen[]) => (s[0]?.at ?? Number.NaN) - started;
  const header = (s: Seen[]) => Number(s[0]?.header);
  return {
    a: { header: header(seenA), elapsedMs: at(seenA) },
    b: { header: header(seenB), elapsedMs: at(seenB) },
    c: { header: header(c.seen), elapsedMs: at(c.seen) },
  };
}

describe('issue 13: deadline propagation sends the time left now', () => {
  it('three tiers: each receives the caller budget minus the measured elapsed time; forwarding as received overstates it', async () => {
    const [ambient, explicit, naive] = await Promise.all([chain('ambient'), chain('explicit'), chain('naive')]);
    for (const [label, run] of [
      ['inboundDeadline()', ambient],
      ['deadlineFrom() + propagationHeaders()', explicit],
    ] as const) {
      // Sandwiched: no less than what the original caller has left when the request arrives (measured
      // here), no more than what the previous tier was told minus the time it spent thinking. (A tier
      // starts its clock on arrival: time on the wire is not counted, as with gRPC's timeout header.)
      const hops = [
        { tier: run.a, atMost: 2_000 },
        { tier: run.b, atMost: run.a.header - 200 },
        { tier: run.c, atMost: run.b.header - 300 },
      ];
      for (const { tier, atMost } of hops) {
        expect(tier.header, `${label}: ${JSON.stringify(run)}`).toBeGreaterThanOrEqual(2_000 - tier.elapsedMs - 2);
        expect(tier.header, `${label}: ${JSON.stringify(run)}`).toBeLessThanOrEqual(atMost + 1);
      }
      expect(run.c.elapsedMs).toBeGreaterThanOrEqual(500);
      expect(run.c.header).toBeLessThanOrEqual(1_500);
    }
    // The naive side: C is told it has (almost) the whole 2 s although half a second is gone.
    expect(naive.c.header - (2_000 - naive.c.elapsedMs)).toBeGreaterThanOrEqual(450);
    console.log(
      `[issue-13] time left at C after ${ambient.c.elapsedMs.toFixed(0)} ms: ${ambient.c.header} ms (inboundDeadline), ` +
        `${explicit.c.header} ms (propagationHeaders); naive forwarding: ${naive.c.header} ms after ${naive.c.elapsedMs.toFixed(0)} ms`,
    );
  });

  it('an inbound 0 or negative budget fails fast without sending; garbage is ignored with an event; absurd values are capped', async () => {
    const c = await bottom();
    const seenB: Seen[] = [];
    const b = await middle('ambient', 0, c.url, seenB);
    // The caller is plain undici: our own client would refuse to send an expired budget at all.
    const ignored: unknown[] = [];
    const onIgnored = (m: unknown) => ignored.push(m);
    diagnosticsChannel.subscribe(HTTP_CHANNELS.deadlineHeaderIgnored, onIgnored);
    cleanups.push(() => diagnosticsChannel.unsubscribe(HTTP_CHANNELS.deadlineHeaderIgnored, onIgnored));
    const call = async (value: string) => {
      const started = performance.now();
      const res = await request(b, { headers: { [DEADLINE_HEADER]: value } });
      return { status: res.statusCode, body: await res.body.text(), ms: performance.now() - started };
    };

    for (const value of ['0', '-5', '-0']) {
      const r = await call(value);
      expect(r, value).toMatchObject({ status: 504, body: 'BW_ERR_DEADLINE' });
      expect(r.ms).toBeLessThan(200);
    }
    expect(c.seen).toHaveLength(0);
    // And our own client, given an expired budget by its caller, sends nothing either.
    const own = client();
    await expect(own.request(c.url, { headers: { [DEADLINE_HEADER]: '0' } })).rejects.toMatchObject({ code: 'BW_ERR_DEADLINE', details: { attempts: 0 } });
    expect(c.seen).toHaveLength(0);

    const garbage = await call('soon');
    expect(garbage.status).toBe(200);
    expect(ignored).toEqual([{ value: 'soon' }]);
    // Ignored means B's own default deadline (30 s) bounds the call, never "none".
    expect(Number(c.seen.at(-1)?.header)).toBeGreaterThan(29_000);
    expect(Number(c.seen.at(-1)?.header)).toBeLessThanOrEqual(30_000);

    await call('99999999999');
    expect(Number(c.seen.at(-1)?.header)).toBeLessThanOrEqual(Math.min(MAX_DEADLINE_HEADER_MS, 30_000));

    // Hostile review: the header sent twice reaches B joined ("900, 0"); the smaller budget counts, never none.
    const twice = await request(b, { headers: [DEADLINE_HEADER, '900', DEADLINE_HEADER, '0'] });
    expect({ status: twice.statusCode, body: await twice.body.text() }).toEqual({ status: 504, body: 'BW_ERR_DEADLINE' });
    await (await request(b, { headers: [DEADLINE_HEADER, '5000', DEADLINE_HEADER, ' 700 '] })).body.text();
    expect(Number(c.seen.at(-1)?.header)).toBeLessThanOrEqual(700);
    expect(Number(c.seen.at(-1)?.header)).toBeGreaterThan(500);
    // Other spellings a caller may send: never "no deadline".
    for (const value of ['1e309', 'abc', '']) {
      await call(value);
      expect(Number(c.seen.at(-1)?.header), value).toBeLessThanOrEqual(30_000);
    }
  });

  it('propagate: internal names get the headers, a public API name does not; the option takes lists and functions', async () => {
    const c = await bottom();
    const port = new URL(c.url).port;
    const resolve = async () => [{ address: '127.0.0.1', family: 4 as const, ttlMs: 60_000 }];
    const byDefault = client({ resolve });
    for (const host of ['users.internal', 'users', 'api.stripe.example.com']) await (await byDefault.request(`http://${host}:${port}/`)).body.text();
    expect(c.seen.map((s) => s.header !== undefined)).toEqual([true, true, false]);
    const listed = client({ resolve, propagate: ['.example.com'] });
    await (await listed.request(`http://api.stripe.example.com:${port}/`)).body.text();
    expect(c.seen.at(-1)?.header).toBeDefined();
    const fn = client({ resolve, propagate: (u) => u.hostname !== 'users.internal' });
    await (await fn.request(`http://users.internal:${port}/`)).body.text();
    expect(c.seen.at(-1)?.header).toBeUndefined();
    expect(() => createClient({ propagate: 'all' as never })).toThrow(/`propagate`/);
  });
});
