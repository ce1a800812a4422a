import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { BreakwaterError, classify } from '@breakwater/core';
import { createClient } from '@breakwater/http';
import { Agent, type Dispatcher, FormData, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/servers/process.js';

// Issue 13, "Bodies and retries": a retried attempt sends exactly the bytes the first attempt sent, or is
// not retried. The server reads each body in full, then resets the connection on the first attempt of
// each case; it records the length and SHA-256 of every attempt's body.

type Seen = { length: number; sha256: string; contentType: string | undefined };
const seen = new Map<string, Seen[]>();
let server: http.Server;
let base: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let length = 0;
    const resetAfter = Number(req.headers['x-reset-after'] ?? Number.NaN);
    let cut = false;
    req.on('data', (c: Buffer) => {
      if (cut) return;
      hash.update(c);
      length += c.length;
      // "Reset mid-body" cases: the first attempt is cut once this many bytes arrived.
      const id = String(req.headers['x-case']);
      if (length >= resetAfter && !seen.has(id)) {
        cut = true;
        seen.set(id, [{ length, sha256: 'cut', contentType: req.headers['content-type'] }]);
        req.socket.resetAndDestroy();
      }
    });
    req.on('end', () => {
      const id = String(req.headers['x-case']);
      const attempts = seen.get(id) ?? [];
      attempts.push({ length, sha256: hash.digest('hex'), contentType: req.headers['content-type'] });
      seen.set(id, attempts);
      // The first attempt of a "reset" case: the body was read, the answer is lost.
      if (req.headers['x-reset'] === '1' && attempts.length === 1) req.socket.resetAndDestroy();
      else res.end(String(length));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const BYTES = Buffer.from(Array.from({ length: 3_000 }, (_, i) => `line ${i};`).join(''));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chunks = () => [BYTES.subarray(0, 1_000), BYTES.subarray(1_000, 20_000), BYTES.subarray(20_000)];
const form = () => {
  const f = new FormData();
  f.append('name', 'breakwater');
  f.append('file', new Blob([BYTES], { type: 'text/plain' }), 'lines.txt');
  return f;
};

// Each body type, built fresh per call; `bytes` is what the server must see (undefined: multipart, checked by equality across attempts).
const BODIES: { type: string; make: () => unknown; bytes?: Buffer; fetchOnly?: boolean }[] = [
  { type: 'string', make: () => BYTES.toString(), bytes: BYTES },
  { type: 'Buffer', make: () => Buffer.from(BYTES), bytes: BYTES },
  { type: 'Uint8Array', make: () => new Uint8Array(BYTES), bytes: BYTES },
  { type: 'Readable', make: () => Readable.from(chunks()), bytes: BYTES },
  {
    type: 'async iterable',
    make: () =>
      (async function* () {
        for (const c of chunks()) {
          await sleep(1);
          yield c;
        }
      })(),
    bytes: BYTES,
  },
  { type: 'FormData', make: form },
  { type: 'Blob', make: () => new Blob([BYTES]), bytes: BYTES },
  // undici's request() itself rejects URLSearchParams (it iterates the pairs): fetch only.
  { type: 'URLSearchParams', make: () => new URLSearchParams({ q: BYTES.toString().slice(0, 5_000) }), fetchOnly: true },
  {
    type: 'web ReadableStream',
    make: () => {
      const parts = chunks();
      return new ReadableStream({
        pull(c) {
          const next = parts.shift();
          if (next === undefined) c.close();
          else c.enqueue(new Uint8Array(next));
        },
      });
    },
    bytes: BYTES,
  },
];

// The resets are deliberate: no breaker, a budget that never runs out.
const client = createClient({ baseDelayMs: 1, maxDelayMs: 5, retryBudget: { minPerSecond: 1_000 }, circuit: false });
afterAll(() => client.close());

async function send(api: 'request' | 'fetch', id: string, body: unknown, reset: boolean, c = client): Promise<number> {
  const headers = { 'x-case': id, 'x-reset': reset ? '1' : '0' };
  if (api === 'request') {
    const r = await c.request(`${base}/put`, { method: 'PUT', headers, body: body as string });
    await r.body.text();
    return r.statusCode;
  }
  const r = await c.fetch(`${base}/put`, { method: 'PUT', headers, body: body as string, duplex: 'half' });
  await r.text();
  return r.status;
}

describe('issue 13: a retried PUT sends the same bytes, whatever the body type', () => {
  for (const api of ['request', 'fetch'] as const) {
    for (const b of BODIES) {
      if (b.fetchOnly === true && api === 'request') continue;
      it(`${api}() with a ${b.type} body: the reset first attempt is retried with identical bytes`, async () => {
        const id = `${api}-${b.type}`;
        expect(await send(api, id, b.make(), true)).toBe(200);
        const attempts = seen.get(id)!;
        expect(attempts).toHaveLength(2);
        expect(attempts[0]!.length).toBeGreaterThan(0);
        expect(attempts[1]).toEqual(attempts[0]);
        if (b.bytes !== undefined) expect(attempts[0]).toMatchObject({ length: b.bytes.length, sha256: sha(b.bytes) });
      });
    }
  }

  it('naive: re-dispatching the same options after the reset sends a Readable body empty (what the old retry layer did)', async () => {
    const naiveRetry: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
      let tries = 0;
      const attempt = (): boolean =>
        dispatch(opts, {
          ...handler,
          onRequestStart: (c, ctx) => handler.onRequestStart?.(c, ctx),
          onResponseStart: (c, s, h, m) => handler.onResponseStart?.(c, s, h, m),
          onResponseData: (c, d) => handler.onResponseData?.(c, d),
          onResponseEnd: (c, t) => handler.onResponseEnd?.(c, t),
          onResponseError: (c, e) => (++tries < 2 ? attempt() : handler.onResponseError?.(c, e)),
        });
      return attempt();
    };
    const agent = new Agent();
    try {
      const r = await undiciRequest(`${base}/put`, {
        method: 'PUT',
        headers: { 'x-case': 'naive', 'x-reset': '1' },
        body: Readable.from(chunks()),
        dispatcher: agent.compose(naiveRetry),
      }).catch((e: unknown) => e);
      const attempts = seen.get('naive')!;
      console.log(
        `[issue-13] naive resend of a Readable body: server saw ${attempts.map((a) => `${a.length} B`).join(', then ')}; caller got ${r instanceof Error ? r.message : (r as { statusCode: number }).statusCode}`,
      );
      expect(attempts[0]!.length).toBe(BYTES.length);
      // The second attempt went out with a short (empty) body and the caller got a 200: silent corruption.
      expect(attempts[1]!.length).toBeLessThan(BYTES.length);
      expect(r).toMatchObject({ statusCode: 200 });
    } finally {
      await agent.close();
    }
  });

  it('a one-shot body larger than maxReplayBodyBytes is not retried once sent, and the error says why', async () => {
    const small = createClient({ baseDelayMs: 1, maxDelayMs: 5, maxReplayBodyBytes: 1_024, retryBudget: { minPerSecond: 1_000 }, circuit: false });
    try {
      for (const api of ['request', 'fetch'] as const) {
        const id = `too-large-${api}`;
        const err = await send(api, id, Readable.from(chunks()), true, small).catch((e: unknown) => e);
        const bw = (api === 'fetch' ? (err as Error).cause : err) as BreakwaterError;
        expect(bw).toBeInstanceOf(BreakwaterError);
        expect(bw.retryable).toBe(false);
        expect(bw.details).toMatchObject({ notRetried: 'body-not-replayable', maxReplayBodyBytes: 1_024, attempts: 1 });
        expect(bw.hint).toMatch(/maxReplayBodyBytes/);
        expect(seen.get(id)).toHaveLength(1);
      }
    } finally {
      await small.close();
    }
  });
});

describe('issue 13: a retry while the first attempt still waits on a slow one-shot body', () => {
  // Regression (hostile review): the retry's attempt and the reset attempt's pending read both pulled
  // from the source; one chunk was lost, the next sent twice, and the caller got 200.
  for (const api of ['request', 'fetch'] as const) {
    it(`${api}(): the server cuts a slowly produced PUT mid-body; the retry sends exactly the produced bytes`, async () => {
      const id = `mid-body-${api}`;
      const parts = Array.from({ length: 12 }, (_, i) => Buffer.from(`part-${String(i).padStart(2, '0')}|`));
      const body = (async function* () {
        for (const p of parts) {
          await sleep(15);
          yield p;
        }
      })();
      const headers = { 'x-case': id, 'x-reset-after': '30' };
      const c = createClient({ baseDelayMs: 0, maxDelayMs: 0, retryBudget: { minPerSecond: 1_000 }, circuit: false });
      try {
        let status: number;
        if (api === 'request') {
          const r = await c.request(`${base}/put`, { method: 'PUT', headers, body: body as unknown as Readable });
          await r.body.text();
          status = r.statusCode;
        } else {
          const r = await c.fetch(`${base}/put`, { method: 'PUT', headers, body: body as unknown as ReadableStream, duplex: 'half' });
          await r.text();
          status = r.status;
        }
        expect(status).toBe(200);
      } finally {
        await c.close();
      }
      const all = Buffer.concat(parts);
      const attempts = seen.get(id)!;
      expect(attempts).toHaveLength(2);
      expect(attempts[0]!.length).toBeLessThan(all.length);
      expect(attempts[1]).toMatchObject({ length: all.length, sha256: sha(all) });
    });
  }
});

describe('issue 13: a POST is never retried, and a lost one says its outcome is unknown', () => {
  // Hostile review: a POST whose connection was reset after the server read it was (rightly) not
  // retried, but the error said `retryable: true`, inviting the caller to send it again: a duplicate write.
  it('POST/PATCH reset after the server read them: one attempt, retryable false, details.outcome unknown; never sent: retryable', async () => {
    for (const method of ['POST', 'PATCH']) {
      const id = `lost-${method}`;
      const err = (await client
        .request(`${base}/orders`, { method, headers: { 'x-case': id, 'x-reset': '1' }, body: '{"order":1}' })
        .catch((e: unknown) => e)) as BreakwaterError;
      expect(err).toBeInstanceOf(BreakwaterError);
      expect(seen.get(id)).toHaveLength(1);
      expect(err, method).toMatchObject({ retryable: false, details: { outcome: 'unknown', attempts: 1 } });
      expect(err.hint).toMatch(/may or may not have applied it/);
      // The naive reading: the same cause, classified alone, says "retry me".
      expect(classify(err.cause).retryable).toBe(true);
    }
    // Refused: nothing reached a server, a retry by the caller is safe.
    const refused = (await client.request(`http://127.0.0.1:${await freePort()}/`, { method: 'POST', body: 'x' }).catch((e: unknown) => e)) as BreakwaterError;
    expect(refused).toMatchObject({ code: 'BW_ERR_CONNECT_REFUSED', retryable: true });
    expect(refused.details.outcome).toBeUndefined();
  });
});

describe('issue 13: a one-shot body the server never reads to its end', () => {
  // Hostile review: an early answer (413) ended the request while the recorder still held the source
  // open; an fs stream kept its file descriptor for ever. undici alone destroys it; so must we.
  it('an fs stream body answered early with 413 is destroyed, through request() and fetch(), as with a plain Agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bw-early-'));
    const file = join(dir, 'upload.bin');
    writeFileSync(file, Buffer.alloc(4 * 1024 * 1024, 1));
    const early = http.createServer((_req, res) => res.writeHead(413, { connection: 'close' }).end('too large'));
    await new Promise<void>((r) => early.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(early.address() as AddressInfo).port}/`;
    const agent = new Agent();
    const c = createClient();
    try {
      const upload = async (api: 'request' | 'fetch' | 'plain') => {
        const stream = createReadStream(file, { highWaterMark: 16 * 1024 });
        let status: number;
        if (api === 'fetch') {
          const r = await c.fetch(url, { method: 'PUT', body: stream as unknown as ReadableStream, duplex: 'half' });
          await r.text();
          status = r.status;
        } else {
          const r = await (api === 'plain'
            ? undiciRequest(url, { method: 'PUT', body: stream, dispatcher: agent })
            : c.request(url, { method: 'PUT', body: stream }));
          await r.body.text();
          status = r.statusCode;
        }
        for (let i = 0; i < 100 && !stream.destroyed; i++) await sleep(10);
        return { status, destroyed: stream.destroyed, bytesRead: stream.bytesRead };
      };
      const plain = await upload('plain');
      expect(plain).toMatchObject({ status: 413, destroyed: true });
      for (const api of ['request', 'fetch'] as const) {
        const r = await upload(api);
        expect(r, api).toMatchObject({ status: 413, destroyed: true });
        expect(r.bytesRead, api).toBeLessThan(4 * 1024 * 1024);
      }
    } finally {
      await c.close();
      await agent.close();
      early.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('issue 13, healthy twins: uploads that succeed first time are sent once, in full', () => {
  it('a 10 MB Buffer upload through request() and fetch()', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 7);
    for (const api of ['request', 'fetch'] as const) {
      const id = `big-${api}`;
      expect(await send(api, id, big, false)).toBe(200);
      expect(seen.get(id)).toEqual([{ length: big.length, sha256: sha(big), contentType: undefined }]);
    }
  });

  it('a streamed PUT (10 MB in 64 KiB chunks, produced over time) goes out as it is produced', async () => {
    const total = 10 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 3);
    for (const api of ['request', 'fetch'] as const) {
      const id = `stream-${api}`;
      const started = performance.now();
      const body = (async function* () {
        for (let sent = 0; sent < total; sent += chunk.length) {
          if (sent % (1024 * 1024) === 0) await sleep(5);
          yield chunk;
        }
      })();
      expect(await send(api, id, body, false)).toBe(200);
      expect(seen.get(id)).toHaveLength(1);
      expect(seen.get(id)![0]!.length).toBe(total);
      expect(performance.now() - started).toBeLessThan(20_000);
    }
  });
});
