import { execFile } from 'node:child_process';
import type net from 'node:net';
import { promisify } from 'node:util';
import { BreakwaterError } from '@breakwater/core';
import { guardOf } from '@breakwater/socket';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, createRedisCluster } from '../../packages/drivers/src/ioredis.js';
import { Redis } from '../../packages/drivers/test/unwrapped.js';
import { cli, type RedisCluster, redisTopologyUnavailable, type SentinelSet, startCluster, startSentinelSet, until } from '../support/servers/redisTopology.js';

/**
 * Issue #15, ioredis topologies against real servers: Sentinel (Debian's
 * redis-sentinel) with a failover, and a local 3-master Redis Cluster with a
 * node restart. Every connection is hardened; the controls are the old
 * createRedis() connector (which silently ignored `sentinels`) and plain
 * ioredis' Cluster (which resends a write whose reply was lost).
 */

const exec = promisify(execFile);
const unavailable = redisTopologyUnavailable() ?? (process.getuid?.() === 0 ? undefined : 'ss -K needs root');
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
if (unavailable !== undefined && !required) console.log(`[issue-15-topologies] skipped: ${unavailable}`);

const streamOf = (client: Redis) => (client as unknown as { stream: net.Socket }).stream;
const hardened = (socket: net.Socket | undefined) => guardOf(socket as net.Socket)?.applied.noDelay === true;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const INCR_THEN_SPIN = `redis.call('INCR', KEYS[1])
local t = redis.call('TIME'); local t0 = t[1] * 1000000 + t[2]
repeat local n = redis.call('TIME'); t = n[1] * 1000000 + n[2] until t - t0 > 600000
return 1`;

describe.skipIf(unavailable !== undefined && !required)('issue #15: Sentinel', () => {
  let set: SentinelSet;
  beforeAll(async () => {
    expect(unavailable, 'BREAKWATER_REQUIRE_NETNS=1: redis-server, redis-sentinel and root are required').toBeUndefined();
    set = await startSentinelSet();
  }, 60_000);
  afterAll(() => set?.stop(), 30_000);

  it('finds the master through the Sentinel, hardens every connection and follows a failover; the old connector ignored `sentinels`', async () => {
    // Before issue #15 createRedis() always passed its standalone Connector, and ioredis then skips Sentinel.
    const oldConnector = createRedis({ lazyConnect: true }).options.Connector;
    const old = new Redis({ sentinels: [set.sentinel], name: set.name, port: 1, Connector: oldConnector, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    let oldError = '';
    old.on('error', (e: Error) => {
      oldError ||= e.message;
    });
    await old.set('k', 'v').catch(() => undefined);
    old.disconnect();

    const client = createRedis({ sentinels: [set.sentinel], name: set.name, failoverDetector: true });
    client.on('error', () => {});
    try {
      await client.set('before', '1');
      const before = streamOf(client);
      expect(before.remotePort).toBe(set.master.port);
      expect(hardened(before)).toBe(true);
      // The failover detector's subscriptions to the Sentinel are hardened sockets too.
      await until(
        async () => ((client as unknown as { connector: { failoverDetector?: unknown } }).connector.failoverDetector ?? null) !== null,
        5_000,
        'the failover detector',
      );
      const sentinelClients = (client as unknown as { connector: { failoverDetector: { sentinels: { client: Redis }[] } } }).connector.failoverDetector
        .sentinels;
      await until(async () => sentinelClients.every((s) => streamOf(s.client)?.remotePort === set.sentinel.port), 5_000, 'the Sentinel subscriptions');
      expect(sentinelClients.every((s) => hardened(streamOf(s.client)))).toBe(true);

      const started = performance.now();
      await set.failover();
      let wrote = false;
      await until(
        async () => {
          await client.set('after', '2');
          wrote = true;
          return streamOf(client).remotePort === set.replica.port;
        },
        15_000,
        'a write on the new master',
      );
      const ms = performance.now() - started;
      console.log(
        `[issue-15-topologies] sentinel: old connector "${oldError}"; breakwater wrote on the new master ${Math.round(ms)} ms after SENTINEL FAILOVER`,
      );
      // It went to host:port (here 127.0.0.1:1), never asking the Sentinel.
      expect(oldError).toMatch(/ECONNREFUSED 127\.0\.0\.1:1$/);
      expect(wrote).toBe(true);
      expect(hardened(streamOf(client))).toBe(true);
      expect(await cli(set.replica.port, 'GET', 'after')).toBe('2');
    } finally {
      client.disconnect();
    }
  }, 60_000);
});

describe.skipIf(unavailable !== undefined && !required)('issue #15: Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    expect(unavailable, 'BREAKWATER_REQUIRE_NETNS=1: redis-server, redis-cli and root are required').toBeUndefined();
    cluster = await startCluster();
  }, 60_000);
  afterAll(() => cluster?.stop(), 30_000);

  const seeds = () => [{ host: '127.0.0.1', port: cluster.nodes[0]?.port ?? 0 }];

  it('hardens every node connection and rides out a node restart', async () => {
    const client = createRedisCluster(seeds());
    client.on('error', () => {});
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `k${i}`);
      await Promise.all(keys.map((k) => client.set(k, k)));
      const masters = client.nodes('master');
      expect(masters).toHaveLength(3);
      expect(masters.every((n) => hardened(streamOf(n)))).toBe(true);
      const victim = cluster.nodes[2];
      if (victim === undefined) throw new Error('no third node');
      await victim.restart();
      await until(async () => (await cli(victim.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), 20_000, 'the restarted node');
      const started = performance.now();
      await until(async () => (await Promise.all(keys.map((k) => client.set(k, `${k}!`)))).every((r) => r === 'OK'), 20_000, 'writes on every slot');
      const ms = performance.now() - started;
      console.log(`[issue-15-topologies] cluster: writes on every slot again ${Math.round(ms)} ms after the node was back`);
      expect(client.nodes('master').every((n) => n.status !== 'ready' || hardened(streamOf(n)))).toBe(true);
    } finally {
      client.disconnect();
    }
  }, 60_000);

  it('a node socket killed mid-EVAL: Breakwater applies the INCR once (BW_ERR_OUTCOME_UNKNOWN); plain ioredis Cluster resends it', async () => {
    const run = async (client: InstanceType<typeof Redis.Cluster>, key: string) => {
      client.on('error', () => {});
      await client.set(key, '0');
      const node = client.nodes('master').find((n) => n.status === 'ready' && streamOf(n) !== undefined) as Redis;
      // The node that owns the key.
      const owner = (await client.cluster('KEYSLOT', key)) as number;
      const slots = (await client.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      const port = slots.find(([from, to]) => owner >= from && owner <= to)?.[2][1];
      const target = client.nodes('master').find((n) => n.options.port === port) ?? node;
      const pending = client.eval(INCR_THEN_SPIN, 1, key).then(
        () => undefined,
        (e: unknown) => e,
      );
      await sleep(200);
      await exec('ss', ['-K', '-tn', 'sport', '=', `:${streamOf(target).localPort}`]);
      const error = await pending;
      await sleep(800);
      const counter = Number(await cli(port ?? 0, 'GET', key));
      client.disconnect();
      return { error, counter };
    };
    const mine = await run(createRedisCluster(seeds()), '{bw}mine');
    const plain = await run(new Redis.Cluster(seeds()), '{bw}plain');
    console.log(
      `[issue-15-topologies] cluster EVAL INCR, node socket killed: breakwater counter ${mine.counter} (${(mine.error as BreakwaterError)?.code}); ioredis Cluster counter ${plain.counter} (${plain.error ?? 'success'})`,
    );
    expect(mine.error).toBeInstanceOf(BreakwaterError);
    expect(mine.error).toMatchObject({ code: 'BW_ERR_OUTCOME_UNKNOWN', details: { mayHaveApplied: true } });
    expect(mine.counter).toBe(1);
    expect(plain.error).toBeUndefined();
    expect(plain.counter).toBe(2);
  }, 30_000);
});
