import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { type Ack, createAckClient, createAckServer, encodeFrame, type Frame, FrameDecoder } from '../../packages/ack/src/index.js';
import { SqliteOutbox } from '../../packages/ack/src/SqliteOutbox.js';

// Issue #14, point 1: a client with an outbox that is started again on the
// same file — after a clean close, after a SIGKILL mid-send, after the
// server forgot its session — never reuses an id the server has seen under
// that session. Reusing one is silent loss: the server's dedup window
// acknowledges the new message as a duplicate without running the handler.
// Every message is counted at the handler.

const HOOKS = fileURLToPath(new URL('../support/ts-hooks.ts', import.meta.url));
const COUNT = 50;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function outboxFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bw-ack-restart-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'outbox.sqlite');
}

/**
 * Counts every handler call by payload. With `gateAfter`, calls past that many
 * are counted, then held until `release()`: handled, but not acknowledged yet.
 */
async function countingServer(options: { dedupHorizonMs?: number; gateAfter?: number } = {}) {
  const seen = new Map<string, number>();
  const { gateAfter = Number.POSITIVE_INFINITY, ...rest } = options;
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  cleanups.push(() => release());
  let calls = 0;
  const server = createAckServer({
    ...rest,
    handler: async (p) => {
      seen.set(p.toString(), (seen.get(p.toString()) ?? 0) + 1);
      if (++calls > gateAfter) await gate;
    },
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  return { server, port, seen, release };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in 20 s');
    await delay(5);
  }
}

async function sendBatch(port: number, outboxPath: string, prefix: string, durability?: 'fsync'): Promise<{ session: string; ids: number[] }> {
  const client = createAckClient({ port, outboxPath, ...(durability === undefined ? {} : { durability }) });
  const acks = await Promise.all(Array.from({ length: COUNT }, (_, i) => client.send(`${prefix}-${i}`)));
  await client.close();
  return { session: client.session, ids: acks.map((a) => a.id) };
}

const exactlyOnce = (seen: Map<string, number>, expected: number) => {
  expect([...seen.entries()].filter(([, n]) => n !== 1)).toEqual([]);
  expect(seen.size).toBe(expected);
};

/** The old rule by hand: HELLO with `session`, DATA ids 1… again. Returns how many the server acknowledged. */
async function replayIds(port: number, session: string, prefix: string): Promise<number> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  await new Promise((r) => socket.once('connect', r));
  const decoder = new FrameDecoder();
  const acked = new Set<number>();
  const done = new Promise<void>((resolve) =>
    socket.on('data', (c) => {
      for (const f of decoder.push(c) as Frame[]) if (f.type === 'ack') acked.add(f.id);
      if (acked.size === COUNT) resolve();
    }),
  );
  socket.write(encodeFrame({ type: 'hello', session: Buffer.from(session, 'hex'), window: COUNT }));
  for (let id = 1; id <= COUNT; id++) socket.write(encodeFrame({ type: 'data', id, floor: 1, payload: Buffer.from(`${prefix}-${id}`) }));
  await done;
  socket.destroy();
  return acked.size;
}

it('a clean restart within the dedup horizon: every new message reaches the handler (ids reused: none does)', async () => {
  const { server, port, seen } = await countingServer();
  const outboxPath = outboxFile();
  const first = await sendBatch(port, outboxPath, 'first');
  const second = await sendBatch(port, outboxPath, 'second');
  exactlyOnce(seen, 2 * COUNT);
  expect(server.stats()).toMatchObject({ handled: 2 * COUNT, duplicates: 0 });
  // Nothing was left to resend, so the second run owes nothing to the first session.
  expect(second.session).not.toBe(first.session);

  // Control, the old rule: the same session with ids from 1 again is acknowledged in full and handled never.
  expect(await replayIds(port, first.session, 'replayed')).toBe(COUNT);
  expect([...seen.keys()].filter((k) => k.startsWith('replayed'))).toEqual([]);
  expect(server.stats()).toMatchObject({ handled: 2 * COUNT, duplicates: COUNT });
});

it('a restart after the dedup horizon (the server forgot the session), with durability fsync: every message exactly once', async () => {
  const { server, port, seen } = await countingServer({ dedupHorizonMs: 100 });
  const outboxPath = outboxFile();
  await sendBatch(port, outboxPath, 'before', 'fsync');
  await delay(300);
  await sendBatch(port, outboxPath, 'after', 'fsync');
  exactlyOnce(seen, 2 * COUNT);
  expect(server.stats().duplicates).toBe(0);
});

it('destroy() with messages in flight, then a restart: the rest is resent under the old session, new ids never collide', async () => {
  const { port, seen, release } = await countingServer({ gateAfter: 20 });
  const outboxPath = outboxFile();
  const a = createAckClient({ port, outboxPath, maxInFlight: 8 });
  let resolved = 0;
  const sends = Array.from({ length: COUNT }, (_, i) =>
    a.send(`old-${i}`).then(
      (ack) => {
        resolved++;
        return ack;
      },
      () => undefined,
    ),
  );
  // 20 acknowledged, the next ones handled or running but not acknowledged, the rest queued.
  await until(() => resolved === 20 && seen.size > 20);
  await a.destroy();
  release();
  const oldAcks = (await Promise.all(sends)).filter((x) => x !== undefined);
  const acked = oldAcks.length;
  expect(acked).toBe(20);

  const b = createAckClient({ port, outboxPath, maxInFlight: 8 });
  cleanups.push(() => b.destroy());
  expect(b.session).toBe(a.session);
  const recovered: (Ack | undefined)[] = [];
  b.on('recovered', ({ ack }) => recovered.push(ack));
  const fresh = await Promise.all(Array.from({ length: COUNT }, (_, i) => b.send(`new-${i}`)));
  await b.close();
  expect(recovered.length + acked).toBe(COUNT);
  expect(recovered.every((r) => r !== undefined)).toBe(true);
  expect(Math.min(...fresh.map((f) => f.id))).toBeGreaterThan(Math.max(COUNT, ...oldAcks.map((x) => x.id)));
  exactlyOnce(seen, 2 * COUNT);
});

const CRASHING_CLIENT = `
const { createAckClient } = await import('@breakwater/ack');
const [port, outboxPath, count] = process.argv.slice(1);
const client = createAckClient({ port: Number(port), outboxPath, maxInFlight: 16 });
for (let i = 0; i < Number(count); i++) client.send('crash-' + i).catch(() => {});
console.log(JSON.stringify({ session: client.session }));
`;

it('SIGKILL mid-send, then a new client on the outbox: old and new messages each handled exactly once', async () => {
  const TOTAL = 300;
  const { server, port, seen, release } = await countingServer({ gateAfter: TOTAL / 3 });
  const outboxPath = outboxFile();
  const child = spawn(process.execPath, ['--import', HOOKS, '--input-type=module', '-e', CRASHING_CLIENT, '--', String(port), outboxPath, String(TOTAL)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  const exited = new Promise((r) => child.once('exit', r));
  const { session } = await new Promise<{ session: string }>((resolve, reject) => {
    child.stdout.once('data', (c) => resolve(JSON.parse(String(c)) as { session: string }));
    child.once('exit', (code) => reject(new Error(`client exited early (${code})`)));
  });
  // Killed mid-stream: 100 handled and acknowledged (or not yet), some handled and held, the rest queued.
  await until(() => seen.size > TOTAL / 3);
  child.kill('SIGKILL');
  await exited;
  release();
  const handledBeforeCrash = seen.size;
  expect(handledBeforeCrash).toBeLessThan(TOTAL);

  const check = new SqliteOutbox(outboxPath);
  const left = check.size();
  check.close();
  // Everything the dead client did not see acknowledged is still there, handled or not.
  expect(left).toBeGreaterThanOrEqual(TOTAL - handledBeforeCrash);

  const client = createAckClient({ port, outboxPath, maxInFlight: 16 });
  cleanups.push(() => client.destroy());
  expect(client.session).toBe(session);
  const recovered: (Ack | undefined)[] = [];
  const allRecovered = new Promise<void>((resolve) =>
    client.on('recovered', ({ ack }) => {
      if (recovered.push(ack) === left) resolve();
    }),
  );
  const fresh = await Promise.all(Array.from({ length: COUNT }, (_, i) => client.send(`after-${i}`)));
  await allRecovered;
  await client.close();
  expect(recovered.filter((a) => a === undefined)).toEqual([]);
  exactlyOnce(seen, TOTAL + COUNT);
  // Those held in the handler at the kill were handled, never acknowledged: resent, and answered from dedup.
  expect(server.stats().duplicates).toBeGreaterThanOrEqual(handledBeforeCrash - TOTAL / 3);
  expect(fresh.every((a) => a.attempts === 1)).toBe(true);
});

it('an outbox left by 0.1.0 (no high-water mark) with a message stuck below acknowledged ones: migrated, no id reused', async () => {
  const { server, port, seen } = await countingServer();
  // What 0.1.0 left behind: session S, ids 1…50 sent and handled, only id 10 still unsettled in the file.
  const session = Buffer.alloc(16, 0x5a);
  expect(await replayIds(port, session.toString('hex'), 'v1')).toBe(COUNT);
  const outboxPath = outboxFile();
  const db = new DatabaseSync(outboxPath);
  db.exec('CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL); CREATE TABLE outbox (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);');
  db.prepare("INSERT INTO meta (key, value) VALUES ('session', ?)").run(session);
  db.prepare('INSERT INTO outbox (id, payload) VALUES (10, ?)').run(Buffer.from('v1-10'));
  db.close();

  const client = createAckClient({ port, outboxPath });
  cleanups.push(() => client.destroy());
  expect(client.session).toBe(session.toString('hex'));
  const recovered = new Promise<{ ack: Ack | undefined }>((r) => client.once('recovered', r));
  // 0.1.0 would have given these ids 11…60: 11…50 acknowledged as duplicates, never handled.
  const fresh = await Promise.all(Array.from({ length: COUNT }, (_, i) => client.send(`new-${i}`)));
  expect((await recovered).ack).toBeDefined();
  await client.close();
  expect(Math.min(...fresh.map((a) => a.id))).toBeGreaterThan(COUNT);
  exactlyOnce(seen, 2 * COUNT);
  expect(server.stats().duplicates).toBe(1);
});
