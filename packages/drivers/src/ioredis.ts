import { BreakwaterError } from '@breakwater/core';
import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { type DriverOptions, type ResolvedDriverOptions, resolveDriverOptions } from './defaults.js';
import { classifyDriverError } from './internal/classifyDriverError.js';
import { hardenedConnector, hardenedSentinelConnector } from './internal/redisConnectors.js';
import { guardResends } from './internal/redisResend.js';

export type { DriverOptions } from './defaults.js';

/**
 * Pings an idle connection below the server's `timeout`, so Redis never
 * closes it under a caller (the reconnect would fail the command in flight).
 */
function keepBusy(client: Redis, idleTimeoutMs: number): void {
  let lastMs = performance.now();
  const send = client.sendCommand;
  client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    lastMs = performance.now();
    return send.apply(client, args);
  }) as Redis['sendCommand'];
  const timer = setInterval(
    () => {
      if (client.status === 'ready' && performance.now() - lastMs >= idleTimeoutMs / 2) client.ping().catch(() => {});
    },
    Math.max(100, Math.floor(idleTimeoutMs / 2)),
  );
  timer.unref();
  client.once('end', () => clearInterval(timer));
}

/** The socket options of a driver whose stall watchdog must never cut a command the deadline still allows. */
function socketOptionsOf(o: ResolvedDriverOptions) {
  const stallTimeoutMs = o.queryTimeoutMs === 0 ? 0 : Math.max(o.socket.stallTimeoutMs ?? 0, o.queryTimeoutMs + 1_000);
  return { ...o.socket, stallTimeoutMs };
}

/**
 * A real ioredis client whose sockets are hardened (NODELAY, keepalive
 * idle/interval/count, TCP_USER_TIMEOUT, stall watchdog), whose commands
 * give up after `queryTimeoutMs` (ioredis `commandTimeout`; a blocking
 * command gets its block time on top), whose idle connection is pinged
 * before the server's `timeout` closes it, and whose connection-level errors
 * are BreakwaterErrors (Redis reply errors pass through unchanged).
 *
 * After a lost connection only read-only commands (Redis's command table) or
 * those `isIdempotent` accepts are resent; the others fail with
 * `BW_ERR_OUTCOME_UNKNOWN`. With `sentinels` and `name`, ioredis' Sentinel
 * support is kept and every connection (master or replica, and each
 * Sentinel) is hardened.
 *
 * @example
 * const redis = createRedis({ host: 'cache', port: 6379 }, { preset, serverIdleTimeoutMs: 300_000 });
 * const ha = createRedis({ sentinels: [{ host: 'sentinel-1', port: 26379 }], name: 'mymaster' });
 */
export function createRedis(options: RedisOptions = {}, driverOptions: DriverOptions = {}): Redis {
  const o = resolveDriverOptions(driverOptions, 'createRedis() options');
  const socketOptions = socketOptionsOf(o);
  const sentinels = (options as { sentinels?: unknown }).sentinels;
  if (sentinels !== undefined && !(Array.isArray(sentinels) && sentinels.length > 0)) {
    // Not silently a standalone client on localhost:6379 instead of the Sentinel-managed master.
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`sentinels\` to be a non-empty array of { host, port }, got ${JSON.stringify(sentinels)}`, {
      details: { key: 'sentinels' },
    });
  }
  const sentinel = sentinels !== undefined;
  const client = new Redis({
    connectTimeout: o.socket.connectTimeoutMs ?? 3_000,
    ...(o.queryTimeoutMs === 0 ? {} : { commandTimeout: o.queryTimeoutMs }),
    ...options,
    Connector: sentinel ? hardenedSentinelConnector(socketOptions) : hardenedConnector(socketOptions),
  });
  if (sentinel) {
    const connector = (client as unknown as { connector: { emitter: unknown; disconnect(): void } }).connector;
    // ioredis sets the emitter only on the SentinelConnector it builds itself; its failover events need it.
    connector.emitter = client;
    // quit() leaves the failover detector's Sentinel subscriptions open (measured: the process did not
    // exit); the connector's disconnect() ends them.
    client.once('end', () => connector.disconnect());
  }
  const where = sentinel
    ? { host: `sentinel:${(options as { name?: string }).name ?? 'mymaster'}`, port: 0 }
    : { host: options.host ?? 'localhost', port: options.port ?? 6379 };
  guardResends(client, where, o.queryTimeoutMs, o.isIdempotent);
  if (Number.isFinite(o.idleTimeoutMs) && o.serverIdleTimeoutMs > 0) keepBusy(client, o.idleTimeoutMs);
  return client;
}

/**
 * A real ioredis `Cluster` whose every node connection (masters, replicas,
 * the slot refresher, subscribers) is a hardened socket with the
 * `queryTimeoutMs` deadline, and whose errors are classified like
 * `createRedis()`'s. ioredis resends a command after MOVED, ASK, TRYAGAIN
 * and CLUSTERDOWN (the node refused it: nothing ran) and after a node
 * connection closed; Breakwater lets the last happen only for read-only or
 * `isIdempotent` commands that were sent, the others fail with
 * `BW_ERR_OUTCOME_UNKNOWN`. `serverIdleTimeoutMs` pings are not sent on
 * cluster nodes.
 *
 * @example
 * const cluster = createRedisCluster([{ host: 'redis-1', port: 7000 }], { scaleReads: 'slave' }, { preset });
 */
export function createRedisCluster(nodes: ClusterNode[], options: ClusterOptions = {}, driverOptions: DriverOptions = {}): Cluster {
  const o = resolveDriverOptions(driverOptions, 'createRedisCluster() options');
  const cluster = new Cluster(nodes, {
    ...options,
    redisOptions: {
      connectTimeout: o.socket.connectTimeoutMs ?? 3_000,
      ...(o.queryTimeoutMs === 0 ? {} : { commandTimeout: o.queryTimeoutMs }),
      ...options.redisOptions,
      Connector: hardenedConnector(socketOptionsOf(o)),
    },
  });
  // Node clients: only the outcome of a sent, non-resendable command changes; anything else reaches
  // the Cluster unchanged so that its redirections and failover retries still work.
  cluster.on('+node', (node: Redis) => {
    guardResends(node, { host: node.options.host ?? 'localhost', port: node.options.port ?? 6379 }, o.queryTimeoutMs, o.isIdempotent, { raw: true });
  });
  const first = nodes[0];
  const where =
    typeof first === 'object' && first !== null
      ? { host: (first as { host?: string }).host ?? 'localhost', port: Number((first as { port?: number }).port ?? 6379) }
      : { host: 'localhost', port: Number(first ?? 6379) };
  const send = cluster.sendCommand.bind(cluster);
  cluster.sendCommand = ((...args: Parameters<Cluster['sendCommand']>) => {
    const command = args[0] as unknown as { reject(err: Error): void; bwCluster?: boolean };
    if (!command.bwCluster) {
      command.bwCluster = true;
      const reject = command.reject.bind(command);
      command.reject = (err: Error) => reject(classifyDriverError(err, { ...where, driver: 'ioredis' }) as Error);
    }
    return send(...args);
  }) as Cluster['sendCommand'];
  return cluster;
}
