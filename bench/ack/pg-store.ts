/**
 * Acknowledged messages per second with the PostgreSQL dedup store against
 * the in-memory window, window 64, 256 concurrent producers, 64 B payloads,
 * client and server in one process over loopback, PostgreSQL a throw-away
 * local server (fsync off, as in the tests: the numbers are the protocol's
 * and the round trips', not a disk's). A script, not a test:
 *
 *   scripts/bw node --import ./test/support/ts-hooks.ts bench/ack/pg-store.ts [messages] [rounds]
 *
 * Three servers, each handler writing one row of a business table:
 * - memory:       the in-memory window, handler's INSERT on its own (autocommit);
 * - pg store:     createPgDedupStore, handler's INSERT through `tx` (claim + effect + COMMIT);
 * - memory no-op: the window and a handler that does nothing (the ceiling).
 * Rounds are interleaved, the order reversed every other round (load on the
 * shared machine hits all three); the PostgreSQL/memory ratio is taken per
 * round and its median printed with the min–max spread, as in the other
 * benches (docs/benchmarks.md).
 */
import { createAckClient, createAckServer } from '@breakwater/ack';
import { createPgDedupStore, type PgDedupStore } from '../../packages/ack/src/pg.js';
import { pg } from '../../packages/ack/test/pg.js';
import { startPostgres } from '../../test/support/servers/postgres.js';

const MESSAGES = Number(process.argv[2] ?? 10_000);
const ROUNDS = Number(process.argv[3] ?? 3);
const POOL = 16;

const db = await startPostgres({ max_connections: 100 });
const pool = new pg.Pool({ host: db.host, port: db.port, user: 'postgres', database: 'postgres', max: POOL });
pool.on('error', () => {});
const store: PgDedupStore<pg.PoolClient> = createPgDedupStore({ pool });
await store.migrate();
await pool.query('CREATE TABLE bench_effects (session text, msg int)');
const insert = 'INSERT INTO bench_effects (session, msg) VALUES ($1, $2)';

async function measure(kind: 'memory' | 'pg' | 'noop'): Promise<number> {
  const server =
    kind === 'pg'
      ? createAckServer({
          dedupStore: store,
          handler: async (p: Buffer, { session, tx }: { session: string; tx: pg.PoolClient }) => {
            await tx.query(insert, [session, p.readUInt32BE(0)]);
          },
        })
      : createAckServer({
          handler:
            kind === 'noop' ? () => {} : async (p: Buffer, { session }: { session: string }) => void (await pool.query(insert, [session, p.readUInt32BE(0)])),
        });
  const { port } = await server.listen();
  const client = createAckClient({ port, maxInFlight: 64 });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < MESSAGES) {
        const payload = Buffer.alloc(64);
        payload.writeUInt32BE(next++, 0);
        await client.send(payload);
      }
    }),
  );
  const elapsed = performance.now() - started;
  await client.close();
  await server.close();
  return (MESSAGES / elapsed) * 1_000;
}

const results: Record<'memory' | 'pg' | 'noop', number[]> = { memory: [], pg: [], noop: [] };
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? (['memory', 'pg', 'noop'] as const) : (['noop', 'pg', 'memory'] as const);
  const round: Partial<Record<'memory' | 'pg' | 'noop', number>> = {};
  for (const kind of order) round[kind] = await measure(kind);
  for (const kind of order) results[kind].push(round[kind]!);
  ratios.push(round.pg! / round.memory!);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const m = { memory: median(results.memory), pg: median(results.pg), noop: median(results.noop) };
console.log(
  `ack throughput, ${MESSAGES} messages × ${ROUNDS} rounds, window 64, pool ${POOL} (median acked msgs/s):\n` +
    `  memory window, handler INSERT (autocommit): ${Math.round(m.memory)}\n` +
    `  PostgreSQL store, handler INSERT in tx:      ${Math.round(m.pg)}\n` +
    `  memory window, no-op handler:               ${Math.round(m.noop)}\n` +
    `  PostgreSQL / memory per round: median ${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
);
await store.close();
await pool.end();
await db.stop();
