import type net from 'node:net';
import type { BreakwaterError } from '@breakwater/core';
import { SOCKET_DEFAULTS } from '@breakwater/socket';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTopology, type Topology } from '../../packages/chaos/src/netns/index.js';
import { DRIVER_DEFAULTS } from '../../packages/drivers/src/defaults.js';
import { createRedis } from '../../packages/drivers/src/ioredis.js';
import { createMysqlPool } from '../../packages/drivers/src/mysql2.js';
import { createPgPool } from '../../packages/drivers/src/pg.js';
import { mysql, pg, Redis } from '../../packages/drivers/test/unwrapped.js';
import { describeNetns } from '../support/netns.js';
import { type MariadbServer, mariadbUnavailable, startMariadb } from '../support/servers/mariadb.js';
import { type PostgresServer, postgresUnavailable, startPostgres } from '../support/servers/postgres.js';
import { type RedisServer, redisUnavailable, startRedis } from '../support/servers/redis.js';

/**
 * The three wrapped drivers against servers in a network namespace whose
 * port is blackholed (every packet dropped both ways, FM-01/FM-02), each next
 * to the unwrapped driver in the same test:
 * - blackhole with connections idle and busy: Breakwater reports the idle
 *   connection within keepalive idle + interval × count + 2 s and fails the
 *   statement in flight within min(TCP_USER_TIMEOUT, query deadline) + 1 s;
 *   the unwrapped drivers report nothing in the same window.
 * - restart behind a blackhole: the servers are SIGKILLed while their ports
 *   are blackholed (their FIN is lost), the blackhole lifted and the servers
 *   started again on the same ports. Pooled idle connections are now silently
 *   dead: the first write on each gets an RST from the new server.
 * One topology and one server of each kind for the file; every side runs concurrently.
 */

const KEEPALIVE_BOUND_MS = SOCKET_DEFAULTS.keepAliveIdleMs + SOCKET_DEFAULTS.keepAliveIntervalMs * SOCKET_DEFAULTS.keepAliveCount + 2_000;
const IN_FLIGHT_BOUND_MS = Math.min(SOCKET_DEFAULTS.userTimeoutMs, DRIVER_DEFAULTS.queryTimeoutMs) + 1_000;
const IDLE_CONNECTIONS = 4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Mysql = ReturnType<typeof mysql.createPool>;
type Outcome = { error: unknown; ms: number } | undefined;
type Driver = 'pg' | 'redis' | 'mysql2';

/** Resolves with the first error `subscribe` reports (and when), or undefined after `windowMs`. */
function firstError(subscribe: (report: (error: unknown) => void) => void, started: number, windowMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), windowMs);
    subscribe((error) => {
      clearTimeout(timer);
      resolve({ error, ms: performance.now() - started });
    });
  });
}

/** The outcome of `operation` (and when), or undefined if it is still pending after `windowMs`. */
function outcomeWithin(operation: Promise<unknown>, started: number, windowMs: number): Promise<Outcome> {
  const settled = operation.then(
    () => ({ error: undefined, ms: performance.now() - started }),
    (error: unknown) => ({ error, ms: performance.now() - started }),
  );
  return Promise.race([settled, sleep(windowMs).then(() => undefined)]);
}

/** Every socket of a pool or client, destroyed at once: `end()` would wait for answers that cannot come. */
function destroyAll(target: pg.Pool | Mysql | Redis): void {
  if (target instanceof Redis) return void target.disconnect();
  if ('pool' in target) {
    const all = (target.pool as unknown as { _allConnections: { toArray(): { stream: net.Socket }[] } })._allConnections.toArray();
    for (const c of all) c.stream.destroy();
  } else {
    for (const c of (target as unknown as { _clients: { connection: { stream: net.Socket } }[] })._clients) c.connection.stream.destroy();
  }
}

describeNetns('drivers: blackholed server and restart behind a blackhole (FM-01, FM-02)', () => {
  const missing = postgresUnavailable() ?? redisUnavailable() ?? mariadbUnavailable();
  let topo: Topology;
  let servers: { pg: PostgresServer; redis: RedisServer; mysql2: MariadbServer };
  const opened: (pg.Pool | Mysql | Redis)[] = [];
  const track = <T extends pg.Pool | Mysql | Redis>(target: T): T => {
    opened.push(target);
    // Connection errors are what these tests provoke; the assertions read them from the outcomes.
    if (target instanceof Redis) target.on('error', () => {});
    return target;
  };

  beforeAll(async () => {
    expect(missing, 'the driver fault tests need postgresql, redis-server and mariadb-server').toBeUndefined();
    topo = await createTopology();
    const where = { host: topo.server.address, namespace: topo.server.name ?? undefined };
    const [p, r, m] = await Promise.all([startPostgres({}, where), startRedis({}, where), startMariadb({}, where)]);
    servers = { pg: p, redis: r, mysql2: m };
  }, 90_000);

  afterAll(async () => {
    for (const target of opened) destroyAll(target);
    await Promise.all(Object.values(servers ?? {}).map((s) => s.stop()));
    await topo?.dispose();
  }, 60_000);

  const connection = () => ({
    pg: { host: servers.pg.host, port: servers.pg.port, user: 'postgres', database: 'postgres' },
    redis: { host: servers.redis.host, port: servers.redis.port, maxRetriesPerRequest: 1 },
    mysql2: { host: servers.mysql2.host, port: servers.mysql2.port, user: 'root' },
  });

  const blackholeAll = async () => {
    const rules = await Promise.all([servers.pg.port, servers.redis.port, servers.mysql2.port].map((port) => topo.server.nft.blackholePort(port)));
    return () => Promise.all(rules.map((r) => r.remove()));
  };

  it('blackhole: Breakwater reports idle connections within the keepalive bound and fails in-flight statements within the deadline; unwrapped drivers see nothing', async () => {
    const c = connection();
    const sides = {
      breakwater: {
        pg: { idle: track(createPgPool(c.pg)), busy: track(createPgPool(c.pg)) },
        redis: { idle: track(createRedis(c.redis)), busy: track(createRedis(c.redis)) },
        mysql2: { idle: track(createMysqlPool(c.mysql2)), busy: track(createMysqlPool(c.mysql2)) },
      },
      unwrapped: {
        pg: { idle: track(new pg.Pool(c.pg)), busy: track(new pg.Pool(c.pg)) },
        redis: { idle: track(new Redis(c.redis)), busy: track(new Redis(c.redis)) },
        mysql2: { idle: track(mysql.createPool(c.mysql2)), busy: track(mysql.createPool(c.mysql2)) },
      },
    };
    const watchers: Record<string, Record<Driver, (report: (e: unknown) => void) => void>> = {};
    for (const [side, d] of Object.entries(sides)) {
      // Warm one connection per pool; the idle ones then only wait.
      await Promise.all([
        d.pg.idle.query('SELECT 1'),
        d.pg.busy.query('SELECT 1'),
        d.redis.idle.ping(),
        d.redis.busy.ping(),
        d.mysql2.idle.query('SELECT 1'),
        d.mysql2.busy.query('SELECT 1'),
      ]);
      for (const r of [d.redis.idle, d.redis.busy]) r.on('error', () => {});
      for (const p of [d.pg.idle, d.pg.busy]) p.on('error', () => {});
      for (const m of [d.mysql2.idle, d.mysql2.busy])
        for (const conn of (m.pool as unknown as { _allConnections: { toArray(): { on(e: 'error', l: () => void): void }[] } })._allConnections.toArray())
          conn.on('error', () => {});
      watchers[side] = {
        pg: (report) => d.pg.idle.on('error', report),
        redis: (report) => d.redis.idle.once('error', report),
        mysql2: (report) => {
          const conns = (
            d.mysql2.idle.pool as unknown as { _allConnections: { toArray(): { on(e: 'error', l: (e: unknown) => void): void }[] } }
          )._allConnections.toArray();
          for (const conn of conns) conn.on('error', report);
        },
      };
    }

    const lift = await blackholeAll();
    try {
      const started = performance.now();
      const window = KEEPALIVE_BOUND_MS;
      const measure = (side: 'breakwater' | 'unwrapped') => {
        const d = sides[side];
        const w = watchers[side] as Record<Driver, (report: (e: unknown) => void) => void>;
        return Promise.all([
          firstError(w.pg, started, window),
          firstError(w.redis, started, window),
          firstError(w.mysql2, started, window),
          outcomeWithin(d.pg.busy.query('SELECT 1'), started, window),
          outcomeWithin(d.redis.busy.get('k'), started, window),
          outcomeWithin(d.mysql2.busy.query('SELECT 1'), started, window),
        ]);
      };
      const [bw, plain] = await Promise.all([measure('breakwater'), measure('unwrapped')]);
      const show = (o: Outcome) =>
        o === undefined ? `nothing in ${window} ms` : `${(o.error as BreakwaterError)?.code ?? (o.error as Error)?.message} after ${Math.round(o.ms)} ms`;
      const names = ['pg idle', 'redis idle', 'mysql2 idle', 'pg in flight', 'redis in flight', 'mysql2 in flight'];
      console.log(`[drivers-blackhole] breakwater: ${names.map((n, i) => `${n}: ${show(bw[i])}`).join('; ')}`);
      console.log(`[drivers-blackhole] unwrapped: ${names.map((n, i) => `${n}: ${show(plain[i])}`).join('; ')}`);
      bw.forEach((outcome, i) => {
        const idle = i < 3;
        expect(outcome, `breakwater ${names[i]}`).toBeDefined();
        expect(outcome?.ms, `breakwater ${names[i]}`).toBeLessThanOrEqual(idle ? KEEPALIVE_BOUND_MS : IN_FLIGHT_BOUND_MS);
        // Idle: the driver's own 'error' event carries the socket's error (the kernel gave up on the
        // unanswered keepalive probes: TCP_USER_TIMEOUT bounds them too); in flight: the caller gets BW_ERR_DEADLINE.
        if (idle) expect(outcome?.error, `breakwater ${names[i]}`).toMatchObject({ code: 'ETIMEDOUT' });
        else expect(outcome?.error, `breakwater ${names[i]}`).toMatchObject({ code: 'BW_ERR_DEADLINE' });
      });
      expect(plain, 'unwrapped drivers: no error and no answer in the same window').toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
    } finally {
      for (const d of Object.values(sides))
        for (const target of [d.pg.idle, d.pg.busy, d.redis.idle, d.redis.busy, d.mysql2.idle, d.mysql2.busy]) destroyAll(target);
      await lift();
    }
  }, 60_000);

  it('restart behind a blackhole: Breakwater fails 0 idempotent reads on the silently dead idle connections; unwrapped pg and mysql2 hand them out', async () => {
    const c = connection();
    const make = () => ({
      breakwater: { pg: track(createPgPool(c.pg)), redis: track(createRedis(c.redis)), mysql2: track(createMysqlPool(c.mysql2)) },
      unwrapped: { pg: track(new pg.Pool(c.pg)), redis: track(new Redis(c.redis)), mysql2: track(mysql.createPool(c.mysql2)) },
    });
    const sides = make();
    for (const d of Object.values(sides)) {
      d.pg.on('error', () => {});
      d.redis.on('error', () => {});
      d.mysql2.pool.on('connection', (conn) => conn.on('error', () => {}));
      // IDLE_CONNECTIONS at once, so the pools hold that many idle connections.
      await Promise.all(
        Array.from({ length: IDLE_CONNECTIONS }, () => [d.pg.query('SELECT pg_sleep(0.05)'), d.mysql2.query('SELECT SLEEP(0.05)'), d.redis.ping()]).flat(),
      );
    }
    const idleBefore = { pg: [sides.breakwater.pg.idleCount, sides.unwrapped.pg.idleCount] };

    // Kill behind the blackhole (the FIN is dropped), lift it, start again on the same ports. The dead
    // server's kernel would retransmit its FIN once the blackhole is lifted: its orphaned sockets are
    // destroyed first (ss -K; their RST is dropped too), so the clients' sockets are silently dead.
    const lift = await blackholeAll();
    await Promise.all(Object.values(servers).map((s) => s.kill()));
    for (const { port } of Object.values(servers)) await topo.server.exec('ss', ['-K', '-tn', 'state', 'all', 'sport', '=', `:${port}`]);
    const orphans = await topo.server.exec('ss', ['-tnH', 'state', 'all']);
    await lift();
    const restartStarted = performance.now();
    await Promise.all(Object.values(servers).map((s) => s.start()));
    const restartMs = performance.now() - restartStarted;

    const reads = async (d: (typeof sides)['breakwater']) => {
      const settle = (p: Promise<unknown>) =>
        p.then(
          () => undefined,
          (e: unknown) => e,
        );
      const n = IDLE_CONNECTIONS * 3;
      const [p, r, m] = await Promise.all([
        // Marked idempotent: the first write on a dead connection gets an RST, which cannot prove that
        // the statement never ran, so only statements safe to repeat are sent again (issue #15). GET is
        // read-only in Redis's command table: resent after the reconnect without being marked.
        Promise.all(Array.from({ length: n }, () => settle(d.pg.query({ text: 'SELECT 1', idempotent: true })))),
        Promise.all(Array.from({ length: n }, () => settle(d.redis.get('k')))),
        Promise.all(Array.from({ length: n }, () => settle(d.mysql2.query({ sql: 'SELECT 1', idempotent: true } as { sql: string })))),
      ]);
      const failed = (list: unknown[]) => list.filter((e) => e !== undefined);
      return { pg: failed(p), redis: failed(r), mysql2: failed(m) };
    };
    const [bw, plain] = await Promise.all([reads(sides.breakwater), reads(sides.unwrapped)]);
    const show = (f: Record<Driver, unknown[]>) =>
      (Object.entries(f) as [Driver, unknown[]][])
        .map(
          ([k, v]) =>
            `${k} ${v.length} failed of ${IDLE_CONNECTIONS * 3}${v.length > 0 ? ` (${[...new Set(v.map((e) => (e as { code?: string }).code ?? (e as Error).message))].join(', ')})` : ''}`,
        )
        .join(', ');
    console.log(
      `[drivers-blackhole] restart behind a blackhole (${Math.round(restartMs)} ms to restart, pg idle before ${idleBefore.pg.join('/')}): breakwater ${show(bw)}; unwrapped ${show(plain)}`,
    );
    for (const d of Object.values(sides)) for (const target of Object.values(d)) destroyAll(target);

    expect(orphans.trim(), 'no socket of the killed servers may be left to send a FIN').toBe('');
    expect(idleBefore.pg).toEqual([IDLE_CONNECTIONS, IDLE_CONNECTIONS]);
    expect(bw).toEqual({ pg: [], redis: [], mysql2: [] });
    expect(plain.pg.length).toBeGreaterThan(0);
    expect(plain.mysql2.length).toBeGreaterThan(0);
    // ioredis resends the commands in flight after its own reconnect (autoResendUnfulfilledCommands).
    expect(plain.redis).toEqual([]);
  }, 90_000);
});
