import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createAckClient, createAckServer, encodeFrame } from '../../packages/ack/src/index.js';
import { data, hello, hostileKit, sessionOf } from '../support/ackHostile.js';

// A server that faces the network (issue 14, point 3): one hostile client per
// test, speaking the frame format by hand over a raw socket, each asserting
// the resource the defence protects and its bound — and a healthy but unusual
// client beside it that must keep working. TLS identity: ack-server-tls-identity.test.ts.

const { cleanups, cleanup, serve, raw } = hostileKit();
afterEach(cleanup);

describe('hostile clients against the ack server', () => {
  it('maxConnections: connections past the limit are closed on arrival; a plain net.Server holds them all', async () => {
    const { server, port } = await serve(() => {}, { maxConnections: 8 });
    const sockets = await Promise.all(Array.from({ length: 40 }, () => raw(port)));
    await expect.poll(() => server.stats().rejectedConnections).toBe(32);
    expect(server.stats().connections).toBe(8); // the protected resource: sockets (fds) and their state
    const plain = net.createServer((s) => s.on('error', () => {}));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => plain.close(r)));
    const plainPort = (plain.address() as net.AddressInfo).port;
    await Promise.all(Array.from({ length: 40 }, () => raw(plainPort)));
    await expect.poll(() => new Promise<number>((r) => plain.getConnections((_, n) => r(n)))).toBe(40);
    // Healthy twin: once the hostile ones leave, a legitimate client gets in.
    for (const s of sockets) s.socket.destroy();
    await expect.poll(() => server.stats().connections).toBe(0);
    const client = createAckClient({ port });
    cleanups.push(() => client.destroy());
    await expect(client.send('ok')).resolves.toMatchObject({ id: 1 });
  });

  it('HELLO deadline: a connection that never introduces itself is closed; a slow HELLO within it is served', async () => {
    const { server, port } = await serve(() => {}, { helloTimeoutMs: 300 });
    const silent = await raw(port);
    const started = performance.now();
    await silent.closed;
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
    await expect.poll(() => server.stats().connections).toBe(0);
    const slow = await raw(port);
    await delay(150);
    slow.socket.write(hello(sessionOf(1)));
    await delay(400); // past the HELLO deadline: introduced, so the idle timeout (30 s) applies now
    slow.socket.write(data(1));
    await expect.poll(() => slow.frames.map((f) => f.type)).toEqual(['hello', 'ack']);
    expect(slow.isClosed()).toBe(false);
  });

  it('trickled bytes: a frame that never completes is closed after idleTimeoutMs; Node socket.setTimeout() keeps it forever', async () => {
    const { server, port } = await serve(() => {}, { idleTimeoutMs: 500 });
    const trickler = await raw(port);
    trickler.socket.write(hello(sessionOf(2)));
    // A DATA header announcing 100 000 bytes, then one byte every 50 ms: the socket is never silent.
    const header = Buffer.alloc(4);
    header.writeUInt32BE(100_000);
    trickler.socket.write(header);
    const trickle = setInterval(() => trickler.socket.write(Buffer.from([1])), 50);
    cleanups.push(() => clearInterval(trickle));
    await expect.poll(() => server.stats().bufferedBytes).toBeGreaterThan(0);
    const started = performance.now();
    await trickler.closed;
    expect(performance.now() - started).toBeLessThan(2_000);
    await expect.poll(() => server.stats()).toMatchObject({ connections: 0, bufferedBytes: 0 }); // slot and partial-frame memory released
    clearInterval(trickle);

    // Naive: the usual Node idle timeout is reset by every byte.
    const plain = net.createServer((s) => {
      s.on('error', () => {});
      s.setTimeout(500, () => s.destroy());
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => plain.close(r)));
    const naive = await raw((plain.address() as net.AddressInfo).port);
    const naiveTrickle = setInterval(() => naive.socket.write(Buffer.from([1])), 50);
    cleanups.push(() => clearInterval(naiveTrickle));
    await delay(2_000);
    expect(naive.isClosed()).toBe(false);

    // Healthy twin: a slow client completing each frame within the timeout, idle in between with PINGs.
    const slow = await raw(port);
    slow.socket.write(hello(sessionOf(3)));
    for (let id = 1; id <= 4; id++) {
      const frame = data(id, 1, Buffer.alloc(4_000, id));
      for (let i = 0; i < frame.length; i += 1_000) {
        slow.socket.write(frame.subarray(i, i + 1_000));
        await delay(60);
      }
      slow.socket.write(encodeFrame({ type: 'ping', token: id }));
    }
    await expect.poll(() => slow.frames.filter((f) => f.type === 'ack').length).toBe(4);
    expect(slow.isClosed()).toBe(false);
  });

  it('maxConcurrency holds per frame: 200 DATA frames in one write run at most 8 handlers at once, then all complete', async () => {
    let running = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const { server, port } = await serve(
      () => {
        running++;
        peak = Math.max(peak, running);
        return new Promise<void>((r) => gates.push(() => r(void running--)));
      },
      { maxConcurrency: 8 },
    );
    const c = await raw(port);
    c.socket.write(Buffer.concat([hello(sessionOf(4)), ...Array.from({ length: 200 }, (_, i) => data(i + 1))]));
    await expect.poll(() => running).toBe(8);
    await delay(100);
    expect(peak).toBe(8);
    while (server.stats().handled < 200) {
      for (const g of gates.splice(0)) g();
      await delay(1);
    }
    expect(peak).toBe(8);
    await expect.poll(() => c.frames.filter((f) => f.type === 'ack').length).toBe(200);
    expect(server.stats().bufferedBytes).toBe(0);
  });

  it('memory budget: four clients pushing 60 KiB frames at a stuck handler hold at most the cap + one read each', async () => {
    const CAP = 1_048_576;
    const FRAME = 60 * 1_024;
    async function flood(maxTotalBufferedBytes: number) {
      const gates: (() => void)[] = [];
      const { server, port } = await serve(() => new Promise<void>((r) => gates.push(r)), {
        maxTotalBufferedBytes,
        maxFrameBytes: 65_536,
        maxConcurrency: 64,
      });
      const clients = await Promise.all([1, 2, 3, 4].map(() => raw(port)));
      clients.forEach((c, n) => {
        const frames = [hello(sessionOf(10 + n)), ...Array.from({ length: 64 }, (_, i) => data(i + 1, 1, Buffer.alloc(FRAME)))];
        c.socket.write(Buffer.concat(frames));
      });
      await delay(1_000);
      const held = server.stats().bufferedBytes;
      for (const g of gates.splice(0)) g();
      return { held, server, gates };
    }
    const bounded = await flood(CAP);
    expect(bounded.held).toBeGreaterThan(CAP / 2);
    expect(bounded.held).toBeLessThanOrEqual(CAP + 4 * 65_536 + FRAME);
    // Naive (no budget): every frame a stuck handler holds stays in memory.
    const unbounded = await flood(Number.MAX_SAFE_INTEGER);
    expect(unbounded.held).toBeGreaterThan(4 * 32 * FRAME);
    // Healthy: once the handler moves, the bounded server drains every frame.
    while (bounded.server.stats().handled < 256) {
      for (const g of bounded.gates.splice(0)) g();
      await delay(5);
    }
  });

  it('a client that leaves while its handlers run: their payloads are released from the budget when they finish', async () => {
    const { server, port } = await serve(() => delay(200));
    const c = await raw(port);
    c.socket.write(Buffer.concat([hello(sessionOf(9)), ...Array.from({ length: 10 }, (_, i) => data(i + 1, 1, Buffer.alloc(10_000)))]));
    await expect.poll(() => server.stats().bufferedBytes).toBeGreaterThanOrEqual(100_000);
    c.socket.destroy();
    await expect.poll(() => server.stats()).toMatchObject({ connections: 0, handled: 10, bufferedBytes: 0 });
  });

  it('oversized and malformed frames: closed before the body is buffered; nothing held afterwards', async () => {
    const { server, port } = await serve(() => {}, { maxFrameBytes: 1_024 });
    const big = await raw(port);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(0x7fff_fff0); // announces 2 GiB
    big.socket.write(Buffer.concat([hello(sessionOf(5)), header, Buffer.alloc(512)]));
    await big.closed;
    const bad = await raw(port);
    bad.socket.write(Buffer.from([0, 0, 0, 10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]));
    await bad.closed;
    await expect.poll(() => server.stats()).toMatchObject({ protocolErrors: 2, connections: 0, bufferedBytes: 0, sessions: 0 });
  });

  it('absurd floor: refused with BW_ERR_PROTOCOL and the session keeps its dedup state; a large legitimate jump passes', async () => {
    let calls = 0;
    const { server, port } = await serve(() => void calls++, { maxFloorAdvance: 1_000_000 });
    const errors: unknown[] = [];
    server.on('protocolFailed', ({ error }) => errors.push(error));
    const a = await raw(port);
    a.socket.write(Buffer.concat([hello(sessionOf(6)), data(1)]));
    await expect.poll(() => a.frames.length).toBe(2);
    a.socket.write(data(2 ** 53 - 1, 2 ** 53 - 1));
    await a.closed;
    expect(errors).toEqual([expect.objectContaining({ code: 'BW_ERR_PROTOCOL', details: expect.objectContaining({ highest: 1 }) })]);
    // The retransmit of id 1 is still answered from the window: the handler ran once.
    const b = await raw(port);
    b.socket.write(Buffer.concat([hello(sessionOf(6)), data(1), data(500_001, 500_001)]));
    await expect.poll(() => b.frames.length).toBe(3);
    expect(calls).toBe(2); // id 1 once, id 500 001 once (499 999 ids settled elsewhere: a legitimate jump)
  });

  it('close() gives up on a handler that never finishes after closeTimeoutMs; with a long deadline it keeps waiting', async () => {
    const stuck = createAckServer({ handler: () => new Promise(() => {}), closeTimeoutMs: 300 });
    const { port } = await stuck.listen();
    const c = await raw(port);
    c.socket.write(Buffer.concat([hello(sessionOf(7)), data(1)]));
    await expect.poll(() => stuck.stats().connections).toBe(1);
    await delay(50);
    const started = performance.now();
    await stuck.close();
    expect(performance.now() - started).toBeLessThan(1_500);
    await expect.poll(() => stuck.stats()).toMatchObject({ abandonedHandlers: 1, connections: 0 });
    await c.closed;
    expect(c.frames.map((f) => f.type)).toEqual(['hello']); // no ACK for an outcome nobody knows

    const patient = createAckServer({ handler: () => new Promise(() => {}), closeTimeoutMs: 2_000 });
    const p = await patient.listen();
    const d = await raw(p.port);
    d.socket.write(Buffer.concat([hello(sessionOf(8)), data(1)]));
    await expect.poll(() => patient.stats().connections).toBe(1);
    await delay(50);
    let done = false;
    const closing = patient.close().then(() => {
      done = true;
    });
    await delay(1_000);
    expect(done).toBe(false);
    await closing;
  });
});

describe('session flood', () => {
  it('HELLO and session floods from one peer never evict the idle session of another peer; from the same peer they do (control)', async () => {
    const handled: string[] = [];
    const { server, port } = await serve((p) => void handled.push(p.toString()), { maxSessions: 16 });
    async function victim(localAddress: string, n: number) {
      const v = await raw(port, localAddress);
      v.socket.write(Buffer.concat([hello(sessionOf(n)), data(1, 1, Buffer.from(`victim-${n}`))]));
      await expect.poll(() => v.frames.length).toBe(2);
      v.socket.destroy(); // its ACK "lost": the client will retransmit id 1
    }
    async function flood(localAddress: string, count: number, withData: boolean) {
      for (let i = 0; i < count; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, count - i) }, async (_, k) => {
            const f = await raw(port, localAddress);
            const session = Buffer.alloc(16);
            session.writeUInt32BE(i + k + 1);
            session.write(localAddress, 4);
            f.socket.write(withData ? Buffer.concat([hello(session), data(1, 1, Buffer.from('flood'))]) : hello(session));
            await expect.poll(() => f.frames.length).toBe(withData ? 2 : 1);
            f.socket.destroy();
          }),
        );
      }
    }
    await victim('127.0.0.2', 20);
    await flood('127.0.0.1', 300, false);
    expect(server.stats().sessions).toBe(1); // a HELLO alone costs no dedup state
    await flood('127.0.0.1', 300, true);
    // maxSessions, plus sessions whose connection was still open when the last ones arrived (a batch of 50).
    expect(server.stats().sessions).toBeLessThanOrEqual(16 + 50);
    expect(server.stats().sessionEvictions).toBeGreaterThan(200);
    const retry = await raw(port, '127.0.0.2');
    retry.socket.write(Buffer.concat([hello(sessionOf(20)), data(1, 1, Buffer.from('victim-20'))]));
    await expect.poll(() => retry.frames.length).toBe(2);
    expect(handled.filter((h) => h === 'victim-20')).toHaveLength(1);

    // Control: the same flood from the victim's own address evicts it, and its retransmit runs again.
    await victim('127.0.0.3', 21);
    await flood('127.0.0.3', 300, true);
    const again = await raw(port, '127.0.0.3');
    again.socket.write(Buffer.concat([hello(sessionOf(21)), data(1, 1, Buffer.from('victim-21'))]));
    await expect.poll(() => again.frames.length).toBe(2);
    expect(handled.filter((h) => h === 'victim-21')).toHaveLength(2);
  }, 60_000);
});
