// An ioredis client from @breakwater/drivers that finds its master through Redis Sentinel
// (SENTINEL_HOST/SENTINEL_PORT, master name REDIS_MASTER_NAME).
//
// ioredis' own Sentinel support, with every connection hardened: the master (or replica), the
// address lookups and the failover detector's subscriptions to the Sentinels. After a failover the
// client reconnects to the new master; a write whose reply was lost on the way is not resent
// (BW_ERR_OUTCOME_UNKNOWN), reads are.
import { createRedis } from '@breakwater/drivers/ioredis';

const redis = createRedis(
  {
    sentinels: [{ host: process.env.SENTINEL_HOST ?? '127.0.0.1', port: Number(process.env.SENTINEL_PORT ?? 26379) }],
    name: process.env.REDIS_MASTER_NAME ?? 'mymaster',
    failoverDetector: true,
  },
  { queryTimeoutMs: 1_000 },
);
redis.on('error', () => {}); // reconnects are ioredis' job; commands report their own errors

try {
  await redis.set('breakwater:sentinel', 'found', 'EX', 60);
  console.log(`GET through Sentinel -> ${await redis.get('breakwater:sentinel')}`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await redis.quit();
}
