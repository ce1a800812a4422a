import net from 'node:net';
import tls from 'node:tls';
import { harden, type SocketOptions } from '@breakwater/socket';
import { AbstractConnector, Redis, type RedisOptions } from 'ioredis';
import { type DriverOptions, resolveDriverOptions } from './defaults.js';
import { guardResends } from './internal/redisResend.js';

export type { DriverOptions } from './defaults.js';

type NetStream = net.Socket | tls.TLSSocket;

/**
 * ioredis 6's standalone connector, with the stream hardened before ioredis
 * sees it. Options that need the file descriptor are applied on `connect`.
 */
function hardenedConnector(socketOptions: SocketOptions) {
  return class HardenedConnector extends AbstractConnector {
    private readonly options: RedisOptions;

    constructor(options: unknown) {
      const given = options as RedisOptions;
      super(given.disconnectTimeout ?? 2_000);
      this.options = given;
    }

    override connect(): Promise<NetStream> {
      const { options } = this;
      this.connecting = true;
      // Resolved on the next tick, as ioredis' own connector does, so its listeners attach first.
      return new Promise((resolve, reject) => {
        process.nextTick(() => {
          if (!this.connecting) return reject(new Error('Connection is closed.'));
          const target = options.path
            ? { path: options.path }
            : { host: options.host ?? 'localhost', port: options.port ?? 6379, ...(options.family === undefined ? {} : { family: options.family }) };
          let stream: NetStream;
          try {
            stream = options.tls ? tls.connect({ ...target, ...options.tls }) : net.connect(target);
          } catch (error) {
            return reject(error);
          }
          harden(stream, socketOptions);
          // ioredis fills `keepAlive: 30_000` in whenever it is not a number and calls
          // setKeepAlive(true, 30_000) on connect, after harden() applied idle, interval
          // and count: that call would put the idle back to 30 s. Ours ran first; ignore later ones.
          const connectEvent = options.tls ? 'secureConnect' : 'connect';
          stream.once(connectEvent, () => {
            stream.setKeepAlive = function ignored(this: NetStream) {
              return this;
            } as NetStream['setKeepAlive'];
          });
          this.stream = stream;
          stream.once('error', (err) => {
            this.firstError = err;
          });
          resolve(stream);
        });
      });
    }
  };
}

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

/**
 * A real ioredis client whose socket is hardened (NODELAY, keepalive
 * idle/interval/count, TCP_USER_TIMEOUT, stall watchdog), whose commands
 * give up after `queryTimeoutMs` (ioredis `commandTimeout`), whose idle
 * connection is pinged before the server's `timeout` closes it, and whose
 * connection-level errors are BreakwaterErrors (Redis reply errors pass
 * through unchanged).
 *
 * @example
 * const redis = createRedis({ host: 'cache', port: 6379 }, { preset, serverIdleTimeoutMs: 300_000 });
 * await redis.set('k', 'v');
 */
export function createRedis(options: RedisOptions = {}, driverOptions: DriverOptions = {}): Redis {
  const o = resolveDriverOptions(driverOptions, 'createRedis() options');
  const stallTimeoutMs = o.queryTimeoutMs === 0 ? 0 : Math.max(o.socket.stallTimeoutMs ?? 0, o.queryTimeoutMs + 1_000);
  const client = new Redis({
    connectTimeout: o.socket.connectTimeoutMs ?? 3_000,
    ...(o.queryTimeoutMs === 0 ? {} : { commandTimeout: o.queryTimeoutMs }),
    ...options,
    Connector: hardenedConnector({ ...o.socket, stallTimeoutMs }),
  });
  guardResends(client, { host: options.host ?? 'localhost', port: options.port ?? 6379 }, o.queryTimeoutMs, o.isIdempotent);
  if (Number.isFinite(o.idleTimeoutMs) && o.serverIdleTimeoutMs > 0) keepBusy(client, o.idleTimeoutMs);
  return client;
}
