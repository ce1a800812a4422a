import { afterAll, describe, expect, it } from 'vitest';
import { createClient, type HttpClient } from '../../packages/http/src/index.js';
import { listenHttp } from '../support/httpServer.js';

// Issue 13, slow but healthy servers over real sockets on loopback. Before the fix a server that needed
// 12 s before its headers failed createClient().request() with BW_ERR_DEADLINE after 30 s: the socket
// stall watchdog (10 s) fired while the request only waited, the GET went out three times, and the error
// blamed a PMTU black hole. Now the watchdog guards only our unacknowledged bytes (TCP_INFO) and waiting
// is bounded by the deadline and `headersTimeoutMs`. Every scenario runs at once: ~37 s in all.

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server that thinks `delayMs` before answering; counts the requests it got. */
async function slowServer(delayMs: number): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const port = await listenHttp((req, res) => {
    hits++;
    const timer = setTimeout(() => res.end(`answered after ${delayMs} ms`), delayMs);
    req.on('close', () => clearTimeout(timer));
  }, cleanups);
  return { url: `http://127.0.0.1:${port}/report`, hits: () => hits };
}

/** Server-sent events with `gapMs` of silence between `events` events. */
async function sseServer(gapMs: number, events: number): Promise<string> {
  const port = await listenHttp((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let sent = 0;
    const send = () => {
      res.write(`data: event ${++sent}\n\n`);
      if (sent === events) res.end();
      else timer = setTimeout(send, gapMs);
    };
    let timer = setTimeout(send, 0);
    req.on('close', () => clearTimeout(timer));
  }, cleanups);
  return `http://127.0.0.1:${port}/events`;
}

function client(options?: Parameters<typeof createClient>[0]): HttpClient {
  const c = createClient(options);
  cleanups.push(() => c.close());
  return c;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: { code?: string; hint?: string; details?: Record<string, unknown> } }> {
  const started = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error: error as { code?: string } };
  }
}

const text = async (c: HttpClient, url: string, options?: Parameters<HttpClient['request']>[1]) => {
  const res = await c.request(url, options);
  return { status: res.statusCode, body: await res.body.text() };
};

describe('issue 13: a slow server is not a dead one', () => {
  it('12 s and 25 s servers succeed with createClient() defaults; SSE with 12 s gaps streams; the old rule fails', { timeout: 80_000 }, async () => {
    const [s12, s25, s12b, s12c] = await Promise.all([slowServer(12_000), slowServer(25_000), slowServer(12_000), slowServer(12_000)]);
    const events = await sseServer(12_000, 4);
    const defaults = client();
    const noKoffi = client({ socket: { native: false } });
    // The old rule, as a user can still ask for it: every write owes a response within the stall timeout.
    const oldRule = client({ attempts: 1, socket: { expectResponseAfterWrite: true } });

    const [r12, r25, r25NoKoffi, sse, sseDefaultDeadline, headersTimeout, old] = await Promise.all([
      timed(() => text(defaults, s12.url)),
      timed(() => text(defaults, s25.url)),
      timed(() => text(noKoffi, s25.url)),
      // A stream: no total deadline, gaps bounded by the body timeout (30 s by default).
      timed(() => text(defaults, events, { deadlineMs: 0 })),
      // The same stream under the default 30 s deadline: cut, and the error says it was reading a body.
      timed(() => text(defaults, events)),
      // A caller that will not wait 12 s: headers timeout, not retried (one hit), the hint does not blame PMTU alone.
      timed(() => text(defaults, s12b.url, { headersTimeoutMs: 3_000 })),
      timed(() => text(oldRule, s12c.url)),
    ]);

    expect(r12.error).toBeUndefined();
    expect(r12.value).toEqual({ status: 200, body: 'answered after 12000 ms' });
    expect(r12.ms).toBeGreaterThanOrEqual(11_900);
    expect(r25.error).toBeUndefined();
    expect(r25.value?.status).toBe(200);
    expect(r25NoKoffi.error, 'without TCP_INFO the watchdog must not fire while we only wait').toBeUndefined();
    // Each slow server got its request once: waiting is not a reason to send it again.
    expect(s12.hits()).toBe(1);
    expect(s25.hits()).toBe(2); // one from `defaults`, one from `noKoffi`

    expect(sse.error).toBeUndefined();
    expect(sse.value?.body.match(/data: event \d/g)).toHaveLength(4);
    expect(sse.ms).toBeGreaterThanOrEqual(35_000);
    expect(sseDefaultDeadline.error).toMatchObject({ code: 'BW_ERR_DEADLINE', details: { waitingFor: 'body' } });
    expect(sseDefaultDeadline.error?.hint).toMatch(/deadlineMs: 0/);

    expect(headersTimeout.error).toMatchObject({ code: 'BW_ERR_HEADERS_TIMEOUT', retryable: false, details: { attempts: 1 } });
    expect(headersTimeout.error?.hint).toMatch(/slow or frozen.*lost on the way \(PMTU/);
    expect(headersTimeout.ms).toBeLessThan(4_500);
    expect(s12b.hits()).toBe(1);

    // The naive side: the old watchdog rule kills a healthy 12 s answer at the 10 s stall timeout.
    expect(old.error).toMatchObject({ code: 'BW_ERR_STALLED', details: { observed: 'awaitingBytes' } });
    expect(old.ms).toBeGreaterThanOrEqual(9_900);
    expect(old.ms).toBeLessThan(12_000);

    console.log(
      `[issue-13] 12 s server: 200 in ${(r12.ms / 1000).toFixed(1)} s; 25 s server: 200 in ${(r25.ms / 1000).toFixed(1)} s ` +
        `(without koffi ${(r25NoKoffi.ms / 1000).toFixed(1)} s); SSE 4 events 12 s apart: ${(sse.ms / 1000).toFixed(1)} s with deadlineMs 0, ` +
        `${sseDefaultDeadline.error?.code} after ${(sseDefaultDeadline.ms / 1000).toFixed(1)} s with the default deadline; headersTimeoutMs 3 s: ` +
        `${headersTimeout.error?.code} after ${(headersTimeout.ms / 1000).toFixed(1)} s, 1 hit; old rule: ${old.error?.code} after ${(old.ms / 1000).toFixed(1)} s`,
    );
  });
});
