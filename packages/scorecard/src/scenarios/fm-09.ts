import net from 'node:net';
import { type Ack, type AckClientOptions, createAckClient, createAckServer } from '@breakwater/ack';
import { BreakwaterError, Deadline } from '@breakwater/core';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, whose } from './config-support.js';
import { aborted, type Child, childImport, spawnChild, thin, wait } from './resilience-support.js';

// FM-09, half-open: the server process is frozen with SIGSTOP mid-stream. Its
// kernel keeps ACKing and buffering, so a plain socket's write() callbacks all
// report success while nothing is processed. The ack client (defaults) hears
// no answer to its heartbeat, fails over to the second server and
// retransmits. Servers are child processes so that SIGSTOP is real.
// Healthy twin: a server whose handler blocks its process longer than the
// heartbeat interval (busy, not frozen for good) must not be failed over.

const NAIVE_WRITES = 100;
const MESSAGES = 200;
const FREEZE_AFTER = 50;

/** Prints {"port"}, then {"h": index} for each message it handles (before its ACK). A 2 ms handler keeps messages in flight. */
const ACK_SERVER = `
const { createAckServer } = await import(process.argv[1]);
const server = createAckServer({ handler: async (p) => {
  await new Promise((r) => setTimeout(r, 2));
  console.log(JSON.stringify({ h: p.readUInt32BE(0) }));
} });
const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ port }));
`;

/** The twin's handler blocks its server's process this long: past the default heartbeat interval (2 s), within its bound (2 s + 3 s). */
const BUSY_MS = 2_500;

/** Like ACK_SERVER, but each handler blocks the process (no PING answered meanwhile) for argv[2] ms. */
const BUSY_SERVER = `
const { createAckServer } = await import(process.argv[1]);
const server = createAckServer({ handler: (p) => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[2]));
  console.log(JSON.stringify({ h: p.readUInt32BE(0) }));
} });
const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
console.log(JSON.stringify({ port }));
`;

/** The naive receiver: prints {"bytes": n} for every chunk its application reads. */
const NAIVE_SERVER = `
import net from 'node:net';
const server = net.createServer((s) => s.on('error', () => {}).on('data', (c) => console.log(JSON.stringify({ bytes: c.length }))));
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

/** 64 bytes, the index first. */
function frame(i: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(i, 0);
  return b;
}

/** Variants for the test suites; the scorecard runs the defaults. */
export interface Fm09Options {
  /** Ack client options besides `endpoints` (e.g. a faster heartbeat). */
  client?: Omit<AckClientOptions, 'endpoints'>;
  /** Acked sends (default 200), the first server frozen after this many (default 50). */
  messages?: number;
  freezeAfter?: number;
  /** Each send's deadline (default: none). */
  deadlineMs?: number;
  /** SIGKILL the frozen servers once their kernel took the bytes (300 ms on the ack side, 500 ms on the naive). */
  kill?: boolean;
  /** Gets what both sides saw, before the result is made. */
  observe?: (raw: Fm09Raw) => void;
}

export interface Fm09Raw {
  naive: { writesOk: number; processed: number };
  breakwater: Awaited<ReturnType<typeof breakwater>>;
}

const handled = (c: Child) => c.lines.flatMap((l) => (typeof l.h === 'number' ? [l.h] : []));
const portOf = async (c: Child) => (await c.ready).port as number;

async function naive(ctx: ScenarioContext, options: Fm09Options) {
  const server = spawnChild(ctx, NAIVE_SERVER);
  const port = await portOf(server);
  const socket = net.connect(port, '127.0.0.1');
  ctx.defer(() => socket.destroy());
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  process.kill(server.pid, 'SIGSTOP');
  await wait(ctx, 100);
  const ok = await Promise.all(
    Array.from({ length: NAIVE_WRITES }, (_, i) => new Promise<boolean>((resolve) => socket.write(frame(1_000_000 + i), (err) => resolve(!err)))),
  );
  await wait(ctx, 500);
  if (options.kill === true) await killed(server);
  const bytes = server.lines.reduce((n, l) => n + (typeof l.bytes === 'number' ? l.bytes : 0), 0);
  return { writesOk: ok.filter(Boolean).length, processed: Math.floor(bytes / 64) };
}

async function killed(c: Child): Promise<void> {
  process.kill(c.pid, 'SIGKILL');
  await c.exited;
}

async function breakwater(ctx: ScenarioContext, options: Fm09Options) {
  const messages = options.messages ?? MESSAGES;
  const [a, b] = [spawnChild(ctx, ACK_SERVER, [childImport('@breakwater/ack')]), spawnChild(ctx, ACK_SERVER, [childImport('@breakwater/ack')])];
  const [portA, portB] = await Promise.all([portOf(a), portOf(b)]);
  const client = createAckClient({
    ...ctx.config.ack,
    ...options.client,
    endpoints: [
      { host: '127.0.0.1', port: portA },
      { host: '127.0.0.1', port: portB },
    ],
  });
  ctx.defer(() => client.destroy());
  const disconnects: string[] = [];
  client.on('disconnected', ({ error }) => disconnects.push((error as { code?: string } | undefined)?.code ?? 'closed'));
  const outcomes: { i: number; ack?: Ack; error?: unknown; ms: number }[] = [];
  let next = 0;
  const producers = Array.from({ length: 16 }, async () => {
    while (next < messages && !ctx.signal.aborted) {
      const i = next++;
      const t = performance.now();
      const deadline = options.deadlineMs === undefined ? undefined : Deadline.after(options.deadlineMs);
      await client.send(frame(i), { signal: ctx.signal, ...(deadline === undefined ? {} : { deadline }) }).then(
        (ack) => outcomes.push({ i, ack, ms: performance.now() - t }),
        (error: unknown) => outcomes.push({ i, error, ms: performance.now() - t }),
      );
      deadline?.dispose();
    }
  });
  while (outcomes.length < (options.freezeAfter ?? FREEZE_AFTER)) await wait(ctx, 2);
  process.kill(a.pid, 'SIGSTOP');
  const frozeAt = performance.now();
  if (options.kill === true) {
    await wait(ctx, 300); // the kernel takes (and ACKs) what the client writes meanwhile
    await killed(a);
  }
  await Promise.all(producers);
  const settledMs = performance.now() - frozeAt;
  ctx.signal.throwIfAborted();
  await wait(ctx, 300); // the last stdout lines of B
  return { outcomes, seenA: handled(a), seenB: handled(b), portB, disconnects, settledMs, retransmits: client.stats().retransmits };
}

/**
 * Healthy twin: one message to a server (a child process) whose handler
 * blocks it for BUSY_MS, a second server beside it, by an ack client with
 * `clientOptions`. Healthy: acked by the busy server, handled once, no
 * disconnect (no failover).
 */
export async function slowHandlerTwin(ctx: ScenarioContext, clientOptions: Omit<AckClientOptions, 'endpoints'> = {}): Promise<Measurement> {
  const busy = spawnChild(ctx, BUSY_SERVER, [childImport('@breakwater/ack'), String(BUSY_MS)]);
  const spare = createAckServer({ handler: () => {} });
  ctx.defer(() => spare.close());
  const [busyPort, { port: sparePort }] = await Promise.all([portOf(busy), spare.listen({ host: '127.0.0.1', port: 0 })]);
  ctx.signal.throwIfAborted();
  const client = createAckClient({
    ...clientOptions,
    endpoints: [
      { host: '127.0.0.1', port: busyPort },
      { host: '127.0.0.1', port: sparePort },
    ],
  });
  ctx.defer(() => client.destroy());
  let disconnects = 0;
  client.on('disconnected', () => disconnects++);
  const ack = await Promise.race([client.send(frame(7), { signal: ctx.signal }), aborted(ctx)]).catch((err: unknown) => err as Error);
  await wait(ctx, 100); // the busy server's stdout line
  const byBusy = !(ack instanceof Error) && Number(ack.endpoint.split(':').pop()) === busyPort;
  const handledTimes = handled(busy).length;
  return {
    value: disconnects,
    unit: 'count',
    text:
      ack instanceof Error
        ? `send failed: ${(ack as { code?: string }).code ?? ack.message}`
        : `${byBusy ? `acked by the busy server after its ${BUSY_MS / 1000} s handler` : 'failed over: acked by the spare server'}; ${disconnects} disconnect${disconnects === 1 ? '' : 's'}`,
    ok: byBusy && disconnects === 0 && handledTimes === 1,
  };
}

export function fm09Scenario(options: Fm09Options = {}): Scenario {
  const messages = options.messages ?? MESSAGES;
  return {
    id: 'FM-09',
    title: 'Half-open connection: write() succeeded, nobody received',
    bound: 'every message acked or reported failed; exactly-once delivery to the handler across reconnects',
    naiveExpectation: 'write() callbacks report success for messages the frozen server never processes',
    twinExpectation: `a handler blocking its server ${BUSY_MS / 1000} s (longer than the 2 s heartbeat interval): acked by that server, no failover`,
    requires: [],
    budgetMs: 30_000,
    async run(ctx) {
      // The healthy twin runs beside both sides (its own servers and client): it adds no wall time.
      const ack = { ...ctx.config.ack, ...options.client };
      const twin = slowHandlerTwin(ctx, ack).then((m) => blameOptions(ctx, m, ack, ['heartbeatIntervalMs', 'heartbeatTimeoutMs', 'ackTimeoutMs']));
      twin.catch(() => {});
      ctx.progress('naive: plain writes to a SIGSTOPped server');
      const plain = await naive(ctx, options);
      ctx.progress(`breakwater: ${messages} acked sends, server frozen after ${options.freezeAfter ?? FREEZE_AFTER}`);
      const r = await breakwater(ctx, options);
      options.observe?.({ naive: plain, breakwater: r });

      const acked = r.outcomes.filter((o) => o.ack !== undefined);
      const typed = r.outcomes.filter((o) => o.error instanceof BreakwaterError);
      const unreported = messages - acked.length - typed.length;
      // Acked means handled by the server that acknowledged it.
      const lost = acked.filter((o) => !(Number(o.ack?.endpoint.split(':').pop()) === r.portB ? r.seenB : r.seenA).includes(o.i)).length;
      const twiceByOne = [r.seenA, r.seenB].reduce((n, seen) => n + seen.length - new Set(seen).size, 0);
      const again = r.seenA.filter((i) => r.seenB.includes(i)).length;
      const byB = acked.filter((o) => Number(o.ack?.endpoint.split(':').pop()) === r.portB).length;
      const bad = lost + unreported + twiceByOne;
      const latencies = [...r.outcomes].sort((x, y) => x.i - y.i).map((o) => Math.round(o.ms));
      const notes = [
        `${NAIVE_WRITES} plain writes and ${MESSAGES} acked sends (the test suite: 100 and 400, also with SIGKILL); ${whose(ctx, 'ack client', ctx.config.ack)} (defaults: heartbeat 2 s + 3 s), two servers on loopback`,
      ];
      if (again > 0)
        notes.push(`${again} handled by the frozen server before its ACK left, then again by the second (dedup is per server process: see the ack README)`);
      return {
        naive: {
          value: plain.writesOk - plain.processed,
          unit: 'count',
          text: `${plain.writesOk}/${NAIVE_WRITES} writes "succeeded", ${plain.processed} processed`,
          ok: plain.writesOk === NAIVE_WRITES && plain.processed === 0,
        },
        breakwater: {
          value: bad,
          unit: 'count',
          text: `${acked.length}/${messages} acked (${byB} after failover), ${typed.length} typed errors, ${bad} lost or duplicated; settled ${(r.settledMs / 1000).toFixed(1)} s after the freeze`,
          ok: bad === 0 && r.disconnects.length > 0,
          series: { label: 'send latency by message (ms)', unit: 'ms', points: thin(latencies) },
        },
        twin: await twin,
        notes: [...notes, `disconnects: ${r.disconnects.join(', ') || 'none'}; ${r.retransmits} retransmits`],
      };
    },
  };
}

export const FM_09: Scenario = fm09Scenario();
