import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MariadbServer, mariadbUnavailable, startMariadb } from '../support/servers/mariadb.js';
import { type PgBouncerServer, pgbouncerUnavailable, startPgBouncer } from '../support/servers/pgbouncer.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../support/servers/postgres.js';
import { type RedisServer, redisUnavailable, startRedis } from '../support/servers/redis.js';
import { type RedisCluster, redisTopologyUnavailable, type SentinelSet, startCluster, startSentinelSet } from '../support/servers/redisTopology.js';

// Runs against the compiled packages (the test command builds first), as a user runs it, so it cannot rot.
const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
const required = process.env.BREAKWATER_REQUIRE_NETNS === '1';
const noPostgres = postgresUnavailable();
const noRedis = redisUnavailable();
if (noPostgres !== undefined && !required) console.log(`[drivers-examples] pg skipped: ${noPostgres}`);
if (noRedis !== undefined && !required) console.log(`[drivers-examples] redis skipped: ${noRedis}`);
const noMariadb = mariadbUnavailable();
if (noMariadb !== undefined && !required) console.log(`[drivers-examples] mysql skipped: ${noMariadb}`);

describe.skipIf(noPostgres !== undefined && !required)('examples/drivers-pg', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(() => server?.stop(), 30_000);

  it('queries through a hardened pg.Pool; SQL errors keep their SQLSTATE', async () => {
    const env = { ...process.env, PGHOST: server.host, PGPORT: String(server.port) };
    const { stdout, stderr } = await run(process.execPath, ['examples/drivers-pg/example.mjs'], { cwd: root, env, timeout: 20_000 });
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toEqual(['SELECT 1 + 1 -> 2', 'SQL error 42P01 (BreakwaterError: false)', 'idleTimeoutMillis 30000']);
  }, 30_000);
});

describe.skipIf(noRedis !== undefined && !required)('examples/drivers-redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  }, 30_000);
  afterAll(() => server?.stop(), 30_000);

  it('runs commands through a hardened ioredis client; reply errors pass through', async () => {
    const env = { ...process.env, REDIS_HOST: server.host, REDIS_PORT: String(server.port) };
    const { stdout, stderr } = await run(process.execPath, ['examples/drivers-redis/example.mjs'], { cwd: root, env, timeout: 20_000 });
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toEqual(['GET breakwater:example -> hello', 'reply error WRONGTYPE (BreakwaterError: false)']);
  }, 30_000);
});

describe.skipIf(noMariadb !== undefined && !required)('examples/drivers-mysql', () => {
  let server: MariadbServer;
  beforeAll(async () => {
    server = await startMariadb();
  }, 60_000);
  afterAll(() => server?.stop(), 30_000);

  it('queries through a hardened mysql2 pool; SQL errors keep their code', async () => {
    const env = { ...process.env, MYSQL_HOST: server.host, MYSQL_PORT: String(server.port) };
    const { stdout, stderr } = await run(process.execPath, ['examples/drivers-mysql/example.mjs'], { cwd: root, env, timeout: 20_000 });
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toEqual(['SELECT 1 + 1 -> 2', 'SQL error ER_NO_SUCH_TABLE (BreakwaterError: false)', 'idleTimeout 29000']);
  }, 30_000);
});

const noPgBouncer = noPostgres ?? pgbouncerUnavailable();
if (noPgBouncer !== undefined && !required) console.log(`[drivers-examples] pgbouncer skipped: ${noPgBouncer}`);
const noTopology = redisTopologyUnavailable();
if (noTopology !== undefined && !required) console.log(`[drivers-examples] sentinel/cluster skipped: ${noTopology}`);

describe.skipIf(noPgBouncer !== undefined && !required)('examples/drivers-pg/pgbouncer.mjs', () => {
  let server: PostgresServer;
  let bouncer: PgBouncerServer;
  beforeAll(async () => {
    server = await startPostgres();
    bouncer = await startPgBouncer(server, { pool_mode: 'transaction', default_pool_size: 2, server_round_robin: 1 });
  }, 60_000);
  afterAll(async () => {
    await bouncer?.stop();
    await server?.stop();
  }, 30_000);

  it('runs named statements, per-statement timeouts and a migration through PgBouncer in transaction mode', async () => {
    const env = { ...process.env, PGHOST: bouncer.host, PGPORT: String(bouncer.port) };
    const { stdout, stderr } = await run(process.execPath, ['examples/drivers-pg/pgbouncer.mjs'], { cwd: root, env, timeout: 20_000 });
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toEqual([
      'plus-one(1) -> 2',
      'plus-one(2) -> 3',
      'plus-one(3) -> 4',
      'statement_timeout of this statement: 1500ms',
      'INSERT done once',
    ]);
  }, 30_000);
});

describe.skipIf(noTopology !== undefined && !required)('examples/drivers-redis/sentinel.mjs and cluster.mjs', () => {
  let sentinel: SentinelSet;
  let cluster: RedisCluster;
  beforeAll(async () => {
    [sentinel, cluster] = await Promise.all([startSentinelSet('mymaster'), startCluster()]);
  }, 60_000);
  afterAll(() => Promise.all([sentinel?.stop(), cluster?.stop()]), 30_000);

  it('finds the master through the Sentinel', async () => {
    const env = { ...process.env, SENTINEL_HOST: sentinel.sentinel.host, SENTINEL_PORT: String(sentinel.sentinel.port), REDIS_MASTER_NAME: 'mymaster' };
    const { stdout, stderr } = await run(process.execPath, ['examples/drivers-redis/sentinel.mjs'], { cwd: root, env, timeout: 20_000 });
    expect(stderr).toBe('');
    expect(stdout.trim()).toBe('GET through Sentinel -> found');
  }, 30_000);

  it('writes and reads keys on every master of the cluster', async () => {
    const env = { ...process.env, CLUSTER_HOST: '127.0.0.1', CLUSTER_PORT: String(cluster.nodes[0]?.port) };
    const { stdout, stderr } = await run(process.execPath, ['examples/drivers-redis/cluster.mjs'], { cwd: root, env, timeout: 20_000 });
    expect(stderr).toBe('');
    expect(stdout.trim()).toBe('6 of 6 keys written and read across 3 masters');
  }, 30_000);
});
