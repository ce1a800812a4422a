import { spawnSync } from 'node:child_process';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type AckClient, type AckServer, createAckClient, createAckServer, encodeFrame, FrameDecoder, isNack } from '../../packages/ack/src/index.js';
import { Deadline } from '../../packages/core/src/index.js';
import { makeSelfSigned } from '../support/tlsCerts.js';

const open: (AckClient | AckServer | net.Socket)[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) {
    if (x instanceof net.Socket) x.destroy();
    else if ('send' in x) await x.destroy();
    else await x.close();
  }
});
const track = <T extends AckClient | AckServer | net.Socket>(x: T): T => {
  open.push(x);
  return x;
};

async function serve(handler: (p: Buffer) => unknown, options: Record<string, unknown> = {}) {
  const server = track(createAckServer({ handler, ...options }));
  const { port } = await server.listen();
  return { server, port };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A client socket speaking the wire format by hand. */
async function raw(port: number) {
  const socket = track(net.connect(port, '127.0.0.1'));
  await new Promise((r) => socket.once('connect', r));
  const decoder = new FrameDecoder();
  const frames: unknown[] = [];
  socket.on('data', (c) => frames.push(...decoder.push(c)));
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  socket.on('error', () => {});
  return { socket, frames, closed };
}

describe('ack client and server on loopback', () => {
  it('send() resolves only after the handler finished', async () => {
    const gate = deferred();
    const { port } = await serve(() => gate.promise);
    const client = track(createAckClient({ port }));
    let acked = false;
    const sent = client.send('order-1').then((ack) => {
      acked = true;
      return ack;
    });
    await delay(200);
    expect(acked).toBe(false); // written, kernel-acknowledged, but not processed
    gate.resolve();
    await expect(sent).resolves.toMatchObject({ id: 1, attempts: 1, endpoint: `127.0.0.1:${port}` });
  });

  it('a retransmit of a handled id gets its ACK again without calling the handler', async () => {
    let calls = 0;
    const { server, port } = await serve(() => {
      calls++;
    });
    const { socket, frames } = await raw(port);
    const session = Buffer.alloc(16, 7);
    socket.write(encodeFrame({ type: 'hello', session, window: 8 }));
    for (let i = 0; i < 3; i++) socket.write(encodeFrame({ type: 'data', id: 1, floor: 1, payload: Buffer.from('x') }));
    await expect.poll(() => frames.length).toBe(4);
    expect(frames.slice(1)).toEqual([
      { type: 'ack', id: 1 },
      { type: 'ack', id: 1 },
      { type: 'ack', id: 1 },
    ]);
    expect(calls).toBe(1);
    // A new connection of the same session (a reconnect) is deduplicated too.
    const again = await raw(port);
    again.socket.write(
      Buffer.concat([encodeFrame({ type: 'hello', session, window: 8 }), encodeFrame({ type: 'data', id: 1, floor: 1, payload: Buffer.from('x') })]),
    );
    await expect.poll(() => again.frames.length).toBe(2);
    expect(calls).toBe(1);
    expect(server.stats().duplicates).toBe(3);
  });

  it('malformed and oversized frames close that connection with BW_ERR_PROTOCOL; the server keeps serving', async () => {
    const { server, port } = await serve(() => {}, { maxFrameBytes: 1_024 });
    const errors: unknown[] = [];
    server.on('protocolFailed', ({ error }) => errors.push(error));
    const bad = await raw(port);
    bad.socket.write(Buffer.from([0, 0, 0, 10, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]));
    await bad.closed;
    const big = await raw(port);
    big.socket.write(Buffer.from([0, 0x10, 0, 0, 1, 2]));
    await big.closed;
    expect(errors).toEqual([expect.objectContaining({ code: 'BW_ERR_PROTOCOL' }), expect.objectContaining({ code: 'BW_ERR_PROTOCOL' })]);
    const client = track(createAckClient({ port }));
    await expect(client.send('still fine')).resolves.toMatchObject({ id: 1 });
  });

  it('a NACK rejects the send by default; nackPolicy retry resends retryable ones with the same id', async () => {
    let calls = 0;
    const { port } = await serve((p) => {
      calls++;
      if (p.toString() === 'bad') throw new Error('schema mismatch');
      if (calls < 3) throw Object.assign(new Error('db busy'), { retryable: true });
    });
    const strict = track(createAckClient({ port }));
    const error = await strict.send('bad').catch((e: unknown) => e);
    expect(isNack(error)).toBe(true);
    expect(error).toMatchObject({ retryable: false, details: { reason: 'schema mismatch' } });
    const retrying = track(createAckClient({ port, nackPolicy: 'retry', reconnectBackoff: { baseDelayMs: 10, maxDelayMs: 50 } }));
    await expect(retrying.send('good')).resolves.toMatchObject({ attempts: 2 });
    expect(calls).toBe(3);
  });

  it('a full window sends nothing more; an ACK of the floor opens it and the queued messages follow in id order', async () => {
    const gates = new Map<number, () => void>();
    const seen: number[] = [];
    const { port } = await serve((p) => {
      const id = Number(p.toString());
      seen.push(id);
      return new Promise<void>((resolve) => gates.set(id, resolve));
    });
    const client = track(createAckClient({ port, maxInFlight: 3 }));
    const sends = Array.from({ length: 8 }, (_, i) => client.send(String(i + 1)));
    await expect.poll(() => seen.length).toBe(3);
    expect(client.stats()).toMatchObject({ inFlight: 3, queued: 5 });
    // An ACK above the floor frees no room: the window is [floor, floor + 3).
    gates.get(2)!();
    await expect(sends[1]).resolves.toMatchObject({ id: 2 });
    await delay(50);
    expect(seen).toEqual([1, 2, 3]);
    gates.get(1)!(); // the floor moves to 3: ids 4 and 5 fit
    await expect.poll(() => seen.length).toBe(5);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    for (let id = 3; id <= 8; id++) {
      await expect.poll(() => gates.has(id)).toBe(true);
      gates.get(id)!();
    }
    await expect(Promise.all(sends)).resolves.toHaveLength(8);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('backpressure: reject policy fails fast with BW_ERR_BACKPRESSURE; wait policy honours the deadline', async () => {
    const gate = deferred();
    const { port } = await serve(() => gate.promise);
    const rejecting = track(createAckClient({ port, maxInFlight: 2, maxQueuedMessages: 1, overflowPolicy: 'reject' }));
    const accepted = [rejecting.send('1'), rejecting.send('2'), rejecting.send('3')];
    await expect(rejecting.send('4')).rejects.toMatchObject({ code: 'BW_ERR_BACKPRESSURE' });
    const waiting = track(createAckClient({ port, maxInFlight: 1, maxQueuedMessages: 0, maxBufferedBytes: 10 }));
    const first = waiting.send('12345678');
    const started = performance.now();
    await expect(waiting.send('123', { deadline: Deadline.after(300) })).rejects.toMatchObject({ code: 'BW_ERR_DEADLINE' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    // The same limit as `deadlineMs`, the one name for a time limit from now.
    const startedMs = performance.now();
    await expect(waiting.send('456', { deadlineMs: 300 })).rejects.toMatchObject({ code: 'BW_ERR_DEADLINE' });
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(250);
    const aborted = new AbortController();
    const third = waiting.send('x', { signal: aborted.signal });
    aborted.abort();
    await expect(third).rejects.toMatchObject({ code: 'BW_ERR_ABORTED' });
    expect(waiting.stats()).toMatchObject({ waiting: 0, bufferedBytes: 8 });
    gate.resolve();
    await Promise.all([...accepted, first]);
  });

  it('fails over from a refused endpoint, and bad arguments reject naming the key', async () => {
    const { port } = await serve(() => {});
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const client = track(
      createAckClient({
        endpoints: [
          { host: '127.0.0.1', port: deadPort },
          { host: '127.0.0.1', port },
        ],
        reconnectBackoff: { baseDelayMs: 10 },
      }),
    );
    await expect(client.send('hi')).resolves.toMatchObject({ endpoint: `127.0.0.1:${port}` });
    await expect(client.send(42 as never)).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'payload' } });
    await expect(client.send(Buffer.alloc(2_000_000))).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'payload' } });
    await expect(client.send('x', { timeout: 5 } as never)).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'timeout' } });
    expect(() => createAckClient({ port, maxInFlight: -1 })).toThrow(expect.objectContaining({ details: { key: 'maxInFlight' } }));
  });

  it('close() drains in-flight messages, then leaves no socket or timer behind', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    const server = createAckServer({ handler: () => delay(100) });
    const { port } = await server.listen();
    const client = createAckClient({ port });
    const sends = Array.from({ length: 10 }, (_, i) => client.send(`m${i}`));
    await client.close();
    await expect(Promise.all(sends)).resolves.toHaveLength(10);
    await expect(client.send('late')).rejects.toMatchObject({ code: 'BW_ERR_CLOSED' });
    await server.close();
    await delay(50);
    const after = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    expect(after.filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout').length).toBeLessThanOrEqual(
      before.filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout').length,
    );
  });
});

describe('a script awaiting send()', () => {
  // Every client timer is unref'd; without the client holding the event loop
  // while a send is pending, Node exits with code 13 (unsettled top-level
  // await) instead of reporting the deadline.
  const script = `
    import net from 'node:net';
    import { createAckClient } from ${JSON.stringify(new URL('../../packages/ack/dist/index.js', import.meta.url).href)};
    import { Deadline } from ${JSON.stringify(new URL('../../packages/core/dist/index.js', import.meta.url).href)};
    const probe = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const { port } = probe.address();
    await new Promise((r) => probe.close(r)); // nothing listens there now: every connect is refused
    const client = createAckClient({ port });
    client.on('error', () => {});
    const started = performance.now();
    const error = await client.send('hello', { deadline: Deadline.after(400) }).then(() => undefined, (e) => e);
    console.log(JSON.stringify({ code: error?.code, ms: Math.round(performance.now() - started) }));
    await client.destroy();
  `;
  const run = (source: string) => spawnSync(process.execPath, ['--input-type=module', '-e', source], { encoding: 'utf8', timeout: 10_000 });

  it('settles by its deadline instead of the process exiting with the promise unsettled', () => {
    const { status, stdout, stderr } = run(script);
    expect(status, stderr).toBe(0);
    const result = JSON.parse(stdout.trim()) as { code: string; ms: number };
    expect(result.code).toBe('BW_ERR_DEADLINE');
    expect(result.ms).toBeGreaterThanOrEqual(395);
    expect(result.ms).toBeLessThan(2_000);
  });

  it("negative control: awaiting only unref'd timers ends the process with code 13 and no result", () => {
    const { status, stdout } = run(`await new Promise((r) => setTimeout(r, 400).unref()); console.log('settled');`);
    expect(status).toBe(13);
    expect(stdout).toBe('');
  });
});

describe('ack over TLS', () => {
  it('client tls options pass through to connect(); the server speaks TLS', async () => {
    const pem = makeSelfSigned('breakwater.test', 'DNS:breakwater.test,IP:127.0.0.1');
    try {
      const { key, cert } = pem;
      const seen: string[] = [];
      const { port } = await serve((p) => seen.push(p.toString()), { tls: { key, cert } });
      const client = track(createAckClient({ port, tls: { ca: cert, servername: 'breakwater.test' } }));
      await expect(client.send('over tls')).resolves.toMatchObject({ id: 1 });
      expect(seen).toEqual(['over tls']);
      // Without the CA the handshake fails; the send waits for a good connection and hits its deadline.
      const untrusting = track(createAckClient({ port, tls: true, reconnectBackoff: { baseDelayMs: 10 } }));
      const failures: unknown[] = [];
      untrusting.on('connectFailed', ({ error }) => failures.push(error));
      await expect(untrusting.send('x', { deadline: Deadline.after(300) })).rejects.toMatchObject({ code: 'BW_ERR_DEADLINE' });
      expect(failures[0]).toMatchObject({ code: 'BW_ERR_TLS' });
    } finally {
      pem.remove();
    }
  });
});
