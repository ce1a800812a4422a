import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { type Ack, type AckClient, createAckClient, createAckServer } from '../../packages/ack/src/index.js';
import { SqliteOutbox } from '../../packages/ack/src/SqliteOutbox.js';

// Issue #14, point 1: when the outbox cannot record a message, send()
// rejects and the message is not transmitted; when it cannot delete a
// settled one, the send still settles and `outboxDeleteFailed` says so.
// The write failures are real: the client runs in a child whose file-size
// limit (RLIMIT_FSIZE, `ulimit -f`) the outbox's WAL runs into, so SQLite
// gets EFBIG from the kernel exactly as it would get ENOSPC on a full disk.

const HOOKS = fileURLToPath(new URL('../support/ts-hooks.ts', import.meta.url));
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'bw-ack-outbox-fail-'));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
const client = (options: Parameters<typeof createAckClient>[0]): AckClient => {
  const c = createAckClient(options);
  cleanups.push(() => c.destroy());
  return c;
};

async function countingServer() {
  const seen = new Map<string, number>();
  const server = createAckServer({ handler: (p) => void seen.set(p.toString(), (seen.get(p.toString()) ?? 0) + 1) });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  return { server, port, seen };
}

const LIMITED_CLIENT = `
const { createAckClient } = await import('@breakwater/ack');
const { subscribe } = await import('node:diagnostics_channel');
const [port, outboxPath, count] = process.argv.slice(1);
const client = createAckClient({ port: Number(port), outboxPath, maxInFlight: 256 });
const deleteFailed = [];
client.on('outboxDeleteFailed', ({ id, error }) => deleteFailed.push({ id, code: error.code }));
const published = [];
subscribe('breakwater:ack:outboxDeleteFailed', ({ id }) => published.push(id));
const results = await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    client.send('msg-' + i).then((a) => ({ payload: 'msg-' + i, id: a.id }), (e) => ({ payload: 'msg-' + i, code: e.code })),
  ),
);
await client.close();
console.log(JSON.stringify({ results, deleteFailed, published }));
`;

type Result = { payload: string; id?: number; code?: string };

it('a full disk: send() rejects with BW_ERR_OUTBOX_WRITE and sends nothing; failed deletes settle, emit, and are answered from dedup on restart', async () => {
  const { server, port, seen } = await countingServer();
  const outboxPath = join(dir(), 'outbox.sqlite');
  // 64 KiB per file: the WAL fills after about ten 4 KiB frames.
  const child = spawn(
    'bash',
    [
      '-c',
      'ulimit -f 64 && exec "$0" "$@"',
      process.execPath,
      '--import',
      HOOKS,
      '--input-type=module',
      '-e',
      LIMITED_CLIENT,
      '--',
      String(port),
      outboxPath,
      '40',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  cleanups.push(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (c) => {
    out += String(c);
  });
  const code = await new Promise((r) => child.once('exit', r));
  expect(code).toBe(0);
  const { results, deleteFailed, published } = JSON.parse(out) as { results: Result[]; deleteFailed: { id: number; code: string }[]; published: number[] };

  const acked = results.filter((r) => r.id !== undefined);
  const refused = results.filter((r) => r.id === undefined);
  expect(acked.length).toBeGreaterThan(0);
  expect(refused.length).toBeGreaterThan(0);
  expect(new Set(refused.map((r) => r.code))).toEqual(new Set(['BW_ERR_OUTBOX_WRITE']));
  // Refused means never transmitted: the handler saw exactly the acknowledged ones, once each.
  expect([...seen.keys()].sort()).toEqual(acked.map((r) => r.payload).sort());
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
  // The disk stayed full, so the deletes after those ACKs failed too: each was reported, none failed its send.
  expect(deleteFailed.length).toBeGreaterThan(0);
  expect(deleteFailed.every((d) => d.code === 'BW_ERR_OUTBOX_WRITE' && acked.some((a) => a.id === d.id))).toBe(true);
  expect(published).toEqual(deleteFailed.map((d) => d.id));

  // Restarted without the limit: the undeleted rows go out again and the server answers them from its dedup window.
  const check = new SqliteOutbox(outboxPath);
  const left = check.size();
  check.close();
  expect(left).toBe(deleteFailed.length);
  const handled = server.stats().handled;
  const again = client({ port, outboxPath });
  const recovered: (Ack | undefined)[] = [];
  await new Promise<void>((resolve) =>
    again.on('recovered', ({ ack }) => {
      if (recovered.push(ack) === left) resolve();
    }),
  );
  expect(recovered.every((a) => a !== undefined)).toBe(true);
  expect(server.stats()).toMatchObject({ handled, duplicates: left });
  // Healthy again: new messages are recorded, sent and handled.
  await again.send('after-the-disk-was-freed');
  expect(seen.get('after-the-disk-was-freed')).toBe(1);
  await again.close();
  const after = new SqliteOutbox(outboxPath);
  expect(after.size()).toBe(0);
  after.close();
});

it('a second client on the same outbox is refused with BW_ERR_OUTBOX_LOCKED; the first keeps working', async () => {
  const { port, seen } = await countingServer();
  const outboxPath = join(dir(), 'outbox.sqlite');
  const first = client({ port, outboxPath });
  expect(() => createAckClient({ port, outboxPath })).toThrow(expect.objectContaining({ code: 'BW_ERR_OUTBOX_LOCKED' }));
  await first.send('still fine');
  await first.close();
  // Healthy but unusual: the same file, straight after, in the same process.
  const next = client({ port, outboxPath });
  await next.send('next one');
  await next.close();
  expect([...seen.keys()]).toEqual(['still fine', 'next one']);
});

const HOLDING_CLIENT = `
const { createAckClient } = await import('@breakwater/ack');
const [port, outboxPath] = process.argv.slice(1);
const client = createAckClient({ port: Number(port), outboxPath });
await client.send('from-the-holder');
client.send('left-behind').catch(() => {});
console.log(JSON.stringify({ session: client.session }));
setInterval(() => {}, 1000);
`;

it('another process holding the outbox: refused while it runs, free the moment it is SIGKILLed (no stale lock)', async () => {
  const { port, seen } = await countingServer();
  const outboxPath = join(dir(), 'outbox.sqlite');
  const child = spawn(process.execPath, ['--import', HOOKS, '--input-type=module', '-e', HOLDING_CLIENT, '--', String(port), outboxPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanups.push(() => child.kill('SIGKILL'));
  const exited = new Promise((r) => child.once('exit', r));
  const { session } = await new Promise<{ session: string }>((resolve, reject) => {
    child.stdout.once('data', (c) => resolve(JSON.parse(String(c)) as { session: string }));
    child.once('exit', (code) => reject(new Error(`holder exited early (${code})`)));
  });
  expect(() => createAckClient({ port, outboxPath })).toThrow(expect.objectContaining({ code: 'BW_ERR_OUTBOX_LOCKED', retryable: true }));
  child.kill('SIGKILL');
  await exited;
  const next = client({ port, outboxPath });
  // Whatever the holder had not seen acknowledged is resumed under its session.
  if (next.session === session) await new Promise((r) => next.once('recovered', r));
  await next.close();
  expect(seen.get('from-the-holder')).toBe(1);
  expect(seen.get('left-behind')).toBe(1);
});

it('hostile outbox paths: a missing directory, a foreign file, a directory; an odd but valid path works', async () => {
  const { port, seen } = await countingServer();
  const d = dir();
  expect(() => createAckClient({ port, outboxPath: join(d, 'missing', 'outbox.sqlite') })).toThrow(
    expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'outboxPath' } }),
  );
  writeFileSync(join(d, 'notes.txt'), 'shopping list\n'.repeat(400));
  expect(() => createAckClient({ port, outboxPath: join(d, 'notes.txt') })).toThrow(expect.objectContaining({ code: 'BW_ERR_OUTBOX_INVALID' }));
  mkdirSync(join(d, 'a-directory'));
  expect(() => createAckClient({ port, outboxPath: join(d, 'a-directory') })).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION' }));
  const odd = client({ port, outboxPath: join(d, 'spaces and ünïcode — outbox.sqlite') });
  await odd.send('odd path');
  await odd.close();
  expect(seen.get('odd path')).toBe(1);
});

const OPENING_CLIENT = `
const { createAckClient } = await import('@breakwater/ack');
const [outboxPath] = process.argv.slice(1);
try {
  await createAckClient({ port: 9, outboxPath }).destroy();
  console.log(JSON.stringify({ opened: true }));
} catch (e) {
  console.log(JSON.stringify({ code: e.code, key: e.details?.key }));
}
`;

it('a read-only outbox file, or a read-only directory (no room for its WAL): refused at start naming `outboxPath`', async () => {
  const d = dir();
  chmodSync(d, 0o755);
  const open = async (path: string) => {
    // Root ignores file modes: the child drops to nobody when the test runs as root.
    const asNobody = process.getuid?.() === 0 ? { uid: 65_534, gid: 65_534 } : {};
    const child = spawn(process.execPath, ['--import', HOOKS, '--input-type=module', '-e', OPENING_CLIENT, '--', path], {
      stdio: ['ignore', 'pipe', 'ignore'],
      ...asNobody,
    });
    let out = '';
    child.stdout.on('data', (c) => {
      out += String(c);
    });
    await new Promise((r) => child.once('exit', r));
    return JSON.parse(out) as { opened?: true; code?: string; key?: string };
  };
  const writable = join(d, 'writable');
  mkdirSync(writable, { mode: 0o777 });
  chmodSync(writable, 0o777);
  // Healthy: the same child, a writable place.
  expect(await open(join(writable, 'outbox.sqlite'))).toEqual({ opened: true });
  chmodSync(join(writable, 'outbox.sqlite'), 0o444);
  expect(await open(join(writable, 'outbox.sqlite'))).toEqual({ code: 'BW_ERR_INVALID_OPTION', key: 'outboxPath' });
  chmodSync(join(writable, 'outbox.sqlite'), 0o666);
  chmodSync(writable, 0o555);
  expect(await open(join(writable, 'outbox.sqlite'))).toEqual({ code: 'BW_ERR_INVALID_OPTION', key: 'outboxPath' });
  chmodSync(writable, 0o755);
});
