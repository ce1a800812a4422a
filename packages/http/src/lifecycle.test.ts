import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type HttpClient } from './index.js';
import type { Dispatch, Layer } from './layers/types.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const BIG = 8 * 1_048_576;

/** A server that answers `/fast`, `/big` (8 MiB) and never answers anything else. */
async function server(): Promise<{ url: string; server: http.Server }> {
  const s = http.createServer((req, res) => {
    if (req.url === '/fast') res.end('ok');
    if (req.url === '/big') res.end(Buffer.alloc(BIG, 1));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, server: s };
}

const connections = (s: http.Server) => new Promise<number>((r, j) => s.getConnections((e, n) => (e ? j(e) : r(n))));

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('HttpClient lifecycle', () => {
  it('close() waits for requests in flight, then closes every connection', async () => {
    const { url, server: s } = await server();
    const c = createClient({ deadlineMs: 0 });
    const res = await c.request(`${url}/fast`);
    const closing = c.close();
    await res.body.text();
    await closing;
    await until(async () => (await connections(s)) === 0);
    expect(await connections(s)).toBe(0);
    await expect(c.request(`${url}/fast`)).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
  });

  it('close({ deadlineMs }) destroys what is still in flight when the deadline passes', async () => {
    const { url, server: s } = await server();
    const c = createClient({ deadlineMs: 0, headersTimeoutMs: 0 });
    const hanging = c.request(`${url}/never`, { method: 'GET' });
    hanging.catch(() => {});
    await until(async () => (await connections(s)) === 1);
    await c.close({ deadlineMs: 20 });
    await expect(hanging).rejects.toMatchObject({ code: 'BW_ERR_CLOSED', details: { closedBy: 'close({ deadlineMs: 20 })' } });
    await until(async () => (await connections(s)) === 0);
    expect(await connections(s)).toBe(0);
  });

  it('destroy() ends requests in flight at once; asyncDispose closes', async () => {
    const { url, server: s } = await server();
    const c = createClient({ deadlineMs: 0, headersTimeoutMs: 0 });
    const hanging = c.request(`${url}/never`);
    hanging.catch(() => {});
    await until(async () => (await connections(s)) === 1);
    await c.destroy();
    await expect(hanging).rejects.toMatchObject({ code: 'BW_ERR_CLOSED', details: { attempts: 1 } });
    await c.destroy(); // again, and close() after it: the same promise, nothing left to do
    await c.close();
    await until(async () => (await connections(s)) === 0);
    expect(await connections(s)).toBe(0);

    const d = createClient();
    await (await d.request(`${url}/fast`)).body.text();
    await d[Symbol.asyncDispose]();
    await expect(d.request(`${url}/fast`)).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await expect(createClient().close({ deadlineMs: -1 })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION' });
  });
});

/** A server answering 503 with `Retry-After: 3` (the client then sleeps 3 s before its next attempt). */
async function unavailable(): Promise<{ url: string; server: http.Server; hits: () => number }> {
  let hits = 0;
  const s = http.createServer((_req, res) => {
    hits++;
    res.writeHead(503, { 'retry-after': '3' }).end();
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, server: s, hits: () => hits };
}

/** Settles within `ms`, or says it is still pending. */
const within = <T>(p: Promise<T>, ms: number): Promise<'settled' | 'pending'> => {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((r) => (timer = setTimeout(() => r('pending'), ms)));
  return Promise.race([p.then(() => 'settled' as const), late]).finally(() => clearTimeout(timer));
};

/** Timers of ours still active (the Timeout handles node reports as the process's resources). */
const activeTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

// A client with a layer of its own takes the composed path; the default list runs fused.
const PATHS = [
  ['fused', {}],
  ['composed', { layers: (d: Layer[]) => [{ role: 'mine', description: 'passes through', interceptor: (dispatch: Dispatch) => dispatch }, ...d] }],
] as const;

describe.each(PATHS)('HttpClient close() and a retry sleeping in its backoff (%s path)', (_path, extra) => {
  for (const [how, end] of [
    ['close({ deadlineMs: 0 })', (c: HttpClient) => c.close({ deadlineMs: 0 })],
    ['destroy()', (c: HttpClient) => c.destroy()],
  ] as const) {
    it(`${how} fails the sleeping request at once with BW_ERR_CLOSED and leaves no timer`, async () => {
      const { url, hits } = await unavailable();
      const before = activeTimers();
      const c = createClient({ deadlineMs: 0, ...extra });
      const pending = c.request(`${url}/x`);
      pending.catch(() => {});
      await until(async () => hits() === 1);
      await new Promise((r) => setTimeout(r, 100)); // the 503 drained, the backoff timer set
      const t0 = performance.now();
      await end(c);
      const err = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      const tookMs = performance.now() - t0;
      console.log(`${how}: request failed ${Math.round(tookMs)} ms after the close began; timers ${before} → ${activeTimers()}`);
      expect(err).toMatchObject({ code: 'BW_ERR_CLOSED', details: { attempts: 1 } });
      expect(tookMs).toBeLessThan(2_000); // the backoff was 3 s
      expect(activeTimers()).toBeLessThanOrEqual(before);
      expect(hits()).toBe(1);
    });
  }

  it('the close deadline cuts a request waiting for headers and a body nobody reads', async () => {
    const { url, server: s } = await server();
    const c = createClient({ deadlineMs: 0, headersTimeoutMs: 0, ...extra });
    const unread = await c.request(`${url}/big`);
    const hanging = c.request(`${url}/never`);
    hanging.catch(() => {});
    await until(async () => (await connections(s)) === 2);
    expect(await within(c.close({ deadlineMs: 50 }), 5_000)).toBe('settled');
    await expect(hanging).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await expect(unread.body.text()).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await until(async () => (await connections(s)) === 0);
    expect(await connections(s)).toBe(0);
  });

  it('close() without a deadline lets the sleeping retry be sent (healthy twin)', async () => {
    const { url, hits } = await unavailable();
    const c = createClient({ deadlineMs: 0, attempts: 2, ...extra });
    const pending = c.request(`${url}/x`);
    await until(async () => hits() === 1);
    await c.close();
    expect(hits()).toBe(2); // the retry went out during close()
    const res = await pending;
    expect(res.statusCode).toBe(503);
  });
});

describe('HttpClient close() options and limits', () => {
  it('rejects unknown or malformed close() options, naming the key, and stays open', async () => {
    const { url } = await server();
    const c = createClient();
    await expect(c.close({ deadLineMs: 0 } as never)).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'deadLineMs' } });
    const nul = c.close(null as never); // a rejected promise, not a throw
    await expect(nul).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION' });
    await expect(c.close({ deadlineMs: 1.5 })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'deadlineMs' } });
    expect((await (await c.request(`${url}/fast`)).body.text()) === 'ok').toBe(true);
    await c.close();
  });

  it('a later close() with a shorter deadline wins', async () => {
    const { url, server: s } = await server();
    const c = createClient({ deadlineMs: 0, headersTimeoutMs: 0 });
    const hanging = c.request(`${url}/never`);
    hanging.catch(() => {});
    await until(async () => (await connections(s)) === 1);
    const first = c.close();
    const second = c.close({ deadlineMs: 0 });
    expect(await within(second, 2_000)).toBe('settled');
    expect(await within(first, 2_000)).toBe('settled');
    await expect(hanging).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await until(async () => (await connections(s)) === 0);
    expect(await connections(s)).toBe(0);
  });

  it('close() gives up on a body nobody reads after closeTimeoutMs, then destroys it', async () => {
    const { url, server: s } = await server();
    const c = createClient({ closeTimeoutMs: 300 });
    const res = await c.request(`${url}/big`);
    const t0 = performance.now();
    expect(await within(c[Symbol.asyncDispose](), 5_000)).toBe('settled');
    console.log(`close() with an unread 8 MiB body resolved after ${Math.round(performance.now() - t0)} ms (closeTimeoutMs 300)`);
    await expect(res.body.text()).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await until(async () => (await connections(s)) === 0);
    expect(await connections(s)).toBe(0);
  });

  it('close() does not cut a large body read slowly but steadily within closeTimeoutMs (healthy twin)', async () => {
    const { url } = await server();
    const c = createClient({ closeTimeoutMs: 20_000 });
    const res = await c.request(`${url}/big`);
    let closed = false;
    const closing = c.close().then(() => (closed = true));
    let bytes = 0;
    let pauses = 0;
    for await (const chunk of res.body) {
      bytes += (chunk as Buffer).length;
      // A slow reader: a pause every 512 KiB (16 pauses, about 0.5 s in all).
      if (bytes >= (pauses + 1) * 524_288) {
        pauses++;
        expect(closed).toBe(false);
        await new Promise((r) => setTimeout(r, 30));
      }
    }
    await closing;
    console.log(`slow reader: ${bytes} bytes in ${pauses} pauses while close() waited`);
    expect(bytes).toBe(BIG);
  });
});
