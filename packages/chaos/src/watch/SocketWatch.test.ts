import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ECHO_SERVER, REQUEST_CLIENT, SIZED_RESPONSE_SERVER, SLOW_RESPONSE_SERVER } from '../programs/index.js';
import { connectWatched, echoRoundTrip, failureWithin, quietFor, SocketWatch } from './SocketWatch.js';

const children: ChildProcess[] = [];
const sockets: net.Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Runs one of the programs on loopback (no namespace needed) and resolves with its first JSON line. */
function runProgram(source: string, args: string[] = []): Promise<{ child: ChildProcess; message: Record<string, unknown> }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source, '--', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve({ child, message: JSON.parse(out.slice(0, nl)) as Record<string, unknown> });
    });
    child.once('exit', (code) => reject(new Error(`program exited with ${code} before printing`)));
  });
}

describe('SocketWatch and the programs', () => {
  it('echoes through ECHO_SERVER; quietFor waits when nothing happens and returns early when something does', async () => {
    const { child, message } = await runProgram(ECHO_SERVER);
    const watch = await connectWatched('127.0.0.1', message.port as number);
    sockets.push(watch.socket);
    await echoRoundTrip(watch, 'hello');
    expect(watch.bytesIn).toBe(5);

    watch.mark();
    const started = performance.now();
    expect(await quietFor([watch], 150)).toBeUndefined();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);

    // The server dies with a FIN: failureWithin sees the close long before its limit.
    const failure = failureWithin(watch, 5_000);
    child.kill('SIGKILL');
    expect((await failure)?.atMs).toBeLessThan(5_000);
    expect(watch.eventsSinceMark.map((e) => e.type)).toContain('close');
  });

  it('quietFor and failureWithin end early with undefined when their signal aborts', async () => {
    const server = net.createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const watch = await connectWatched('127.0.0.1', (server.address() as net.AddressInfo).port);
      sockets.push(watch.socket);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 50);
      const started = performance.now();
      const [quiet, failure] = await Promise.all([quietFor([watch], 10_000, undefined, controller.signal), failureWithin(watch, 10_000, controller.signal)]);
      expect(quiet).toBeUndefined();
      expect(failure).toBeUndefined();
      expect(performance.now() - started).toBeLessThan(2_000);
      // A signal aborted before the call (the scorecard aborted during a scenario's setup) fires no event:
      // the waits must still end at once, not after their 10 s.
      const again = performance.now();
      const [lateQuiet, lateFailure, lateBytes] = await Promise.all([
        quietFor([watch], 10_000, undefined, controller.signal),
        failureWithin(watch, 10_000, controller.signal),
        watch.readBytes(watch.bytesIn + 1, 10_000, controller.signal),
      ]);
      expect([lateQuiet, lateFailure, lateBytes]).toEqual([undefined, undefined, watch.bytesIn]);
      expect(performance.now() - again).toBeLessThan(2_000);
    } finally {
      server.close();
    }
  });

  it('SIZED_RESPONSE_SERVER answers N bytes; REQUEST_CLIENT counts results per batch', async () => {
    const { message } = await runProgram(SIZED_RESPONSE_SERVER);
    const port = message.port as number;
    const watch = new SocketWatch(net.connect(port, '127.0.0.1'));
    sockets.push(watch.socket);
    watch.socket.write('70000\n');
    expect(await watch.readBytes(70_000, 5_000)).toBe(70_000);

    const { message: counts } = await runProgram(REQUEST_CLIENT, ['127.0.0.1', String(port), '25', 'reused', '10']);
    expect(counts).toMatchObject({ ok: 25, errors: {}, batchErrors: [0, 0, 0] });
  });

  it('SLOW_RESPONSE_SERVER thinks, then answers N bytes in chunks with gaps, requests in order', async () => {
    const { message } = await runProgram(SLOW_RESPONSE_SERVER, ['300', '1000', '100']);
    const watch = new SocketWatch(net.connect(message.port as number, '127.0.0.1'));
    sockets.push(watch.socket);
    await watch.next(['connect'], 5_000);
    watch.mark();
    const sent = performance.now();
    const since = () => performance.now() - sent;
    watch.socket.write('3000\n10\n');
    await watch.next(['data'], 5_000);
    const firstMs = since();
    expect(await watch.readBytes(3_000, 10_000)).toBeGreaterThanOrEqual(3_000);
    const firstAnswerMs = since();
    expect(await watch.readBytes(3_010, 10_000)).toBe(3_010);
    const secondAnswerMs = since();
    // Lower bounds only (timers fire no earlier than asked; 1 ms of rounding allowed): a loaded
    // host may deliver two chunks in one read, but never before their time.
    expect(firstMs).toBeGreaterThanOrEqual(299); // think
    expect(firstAnswerMs).toBeGreaterThanOrEqual(499); // think + two gaps between three chunks
    expect(secondAnswerMs).toBeGreaterThanOrEqual(799); // then the second request's own think
  });
});
