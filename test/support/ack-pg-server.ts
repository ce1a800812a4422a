/**
 * An ack server in its own process, for tests that SIGKILL and SIGSTOP it:
 * `node --import ./test/support/ts-hooks.ts test/support/ack-pg-server.ts '<json>'`.
 *
 * Config: `{ port, pgPort, store: 'pg' | 'memory', hang?: 'claim' | 'handler' | 'commit', txIdleTimeoutMs? }`.
 * The handler records each message in the business table `ack_effects` —
 * through the dedup transaction with the PostgreSQL store, on its own
 * (autocommit) with the memory store. `hang` stops the first message at that
 * point (after the claim, after the handler's write, after COMMIT but before
 * the ACK) and prints `{"at": hang}`, so a test can kill the process there.
 * Prints `{"port"}` once listening.
 */
import { type AckHandlerContext, createAckServer, type DedupStore } from '@breakwater/ack';
import { createPgDedupStore, type PgClientLike } from '../../packages/ack/src/pg.js';
import { pg } from '../../packages/ack/test/pg.js';

const config = JSON.parse(process.argv[2] ?? '{}') as {
  port: number;
  pgPort: number;
  store: 'pg' | 'memory';
  hang?: 'claim' | 'handler' | 'commit';
  txIdleTimeoutMs?: number;
};
const pool = new pg.Pool({ host: '127.0.0.1', port: config.pgPort, user: 'postgres', database: 'postgres', max: 16 });
pool.on('error', () => {});
const tag = `${process.pid}`;
const forever = () => new Promise<never>(() => {});
let hung = false;
const hangAt = (point: string) => {
  if (config.hang !== point || hung) return undefined;
  hung = true;
  console.log(JSON.stringify({ at: point }));
  return forever();
};

const insert = 'INSERT INTO ack_effects (session, msg, server) VALUES ($1, $2, $3)';
if (config.store === 'pg') {
  const inner = createPgDedupStore({ pool, txIdleTimeoutMs: config.txIdleTimeoutMs ?? 3_000, lockTimeoutMs: 5_000 });
  const store: DedupStore<PgClientLike> = {
    dedupHorizonMs: inner.dedupHorizonMs,
    async begin(key) {
      const claim = await inner.begin(key);
      if (claim === 'done') return claim;
      await hangAt('claim');
      return {
        tx: claim.tx,
        rollback: () => claim.rollback(),
        commit: async () => {
          await claim.commit();
          await hangAt('commit');
        },
      };
    },
  };
  const server = createAckServer({
    dedupStore: store,
    handler: async (payload: Buffer, { session, tx }: AckHandlerContext<PgClientLike>) => {
      await tx.query(insert, [session, payload.readUInt32BE(0), tag]);
      await hangAt('handler');
    },
  });
  await server.listen({ port: config.port });
} else {
  const server = createAckServer({
    handler: async (payload: Buffer, { session }: AckHandlerContext) => {
      await pool.query(insert, [session, payload.readUInt32BE(0), tag]);
    },
  });
  await server.listen({ port: config.port });
}
console.log(JSON.stringify({ port: config.port }));
