import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, expect, it } from 'vitest';
import { createAckClient, createAckServer } from '../../packages/ack/src/index.js';
import { createFaultProxy, type FaultProxy } from '../../packages/chaos/src/index.js';
import { RetryBudget } from '../../packages/retry/src/index.js';
import { rng } from '../support/rng.js';

// 100,000 messages through the chaos proxy while it resets or blackholes the
// connection 50 times. Resets lose ACKs of handled messages (the retransmit
// must not reach the handler again); blackholes swallow data and ACKs with
// both sockets open (only the heartbeat notices). Seeded: CHAOS_SEED replays.

const MESSAGES = 100_000;
const FAULTS = 50;
const SEED = process.env.CHAOS_SEED === undefined ? 0xac_0509 : Number(process.env.CHAOS_SEED);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('100,000 messages, 50 resets/blackholes: every send resolves and the handler sees each message exactly once', async () => {
  const started = performance.now();
  const seen = new Uint8Array(MESSAGES);
  const server = createAckServer({ handler: (p) => void seen[p.readUInt32BE(0)]!++ });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  const proxy: FaultProxy = await createFaultProxy({ target: { port }, seed: SEED });
  cleanups.push(() => proxy.close());
  const client = createAckClient({
    port: proxy.port,
    heartbeatIntervalMs: 100,
    heartbeatTimeoutMs: 300,
    ackTimeoutMs: 500,
    reconnectBackoff: { baseDelayMs: 20, maxDelayMs: 200 },
    sendTimeoutMs: 55_000,
    retryBudget: new RetryBudget({ minPerSecond: 20 }),
  });
  cleanups.push(() => client.destroy());
  let disconnects = 0;
  client.on('disconnected', () => disconnects++);

  let next = 0;
  let resolved = 0;
  const failures: unknown[] = [];
  const producers = Array.from({ length: 256 }, async () => {
    const payload = Buffer.alloc(16);
    while (next < MESSAGES) {
      const i = next++;
      const b = Buffer.from(payload);
      b.writeUInt32BE(i, 0);
      await client.send(b).then(
        () => resolved++,
        (e: unknown) => failures.push(e),
      );
    }
  });

  const random = rng(SEED);
  const kinds = { reset: 0, blackhole: 0 };
  for (let f = 0; f < FAULTS; f++) {
    const target = Math.floor(((f + 1) * MESSAGES) / (FAULTS + 1));
    while (resolved + failures.length < target) await delay(2);
    if (random() < 0.5) {
      kinds.reset++;
      // Without afterMs the reset hits every open connection at once; removed before the client reconnects.
      proxy.removeFault(proxy.addFault({ type: 'reset' }));
    } else {
      kinds.blackhole++;
      const seenBefore = disconnects;
      const id = proxy.addFault({ type: 'blackhole' });
      while (disconnects === seenBefore) await delay(5);
      proxy.removeFault(id);
    }
  }
  await Promise.all(producers);
  const elapsedS = (performance.now() - started) / 1000;

  const counts = { never: 0, once: 0, more: 0 };
  for (const n of seen) counts[n === 0 ? 'never' : n === 1 ? 'once' : 'more']++;
  const stats = client.stats();
  console.log(
    `[ack-chaos] seed ${SEED}: ${resolved} resolved, ${failures.length} failed in ${elapsedS.toFixed(1)} s; ` +
      `${kinds.reset} resets + ${kinds.blackhole} blackholes → ${disconnects} disconnects, ${stats.retransmits} retransmits; ` +
      `handler: ${counts.once} once, ${counts.more} more than once, ${counts.never} never; server duplicates answered from dedup: ${server.stats().duplicates}`,
  );
  expect(failures).toEqual([]);
  expect(resolved).toBe(MESSAGES);
  expect(counts).toEqual({ never: 0, once: MESSAGES, more: 0 });
  expect(disconnects).toBeGreaterThanOrEqual(FAULTS);
  expect(stats.retransmits).toBeGreaterThan(0);
  expect(elapsedS).toBeLessThan(60);
}, 90_000);
