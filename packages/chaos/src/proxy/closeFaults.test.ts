import { once } from 'node:events';
import http from 'node:http';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { nextEvent, sleep, useProxyHarness } from '../../test/proxyHarness.js';
import { createFaultProxy } from './FaultProxy.js';

// Faults that close, reset or half-close connections, on real sockets on
// 127.0.0.1:0. Timing bounds are the fault's own (lower bounds with a few ms
// of timer slack; upper bounds generous), never speed claims.
const { cleanups, setup, waitUntil } = useProxyHarness({ waitMs: 3_000, pollMs: 2 });

async function exchange(client: net.Socket, message: string): Promise<string> {
  const event = nextEvent(client);
  client.write(message);
  return event;
}

describe('reset', () => {
  it('resets the client (ECONNRESET) and closes the upstream, after afterMs', async () => {
    const { client, server } = await setup([{ type: 'reset', afterMs: 150 }]);
    const started = performance.now();
    expect(await exchange(client, 'early')).toBe('data:early');
    await waitUntil(() => server.sockets.length === 1);
    // Not events.once(): it would reject on the server's own ECONNRESET.
    const serverClosed = new Promise((resolve) => server.sockets[0]!.once('close', resolve));
    expect(await nextEvent(client)).toBe('error:ECONNRESET');
    expect(performance.now() - started).toBeGreaterThanOrEqual(148);
    await serverClosed;
  });

  it('resets at once when added to a live connection', async () => {
    const { client, proxy } = await setup([]);
    expect(await exchange(client, 'a')).toBe('data:a');
    const event = nextEvent(client);
    proxy.addFault({ type: 'reset' });
    expect(await event).toBe('error:ECONNRESET');
    await waitUntil(() => proxy.connections === 0);
  });

  it('forwards afterBytes bytes, then resets', async () => {
    const { client, server } = await setup([{ type: 'reset', afterBytes: 10, direction: 'upstream' }]);
    expect(await exchange(client, '12345')).toBe('data:12345');
    client.write('67890abcdef');
    expect(await nextEvent(client)).toBe('error:ECONNRESET');
    await waitUntil(() => server.sockets[0]!.destroyed);
    expect(Buffer.concat(server.received).toString()).toBe('1234567890');
  });
});

describe('halfClose', () => {
  it('sends a FIN to the client but keeps forwarding what the client sends', async () => {
    const { client, server } = await setup([{ type: 'halfClose', afterMs: 100 }], undefined, { allowHalfOpen: true });
    expect(await exchange(client, 'before')).toBe('data:before');
    expect(await nextEvent(client)).toBe('end');
    client.write('after');
    await waitUntil(() => Buffer.concat(server.received).toString() === 'beforeafter');
  });
});

describe('a reset racing a FIN', () => {
  it('still closes both sockets (libuv refuses to RST a socket while its shutdown is in flight)', async () => {
    const faults = [
      { type: 'limitData', bytes: 5, direction: 'upstream' },
      { type: 'reset', afterBytes: 5, direction: 'upstream' },
    ] as const;
    const { client, server, proxy } = await setup([...faults]);
    await waitUntil(() => server.sockets.length === 1);
    const serverClosed = new Promise((resolve) => server.sockets[0]!.once('close', resolve));
    client.write('12345');
    await serverClosed;
    await waitUntil(() => proxy.connections === 0);
  });
});

describe('halfClose after bytes', () => {
  it('sends exactly afterBytes bytes to the client, then its FIN', async () => {
    const { client } = await setup([{ type: 'halfClose', afterBytes: 4, direction: 'downstream' }], (socket) => socket.write('abcdefgh'));
    let text = '';
    client.on('data', (d: Buffer) => {
      text += d.toString();
    });
    await once(client, 'end');
    expect(text).toBe('abcd');
  });
});

describe('slowClose', () => {
  it('delays telling the client that the server closed', async () => {
    let serverEndedAt = 0;
    const { client } = await setup([{ type: 'slowClose', delayMs: 200, direction: 'downstream' }], (socket) => {
      socket.on('data', () => {
        socket.end('bye');
        serverEndedAt = performance.now();
      });
    });
    const started = performance.now();
    expect(await exchange(client, 'hi')).toBe('data:bye');
    // The data is not delayed, only the close.
    expect(performance.now() - started).toBeLessThan(150);
    expect(await nextEvent(client)).toBe('end');
    expect(performance.now() - serverEndedAt).toBeGreaterThanOrEqual(198);
  });
});

describe('idleReset', () => {
  it('resets a connection reused after idleMs, and only then', async () => {
    const { client, server, proxy } = await setup([{ type: 'idleReset', idleMs: 300 }]);
    expect(await exchange(client, 'first')).toBe('data:first');
    await sleep(50);
    expect(await exchange(client, 'second')).toBe('data:second');
    await sleep(450);
    expect(await exchange(client, 'third')).toBe('error:ECONNRESET');
    await waitUntil(() => server.sockets[0]!.destroyed);
    // The request that met the reset never reached the server.
    expect(Buffer.concat(server.received).toString()).toBe('firstsecond');
    expect(proxy.stats().faultsApplied.idleReset).toBe(1);
  });
});

describe('idleReset with an HTTP keep-alive agent', () => {
  it('fails the request that reuses a pooled connection after idleMs (FM-07)', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    server.keepAliveTimeout = 10_000;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    });
    const proxy = await createFaultProxy({ target: { port: (server.address() as net.AddressInfo).port }, faults: [{ type: 'idleReset', idleMs: 300 }] });
    cleanups.push(() => proxy.close());
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const get = () =>
      new Promise<string>((resolve) => {
        http
          .get({ host: proxy.host, port: proxy.port, agent }, (res) => res.resume().on('end', () => resolve(String(res.statusCode))))
          .on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      });
    expect(await get()).toBe('200');
    await sleep(50);
    expect(await get()).toBe('200');
    await sleep(450);
    expect(await get()).toBe('ECONNRESET');
    expect(proxy.stats().accepted).toBe(1);
  });
});
