import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { type Ack, createAckClient } from '../../packages/ack/src/index.js';
import type { NsProcess, Topology } from '../../packages/chaos/src/index.js';
import { BreakwaterError, Deadline } from '../../packages/core/src/index.js';
import { describeNetns, topology, useCleanup } from '../support/netns.js';
import { reportResult } from '../support/report.js';

/**
 * FM-09, half-open: write() succeeded, nobody received. Two servers run in
 * the server namespace; the first is frozen with SIGSTOP mid-stream (its
 * kernel keeps ACKing and buffering) or frozen and then killed with SIGKILL
 * once its kernel holds the bytes. A plain socket's write callbacks report
 * success for every message; none is processed. The ack client notices the
 * silence through its heartbeat, fails over to the second server and
 * retransmits: every send resolves within its deadline, and each resolved
 * message was handled by the server that acknowledged it.
 */

const HOOKS = new URL('../support/ts-hooks.ts', import.meta.url).href;
const MESSAGES = 400;
const FREEZE_AFTER = 100;
const DEADLINE_MS = 10_000;

/** argv: handler delay (ms). Prints {"port"} then {"h": index} per handled message, before its ACK. */
const ACK_SERVER = `
await import(${JSON.stringify(HOOKS)});
const { createAckServer } = await import('@breakwater/ack');
const delayMs = Number(process.argv[1] ?? 0);
const server = createAckServer({ handler: async (p) => {
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  console.log(JSON.stringify({ h: p.readUInt32BE(0) }));
} });
const { port } = await server.listen({ host: '0.0.0.0', port: 0 });
console.log(JSON.stringify({ port }));
`;

/** The naive receiver: 4-byte length-prefixed messages, prints {"h": index} for each. */
const NAIVE_SERVER = `
import net from 'node:net';
const server = net.createServer((s) => {
  s.on('error', () => {});
  let buf = Buffer.alloc(0);
  s.on('data', (c) => {
    buf = Buffer.concat([buf, c]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      console.log(JSON.stringify({ h: buf.readUInt32BE(4) }));
      buf = buf.subarray(4 + buf.readUInt32BE(0));
    }
  });
});
server.listen(0, '0.0.0.0', () => console.log(JSON.stringify({ port: server.address().port })));
`;

const handled = (p: NsProcess) => new Set(p.messages.flatMap((m) => (typeof m === 'object' && m !== null && 'h' in m ? [(m as { h: number }).h] : [])));
const msg = (i: number) => {
  const b = Buffer.alloc(64);
  b.writeUInt32BE(i, 0);
  return b;
};

/** Naive: plain framed writes to a server that is frozen (and maybe killed): how many write callbacks said OK, how many were processed. */
async function naive(topo: Topology, kill: boolean): Promise<{ writesOk: number; processed: number }> {
  const server = topo.server.spawnNode(NAIVE_SERVER);
  const { port } = (await server.ready) as { port: number };
  const socket = net.connect(port, topo.server.address);
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  server.freeze();
  await delay(100);
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) => {
      const body = msg(1_000_000 + i);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      return new Promise<boolean>((resolve) => socket.write(Buffer.concat([len, body]), (err) => resolve(!err)));
    }),
  );
  await delay(500);
  if (kill) {
    process.kill(server.pid, 'SIGKILL');
    await server.exited;
  }
  const processed = handled(server).size;
  socket.destroy();
  await server.kill();
  return { writesOk: results.filter(Boolean).length, processed };
}

async function scenario(topo: Topology, mode: 'freeze' | 'kill') {
  const a = topo.server.spawnNode(ACK_SERVER, ['2']);
  const b = topo.server.spawnNode(ACK_SERVER, ['2']);
  const [{ port: portA }, { port: portB }] = (await Promise.all([a.ready, b.ready])) as { port: number }[] as [{ port: number }, { port: number }];
  const host = topo.server.address;
  const client = createAckClient({
    endpoints: [
      { host, port: portA },
      { host, port: portB },
    ],
    heartbeatIntervalMs: 250,
    heartbeatTimeoutMs: 750,
    ackTimeoutMs: 1_000,
    reconnectBaseDelayMs: 20,
  });
  const disconnects: unknown[] = [];
  client.on('disconnected', ({ error }) => disconnects.push(error));
  let resolved = 0;
  let frozeAt = 0;
  let next = 0;
  const outcomes: { i: number; ack?: Ack; error?: unknown; ms: number }[] = [];
  const producers = Array.from({ length: 16 }, async () => {
    while (next < MESSAGES) {
      const i = next++;
      const t = performance.now();
      const deadline = Deadline.after(DEADLINE_MS);
      try {
        const ack = await client.send(msg(i), { deadline });
        resolved++;
        outcomes.push({ i, ack, ms: performance.now() - t });
      } catch (error) {
        outcomes.push({ i, error, ms: performance.now() - t });
      } finally {
        deadline.dispose();
      }
    }
  });
  while (resolved < FREEZE_AFTER) await delay(2);
  a.freeze();
  frozeAt = performance.now();
  if (mode === 'kill') {
    await delay(300); // the kernel takes (and ACKs) what the client writes meanwhile
    process.kill(a.pid, 'SIGKILL');
    await a.exited;
  }
  await Promise.all(producers);
  await delay(300); // the last stdout lines of the servers
  const seenA = handled(a);
  const seenB = handled(b);
  await client.close();
  return { outcomes, seenA, seenB, portA, portB, disconnects, frozeAt, stats: client.stats(), a, b };
}

function check(r: Awaited<ReturnType<typeof scenario>>, label: string, naive: { writesOk: number; processed: number }) {
  // Naive: every write callback said OK, nothing after the freeze was processed.
  expect(naive.writesOk).toBe(100);
  expect(naive.processed).toBe(0);

  expect(r.outcomes).toHaveLength(MESSAGES);
  const failed = r.outcomes.filter((o) => o.error !== undefined);
  for (const o of failed) expect(o.error).toBeInstanceOf(BreakwaterError);
  // Each send settled within its deadline (+ 0.5 s for timer and event-loop slack).
  for (const o of r.outcomes) expect(o.ms).toBeLessThan(DEADLINE_MS + 500);
  expect(failed).toEqual([]);
  // Nothing silently lost: each resolved message was handled by the server that acknowledged it.
  const lost = r.outcomes.filter((o) => {
    const port = Number(o.ack?.endpoint.split(':')[1]);
    return !(port === r.portA ? r.seenA : r.seenB).has(o.i);
  });
  expect(lost).toEqual([]);
  const byB = r.outcomes.filter((o) => Number(o.ack?.endpoint.split(':')[1]) === r.portB);
  expect(byB.length).toBeGreaterThanOrEqual(MESSAGES - FREEZE_AFTER - 64);
  expect(r.stats.retransmits).toBeGreaterThan(0);
  const slowest = Math.max(...r.outcomes.map((o) => o.ms));
  reportResult(
    { fm: 'FM-09', side: 'naive', metric: `unprocessedWritesReportedOk ${label}`, value: naive.writesOk - naive.processed, unit: 'messages' },
    `${label}: ${naive.writesOk}/100 plain writes reported success, ${naive.processed} processed`,
  );
  reportResult(
    { fm: 'FM-09', side: 'breakwater', metric: `lostOrUntypedSends ${label}`, value: lost.length + failed.length, unit: 'messages' },
    `${label}: ${MESSAGES} sends resolved (${byB.length} by the second server after failover, ${r.stats.retransmits} retransmits, ` +
      `${r.disconnects.length} disconnects: ${r.disconnects.map((e) => (e as { code?: string } | undefined)?.code).join(', ')}); slowest ${Math.round(slowest)} ms; 0 lost`,
  );
}

describeNetns('FM-09 half-open: frozen or killed server mid-stream', () => {
  const defer = useCleanup();

  it('SIGSTOP: plain writes report success for unprocessed messages; ack client fails over, every send resolves, nothing lost', async () => {
    const topo = await topology(defer);
    const plain = await naive(topo, false);
    const r = await scenario(topo, 'freeze');
    defer(() => r.a.kill());
    defer(() => r.b.kill());
    check(r, 'SIGSTOP', plain);
    // Detected by the heartbeat (the frozen kernel never resets anything).
    expect(r.disconnects[0]).toMatchObject({ code: 'BW_ERR_ACK_TIMEOUT' });
  });

  it('SIGKILL after the kernel took the bytes: plain writes report success; ack client retransmits to the second server', async () => {
    const topo = await topology(defer);
    const plain = await naive(topo, true);
    const r = await scenario(topo, 'kill');
    defer(() => r.b.kill());
    check(r, 'SIGKILL', plain);
  });
});
