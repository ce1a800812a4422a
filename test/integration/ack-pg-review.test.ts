import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAckClient } from '../../packages/ack/src/index.js';
import { pg } from '../../packages/ack/test/pg.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../support/servers/postgres.js';

// Hostile review of the PostgreSQL dedup store (issue #14, point 2): the
// database goes away while a handler holds its message's transaction and
// awaits something else (an HTTP call, a queue). pg then emits 'error' on
// the checked-out client, which pg.Pool does not listen to while a client
// is out: without the store's own listener the ack server process dies of
// an uncaught 'error' event. Run in a child process so that the crash is
// observed, not suffered; the same program with a bare pg client and no
// store is the control that shows the crash is real.

const HOOKS = fileURLToPath(new URL('../support/ts-hooks.ts', import.meta.url));
const unavailable = postgresUnavailable();
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (unavailable !== undefined && !required) console.log(`[ack-pg-review] skipped: ${unavailable}`);

const PROGRAM = `
const { createAckServer } = await import('@breakwater/ack');
const { createPgDedupStore } = await import(${JSON.stringify(fileURLToPath(new URL('../../packages/ack/src/pg.ts', import.meta.url)))});
const { pg } = await import(${JSON.stringify(fileURLToPath(new URL('../../packages/ack/test/pg.ts', import.meta.url)))});
const [pgPort, mode] = process.argv.slice(1);
const pool = new pg.Pool({ host: '127.0.0.1', port: Number(pgPort), user: 'postgres', database: 'postgres', max: 4 });
pool.on('error', () => {});
process.on('exit', (code) => console.log(JSON.stringify({ exit: code })));
if (mode === 'control') {
  // The naive path: a checked-out client held across an await, no listener.
  const c = await pool.connect();
  await c.query('BEGIN');
  console.log(JSON.stringify({ holding: true }));
} else {
  const store = createPgDedupStore({ pool });
  await store.migrate();
  let release;
  const gate = new Promise((r) => { release = r; });
  const server = createAckServer({
    dedupStore: store,
    handler: async (payload, { tx }) => {
      await tx.query('SELECT 1');
      console.log(JSON.stringify({ holding: true }));
      await gate; // an await on something else while the transaction is open
    },
  });
  const { port } = await server.listen();
  console.log(JSON.stringify({ port }));
  process.stdin.on('data', () => release());
  server.on('storeFailed', ({ error }) => console.log(JSON.stringify({ storeFailed: error.code })));
}
setInterval(() => {}, 1000);
`;

describe.skipIf(unavailable !== undefined && !required)('@breakwater/ack/pg when PostgreSQL restarts under a running handler', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  }, 30_000);

  function child(mode: 'store' | 'control') {
    const p = spawn(process.execPath, ['--import', HOOKS, '--input-type=module', '-e', PROGRAM, '--', String(server.port), mode], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const lines: Record<string, unknown>[] = [];
    let buffered = '';
    let stderr = '';
    p.stderr.on('data', (c) => {
      stderr += String(c);
    });
    p.stdout.on('data', (c) => {
      buffered += String(c);
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const l of parts) lines.push(JSON.parse(l) as Record<string, unknown>);
    });
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    const waitFor = async (key: string) => {
      const end = Date.now() + 20_000;
      while (!lines.some((l) => key in l)) {
        if (Date.now() > end || p.exitCode !== null) throw new Error(`no ${key} line: ${JSON.stringify(lines)} ${stderr}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return lines.find((l) => key in l)!;
    };
    return { p, lines, exited, waitFor, stderr: () => stderr };
  }

  it('the ack server survives, answers nothing for the lost transaction, and the retransmit is handled once after the restart', async () => {
    // Control: the same restart kills a process holding a bare checked-out pg client.
    const control = child('control');
    await control.waitFor('holding');
    await server.restart();
    expect(await control.exited).not.toBe(0);
    expect(control.stderr()).toMatch(/terminat/i);

    const s = child('store');
    const { port } = (await s.waitFor('port')) as { port: number };
    const client = createAckClient({
      port,
      sendTimeoutMs: 15_000,
      ackTimeoutMs: 500,
      heartbeatIntervalMs: 200,
      heartbeatTimeoutMs: 1_000,
      reconnectBackoff: { baseDelayMs: 50 },
    });
    try {
      const sent = client.send('order-1');
      await s.waitFor('holding');
      await server.restart();
      await new Promise((r) => setTimeout(r, 500)); // the FATAL reaches the held client
      s.p.stdin.write('go\n');
      const ack = await sent;
      expect(await s.waitFor('storeFailed')).toEqual({ storeFailed: 'BW_ERR_NETWORK' });
      expect(ack.attempts).toBeGreaterThan(1);
      expect(s.p.exitCode).toBe(null);
      // A Client, not a Pool: pg.Pool's end() resolves before its client's connection has closed, and
      // PostgreSQL stopping (afterAll) then sends that client a FATAL 57P01, emitted as the pool's
      // 'error' with no listener: an uncaught exception in the test process (seen in CI).
      const db = new pg.Client({ host: server.host, port: server.port, user: 'postgres', database: 'postgres' });
      db.on('error', () => {});
      await db.connect();
      const { rows } = await db.query('SELECT count(*)::int AS n FROM breakwater_ack_dedup');
      await db.end(); // resolves once the connection is closed
      expect(rows[0]).toEqual({ n: 1 });
    } finally {
      await client.destroy();
      s.p.kill('SIGKILL');
      await s.exited;
    }
  }, 60_000);
});
