import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exited, findBinary, freePort, signalAll, spawnUntil } from './process.js';
import { type RedisServer, startRedis } from './redis.js';

const run = promisify(execFile);

/** Why Sentinel/Cluster tests cannot run here, or undefined when they can. */
export function redisTopologyUnavailable(): string | undefined {
  if (findBinary('redis-server', ['/usr/bin', '/usr/local/bin']) === undefined) return 'no redis-server binary (apt-get install redis-server)';
  if (findBinary('redis-sentinel', ['/usr/bin', '/usr/local/bin']) === undefined) return 'no redis-sentinel binary (apt-get install redis-sentinel)';
  if (findBinary('redis-cli', ['/usr/bin', '/usr/local/bin']) === undefined) return 'no redis-cli binary (apt-get install redis-tools)';
  return undefined;
}

export const cli = async (port: number, ...args: string[]) => (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim();

/** Polls `check` every 100 ms until it is true, for at most `timeoutMs`. */
export async function until(check: () => Promise<boolean>, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${typeof what === 'string' ? what : what()}: not within ${timeoutMs} ms`);
}

export interface SentinelSet {
  readonly name: string;
  readonly master: RedisServer;
  readonly replica: RedisServer;
  readonly sentinel: { host: string; port: number };
  /** `SENTINEL FAILOVER` and wait until the Sentinel names the replica as master. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

/** A master, one replica and one Sentinel (quorum 1) watching them as `name`, on 127.0.0.1. */
export async function startSentinelSet(name = 'bwmaster'): Promise<SentinelSet> {
  const master = await startRedis();
  const replica = await startRedis({ replicaof: `127.0.0.1 ${master.port}` });
  const dir = mkdtempSync(join(tmpdir(), 'bw-sentinel-'));
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode no',
      'daemonize no',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      '',
    ].join('\n'),
  );
  const child = await spawnUntil('redis-sentinel', [conf], /\+monitor master/);
  // The Sentinel learns of the replica from the master's INFO; SENTINEL FAILOVER needs it known.
  await until(async () => (await cli(port, 'SENTINEL', 'REPLICAS', name)).includes(String(replica.port)), 15_000, 'the Sentinel to see the replica');
  await until(async () => (await cli(replica.port, 'INFO', 'replication')).includes('master_link_status:up'), 15_000, 'the replica to sync');
  return {
    name,
    master,
    replica,
    sentinel: { host: '127.0.0.1', port },
    async failover() {
      // SENTINEL FAILOVER answers -NOGOODSLAVE while the Sentinel's own view of the replica says its link is down
      // (it saw the replica before it synced, and rereads its INFO only every 10 s), and redis-cli exits 0 on an
      // error reply: read the reply and ask again until the Sentinel accepts.
      let reply = '';
      await until(
        async () => {
          reply = await cli(port, 'SENTINEL', 'FAILOVER', name);
          return reply === 'OK';
        },
        20_000,
        () => `SENTINEL FAILOVER accepted (last reply: ${reply})`,
      );
      await until(async () => (await cli(port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)).includes(String(replica.port)), 30_000, 'the failover');
    },
    async stop() {
      signalAll(child.pid === undefined ? [] : [child.pid], 'SIGTERM');
      await exited(child);
      await Promise.all([master.stop(), replica.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  readonly nodes: RedisServer[];
  stop(): Promise<void>;
}

/** Three masters, no replicas, all 16384 slots assigned (`redis-cli --cluster create`), state ok. */
export async function startCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'bw-cluster-'));
  const nodes: RedisServer[] = [];
  for (let i = 0; i < 3; i += 1) {
    // The bus port defaults to port + 10000, past 65535 for a third of the ephemeral range: chosen too.
    const bus = await freePort();
    nodes.push(
      await startRedis({
        'cluster-enabled': 'yes',
        'cluster-config-file': join(dir, `nodes-${i}.conf`),
        'cluster-node-timeout': 2_000,
        'cluster-port': bus,
        dir,
      }),
    );
  }
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  await until(
    async () => (await Promise.all(nodes.map((n) => cli(n.port, 'CLUSTER', 'INFO')))).every((info) => info.includes('cluster_state:ok')),
    20_000,
    'the cluster to be ok',
  );
  return {
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
