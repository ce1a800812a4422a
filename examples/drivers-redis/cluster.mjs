// An ioredis Cluster from @breakwater/drivers, seeded with CLUSTER_HOST/CLUSTER_PORT (any node).
//
// Every node connection (masters, replicas, the slot refresher) is hardened and every command has the
// `queryTimeoutMs` deadline. ioredis still follows MOVED/ASK redirections (the node refused the
// command: nothing ran); after a node connection closes it resends only read-only commands.
import { createRedisCluster } from '@breakwater/drivers/ioredis';

const cluster = createRedisCluster(
  [{ host: process.env.CLUSTER_HOST ?? '127.0.0.1', port: Number(process.env.CLUSTER_PORT ?? 7000) }],
  {},
  { queryTimeoutMs: 1_000 },
);
cluster.on('error', () => {});

try {
  const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
  await Promise.all(keys.map((k) => cluster.set(`breakwater:${k}`, k, 'EX', 60)));
  const values = await Promise.all(keys.map((k) => cluster.get(`breakwater:${k}`)));
  console.log(`${values.filter((v, i) => v === keys[i]).length} of ${keys.length} keys written and read across ${cluster.nodes('master').length} masters`);
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cluster.quit();
}
