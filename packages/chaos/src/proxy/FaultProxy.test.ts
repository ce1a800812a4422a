import diagnosticsChannel from 'node:diagnostics_channel';
import { once } from 'node:events';
import net from 'node:net';
import { isBreakwaterError } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { countingClock, nextEvent, useProxyHarness } from '../../test/proxyHarness.js';
import { createFaultProxy } from './FaultProxy.js';

// Real sockets on 127.0.0.1:0. Every server, client and proxy is registered
// for cleanup so a failing test cannot leak into the next.
const { cleanups, startServer, proxyTo, connect, waitUntil } = useProxyHarness();

describe('createFaultProxy', () => {
  it('forwards both ways and counts bytes and connections', async () => {
    const server = await startServer();
    const proxy = await proxyTo(server.port);
    const client = await connect(proxy);
    client.write('hello');
    expect(await nextEvent(client)).toBe('data:hello');
    expect(proxy.connections).toBe(1);
    const stats = proxy.stats();
    expect(stats).toMatchObject({ accepted: 1, active: 1, bytesUpstream: 5, bytesDownstream: 5 });
    expect(Object.values(stats.faultsApplied).every((n) => n === 0)).toBe(true);
    client.end();
    await waitUntil(() => proxy.connections === 0);
  });

  it('publishes connectionOpened, faultApplied and connectionClosed on diagnostics channels', async () => {
    const events: [string, Record<string, unknown>][] = [];
    for (const name of ['connectionOpened', 'faultApplied', 'connectionClosed']) {
      const onMessage = (message: unknown) => events.push([name, message as Record<string, unknown>]);
      diagnosticsChannel.subscribe(`breakwater:chaos:${name}`, onMessage);
      cleanups.push(() => diagnosticsChannel.unsubscribe(`breakwater:chaos:${name}`, onMessage));
    }
    const server = await startServer();
    const proxy = await proxyTo(server.port, { faults: [{ type: 'latency', latencyMs: 1 }] });
    const client = await connect(proxy);
    client.write('x');
    expect(await nextEvent(client)).toBe('data:x');
    client.end();
    await waitUntil(() => events.length === 3);
    const mine = events.filter(([, m]) => m.proxy === proxy);
    expect(mine.map(([name]) => name)).toEqual(['connectionOpened', 'faultApplied', 'connectionClosed']);
    expect(mine[1]![1]).toMatchObject({ connectionId: 1, type: 'latency', faultId: proxy.faults[0]!.id });
    expect(mine[2]![1]).toMatchObject({ connectionId: 1, reason: 'closed' });
  });

  it('exposes a random 32-bit seed, or the one it was given', async () => {
    const server = await startServer();
    const random = await proxyTo(server.port);
    expect(Number.isInteger(random.seed) && random.seed >= 0 && random.seed <= 0xffff_ffff).toBe(true);
    expect((await proxyTo(server.port, { seed: 7 })).seed).toBe(7);
  });

  it('resets the client when the upstream refuses the connection', async () => {
    const closed = net.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as net.AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const proxy = await proxyTo(port);
    const client = await connect(proxy);
    expect(await nextEvent(client)).toBe('error:ECONNRESET');
    await waitUntil(() => proxy.connections === 0);
  });

  it('close() with data in flight closes every socket on both sides, clears every timer, and is idempotent', async () => {
    const server = await startServer();
    const { clock, live } = countingClock();
    const proxy = await proxyTo(server.port, {
      clock,
      faults: [
        { type: 'latency', latencyMs: 5_000 },
        { type: 'reset', afterMs: 10_000 },
      ],
    });
    const clients = await Promise.all([connect(proxy), connect(proxy), connect(proxy)]);
    for (const c of clients) c.write('in flight');
    await waitUntil(() => server.sockets.length === 3);
    // One reset timer and one delayed chunk per connection.
    await waitUntil(() => live.size === 6);
    const serverClosed = server.sockets.map((s) => once(s, 'close'));
    const clientClosed = clients.map((c) => once(c, 'close'));
    const started = performance.now();
    await Promise.all([proxy.close(), proxy.close()]);
    await Promise.all([...serverClosed, ...clientClosed]);
    // Not held by the 5 s latency timers.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(proxy.connections).toBe(0);
    expect(server.sockets.every((s) => s.destroyed)).toBe(true);
    expect(live.size).toBe(0);
    const err = (() => {
      try {
        proxy.addFault({ type: 'blackhole' });
      } catch (e) {
        return e;
      }
    })();
    expect(isBreakwaterError(err, 'BW_ERR_CLOSED')).toBe(true);
  });

  it('closes through Symbol.asyncDispose', async () => {
    const server = await startServer();
    let port = 0;
    {
      await using proxy = await createFaultProxy({ target: { port: server.port } });
      port = proxy.port;
    }
    const probe = net.connect({ host: '127.0.0.1', port });
    const [err] = (await once(probe, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
  });

  it('pushes back on a fast sender when the reader is slow (bounded buffering)', async () => {
    const total = 64 * 1024 * 1024;
    let written = 0;
    const server = await startServer((socket) => {
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        while (written < total) {
          written += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    const proxy = await proxyTo(server.port, { maxBufferedBytes: 256 * 1024 });
    const client = await connect(proxy);
    client.pause();
    await new Promise((r) => setTimeout(r, 400));
    // Kernel socket buffers on two hops hold a few MB; without backpressure all 64 MB would be read by now.
    expect(written).toBeLessThan(total / 2);
    client.resume();
    let received = 0;
    client.on('data', (d: Buffer) => {
      received += d.length;
    });
    await waitUntil(() => received === total, 4_000);
  });
});
