// A real ioredis client from @breakwater/drivers, pointed at REDIS_HOST/REDIS_PORT (default 127.0.0.1:6379).
//
// Its socket is hardened before ioredis uses it (NODELAY, 5 s keepalive instead of ioredis' 30 s idle and
// the kernel's 75 s × 9 probes), each command gives up after 1 s, and an idle connection is pinged before
// the server's `timeout` (here 300 s) closes it.
import { isBreakwaterError } from '@breakwater/core';
import { createRedis } from '@breakwater/drivers/ioredis';

const redis = createRedis(
  { host: process.env.REDIS_HOST ?? '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379), maxRetriesPerRequest: 1 },
  { queryTimeoutMs: 1_000, serverIdleTimeoutMs: 300_000 },
);
redis.on('error', () => {}); // reconnects are ioredis' job; commands report their own errors

try {
  await redis.set('breakwater:example', 'hello', 'EX', 60);
  console.log(`GET breakwater:example -> ${await redis.get('breakwater:example')}`);
  await redis.hset('breakwater:example', 'f', 'v').catch((error) => {
    // Redis' reply errors pass through unchanged.
    console.log(`reply error ${error.message.split(' ')[0]} (BreakwaterError: ${isBreakwaterError(error)})`);
  });
} catch (error) {
  if (isBreakwaterError(error)) console.error(`${error.code} (retryable: ${error.retryable}): ${error.hint}`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
