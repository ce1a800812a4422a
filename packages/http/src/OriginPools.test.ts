import type http from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenHttp } from '../../../test/support/httpServer.js';
import { hardenedConnectors } from './connector.js';
import { kAddress, kResolution } from './internal/symbols.js';
import { OriginPools } from './OriginPools.js';
import { Resolver } from './Resolver.js';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server on 127.0.0.1 answering with the Host header it got; `/hold` keeps a response open until released. */
async function server() {
  const sockets = new Set<Socket>();
  const held: (() => void)[] = [];
  const handler: http.RequestListener = (req, res) => {
    if (req.url === '/hold') held.push(() => res.end(req.headers.host));
    else res.end(req.headers.host);
  };
  const port = await listenHttp(handler, cleanups, (srv) => {
    srv.keepAliveTimeout = 60_000;
    srv.on('connection', (s: Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
  });
  const release = () => {
    for (const f of held.splice(0)) f();
  };
  return { port, sockets, release };
}

function pools(maxPools: number) {
  const p = new OriginPools({ pool: { connections: 4, keepAliveTimeout: 60_000 }, connectorFor: hardenedConnectors({}), maxPools });
  cleanups.push(() => p.close());
  return p;
}

const get = async (p: OriginPools, origin: string, path = '/', extra: Record<symbol, unknown> = {}) => {
  const res = await p.request({ origin, path, method: 'GET', ...extra });
  return res.body.text();
};

describe('OriginPools', () => {
  it('keeps the name as the origin (Host) while connecting to the pinned address', async () => {
    const { port } = await server();
    const p = pools(10);
    expect(await get(p, `http://svc.test:${port}`, '/', { [kAddress]: '127.0.0.1' })).toBe(`svc.test:${port}`);
  });

  it('resolves a name in the connect step through the Resolver, once per cached answer', async () => {
    const { port } = await server();
    const asked: string[] = [];
    const resolver = new Resolver({
      maxTtlMs: 60_000,
      negativeTtlMs: 1_000,
      staleMs: 0,
      resolve: async (name) => {
        asked.push(name);
        return [{ address: '127.0.0.1', family: 4, ttlMs: 60_000 }];
      },
    });
    const p = pools(10);
    const resolution = { resolver, choose: (_h: string, _p: string, a: readonly { address: string; family: 4 | 6; ttlMs: number }[]) => a[0]! };
    expect(await get(p, `http://api.test:${port}`, '/', { [kResolution]: resolution })).toBe(`api.test:${port}`);
    expect(asked).toEqual(['api.test']);
    expect(resolver.peek('api.test')?.map((a) => a.address)).toEqual(['127.0.0.1']);
  });

  it('closes the least recently used idle pool past maxPools, never a busy one', async () => {
    const { port, sockets, release } = await server();
    const p = pools(2);
    const origin = (n: string) => `http://${n}.test:${port}`;
    const pin = { [kAddress]: '127.0.0.1' };
    await get(p, origin('a'), '/', pin);
    await get(p, origin('b'), '/', pin);
    // `a` is the least recently used once `b` was used after it; `c` makes three: `a` goes.
    await get(p, origin('c'), '/', pin);
    expect(p.size).toBe(2);
    await expect.poll(() => sockets.size).toBe(2);
    // `d` and `e` replace `b` and `c`, then stay busy: `f` cannot close either, so the cap is exceeded until they are idle.
    const held = [get(p, origin('d'), '/hold', pin), get(p, origin('e'), '/hold', pin)];
    expect(p.size).toBe(2);
    const f = await get(p, origin('f'), '/', pin);
    expect(f).toBe(`f.test:${port}`);
    expect(p.size).toBe(3);
    expect(sockets.size).toBe(3);
    release();
    expect(await Promise.all(held)).toEqual([`d.test:${port}`, `e.test:${port}`]);
    await get(p, origin('g'), '/', pin);
    expect(p.size).toBe(2);
    await expect.poll(() => sockets.size).toBe(2);
  });

  it('a pool dropped after its connections closed is replaced, even for the origin of the last request', async () => {
    const { port, sockets } = await server();
    const p = pools(10);
    const origin = `http://a.test:${port}`;
    const pin = { [kAddress]: '127.0.0.1' };
    expect(await get(p, origin, '/', pin)).toBe(`a.test:${port}`);
    expect(await get(p, origin, '/', pin)).toBe(`a.test:${port}`);
    expect(p.size).toBe(1);
    // The server closes the idle connection: the pool, now unconnected, is dropped (as undici's Agent does).
    for (const s of sockets) s.destroy();
    await expect.poll(() => p.size).toBe(0);
    // The same origin and address as the last dispatch: a new pool, not the closed one.
    expect(await get(p, origin, '/', pin)).toBe(`a.test:${port}`);
    expect(p.size).toBe(1);
  });

  it('refuses requests after close()', async () => {
    const p = pools(2);
    await p.close();
    await expect(get(p, 'http://a.test:1')).rejects.toMatchObject({ code: 'UND_ERR_CLOSED' });
  });
});
