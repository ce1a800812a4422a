import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MariadbServer, mariadbUnavailable, startMariadb } from '../support/servers/mariadb.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../support/servers/postgres.js';
import { type RedisServer, redisUnavailable, startRedis } from '../support/servers/redis.js';

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
