import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { nextEvent, useProxyHarness } from '../../test/proxyHarness.js';

// Switching faults on live connections, several faults at once, and seeded
// probabilities; real sockets on 127.0.0.1:0, everything closed after each test.
const { cleanups, startServer, proxyTo, connect, waitUntil } = useProxyHarness();

describe('switching faults at run time', () => {
  it('adds and removes a blackhole on a live connection', async () => {
    const server = await startServer();
    const proxy = await proxyTo(server.port);
    const client = await connect(proxy);
    client.write('a');
    expect(await nextEvent(client)).toBe('data:a');
    const id = proxy.addFault({ type: 'blackhole' });
    expect(proxy.faults).toEqual([{ id, type: 'blackhole', probability: 1, direction: 'both' }]);
    client.write('b');
    expect(await nextEvent(client, 200)).toBe('timeout');
    expect(proxy.removeFault(id)).toBe(true);
    expect(proxy.removeFault(id)).toBe(false);
    client.write('c');
    expect(await nextEvent(client)).toBe('data:c');
    expect(proxy.stats().faultsApplied.blackhole).toBe(1);
  });

  it('setFaults replaces every fault and clearFaults removes them', async () => {
    const server = await startServer();
    const proxy = await proxyTo(server.port, { faults: [{ type: 'blackhole' }] });
    const client = await connect(proxy);
    const ids = proxy.setFaults([
      { type: 'latency', latencyMs: 150, direction: 'downstream' },
      { type: 'slowClose', delayMs: 10 },
    ]);
    expect(ids).toHaveLength(2);
    expect(proxy.faults.map((f) => f.id)).toEqual(ids);
    let started = performance.now();
    client.write('x');
    expect(await nextEvent(client)).toBe('data:x');
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
    proxy.clearFaults();
    expect(proxy.faults).toEqual([]);
    started = performance.now();
    client.write('y');
    expect(await nextEvent(client)).toBe('data:y');
    expect(performance.now() - started).toBeLessThan(100);
  });
});

describe('combined faults', () => {
  it('keep every byte, in order, on many connections at once', async () => {
    const server = await startServer();
    const proxy = await proxyTo(server.port, {
      seed: 2024,
      faults: [
        { type: 'slicer', averageSize: 700, sizeVariation: 300 },
        { type: 'latency', latencyMs: 5, jitterMs: 5 },
        { type: 'bandwidth', bytesPerSecond: 4_000_000 },
      ],
    });
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect(proxy)));
    await Promise.all(
      clients.map(async (client, i) => {
        const payload = Buffer.alloc(30_000, i);
        payload.writeUInt32BE(i * 7919, 1_000);
        const parts: Buffer[] = [];
        let got = 0;
        const done = new Promise<void>((resolve) =>
          client.on('data', (d: Buffer) => {
            parts.push(d);
            got += d.length;
            if (got >= payload.length) resolve();
          }),
        );
        for (let off = 0; off < payload.length; off += 5_000) client.write(payload.subarray(off, off + 5_000));
        await done;
        expect(Buffer.concat(parts).equals(payload)).toBe(true);
      }),
    );
    const stats = proxy.stats();
    expect(stats.bytesUpstream).toBe(8 * 30_000);
    expect(stats.bytesDownstream).toBe(8 * 30_000);
    expect(stats.faultsApplied).toMatchObject({ slicer: 8, latency: 8, bandwidth: 8 });
  });

  it('limitData added to a live connection counts from when it was added', async () => {
    let serverSocket: net.Socket | undefined;
    const server = await startServer((socket) => {
      serverSocket = socket;
    });
    const proxy = await proxyTo(server.port);
    const client = await connect(proxy);
    let received = 0;
    client.on('data', (d: Buffer) => {
      received += d.length;
    });
    await waitUntil(() => serverSocket !== undefined);
    serverSocket!.write(Buffer.alloc(500));
    await waitUntil(() => received === 500);
    proxy.addFault({ type: 'limitData', bytes: 100, direction: 'downstream' });
    serverSocket!.write(Buffer.alloc(300));
    await once(client, 'close');
    expect(received).toBe(600);
  });
});

describe('probability', () => {
  /** Opens `n` connections one after another; true where the connection was reset. */
  async function resetPattern(seed: number, probability: number, n: number): Promise<boolean[]> {
    const server = await startServer();
    const proxy = await proxyTo(server.port, { seed, faults: [{ type: 'reset', probability }] });
    const pattern: boolean[] = [];
    for (let i = 0; i < n; i++) {
      // The RST may even beat the client's own 'connect' event: any error counts as a reset.
      const client = net.connect({ host: proxy.host, port: proxy.port }, () => client.write('ping'));
      cleanups.push(() => client.destroy());
      const event = await nextEvent(client);
      pattern.push(event !== 'data:ping');
      client.destroy();
    }
    expect(proxy.stats().faultsApplied.reset).toBe(pattern.filter(Boolean).length);
    return pattern;
  }

  it('0 never applies', async () => {
    expect(await resetPattern(1, 0, 8)).toEqual(Array(8).fill(false));
  });

  it('the same seed gives the same decisions; another seed gives others', async () => {
    const a = await resetPattern(1234, 0.5, 16);
    const b = await resetPattern(1234, 0.5, 16);
    const c = await resetPattern(99, 0.5, 16);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    const resets = a.filter(Boolean).length;
    expect(resets).toBeGreaterThan(2);
    expect(resets).toBeLessThan(14);
  });
});
