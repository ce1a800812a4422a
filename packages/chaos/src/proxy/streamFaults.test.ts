import { once } from 'node:events';
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { sleep, useProxyHarness } from '../../test/proxyHarness.js';

// Faults that reshape or swallow the byte stream, on real sockets on
// 127.0.0.1:0. Timing bounds are the fault's own (lower bounds with a few ms
// of timer slack; upper bounds generous), never speed claims.
const { setup, waitUntil } = useProxyHarness({ waitMs: 3_000, pollMs: 2 });

/** Resolves with the first `n` bytes read from `socket`. */
function readBytes(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= n) {
        socket.off('data', onData);
        resolve(Buffer.concat(parts));
      }
    };
    socket.on('data', onData);
  });
}

const total = (parts: Buffer[]) => parts.reduce((n, p) => n + p.length, 0);

async function roundTripMs(client: net.Socket, message = 'ping'): Promise<number> {
  const started = performance.now();
  const reply = readBytes(client, message.length);
  client.write(message);
  expect((await reply).toString()).toBe(message);
  return performance.now() - started;
}

describe('latency', () => {
  it('adds latencyMs in each direction to a round trip', async () => {
    const { client } = await setup([{ type: 'latency', latencyMs: 100 }]);
    expect(await roundTripMs(client)).toBeGreaterThanOrEqual(198);
  });

  it('delays only the chosen direction and keeps chunk order under jitter', async () => {
    const { client } = await setup([{ type: 'latency', latencyMs: 60, jitterMs: 50, direction: 'downstream' }]);
    const rtt = await roundTripMs(client);
    expect(rtt).toBeGreaterThanOrEqual(9);
    expect(rtt).toBeLessThan(1_000);
    const messages = Array.from({ length: 30 }, (_, i) => `<${i}>`);
    const expected = messages.join('');
    const reply = readBytes(client, expected.length);
    for (const m of messages) {
      client.write(m);
      await sleep(1);
    }
    expect((await reply).toString()).toBe(expected);
  });
});

describe('bandwidth', () => {
  it('100 KB at 200 KB/s takes about half a second', async () => {
    const { client, server } = await setup([{ type: 'bandwidth', bytesPerSecond: 200_000, direction: 'upstream' }]);
    const started = performance.now();
    client.write(Buffer.alloc(100_000, 1));
    await waitUntil(() => total(server.received) === 100_000);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(3_000);
  });
});

describe('slicer', () => {
  it('cuts one write into small pieces, delayMs apart', async () => {
    const { client, server } = await setup([{ type: 'slicer', averageSize: 100, sizeVariation: 20, delayMs: 15, direction: 'upstream' }]);
    const payload = Buffer.from('0123456789'.repeat(100));
    const started = performance.now();
    client.write(payload);
    await waitUntil(() => total(server.received) === payload.length);
    // At least ceil(1000 / 120) = 9 pieces, 15 ms apart.
    expect(performance.now() - started).toBeGreaterThanOrEqual(8 * 15 - 2);
    expect(server.received.length).toBeGreaterThanOrEqual(5);
    expect(Buffer.concat(server.received).equals(payload)).toBe(true);
  });
});

describe('blackhole', () => {
  it('swallows data while both sockets stay open', async () => {
    const { client, server, proxy } = await setup([{ type: 'blackhole' }]);
    let echoed = 0;
    client.on('data', (d: Buffer) => {
      echoed += d.length;
    });
    client.write('anyone there?');
    await sleep(300);
    expect(echoed).toBe(0);
    expect(server.received).toEqual([]);
    expect(client.destroyed).toBe(false);
    expect(client.readyState).toBe('open');
    expect(server.sockets).toHaveLength(1);
    expect(server.sockets[0]!.destroyed).toBe(false);
    expect(proxy.connections).toBe(1);
  });

  it('can swallow one direction only', async () => {
    const { client, server } = await setup([{ type: 'blackhole', direction: 'downstream' }]);
    let echoed = 0;
    client.on('data', (d: Buffer) => {
      echoed += d.length;
    });
    client.write('hello');
    await waitUntil(() => total(server.received) === 5);
    await sleep(100);
    expect(echoed).toBe(0);
  });
});

describe('limitData', () => {
  it('forwards exactly `bytes` bytes, then closes', async () => {
    const { client, proxy } = await setup([{ type: 'limitData', bytes: 1_000, direction: 'downstream' }], (socket) => {
      socket.write(Buffer.alloc(10_000, 7));
    });
    let received = 0;
    client.on('data', (d: Buffer) => {
      received += d.length;
    });
    await once(client, 'close');
    expect(received).toBe(1_000);
    expect(proxy.stats().faultsApplied.limitData).toBe(1);
  });

  it('counts client → server bytes with direction upstream', async () => {
    const { client, server } = await setup([{ type: 'limitData', bytes: 300, direction: 'upstream' }]);
    await waitUntil(() => server.sockets.length === 1);
    const ended = once(server.sockets[0]!, 'end');
    client.write(Buffer.alloc(200));
    client.write(Buffer.alloc(200));
    await ended;
    expect(total(server.received)).toBe(300);
  });
});
