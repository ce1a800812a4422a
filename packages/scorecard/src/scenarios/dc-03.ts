import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type AckClientOptions, createAckClient, createAckServer } from '@breakwater/ack';
import type { Measurement, Scenario, ScenarioContext } from '../types.js';
import { blameOptions, whose } from './config-support.js';
import { type Child, childImport, spawnChild, wait } from './resilience-support.js';

// DC-03, restarted outbox (issue #14): a client process hands 300 messages
// to its sender and is SIGKILLed mid-stream (100 handled, some handled but
// not yet acknowledged, the rest queued), then a new process starts. Naively
// the queue lived in memory: the new process has nothing to resend and every
// message not yet handled is lost. The ack client with an outbox
// (`outboxPath`, SQLite) resends what the dead process had not seen
// acknowledged, under the same session: the server's dedup answers those it
// already handled, so every message reaches the handler exactly once.
// Healthy twin: a clean close and restart on the same outbox, beside a
// handler that takes its time: nothing is resent.

const TOTAL = 300;
/** The handler holds messages past this many until the sender is dead: handled, never acknowledged. */
const KILL_AFTER = 100;
const TWIN_MESSAGES = 20;
const TWIN_HANDLER_MS = 150;

/** A fresh outbox file, deleted by the scenario's defers. */
function outboxFile(ctx: ScenarioContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'bw-scorecard-outbox-'));
  ctx.defer(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'outbox.sqlite');
}

/** Handler calls per payload; calls past KILL_AFTER wait for `release()`. */
function counter() {
  const seen = new Map<string, number>();
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  return {
    seen,
    release,
    async handle(payload: string) {
      seen.set(payload, (seen.get(payload) ?? 0) + 1);
      if (seen.size > KILL_AFTER) await gate;
    },
    lost: () => TOTAL - seen.size,
    twice: () => [...seen.values()].filter((n) => n > 1).length,
  };
}

async function until(ctx: ScenarioContext, condition: () => boolean, ms: number): Promise<boolean> {
  for (const end = performance.now() + ms; !condition(); ) {
    if (performance.now() > end) return false;
    await wait(ctx, 5);
  }
  return true;
}

async function kill(ctx: ScenarioContext, child: Child, handled: () => number): Promise<void> {
  if (!(await until(ctx, () => handled() > KILL_AFTER, 15_000))) throw new Error(`the sender handed over ${handled()} messages in 15 s, not ${KILL_AFTER}`);
  process.kill(child.pid, 'SIGKILL');
  await child.exited;
}

// The naive sender: an in-memory queue, one message at a time, each sent when the last was answered.
const NAIVE_SENDER = `
import net from 'node:net';
const socket = net.connect(Number(process.argv[1]), '127.0.0.1');
socket.on('error', () => {});
await new Promise((r) => socket.once('connect', r));
const queue = Array.from({ length: Number(process.argv[2]) }, (_, i) => 'm-' + i);
console.log(JSON.stringify({ queued: queue.length }));
let answered = () => {};
socket.on('data', () => answered());
for (const m of queue) {
  const ok = new Promise((r) => { answered = r; });
  socket.write(m + '\\n');
  await ok;
}
`;

async function naiveSide(ctx: ScenarioContext): Promise<Measurement> {
  const c = counter();
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let pending = '';
    s.on('data', (chunk) => {
      pending += chunk.toString();
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const m = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        void c.handle(m).then(() => s.writable && s.write('ok\n'));
      }
    });
  });
  ctx.defer(() => new Promise((r) => server.close(r)));
  ctx.defer(() => c.release());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const child = spawnChild(ctx, NAIVE_SENDER, [String((server.address() as net.AddressInfo).port), String(TOTAL)]);
  await child.ready;
  await kill(ctx, child, () => c.seen.size);
  c.release();
  // The restarted process starts with an empty queue: there is nothing to resend. Give the held ones time to finish.
  await wait(ctx, 300);
  return {
    value: c.lost(),
    unit: 'count',
    text: `${c.lost()}/${TOTAL} lost (${c.seen.size} handled before the kill; the new process's queue is empty)`,
    ok: c.lost() > 0,
  };
}

// The Breakwater sender: the ack client on an outbox, killed mid-stream like the naive one.
const ACK_SENDER = `
const { createAckClient } = await import(process.argv[1]);
const client = createAckClient({ ...JSON.parse(process.argv[2]), port: Number(process.argv[3]), outboxPath: process.argv[4] });
for (let i = 0; i < Number(process.argv[5]); i++) client.send('m-' + i).catch(() => {});
console.log(JSON.stringify({ session: client.session }));
`;

/** A client with the user's options; `outboxPath` and the server's port are the scenario's. */
type Options = Omit<AckClientOptions, 'endpoints' | 'host' | 'port' | 'outboxPath'>;

async function breakwaterSide(ctx: ScenarioContext, options: Options): Promise<Measurement> {
  const c = counter();
  const server = createAckServer({ handler: (p) => c.handle(p.toString()) });
  ctx.defer(() => server.destroy());
  ctx.defer(() => c.release());
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const outboxPath = outboxFile(ctx);
  const child = spawnChild(ctx, ACK_SENDER, [childImport('@breakwater/ack'), JSON.stringify(options), String(port), outboxPath, String(TOTAL)]);
  const { session } = await child.ready;
  await kill(ctx, child, () => c.seen.size);
  const handledBefore = c.seen.size;
  c.release();
  const restarted = createAckClient({ ...options, host: '127.0.0.1', port, outboxPath });
  ctx.defer(() => restarted.destroy());
  let recovered = 0;
  restarted.on('recovered', () => recovered++);
  await until(ctx, () => c.seen.size === TOTAL, 20_000);
  await restarted.close({ deadlineMs: 5_000 });
  const { duplicates } = server.stats();
  const ok = c.lost() === 0 && c.twice() === 0 && restarted.session === session;
  return {
    value: c.lost() + c.twice(),
    unit: 'count',
    text: `${TOTAL - c.lost()}/${TOTAL} handled, ${c.twice()} twice (${handledBefore} before the kill; ${recovered} resent from the outbox, ${duplicates} answered from dedup)`,
    ok,
  };
}

/**
 * Healthy twin: a client on a fresh outbox sends TWIN_MESSAGES to a handler
 * taking TWIN_HANDLER_MS each, closes cleanly; a new client on the same
 * outbox sends TWIN_MESSAGES more. Nothing may be resent: no message
 * recovered, none retransmitted, every one handled once.
 */
export async function cleanRestartTwin(ctx: ScenarioContext, options: Options): Promise<Measurement> {
  const seen = new Map<string, number>();
  const server = createAckServer({
    handler: async (p) => {
      seen.set(p.toString(), (seen.get(p.toString()) ?? 0) + 1);
      await wait(ctx, TWIN_HANDLER_MS);
    },
  });
  ctx.defer(() => server.destroy());
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const outboxPath = outboxFile(ctx);
  let resent = 0;
  for (const run of ['first', 'second']) {
    const client = createAckClient({ ...options, host: '127.0.0.1', port, outboxPath });
    ctx.defer(() => client.destroy());
    client.on('recovered', () => resent++);
    client.on('retransmitted', () => resent++);
    await Promise.all(Array.from({ length: TWIN_MESSAGES }, (_, i) => client.send(`${run}-${i}`, { signal: ctx.signal })));
    await client.close();
  }
  const handled = [...seen.values()];
  const { duplicates } = server.stats();
  const ok = resent === 0 && duplicates === 0 && handled.length === 2 * TWIN_MESSAGES && handled.every((n) => n === 1);
  return {
    value: resent + duplicates,
    unit: 'count',
    text: ok
      ? `clean restart: 0 resent, ${handled.length}/${2 * TWIN_MESSAGES} handled once`
      : `clean restart: ${resent} resent, ${duplicates} duplicates at the server, ${handled.length}/${2 * TWIN_MESSAGES} handled`,
    ok,
  };
}

export const DC_03: Scenario = {
  id: 'DC-03',
  title: 'Restarted outbox (sender SIGKILLed)',
  bound: 'every message handled exactly once after the restart',
  naiveExpectation: 'messages lost (in-memory queue)',
  twinExpectation: 'a clean close and restart beside a slow handler: nothing resent',
  requires: [],
  budgetMs: 40_000,
  async run(ctx) {
    ctx.progress('naive: an in-memory queue, SIGKILLed mid-stream');
    const naive = await naiveSide(ctx);
    ctx.progress('breakwater: ack client on an outbox, SIGKILLed mid-stream, restarted');
    const breakwater = await breakwaterSide(ctx, ctx.config.ack);
    ctx.progress('healthy twin: a clean restart');
    const twin = blameOptions(ctx, await cleanRestartTwin(ctx, ctx.config.ack), ctx.config.ack, ['ackTimeoutMs', 'heartbeatIntervalMs', 'heartbeatTimeoutMs']);
    return {
      naive,
      breakwater,
      twin,
      notes: [
        `${TOTAL} messages, the sender process SIGKILLed once ${KILL_AFTER} were handled (the handler holds later ones until then: handled, never acknowledged), then a new sender process; counted at the handler (the test suite: the same, plus restarts within and past the dedup horizon)`,
        `naive: an in-memory queue sending one message per answer over TCP; Breakwater: ${whose(ctx, 'ack client', ctx.config.ack)} with outboxPath (SQLite, durability normal: survives a process crash)`,
        ...((ctx.config.ack.clock ?? ctx.config.ack.retryBudget)
          ? ['your ack `clock` and `retryBudget` are not applied: the sender process gets the options as JSON']
          : []),
      ],
    };
  },
};
