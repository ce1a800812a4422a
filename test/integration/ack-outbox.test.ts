import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { type Ack, createAckClient, createAckServer } from '../../packages/ack/src/index.js';
import { SqliteOutbox } from '../../packages/ack/src/SqliteOutbox.js';

// The durable outbox: a client process admits 50 messages while its server
// is down, then dies with SIGKILL. A new client on the same outbox file
// resends them under the same session once the server is up: the handler
// sees each exactly once and the outbox ends empty.

const HOOKS = fileURLToPath(new URL('../support/ts-hooks.ts', import.meta.url));
const COUNT = 50;

const CRASHING_CLIENT = `
const { createAckClient } = await import('@breakwater/ack');
const [port, outboxPath] = process.argv.slice(1);
const client = createAckClient({ port: Number(port), outboxPath, reconnectBackoff: { baseDelayMs: 50 } });
for (let i = 0; i < ${COUNT}; i++) client.send('order-' + i).catch(() => {});
console.log(JSON.stringify({ session: client.session }));
setInterval(() => {}, 1000);
`;

it('messages admitted before a crash are resent on restart, exactly once to the handler', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bw-ack-outbox-'));
  const outboxPath = join(dir, 'outbox.sqlite');
  // A free port with nothing listening yet.
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  try {
    const child = spawn(process.execPath, ['--import', HOOKS, '--input-type=module', '-e', CRASHING_CLIENT, '--', String(port), outboxPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const first = await new Promise<{ session: string }>((resolve, reject) => {
      child.stdout.once('data', (c) => resolve(JSON.parse(String(c)) as { session: string }));
      child.once('exit', (code) => reject(new Error(`client exited early (${code})`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const check = new SqliteOutbox(outboxPath);
    expect(check.size()).toBe(COUNT);
    check.close();

    const seen = new Map<string, number>();
    const server = createAckServer({ handler: (p) => void seen.set(p.toString(), (seen.get(p.toString()) ?? 0) + 1) });
    await server.listen({ port });
    const client = createAckClient({ port, outboxPath });
    expect(client.session).toBe(first.session);
    const recovered: (Ack | undefined)[] = [];
    await new Promise<void>((resolve) =>
      client.on('recovered', ({ ack }) => {
        recovered.push(ack);
        if (recovered.length === COUNT) resolve();
      }),
    );
    await client.close();
    await server.close();
    expect(recovered.every((a) => a !== undefined)).toBe(true);
    expect(seen.size).toBe(COUNT);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    const after = new SqliteOutbox(outboxPath);
    expect(after.size()).toBe(0);
    after.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
