import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from './index.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A server that answers `/fast` and never answers anything else. */
async function server(): Promise<{ url: string; server: http.Server }> {
  const s = http.createServer((req, res) => {
    if (req.url === '/fast') res.end('ok');
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
    await expect(hanging).rejects.toThrow();
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
    await expect(hanging).rejects.toThrow();
    await until(async () => (await connections(s)) === 0);
    expect(await connections(s)).toBe(0);

    const d = createClient();
    await (await d.request(`${url}/fast`)).body.text();
    await d[Symbol.asyncDispose]();
    await expect(d.request(`${url}/fast`)).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await expect(createClient().close({ deadlineMs: -1 })).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION' });
  });
});
