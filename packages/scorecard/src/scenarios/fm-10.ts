import { ACK_CLIENT_DEFAULTS, createAckClient, createAckServer } from '@breakwater/ack';
import { createFaultProxy } from '@breakwater/chaos';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, whose, withDefeat } from './config-support.js';
import { aborted, childImport, round, spawnChild, thin } from './resilience-support.js';

// FM-10, slow reader: the server reads 1 KB/s (the chaos proxy's bandwidth
// fault on client → server) while the client offers 100 MB in 64 KB messages
// for 4 s. Each client runs in its own process so its RSS is its own.
// Naive: socket.write() ignoring its return value — the whole offer lands in
// user space. The ack client with its defaults holds at most
// maxBufferedBytes (8 MiB); send() waits for room or fails with a typed error.
// Healthy twin: a server reading as fast as it can, sent to steadily by the
// ack client with the same options: no send waits, none is refused.

const OFFER_MB = 100;
const OFFER_MS = 4_000;
const BOUND_BYTES = ACK_CLIENT_DEFAULTS.maxBufferedBytes;
/** RSS is more than buffers: the heap, the code, allocator slack. The test suite allows the same 20 MB. */
const SLACK_BYTES = 20 * 1024 * 1024;
const MB = 1024 * 1024;
/** The twin's traffic: TWIN_MESSAGES of 64 KB, TWIN_PRODUCERS sends at a time (1 MiB in flight, far below the bound). */
const TWIN_MESSAGES = 128;
const TWIN_PRODUCERS = 16;

// Both children print {"rss": growth in bytes} every 100 ms, then one {"done": …} line.
const SAMPLER = `
globalThis.gc?.();
const base = process.memoryUsage().rss;
const sampler = setInterval(() => console.log(JSON.stringify({ rss: process.memoryUsage().rss - base })), 100);
const until = (ms) => new Promise((r) => setTimeout(r, ms));
`;

const NAIVE_CLIENT = `
import net from 'node:net';
const socket = net.connect(Number(process.argv[1]), '127.0.0.1');
socket.on('error', () => {});
await new Promise((r) => socket.once('connect', r));
${SAMPLER}
for (let sent = 0; sent < ${OFFER_MB * MB}; sent += 65536) socket.write(Buffer.alloc(65536, 1));
const buffered = socket.writableLength;
await until(${OFFER_MS});
clearInterval(sampler);
console.log(JSON.stringify({ done: { buffered } }));
socket.destroy();
`;

const ACK_CLIENT = `
const { createAckClient } = await import(process.argv[2]);
const client = createAckClient({ ...JSON.parse(process.argv[3] ?? '{}'), port: Number(process.argv[1]) });
await new Promise((r) => client.once('connected', r));
${SAMPLER}
let peakBuffered = 0, waiting = 0, offered = 0, stop = false;
const errors = {};
const watch = setInterval(() => {
  const s = client.stats();
  peakBuffered = Math.max(peakBuffered, s.bufferedBytes);
  waiting = Math.max(waiting, s.waiting);
}, 20);
// More producers than the bound holds messages (8 MiB / 64 KB = 128): some must wait.
const producers = Array.from({ length: 256 }, async () => {
  let message;
  while (!stop && offered < ${OFFER_MB * MB}) {
    if (message === undefined) {
      message = Buffer.alloc(65536, 2);
      offered += 65536;
    }
    await client.send(message).then(
      () => { message = undefined; },
      async (e) => {
        // Errors after the offer ends are our own destroy(): not counted.
        if (!stop) errors[e.code ?? e.name] = (errors[e.code ?? e.name] ?? 0) + 1;
        // Refused for want of room (overflowPolicy 'reject'): offered again later, the same buffer, as a real producer would.
        if (e.code === 'BW_ERR_BACKPRESSURE') await until(100);
        else message = undefined;
      },
    );
  }
});
await until(${OFFER_MS});
stop = true;
clearInterval(sampler);
clearInterval(watch);
client.destroy();
await Promise.all(producers);
console.log(JSON.stringify({ done: { peakBuffered, waiting, errors } }));
`;

/**
 * Healthy twin: TWIN_MESSAGES × 64 KB to an ack server on loopback that
 * reads at full speed, TWIN_PRODUCERS at a time, by an ack client with
 * `clientOptions`. Healthy: every message acknowledged, no send waited for
 * room, none refused.
 */
export async function fastReaderTwin(ctx: ScenarioContext, clientOptions: Record<string, unknown>): Promise<Measurement> {
  const server = createAckServer({ handler: () => {} });
  ctx.defer(() => server.close());
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  ctx.signal.throwIfAborted();
  const client = createAckClient({ ...clientOptions, port });
  ctx.defer(() => client.destroy());
  await Promise.race([new Promise((resolve) => client.once('connected', resolve)), aborted(ctx)]);
  let waiting = 0;
  const watch = setInterval(() => {
    waiting = Math.max(waiting, client.stats().waiting);
  }, 5);
  ctx.defer(() => clearInterval(watch));
  const errors = new Map<string, number>();
  let acked = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: TWIN_PRODUCERS }, async () => {
      while (next++ < TWIN_MESSAGES && !ctx.signal.aborted) {
        await client.send(Buffer.alloc(65_536, 3)).then(
          () => acked++,
          (e: { code?: string; name?: string }) => errors.set(e.code ?? e.name ?? 'error', (errors.get(e.code ?? e.name ?? 'error') ?? 0) + 1),
        );
      }
    }),
  );
  clearInterval(watch);
  ctx.signal.throwIfAborted();
  const refused = [...errors.values()].reduce((a, b) => a + b, 0);
  const errorText = [...errors].map(([code, n]) => `, ${n} × ${code}`).join('');
  return {
    value: refused,
    unit: 'errors',
    text: `${acked}/${TWIN_MESSAGES} × 64 KB acked, ${waiting} waited for room${errorText}`,
    ok: acked === TWIN_MESSAGES && refused === 0 && waiting === 0,
  };
}

async function runClient(ctx: ScenarioContext, source: string, args: string[]) {
  const child = spawnChild(ctx, source, args, ['--expose-gc']);
  await Promise.race([child.exited, aborted(ctx)]);
  const done = child.lines.find((l) => 'done' in l)?.done as Record<string, unknown> | undefined;
  if (done === undefined) throw new Error('the client process exited without a result');
  const rss = child.lines.flatMap((l) => (typeof l.rss === 'number' ? [l.rss] : []));
  return { done, rss, peakRss: Math.max(0, ...rss) };
}

const mb = (bytes: number) => round(bytes / MB);

/** What each side's process reported, for the test suites. */
export interface Fm10Raw {
  naive: { buffered: number; peakRss: number };
  breakwater: { peakBuffered: number; waiting: number; errors: Record<string, number>; peakRss: number };
}

/** Variants for the test suites; the scorecard runs the defaults. */
export interface Fm10Options {
  /** The ack client's options in its process (JSON), over its defaults; the bound follows `maxBufferedBytes`. */
  client?: { maxBufferedBytes?: number; overflowPolicy?: 'wait' | 'reject' } & Record<string, unknown>;
  observe?: (raw: Fm10Raw) => void;
}

export function fm10Scenario(options: Fm10Options = {}): Scenario {
  return {
    id: 'FM-10',
    title: 'Slow reader / backpressure',
    bound: 'client memory stays under the bound; sender waits or gets a typed error',
    naiveExpectation: 'the whole offer piles up in user-space buffers',
    twinExpectation: `a fast reader: ${TWIN_MESSAGES} × 64 KB, ${TWIN_PRODUCERS} at a time, all acked; no send waits or is refused`,
    requires: [],
    budgetMs: 30_000,
    async run(ctx) {
      // The user's ack options cross into the client's process as JSON (functions and the outbox stay behind).
      const client = { ...ctx.config.ack, ...options.client };
      const given = client.maxBufferedBytes ?? BOUND_BYTES;
      // The user's buffer, at most the catalogue's: more is memory a slow reader may pin.
      const bound = options.client?.maxBufferedBytes ?? Math.min(given, BOUND_BYTES);
      // RSS beyond the buffer is heap and allocator, the same for any bound: a stricter buffer must not shrink the allowance.
      const rssBound = Math.max(bound, BOUND_BYTES) + SLACK_BYTES;
      const defeat = given > bound ? `maxBufferedBytes ${given} → a slow reader may pin ${mb(given)} MB, bound ${mb(BOUND_BYTES)} MB` : undefined;
      const server = createAckServer({ handler: () => {} });
      ctx.defer(() => server.close());
      const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
      ctx.signal.throwIfAborted();
      const proxy = await createFaultProxy({ target: { port }, faults: [{ type: 'bandwidth', bytesPerSecond: 1_024, direction: 'upstream' }] });
      ctx.defer(() => proxy.close());

      ctx.progress(`naive: ${OFFER_MB} MB of socket.write() to a 1 KB/s reader`);
      const naive = await runClient(ctx, NAIVE_CLIENT, [String(proxy.port)]);
      ctx.progress(`breakwater: ${OFFER_MB} MB offered through the ack client for ${OFFER_MS / 1000} s`);
      const bw = await runClient(ctx, ACK_CLIENT, [String(proxy.port), childImport('@breakwater/ack'), JSON.stringify(client)]);

      ctx.progress('healthy twin: a fast reader');
      const twin = blameOptions(ctx, await fastReaderTwin(ctx, client), client, ['maxBufferedBytes', 'overflowPolicy']);
      const naiveBuffered = naive.done.buffered as number;
      const peakBuffered = bw.done.peakBuffered as number;
      const waiting = bw.done.waiting as number;
      const errors = bw.done.errors as Record<string, number>;
      // Typed errors are the other acceptable answer; anything without a BW_ERR_ code is not.
      const untyped = Object.keys(errors).filter((code) => !code.startsWith('BW_ERR_'));
      options.observe?.({ naive: { buffered: naiveBuffered, peakRss: naive.peakRss }, breakwater: { peakBuffered, waiting, errors, peakRss: bw.peakRss } });
      const errorText = Object.entries(errors)
        .map(([code, n]) => `${n} × ${code}`)
        .join(', ');
      return {
        naive: {
          value: mb(naive.peakRss),
          unit: 'MB',
          text: `RSS +${mb(naive.peakRss)} MB, ${mb(naiveBuffered)} MB in writableLength`,
          // More than Breakwater is allowed to hold, in the socket's buffer and in RSS.
          ok: naiveBuffered > bound + SLACK_BYTES && naive.peakRss > rssBound,
          series: { label: 'RSS growth (MB, every 100 ms)', unit: 'MB', points: thin(naive.rss.map(mb)) },
        },
        breakwater: withDefeat(
          blameOptions(
            ctx,
            {
              value: mb(bw.peakRss),
              unit: 'MB',
              text: `RSS +${mb(bw.peakRss)} MB, buffered ≤ ${mb(peakBuffered)} of ${mb(bound)} MB; up to ${waiting} sends waiting for room${errorText ? `, ${errorText}` : ''}`,
              ok: peakBuffered <= bound && bw.peakRss < rssBound && (waiting > 0 || Object.keys(errors).length > 0) && untyped.length === 0,
              series: { label: 'RSS growth (MB, every 100 ms)', unit: 'MB', points: thin(bw.rss.map(mb)) },
            },
            defeat === undefined ? client : {},
            ['maxBufferedBytes', 'overflowPolicy'],
          ),
          defeat,
        ),
        twin,
        notes: [
          `${OFFER_MB} MB offered for ${OFFER_MS / 1000} s (the test suite: the same); reader at 1 KB/s through the chaos proxy; ${whose(ctx, 'ack client', ctx.config.ack)} (maxBufferedBytes ${mb(bound)} MB, overflowPolicy ${client.overflowPolicy ?? "'wait'"}); RSS bound = max(8 MiB, your buffer) + 20 MB for heap and allocator`,
        ],
      };
    },
  };
}

export const FM_10: Scenario = fm10Scenario();
