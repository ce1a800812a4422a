import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { DATA_OVERHEAD_BYTES } from '../../packages/ack/src/frames.js';
import { type AckClient, createAckClient, createAckServer, encodeFrame, type Frame, FrameDecoder } from '../../packages/ack/src/index.js';

// A hostile review of @breakwater/ack (issue #14): a server that lies, and
// payloads of every shape a caller may hand to send(), with and without an
// outbox. "Resolved" must mean "a handler processed exactly these bytes".

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const client = (options: Parameters<typeof createAckClient>[0]): AckClient => {
  const c = createAckClient(options);
  cleanups.push(() => c.destroy());
  return c;
};

/** A fake server: answers HELLO with `window` and PINGs, records the DATA ids it gets, lets the test write frames back. */
async function lyingServer(window: number) {
  const received: number[] = [];
  let resolveSocket!: (s: net.Socket) => void;
  const connected = new Promise<net.Socket>((r) => {
    resolveSocket = r;
  });
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    const decoder = new FrameDecoder();
    socket.on('data', (chunk) => {
      for (const f of decoder.push(chunk) as Frame[]) {
        if (f.type === 'hello') socket.write(encodeFrame({ type: 'hello', session: f.session, window }));
        if (f.type === 'data') received.push(f.id);
        if (f.type === 'ping') socket.write(encodeFrame({ type: 'pong', token: f.token }));
      }
    });
    resolveSocket(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, received, connected };
}

async function until(condition: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`condition not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

it('a server that ACKs ids it was never sent: those sends stay pending, the link is dropped as a protocol error', async () => {
  // Window 2: ids 1 and 2 go out, 3 and 4 wait in the client's queue.
  const fake = await lyingServer(2);
  const c = client({ port: fake.port, sendTimeoutMs: 1_500, reconnectBackoff: { baseDelayMs: 5_000, maxDelayMs: 5_000 } });
  const outcomes: (string | number)[] = [];
  const sends = ['a', 'b', 'c', 'd'].map((p) =>
    c.send(p).then(
      (ack) => outcomes.push(ack.id),
      (e: { code: string }) => outcomes.push(e.code),
    ),
  );
  const socket = await fake.connected;
  await until(() => fake.received.length === 2);
  expect(fake.received).toEqual([1, 2]);
  const disconnected = new Promise<{ error: unknown }>((r) => c.once('disconnected', r));
  // Id 3 was admitted but never written; id 99 was never even admitted.
  socket.write(Buffer.concat([encodeFrame({ type: 'ack', id: 3 }), encodeFrame({ type: 'ack', id: 99 })]));
  expect(((await disconnected).error as { code?: string }).code).toBe('BW_ERR_PROTOCOL');
  await Promise.all(sends);
  // Nothing resolved: no handler was ever asked for any of them.
  expect(outcomes.every((o) => typeof o === 'string')).toBe(true);

  // Healthy but unusual: an ACK for a message in flight, sent twice (a retransmit acknowledged twice), is fine.
  const honest = await lyingServer(2);
  const h = client({ port: honest.port });
  const sent = h.send('x');
  const s2 = await honest.connected;
  await until(() => honest.received.length === 1);
  s2.write(Buffer.concat([encodeFrame({ type: 'ack', id: 1 }), encodeFrame({ type: 'ack', id: 1 })]));
  expect((await sent).id).toBe(1);
  expect(h.stats().connected).toBe(true);
});

it('payload shapes: string, Uint8Array, a Buffer slice of a larger buffer, empty, exactly the largest, one byte more', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bw-ack-review-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const seen: Buffer[] = [];
  const maxFrameBytes = 4_096;
  const server = createAckServer({ maxFrameBytes, maxTotalBufferedBytes: 65_536, handler: (p) => void seen.push(Buffer.from(p)) });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  for (const outboxPath of [undefined, join(dir, 'outbox.sqlite')]) {
    seen.length = 0;
    const c = client({ port, maxFrameBytes, ...(outboxPath === undefined ? {} : { outboxPath }) });
    const big = Buffer.from('0123456789abcdefghij');
    const largest = Buffer.alloc(maxFrameBytes - DATA_OVERHEAD_BYTES, 7);
    const shapes: [string, string | Uint8Array][] = [
      ['string', 'héllo ✓'],
      ['Uint8Array', new Uint8Array([1, 2, 3])],
      ['Uint8Array view', new Uint8Array(big.buffer, big.byteOffset + 5, 4)],
      ['Buffer slice', big.subarray(10, 15)],
      ['empty', Buffer.alloc(0)],
      ['empty string', ''],
      ['largest', largest],
    ];
    for (const [name, payload] of shapes) {
      const ack = await c.send(payload).catch((e: Error) => e);
      expect(ack, `${name} (outbox: ${outboxPath !== undefined})`).not.toBeInstanceOf(Error);
    }
    await expect(c.send(Buffer.alloc(maxFrameBytes - DATA_OVERHEAD_BYTES + 1))).rejects.toMatchObject({
      code: 'BW_ERR_INVALID_OPTION',
      details: { key: 'payload' },
    });
    await c.close();
    expect(seen.map((b) => b.toString('hex'))).toEqual(shapes.map(([, p]) => Buffer.from(p as Uint8Array | string).toString('hex')));
  }
});

it('a server that accepts and never sends HELLO, or sends an oversized or malformed frame: typed errors, nothing acknowledged', async () => {
  const behaviours: [string, (socket: net.Socket) => void, string][] = [
    ['silent', () => {}, 'BW_ERR_ACK_TIMEOUT'],
    ['oversized', (s) => s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 1])), 'BW_ERR_PROTOCOL'],
    ['unknown type', (s) => s.write(Buffer.from([0, 0, 0, 2, 1, 99])), 'BW_ERR_PROTOCOL'],
    ['wrong version', (s) => s.write(Buffer.from([0, 0, 0, 2, 9, 1])), 'BW_ERR_PROTOCOL'],
  ];
  for (const [name, behave, code] of behaviours) {
    const sockets: net.Socket[] = [];
    let dataFrames = 0;
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => {
        for (const f of decoder.push(chunk) as Frame[]) if (f.type === 'data') dataFrames++;
      });
      behave(socket);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    const c = client({
      port: (server.address() as net.AddressInfo).port,
      heartbeatTimeoutMs: 300,
      sendTimeoutMs: 1_000,
      reconnectBackoff: { baseDelayMs: 50 },
    });
    const disconnected = new Promise<{ error: unknown }>((r) => c.once('disconnected', r));
    const sent = c.send('never handled').catch((e: { code: string }) => e.code);
    expect(((await disconnected).error as { code?: string }).code, name).toBe(code);
    // Never written (no HELLO, or the link failed first): a plain deadline, not "may have been processed".
    expect(await sent, name).toBe('BW_ERR_DEADLINE');
    expect(dataFrames, name).toBe(0);
  }
});

it('a client whose maxFrameBytes is larger than the server`s: the oversized message is refused with a NACK, the ones behind it flow', async () => {
  // Before: the server closed the connection on the frame, the client reconnected and sent it again (108
  // reconnects in 3 s measured), nothing behind it was handled, and the send ended as "may or may not
  // have been processed" although it never was.
  let handled = 0;
  let protocolErrors = 0;
  const server = createAckServer({ maxFrameBytes: 4_096, maxTotalBufferedBytes: 65_536, handler: () => void handled++ });
  server.on('protocolFailed', () => protocolErrors++);
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  const c = client({ port, maxFrameBytes: 65_536, sendTimeoutMs: 5_000 });
  const big = c.send(Buffer.alloc(10_000, 1)).catch((e: { code: string; retryable: boolean; message: string }) => e);
  const small = await Promise.all(Array.from({ length: 5 }, (_, i) => c.send(`small-${i}`)));
  expect(await big).toMatchObject({ code: 'BW_ERR_NACKED', retryable: false, message: expect.stringContaining('maxFrameBytes (4096)') });
  expect(small.every((a) => a.attempts === 1)).toBe(true);
  expect({ handled, protocolErrors, reconnects: c.stats().reconnects }).toEqual({ handled: 5, protocolErrors: 0, reconnects: 0 });
  // Healthy but unusual: the largest frame the server takes still goes through on the same connection.
  await c.send(Buffer.alloc(4_096 - DATA_OVERHEAD_BYTES));
  expect(handled).toBe(6);
});
