import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createAckServer } from '../../packages/ack/src/index.js';
import { createFaultProxy } from '../../packages/chaos/src/index.js';
import { reportResult } from '../support/report.js';

/**
 * FM-10, slow reader: the server reads 1 KB/s (the chaos proxy's bandwidth
 * fault on client → server) while the client offers 100 MB in 64 KB
 * messages for a few seconds. Each client runs in its own process so its
 * RSS is its own. Naive: socket.write() ignoring its return value — all
 * 100 MB lands in the socket's user-space buffer. Ack client: the window,
 * the queue and write()/drain bound what it holds to `maxBufferedBytes`;
 * `send()` waits (policy 'wait') or fails with BW_ERR_BACKPRESSURE ('reject').
 * Runs on loopback: no root needed.
 */

const HOOKS = fileURLToPath(new URL('../support/ts-hooks.ts', import.meta.url));
const OFFER_BYTES = 100 * 1024 * 1024;
const MESSAGE_BYTES = 64 * 1024;
const BOUND_BYTES = 4 * 1024 * 1024;
const OFFER_MS = 4_000;
const SLACK_BYTES = 20 * 1024 * 1024;

/** argv: port. Writes 100 MB at once, ignoring write()'s return value. */
const NAIVE_CLIENT = `
import net from 'node:net';
const socket = net.connect(Number(process.argv[1]), '127.0.0.1');
socket.on('error', () => {});
await new Promise((r) => socket.once('connect', r));
globalThis.gc?.();
const base = process.memoryUsage().rss;
let peakRss = base;
for (let sent = 0; sent < ${OFFER_BYTES}; sent += ${MESSAGE_BYTES}) socket.write(Buffer.alloc(${MESSAGE_BYTES}, 1));
const writable = socket.writableLength;
const until = performance.now() + ${OFFER_MS};
while (performance.now() < until) {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  await new Promise((r) => setTimeout(r, 100));
}
console.log(JSON.stringify({ writableLength: writable, rssGrowth: peakRss - base }));
socket.destroy();
`;

/** argv: port policy. Offers 100 MB through the ack client for a few seconds, 128 producers. */
const ACK_CLIENT = `
const { createAckClient } = await import('@breakwater/ack');
const [portText, policy] = process.argv.slice(1);
const client = createAckClient({
  port: Number(portText),
  maxBufferedBytes: ${BOUND_BYTES},
  overflowPolicy: policy,
  // A 64 KB frame takes a minute at 1 KB/s and PINGs wait behind it: this link is slow, not dead.
  ackTimeoutMs: 120_000, heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 120_000, sendTimeoutMs: 120_000,
  socket: { stallTimeoutMs: 0 },
});
await new Promise((r) => client.once('connected', r));
globalThis.gc?.();
const base = process.memoryUsage().rss;
let peakRss = base, peakBuffered = 0, offered = 0, acked = 0, waiting = 0;
const rejected = {};
let stop = false;
const sample = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  const s = client.stats();
  peakBuffered = Math.max(peakBuffered, s.bufferedBytes);
  waiting = Math.max(waiting, s.waiting);
};
const sampler = setInterval(sample, 50);
const producers = Array.from({ length: 128 }, async () => {
  // A rejected message is offered again (the same buffer) after a pause, as a real producer would.
  let message;
  while (!stop && offered < ${OFFER_BYTES}) {
    if (message === undefined) { message = Buffer.alloc(${MESSAGE_BYTES}, 2); offered += ${MESSAGE_BYTES}; }
    try { await client.send(message); acked++; message = undefined; }
    catch (e) {
      rejected[e.code] = (rejected[e.code] ?? 0) + 1;
      if (e.code === 'BW_ERR_BACKPRESSURE') await new Promise((r) => setTimeout(r, 100));
    }
  }
});
await new Promise((r) => setTimeout(r, ${OFFER_MS}));
stop = true;
sample();
clearInterval(sampler);
await client.destroy();
await Promise.all(producers);
console.log(JSON.stringify({ rssGrowth: peakRss - base, peakBuffered, offered, acked, waiting, rejected }));
`;

function runChild(source: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', HOOKS, '--input-type=module', '-e', source, '--', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      err += c;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new Error(`child exited ${code} without a result: ${err.slice(-2_000)}`));
      }
    });
  });
}

describe('FM-10 slow reader (1 KB/s) while the client offers 100 MB', () => {
  it('naive writes buffer ~100 MB in user space; the ack client stays under its bound + 20 MB and waits or rejects per policy', async () => {
    const server = createAckServer({ handler: () => {} });
    const { port } = await server.listen();
    const proxy = await createFaultProxy({ target: { port }, seed: 10, faults: [{ type: 'bandwidth', bytesPerSecond: 1_024, direction: 'upstream' }] });
    try {
      const naive = (await runChild(NAIVE_CLIENT, [String(proxy.port)])) as { writableLength: number; rssGrowth: number };
      expect(naive.writableLength).toBeGreaterThan(90 * 1024 * 1024);
      expect(naive.rssGrowth).toBeGreaterThan(80 * 1024 * 1024);

      const wait = (await runChild(ACK_CLIENT, [String(proxy.port), 'wait'])) as {
        rssGrowth: number;
        peakBuffered: number;
        waiting: number;
        rejected: Record<string, number>;
      };
      expect(wait.peakBuffered).toBeLessThanOrEqual(BOUND_BYTES);
      expect(wait.rssGrowth).toBeLessThan(BOUND_BYTES + SLACK_BYTES);
      expect(wait.waiting).toBeGreaterThan(0); // send() waited for room
      expect(Object.keys(wait.rejected).filter((c) => c !== 'BW_ERR_CLOSED')).toEqual([]);

      const reject = (await runChild(ACK_CLIENT, [String(proxy.port), 'reject'])) as {
        rssGrowth: number;
        peakBuffered: number;
        rejected: Record<string, number>;
      };
      expect(reject.peakBuffered).toBeLessThanOrEqual(BOUND_BYTES);
      expect(reject.rssGrowth).toBeLessThan(BOUND_BYTES + SLACK_BYTES);
      expect(reject.rejected.BW_ERR_BACKPRESSURE ?? 0).toBeGreaterThan(0);

      const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
      reportResult(
        { fm: 'FM-10', side: 'naive', metric: 'userSpaceBufferedBytes', value: naive.writableLength, unit: 'bytes' },
        `100 MB offered to a 1 KB/s reader: writableLength ${mb(naive.writableLength)} MB, RSS +${mb(naive.rssGrowth)} MB`,
      );
      reportResult(
        { fm: 'FM-10', side: 'breakwater', metric: 'rssGrowthBytes', value: Math.max(wait.rssGrowth, reject.rssGrowth), unit: 'bytes' },
        `bound ${mb(BOUND_BYTES)} MB: 'wait' buffered ≤ ${mb(wait.peakBuffered)} MB, RSS +${mb(wait.rssGrowth)} MB, ${wait.waiting} sends waiting; ` +
          `'reject' buffered ≤ ${mb(reject.peakBuffered)} MB, RSS +${mb(reject.rssGrowth)} MB, ${reject.rejected.BW_ERR_BACKPRESSURE} × BW_ERR_BACKPRESSURE`,
      );
    } finally {
      await proxy.close();
      await server.close();
    }
  }, 120_000);
});
