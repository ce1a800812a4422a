import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { hardenedConnectors } from './connector.js';
import { createClient } from './createClient.js';
import { kAddress } from './internal/symbols.js';
import type { Handler } from './layers/types.js';
import { OriginPools } from './OriginPools.js';

// Review of issue #16 (OriginPools in place of undici's Agent), on real loopback sockets: what the Agent
// did that the pools must still do, and the LRU cap under requests that are running or queued.
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An HTTP server answering with its Host header; `/hold` answers when `release()` is called. */
async function server(host = '127.0.0.1') {
  const held: (() => void)[] = [];
  const srv = http.createServer((req, res) => {
    if (req.url === '/hold') held.push(() => res.end(req.headers.host));
    else res.end(req.headers.host);
  });
  await new Promise<void>((r) => srv.listen(0, host, r));
  cleanups.push(
    () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(r);
      }),
  );
  const release = () => {
    for (const f of held.splice(0)) f();
  };
  return { port: (srv.address() as AddressInfo).port, release, held };
}

function pools(maxPools: number, connections = 4) {
  const p = new OriginPools({ pool: { connections, keepAliveTimeout: 60_000 }, connectorFor: hardenedConnectors({}), maxPools });
  cleanups.push(() => p.close());
  return p;
}

/** A handler that resolves with the status (or the error) of one raw dispatch. */
function raw(): { handler: Handler; done: Promise<number | Error> } {
  let settle!: (v: number | Error) => void;
  const done = new Promise<number | Error>((r) => (settle = r));
  let status = 0;
  const handler: Handler = {
    onRequestStart: () => {},
    onResponseStart: (_c, s) => {
      status = s;
    },
    onResponseData: () => {},
    onResponseEnd: () => settle(status),
    onResponseError: (_c, err) => settle(err),
  };
  return { handler, done };
}

/** Dispatches two held requests on one connection (the second waits behind the first); counts 'drain'. */
async function drains(dispatcher: Dispatcher, origin: string, release: () => void, held: unknown[]) {
  let drained = 0;
  dispatcher.on('drain', () => drained++);
  const a = raw();
  const b = raw();
  const accepted = [
    dispatcher.dispatch({ origin, path: '/hold', method: 'GET' }, a.handler),
    dispatcher.dispatch({ origin, path: '/hold', method: 'GET' }, b.handler),
  ];
  await expect.poll(() => held.length).toBe(1);
  release();
  await expect.poll(() => held.length).toBe(1);
  release();
  expect(await Promise.all([a.done, b.done])).toEqual([200, 200]);
  return { accepted, drained: () => drained };
}

describe('OriginPools (review of issue #16)', () => {
  it("forwards a pool's 'drain' as undici's Agent does: a caller told to wait (dispatch() false) is woken", async () => {
    const { port, release, held } = await server();
    const agent = new Agent({ connections: 1 });
    cleanups.push(() => agent.close());
    const naive = await drains(agent, `http://127.0.0.1:${port}`, release, held);
    expect(naive.accepted).toContain(false);
    await expect.poll(naive.drained).toBeGreaterThan(0);

    const ours = await drains(pools(10, 1), `http://127.0.0.1:${port}`, release, held);
    expect(ours.accepted).toContain(false);
    await expect.poll(ours.drained).toBeGreaterThan(0);
  });

  it("keeps the Agent's `stats` (per origin), `closed` and `destroyed` on client.dispatcher", async () => {
    const { port } = await server();
    const origin = `http://svc.test:${port}`;
    // Two addresses, both on the loopback the server listens on: a pool per address, one origin in `stats`.
    const c = createClient({
      attempts: 1,
      resolve: async () => [
        { address: '127.0.0.1', family: 4, ttlMs: 60_000 },
        { address: '::ffff:127.0.0.1', family: 6, ttlMs: 60_000 },
      ],
    });
    cleanups.push(() => c.close());
    for (let i = 0; i < 6; i++) expect(await (await c.request(`${origin}/`)).body.text()).toBe(`svc.test:${port}`);
    const d = c.dispatcher as unknown as { stats: Record<string, Record<string, number>>; closed: boolean; destroyed: boolean };
    expect(Object.keys(d.stats)).toEqual([origin]);
    expect(d.stats[origin]).toMatchObject({ pending: 0, running: 0, size: 0 });
    expect(d.stats[origin]!.connected).toBeGreaterThanOrEqual(1);
    expect(d.closed).toBe(false);
    await c.close();
    expect(d.closed).toBe(true);
    expect(d.destroyed).toBe(false);
  });

  // First contact with a name goes through the connect step's lookup. Node's dns.lookup gives net every
  // address (happy eyeballs falls back to the next one); the Resolver's lookup must too, the chosen one first.
  it('a name on ::1 and 127.0.0.1 with only 127.0.0.1 listening: the first connection falls back to the live address', async () => {
    const { port } = await server('127.0.0.1');
    const dual = async () => [
      { address: '::1', family: 6 as const, ttlMs: 60_000 },
      { address: '127.0.0.1', family: 4 as const, ttlMs: 60_000 },
    ];
    // Without the balancer, the dns layer's first choice is the first address: ::1, closed. A POST, one attempt.
    const c = createClient({ attempts: 1, resolve: dual, layers: (d) => d.filter((l) => l.role !== 'balance') });
    cleanups.push(() => c.close());
    const res = await c.request(`http://dual.test:${port}/`, { method: 'POST', body: 'x' });
    expect(await res.body.text()).toBe(`dual.test:${port}`);
  });

  // The pinned pools take an address's family from the address; the first connection, resolved in the
  // connect step, must too: a custom `resolve` that mislabels it failed that one request (EINVAL).
  it("a custom resolve's wrong family does not fail the first connection (the family is the address's)", async () => {
    const { port } = await server('127.0.0.1');
    const c = createClient({ attempts: 1, resolve: async () => [{ address: '127.0.0.1', family: 6, ttlMs: 60_000 }] });
    cleanups.push(() => c.close());
    for (let i = 0; i < 2; i++) expect(await (await c.request(`http://mislabelled.test:${port}/`)).body.text()).toBe(`mislabelled.test:${port}`);
  });

  it('past the cap, a pool with a request running and one queued is never closed; both complete', async () => {
    const { port, release, held } = await server();
    const p = pools(1, 1);
    const pin = { [kAddress]: '127.0.0.1' };
    const origin = (n: string) => `http://${n}.test:${port}`;
    const a = [raw(), raw()];
    for (const r of a) p.dispatch({ origin: origin('a'), path: '/hold', method: 'GET', ...pin } as never, r.handler);
    await expect.poll(() => held.length).toBe(1);
    // Two new origins while `a` runs one request and queues the other: `a` stays (over the cap), `b` goes for `c`.
    for (const n of ['b', 'c'])
      expect(await (await p.request({ origin: origin(n), path: '/', method: 'GET', ...pin } as never)).body.text()).toBe(`${n}.test:${port}`);
    expect(p.size).toBe(2);
    release();
    await expect.poll(() => held.length).toBe(1);
    release();
    expect(await Promise.all(a.map((r) => r.done))).toEqual([200, 200]);
    // Idle now: the next new origin brings the pools back under the cap.
    await (await p.request({ origin: origin('d'), path: '/', method: 'GET', ...pin } as never)).body.text();
    expect(p.size).toBe(1);
  });

  it('close() lets a running request finish; destroy() fails one with an error; both refuse later requests', async () => {
    const { port, release, held } = await server();
    const origin = `http://127.0.0.1:${port}`;
    const closing = pools(10);
    const running = raw();
    closing.dispatch({ origin, path: '/hold', method: 'GET' }, running.handler);
    await expect.poll(() => held.length).toBe(1);
    let closed = false;
    const done = closing.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    release();
    expect(await running.done).toBe(200);
    await done;
    const late = raw();
    expect(closing.dispatch({ origin, path: '/', method: 'GET' }, late.handler)).toBe(false);
    expect(await late.done).toMatchObject({ code: 'UND_ERR_CLOSED' });

    const destroying = pools(10);
    const failed = raw();
    destroying.dispatch({ origin, path: '/hold', method: 'GET' }, failed.handler);
    await expect.poll(() => held.length).toBe(1);
    await destroying.destroy();
    expect(await failed.done).toMatchObject({ code: 'UND_ERR_DESTROYED' });
    expect(destroying.destroyed).toBe(true);
  });

  it.each([0, -1, 1.5, 1e12])('maxOrigins %s is a typed BW_ERR_INVALID_OPTION', (maxOrigins) => {
    expect(() => createClient({ maxOrigins })).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION' }));
  });
});
