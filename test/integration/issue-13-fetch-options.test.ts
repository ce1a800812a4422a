import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@breakwater/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Issue 13, per-request overrides for streams, through client.fetch() (hostile review). undici's fetch
// builds its own dispatch options and drops unknown init keys, so `deadlineMs: 0` for an event stream,
// a per-request `headersTimeoutMs` and their validation were silently ignored by fetch(): a stream was
// cut at the client's deadline whatever the caller asked for, and `deadlineMs: -1` was sent.

let server: http.Server;
let base: string;
const hits = new Map<string, number>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = String(req.url);
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path.startsWith('/events')) {
      // Five events 400 ms apart: 1.6 s in all, longer than the client's 1 s deadline.
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(`data: ${++sent}\n\n`);
        if (sent === 5) {
          clearInterval(timer);
          res.end();
        }
      }, 400);
      req.on('close', () => clearInterval(timer));
      return;
    }
    const timer = setTimeout(() => res.end('late'), 1_500);
    req.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const client = createClient({ deadlineMs: 1_000, baseDelayMs: 1, maxDelayMs: 2 });
afterAll(() => client.close());

async function outcome(p: Promise<Response | import('undici').Response>) {
  const started = performance.now();
  try {
    const r = await p;
    return { status: r.status, body: await r.text(), ms: performance.now() - started };
  } catch (e) {
    const cause = (e as Error).cause as { code?: string; message?: string } | undefined;
    return { error: (e as Error).name, code: cause?.code, message: cause?.message, ms: performance.now() - started };
  }
}

describe('issue 13: client.fetch() honours per-request deadlineMs / headersTimeoutMs / bodyTimeoutMs', () => {
  it('deadlineMs: 0 keeps an event stream longer than the client deadline; without it the stream is cut (the naive side)', async () => {
    const [kept, cut] = await Promise.all([outcome(client.fetch(`${base}/events?kept`, { deadlineMs: 0 })), outcome(client.fetch(`${base}/events?cut`))]);
    expect(kept).toMatchObject({ status: 200 });
    expect(kept.body?.match(/data: \d/g)).toHaveLength(5);
    expect(cut).toMatchObject({ error: 'TypeError', code: 'BW_ERR_DEADLINE' });
    console.log(`[issue-13] fetch() event stream 1.6 s, client deadline 1 s: deadlineMs 0 → 5 events; default → ${cut.code} after ${cut.ms.toFixed(0)} ms`);
  });

  it('a shorter per-request deadline and headers timeout apply to fetch(); a slow answer is sent once', async () => {
    const [deadline, headers] = await Promise.all([
      outcome(client.fetch(`${base}/slow?d`, { deadlineMs: 300 })),
      outcome(client.fetch(`${base}/slow?h`, { headersTimeoutMs: 200, deadlineMs: 10_000 })),
    ]);
    expect(deadline).toMatchObject({ error: 'TypeError', code: 'BW_ERR_DEADLINE' });
    expect(deadline.ms).toBeLessThan(900);
    // undici's headers timer ticks at 500 ms or so: well before the 1.5 s answer, never after it.
    expect(headers).toMatchObject({ error: 'TypeError', code: 'BW_ERR_HEADERS_TIMEOUT' });
    expect(headers.ms).toBeLessThan(1_450);
    expect(hits.get('/slow?d')).toBe(1);
    expect(hits.get('/slow?h')).toBe(1);
  });

  it('invalid per-request values reject with BW_ERR_INVALID_OPTION naming the option, and nothing is sent', async () => {
    for (const key of ['deadlineMs', 'headersTimeoutMs', 'bodyTimeoutMs'] as const) {
      for (const value of [-1, Number.NaN, '5', Number.POSITIVE_INFINITY, 2 ** 31]) {
        const r = await outcome(client.fetch(`${base}/slow?invalid`, { [key]: value as number }));
        expect(r, `${key}=${String(value)}`).toMatchObject({ error: 'TypeError', code: 'BW_ERR_INVALID_OPTION' });
        expect(r.message).toContain(`\`${key}\``);
      }
    }
    expect(hits.get('/slow?invalid')).toBeUndefined();
  });
});
